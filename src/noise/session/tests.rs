//! The session's transport verbs: data both ways, the two bounds, close, poisoning, and
//! a handshake handed back by an early `into_session`.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::fuzzing::TestRng;
use crate::identity::{KeyType, Keypair};
use crate::noise::{Config, Initiator, Responder};

fn config(seed: u64) -> Config {
    let mut rng = TestRng(seed);
    let id = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    Config::new(&id, &mut rng).unwrap()
}

/// A finished handshake: (initiator's session, responder's session). The initiator's
/// `into_session` is first tried before message 3 is taken and must hand it back.
fn pair() -> (Session, Session) {
    let mut i = Initiator::new(&config(1), None, &mut TestRng(10)).unwrap();
    let mut r = Responder::new(&config(2), &mut TestRng(20)).unwrap();
    let (mut to_r, mut to_i) = (Vec::new(), Vec::new());
    let _ = i.poll_transmit(&mut to_r);
    assert_eq!(r.handle_input(&to_r), Ok(to_r.len()));
    to_r.clear();
    let _ = r.poll_transmit(&mut to_i);
    assert_eq!(i.handle_input(&to_i), Ok(to_i.len()));
    assert!(i.is_complete());
    // message 3 still waits: the initiator comes back, whole
    let refused = i.into_session().unwrap_err();
    assert!(matches!(refused.error, Error::ApiMisuse(_)));
    let mut i = refused.machine;
    assert!(i.poll_transmit(&mut to_r) > 0);
    assert_eq!(r.handle_input(&to_r), Ok(to_r.len()));
    (i.into_session().unwrap(), r.into_session().unwrap())
}

#[test]
fn data_goes_both_ways_through_the_verbs() {
    let (mut a, mut b) = pair();
    assert_eq!(a.write(b"ping"), Ok(4));
    let mut wire = Vec::new();
    assert_eq!(a.poll_transmit(&mut wire), SendHalf::frame_len(4));
    assert_eq!(a.pending_transmit(), 0);
    // a partial frame is left with the caller
    assert_eq!(b.handle_input(&wire[..5]), Ok(0));
    assert_eq!(b.handle_input(&wire), Ok(wire.len()));
    assert_eq!(b.readable(), 4);
    let mut buf = [0u8; 3];
    assert_eq!(b.read(&mut buf), Ok(3));
    assert_eq!(&buf, b"pin");
    assert_eq!(b.read(&mut buf), Ok(1));
    assert_eq!(buf[0], b'g');
    assert_eq!(b.read(&mut buf), Ok(0));

    assert_eq!(b.write(b"pong"), Ok(4));
    wire.clear();
    let _ = b.poll_transmit(&mut wire);
    assert_eq!(a.handle_input(&wire), Ok(wire.len()));
    assert_eq!(a.read(&mut buf[..]), Ok(3));
}

#[test]
fn both_buffers_are_bounded() {
    let (mut a, mut b) = pair();
    let data = vec![7u8; 1 << 20];
    let taken = a.write(&data).unwrap();
    assert!(taken >= MAX_PENDING_CIPHERTEXT - MAX_PLAINTEXT_LEN && taken < data.len());
    let frame = SendHalf::frame_len(MAX_PLAINTEXT_LEN);
    assert!(a.pending_transmit() < MAX_PENDING_CIPHERTEXT + frame);
    assert_eq!(a.write(&data[taken..]), Ok(0));
    // the whole megabyte, a transmit after each refused write
    let mut wire = Vec::new();
    let mut sent = taken;
    while sent < data.len() {
        let _ = a.poll_transmit(&mut wire);
        sent += a.write(&data[sent..]).unwrap();
    }
    let _ = a.poll_transmit(&mut wire);
    // the receiver stops once a frame's worth waits for `read`
    let used = b.handle_input(&wire).unwrap();
    assert!(used < wire.len());
    assert!(b.readable() >= MAX_BUFFERED_PLAINTEXT);
    assert!(b.readable() < MAX_BUFFERED_PLAINTEXT + MAX_PLAINTEXT_LEN);
    assert_eq!(b.handle_input(&wire[used..]), Ok(0));
    let (mut used, mut got) = (used, Vec::new());
    let mut buf = vec![0u8; 100_000];
    while got.len() < data.len() {
        let n = b.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        used += b.handle_input(&wire[used..]).unwrap();
    }
    assert_eq!(used, wire.len());
    assert_eq!(got, data);
}

#[test]
fn close_stops_writing_and_sends_nothing() {
    let (mut a, _) = pair();
    a.close();
    assert!(a.is_closed());
    assert_eq!(a.pending_transmit(), 0);
    assert!(matches!(a.write(b"late"), Err(Error::ApiMisuse(_))));
}

#[test]
fn a_forged_frame_poisons_the_session() {
    let (mut a, mut b) = pair();
    let _ = a.write(b"hello");
    let mut wire = Vec::new();
    let _ = a.poll_transmit(&mut wire);
    if let Some(last) = wire.last_mut() {
        *last ^= 1;
    }
    assert_eq!(b.handle_input(&wire), Err(Error::Decrypt));
    assert_eq!(b.handle_input(&[]), Err(Error::Decrypt));
    assert_eq!(b.read(&mut [0u8; 8]), Err(Error::Decrypt));
    assert_eq!(b.write(b"x"), Err(Error::Decrypt));
}
