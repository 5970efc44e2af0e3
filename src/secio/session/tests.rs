//! The session's transport verbs: the echo before any plaintext, any chunking, the two
//! bounds, close, poisoning, the end of stream, and a handshake handed back by an early
//! `into_session`.

use alloc::vec;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::*;
use crate::identity::{KeyType, Keypair};
use crate::secio::{Config, Handshake};

use crate::fuzzing::TestRng;

fn handshake(seed: u8) -> Handshake {
    let id = Keypair::generate(KeyType::Ed25519, &mut TestRng(u64::from(seed))).unwrap();
    Handshake::with_seed(&Config::new(&id), None, Zeroizing::new([seed; 32])).unwrap()
}

/// Finished sessions `(a, b)` and the bytes each sent that the other has not read yet
/// (its echo). `into_session` is first tried too early, and must hand the machine back.
fn pair() -> ((Session, Vec<u8>), (Session, Vec<u8>)) {
    let (mut a, mut b) = (handshake(1), handshake(2));
    let refused = a.into_session().unwrap_err();
    assert!(matches!(refused.error, Error::ApiMisuse(_)));
    a = refused.machine;
    let (mut ab, mut ba) = (Vec::new(), Vec::new());
    while !(a.is_complete() && b.is_complete()) {
        let _ = a.poll_transmit(&mut ab);
        let _ = b.poll_transmit(&mut ba);
        let n = b.handle_input(&ab).unwrap();
        ab.drain(..n);
        let n = a.handle_input(&ba).unwrap();
        ba.drain(..n);
    }
    // the echo still waits in `poll_transmit`: refused again, nothing lost
    let refused = a.into_session().unwrap_err();
    assert!(matches!(refused.error, Error::ApiMisuse(_)));
    a = refused.machine;
    let _ = a.poll_transmit(&mut ab);
    let _ = b.poll_transmit(&mut ba);
    let (sa, sb) = (a.into_session().unwrap(), b.into_session().unwrap());
    ((sa, ab), (sb, ba))
}

#[test]
fn data_waits_for_the_echo_and_takes_any_chunking() {
    let ((mut a, ab), (mut b, _)) = pair();
    assert_eq!(a.write(b"hello"), Ok(5));
    let mut wire = ab;
    let _ = a.poll_transmit(&mut wire);
    let mut got = Vec::new();
    let mut buf = [0u8; 4];
    for (i, byte) in wire.iter().enumerate() {
        assert_eq!(b.handle_input(&[*byte]), Ok(1));
        if i + 1 < wire.len() {
            // the echo frame and a partial data frame release nothing
            assert_eq!(b.readable(), 0);
            assert!(b.buffered_input() > 0 || b.recv_ref().echo_verified());
        }
        loop {
            let n = b.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(got, b"hello");
    assert_eq!(b.end_of_stream(), Ok(()));
}

#[test]
fn both_buffers_are_bounded() {
    let ((mut a, ab), (mut b, _)) = pair();
    let data = vec![3u8; 1 << 20];
    let mut wire = ab;
    let mut sent = a.write(&data).unwrap();
    assert!(sent < data.len());
    assert!(a.pending_transmit() < MAX_PENDING_CIPHERTEXT + a.send().frame_len(MAX_PLAINTEXT_LEN));
    assert_eq!(a.write(&data[sent..]), Ok(0));
    while sent < data.len() {
        let _ = a.poll_transmit(&mut wire);
        sent += a.write(&data[sent..]).unwrap();
    }
    let _ = a.poll_transmit(&mut wire);
    let used = b.handle_input(&wire).unwrap();
    assert!(used < wire.len());
    assert!(b.readable() >= MAX_BUFFERED_PLAINTEXT);
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
    let ((mut a, _), _) = pair();
    a.close();
    assert!(a.is_closed());
    assert_eq!(a.pending_transmit(), 0);
    assert!(matches!(a.write(b"late"), Err(Error::ApiMisuse(_))));
}

#[test]
fn a_forged_frame_poisons_the_session() {
    let ((mut a, ab), (mut b, _)) = pair();
    let _ = a.write(b"hello");
    let mut wire = ab;
    let _ = a.poll_transmit(&mut wire);
    if let Some(last) = wire.last_mut() {
        *last ^= 1;
    }
    assert_eq!(b.handle_input(&wire), Err(Error::MacMismatch));
    assert_eq!(b.handle_input(&[]), Err(Error::MacMismatch));
    assert_eq!(b.read(&mut [0u8; 8]), Err(Error::MacMismatch));
    assert_eq!(b.write(b"x"), Err(Error::MacMismatch));
    assert_eq!(b.readable(), 0);
}

#[test]
fn a_stream_that_ends_inside_a_frame_is_truncated() {
    let ((_, ab), (mut b, _)) = pair();
    let cut = ab.len() - 1;
    assert_eq!(b.handle_input(&ab[..cut]), Ok(cut));
    assert_eq!(b.buffered_input(), cut);
    assert_eq!(b.end_of_stream(), Err(Error::TruncatedFrame { have: cut }));
    assert_eq!(
        b.read(&mut [0u8; 8]),
        Err(Error::TruncatedFrame { have: cut })
    );
}
