//! A synchronous driver for our TLS machines: a [`Peer`] runs one handshake machine and
//! then its session (application writes, reads, close_notify), and [`run_pair`] moves
//! bytes between two peers in chunks of any size, optionally flipping one byte in flight.
//!
//! Included with `#[path = "common/tls_pair.rs"] mod tls_pair;`.
#![allow(dead_code)]

use std::collections::VecDeque;

use p2psec::identity::{KeyType, Keypair};
use p2psec::tls::{Client, Config, Error, Event, Server, Session};
use p2psec::PeerId;

/// A fixed time for our-vs-our tests (Unix seconds, mid-2025).
pub(crate) const NOW: u64 = 1_750_000_000;

/// A deterministic RNG (splitmix64): fixed keys and certificates per seed.
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

impl TestRng {
    /// `n` bytes of this stream (test data).
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        rand_core::TryRng::try_fill_bytes(self, &mut v).unwrap();
        v
    }
    /// A number below `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        rand_core::TryRng::try_next_u64(self).unwrap() % n
    }
}

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
    Client(Client),
    Server(Server),
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
        Self::new(Stage::Client(Client::new(config, expected, now).unwrap()))
    }

    pub(crate) fn server(config: &Config, now: u64) -> Self {
        Self::new(Stage::Server(Server::new(config, now).unwrap()))
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
        let result = match &mut self.stage {
            Some(Stage::Client(m)) => m.handle_input(&self.inbox),
            Some(Stage::Server(m)) => m.handle_input(&self.inbox),
            _ => Ok(0),
        };
        match result {
            Err(e) => {
                self.summary.error = Some(e);
                return;
            }
            Ok(n) => {
                self.inbox.drain(..n);
            }
        }
        let complete = match &mut self.stage {
            Some(Stage::Client(m)) => {
                while let Some(e) = m.poll_event() {
                    self.summary.events.push(e);
                }
                m.is_complete()
            }
            Some(Stage::Server(m)) => {
                while let Some(e) = m.poll_event() {
                    self.summary.events.push(e);
                }
                m.is_complete()
            }
            _ => false,
        };
        if complete {
            let session = match self.stage.take() {
                Some(Stage::Client(m)) => m.into_session(),
                Some(Stage::Server(m)) => m.into_session(),
                Some(Stage::Session(s)) => Ok(s),
                None => unreachable!(),
            }
            .unwrap();
            self.summary.session =
                Some((session.remote_peer_id(), session.muxer().map(String::from)));
            self.leftover_after_handshake = self.inbox.len();
            self.stage = Some(Stage::Session(session));
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
                Some(Stage::Client(m)) => m.poll_transmit(&mut out),
                Some(Stage::Server(m)) => m.poll_transmit(&mut out),
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

/// Every byte each direction carried (after tampering).
#[derive(Debug, Default)]
pub(crate) struct Wire {
    pub(crate) a_to_b: Vec<u8>,
    pub(crate) b_to_a: Vec<u8>,
}

fn send(out: Vec<u8>, log: &mut Vec<u8>, wire: &mut VecDeque<u8>, tamper: Option<(usize, u8)>) {
    let start = log.len();
    let mut out = out;
    if let Some((at, mask)) = tamper {
        if (start..start + out.len()).contains(&at) {
            out[at - start] ^= mask;
        }
    }
    log.extend_from_slice(&out);
    wire.extend(out);
}

/// Runs `a` and `b` until no byte moves any more.
pub(crate) fn run_pair(a: &mut Peer, b: &mut Peer, mut net: Net<'_>) -> Wire {
    let mut log = Wire::default();
    let (mut ab, mut ba) = (VecDeque::new(), VecDeque::new());
    for _ in 0..10_000_000 {
        let mut moved = false;
        let out = a.output();
        moved |= !out.is_empty();
        send(out, &mut log.a_to_b, &mut ab, net.tamper_a_to_b);
        if !ab.is_empty() {
            let n = (net.chunk)().clamp(1, ab.len());
            let part: Vec<u8> = ab.drain(..n).collect();
            b.input(&part);
            moved = true;
        }
        let out = b.output();
        moved |= !out.is_empty();
        send(out, &mut log.b_to_a, &mut ba, net.tamper_b_to_a);
        if !ba.is_empty() {
            let n = (net.chunk)().clamp(1, ba.len());
            let part: Vec<u8> = ba.drain(..n).collect();
            a.input(&part);
            moved = true;
        }
        if !moved {
            return log;
        }
    }
    panic!("the exchange never settled");
}
