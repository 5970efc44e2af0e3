//! The one loop every adapter runs a machine with, written once as a small sans-IO step
//! function so the blocking adapter, the async adapters and the stream negotiation share
//! it: the driver says what to do next ([`Step`]), the adapter does it with its runtime's
//! calls and reports back. Every protocol decision stays in the machine; this loop only
//! moves bytes, counts round trips and keeps what the machine did not consume.

use alloc::vec;
use alloc::vec::Vec;

use crate::Machine;

/// What the adapter must do next.
pub(super) enum Step<'a> {
    /// Write all of these bytes, then call [`Driver::wrote`].
    Write(&'a [u8]),
    /// Read into this room, then call [`Driver::read`] with the count (0: end of stream).
    Read(&'a mut [u8]),
    /// The machine is complete: take it with [`Driver::finish`].
    Done,
}

/// Why a drive ended early.
pub(super) enum Failure<E> {
    /// The peer closed the stream before the machine completed.
    Eof,
    /// The machine failed; [`Driver::last_words`] holds what it still owes the peer.
    Machine(E),
    /// The private-network layer beneath the machine refused the peer's bytes.
    Layer(crate::upgrade::Error),
}

/// A machine and the buffers of its loop.
pub(super) struct Driver<M> {
    machine: M,
    /// Peer bytes the machine has not consumed yet.
    inbuf: Vec<u8>,
    /// The machine's output, until written.
    out: Vec<u8>,
    room: Vec<u8>,
    round_trips: u32,
    sent: bool,
    /// The private-network layer beneath the machine, if any.
    layer: Option<alloc::boxed::Box<super::Layer>>,
}

impl<M: Machine> Driver<M> {
    /// A driver reading at most `read_chunk` bytes at a time.
    pub(super) fn new(machine: M, read_chunk: usize) -> Self {
        Self {
            machine,
            inbuf: Vec::new(),
            out: Vec::new(),
            room: vec![0u8; read_chunk],
            round_trips: 0,
            sent: false,
            layer: None,
        }
    }

    /// Runs the private-network `layer` beneath the machine: its nonce goes out first.
    pub(super) fn with_layer(mut self, layer: Option<alloc::boxed::Box<super::Layer>>) -> Self {
        if let Some(layer) = &layer {
            self.out = super::nonce(layer);
        }
        self.layer = layer;
        self
    }

    /// The next thing to do: the machine's output first, then completion, then a read.
    pub(super) fn next(&mut self) -> Step<'_> {
        // the adapters report what was agreed from the finished machine, not its events
        while self.machine.poll_event().is_some() {}
        let before = self.out.len();
        let _ = self.machine.poll_transmit(&mut self.out);
        if let (Some(layer), Some(fresh)) = (&mut self.layer, self.out.get_mut(before..)) {
            super::seal(layer, fresh);
        }
        if !self.out.is_empty() {
            return Step::Write(&self.out);
        }
        if self.machine.is_complete() {
            return Step::Done;
        }
        Step::Read(&mut self.room)
    }

    /// The bytes of the last [`Step::Write`] are written.
    pub(super) fn wrote(&mut self) {
        self.out.clear();
        self.sent = true;
    }

    /// `n` bytes arrived in the room of the last [`Step::Read`]: the machine takes what it
    /// can use. A read that follows a write of ours counts as one round trip.
    pub(super) fn read(&mut self, n: usize) -> Result<(), Failure<M::Error>> {
        if core::mem::take(&mut self.sent) {
            self.round_trips += 1;
        }
        if n == 0 {
            return Err(self.ended());
        }
        let fresh = self.room.get_mut(..n).unwrap_or_default();
        let start = match &mut self.layer {
            Some(layer) => super::open(layer, fresh).map_err(Failure::Layer)?,
            None => 0,
        };
        self.inbuf
            .extend_from_slice(fresh.get(start..).unwrap_or_default());
        match self.machine.handle_input(&self.inbuf) {
            Ok(used) => {
                self.inbuf.drain(..used.min(self.inbuf.len()));
                Ok(())
            }
            Err(e) => {
                // the failed machine may owe the peer one last message (alert, `na`)
                self.out.clear();
                let _ = self.machine.poll_transmit(&mut self.out);
                Err(Failure::Machine(e))
            }
        }
    }

    /// The stream ended (or was reset) before the machine completed: [`Failure::Eof`], or
    /// what the private-network layer makes of it (a peer with another key hangs up).
    pub(super) fn ended(&self) -> Failure<M::Error> {
        if self.layer_unproved() {
            #[cfg(feature = "pnet")]
            return Failure::Layer(crate::upgrade::Error::Pnet(
                crate::pnet::Error::ClosedBeforeProof,
            ));
        }
        Failure::Eof
    }

    /// Whether a private-network layer runs and its peer has not proved the key yet.
    pub(super) fn layer_unproved(&self) -> bool {
        self.layer.as_deref().is_some_and(super::unproved)
    }

    /// After a [`Failure::Machine`]: the failed machine's final message, if any.
    pub(super) fn last_words(&self) -> &[u8] {
        &self.out
    }

    /// The machine, the peer bytes it did not consume (the next layer's), the round trips
    /// counted, and the private-network layer (the connection keeps running it).
    #[allow(clippy::type_complexity)]
    pub(super) fn finish(self) -> (M, Vec<u8>, u32, Option<alloc::boxed::Box<super::Layer>>) {
        (self.machine, self.inbuf, self.round_trips, self.layer)
    }
}
