//! The stage loop both roles of the upgrade share: feed the running stage, move from stage
//! to stage as far as the machines allow, poison on the first error. [`Role`] is what
//! differs: how the security stage starts the handshake (the dialer may start it
//! optimistically, before the echo) and how the muxer is settled.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use super::channel::SecureChannel;
use super::handshake::Handshake;
use super::{Config, Error, Event, MuxerSelection, SecurityProtocol, Upgraded};
use crate::multistream;
use crate::Machine;

/// Where an upgrade stands. `N` is the role's multistream machine, used for the security
/// protocol and again for the muxer.
pub(super) enum Stage<N> {
    /// multistream-select for the security protocol; the dialer's handshake may already
    /// run when it settled optimistically on its last candidate.
    Security {
        mss: N,
        handshake: Option<(SecurityProtocol, Handshake)>,
    },
    Handshake(SecurityProtocol, Handshake),
    /// multistream-select for the muxer over the channel.
    Muxer {
        security: SecurityProtocol,
        channel: SecureChannel,
        mss: N,
    },
    Done(Upgraded),
    /// Taken by `into_upgraded`, or poisoned.
    Gone,
}

/// After the handshake: finished, or a muxer to negotiate over the channel.
// moved once per upgrade, so the size difference costs nothing a box would save
#[allow(clippy::large_enum_variant)]
pub(super) enum Settled<N> {
    Done(Stage<N>),
    Negotiate(SecureChannel),
}

/// What a role adds to the shared loop.
pub(super) trait Role: Sized {
    /// The multistream machine of this role.
    type Negotiation: Machine<Error = multistream::Error>;

    /// The security stage after its machine moved: returns the next stage and whether it
    /// advanced.
    fn security(
        core: &mut Core<Self>,
        mss: Self::Negotiation,
        handshake: Option<(SecurityProtocol, Handshake)>,
    ) -> Result<(Stage<Self::Negotiation>, bool), Error>;

    /// After the handshake: the muxer agreed inside it, none configured, or a
    /// multistream-select round over the channel.
    fn settle_muxer(
        core: &mut Core<Self>,
        security: SecurityProtocol,
        channel: SecureChannel,
        early: Option<String>,
    ) -> Result<Stage<Self::Negotiation>, Error>;

    /// The muxer stage after the channel took input.
    fn muxer(
        core: &mut Core<Self>,
        security: SecurityProtocol,
        channel: SecureChannel,
        mss: Self::Negotiation,
    ) -> Result<Stage<Self::Negotiation>, Error>;
}

/// The state both roles keep, and the loop over it.
pub(super) struct Core<R: Role> {
    pub(super) config: Config,
    pub(super) now_unix: u64,
    /// Drawn at construction for whichever handshake runs (the caller's RNG is not kept).
    ephemeral_secret: Option<Zeroizing<[u8; 32]>>,
    stage: Stage<R::Negotiation>,
    pub(super) out: Vec<u8>,
    pub(super) events: VecDeque<Event>,
    error: Option<Error>,
    pub(super) role: R,
}

impl<R: Role> Core<R> {
    /// A core in its security stage; runs it once, so the first flight is queued.
    pub(super) fn new(
        config: &Config,
        now_unix: u64,
        ephemeral_secret: Zeroizing<[u8; 32]>,
        mss: R::Negotiation,
        role: R,
    ) -> Result<Self, Error> {
        let mut core = Self {
            config: config.clone(),
            now_unix,
            ephemeral_secret: Some(ephemeral_secret),
            stage: Stage::Security {
                mss,
                handshake: None,
            },
            out: Vec::new(),
            events: VecDeque::new(),
            error: None,
            role,
        };
        core.progress()?;
        Ok(core)
    }

    /// A core whose security protocol was agreed by the caller (its own multistream-select,
    /// as rust-libp2p's transport runs it): it starts in the handshake stage; runs it once,
    /// so the handshake's first message is queued.
    pub(super) fn with_agreed_security(
        config: &Config,
        now_unix: u64,
        protocol: SecurityProtocol,
        handshake: Handshake,
        role: R,
    ) -> Result<Self, Error> {
        let mut core = Self {
            config: config.clone(),
            now_unix,
            ephemeral_secret: None,
            stage: Stage::Handshake(protocol, handshake),
            out: Vec::new(),
            events: VecDeque::from([Event::SecurityAgreed(protocol)]),
            error: None,
            role,
        };
        core.progress()?;
        Ok(core)
    }

    /// The secret drawn at construction: one handshake per upgrade, and never on a zeroed
    /// key.
    pub(super) fn take_ephemeral_secret(&mut self) -> Result<Zeroizing<[u8; 32]>, Error> {
        self.ephemeral_secret
            .take()
            .ok_or(Error::ApiMisuse("a second handshake in one upgrade"))
    }

    /// Poisons the upgrade. The final message of the failed machine (a TLS alert, a
    /// multistream `na`) still goes out; nothing else is reported.
    fn fail(&mut self, e: Error) -> Error {
        match &mut self.stage {
            Stage::Security { mss, handshake } => {
                let _ = mss.poll_transmit(&mut self.out);
                if let Some((_, hs)) = handshake {
                    let _ = hs.poll_transmit(&mut self.out);
                }
            }
            Stage::Handshake(_, hs) => {
                let _ = hs.poll_transmit(&mut self.out);
            }
            Stage::Muxer { channel, .. } => {
                let _ = channel.poll_transmit(&mut self.out);
            }
            Stage::Done(_) | Stage::Gone => {}
        }
        self.stage = Stage::Gone;
        // an identity proved before the failure is not a result
        self.events.clear();
        self.error = Some(e.clone());
        e
    }

    pub(super) fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
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

    fn advance(
        &mut self,
        stage: Stage<R::Negotiation>,
    ) -> Result<(Stage<R::Negotiation>, bool), Error> {
        match stage {
            Stage::Security { mss, handshake } => R::security(self, mss, handshake),
            Stage::Handshake(protocol, mut hs) => {
                let _ = hs.poll_transmit(&mut self.out);
                while let Some(event) = hs.poll_identified() {
                    self.events.push_back(event);
                }
                if !hs.is_complete() {
                    return Ok((Stage::Handshake(protocol, hs), false));
                }
                let (channel, early) = match hs.into_channel() {
                    Ok(done) => done,
                    Err((mut hs, e)) => {
                        // the stage is gone with the error: what the handshake still
                        // holds goes out now
                        let _ = hs.poll_transmit(&mut self.out);
                        return Err(e);
                    }
                };
                R::settle_muxer(self, protocol, channel, early).map(|s| (s, true))
            }
            Stage::Muxer {
                security,
                channel,
                mss,
            } => {
                let next = R::muxer(self, security, channel, mss)?;
                let advanced = matches!(next, Stage::Done(_));
                Ok((next, advanced))
            }
            done @ (Stage::Done(_) | Stage::Gone) => Ok((done, false)),
        }
    }

    /// Completes when the muxer was agreed inside the handshake or none is configured;
    /// otherwise hands the channel back for a multistream-select round.
    pub(super) fn settle_without_negotiation(
        &mut self,
        security: SecurityProtocol,
        channel: SecureChannel,
        early: Option<String>,
    ) -> Settled<R::Negotiation> {
        let (muxer, muxer_selection) = match (early, self.config.muxers.is_empty()) {
            (Some(muxer), _) => (Some(muxer), MuxerSelection::Early),
            (None, true) => (None, MuxerSelection::None),
            (None, false) => return Settled::Negotiate(channel),
        };
        Settled::Done(self.done(Upgraded {
            remote_peer_id: channel.remote_peer_id(),
            security,
            muxer,
            muxer_selection,
            channel,
        }))
    }

    /// Completes with `upgraded`: queues [`Event::Complete`].
    pub(super) fn done(&mut self, upgraded: Upgraded) -> Stage<R::Negotiation> {
        self.events.push_back(Event::Complete);
        Stage::Done(upgraded)
    }

    pub(super) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        out.append(&mut self.out);
        n
    }

    pub(super) fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    pub(super) fn poll_transmit_into(
        &mut self,
        buf: &mut [u8],
    ) -> Result<usize, crate::InsufficientSize> {
        crate::machine::take_into(&mut self.out, buf)
    }

    pub(super) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(super) fn is_complete(&self) -> bool {
        matches!(self.stage, Stage::Done(_))
    }

    pub(super) fn into_upgraded(self) -> Result<Upgraded, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.stage {
            Stage::Done(mut upgraded) => {
                upgraded.channel.prepend_transmit(self.out);
                Ok(upgraded)
            }
            _ => Err(Error::ApiMisuse("into_upgraded before Event::Complete")),
        }
    }

    /// For `Debug`: the stage's name and the error.
    pub(super) fn debug(&self, f: &mut core::fmt::Formatter<'_>, name: &str) -> core::fmt::Result {
        let stage = match &self.stage {
            Stage::Security { .. } => "security",
            Stage::Handshake(..) => "handshake",
            Stage::Muxer { .. } => "muxer",
            Stage::Done(_) => "done",
            Stage::Gone => "gone",
        };
        f.debug_struct(name)
            .field("stage", &stage)
            .field("error", &self.error)
            .finish_non_exhaustive()
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
