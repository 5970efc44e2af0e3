//! What every adapter's stream holds besides the socket: the channel, the start of a
//! frame still on its way, and the ciphertext not written yet. No I/O here: the adapters
//! hand [`Pump::fill`] their runtime's read call.
//!
//! Memory follows the data. An idle connection holds no buffer at all: every read goes
//! into one room per thread ([`READ_CHUNK`], shared by every connection the thread
//! drives), the channel takes whole frames straight from there, and only the start of a
//! frame whose rest has not arrived is kept per connection, in room that grows with the
//! bytes that arrived (never to the length a header announces up front: a peer cannot make
//! us hold 64 KiB by sending a header); the channel's buffers are given back when the
//! socket has nothing more to read or when everything was sent.

use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::task::Poll;
use std::io;

use super::{io_error, ConnectionInfo};
use crate::upgrade::{Error, SecureChannel, Upgraded};

/// The per-thread read room: one full Noise frame or four TLS records per read.
const READ_CHUNK: usize = 64 * 1024;

std::thread_local! {
    /// The read room of every connection this thread drives (taken for one read call,
    /// then put back; a nested use finds it taken and makes its own).
    static READ_ROOM: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A connection's state between socket calls.
pub(super) struct Pump {
    pub(super) channel: SecureChannel,
    pub(super) info: ConnectionInfo,
    /// Ciphertext the channel has not consumed: the start of a frame whose rest is on its
    /// way (or, after a burst that filled the channel's plaintext buffer, whole frames
    /// waiting for room). Unallocated while no frame is partly received and idle.
    partial: Vec<u8>,
    /// Ciphertext for the socket: `out[out_pos..]` is still to be written.
    out: Vec<u8>,
    out_pos: usize,
    /// The socket reached end of stream.
    eof: bool,
    /// The private-network layer beneath the channel, if any.
    layer: Option<alloc::boxed::Box<super::Layer>>,
}

impl Pump {
    /// The connection's state after the upgrade; `leftover` is what the peer sent behind
    /// its last handshake message (its first data).
    pub(super) fn new(
        upgraded: Upgraded,
        mut leftover: Vec<u8>,
        round_trips: u32,
        layer: Option<alloc::boxed::Box<super::Layer>>,
    ) -> Self {
        // the handshake's messages grew it; an idle connection should not keep that
        leftover.shrink_to_fit();
        let info = ConnectionInfo {
            remote_peer_id: upgraded.remote_peer_id,
            security: upgraded.security,
            muxer: upgraded.muxer,
            muxer_selection: upgraded.muxer_selection,
            round_trips,
            recalled: false,
        };
        Self {
            channel: upgraded.channel,
            info,
            partial: leftover,
            out: Vec::new(),
            out_pos: 0,
            eof: false,
            layer,
        }
    }

    /// Plaintext for `buf` from what already arrived: `Some(n)` (with `Some(0)` the end
    /// of the peer's data), or `None` when more ciphertext must be read first.
    pub(super) fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if buf.is_empty() {
            return Ok(Some(0));
        }
        loop {
            if self.channel.readable() > 0 {
                return self.channel.read(buf).map(Some).map_err(io_error);
            }
            if !self.partial.is_empty() {
                let used = self.channel.handle_input(&self.partial).map_err(io_error)?;
                self.partial.drain(..used.min(self.partial.len()));
                if self.channel.readable() > 0 {
                    continue;
                }
            }
            if self.channel.is_peer_closed() {
                return Ok(Some(0));
            }
            if self.eof {
                if self.partial.is_empty() && self.channel.buffered_input() == 0 {
                    return Ok(Some(0));
                }
                return Err(io_error(Error::UnexpectedEof));
            }
            return Ok(None);
        }
    }

    /// Reads ciphertext with `read` (the adapter's socket read into the room it is given;
    /// `Ok(0)` is end of stream) into the thread's read room and hands it to the channel.
    /// Call it when [`Pump::read_plain`] says `None`.
    pub(super) fn fill(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<()>> {
        // `try_with`: a thread being torn down has no room left to lend, not a panic
        let mut room = READ_ROOM.try_with(Cell::take).unwrap_or_default();
        if room.len() < READ_CHUNK {
            room = vec![0; READ_CHUNK];
        }
        let result = match read(&mut room) {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(n)) => {
                Poll::Ready(self.take_read(room.get_mut(..n).unwrap_or_default()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        };
        let _ = READ_ROOM.try_with(|cell| cell.set(room));
        result
    }

    /// Bytes the socket read: through the private-network layer first, if any.
    fn take_read(&mut self, fresh: &mut [u8]) -> io::Result<()> {
        let start = match &mut self.layer {
            Some(layer) => super::open(layer, fresh).map_err(io_error)?,
            None => 0,
        };
        self.absorb(fresh.get(start..).unwrap_or_default())
    }

    /// Fresh ciphertext from the read room: a partly received frame is completed first
    /// (its header, then the rest its header announces), then the channel takes whole
    /// frames straight from the room; only the start of a frame is copied and kept.
    fn absorb(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !self.partial.is_empty() && !data.is_empty() {
            let total = match self.channel.frame_len(&self.partial) {
                Some(total) if total > self.partial.len() => total,
                _ => {
                    // whole frames wait for room in the channel: keep the order
                    self.partial.extend_from_slice(data);
                    return Ok(());
                }
            };
            let (head, rest) = data.split_at((total - self.partial.len()).min(data.len()));
            self.keep(head, total);
            data = rest;
            if self.partial.len() == total && self.channel.frame_len(&self.partial) == Some(total) {
                let used = self.channel.handle_input(&self.partial).map_err(io_error)?;
                self.partial.drain(..used.min(self.partial.len()));
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        let used = self.channel.handle_input(data).map_err(io_error)?;
        let rest = data.get(used..).unwrap_or_default();
        if !rest.is_empty() {
            let total = self.channel.frame_len(rest).unwrap_or(0);
            self.keep(rest, total);
        }
        Ok(())
    }

    /// Appends `bytes` to the partial frame of `total` bytes. The allocation grows with
    /// what arrived (doubling, never past the frame), not to the announced length up
    /// front: a peer that sends a long frame's header holds room for what it sent.
    fn keep(&mut self, bytes: &[u8], total: usize) {
        let need = self.partial.len() + bytes.len();
        if need > self.partial.capacity() {
            let target = (self.partial.capacity() * 2).min(total).max(need);
            self.partial.reserve_exact(target - self.partial.len());
        }
        self.partial.extend_from_slice(bytes);
    }

    /// The socket has nothing more to read now: give back what holds nothing.
    pub(super) fn idle(&mut self) {
        if self.partial.is_empty() {
            self.partial = Vec::new();
        }
        self.channel.shrink_buffers();
    }

    /// Encrypts what the channel takes of `data`.
    pub(super) fn write_plain(&mut self, data: &[u8]) -> io::Result<usize> {
        self.channel.write(data).map_err(io_error)
    }

    /// Ciphertext waiting for the socket (the channel's output moved behind ours). When
    /// none is left, nothing stays allocated for it.
    pub(super) fn pending(&mut self) -> &[u8] {
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        let before = self.out.len();
        let _ = self.channel.poll_transmit(&mut self.out);
        if let (Some(layer), Some(fresh)) = (&mut self.layer, self.out.get_mut(before..)) {
            super::seal(layer, fresh);
        }
        if self.out.is_empty() && self.out.capacity() > 0 {
            self.out = Vec::new();
            self.channel.shrink_buffers();
        }
        self.out.get(self.out_pos..).unwrap_or_default()
    }

    pub(super) fn advance_out(&mut self, n: usize) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
    }

    /// The bytes this connection's buffers have allocated now: the partial frame, the
    /// unsent ciphertext and the channel's own buffers (0 for an idle connection).
    pub(super) fn buffered_capacity(&self) -> usize {
        self.partial.capacity() + self.out.capacity() + self.channel.buffer_capacity()
    }
}
