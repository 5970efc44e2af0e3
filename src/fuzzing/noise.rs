//! Fuzz bodies for the Noise machines: fixed identities, static keys and ephemeral seeds,
//! so an input always replays the same way. The handshakes are driven by [`Run`]; what
//! must hold besides the call contract: only the fixture peer is identified, `Complete`
//! follows it, no whole message is left unread, and no peer causes a caller error. The
//! transport body opens frames from a session established in memory.

use super::drive::{exchange, finish, pieces, Identification, Rules, Run};
use super::{chunks, TestRng};
use crate::identity::{KeyType, Keypair, PeerId};
use crate::machine::Incomplete;
use crate::noise::{
    Config, Error, Event, Initiator, RecvHalf, Responder, SendHalf, Session, MAX_WIRE_FRAME,
    TAG_LEN,
};
use crate::Machine;
use alloc::vec;
use alloc::vec::Vec;
use zeroize::Zeroizing;

const INITIATOR_EPHEMERAL_SEED: u64 = 3;
const RESPONDER_EPHEMERAL_SEED: u64 = 4;
/// No handshake ever sends more: message 1 (34 bytes) and 3, or message 2, each a few
/// hundred bytes with the fixtures' payloads.
const MAX_HANDSHAKE_OUTPUT: usize = 1024;

/// Both configurations and a valid transcript between them (messages with their
/// length prefix).
#[derive(Clone)]
struct Fixtures {
    initiator: Config,
    responder: Config,
    responder_id: PeerId,
    initiator_id: PeerId,
    msg1: Vec<u8>,
    msg2: Vec<u8>,
    msg3: Vec<u8>,
}

fn config(seed: u64, muxers: &[&str]) -> (Config, PeerId) {
    let mut rng = TestRng(seed);
    // secp256k1: the cheapest signature to verify in unoptimized builds
    let id = match Keypair::generate(KeyType::Secp256k1, &mut rng) {
        Ok(id) => id,
        Err(e) => panic!("fixture identity: {e:?}"),
    };
    let mut secret = Zeroizing::new([0u8; 32]);
    rand_core::Rng::fill_bytes(&mut rng, &mut secret[..]);
    match Config::with_static_secret(&id, secret) {
        Ok(c) => (c.with_stream_muxers(muxers.iter().copied()), id.peer_id()),
        Err(e) => panic!("fixture config: {e:?}"),
    }
}

fn make_fixtures() -> Fixtures {
    let (initiator, initiator_id) = config(0x1001, &["/yamux/1.0.0"]);
    let (responder, responder_id) = config(0x1002, &["/mplex/6.7.0", "/yamux/1.0.0"]);
    let (mut i, mut r) = new_pair(&initiator, &responder);
    let [msg1, msg2, msg3] = exchange(&mut i, &mut r);
    assert!(i.is_complete() && r.is_complete());
    Fixtures {
        initiator,
        responder,
        responder_id,
        initiator_id,
        msg1,
        msg2,
        msg3,
    }
}

fn new_pair(initiator: &Config, responder: &Config) -> (Initiator, Responder) {
    let i = Initiator::new(initiator, None, &mut TestRng(INITIATOR_EPHEMERAL_SEED));
    let r = Responder::new(responder, &mut TestRng(RESPONDER_EPHEMERAL_SEED));
    match (i, r) {
        (Ok(i), Ok(r)) => (i, r),
        (i, r) => panic!("fixture machines: {:?} {:?}", i.err(), r.err()),
    }
}

// the unit tests always have std, whatever the features
#[cfg(all(test, not(feature = "std")))]
extern crate std;

/// Made once per process with std (signing and key generation are the slow part);
/// rebuilt every time without it.
fn fixtures() -> Fixtures {
    #[cfg(any(feature = "std", test))]
    {
        static FIXTURES: std::sync::OnceLock<Fixtures> = std::sync::OnceLock::new();
        FIXTURES.get_or_init(make_fixtures).clone()
    }
    #[cfg(not(any(feature = "std", test)))]
    make_fixtures()
}

/// Whether `bytes` starts with a whole `u16 length || body` message.
fn has_whole_message(bytes: &[u8]) -> bool {
    match bytes {
        [hi, lo, rest @ ..] => rest.len() >= usize::from(u16::from_be_bytes([*hi, *lo])),
        _ => false,
    }
}

/// The handshake's rules, over the accessor both machines have.
struct Handshake<M> {
    remote_peer_id: fn(&M) -> Option<PeerId>,
    identification: Identification,
}

impl<M: Machine<Event = Event, Error = Error>> Rules<M> for Handshake<M> {
    fn max_output(&self) -> usize {
        MAX_HANDSHAKE_OUTPUT
    }

    fn consumed(&mut self, m: &M, _: &[u8], rest: &[u8]) {
        if !m.is_complete() {
            assert!(!has_whole_message(rest), "a whole message left unread");
        }
    }

    fn failed(&mut self, _: &M, e: &Error) {
        // a caller's mistake, which no input from the peer may cause
        let caller = matches!(
            e,
            Error::ApiMisuse(_) | Error::BufferTooSmall { .. } | Error::PlaintextTooLong { .. }
        );
        assert!(!caller, "a peer caused a caller error: {e:?}");
    }

    fn event(&mut self, m: &M, event: Event) {
        match event {
            Event::RemoteIdentified { peer_id } => {
                assert_eq!((self.remote_peer_id)(m), Some(peer_id));
                self.identification.identified(peer_id);
            }
            Event::Complete => self.identification.completed(m.is_complete()),
        }
    }
}

/// Feeds `prefix` (valid messages) and then the chunks of `data` (see [`Run::feed`]);
/// after completion the rest must stay unconsumed, and the session must prove the
/// fixture peer.
fn drive<M: Machine<Event = Event, Error = Error>>(
    m: M,
    remote_peer_id: fn(&M) -> Option<PeerId>,
    into_session: fn(M) -> Result<Session, Incomplete<M>>,
    prefix: &[u8],
    data: &[u8],
    expected_remote: PeerId,
) {
    let mut rules = Handshake {
        remote_peer_id,
        identification: Identification::new(expected_remote),
    };
    let mut run = Run::new(m);
    let mut pieces = pieces(prefix, data);
    run.feed(&mut rules, &mut pieces);
    let complete = run.machine.is_complete();
    if complete {
        run.rest_is_next_layers(pieces);
    }
    let misuse = |e: &Error| matches!(e, Error::ApiMisuse(_));
    let handed_over = into_session(run.machine).map_err(Incomplete::into_error);
    if let Some(session) = finish(handed_over, run.failed, complete, misuse) {
        assert_eq!(session.remote_peer_id(), expected_remote);
    }
}

/// Fuzz body: our Noise initiator fed `data` as the responder's bytes, in chunks. Bit 7
/// of the first byte first feeds the fixture's valid message 2, so the rest arrives
/// after completion (and must stay unconsumed).
pub fn noise_initiator(data: &[u8]) {
    let f = fixtures();
    let flags = data.first().copied().unwrap_or(0);
    let (i, _) = new_pair(&f.initiator, &f.responder);
    let prefix: &[u8] = if flags & 0x80 != 0 { &f.msg2 } else { &[] };
    let (peer, session) = (Initiator::remote_peer_id, Initiator::into_session);
    drive(i, peer, session, prefix, data, f.responder_id);
}

/// Fuzz body: our Noise responder fed `data` as the initiator's bytes, in chunks. Bit 7
/// of the first byte first feeds the fixture's message 1 (so the fuzzer starts at
/// message 3), bit 6 also its valid message 3 (the rest arrives after completion).
pub fn noise_responder(data: &[u8]) {
    let f = fixtures();
    let flags = data.first().copied().unwrap_or(0);
    let (_, r) = new_pair(&f.initiator, &f.responder);
    let mut prefix = Vec::new();
    if flags & 0x80 != 0 {
        prefix.extend_from_slice(&f.msg1);
        if flags & 0x40 != 0 {
            prefix.extend_from_slice(&f.msg3);
        }
    }
    let (peer, session) = (Responder::remote_peer_id, Responder::into_session);
    drive(r, peer, session, &prefix, data, f.initiator_id);
}

/// The fixture's handshake run to the end: (initiator's session, responder's session).
fn sessions(f: &Fixtures) -> (Session, Session) {
    let (mut i, mut r) = new_pair(&f.initiator, &f.responder);
    let mut out = Vec::new();
    let _ = i.poll_transmit(&mut out);
    assert_eq!(out, f.msg1, "the fixture handshake is not deterministic");
    let both = [f.msg1.as_slice(), &f.msg3].concat();
    assert_eq!(i.handle_input(&f.msg2), Ok(f.msg2.len()));
    assert_eq!(r.handle_input(&both), Ok(both.len()));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let _ = (i.poll_transmit(&mut a), r.poll_transmit(&mut b));
    assert_eq!((a, b), (f.msg3.clone(), f.msg2.clone()));
    match (i.into_session(), r.into_session()) {
        (Ok(i), Ok(r)) => (i, r),
        (i, r) => panic!("fixture sessions: {:?} {:?}", i.err(), r.err()),
    }
}

/// Opens the first frame of `inbox` with one of the two opening APIs.
fn open(
    recv: &mut RecvHalf,
    inbox: &mut [u8],
    copy: bool,
    scratch: &mut [u8],
) -> Result<Option<(usize, Vec<u8>)>, Error> {
    if copy {
        Ok(recv
            .decrypt(inbox, scratch)?
            .map(|(consumed, n)| (consumed, scratch.get(..n).unwrap_or_default().to_vec())))
    } else {
        Ok(recv
            .decrypt_in_place(inbox)?
            .map(|o| (o.consumed, o.plaintext.to_vec())))
    }
}

/// Fuzz body: a session established in memory from the fixtures; `data` (after its
/// first byte) is the peer's transport byte stream, in chunks. First byte: bit 0 picks
/// the receiving side, bit 3 the opening API (`decrypt` or `decrypt_in_place`); bit 1
/// makes the rest plaintext instead, sealed by the peer, which must open to the same
/// bytes; otherwise bit 2 puts one valid frame before the fuzz bytes.
pub fn noise_transport(data: &[u8]) {
    let f = fixtures();
    let flags = data.first().copied().unwrap_or(0);
    let rest = data.get(1..).unwrap_or_default();
    let (i, r) = sessions(&f);
    let ((i_send, i_recv), (r_send, r_recv)) = (i.split(), r.split());
    let (mut send, mut recv): (SendHalf, RecvHalf) = if flags & 1 == 0 {
        (i_send, r_recv)
    } else {
        (r_send, i_recv)
    };
    let roundtrip = flags & 2 != 0;
    let copy = flags & 8 != 0;
    // the stream the receiver sees, after a seed byte for `chunks`
    let mut stream = vec![flags];
    let mut sealed: Vec<u8> = Vec::new();
    if roundtrip {
        let n = match send.encrypt_to_vec(rest, &mut stream) {
            Ok(n) => n,
            Err(e) => panic!("sealing {} bytes: {e:?}", rest.len()),
        };
        assert_eq!(n, stream.len() - 1);
        sealed.extend_from_slice(rest);
    } else {
        if flags & 4 != 0 {
            let valid = b"one valid frame";
            if let Err(e) = send.encrypt_to_vec(valid, &mut stream) {
                panic!("sealing: {e:?}");
            }
            sealed.extend_from_slice(valid);
        }
        stream.extend_from_slice(rest);
    }
    let mut scratch = vec![0u8; MAX_WIRE_FRAME];
    let mut inbox: Vec<u8> = Vec::new();
    let mut opened: Vec<u8> = Vec::new();
    let mut failed: Option<Error> = None;
    for chunk in chunks(&stream) {
        if let Some(e) = &failed {
            inbox.extend_from_slice(chunk);
            assert_eq!(
                open(&mut recv, &mut inbox, copy, &mut scratch).as_ref(),
                Err(e)
            );
            continue;
        }
        inbox.extend_from_slice(chunk);
        let mut at = 0;
        loop {
            let tail = inbox.get_mut(at..).unwrap_or_default();
            let declared = RecvHalf::next_frame_len(tail);
            match open(&mut recv, tail, copy, &mut scratch) {
                Ok(Some((consumed, plaintext))) => {
                    assert_eq!(Some(consumed), declared);
                    assert_eq!(plaintext.len() + 2 + TAG_LEN, consumed);
                    opened.extend_from_slice(&plaintext);
                    assert!(sealed.starts_with(&opened), "a frame nobody sealed opened");
                    at += consumed;
                }
                Ok(None) => {
                    assert!(declared.is_none_or(|len| len > tail.len()));
                    break;
                }
                Err(e) => {
                    assert!(
                        matches!(e, Error::Decrypt | Error::FrameTooShort { .. }),
                        "unexpected transport error: {e:?}"
                    );
                    assert_eq!(
                        open(
                            &mut recv,
                            inbox.get_mut(at..).unwrap_or_default(),
                            copy,
                            &mut scratch
                        )
                        .as_ref(),
                        Err(&e)
                    );
                    failed = Some(e);
                    break;
                }
            }
        }
        inbox.drain(..at);
    }
    if roundtrip {
        assert_eq!(failed, None);
        assert_eq!(opened, sealed, "sealed data did not open to itself");
        assert!(inbox.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::super::drive::holds;
    use super::*;
    use crate::fuzzing::Xorshift;

    /// Deterministic inputs: fragments of the fixture transcript and of valid frames,
    /// flipped bytes, length prefixes and noise, so the bodies reach every state.
    fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
        let f = fixtures();
        let mut rng = Xorshift(seed | 1);
        (0..count).map(move |_| {
            let mut data = vec![rng.next() as u8];
            for _ in 0..rng.next() % 6 {
                let piece: Vec<u8> = match rng.next() % 8 {
                    0 => f.msg1.clone(),
                    1 => f.msg2.clone(),
                    2 => f.msg3.clone(),
                    3 => {
                        let len = (rng.next() % 300) as u16;
                        len.to_be_bytes().to_vec()
                    }
                    _ => (0..rng.next() % 80).map(|_| rng.next() as u8).collect(),
                };
                data.extend_from_slice(&piece);
            }
            if data.len() > 1 && rng.next() % 3 == 0 {
                let at = 1 + (rng.next() as usize) % (data.len() - 1);
                data[at] ^= 1 << (rng.next() % 8);
            }
            if rng.next() % 4 == 0 {
                data.truncate((rng.next() as usize) % (data.len() + 1));
            }
            data
        })
    }

    #[test]
    fn initiator_body_holds_on_pseudo_random_inputs() {
        let generated = inputs(2000, 0x9e37_79b9_7f4a_7c15);
        holds(noise_initiator, &[&[], &[0x80]], generated);
    }

    #[test]
    fn responder_body_holds_on_pseudo_random_inputs() {
        let generated = inputs(2000, 0x2545_f491_4f6c_dd1d);
        holds(noise_responder, &[&[], &[0xc0]], generated);
    }

    #[test]
    fn transport_body_holds_on_pseudo_random_inputs() {
        // each input costs a whole handshake (two signature checks, slow in a debug
        // build), hence fewer inputs than the handshake bodies get
        holds(noise_transport, &[&[]], inputs(1000, 0x5851_f42d_4c95_7f2d));
    }

    #[test]
    fn valid_prefixes_complete() {
        // the bodies' prefixes are what a real peer sends: the machines complete on them
        let f = fixtures();
        let (mut i, mut r) = new_pair(&f.initiator, &f.responder);
        assert_eq!(i.handle_input(&f.msg2), Ok(f.msg2.len()));
        assert!(i.is_complete());
        let both = [f.msg1.as_slice(), &f.msg3].concat();
        assert_eq!(r.handle_input(&both), Ok(both.len()));
        assert!(r.is_complete());
        let (mut a, mut b) = sessions(&f);
        assert_eq!(a.handshake_hash(), b.handshake_hash());
        assert_eq!(a.muxer(), Some("/yamux/1.0.0"));
        let mut wire = Vec::new();
        let _ = a.send().encrypt_to_vec(b"x", &mut wire);
        assert!(b
            .recv()
            .decrypt_in_place(&mut wire)
            .is_ok_and(|o| o.is_some()));
    }
}
