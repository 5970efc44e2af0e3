//! The handshake rules between two of our machines; interop, vectors and proptests live
//! in `tests/secio_*.rs`.

use alloc::vec;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::*;
use crate::identity::{KeyType, Keypair};

fn keypair(key_type: KeyType, byte: u8) -> Keypair {
    let mut rng = SeededRng(byte as u64 + 1);
    Keypair::generate(key_type, &mut rng).unwrap()
}

use crate::fuzzing::TestRng as SeededRng;

fn seed(b: u8) -> Zeroizing<[u8; 32]> {
    Zeroizing::new([b; 32])
}

/// Moves bytes between two handshakes until both are complete; returns the bytes each
/// sent that the other's session must read (a → b, b → a): the echoes.
fn run(a: &mut Handshake, b: &mut Handshake) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let (mut ab, mut ba) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let _ = a.poll_transmit(&mut ab);
        let _ = b.poll_transmit(&mut ba);
        if a.is_complete() && b.is_complete() {
            return Ok((ab, ba));
        }
        let n = b.handle_input(&ab)?;
        ab.drain(..n);
        let n = a.handle_input(&ba)?;
        ba.drain(..n);
    }
    panic!("handshake did not finish");
}

/// Completed sessions with the echoes read: `(a, b)`.
fn sessions(mut a: Handshake, mut b: Handshake) -> (Session, Session) {
    let (ab, ba) = run(&mut a, &mut b).unwrap();
    let (mut sa, mut sb) = (a.into_session().unwrap(), b.into_session().unwrap());
    let mut plain = Vec::new();
    assert_eq!(sb.recv().handle_input(&ab, &mut plain), Ok(ab.len()));
    assert_eq!(sa.recv().handle_input(&ba, &mut plain), Ok(ba.len()));
    assert!(plain.is_empty(), "the echo is stripped");
    assert!(sa.recv().echo_verified() && sb.recv().echo_verified());
    (sa, sb)
}

fn pair(ka: &Keypair, kb: &Keypair) -> (Handshake, Handshake) {
    let a = Handshake::with_seed(&Config::new(ka), Some(kb.peer_id()), seed(1)).unwrap();
    let b = Handshake::with_seed(&Config::new(kb), None, seed(2)).unwrap();
    (a, b)
}

#[test]
fn handshake_and_data_for_every_key_type() {
    for key_type in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa] {
        let (ka, kb) = (keypair(key_type, 1), keypair(key_type, 2));
        let (mut a, mut b) = pair(&ka, &kb);
        let (ab, ba) = run(&mut a, &mut b).unwrap();
        assert_eq!(
            a.poll_event(),
            Some(Event::RemoteIdentified {
                peer_id: kb.peer_id()
            })
        );
        assert_eq!(a.poll_event(), Some(Event::Complete));
        let mut sa = a.into_session().unwrap();
        let mut sb = b.into_session().unwrap();
        assert_eq!(sa.algorithms(), sb.algorithms());
        assert_eq!(sb.remote_peer_id(), ka.peer_id());
        // the echo and the first data may share a read
        let mut plain = Vec::new();
        sa.recv().handle_input(&ba, &mut plain).unwrap();
        assert!(plain.is_empty());
        let mut wire = ab;
        let msg = vec![7u8; 200_000];
        sa.send().encrypt_to_vec(&msg, &mut wire).unwrap();
        // byte-odd chunks through the streaming decoder
        for chunk in wire.chunks(4099) {
            sb.recv().handle_input(chunk, &mut plain).unwrap();
        }
        assert_eq!(plain, msg);
    }
}

#[test]
fn every_algorithm_combination_agrees() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    for ex in KeyExchange::ALL {
        for c in Cipher::ALL {
            for h in Hash::ALL {
                let ca = Config::new(&ka)
                    .with_exchanges(&[*ex])
                    .and_then(|c2| c2.with_ciphers(&[*c]))
                    .and_then(|c2| c2.with_hashes(&[*h]))
                    .unwrap();
                let a = Handshake::with_seed(&ca, None, seed(3)).unwrap();
                let cb = Config::new(&kb).with_ciphers(Cipher::ALL).unwrap();
                let b = Handshake::with_seed(&cb, None, seed(4)).unwrap();
                let (mut sa, mut sb) = sessions(a, b);
                assert_eq!(sa.algorithms(), (*ex, *c, *h));
                let mut frame = vec![0u8; sb.send().frame_len(5)];
                let n = sb.send().encrypt(b"hello", &mut frame).unwrap();
                let opened = sa
                    .recv()
                    .decrypt_in_place(&mut frame[..n])
                    .unwrap()
                    .unwrap();
                assert_eq!(opened.plaintext, b"hello");
            }
        }
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_session() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (mut a, mut b) = pair(&ka, &kb);
    let (mut ab, mut ba) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let _ = a.poll_transmit(&mut ab);
        let _ = b.poll_transmit(&mut ba);
        let mut held = Vec::new();
        for byte in ab.drain(..) {
            held.push(byte);
            let n = b.handle_input(&held).unwrap();
            held.drain(..n);
        }
        ab = held;
        let mut held = Vec::new();
        for byte in ba.drain(..) {
            held.push(byte);
            let n = a.handle_input(&held).unwrap();
            held.drain(..n);
        }
        ba = held;
    }
    assert!(a.is_complete() && b.is_complete());
    // what is left are the two echo frames, for the sessions
    let _ = a.poll_transmit(&mut ab);
    let _ = b.poll_transmit(&mut ba);
    let (mut sa, mut sb) = (a.into_session().unwrap(), b.into_session().unwrap());
    let mut plain = Vec::new();
    for byte in ab {
        sb.recv().handle_input(&[byte], &mut plain).unwrap();
    }
    for byte in ba {
        sa.recv().handle_input(&[byte], &mut plain).unwrap();
    }
    assert!(plain.is_empty());
    assert!(sa.recv().echo_verified() && sb.recv().echo_verified());
}

#[test]
fn wrong_expected_peer_is_refused() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let other = keypair(KeyType::Ed25519, 3).peer_id();
    let mut a = Handshake::with_seed(&Config::new(&ka), Some(other), seed(1)).unwrap();
    let mut b = Handshake::with_seed(&Config::new(&kb), None, seed(2)).unwrap();
    let e = run(&mut a, &mut b).unwrap_err();
    assert_eq!(
        e,
        Error::UnexpectedPeer {
            expected: other,
            got: kb.peer_id()
        }
    );
    // poisoned: the same error again
    assert_eq!(a.handle_input(&[]), Err(e));
}

#[test]
fn talking_to_self_is_refused() {
    let ka = keypair(KeyType::Ed25519, 1);
    let mut a = Handshake::with_seed(&Config::new(&ka), None, seed(1)).unwrap();
    let mut b = Handshake::with_seed(&Config::new(&ka), None, seed(1)).unwrap();
    assert_eq!(run(&mut a, &mut b), Err(Error::TalkingToSelf));
}

#[test]
fn no_common_algorithm_is_named() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let ca = Config::new(&ka).with_hashes(&[Hash::Sha256]).unwrap();
    let cb = Config::new(&kb).with_hashes(&[Hash::Sha512]).unwrap();
    let mut a = Handshake::with_seed(&ca, None, seed(1)).unwrap();
    let mut b = Handshake::with_seed(&cb, None, seed(2)).unwrap();
    let e = run(&mut a, &mut b).unwrap_err();
    assert!(
        matches!(e, Error::NoCommonAlgorithm { list: "hash", .. }),
        "{e}"
    );
}

/// Runs phase 1 and returns b's Exchange frame, for tampering.
fn exchange_frame(a: &mut Handshake, b: &mut Handshake) -> Vec<u8> {
    let (mut ab, mut ba) = (Vec::new(), Vec::new());
    let _ = a.poll_transmit(&mut ab);
    let _ = b.poll_transmit(&mut ba);
    b.handle_input(&ab).unwrap();
    a.handle_input(&ba).unwrap();
    let mut out = Vec::new();
    let _ = b.poll_transmit(&mut out);
    out
}

#[test]
fn tampered_exchange_is_refused() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (mut a, mut b) = pair(&ka, &kb);
    let mut frame = exchange_frame(&mut a, &mut b);
    let last = frame.len() - 1;
    frame[last] ^= 1; // inside the signature
    assert_eq!(a.handle_input(&frame), Err(Error::BadSignature));

    let (mut a, mut b) = pair(&ka, &kb);
    let mut frame = exchange_frame(&mut a, &mut b);
    frame[8] ^= 1; // inside the ephemeral point, which the signature covers
    assert_eq!(a.handle_input(&frame), Err(Error::BadSignature));
}

/// A send and receive half over the same keys, the receiver expecting `nonce`.
fn halves(nonce: [u8; 16]) -> (SendHalf, RecvHalf) {
    use super::crypto::{stretch, DirectionCipher};
    let (keys, _) = stretch(Hash::Sha256, Cipher::Aes128, b"secret");
    let tx = DirectionCipher::new(Cipher::Aes128, Hash::Sha256, &keys).unwrap();
    let rx = DirectionCipher::new(Cipher::Aes128, Hash::Sha256, &keys).unwrap();
    (SendHalf::new(tx), RecvHalf::new(rx, MAX_FRAME_LEN, nonce))
}

#[test]
fn wrong_nonce_echo_is_refused() {
    let nonce = [9u8; 16];
    let mut plain = Vec::new();
    // a wrong echo
    let (mut tx, mut rx) = halves(nonce);
    let mut wire = Vec::new();
    tx.encrypt_to_vec(&[0u8; 16], &mut wire).unwrap();
    assert_eq!(
        rx.handle_input(&wire, &mut plain),
        Err(Error::NonceMismatch)
    );
    assert_eq!(rx.handle_input(&[], &mut plain), Err(Error::NonceMismatch));
    // an echo split over two frames whose second part is wrong
    let (mut tx, mut rx) = halves(nonce);
    let mut wire = Vec::new();
    tx.encrypt_to_vec(&nonce[..10], &mut wire).unwrap();
    tx.encrypt_to_vec(&[0u8; 6], &mut wire).unwrap();
    assert_eq!(
        rx.handle_input(&wire, &mut plain),
        Err(Error::NonceMismatch)
    );
    // the same split, right, followed by data in the second frame
    let (mut tx, mut rx) = halves(nonce);
    let mut wire = Vec::new();
    tx.encrypt_to_vec(&nonce[..10], &mut wire).unwrap();
    let mut rest = nonce[10..].to_vec();
    rest.extend_from_slice(b"data");
    tx.encrypt_to_vec(&rest, &mut wire).unwrap();
    assert_eq!(rx.handle_input(&wire, &mut plain), Ok(wire.len()));
    assert_eq!(plain, b"data");
    // and through decrypt_in_place
    let (mut tx, mut rx) = halves(nonce);
    let mut frame = vec![0u8; tx.frame_len(20)];
    let mut msg = nonce.to_vec();
    msg.extend_from_slice(b"more");
    let n = tx.encrypt(&msg, &mut frame).unwrap();
    let opened = rx.decrypt_in_place(&mut frame[..n]).unwrap().unwrap();
    assert_eq!(opened.plaintext, b"more");
}

#[test]
fn tampered_frame_fails_its_mac() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (mut a, mut b) = pair(&ka, &kb);
    run(&mut a, &mut b).unwrap();
    let mut sa = a.into_session().unwrap();
    let mut sb = b.into_session().unwrap();
    let mut wire = Vec::new();
    sa.send()
        .encrypt_to_vec(b"attack at dawn", &mut wire)
        .unwrap();
    wire[6] ^= 0x20;
    let mut plain = Vec::new();
    assert_eq!(
        sb.recv().handle_input(&wire, &mut plain),
        Err(Error::MacMismatch)
    );
    assert!(
        plain.is_empty(),
        "nothing is decrypted before the MAC holds"
    );
    assert_eq!(
        sb.recv().handle_input(&[], &mut plain),
        Err(Error::MacMismatch)
    );
}

#[test]
fn a_stream_ending_inside_a_frame_is_named() {
    let nonce = [9u8; 16];
    let (mut tx, mut rx) = halves(nonce);
    let mut wire = Vec::new();
    tx.encrypt_to_vec(&nonce, &mut wire).unwrap();
    tx.encrypt_to_vec(b"data", &mut wire).unwrap();
    let mut plain = Vec::new();
    let cut = wire.len() - 3;
    rx.handle_input(&wire[..cut], &mut plain).unwrap();
    assert_eq!(rx.buffered(), cut - 52);
    assert_eq!(
        rx.end_of_stream(),
        Err(Error::TruncatedFrame { have: cut - 52 })
    );
    assert_eq!(
        rx.handle_input(&wire[cut..], &mut plain),
        Err(Error::TruncatedFrame { have: cut - 52 })
    );
    // whole frames: a clean end
    let (mut tx, mut rx) = halves(nonce);
    let mut wire = Vec::new();
    tx.encrypt_to_vec(&nonce, &mut wire).unwrap();
    rx.handle_input(&wire, &mut plain).unwrap();
    assert_eq!(rx.end_of_stream(), Ok(()));
}

#[test]
fn frame_limits_are_enforced() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (a, b) = pair(&ka, &kb);
    let (_, mut sb) = sessions(a, b);
    let mut plain = Vec::new();
    // the default limit
    let too_big = ((DEFAULT_MAX_FRAME_LEN + 1) as u32).to_be_bytes();
    assert_eq!(
        sb.recv().handle_input(&too_big, &mut plain),
        Err(Error::FrameTooLarge {
            len: DEFAULT_MAX_FRAME_LEN + 1,
            max: DEFAULT_MAX_FRAME_LEN
        })
    );
    let (a, b) = pair(&ka, &kb);
    let (_, mut sb) = sessions(a, b);
    assert!(matches!(
        sb.recv()
            .handle_input(&[0, 0, 0, 5, 1, 2, 3, 4, 5], &mut plain),
        Err(Error::FrameTooShort { len: 5, .. })
    ));
    // a handshake message above the handshake limit
    let (mut a, _) = pair(&ka, &kb);
    let big = ((MAX_HANDSHAKE_MESSAGE + 1) as u32).to_be_bytes();
    assert!(matches!(
        a.handle_input(&big),
        Err(Error::FrameTooLarge { .. })
    ));
}

#[test]
fn malformed_propose_fields_are_named() {
    let kb = keypair(KeyType::Ed25519, 2);
    let cases: [(proto::Propose, Error); 3] = [
        (
            proto::Propose::default(),
            Error::MissingField {
                message: "Propose",
                field: "rand",
            },
        ),
        (
            proto::Propose {
                rand: Some(vec![0; 8]),
                ..Default::default()
            },
            Error::BadNonceLength { len: 8 },
        ),
        (
            proto::Propose {
                rand: Some(vec![0; 16]),
                pubkey: Some(vec![8, 9, 18, 0]),
                exchanges: Some("P-256".into()),
                ciphers: Some("AES-128".into()),
                hashes: Some("SHA256".into()),
            },
            Error::RemoteKey(
                crate::identity::PublicKey::try_decode_protobuf(&[8, 9, 18, 0]).unwrap_err(),
            ),
        ),
    ];
    for (propose, want) in cases {
        let mut b = Handshake::with_seed(&Config::new(&kb), None, seed(2)).unwrap();
        let body = prost::Message::encode_to_vec(&propose);
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        assert_eq!(b.handle_input(&frame), Err(want));
    }
    let mut b = Handshake::with_seed(&Config::new(&kb), None, seed(2)).unwrap();
    assert_eq!(
        b.handle_input(&[0, 0, 0, 2, 0xff, 0xff]),
        Err(Error::Malformed { message: "Propose" })
    );
}

#[test]
fn data_right_behind_the_echo_is_kept() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (mut a, mut b) = pair(&ka, &kb);
    let (_, mut ba) = run(&mut a, &mut b).unwrap();
    let mut sa = a.into_session().unwrap();
    let mut sb = b.into_session().unwrap();
    // b's echo frame and a data frame in one read (rust-libp2p does not wait either)
    sb.send().encrypt_to_vec(b"early", &mut ba).unwrap();
    let mut plain = Vec::new();
    assert_eq!(sa.recv().handle_input(&ba, &mut plain), Ok(ba.len()));
    assert_eq!(plain, b"early");
}

#[test]
fn the_frame_limit_defaults_low_and_rises_to_the_ceiling() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    assert_eq!(Config::new(&ka).max_frame_len(), DEFAULT_MAX_FRAME_LEN);
    const { assert!(DEFAULT_MAX_FRAME_LEN < MAX_FRAME_LEN) };
    // a js-libp2p mplex message of 1 MiB, its header and a SHA-512 MAC fit the default
    const { assert!(1024 * 1024 + 16 + 64 <= DEFAULT_MAX_FRAME_LEN) };
    assert!(matches!(
        Config::new(&ka).with_max_frame_len(MAX_FRAME_LEN + 1),
        Err(Error::ApiMisuse(_))
    ));
    assert!(matches!(
        Config::new(&ka).with_max_frame_len(127),
        Err(Error::ApiMisuse(_))
    ));
    // raised to the 8 MiB ceiling: exactly 8 MiB is announced without an error, one more
    // byte is refused
    let ca = Config::new(&ka).with_max_frame_len(MAX_FRAME_LEN).unwrap();
    let a = Handshake::with_seed(&ca, Some(kb.peer_id()), seed(1)).unwrap();
    let b = Handshake::with_seed(&Config::new(&kb), None, seed(2)).unwrap();
    let (mut sa, mut sb) = sessions(a, b);
    let mut plain = Vec::new();
    let at_ceiling = (MAX_FRAME_LEN as u32).to_be_bytes();
    assert_eq!(sa.recv().handle_input(&at_ceiling, &mut plain), Ok(4));
    assert_eq!(sa.recv().buffered(), 4);
    let over = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
    assert!(matches!(
        sb.recv().handle_input(&over, &mut plain),
        Err(Error::FrameTooLarge {
            max: DEFAULT_MAX_FRAME_LEN,
            ..
        })
    ));
    // a RecvHalf never takes a limit above the ceiling
    let (_, mut rx) = halves_with_limit([9u8; 16], usize::MAX);
    assert!(matches!(
        rx.handle_input(&over, &mut plain),
        Err(Error::FrameTooLarge {
            max: MAX_FRAME_LEN,
            ..
        })
    ));
}

fn halves_with_limit(nonce: [u8; 16], max: usize) -> (SendHalf, RecvHalf) {
    use super::crypto::{stretch, DirectionCipher};
    let (keys, _) = stretch(Hash::Sha256, Cipher::Aes128, b"secret");
    let tx = DirectionCipher::new(Cipher::Aes128, Hash::Sha256, &keys).unwrap();
    let rx = DirectionCipher::new(Cipher::Aes128, Hash::Sha256, &keys).unwrap();
    (SendHalf::new(tx), RecvHalf::new(rx, max, nonce))
}

#[test]
fn a_partial_frame_is_bounded_by_the_limit_allocation_included() {
    let nonce = [9u8; 16];
    let limit = 300_000;
    let (_, mut rx) = halves_with_limit(nonce, limit);
    let mut plain = Vec::new();
    // a frame announcing exactly the limit, trickled in: held, never allocated beyond
    // the frame (a plain Vec would double past it)
    let mut wire = (limit as u32).to_be_bytes().to_vec();
    wire.extend(core::iter::repeat_n(0u8, limit - 1));
    for chunk in wire.chunks(7_001) {
        rx.handle_input(chunk, &mut plain).unwrap();
        assert!(rx.buffered_capacity() <= LEN_PREFIX + limit);
    }
    assert_eq!(rx.buffered(), LEN_PREFIX + limit - 1);
    // one more byte announced than the limit: refused before anything is buffered
    let (_, mut rx) = halves_with_limit(nonce, limit);
    let over = ((limit + 1) as u32).to_be_bytes();
    assert_eq!(
        rx.handle_input(&over[..3], &mut plain),
        Ok(3),
        "a partial length prefix waits"
    );
    assert_eq!(
        rx.handle_input(&over[3..], &mut plain),
        Err(Error::FrameTooLarge {
            len: limit + 1,
            max: limit
        })
    );
    assert_eq!(rx.buffered(), 0);
}

mod poisoning;
