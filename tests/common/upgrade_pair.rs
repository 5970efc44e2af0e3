//! The two-peer driver of the upgrade tests, on the shared one (`pair.rs`): our
//! `upgrade::Dialer` and `upgrade::Listener` run as a real driver runs them (keep
//! unconsumed input, append each arrival, drain output and events, take the `Upgraded` at
//! `Complete`, then hand the leftover bytes to its channel), moving whole flights between
//! them: every byte one side has to send after it processed everything it received
//! travels as one flight.
//!
//! Included with `#[path = "common/upgrade_pair.rs"] mod upgrade_pair;`.
#![allow(dead_code)]

use p2psec::identity::{KeyType, Keypair};
use p2psec::upgrade::{Config, Dialer, Error, Event, Listener, SecurityProtocol, Upgraded};
use p2psec::PeerId;

#[path = "pair.rs"]
mod pair;

/// Unix time the tests run at (certificates are made and checked then).
pub(crate) const NOW: u64 = 1_750_000_000;

#[path = "rng.rs"]
mod rng;
pub(crate) use rng::TestRng;

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

/// Either upgrade machine, as the tests' generic helpers take it: the shared driver's
/// handshake, handing over the `Upgraded`.
pub(crate) trait Machine:
    pair::Handshake<Event = Event, Error = Error, Done = Upgraded>
{
    fn into_upgraded(self) -> Result<Upgraded, Error> {
        self.finish()
    }
}

impl Machine for Dialer {}
impl Machine for Listener {}

/// A side with its unconsumed input, the events it reported and the plaintext it read.
pub(crate) struct Peer<M> {
    pub(crate) side: Side<M>,
    pub(crate) inbox: Vec<u8>,
    pub(crate) events: Vec<Event>,
    pub(crate) received: Vec<u8>,
    /// What the machine had to send when it failed.
    pub(crate) last_words: Vec<u8>,
}

impl<M: Machine> Peer<M> {
    pub(crate) fn new(machine: M) -> Self {
        Self {
            side: Side::Upgrading(machine),
            inbox: Vec::new(),
            events: Vec::new(),
            received: Vec::new(),
            last_words: Vec::new(),
        }
    }

    /// Processes everything in the inbox (as far as the machines take it).
    pub(crate) fn process(&mut self) {
        loop {
            let side = std::mem::replace(&mut self.side, Side::Failed(Error::UnexpectedEof));
            self.side = match side {
                Side::Upgrading(mut m) => {
                    match pair::step(&mut m, &mut self.inbox, &mut self.events) {
                        Ok(_) if m.is_complete() => match m.finish() {
                            Ok(up) => Side::Up(Box::new(up)),
                            Err(e) => Side::Failed(e),
                        },
                        Ok(_) => {
                            self.side = Side::Upgrading(m);
                            return;
                        }
                        Err(e) => {
                            // a failing machine still owes the peer its last message (a
                            // multistream `na`, a TLS alert), as a real driver sends it
                            let _ = m.poll_transmit(&mut self.last_words);
                            self.side = Side::Failed(e);
                            return;
                        }
                    }
                }
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
            Side::Failed(_) => out.append(&mut self.last_words),
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

impl<M: Machine> pair::Peer for Peer<M> {
    /// Bytes from the other side, processed at once.
    fn input(&mut self, bytes: &[u8]) {
        self.inbox.extend_from_slice(bytes);
        self.process();
    }
    /// Everything this side has to send now.
    fn output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.transmit(&mut out);
        out
    }
}

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
    let (mut to_l, mut to_d) = (pair::Link::default(), pair::Link::default());
    let whole = &mut || usize::MAX;
    let turn = pair::Turn::Everything;
    for flight in 1..=max_flights {
        if flight % 2 == 1 {
            d.process();
            if f.dialer_sends.is_none() && d.send_app(PING) {
                f.dialer_sends = Some(flight);
            }
            pair::flight(&mut d, &mut l, &mut to_l, whole, turn);
            if f.listener_receives.is_none() && l.received.len() >= PING.len() {
                assert_eq!(&l.received[..PING.len()], PING);
                f.listener_receives = Some(flight);
            }
        } else {
            l.process();
            if f.listener_answers.is_none() && f.listener_receives.is_some() && l.send_app(PONG) {
                f.listener_answers = Some(flight);
            }
            pair::flight(&mut l, &mut d, &mut to_d, whole, turn);
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
