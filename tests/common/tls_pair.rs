//! The two-peer driver of the TLS tests, on the shared one (`pair.rs`): a [`Peer`] runs
//! one handshake machine and then its session (application writes, reads, close_notify),
//! and [`run_pair`] moves bytes between two peers in chunks of any size, optionally
//! flipping one byte in flight.
//!
//! Included with `#[path = "common/tls_pair.rs"] mod tls_pair;`.
#![allow(dead_code)]

use std::collections::VecDeque;

use p2psec::identity::{KeyType, Keypair};
use p2psec::tls::{Client, Config, Error, Event, Server, Session};
use p2psec::Machine as _;
use p2psec::PeerId;

#[path = "pair.rs"]
mod pair;

/// A fixed time for our-vs-our tests (Unix seconds, mid-2025).
pub(crate) const NOW: u64 = 1_750_000_000;

#[path = "rng.rs"]
mod rng;
pub(crate) use rng::TestRng;

/// An identity of type `ty` drawn from `seed`.
pub(crate) fn keypair(ty: KeyType, seed: u64) -> Keypair {
    Keypair::generate(ty, &mut TestRng(seed)).unwrap()
}

/// A configuration for `keypair` at `now` with `muxers`, its certificate drawn from `seed`.
pub(crate) fn config(keypair: &Keypair, now: u64, seed: u64, muxers: &[&str]) -> Config {
    Config::new(keypair, now, &mut TestRng(seed))
        .unwrap()
        .with_stream_muxers(muxers.iter().copied())
}

/// Where a peer is.
pub(crate) enum Stage {
    Handshake(pair::Role<Client, Server>),
    Session(Session),
}

/// What a peer ended with. Equal summaries mean the same outcome.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Summary {
    pub(crate) events: Vec<Event>,
    pub(crate) error: Option<Error>,
    /// `Some` once the session exists: the remote PeerId and the muxer.
    pub(crate) session: Option<(PeerId, Option<String>)>,
    /// Plaintext read from the session.
    pub(crate) received: Vec<u8>,
    pub(crate) peer_closed: bool,
    pub(crate) closed: bool,
}

/// One side: a machine, the bytes it has not consumed, and what it will write once the
/// session exists.
pub(crate) struct Peer {
    pub(crate) stage: Option<Stage>,
    pub(crate) inbox: Vec<u8>,
    writes: VecDeque<Vec<u8>>,
    offset: usize,
    close_after_writes: bool,
    pub(crate) summary: Summary,
    /// Bytes seen in the session's input that had arrived with the handshake's last
    /// input (data that followed the handshake in the same flight).
    pub(crate) leftover_after_handshake: usize,
}

impl Peer {
    pub(crate) fn client(config: &Config, expected: Option<PeerId>, now: u64) -> Self {
        let client = Client::new(config, expected, now).unwrap();
        Self::new(Stage::Handshake(pair::Role::Dialer(client)))
    }

    pub(crate) fn server(config: &Config, now: u64) -> Self {
        let server = Server::new(config, now).unwrap();
        Self::new(Stage::Handshake(pair::Role::Listener(server)))
    }

    pub(crate) fn new(stage: Stage) -> Self {
        Self {
            stage: Some(stage),
            inbox: Vec::new(),
            writes: VecDeque::new(),
            offset: 0,
            close_after_writes: false,
            summary: Summary::default(),
            leftover_after_handshake: 0,
        }
    }

    /// Application writes, made as soon as the session exists (and the send queue allows).
    pub(crate) fn with_writes(mut self, writes: Vec<Vec<u8>>, then_close: bool) -> Self {
        self.writes = writes.into();
        self.close_after_writes = then_close;
        self
    }

    pub(crate) fn session(&mut self) -> Option<&mut Session> {
        match &mut self.stage {
            Some(Stage::Session(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn input(&mut self, bytes: &[u8]) {
        self.inbox.extend_from_slice(bytes);
        self.step();
    }

    fn step(&mut self) {
        if self.summary.error.is_some() {
            return;
        }
        // the handshake, then (possibly with leftover bytes) the session
        if let Some(Stage::Handshake(m)) = &mut self.stage {
            if let Err(e) = pair::step(m, &mut self.inbox, &mut self.summary.events) {
                self.summary.error = Some(e);
                return;
            }
            if m.is_complete() {
                let Some(Stage::Handshake(m)) = self.stage.take() else {
                    unreachable!()
                };
                let session = pair::Handshake::finish(m).unwrap();
                self.summary.session =
                    Some((session.remote_peer_id(), session.muxer().map(String::from)));
                self.leftover_after_handshake = self.inbox.len();
                self.stage = Some(Stage::Session(session));
            }
        }
        self.session_step();
    }

    fn session_step(&mut self) {
        let Some(Stage::Session(s)) = &mut self.stage else {
            return;
        };
        let mut buf = vec![0u8; 40_000];
        loop {
            let n = match s.handle_input(&self.inbox) {
                Ok(n) => n,
                Err(e) => {
                    self.summary.error = Some(e);
                    return;
                }
            };
            self.inbox.drain(..n);
            let mut read_any = false;
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        read_any = true;
                        self.summary.received.extend_from_slice(&buf[..k]);
                    }
                    Err(e) => {
                        self.summary.error = Some(e);
                        return;
                    }
                }
            }
            if n == 0 && !read_any {
                break;
            }
        }
        self.summary.peer_closed = s.is_peer_closed();
        self.write_some();
    }

    /// Writes what the send queue takes; returns whether anything was taken.
    fn write_some(&mut self) -> bool {
        let Some(Stage::Session(s)) = &mut self.stage else {
            return false;
        };
        if self.summary.error.is_some() {
            return false;
        }
        let mut progressed = false;
        while let Some(w) = self.writes.front() {
            if self.offset >= w.len() {
                self.writes.pop_front();
                self.offset = 0;
                progressed = true;
                continue;
            }
            match s.write(&w[self.offset..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.offset += n;
                    progressed = true;
                }
                Err(e) => {
                    self.summary.error = Some(e);
                    return progressed;
                }
            }
        }
        if self.writes.is_empty() && self.close_after_writes && !s.is_closed() {
            s.close();
            self.summary.closed = true;
            progressed = true;
        }
        progressed
    }

    /// Everything the peer has to send now (draining the send queue and refilling it from
    /// the pending writes until both are empty or blocked).
    pub(crate) fn output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let n = match &mut self.stage {
                Some(Stage::Handshake(m)) => m.poll_transmit(&mut out),
                Some(Stage::Session(s)) => s.poll_transmit(&mut out),
                None => 0,
            };
            if !self.write_some() && n == 0 {
                return out;
            }
        }
    }
}

/// The network between two peers: chunk sizes and an optional byte flip per direction
/// (`(offset in that direction's stream, xor mask)`).
pub(crate) struct Net<'a> {
    pub(crate) chunk: Box<dyn FnMut() -> usize + 'a>,
    pub(crate) tamper_a_to_b: Option<(usize, u8)>,
    pub(crate) tamper_b_to_a: Option<(usize, u8)>,
}

impl Net<'_> {
    /// Whole flights delivered at once, nothing altered.
    pub(crate) fn whole() -> Self {
        Net {
            chunk: Box::new(|| usize::MAX),
            tamper_a_to_b: None,
            tamper_b_to_a: None,
        }
    }
}

impl pair::Peer for Peer {
    fn input(&mut self, bytes: &[u8]) {
        Peer::input(self, bytes);
    }
    fn output(&mut self) -> Vec<u8> {
        Peer::output(self)
    }
}

/// Every byte each direction carried (after tampering).
#[derive(Debug, Default)]
pub(crate) struct Wire {
    pub(crate) a_to_b: Vec<u8>,
    pub(crate) b_to_a: Vec<u8>,
}

/// Runs `a` and `b` until no byte moves any more: each turn delivers one piece of what is
/// in flight each way, of the size `net.chunk` gives.
pub(crate) fn run_pair(a: &mut Peer, b: &mut Peer, mut net: Net<'_>) -> Wire {
    let mut a_to_b = pair::Link::new(net.tamper_a_to_b);
    let mut b_to_a = pair::Link::new(net.tamper_b_to_a);
    let mut cut = |_| (net.chunk)();
    let turn = pair::Turn::OnePiece;
    pair::run(a, b, &mut a_to_b, &mut b_to_a, &mut cut, turn, 10_000_000);
    Wire {
        a_to_b: a_to_b.log,
        b_to_a: b_to_a.log,
    }
}
