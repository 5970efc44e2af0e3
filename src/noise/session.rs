//! The Noise session after the handshake, with the transport verbs of STYLE.md (the same
//! as `tls::Session`'s): ciphertext in with [`Session::handle_input`] (whole
//! frames only), plaintext out with [`Session::read`], plaintext in with
//! [`Session::write`], ciphertext out with [`Session::poll_transmit`]. Under it the two
//! halves ([`SendHalf`], [`RecvHalf`]) stay the low-level frame API, for callers that
//! manage their own buffers or want each direction in its own task ([`Session::split`]).
//!
//! Buffers are bounded: at most [`MAX_BUFFERED_PLAINTEXT`] plus one frame of received
//! plaintext waits for `read` (beyond that `handle_input` consumes nothing until the
//! caller reads), and at most about [`MAX_PENDING_CIPHERTEXT`] of sealed frames waits for
//! `poll_transmit` (beyond that `write` takes nothing).
//!
//! Copies: a frame is opened straight from the caller's input into the plaintext buffer
//! (one pass with aws-lc-rs; the pure-Rust backend copies, then decrypts in place), `read`
//! copies out of it; `write` copies the plaintext into the outgoing buffer and seals it
//! there; `poll_transmit` hands that buffer over whole when the caller's `Vec` is empty.
//!
//! Noise has no closing message (spec): [`Session::close`] only stops our writing; the
//! peer learns of it from the transport's end of stream, which is also the only sign that
//! the peer is done.

use alloc::string::String;
use alloc::vec::Vec;

use super::transport::{RecvHalf, SendHalf, LEN_PREFIX};
use super::{Error, MAX_PLAINTEXT_LEN};
use crate::buffers::{Outgoing, Plaintext};
use crate::identity::{PeerId, PublicKey};

/// Received plaintext held for [`Session::read`] before [`Session::handle_input`] stops
/// consuming frames: 64 KiB, one full Noise frame, so a caller that reads after each
/// `handle_input` never stalls the input; one more frame can arrive on top of it.
pub const MAX_BUFFERED_PLAINTEXT: usize = 64 * 1024;

/// Sealed frames held for [`Session::poll_transmit`] before [`Session::write`] takes
/// nothing more: 128 KiB, two full frames, so one 64 KiB write always fits after a
/// transmit.
pub const MAX_PENDING_CIPHERTEXT: usize = 128 * 1024;

/// An established Noise session: what the handshake proved, the two halves, and the
/// buffers of the transport verbs.
///
/// # Call contract
/// Feed every byte from the peer to `handle_input` (keep what it does not consume and
/// hand it over again with the next bytes), then `read` the plaintext; `write` plaintext,
/// then send what `poll_transmit` appends. `handle_input` consumes nothing while
/// [`MAX_BUFFERED_PLAINTEXT`] waits for `read`; `write` takes less than offered while
/// about [`MAX_PENDING_CIPHERTEXT`] waits for `poll_transmit`.
///
/// A frame that fails authentication (or a nonce that runs out) poisons the session:
/// `handle_input`, `read` and `write` return the error from then on.
pub struct Session {
    send: SendHalf,
    recv: RecvHalf,
    remote_peer_id: PeerId,
    remote_public_key: PublicKey,
    muxer: Option<String>,
    remote_webtransport_certhashes: Vec<Vec<u8>>,
    handshake_hash: [u8; 32],
    /// Opened plaintext waiting for `read`.
    plain: Plaintext,
    /// Sealed frames for `poll_transmit`.
    out: Outgoing,
    closed: bool,
    error: Option<Error>,
}

impl Session {
    /// The session of a finished handshake.
    pub(super) fn new(
        (send, recv): (SendHalf, RecvHalf),
        remote_peer_id: PeerId,
        remote_public_key: PublicKey,
        muxer: Option<String>,
        remote_webtransport_certhashes: Vec<Vec<u8>>,
        handshake_hash: [u8; 32],
    ) -> Self {
        Self {
            send,
            recv,
            remote_peer_id,
            remote_public_key,
            muxer,
            remote_webtransport_certhashes,
            handshake_hash,
            plain: Plaintext::default(),
            out: Outgoing::default(),
            closed: false,
            error: None,
        }
    }

    /// The remote's verified PeerId.
    pub fn remote_peer_id(&self) -> PeerId {
        self.remote_peer_id
    }

    /// The remote's verified identity key.
    pub fn remote_public_key(&self) -> &PublicKey {
        &self.remote_public_key
    }

    /// The muxer agreed inside the handshake, or `None` (negotiate it with
    /// multistream-select over the session).
    pub fn muxer(&self) -> Option<&str> {
        self.muxer.as_deref()
    }

    /// The WebTransport certificate hashes the responder sent (empty otherwise).
    pub fn remote_webtransport_certhashes(&self) -> &[Vec<u8>] {
        &self.remote_webtransport_certhashes
    }

    /// The handshake hash `h`, the same on both sides: a channel binding.
    pub fn handshake_hash(&self) -> &[u8; 32] {
        &self.handshake_hash
    }

    /// The sending half, for the low-level frame API (frames sealed through it bypass
    /// the session's outgoing buffer: send what `poll_transmit` holds first).
    pub fn send(&mut self) -> &mut SendHalf {
        &mut self.send
    }

    /// The receiving half, for the low-level frame API (frames opened through it bypass
    /// the session's plaintext buffer).
    pub fn recv(&mut self) -> &mut RecvHalf {
        &mut self.recv
    }

    /// Splits into independently owned halves. What the session still buffered (unread
    /// plaintext, unsent frames) is dropped: take it with `read` and `poll_transmit` first.
    pub fn split(self) -> (SendHalf, RecvHalf) {
        (self.send, self.recv)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e.clone());
        e
    }

    /// Feeds ciphertext from the peer; returns how many bytes were consumed: whole frames
    /// only, none while [`MAX_BUFFERED_PLAINTEXT`] waits for [`Session::read`].
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut consumed = 0;
        while self.readable() < MAX_BUFFERED_PLAINTEXT {
            let rest = bytes.get(consumed..).unwrap_or_default();
            match self.recv.open_to_vec(rest, self.plain.fill_end()) {
                Ok(Some(used)) => consumed += used,
                Ok(None) => break,
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(consumed)
    }

    /// Copies received plaintext into `buf`; returns how many bytes (0: nothing waiting).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        Ok(self.plain.read(buf))
    }

    /// Received plaintext waiting for [`Session::read`].
    pub fn readable(&self) -> usize {
        self.plain.readable()
    }

    /// The plaintext waiting for `read`, to look at without taking it (the upgrade feeds
    /// the muxer negotiation from it).
    pub(crate) fn buffered_plaintext(&self) -> &[u8] {
        self.plain.peek()
    }

    /// Drops the first `n` bytes of the plaintext waiting for `read`.
    pub(crate) fn consume_plaintext(&mut self, n: usize) {
        self.plain.consume(n);
    }

    /// Seals plaintext into frames of at most [`MAX_PLAINTEXT_LEN`] for
    /// [`Session::poll_transmit`]; returns how many bytes were taken, fewer than offered
    /// (possibly 0) while about [`MAX_PENDING_CIPHERTEXT`] waits to be sent. After
    /// [`Session::close`]: [`Error::ApiMisuse`].
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.closed {
            return Err(Error::ApiMisuse("write after close"));
        }
        let mut taken = 0;
        while self.out.len() < MAX_PENDING_CIPHERTEXT && taken < data.len() {
            let rest = data.get(taken..).unwrap_or_default();
            let chunk = rest.get(..MAX_PLAINTEXT_LEN).unwrap_or(rest);
            if let Err(e) = self.send.encrypt_to_vec(chunk, self.out.fill_end()) {
                return Err(self.fail(e));
            }
            taken += chunk.len();
        }
        Ok(taken)
    }

    /// Appends the ciphertext to send now; returns how many bytes.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.out.poll_transmit(out)
    }

    /// Ciphertext waiting for [`Session::poll_transmit`], in bytes.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// [`Session::poll_transmit`] into the start of `buf`; returns the length. If it does
    /// not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be ([`Session::pending_transmit`]).
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        self.out.poll_transmit_into(buf)
    }

    /// Puts `earlier` (output of the layer before, sent before this session's) ahead of
    /// what waits for `poll_transmit`.
    pub(crate) fn prepend_transmit(&mut self, earlier: Vec<u8>) {
        self.out.prepend(earlier);
    }

    /// The bytes the frame that starts with `head` takes in all (its 2-byte length prefix
    /// included), or the prefix's 2 while `head` is shorter: a driver sizes its read room
    /// by it instead of reading into a fixed 64 KiB.
    pub fn frame_len(head: &[u8]) -> usize {
        match *head {
            [hi, lo, ..] => LEN_PREFIX + usize::from(u16::from_be_bytes([hi, lo])),
            _ => LEN_PREFIX,
        }
    }

    /// Gives back the allocations of buffers that hold nothing (read plaintext, sent
    /// frames): call it when the connection goes idle, so an idle session holds no room.
    pub fn shrink_buffers(&mut self) {
        self.plain.release();
        self.out.release();
    }

    /// The bytes the session's buffers have allocated (what a burst left behind until
    /// [`Session::shrink_buffers`]).
    pub fn buffer_capacity(&self) -> usize {
        self.plain.capacity() + self.out.capacity()
    }

    /// We send nothing more: later `write`s are refused. Noise has no closing message, so
    /// nothing is queued; the transport's end of stream tells the peer.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Whether we closed (see [`Session::close`]).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("noise::Session")
            .field("remote_peer_id", &self.remote_peer_id)
            .field("muxer", &self.muxer)
            .field("readable", &self.readable())
            .field("closed", &self.closed)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
