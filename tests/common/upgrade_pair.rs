//! The shared two-peer driver for the upgrade tests: our `upgrade::Dialer` and
//! `upgrade::Listener` run as a real driver runs them (keep unconsumed input, append each
//! arrival, drain output and events, take the `Upgraded` at `Complete`, then hand the
//! leftover bytes to its channel), moving whole flights between them: every byte one
//! side has to send after it processed everything it received travels as one flight.
//!
//! Included with `#[path = "common/upgrade_pair.rs"] mod upgrade_pair;`.
#![allow(dead_code)]

use p2psec::identity::{KeyType, Keypair};
use p2psec::upgrade::{Config, Dialer, Error, Event, Listener, SecurityProtocol, Upgraded};
use p2psec::PeerId;

/// Unix time the tests run at (certificates are made and checked then).
pub(crate) const NOW: u64 = 1_750_000_000;

/// Deterministic RNG (splitmix64) for keys and ephemeral secrets.
pub(crate) struct TestRng(pub u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

/// A configuration for a fresh Ed25519 identity drawn from `seed`.
pub(crate) fn config(seed: u64) -> Config {
    let mut rng = TestRng(seed);
    let identity = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    Config::new(&identity, NOW, &mut rng).expect("config")
}

/// One side: upgrading, then upgraded.
pub(crate) enum Side<M> {
    Upgrading(M),
    Up(Box<Upgraded>),
    Failed(Error),
}

/// The verbs both machines share, so one driver runs either.
pub(crate) trait Machine: Sized {
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
    fn poll_event(&mut self) -> Option<Event>;
    fn is_complete(&self) -> bool;
    fn into_upgraded(self) -> Result<Upgraded, Error>;
}

macro_rules! machine {
    ($t:ty) => {
        impl Machine for $t {
            fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
                <$t>::handle_input(self, bytes)
            }
            fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
                <$t>::poll_transmit(self, out)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
            fn is_complete(&self) -> bool {
                <$t>::is_complete(self)
            }
            fn into_upgraded(self) -> Result<Upgraded, Error> {
                <$t>::into_upgraded(self)
            }
        }
    };
}
machine!(Dialer);
machine!(Listener);

/// A side with its unconsumed input, the events it reported and the plaintext it read.
pub(crate) struct Peer<M> {
    pub(crate) side: Side<M>,
    pub(crate) inbox: Vec<u8>,
    pub(crate) events: Vec<Event>,
    pub(crate) received: Vec<u8>,
}

impl<M: Machine> Peer<M> {
    pub(crate) fn new(machine: M) -> Self {
        Self {
            side: Side::Upgrading(machine),
            inbox: Vec::new(),
            events: Vec::new(),
            received: Vec::new(),
        }
    }

    /// Processes everything in the inbox (as far as the machines take it).
    pub(crate) fn process(&mut self) {
        loop {
            let side = std::mem::replace(&mut self.side, Side::Failed(Error::UnexpectedEof));
            self.side = match side {
                Side::Upgrading(mut m) => match m.handle_input(&self.inbox) {
                    Ok(used) => {
                        self.inbox.drain(..used);
                        while let Some(e) = m.poll_event() {
                            self.events.push(e);
                        }
                        if m.is_complete() {
                            match m.into_upgraded() {
                                Ok(up) => Side::Up(Box::new(up)),
                                Err(e) => Side::Failed(e),
                            }
                        } else {
                            self.side = Side::Upgrading(m);
                            return;
                        }
                    }
                    Err(e) => {
                        // a failing machine may still owe the peer one message
                        self.side = Side::Failed(e);
                        return;
                    }
                },
                Side::Up(mut up) => {
                    loop {
                        match up.channel.handle_input(&self.inbox) {
                            Ok(used) => {
                                self.inbox.drain(..used);
                            }
                            Err(e) => {
                                self.side = Side::Failed(e);
                                return;
                            }
                        }
                        let mut buf = [0u8; 8192];
                        let mut got_any = false;
                        loop {
                            match up.channel.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    got_any = true;
                                    self.received.extend_from_slice(&buf[..n]);
                                }
                                Err(e) => {
                                    self.side = Side::Failed(e);
                                    return;
                                }
                            }
                        }
                        if !got_any {
                            break;
                        }
                    }
                    self.side = Side::Up(up);
                    return;
                }
                failed @ Side::Failed(_) => {
                    self.side = failed;
                    return;
                }
            };
        }
    }

    /// Everything this side has to send now.
    pub(crate) fn transmit(&mut self, out: &mut Vec<u8>) {
        match &mut self.side {
            Side::Upgrading(m) => {
                let _ = m.poll_transmit(out);
            }
            Side::Up(up) => {
                let _ = up.channel.poll_transmit(out);
            }
            Side::Failed(_) => {}
        }
    }

    /// Writes application data if the upgrade is done; returns whether it could.
    pub(crate) fn send_app(&mut self, data: &[u8]) -> bool {
        match &mut self.side {
            Side::Up(up) => {
                let n = up.channel.write(data).expect("write");
                assert_eq!(n, data.len());
                true
            }
            _ => false,
        }
    }

    pub(crate) fn upgraded(&self) -> Option<&Upgraded> {
        match &self.side {
            Side::Up(up) => Some(up),
            _ => None,
        }
    }

    pub(crate) fn error(&self) -> Option<&Error> {
        match &self.side {
            Side::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// What a run of flights showed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Flights {
    /// The flight that first carried the dialer's application data.
    pub(crate) dialer_sends: Option<usize>,
    /// The flight after whose arrival the listener first read it.
    pub(crate) listener_receives: Option<usize>,
    /// The flight that carried the listener's answer.
    pub(crate) listener_answers: Option<usize>,
    /// The flight after whose arrival the dialer read that answer.
    pub(crate) dialer_receives: Option<usize>,
}

pub(crate) const PING: &[u8] = b"first muxed bytes from the dialer";
pub(crate) const PONG: &[u8] = b"the listener's answer";

/// Runs the upgrade flight by flight: each side sends its application data as soon as
/// its upgrade is complete (the listener answers once it read the dialer's).
pub(crate) fn run(
    dialer: Dialer,
    listener: Listener,
    max_flights: usize,
) -> (Peer<Dialer>, Peer<Listener>, Flights) {
    let mut d = Peer::new(dialer);
    let mut l = Peer::new(listener);
    let mut f = Flights::default();
    for flight in 1..=max_flights {
        let mut bytes = Vec::new();
        if flight % 2 == 1 {
            d.process();
            if f.dialer_sends.is_none() && d.send_app(PING) {
                f.dialer_sends = Some(flight);
            }
            d.transmit(&mut bytes);
            l.inbox.extend_from_slice(&bytes);
            l.process();
            if f.listener_receives.is_none() && l.received.len() >= PING.len() {
                assert_eq!(&l.received[..PING.len()], PING);
                f.listener_receives = Some(flight);
            }
        } else {
            l.process();
            if f.listener_answers.is_none() && f.listener_receives.is_some() && l.send_app(PONG) {
                f.listener_answers = Some(flight);
            }
            l.transmit(&mut bytes);
            d.inbox.extend_from_slice(&bytes);
            d.process();
            if f.dialer_receives.is_none() && d.received.len() >= PONG.len() {
                assert_eq!(&d.received[..PONG.len()], PONG);
                f.dialer_receives = Some(flight);
            }
        }
        if f.dialer_receives.is_some() || (d.error().is_some() && l.error().is_some()) {
            break;
        }
    }
    (d, l, f)
}

/// Builds both machines for a run.
pub(crate) fn machines(
    dialer_config: &Config,
    listener_config: &Config,
    expected: Option<PeerId>,
) -> (Dialer, Listener) {
    let dialer = Dialer::new(dialer_config, expected, NOW, &mut TestRng(100)).expect("dialer");
    let listener = Listener::new(listener_config, NOW, &mut TestRng(200)).expect("listener");
    (dialer, listener)
}

/// The configuration pair for one row of the round-trip table.
pub(crate) fn configs(
    security: &[SecurityProtocol],
    listener_security: &[SecurityProtocol],
    optimistic: bool,
    early_muxer: bool,
) -> (Config, Config) {
    let d = config(1)
        .with_security(security.iter().copied())
        .expect("security")
        .with_optimistic_negotiation(optimistic)
        .with_early_muxer_negotiation(early_muxer);
    let l = config(2)
        .with_security(listener_security.iter().copied())
        .expect("security")
        .with_early_muxer_negotiation(early_muxer);
    (d, l)
}
