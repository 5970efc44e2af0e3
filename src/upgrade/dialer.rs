//! The dialer's upgrade: propose the security protocols, run the handshake as initiator
//! (Noise) or client (TLS), then settle the muxer. The stage loop is `core.rs`'s.

use alloc::string::String;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::channel::SecureChannel;
use super::core::{write_all, Core, Role, Settled, Stage};
use super::handshake::Handshake;
use super::{
    Config, Error, Event, MuxerSelection, PeerMemory, Remembered, SecurityProtocol, Upgraded,
};
use crate::identity::PeerId;
use crate::multistream::{self, Version};

/// The dialer's side of the connection upgrade.
///
/// # Call contract
/// 1. [`Dialer::new`] queues the first flight (the multistream header and proposal and,
///    when optimistic with one security protocol, the first handshake message).
/// 2. Until [`Event::Complete`]: send what [`Dialer::poll_transmit`] appends; feed every
///    byte from the peer to [`Dialer::handle_input`] (keep what it does not consume and
///    hand it over again with the next bytes); drain [`Dialer::poll_event`]. If the
///    peer closes the connection first, the upgrade failed ([`Error::UnexpectedEof`] is
///    the driver's to report).
/// 3. [`Dialer::into_upgraded`]. Unconsumed bytes belong to the channel's `handle_input`;
///    its `poll_transmit` continues this machine's output, so application data written
///    to it now travels right behind the handshake's last message.
///
/// After an error the dialer is poisoned: every `handle_input` returns it again.
pub struct Dialer(Core<DialerRole>);

/// What only the dialer knows: whom it dialed, and what a peer memory recalled of them.
pub(super) struct DialerRole {
    expected_peer: Option<PeerId>,
    recalled: Option<Recalled>,
}

/// A recalled choice this dial proposes.
struct Recalled {
    remembered: Remembered,
    /// The security protocol is proposed alone and lazily: a refusal is final.
    security_alone: bool,
    /// The muxer is proposed alone and lazily, behind the handshake: a refusal is final.
    muxer_alone: bool,
}

impl Dialer {
    /// An upgrade as dialer at `now_unix` (Unix seconds: certificates are checked then).
    /// `expected_peer` (the dial address's `/p2p/` part) ends the upgrade with the
    /// handshake's `UnexpectedPeer` error if the listener proves another identity.
    pub fn new<R: CryptoRng + ?Sized>(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut secret[..]);
        Self::with_seed(config, expected_peer, now_unix, secret)
    }

    /// [`Dialer::new`] with the 32 random bytes given instead of drawn: they become the
    /// Noise ephemeral secret or the SECIO seed of whichever handshake runs. For bindings
    /// and replays that bring their own randomness; never reuse a seed.
    pub fn with_seed(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        seed: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        Self::build(config, expected_peer, now_unix, seed, None)
    }

    /// A dial to `expected_peer` that proposes what `memory` remembers of it, alone and
    /// lazily when negotiation is optimistic (one round trip, whatever lists `config`
    /// offers), first and ahead of the rest otherwise; with nothing remembered, exactly
    /// [`Dialer::new`]. Update the memory from the outcome with [`PeerMemory::observe`]:
    /// if the peer refused the remembered choice the upgrade fails with
    /// [`Error::RememberedProtocolRefused`], and the caller redials.
    pub fn with_memory<R: CryptoRng + ?Sized>(
        config: &Config,
        expected_peer: PeerId,
        now_unix: u64,
        memory: &mut PeerMemory,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut secret[..]);
        Self::with_memory_and_seed(config, expected_peer, now_unix, memory, secret)
    }

    /// [`Dialer::with_memory`] with the 32 random bytes given (see [`Dialer::with_seed`]).
    pub fn with_memory_and_seed(
        config: &Config,
        expected_peer: PeerId,
        now_unix: u64,
        memory: &mut PeerMemory,
        seed: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        let recalled = memory.recall(&expected_peer);
        let derived = recalled
            .as_ref()
            .and_then(|r| Some((config.recalling(r)?, r)));
        let Some((derived, remembered)) = derived else {
            return Self::with_seed(config, Some(expected_peer), now_unix, seed);
        };
        let lazy = derived.optimistic;
        let recalled = Recalled {
            security_alone: lazy && derived.security.len() == 1,
            muxer_alone: lazy
                && remembered.muxer_selection == MuxerSelection::Multistream
                && derived.muxers.len() == 1
                && derived.muxers.first() == remembered.muxer.as_ref(),
            remembered: remembered.clone(),
        };
        Self::build(
            &derived,
            Some(expected_peer),
            now_unix,
            seed,
            Some(recalled),
        )
    }

    fn build(
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        seed: Zeroizing<[u8; 32]>,
        recalled: Option<Recalled>,
    ) -> Result<Self, Error> {
        let ids = config.security.iter().map(|p| p.protocol_id());
        // with three candidates or more, asking first (`ls`, one round trip) beats
        // proposing in turn (one per refusal): tests/round_trips.rs counts both
        let mss = if config.security.len() >= LIST_FIRST_FROM {
            multistream::Dialer::listing_first(ids, version(config))
        } else {
            multistream::Dialer::new(ids, version(config))
        }
        .map_err(Error::SecurityNegotiation)?;
        let role = DialerRole {
            expected_peer,
            recalled,
        };
        Core::new(config, now_unix, seed, mss, role).map(Self)
    }

    /// The dialer's upgrade on a connection whose security protocol the caller agreed
    /// already (its own multistream-select, as rust-libp2p's transport runs it before its
    /// security upgrade): the `protocol` handshake starts at once (its first message is
    /// queued), then the muxer is settled as configured: with no muxers configured the
    /// upgrade ends with the handshake and the caller negotiates the muxer. `seed` is the
    /// handshake's 32 random bytes, as [`Dialer::with_seed`] takes them. `protocol` must
    /// be one of the configuration's ([`Error::UnsupportedSecurity`] otherwise).
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
        let handshake = Handshake::dialer(protocol, config, expected_peer, now_unix, seed)?;
        let role = DialerRole {
            expected_peer,
            recalled: None,
        };
        Core::with_agreed_security(config, now_unix, protocol, handshake, role).map(Self)
    }

    /// What a peer memory recalled for this dial ([`Dialer::with_memory`]), if anything:
    /// the choice it proposes.
    pub fn recalled(&self) -> Option<&Remembered> {
        self.0.role.recalled.as_ref().map(|r| &r.remembered)
    }

    /// Feeds bytes from the peer; returns how many were consumed (never past the end of
    /// the upgrade).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let result = self.0.handle_input(bytes);
        result.map_err(|e| name_stale(self.0.role.recalled.as_ref(), e))
    }

    /// Appends the bytes to send now; returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.0.poll_transmit(out)
    }

    /// The bytes [`Dialer::poll_transmit`] would append now.
    pub fn pending_transmit(&self) -> usize {
        self.0.pending_transmit()
    }

    /// [`Dialer::poll_transmit`] into the start of `buf`; returns the length. If it does
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
    pub fn into_upgraded(mut self) -> Result<Upgraded, Error> {
        let recalled = self.0.role.recalled.take();
        self.0
            .into_upgraded()
            .map_err(|e| name_stale(recalled.as_ref(), e))
    }
}

impl crate::Machine for Dialer {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Dialer::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Dialer::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Dialer::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Dialer::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Dialer::poll_event(self)
    }

    fn is_complete(&self) -> bool {
        Dialer::is_complete(self)
    }
}

/// A refusal of what was proposed alone from memory is the memory's fault, not a failed
/// negotiation: name it, so the caller forgets the entry and redials.
fn name_stale(recalled: Option<&Recalled>, e: Error) -> Error {
    match (recalled, e) {
        (Some(r), Error::SecurityNegotiation(multistream::Error::NoProtocolAgreed { .. }))
            if r.security_alone =>
        {
            Error::RememberedProtocolRefused {
                protocol: r.remembered.security.protocol_id().into(),
            }
        }
        (_, e) => e,
    }
}

/// From how many security candidates the dialer asks the listener's list (`ls`) first:
/// with two, proposing in turn costs at most the one round trip `ls` costs (the second
/// candidate, the last, goes lazily).
const LIST_FIRST_FROM: usize = 3;

/// Lazy (optimistic) or plain multistream-select, as configured.
fn version(config: &Config) -> Version {
    if config.optimistic {
        Version::V1Lazy
    } else {
        Version::V1
    }
}

impl Role for DialerRole {
    type Negotiation = multistream::Dialer;

    fn security(
        core: &mut Core<Self>,
        mut mss: multistream::Dialer,
        mut handshake: Option<(SecurityProtocol, Handshake)>,
    ) -> Result<(Stage<multistream::Dialer>, bool), Error> {
        let _ = mss.poll_transmit(&mut core.out);
        while let Some(event) = mss.poll_event() {
            let protocol = match &event {
                multistream::Event::Optimistic { protocol }
                | multistream::Event::Negotiated { protocol } => protocol,
            };
            let protocol = SecurityProtocol::from_protocol_id(protocol)
                .ok_or(Error::ApiMisuse("multistream agreed an unknown protocol"))?;
            if matches!(event, multistream::Event::Negotiated { .. }) {
                core.events.push_back(Event::SecurityAgreed(protocol));
            }
            if handshake.is_none() {
                let secret = core.take_ephemeral_secret()?;
                let expected = core.role.expected_peer;
                let hs =
                    Handshake::dialer(protocol, &core.config, expected, core.now_unix, secret)?;
                handshake = Some((protocol, hs));
            }
        }
        if let Some((_, hs)) = handshake.as_mut() {
            let _ = hs.poll_transmit(&mut core.out);
        }
        match (mss.is_done(), handshake) {
            (true, Some((protocol, hs))) => Ok((Stage::Handshake(protocol, hs), true)),
            (_, handshake) => Ok((Stage::Security { mss, handshake }, false)),
        }
    }

    fn settle_muxer(
        core: &mut Core<Self>,
        security: SecurityProtocol,
        channel: SecureChannel,
        early: Option<String>,
    ) -> Result<Stage<multistream::Dialer>, Error> {
        let channel = match core.settle_without_negotiation(security, channel, early) {
            Settled::Done(done) => return Ok(done),
            Settled::Negotiate(channel) => channel,
        };
        let mss =
            multistream::Dialer::new(core.config.muxers.iter().cloned(), version(&core.config))
                .map_err(Error::MuxerNegotiation)?;
        propose_muxer(core, security, channel, mss)
    }

    fn muxer(
        core: &mut Core<Self>,
        security: SecurityProtocol,
        mut channel: SecureChannel,
        mut mss: multistream::Dialer,
    ) -> Result<Stage<multistream::Dialer>, Error> {
        channel.feed_plaintext(|plain| mss.handle_input(plain).map_err(Error::MuxerNegotiation))?;
        propose_muxer(core, security, channel, mss)
    }
}

/// Sends what the muxer negotiation has to say through the channel, and finishes when
/// the listener echoed a muxer (or, optimistically, when the last one was proposed).
fn propose_muxer(
    core: &mut Core<DialerRole>,
    security: SecurityProtocol,
    mut channel: SecureChannel,
    mut mss: multistream::Dialer,
) -> Result<Stage<multistream::Dialer>, Error> {
    let mut proposal = Vec::new();
    let _ = mss.poll_transmit(&mut proposal);
    write_all(&mut channel, &proposal)?;
    let mut agreed = None;
    while let Some(
        multistream::Event::Optimistic { protocol } | multistream::Event::Negotiated { protocol },
    ) = mss.poll_event()
    {
        agreed = Some(protocol);
    }
    let Some(muxer) = agreed else {
        let _ = channel.poll_transmit(&mut core.out);
        return Ok(Stage::Muxer {
            security,
            channel,
            mss,
        });
    };
    if !mss.is_done() {
        // optimistic: the echo is still to come, the channel strips it
        let remembered = core.role.recalled.as_ref().is_some_and(|r| r.muxer_alone);
        channel.set_pending_muxer(mss, remembered)?;
    }
    let _ = channel.poll_transmit(&mut core.out);
    Ok(core.done(Upgraded {
        remote_peer_id: channel.remote_peer_id(),
        security,
        muxer: Some(muxer),
        muxer_selection: MuxerSelection::Multistream,
        channel,
    }))
}

impl core::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.debug(f, "upgrade::Dialer")
    }
}
