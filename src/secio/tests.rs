//! The handshake rules between two of our machines; interop, vectors and proptests live
//! in `tests/secio_*.rs`.

use alloc::vec;
use alloc::vec::Vec;

use super::handshake::Step;
use zeroize::Zeroizing;

use super::*;
use crate::identity::{KeyType, Keypair};

fn keypair(key_type: KeyType, byte: u8) -> Keypair {
    let mut rng = SeededRng(byte as u64 + 1);
    Keypair::generate(key_type, &mut rng).unwrap()
}

/// A deterministic RNG for tests (splitmix64).
struct SeededRng(u64);
impl rand_core::TryRng for SeededRng {
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
impl rand_core::TryCryptoRng for SeededRng {}

fn seed(b: u8) -> Zeroizing<[u8; 32]> {
    Zeroizing::new([b; 32])
}

/// Moves bytes between two handshakes until both stop; the first error wins.
fn run(a: &mut Handshake, b: &mut Handshake) -> Result<(), Error> {
    let (mut ab, mut ba) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let _ = a.poll_transmit(&mut ab);
        let _ = b.poll_transmit(&mut ba);
        let n = b.handle_input(&ab)?;
        ab.drain(..n);
        let n = a.handle_input(&ba)?;
        ba.drain(..n);
        if a.is_complete() && b.is_complete() {
            let _ = a.poll_transmit(&mut ab);
            let _ = b.poll_transmit(&mut ba);
            assert!(
                ab.is_empty() && ba.is_empty(),
                "the echo went out before completion"
            );
            return Ok(());
        }
    }
    panic!("handshake did not finish");
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
        run(&mut a, &mut b).unwrap();
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
        let msg = vec![7u8; 200_000];
        let mut wire = Vec::new();
        sa.send().encrypt_to_vec(&msg, &mut wire).unwrap();
        let mut plain = Vec::new();
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
                let mut a = Handshake::with_seed(&ca, None, seed(3)).unwrap();
                let mut b = Handshake::with_seed(&Config::new(&kb), None, seed(4)).unwrap();
                run(&mut a, &mut b).unwrap();
                let mut sa = a.into_session().unwrap();
                let mut sb = b.into_session().unwrap();
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
    assert!(ab.is_empty() && ba.is_empty());
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

#[test]
fn wrong_nonce_echo_is_refused() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (mut a, mut b) = pair(&ka, &kb);
    let frame = exchange_frame(&mut a, &mut b);
    a.handle_input(&frame).unwrap();
    let mut ab = Vec::new();
    let _ = a.poll_transmit(&mut ab);
    b.handle_input(&ab).unwrap();
    // b's keys are right, but it echoes the wrong bytes
    let mut wrong = Vec::new();
    let (Step::AwaitEcho(keyed) | Step::Done(Some(keyed))) = &mut b.step else {
        panic!("b should have its keys");
    };
    keyed.send = {
        // a fresh send half at the key stream's start, as b's echo frame would use
        let mut again = pair(&ka, &kb);
        let f = exchange_frame(&mut again.0, &mut again.1);
        again.0.handle_input(&f).unwrap();
        let mut x = Vec::new();
        let _ = again.0.poll_transmit(&mut x);
        again.1.handle_input(&x).unwrap();
        let (Step::AwaitEcho(k) | Step::Done(Some(k))) = again.1.step else {
            panic!("b should have its keys");
        };
        k.send
    };
    keyed.send.encrypt_to_vec(&[0u8; 16], &mut wrong).unwrap();
    assert_eq!(a.handle_input(&wrong), Err(Error::NonceMismatch));
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
fn frame_limits_are_enforced() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (mut a, mut b) = pair(&ka, &kb);
    run(&mut a, &mut b).unwrap();
    let mut sb = b.into_session().unwrap();
    let mut plain = Vec::new();
    let too_big = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
    assert!(matches!(
        sb.recv().handle_input(&too_big, &mut plain),
        Err(Error::FrameTooLarge { .. })
    ));
    let (mut a, mut b) = pair(&ka, &kb);
    run(&mut a, &mut b).unwrap();
    let mut sb = b.into_session().unwrap();
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
fn early_data_after_the_echo_is_kept() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    let (mut a, mut b) = pair(&ka, &kb);
    let frame = exchange_frame(&mut a, &mut b);
    a.handle_input(&frame).unwrap();
    let mut ab = Vec::new();
    let _ = a.poll_transmit(&mut ab);
    b.handle_input(&ab).unwrap();
    // b's echo frame followed by one data frame, as one read (rust-libp2p does not wait)
    let mut ba = Vec::new();
    let _ = b.poll_transmit(&mut ba);
    let echo_len = ba.len();
    let (Step::AwaitEcho(keyed) | Step::Done(Some(keyed))) = &mut b.step else {
        panic!("b should have its keys");
    };
    keyed.send.encrypt_to_vec(b"early", &mut ba).unwrap();
    let n = a.handle_input(&ba).unwrap();
    assert_eq!(n, echo_len, "the data frame belongs to the session");
    let mut sa = a.into_session().unwrap();
    let mut plain = sa.take_early_plaintext();
    sa.recv().handle_input(&ba[n..], &mut plain).unwrap();
    assert_eq!(plain, b"early");
}
