//! The listener's upgrade: accept one of our security protocols, run the handshake as
//! responder (Noise) or server (TLS), then settle the muxer. The stage loop is
//! `core.rs`'s.

use alloc::string::String;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::channel::SecureChannel;
use super::core::{write_all, Core, Role, Settled, Stage};
use super::handshake::Handshake;
use super::{Config, Error, Event, MuxerSelection, SecurityProtocol, Upgraded};
use crate::identity::PeerId;
use crate::multistream;

/// The listener's side of the connection upgrade.
///
/// # Call contract
/// 1. [`Listener::new`] queues the multistream header.
/// 2. Until [`Event::Complete`]: feed every byte from the peer to
///    [`Listener::handle_input`] (keep what it does not consume and hand it over again
///    with the next bytes); send what [`Listener::poll_transmit`] appends; drain
///    [`Listener::poll_event`].
/// 3. [`Listener::into_upgraded`]. Unconsumed bytes belong to the channel's
///    `handle_input`; application data that came with the last upgrade message waits in
///    the channel for `read`.
///
/// After an error the listener is poisoned: every `handle_input` returns it again;
/// `poll_transmit` may still hand out the one message that reports the failure (a
/// multistream `na` goes out before the failure it leads to; a TLS alert).
pub struct Listener(Core<ListenerRole>);

/// What the listener adds to the shared state: the PeerId it must see, when it runs on a
/// connection it opened (the role override of hole punching).
pub(super) struct ListenerRole {
    expected_peer: Option<PeerId>,
}

impl Listener {
    /// An upgrade as listener at `now_unix` (Unix seconds: certificates are checked then).
    pub fn new<R: CryptoRng + ?Sized>(
        config: &Config,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut secret[..]);
        Self::with_seed(config, now_unix, secret)
    }

    /// [`Listener::new`] with the 32 random bytes given instead of drawn (see
    /// [`Dialer::with_seed`](super::Dialer::with_seed)).
    pub fn with_seed(
        config: &Config,
        now_unix: u64,
        seed: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        Self::build(config, None, now_unix, seed)
    }

    /// The upgrade as listener on a connection *we* opened: hole punching's role override
    /// (DCUtR: both peers dial, one of them must run the upgrade as the listener;
    /// rust-libp2p's `DialOpts::override_role`, go-libp2p's simultaneous-connect role).
    /// As a dialer does, it ends the upgrade with the handshake's `UnexpectedPeer` error if
    /// the remote proves another identity than `expected_peer` (the address's `/p2p/`
    /// part). The other way round, an accepted connection that must run the upgrade as
    /// the dialer takes a plain [`Dialer`](super::Dialer).
    pub fn for_outbound<R: CryptoRng + ?Sized>(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut secret[..]);
        Self::build(config, expected_peer, now_unix, secret)
    }

    /// [`Listener::for_outbound`] with the 32 random bytes given instead of drawn.
    pub fn for_outbound_with_seed(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        seed: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        Self::build(config, expected_peer, now_unix, seed)
    }

    /// The listener's upgrade on a connection whose security protocol the caller agreed
    /// already, as [`Dialer::with_agreed_security`](super::Dialer::with_agreed_security)
    /// (the responder's first message waits for the dialer's). `expected_peer`, if given,
    /// must be who the remote proves to be.
    pub fn with_agreed_security(
        config: &Config,
        protocol: SecurityProtocol,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        seed: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        if !config.security.contains(&protocol) {
            return Err(Error::UnsupportedSecurity(protocol.protocol_id().into()));
        }
        let handshake = Handshake::listener(protocol, config, expected_peer, now_unix, seed)?;
        let role = ListenerRole { expected_peer };
        Core::with_agreed_security(config, now_unix, protocol, handshake, role).map(Self)
    }

    fn build(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        seed: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        let ids = config.security.iter().map(|p| p.protocol_id());
        let mss = multistream::Listener::new(ids).map_err(Error::SecurityNegotiation)?;
        let role = ListenerRole { expected_peer };
        Core::new(config, now_unix, seed, mss, role).map(Self)
    }

    /// Feeds bytes from the peer; returns how many were consumed (never past the end of
    /// the upgrade).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.0.handle_input(bytes)
    }

    /// Appends the bytes to send now; returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.0.poll_transmit(out)
    }

    /// The bytes [`Listener::poll_transmit`] would append now.
    pub fn pending_transmit(&self) -> usize {
        self.0.pending_transmit()
    }

    /// [`Listener::poll_transmit`] into the start of `buf`; returns the length. If it does
    /// not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        self.0.poll_transmit_into(buf)
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.0.poll_event()
    }

    /// Whether the upgrade is complete.
    pub fn is_complete(&self) -> bool {
        self.0.is_complete()
    }

    /// The finished upgrade. Output not yet taken with `poll_transmit` moves into the
    /// channel's. Errors before [`Event::Complete`], or with the upgrade's error.
    pub fn into_upgraded(self) -> Result<Upgraded, Error> {
        self.0.into_upgraded()
    }
}

impl crate::Machine for Listener {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Listener::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Listener::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Listener::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Listener::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Listener::poll_event(self)
    }

    fn is_complete(&self) -> bool {
        Listener::is_complete(self)
    }
}

impl Role for ListenerRole {
    type Negotiation = multistream::Listener;

    fn security(
        core: &mut Core<Self>,
        mut mss: multistream::Listener,
        handshake: Option<(SecurityProtocol, Handshake)>,
    ) -> Result<(Stage<multistream::Listener>, bool), Error> {
        let _ = mss.poll_transmit(&mut core.out);
        let mut agreed = None;
        while let Some(event) = mss.poll_event() {
            if let multistream::Event::Negotiated { protocol } = event {
                agreed = Some(protocol);
            }
        }
        let Some(id) = agreed else {
            return Ok((Stage::Security { mss, handshake }, false));
        };
        let protocol = SecurityProtocol::from_protocol_id(&id)
            .ok_or(Error::ApiMisuse("multistream agreed an unknown protocol"))?;
        core.events.push_back(Event::SecurityAgreed(protocol));
        let secret = core.take_ephemeral_secret()?;
        let expected = core.role.expected_peer;
        let hs = Handshake::listener(protocol, &core.config, expected, core.now_unix, secret)?;
        Ok((Stage::Handshake(protocol, hs), true))
    }

    fn settle_muxer(
        core: &mut Core<Self>,
        security: SecurityProtocol,
        channel: SecureChannel,
        early: Option<String>,
    ) -> Result<Stage<multistream::Listener>, Error> {
        let mut channel = match core.settle_without_negotiation(security, channel, early) {
            Settled::Done(done) => return Ok(done),
            Settled::Negotiate(channel) => channel,
        };
        let mut mss = multistream::Listener::new(core.config.muxers.iter().cloned())
            .map_err(Error::MuxerNegotiation)?;
        // the dialer's proposal may have come with its last handshake message
        feed_muxer(core, &mut channel, &mut mss)?;
        answer_muxer(core, security, channel, mss)
    }

    fn muxer(
        core: &mut Core<Self>,
        security: SecurityProtocol,
        mut channel: SecureChannel,
        mut mss: multistream::Listener,
    ) -> Result<Stage<multistream::Listener>, Error> {
        feed_muxer(core, &mut channel, &mut mss)?;
        answer_muxer(core, security, channel, mss)
    }
}

/// Hands the channel's plaintext to the muxer negotiation. On failure its last answer
/// (the `na` before the dialer's data) still goes out: the stage is dropped with the
/// error, so it is sent here.
fn feed_muxer(
    core: &mut Core<ListenerRole>,
    channel: &mut SecureChannel,
    mss: &mut multistream::Listener,
) -> Result<(), Error> {
    let fed =
        channel.feed_plaintext(|plain| mss.handle_input(plain).map_err(Error::MuxerNegotiation));
    if fed.is_err() {
        let mut answer = Vec::new();
        let _ = mss.poll_transmit(&mut answer);
        let _ = write_all(channel, &answer);
        let _ = channel.poll_transmit(&mut core.out);
    }
    fed
}

/// Sends our multistream answers through the channel; finishes on the echo.
fn answer_muxer(
    core: &mut Core<ListenerRole>,
    security: SecurityProtocol,
    mut channel: SecureChannel,
    mut mss: multistream::Listener,
) -> Result<Stage<multistream::Listener>, Error> {
    let mut answer = Vec::new();
    let _ = mss.poll_transmit(&mut answer);
    write_all(&mut channel, &answer)?;
    let _ = channel.poll_transmit(&mut core.out);
    let mut agreed = None;
    while let Some(event) = mss.poll_event() {
        if let multistream::Event::Negotiated { protocol } = event {
            agreed = Some(protocol);
        }
    }
    match agreed {
        Some(muxer) => Ok(core.done(Upgraded {
            remote_peer_id: channel.remote_peer_id(),
            security,
            muxer: Some(muxer),
            muxer_selection: MuxerSelection::Multistream,
            channel,
        })),
        None => Ok(Stage::Muxer {
            security,
            channel,
            mss,
        }),
    }
}

impl core::fmt::Debug for Listener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug(f, "upgrade::Listener")
    }
}
