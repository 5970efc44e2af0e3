//! The shared two-peer driver for the Noise tests: our `Initiator` and `Responder` as a real
//! driver runs them (keep unconsumed input, append each arrival, drain output and events,
//! take the session at `Complete`, then open transport frames from the leftover bytes), and
//! a [`Link`] per direction that can cut the byte stream into chunks, flip one byte in
//! flight and log everything it carried.
//!
//! Included with `#[path = "common/noise_pair.rs"] mod noise_pair;` (the module must be
//! named `noise_pair` at the test crate's root: `noise_duplex.rs` refers to it).
#![allow(dead_code)]

use std::collections::VecDeque;

use p2psec::identity::{KeyType, Keypair, PeerId};
use p2psec::noise::{
    Config, Error, Event, Initiator, Responder, SendHalf, Session, MAX_PLAINTEXT_LEN,
};
use zeroize::Zeroizing;

// ---- deterministic randomness ----

/// Deterministic RNG (splitmix64), the same as `src/noise/tests.rs`. `fill_bytes` takes
/// one `u64` per 8 output bytes and writes it little-endian (the last word truncated), so
/// seed `s` gives the bytes `le(splitmix64 output 1) || le(output 2) || ...`.
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

/// An identity and its Noise configuration, all drawn from `seed`: the identity key first,
/// then the 32-byte static secret.
pub(crate) struct Identity {
    pub(crate) keypair: Keypair,
    pub(crate) static_secret: [u8; 32],
    pub(crate) muxers: Vec<String>,
    pub(crate) config: Config,
}

pub(crate) fn identity(ty: KeyType, seed: u64, muxers: &[&str]) -> Identity {
    let mut rng = TestRng(seed);
    let keypair = Keypair::generate(ty, &mut rng).unwrap();
    let mut static_secret = [0u8; 32];
    rand_core::TryRng::try_fill_bytes(&mut rng, &mut static_secret).unwrap();
    let config = Config::with_static_secret(&keypair, Zeroizing::new(static_secret))
        .unwrap()
        .with_stream_muxers(muxers.iter().copied());
    Identity {
        keypair,
        static_secret,
        muxers: muxers.iter().map(|m| m.to_string()).collect(),
        config,
    }
}

// ---- one of our peers ----

/// Either handshake machine, so one driver runs both.
pub(crate) enum Machine {
    Initiator(Initiator),
    Responder(Responder),
}

impl Machine {
    pub(crate) fn initiator(config: &Config, expected: Option<PeerId>, seed: u64) -> Self {
        Machine::Initiator(Initiator::new(config, expected, &mut TestRng(seed)).unwrap())
    }
    pub(crate) fn responder(config: &Config, seed: u64) -> Self {
        Machine::Responder(Responder::new(config, &mut TestRng(seed)).unwrap())
    }
    pub(crate) fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        match self {
            Machine::Initiator(m) => m.handle_input(bytes),
            Machine::Responder(m) => m.handle_input(bytes),
        }
    }
    pub(crate) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        match self {
            Machine::Initiator(m) => m.poll_transmit(out),
            Machine::Responder(m) => m.poll_transmit(out),
        }
    }
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        match self {
            Machine::Initiator(m) => m.poll_event(),
            Machine::Responder(m) => m.poll_event(),
        }
    }
    pub(crate) fn into_session(self) -> Result<Session, Error> {
        match self {
            Machine::Initiator(m) => m.into_session(),
            Machine::Responder(m) => m.into_session(),
        }
    }
}

/// What a peer ended with, comparable across runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) error: Option<Error>,
    pub(crate) events: Vec<Event>,
    pub(crate) remote_peer_id: Option<PeerId>,
    pub(crate) handshake_hash: Option<[u8; 32]>,
    pub(crate) muxer: Option<String>,
    pub(crate) remote_certhashes: Vec<Vec<u8>>,
    /// Transport plaintext received, in order.
    pub(crate) received: Vec<u8>,
    /// Bytes the handshake consumed (the rest were transport frames).
    pub(crate) handshake_consumed: usize,
}

/// One of our peers, driven as a real driver would.
pub(crate) struct Peer {
    machine: Option<Machine>,
    session: Option<Session>,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    /// Application writes, sent (in order) once the session exists.
    writes: VecDeque<Vec<u8>>,
    /// Frames opened so far, each one's plaintext length (for checks on framing).
    pub(crate) frames_opened: Vec<usize>,
    summary: Summary,
}

impl Peer {
    pub(crate) fn new(machine: Machine, writes: Vec<Vec<u8>>) -> Self {
        Peer {
            machine: Some(machine),
            session: None,
            inbox: Vec::new(),
            outbox: Vec::new(),
            writes: writes.into(),
            frames_opened: Vec::new(),
            summary: Summary {
                error: None,
                events: Vec::new(),
                remote_peer_id: None,
                handshake_hash: None,
                muxer: None,
                remote_certhashes: Vec::new(),
                received: Vec::new(),
                handshake_consumed: 0,
            },
        }
    }

    pub(crate) fn summary(&self) -> &Summary {
        &self.summary
    }
    pub(crate) fn error(&self) -> Option<&Error> {
        self.summary.error.as_ref()
    }
    pub(crate) fn is_established(&self) -> bool {
        self.session.is_some()
    }
    pub(crate) fn session_mut(&mut self) -> Option<&mut Session> {
        self.session.as_mut()
    }
    /// Bytes received but not consumed yet (an incomplete message or frame).
    pub(crate) fn unconsumed(&self) -> usize {
        self.inbox.len()
    }

    /// Bytes from the peer, in any chunking.
    pub(crate) fn input(&mut self, bytes: &[u8]) {
        if self.summary.error.is_some() {
            return;
        }
        self.inbox.extend_from_slice(bytes);
        self.progress();
    }

    /// What must go to the peer now.
    pub(crate) fn output(&mut self) -> Vec<u8> {
        if self.summary.error.is_none() {
            self.progress();
        }
        std::mem::take(&mut self.outbox)
    }

    fn fail(&mut self, e: Error) {
        assert!(
            !matches!(
                e,
                Error::ApiMisuse(_) | Error::BufferTooSmall { .. } | Error::PlaintextTooLong { .. }
            ),
            "a caller error from a correct driver: {e:?}"
        );
        self.summary.error = Some(e);
    }

    fn progress(&mut self) {
        if let Some(mut machine) = self.machine.take() {
            match machine.handle_input(&self.inbox) {
                Ok(n) => {
                    assert!(
                        n <= self.inbox.len(),
                        "consumed {n} of {}",
                        self.inbox.len()
                    );
                    self.inbox.drain(..n);
                    self.summary.handshake_consumed += n;
                }
                Err(e) => {
                    // poisoned: the same error again, nothing more to send or report
                    assert_eq!(machine.handle_input(&self.inbox).as_ref(), Err(&e));
                    assert_eq!(machine.handle_input(&[]).as_ref(), Err(&e));
                    let mut out = Vec::new();
                    assert_eq!(machine.poll_transmit(&mut out), 0, "output after an error");
                    assert_eq!(machine.poll_event(), None, "event after an error");
                    assert_eq!(machine.into_session().err().as_ref(), Some(&e));
                    self.fail(e);
                    return;
                }
            }
            let n = machine.poll_transmit(&mut self.outbox);
            assert!(n <= self.outbox.len());
            let mut complete = false;
            while let Some(ev) = machine.poll_event() {
                if let Event::RemoteIdentified { peer_id } = &ev {
                    self.summary.remote_peer_id = Some(*peer_id);
                }
                complete |= ev == Event::Complete;
                self.summary.events.push(ev);
            }
            if !complete {
                self.machine = Some(machine);
                return;
            }
            // nothing is consumed past the end of the handshake
            assert_eq!(machine.handle_input(&self.inbox), Ok(0));
            let session = match machine.into_session() {
                Ok(s) => s,
                Err(e) => panic!("into_session after Complete: {e:?}"),
            };
            assert_eq!(Some(session.remote_peer_id()), self.summary.remote_peer_id);
            self.summary.handshake_hash = Some(*session.handshake_hash());
            self.summary.muxer = session.muxer().map(str::to_owned);
            self.summary.remote_certhashes = session.remote_webtransport_certhashes().to_vec();
            self.session = Some(session);
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        // our application writes, using each sealing API in turn
        let mut k = 0usize;
        while let Some(w) = self.writes.pop_front() {
            write_frames(session.send(), &w, k, &mut self.outbox);
            k += 1;
        }
        // open every complete frame; keep the incomplete tail
        let mut at = 0;
        let result = loop {
            match session.recv().decrypt_in_place(&mut self.inbox[at..]) {
                Ok(Some(opened)) => {
                    assert_eq!(opened.consumed, opened.plaintext.len() + 18);
                    self.summary.received.extend_from_slice(opened.plaintext);
                    self.frames_opened.push(opened.plaintext.len());
                    at += opened.consumed;
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.inbox.drain(..at);
        if let Err(e) = result {
            // poisoned
            assert_eq!(
                session
                    .recv()
                    .decrypt_in_place(&mut self.inbox)
                    .err()
                    .as_ref(),
                Some(&e)
            );
            self.fail(e);
        }
    }
}

/// Seals one application write: `encrypt`, `seal_in_place` and `encrypt_to_vec` in turn
/// for writes that fit a frame; `encrypt_to_vec` (which splits) for larger ones.
pub(crate) fn write_frames(send: &mut SendHalf, data: &[u8], k: usize, out: &mut Vec<u8>) {
    if data.len() > MAX_PLAINTEXT_LEN || k % 3 == 2 {
        let n = send.encrypt_to_vec(data, out).unwrap();
        let frames = data.len().div_ceil(MAX_PLAINTEXT_LEN).max(1);
        assert_eq!(n, data.len() + frames * 18);
        return;
    }
    let len = SendHalf::frame_len(data.len());
    if k % 3 == 0 {
        let mut buf = vec![0u8; len];
        assert_eq!(send.encrypt(data, &mut buf), Ok(len));
        out.extend_from_slice(&buf);
    } else {
        let at = out.len();
        out.resize(at + len, 0);
        out[at + 2..at + 2 + data.len()].copy_from_slice(data);
        assert_eq!(send.seal_in_place(&mut out[at..], data.len()), Ok(len));
    }
}

// ---- the wire between two of our peers ----

/// One direction: how bytes are cut into deliveries, an optional byte to flip in flight,
/// and a log of everything carried (after tampering).
#[derive(Default, Clone)]
pub(crate) struct Link {
    /// Delivery sizes, used in a cycle; empty: each flight in one piece.
    pub(crate) chunks: Vec<usize>,
    next_chunk: usize,
    /// Flip `mask` into the byte at this offset of the stream.
    pub(crate) tamper: Option<(usize, u8)>,
    pub(crate) log: Vec<u8>,
}

impl Link {
    pub(crate) fn chunked(chunks: Vec<usize>) -> Self {
        Link {
            chunks,
            ..Link::default()
        }
    }
    pub(crate) fn tampered(offset: usize, mask: u8) -> Self {
        Link {
            tamper: Some((offset, mask)),
            ..Link::default()
        }
    }

    /// Tampers and logs `flight`, then cuts it into deliveries.
    pub(crate) fn carry(&mut self, mut flight: Vec<u8>) -> Vec<Vec<u8>> {
        let start = self.log.len();
        if let Some((at, mask)) = self.tamper {
            if (start..start + flight.len()).contains(&at) {
                flight[at - start] ^= mask;
            }
        }
        self.log.extend_from_slice(&flight);
        if self.chunks.is_empty() {
            return vec![flight];
        }
        let mut out = Vec::new();
        let mut rest = &flight[..];
        while !rest.is_empty() {
            let n = self.chunks[self.next_chunk % self.chunks.len()].clamp(1, rest.len());
            self.next_chunk += 1;
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        out
    }
}

/// Moves bytes between `i` and `r` until nothing moves; returns both peers and both links
/// (whose logs are the two byte streams).
pub(crate) fn run(
    mut i: Peer,
    mut r: Peer,
    mut i_to_r: Link,
    mut r_to_i: Link,
) -> (Peer, Peer, Link, Link) {
    for _ in 0..64 {
        let a = i.output();
        let moved_a = !a.is_empty();
        for piece in i_to_r.carry(a) {
            r.input(&piece);
        }
        let b = r.output();
        let moved_b = !b.is_empty();
        for piece in r_to_i.carry(b) {
            i.input(&piece);
        }
        if !moved_a && !moved_b {
            return (i, r, i_to_r, r_to_i);
        }
    }
    panic!("the exchange never settled");
}

/// Splits a byte stream into its `u16 length || body` messages (whole ones only).
pub(crate) fn split_messages(mut stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while stream.len() >= 2 {
        let len = 2 + usize::from(u16::from_be_bytes([stream[0], stream[1]]));
        if stream.len() < len {
            break;
        }
        out.push(stream[..len].to_vec());
        stream = &stream[len..];
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .expect("valid hex")
}
