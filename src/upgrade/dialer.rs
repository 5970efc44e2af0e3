//! The dialer's upgrade: propose the security protocols, run the handshake as initiator
//! (Noise) or client (TLS), then settle the muxer.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::channel::SecureChannel;
use super::handshake::Handshake;
use super::{Config, Error, Event, MuxerSelection, SecurityProtocol, Upgraded};
use crate::identity::PeerId;
use crate::multistream::{self, Version};

enum Stage {
    /// multistream-select for the security protocol; the handshake may already run when
    /// the dialer settled optimistically on its last candidate.
    Security {
        mss: multistream::Dialer,
        handshake: Option<(SecurityProtocol, Handshake)>,
    },
    Handshake(SecurityProtocol, Handshake),
    /// multistream-select for the muxer over the channel, waiting for the echo.
    Muxer {
        security: SecurityProtocol,
        channel: SecureChannel,
        mss: multistream::Dialer,
    },
    Done(Upgraded),
    /// Taken by `into_upgraded`, or poisoned.
    Gone,
}

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
pub struct Dialer {
    config: Config,
    expected_peer: Option<PeerId>,
    now_unix: u64,
    /// Drawn at `new` for whichever Noise handshake runs (the caller's RNG is not kept).
    ephemeral_secret: Option<Zeroizing<[u8; 32]>>,
    stage: Stage,
    out: Vec<u8>,
    events: VecDeque<Event>,
    error: Option<Error>,
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
        let version = if config.optimistic {
            Version::V1Lazy
        } else {
            Version::V1
        };
        let ids = config.security.iter().map(|p| p.protocol_id());
        let mss = multistream::Dialer::new(ids, version).map_err(Error::SecurityNegotiation)?;
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut secret[..]);
        let mut dialer = Self {
            config: config.clone(),
            expected_peer,
            now_unix,
            ephemeral_secret: Some(secret),
            stage: Stage::Security {
                mss,
                handshake: None,
            },
            out: Vec::new(),
            events: VecDeque::new(),
            error: None,
        };
        dialer.progress()?;
        Ok(dialer)
    }

    fn fail(&mut self, e: Error) -> Error {
        // a TLS alert the failed handshake queued still goes out
        match &mut self.stage {
            Stage::Security {
                handshake: Some((_, hs)),
                ..
            }
            | Stage::Handshake(_, hs) => {
                let _ = hs.poll_transmit(&mut self.out);
            }
            Stage::Muxer { channel, .. } => {
                let _ = channel.poll_transmit(&mut self.out);
            }
            _ => {}
        }
        self.stage = Stage::Gone;
        // nothing more is reported: an identity proved before the failure is not a result
        self.events.clear();
        self.error = Some(e.clone());
        e
    }

    /// Feeds bytes from the peer; returns how many were consumed (never past the end of
    /// the upgrade).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.step(bytes) {
            Ok(n) => Ok(n),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn step(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let mut consumed = 0;
        loop {
            let rest = bytes.get(consumed..).unwrap_or_default();
            let used = match &mut self.stage {
                // once the echo arrives `progress` moves on to the handshake, which then
                // takes the rest
                Stage::Security { mss, .. } => {
                    mss.handle_input(rest).map_err(Error::SecurityNegotiation)?
                }
                Stage::Handshake(_, hs) => hs.handle_input(rest)?,
                Stage::Muxer { channel, .. } => channel.handle_input(rest)?,
                Stage::Done(_) | Stage::Gone => 0,
            };
            consumed += used;
            let moved = self.progress()?;
            if used == 0 && !moved {
                return Ok(consumed);
            }
        }
    }

    /// Moves between stages as far as the machines allow; returns whether it moved.
    fn progress(&mut self) -> Result<bool, Error> {
        let mut moved = false;
        loop {
            let stage = core::mem::replace(&mut self.stage, Stage::Gone);
            let (next, advanced) = self.advance(stage)?;
            self.stage = next;
            if !advanced {
                return Ok(moved);
            }
            moved = true;
        }
    }

    fn advance(&mut self, stage: Stage) -> Result<(Stage, bool), Error> {
        match stage {
            Stage::Security {
                mut mss,
                mut handshake,
            } => {
                let _ = mss.poll_transmit(&mut self.out);
                while let Some(event) = mss.poll_event() {
                    let protocol = match &event {
                        multistream::Event::Optimistic { protocol }
                        | multistream::Event::Negotiated { protocol } => protocol,
                    };
                    let protocol = SecurityProtocol::from_protocol_id(protocol)
                        .ok_or(Error::ApiMisuse("multistream agreed an unknown protocol"))?;
                    if matches!(event, multistream::Event::Negotiated { .. }) {
                        self.events.push_back(Event::SecurityAgreed(protocol));
                    }
                    if handshake.is_none() {
                        // drawn once, at `new`: a second handshake never runs on a zeroed key
                        let secret = self
                            .ephemeral_secret
                            .take()
                            .ok_or(Error::ApiMisuse("a second handshake in one upgrade"))?;
                        let hs = Handshake::dialer(
                            protocol,
                            &self.config,
                            self.expected_peer,
                            self.now_unix,
                            secret,
                        )?;
                        handshake = Some((protocol, hs));
                    }
                }
                if let Some((_, hs)) = handshake.as_mut() {
                    let _ = hs.poll_transmit(&mut self.out);
                }
                match (mss.is_done(), handshake) {
                    (true, Some((protocol, hs))) => Ok((Stage::Handshake(protocol, hs), true)),
                    (_, handshake) => Ok((Stage::Security { mss, handshake }, false)),
                }
            }
            Stage::Handshake(protocol, mut hs) => {
                let _ = hs.poll_transmit(&mut self.out);
                while let Some(event) = hs.poll_identified() {
                    self.events.push_back(event);
                }
                if !hs.is_complete() {
                    return Ok((Stage::Handshake(protocol, hs), false));
                }
                let (channel, early) = hs.into_channel()?;
                self.settle_muxer(protocol, channel, early)
                    .map(|s| (s, true))
            }
            Stage::Muxer {
                security,
                mut channel,
                mut mss,
            } => {
                channel.feed_plaintext(|plain| {
                    mss.handle_input(plain).map_err(Error::MuxerNegotiation)
                })?;
                let next = self.muxer_stage(security, channel, mss)?;
                let advanced = matches!(next, Stage::Done(_));
                Ok((next, advanced))
            }
            done @ (Stage::Done(_) | Stage::Gone) => Ok((done, false)),
        }
    }

    /// After the handshake: the muxer agreed inside it, none configured, or a
    /// multistream-select round over the channel.
    fn settle_muxer(
        &mut self,
        security: SecurityProtocol,
        channel: SecureChannel,
        early: Option<alloc::string::String>,
    ) -> Result<Stage, Error> {
        let done = |channel: SecureChannel, muxer, muxer_selection| {
            Stage::Done(Upgraded {
                remote_peer_id: channel.remote_peer_id(),
                security,
                muxer,
                muxer_selection,
                channel,
            })
        };
        if let Some(muxer) = early {
            self.events.push_back(Event::Complete);
            return Ok(done(channel, Some(muxer), MuxerSelection::Early));
        }
        if self.config.muxers.is_empty() {
            self.events.push_back(Event::Complete);
            return Ok(done(channel, None, MuxerSelection::None));
        }
        let version = if self.config.optimistic {
            Version::V1Lazy
        } else {
            Version::V1
        };
        let mss = multistream::Dialer::new(self.config.muxers.iter().cloned(), version)
            .map_err(Error::MuxerNegotiation)?;
        self.muxer_stage(security, channel, mss)
    }

    /// Sends what the muxer negotiation has to say through the channel, and finishes when
    /// the listener echoed a muxer (or, optimistically, when the last one was proposed).
    fn muxer_stage(
        &mut self,
        security: SecurityProtocol,
        mut channel: SecureChannel,
        mut mss: multistream::Dialer,
    ) -> Result<Stage, Error> {
        let mut proposal = Vec::new();
        let _ = mss.poll_transmit(&mut proposal);
        write_all(&mut channel, &proposal)?;
        let mut agreed = None;
        while let Some(
            multistream::Event::Optimistic { protocol }
            | multistream::Event::Negotiated { protocol },
        ) = mss.poll_event()
        {
            agreed = Some(protocol);
        }
        let Some(muxer) = agreed else {
            let _ = channel.poll_transmit(&mut self.out);
            return Ok(Stage::Muxer {
                security,
                channel,
                mss,
            });
        };
        if !mss.is_done() {
            // optimistic: the echo is still to come, the channel strips it
            channel.set_pending_muxer(mss)?;
        }
        let _ = channel.poll_transmit(&mut self.out);
        self.events.push_back(Event::Complete);
        Ok(Stage::Done(Upgraded {
            remote_peer_id: channel.remote_peer_id(),
            security,
            muxer: Some(muxer),
            muxer_selection: MuxerSelection::Multistream,
            channel,
        }))
    }

    /// Appends the bytes to send now; returns how many.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        out.append(&mut self.out);
        n
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether the upgrade is complete.
    pub fn is_complete(&self) -> bool {
        matches!(self.stage, Stage::Done(_))
    }

    /// The finished upgrade. Output not yet taken with `poll_transmit` moves into the
    /// channel's. Errors before [`Event::Complete`], or with the upgrade's error.
    pub fn into_upgraded(self) -> Result<Upgraded, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.stage {
            Stage::Done(mut upgraded) => {
                upgraded.channel.prepend_output(self.out);
                Ok(upgraded)
            }
            _ => Err(Error::ApiMisuse("into_upgraded before Event::Complete")),
        }
    }
}

/// Writes the whole of a multistream message (far below the channel's bounds).
pub(super) fn write_all(channel: &mut SecureChannel, bytes: &[u8]) -> Result<(), Error> {
    if bytes.is_empty() {
        return Ok(());
    }
    let n = channel.write(bytes)?;
    if n == bytes.len() {
        Ok(())
    } else {
        Err(Error::ApiMisuse(
            "the channel refused a multistream message",
        ))
    }
}

impl core::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let stage = match &self.stage {
            Stage::Security { .. } => "security",
            Stage::Handshake(..) => "handshake",
            Stage::Muxer { .. } => "muxer",
            Stage::Done(_) => "done",
            Stage::Gone => "gone",
        };
        f.debug_struct("upgrade::Dialer")
            .field("stage", &stage)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
