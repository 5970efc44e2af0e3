//! The two roles over the shared [`Core`]: thin wrappers with the machine verbs.

use super::*;

/// The TLS client (the dialer's side).
///
/// # Call contract
/// 1. [`Client::new`] queues the ClientHello.
/// 2. Until [`Event::Complete`]: send what [`Client::poll_transmit`] appends; feed every
///    byte from the server to [`Client::handle_input`] (keep what it does not consume and
///    hand it over again with the next bytes); drain [`Client::poll_event`].
/// 3. After `Complete`, [`Client::into_session`]. The session's `poll_transmit` continues
///    this machine's output (our last flight is not lost if the last `poll_transmit` was
///    skipped); bytes `handle_input` did not consume are TLS records for the session's
///    `handle_input`.
///
/// After an error the machine is poisoned: every `handle_input` returns it again.
/// `poll_transmit` still hands out the one TLS alert that reports the failure to the peer,
/// then nothing.
pub struct Client(Core);

impl Client {
    /// A handshake as client at `now_unix` (Unix seconds, the caller's clock: the
    /// server's certificate must be valid then); queues the ClientHello. `expected_peer`
    /// (from the dial address) ends the handshake with [`Error::UnexpectedPeer`] if the
    /// server proves another identity.
    pub fn new(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
    ) -> Result<Self, Error> {
        let alpn = config.alpn(now_unix)?;
        let engine = Engine::client(
            &config.inner.local,
            config.inner.verified.clone(),
            alpn,
            expected_peer,
            now_unix,
        )?;
        Ok(Self(Core::new(engine)))
    }

    /// Feeds bytes from the server; returns how many were consumed: whole TLS records
    /// only, never past the record that completes the handshake.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.0.handle_input(bytes)
    }

    /// Appends the bytes to send now; returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.0.poll_transmit(out)
    }

    /// The bytes [`Client::poll_transmit`] would append now: what rustls has to send moves
    /// into the machine's queue first, so this takes `&mut self`.
    pub fn pending_transmit(&mut self) -> usize {
        self.0.pending_transmit()
    }

    /// [`Client::poll_transmit`] into the start of `buf`; returns the length. If it does
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

    /// The server's PeerId, once it proved it.
    pub fn remote_peer_id(&self) -> Option<PeerId> {
        self.0.remote_peer_id()
    }

    /// The established session, with what this machine had not sent yet. Before
    /// [`Event::Complete`] or after an error the client comes back inside the
    /// [`Incomplete`] with the reason (`ApiMisuse`, or the handshake's error; its alert
    /// still waits in `poll_transmit`).
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

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug(f, "Client")
    }
}

/// The TLS server (the listener's side).
///
/// # Call contract
/// 1. [`Server::new`]; nothing is queued until the ClientHello arrives.
/// 2. Until [`Event::Complete`]: feed every byte from the client to
///    [`Server::handle_input`] (keep what it does not consume and hand it over again with
///    the next bytes); send what [`Server::poll_transmit`] appends; drain
///    [`Server::poll_event`].
/// 3. After `Complete`, [`Server::into_session`]. The session's `poll_transmit` continues
///    this machine's output; bytes `handle_input` did not consume are TLS records for the
///    session's `handle_input` (a client may send data right behind its Finished).
///
/// After an error the machine is poisoned: every `handle_input` returns it again.
/// `poll_transmit` still hands out the one TLS alert that reports the failure to the peer,
/// then nothing.
pub struct Server(Core);

impl Server {
    /// A handshake as server at `now_unix` (Unix seconds, the caller's clock: the
    /// client's certificate must be valid then); waits for the ClientHello.
    pub fn new(config: &Config, now_unix: u64) -> Result<Self, Error> {
        Self::with_expected_peer(config, None, now_unix)
    }

    /// [`Server::new`] that, as a client does, ends the handshake with
    /// [`Error::UnexpectedPeer`] if the client proves another identity than
    /// `expected_peer`: for the side that opened the connection but runs the handshake as
    /// server (hole punching's role override).
    pub fn with_expected_peer(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
    ) -> Result<Self, Error> {
        let alpn = config.alpn(now_unix)?;
        let engine = Engine::server(
            &config.inner.local,
            config.inner.verified.clone(),
            alpn,
            expected_peer,
            now_unix,
        )?;
        Ok(Self(Core::new(engine)))
    }

    /// Feeds bytes from the client; returns how many were consumed: whole TLS records
    /// only, never past the record that completes the handshake.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.0.handle_input(bytes)
    }

    /// Appends the bytes to send now; returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.0.poll_transmit(out)
    }

    /// The bytes [`Server::poll_transmit`] would append now: what rustls has to send moves
    /// into the machine's queue first, so this takes `&mut self`.
    pub fn pending_transmit(&mut self) -> usize {
        self.0.pending_transmit()
    }

    /// [`Server::poll_transmit`] into the start of `buf`; returns the length. If it does
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

    /// The client's PeerId, once it proved it.
    pub fn remote_peer_id(&self) -> Option<PeerId> {
        self.0.remote_peer_id()
    }

    /// The established session, with what this machine had not sent yet. Before
    /// [`Event::Complete`] or after an error the server comes back inside the
    /// [`Incomplete`] with the reason (`ApiMisuse`, or the handshake's error; its alert
    /// still waits in `poll_transmit`).
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

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug(f, "Server")
    }
}

impl crate::Machine for Client {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Client::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Client::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Client::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Client::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Client::poll_event(self)
    }

    fn is_complete(&self) -> bool {
        Client::is_complete(self)
    }
}

impl crate::Machine for Server {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Server::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Server::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Server::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Server::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Server::poll_event(self)
    }

    fn is_complete(&self) -> bool {
        Server::is_complete(self)
    }
}
