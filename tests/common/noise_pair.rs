//! The two-peer driver of the Noise tests, on the shared one (`pair.rs`): our `Initiator`
//! and `Responder` as a real driver runs them (keep unconsumed input, append each arrival,
//! drain output and events, take the session at `Complete`, then open transport frames
//! from the leftover bytes), and a [`Link`] per direction that can cut the byte stream
//! into chunks, flip one byte in flight and log everything it carried.
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

#[path = "pair.rs"]
mod pair;

#[path = "rng.rs"]
mod rng;
pub(crate) use rng::TestRng;

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
pub(crate) type Machine = pair::Role<Initiator, Responder>;

impl Machine {
    pub(crate) fn initiator(config: &Config, expected: Option<PeerId>, seed: u64) -> Self {
        pair::Role::Dialer(Initiator::new(config, expected, &mut TestRng(seed)).unwrap())
    }
    pub(crate) fn responder(config: &Config, seed: u64) -> Self {
        pair::Role::Listener(Responder::new(config, &mut TestRng(seed)).unwrap())
    }
}

/// The verbs the tests call on a `Machine` directly, without `p2psec::Machine` in scope.
impl Machine {
    pub(crate) fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        p2psec::Machine::handle_input(self, bytes)
    }
    pub(crate) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        p2psec::Machine::poll_transmit(self, out)
    }
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        p2psec::Machine::poll_event(self)
    }
    pub(crate) fn into_session(self) -> Result<Session, Error> {
        pair::Handshake::finish(self)
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
            let seen = self.summary.events.len();
            match pair::step(&mut machine, &mut self.inbox, &mut self.summary.events) {
                Ok(n) => self.summary.handshake_consumed += n,
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
            for ev in &self.summary.events[seen..] {
                if let Event::RemoteIdentified { peer_id } = ev {
                    self.summary.remote_peer_id = Some(*peer_id);
                }
                complete |= *ev == Event::Complete;
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

impl pair::Peer for Peer {
    fn input(&mut self, bytes: &[u8]) {
        Peer::input(self, bytes);
    }
    fn output(&mut self) -> Vec<u8> {
        Peer::output(self)
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
}

/// The size of the next delivery: the next of `chunks` in the cycle, or all.
fn next_cut(chunks: &[usize], next: &mut usize) -> usize {
    if chunks.is_empty() {
        return usize::MAX;
    }
    *next += 1;
    chunks[(*next - 1) % chunks.len()]
}

/// Moves bytes between `i` and `r` until nothing moves (every flight delivered at once,
/// in the pieces its link cuts); returns both peers and both links (whose logs are the
/// two byte streams).
pub(crate) fn run(
    mut i: Peer,
    mut r: Peer,
    mut i_to_r: Link,
    mut r_to_i: Link,
) -> (Peer, Peer, Link, Link) {
    let mut a_to_b = pair::Link::new(i_to_r.tamper);
    let mut b_to_a = pair::Link::new(r_to_i.tamper);
    a_to_b.log = std::mem::take(&mut i_to_r.log);
    b_to_a.log = std::mem::take(&mut r_to_i.log);
    let mut cut = |way| match way {
        pair::Way::AToB => next_cut(&i_to_r.chunks, &mut i_to_r.next_chunk),
        pair::Way::BToA => next_cut(&r_to_i.chunks, &mut r_to_i.next_chunk),
    };
    let turn = pair::Turn::Everything;
    pair::run(&mut i, &mut r, &mut a_to_b, &mut b_to_a, &mut cut, turn, 64);
    i_to_r.log = a_to_b.log;
    r_to_i.log = b_to_a.log;
    (i, r, i_to_r, r_to_i)
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
