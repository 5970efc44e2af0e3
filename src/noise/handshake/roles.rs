//! The two roles over the shared [`Core`]: thin wrappers with the machine verbs.

use super::*;

/// The Noise initiator (the dialer's side).
///
/// # Call contract
/// 1. [`Initiator::new`] queues message 1.
/// 2. Until [`Event::Complete`]: send what [`Initiator::poll_transmit`] appends; feed every
///    byte from the responder to [`Initiator::handle_input`] (keep what it does not consume
///    and hand it over again with the next bytes); drain [`Initiator::poll_event`].
/// 3. After `Complete`, drain `poll_transmit` one last time (message 3), then
///    [`Initiator::into_session`]. Bytes `handle_input` did not consume are transport
///    frames for the session.
///
/// After an error the machine is poisoned: every `handle_input` returns it again, nothing
/// more is transmitted.
pub struct Initiator(Core);

impl Initiator {
    /// A handshake as initiator; queues message 1. `expected_peer` (from the dial address)
    /// ends the handshake with [`Error::UnexpectedPeer`] if the responder proves another
    /// identity. The ephemeral key is drawn from `rng`.
    pub fn new<R: CryptoRng + ?Sized>(
        config: &Config,
        expected_peer: Option<PeerId>,
        rng: &mut R,
    ) -> Result<Self, Error> {
        Core::new(config, true, expected_peer, draw_secret(rng)).map(Self)
    }

    /// A handshake as initiator with an ephemeral secret drawn earlier (the upgrade draws
    /// it when the dial starts, before it knows which protocol the listener takes).
    pub fn with_ephemeral_secret(
        config: &Config,
        expected_peer: Option<PeerId>,
        ephemeral_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        Core::new(config, true, expected_peer, ephemeral_secret).map(Self)
    }

    /// Feeds bytes from the responder; returns how many were consumed (message 2 whole,
    /// never past it).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.0.handle_input(bytes)
    }

    /// Appends the bytes to send now (message 1, then message 3); returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.0.poll_transmit(out)
    }

    /// The bytes [`Initiator::poll_transmit`] would append now.
    pub fn pending_transmit(&self) -> usize {
        self.0.pending_transmit()
    }

    /// [`Initiator::poll_transmit`] into the start of `buf`; returns the length. If it does
    /// not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        self.0.poll_transmit_into(buf)
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.0.events.pop_front()
    }

    /// Whether the handshake is complete.
    pub fn is_complete(&self) -> bool {
        self.0.is_complete()
    }

    /// The responder's PeerId, once verified (from message 2).
    pub fn remote_peer_id(&self) -> Option<PeerId> {
        self.0.remote_peer_id()
    }

    #[cfg(test)]
    pub(crate) fn noise_state(&self) -> &HandshakeState {
        &self.0.hs
    }

    /// The established session. Before [`Event::Complete`], while `poll_transmit` still
    /// holds message 3, or after an error, the initiator comes back inside the
    /// [`Incomplete`] with the reason (`ApiMisuse`, or the handshake's error).
    // the machine comes back by value; the `Ok` session is about as large, and this runs
    // once per handshake, so a box would save nothing
    #[allow(clippy::result_large_err)]
    pub fn into_session(self) -> Result<Session, Incomplete<Self>> {
        self.0.into_session().map_err(|(core, error)| Incomplete {
            machine: Self(core),
            error,
        })
    }
}

impl core::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug(f, "Initiator")
    }
}

/// The Noise responder (the listener's side).
///
/// # Call contract
/// 1. [`Responder::new`]; nothing is queued until message 1 arrives.
/// 2. Until [`Event::Complete`]: feed every byte from the initiator to
///    [`Responder::handle_input`] (keep what it does not consume and hand it over again
///    with the next bytes); send what [`Responder::poll_transmit`] appends (message 2);
///    drain [`Responder::poll_event`].
/// 3. After `Complete`, [`Responder::into_session`]. Bytes `handle_input` did not consume
///    are transport frames for the session (an initiator may send them right behind
///    message 3).
///
/// After an error the machine is poisoned: every `handle_input` returns it again, nothing
/// more is transmitted.
pub struct Responder(Core);

impl Responder {
    /// A handshake as responder. The ephemeral key is drawn from `rng`.
    pub fn new<R: CryptoRng + ?Sized>(config: &Config, rng: &mut R) -> Result<Self, Error> {
        Core::new(config, false, None, draw_secret(rng)).map(Self)
    }

    /// A handshake as responder with an ephemeral secret drawn earlier (see
    /// [`Initiator::with_ephemeral_secret`]).
    pub fn with_ephemeral_secret(
        config: &Config,
        ephemeral_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        Core::new(config, false, None, ephemeral_secret).map(Self)
    }

    /// [`Responder::with_ephemeral_secret`] that, as an initiator does, ends the handshake
    /// with [`Error::UnexpectedPeer`] if the initiator proves another identity than
    /// `expected_peer`: for the side that opened the connection but runs the handshake as
    /// responder (hole punching's role override).
    pub fn with_expected_peer(
        config: &Config,
        expected_peer: Option<PeerId>,
        ephemeral_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        Core::new(config, false, expected_peer, ephemeral_secret).map(Self)
    }

    /// Feeds bytes from the initiator; returns how many were consumed (messages 1 and 3
    /// whole, never past message 3).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.0.handle_input(bytes)
    }

    /// Appends the bytes to send now (message 2); returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.0.poll_transmit(out)
    }

    /// The bytes [`Responder::poll_transmit`] would append now.
    pub fn pending_transmit(&self) -> usize {
        self.0.pending_transmit()
    }

    /// [`Responder::poll_transmit`] into the start of `buf`; returns the length. If it does
    /// not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        self.0.poll_transmit_into(buf)
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.0.events.pop_front()
    }

    /// Whether the handshake is complete.
    pub fn is_complete(&self) -> bool {
        self.0.is_complete()
    }

    /// The initiator's PeerId, once verified (from message 3).
    pub fn remote_peer_id(&self) -> Option<PeerId> {
        self.0.remote_peer_id()
    }

    #[cfg(test)]
    pub(crate) fn noise_state(&self) -> &HandshakeState {
        &self.0.hs
    }

    /// The established session. Before [`Event::Complete`], while `poll_transmit` still
    /// holds output, or after an error, the responder comes back inside the
    /// [`Incomplete`] with the reason (`ApiMisuse`, or the handshake's error).
    // the machine comes back by value; the `Ok` session is about as large, and this runs
    // once per handshake, so a box would save nothing
    #[allow(clippy::result_large_err)]
    pub fn into_session(self) -> Result<Session, Incomplete<Self>> {
        self.0.into_session().map_err(|(core, error)| Incomplete {
            machine: Self(core),
            error,
        })
    }
}

impl core::fmt::Debug for Responder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug(f, "Responder")
    }
}

impl crate::Machine for Initiator {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Initiator::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Initiator::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Initiator::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Initiator::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Initiator::poll_event(self)
    }

    fn is_complete(&self) -> bool {
        Initiator::is_complete(self)
    }
}

impl crate::Machine for Responder {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Responder::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Responder::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Responder::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Responder::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Responder::poll_event(self)
    }

    fn is_complete(&self) -> bool {
        Responder::is_complete(self)
    }
}
