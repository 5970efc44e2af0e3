//! The listener's upgrade: accept one of our security protocols, run the handshake as
//! responder (Noise) or server (TLS), then settle the muxer.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::channel::SecureChannel;
use super::dialer::write_all;
use super::handshake::Handshake;
use super::{Config, Error, Event, MuxerSelection, SecurityProtocol, Upgraded};
use crate::multistream;

enum Stage {
    Security(multistream::Listener),
    Handshake(SecurityProtocol, Handshake),
    /// multistream-select for the muxer over the channel.
    Muxer {
        security: SecurityProtocol,
        channel: SecureChannel,
        mss: multistream::Listener,
    },
    Done(Upgraded),
    /// Taken by `into_upgraded`, or poisoned.
    Gone,
}

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
pub struct Listener {
    config: Config,
    now_unix: u64,
    ephemeral_secret: Option<Zeroizing<[u8; 32]>>,
    stage: Stage,
    out: Vec<u8>,
    events: VecDeque<Event>,
    error: Option<Error>,
}

impl Listener {
    /// An upgrade as listener at `now_unix` (Unix seconds: certificates are checked then).
    pub fn new<R: CryptoRng + ?Sized>(
        config: &Config,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let ids = config.security.iter().map(|p| p.protocol_id());
        let mss = multistream::Listener::new(ids).map_err(Error::SecurityNegotiation)?;
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut secret[..]);
        let mut listener = Self {
            config: config.clone(),
            now_unix,
            ephemeral_secret: Some(secret),
            stage: Stage::Security(mss),
            out: Vec::new(),
            events: VecDeque::new(),
            error: None,
        };
        listener.progress()?;
        Ok(listener)
    }

    fn fail(&mut self, e: Error) -> Error {
        // a TLS alert or multistream answer the failed machine queued still goes out
        self.flush_failed();
        self.stage = Stage::Gone;
        // nothing more is reported: an identity proved before the failure is not a result
        self.events.clear();
        self.error = Some(e.clone());
        e
    }

    fn flush_failed(&mut self) {
        match &mut self.stage {
            Stage::Security(mss) => {
                let _ = mss.poll_transmit(&mut self.out);
            }
            Stage::Handshake(_, hs) => {
                let _ = hs.poll_transmit(&mut self.out);
            }
            Stage::Muxer { channel, .. } => {
                let _ = channel.poll_transmit(&mut self.out);
            }
            Stage::Done(_) | Stage::Gone => {}
        }
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
                Stage::Security(mss) => {
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
            Stage::Security(mut mss) => {
                let _ = mss.poll_transmit(&mut self.out);
                let mut agreed = None;
                while let Some(event) = mss.poll_event() {
                    if let multistream::Event::Negotiated { protocol } = event {
                        agreed = Some(protocol);
                    }
                }
                let Some(id) = agreed else {
                    return Ok((Stage::Security(mss), false));
                };
                let protocol = SecurityProtocol::from_protocol_id(&id)
                    .ok_or(Error::ApiMisuse("multistream agreed an unknown protocol"))?;
                self.events.push_back(Event::SecurityAgreed(protocol));
                // drawn once, at `new`: a second handshake never runs on a zeroed key
                let secret = self
                    .ephemeral_secret
                    .take()
                    .ok_or(Error::ApiMisuse("a second handshake in one upgrade"))?;
                let hs = Handshake::listener(protocol, &self.config, self.now_unix, secret)?;
                Ok((Stage::Handshake(protocol, hs), true))
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
                self.feed_muxer(&mut channel, &mut mss)?;
                let next = self.muxer_stage(security, channel, mss)?;
                let advanced = matches!(next, Stage::Done(_));
                Ok((next, advanced))
            }
            done @ (Stage::Done(_) | Stage::Gone) => Ok((done, false)),
        }
    }

    /// After the handshake: the muxer agreed inside it, none configured, or a
    /// multistream-select round over the channel (we answer the dialer's proposals).
    fn settle_muxer(
        &mut self,
        security: SecurityProtocol,
        mut channel: SecureChannel,
        early: Option<String>,
    ) -> Result<Stage, Error> {
        let selection = match (early, self.config.muxers.is_empty()) {
            (Some(muxer), _) => Some((Some(muxer), MuxerSelection::Early)),
            (None, true) => Some((None, MuxerSelection::None)),
            (None, false) => None,
        };
        if let Some((muxer, muxer_selection)) = selection {
            self.events.push_back(Event::Complete);
            return Ok(Stage::Done(Upgraded {
                remote_peer_id: channel.remote_peer_id(),
                security,
                muxer,
                muxer_selection,
                channel,
            }));
        }
        let mss = multistream::Listener::new(self.config.muxers.iter().cloned())
            .map_err(Error::MuxerNegotiation)?;
        // the dialer's proposal may have come with its last handshake message
        let mut mss = mss;
        self.feed_muxer(&mut channel, &mut mss)?;
        self.muxer_stage(security, channel, mss)
    }

    /// Hands the channel's plaintext to the muxer negotiation. On failure its last answer
    /// (the `na` before the dialer's data) still goes out: the stage is dropped with the
    /// error, so it is sent here.
    fn feed_muxer(
        &mut self,
        channel: &mut SecureChannel,
        mss: &mut multistream::Listener,
    ) -> Result<(), Error> {
        let fed = channel
            .feed_plaintext(|plain| mss.handle_input(plain).map_err(Error::MuxerNegotiation));
        if fed.is_err() {
            let mut answer = Vec::new();
            let _ = mss.poll_transmit(&mut answer);
            let _ = write_all(channel, &answer);
            let _ = channel.poll_transmit(&mut self.out);
        }
        fed
    }

    /// Sends our multistream answers through the channel; finishes on the echo.
    fn muxer_stage(
        &mut self,
        security: SecurityProtocol,
        mut channel: SecureChannel,
        mut mss: multistream::Listener,
    ) -> Result<Stage, Error> {
        let mut answer = Vec::new();
        let _ = mss.poll_transmit(&mut answer);
        write_all(&mut channel, &answer)?;
        let _ = channel.poll_transmit(&mut self.out);
        let mut agreed = None;
        while let Some(event) = mss.poll_event() {
            if let multistream::Event::Negotiated { protocol } = event {
                agreed = Some(protocol);
            }
        }
        match agreed {
            Some(muxer) => {
                self.events.push_back(Event::Complete);
                Ok(Stage::Done(Upgraded {
                    remote_peer_id: channel.remote_peer_id(),
                    security,
                    muxer: Some(muxer),
                    muxer_selection: MuxerSelection::Multistream,
                    channel,
                }))
            }
            None => Ok(Stage::Muxer {
                security,
                channel,
                mss,
            }),
        }
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

impl core::fmt::Debug for Listener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let stage = match &self.stage {
            Stage::Security(_) => "security",
            Stage::Handshake(..) => "handshake",
            Stage::Muxer { .. } => "muxer",
            Stage::Done(_) => "done",
            Stage::Gone => "gone",
        };
        f.debug_struct("upgrade::Listener")
            .field("stage", &stage)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
