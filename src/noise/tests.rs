//! Unit tests: the two machines against each other in memory.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::identity::{KeyType, Keypair, PeerId};

use crate::fuzzing::TestRng;

fn config(ty: KeyType, seed: u64, muxers: &[&str]) -> (Keypair, Config) {
    let mut rng = TestRng(seed);
    let id = Keypair::generate(ty, &mut rng).unwrap();
    let c = Config::new(&id, &mut rng)
        .unwrap()
        .with_stream_muxers(muxers.iter().copied());
    (id, c)
}

/// Moves bytes until both are complete or one fails; returns both results.
fn run(
    ic: &Config,
    rc: &Config,
    expected: Option<PeerId>,
) -> (Result<Session, Error>, Result<Session, Error>) {
    let mut i = Initiator::new(ic, expected, &mut TestRng(100)).unwrap();
    let mut r = Responder::new(rc, &mut TestRng(200)).unwrap();
    let (mut to_r, mut to_i) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let _ = i.poll_transmit(&mut to_r);
        match r.handle_input(&to_r) {
            Ok(n) => drop(to_r.drain(..n)),
            Err(e) => return (i.into_session().map_err(|i| i.error), Err(e)),
        }
        let _ = r.poll_transmit(&mut to_i);
        match i.handle_input(&to_i) {
            Ok(n) => drop(to_i.drain(..n)),
            Err(e) => return (Err(e), r.into_session().map_err(|i| i.error)),
        }
    }
    (
        i.into_session().map_err(|i| i.error),
        r.into_session().map_err(|r| r.error),
    )
}

#[test]
fn handshake_and_transport_for_every_key_type() {
    for ty in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa] {
        let (iid, ic) = config(ty, 1, &["/yamux/1.0.0", "/mplex/6.7.0"]);
        let (rid, rc) = config(ty, 2, &["/mplex/6.7.0", "/yamux/1.0.0"]);
        let (i, r) = run(&ic, &rc, Some(rid.peer_id()));
        let (mut i, mut r) = (i.unwrap(), r.unwrap());
        assert_eq!(i.remote_peer_id(), rid.peer_id());
        assert_eq!(r.remote_peer_id(), iid.peer_id());
        assert_eq!(i.handshake_hash(), r.handshake_hash());
        // the initiator's preference wins
        assert_eq!(i.muxer(), Some("/yamux/1.0.0"));
        assert_eq!(r.muxer(), Some("/yamux/1.0.0"));

        let mut wire = Vec::new();
        let data: Vec<u8> = (0..200_000u32).map(|x| x as u8).collect();
        i.send().encrypt_to_vec(&data, &mut wire).unwrap();
        let mut got = Vec::new();
        let mut buf = wire.clone();
        let mut at = 0;
        while let Some(opened) = r.recv().decrypt_in_place(&mut buf[at..]).unwrap() {
            got.extend_from_slice(opened.plaintext);
            at += opened.consumed;
        }
        assert_eq!(got, data);
        // the other direction uses the other key
        let mut back = vec![0u8; SendHalf::frame_len(5)];
        let n = r.send().encrypt(b"hello", &mut back).unwrap();
        let mut plain = vec![0u8; n];
        assert_eq!(i.recv().decrypt(&back, &mut plain).unwrap(), Some((n, 5)));
        assert_eq!(&plain[..5], b"hello");
    }
}

#[test]
fn wrong_expected_peer_is_refused_before_message_3() {
    let (_, ic) = config(KeyType::Ed25519, 1, &[]);
    let (_, rc) = config(KeyType::Ed25519, 2, &[]);
    let other = Keypair::generate(KeyType::Ed25519, &mut TestRng(9))
        .unwrap()
        .peer_id();
    let (i, r) = run(&ic, &rc, Some(other));
    assert!(matches!(i, Err(Error::UnexpectedPeer { .. })), "{i:?}");
    assert!(r.is_err());
}

#[test]
fn no_common_muxer_fails_and_no_list_means_none() {
    let (_, ic) = config(KeyType::Ed25519, 1, &["/yamux/1.0.0"]);
    let (_, rc) = config(KeyType::Ed25519, 2, &["/mplex/6.7.0"]);
    let (i, _) = run(&ic, &rc, None);
    assert!(matches!(i, Err(Error::NoCommonMuxer { .. })), "{i:?}");
    let (_, bare) = config(KeyType::Ed25519, 3, &[]);
    let (i, r) = run(&ic, &bare, None);
    assert_eq!(i.unwrap().muxer(), None);
    assert_eq!(r.unwrap().muxer(), None);
}

#[test]
fn tampered_frames_and_nonce_exhaustion_are_named() {
    let (_, ic) = config(KeyType::Ed25519, 1, &[]);
    let (_, rc) = config(KeyType::Ed25519, 2, &[]);
    let (i, r) = run(&ic, &rc, None);
    let (mut i, mut r) = (i.unwrap(), r.unwrap());
    let mut wire = Vec::new();
    i.send().encrypt_to_vec(b"payload", &mut wire).unwrap();
    wire[5] ^= 1;
    assert_eq!(r.recv().decrypt_in_place(&mut wire), Err(Error::Decrypt));
    // poisoned
    let mut ok = Vec::new();
    i.send().encrypt_to_vec(b"x", &mut ok).unwrap();
    assert_eq!(r.recv().decrypt_in_place(&mut ok), Err(Error::Decrypt));
    // too short to hold a tag
    let (i2, r2) = run(&ic, &rc, None);
    drop(i2);
    let mut r2 = r2.unwrap();
    assert_eq!(
        r2.recv().decrypt_in_place(&mut [0, 3, 1, 2, 3]),
        Err(Error::FrameTooShort { len: 3 })
    );
    // nonce exhaustion on receive: the reserved last nonce is never used
    let mut r3 = run(&ic, &rc, None).1.unwrap();
    r3.recv().set_nonce(u64::MAX);
    let mut frame = vec![0u8; 2 + 16];
    frame[1] = 16;
    assert_eq!(
        r3.recv().decrypt_in_place(&mut frame),
        Err(Error::NonceExhausted)
    );
    // nonce exhaustion on send
    i.send().set_nonce(u64::MAX - 1);
    let mut out = vec![0u8; 64];
    assert!(i.send().encrypt(b"a", &mut out).is_ok());
    assert_eq!(i.send().encrypt(b"a", &mut out), Err(Error::NonceExhausted));
    // a too-small buffer is a caller error that leaves the half usable
    let mut s = run(&ic, &rc, None).0.unwrap();
    assert_eq!(
        s.send().encrypt(b"abc", &mut [0u8; 4]),
        Err(Error::BufferTooSmall { required: 21 })
    );
    assert!(s.send().encrypt(b"abc", &mut [0u8; 21]).is_ok());
}

#[test]
fn same_seeds_give_the_same_bytes() {
    let transcript = || {
        let (_, ic) = config(KeyType::Ed25519, 1, &["/yamux/1.0.0"]);
        let mut i = Initiator::new(&ic, None, &mut TestRng(5)).unwrap();
        let mut out = Vec::new();
        let _ = i.poll_transmit(&mut out);
        out
    };
    assert_eq!(transcript(), transcript());
    assert_eq!(transcript().len(), 2 + 32);
}

#[test]
fn a_failed_handshake_wipes_its_noise_state() {
    let (_, ic) = config(KeyType::Ed25519, 1, &[]);
    let (_, rc) = config(KeyType::Ed25519, 2, &[]);
    let mut i = Initiator::new(&ic, None, &mut TestRng(100)).unwrap();
    let mut r = Responder::new(&rc, &mut TestRng(200)).unwrap();
    let mut wire = Vec::new();
    let _ = i.poll_transmit(&mut wire);
    assert_eq!(r.handle_input(&wire), Ok(wire.len()));
    let mut msg2 = Vec::new();
    let _ = r.poll_transmit(&mut msg2);
    let last = msg2.len() - 1;
    msg2[last] ^= 1;
    // before: the chaining key is live (message 1 written; no MixKey yet, so it is still
    // the protocol name, but `h` has moved on)
    assert_ne!(
        i.noise_state().symmetric().handshake_hash(),
        &[0; 32],
        "live state"
    );
    let err = i.handle_input(&msg2).unwrap_err();
    assert_eq!(
        err,
        Error::Handshake {
            message: 2,
            reason: "decryption failed".into()
        }
    );
    let state = i.noise_state().symmetric();
    assert_eq!(state.chaining_key(), &[0; 32]);
    assert_eq!(state.handshake_hash(), &[0; 32]);
    assert_eq!(state.cipher_key(), None);
    // poisoned: the same error, nothing sent, no event
    assert_eq!(i.handle_input(&msg2), Err(err));
    assert_eq!(i.poll_transmit(&mut Vec::new()), 0);
    assert_eq!(i.poll_event(), None);
}

#[test]
fn low_order_ephemeral_keys_are_refused() {
    let (_, ic) = config(KeyType::Ed25519, 1, &[]);
    let (_, rc) = config(KeyType::Ed25519, 2, &[]);
    // the responder's `ee` on an all-zero initiator key (a low-order point)
    let mut r = Responder::new(&rc, &mut TestRng(200)).unwrap();
    let mut msg1 = vec![0, 32];
    msg1.extend_from_slice(&[0; 32]);
    let low_order = |message| Error::Handshake {
        message,
        reason: "low-order DH public key".into(),
    };
    assert_eq!(r.handle_input(&msg1), Err(low_order(2)));
    assert_eq!(r.poll_transmit(&mut Vec::new()), 0);
    assert_eq!(r.noise_state().symmetric().handshake_hash(), &[0; 32]);
    // the initiator's `ee` on an all-zero responder key; the order-8 point
    // (RFC 7748's 0x..e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800) too
    let order8 = data_encoding::HEXLOWER
        .decode(b"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
        .unwrap();
    for key in [vec![0u8; 32], order8] {
        let mut i = Initiator::new(&ic, None, &mut TestRng(100)).unwrap();
        let mut msg2 = vec![0, 96];
        msg2.extend_from_slice(&key);
        msg2.extend_from_slice(&[0; 64]);
        assert_eq!(i.handle_input(&msg2), Err(low_order(2)));
    }
}

#[test]
fn no_common_muxer_error_stays_bounded() {
    use super::error::{REPORTED_MUXERS, REPORTED_MUXER_LEN};
    // a responder offering the most a message 2 can carry: 100 ids of 600 bytes (60 KB)
    let long: Vec<String> = (0..payload::MAX_MUXERS)
        .map(|n| alloc::format!("/{n:03}/{}é", "m".repeat(594)))
        .collect();
    let (_, ic) = config(KeyType::Ed25519, 1, &["/yamux/1.0.0"]);
    let (_, rc) = config(KeyType::Ed25519, 2, &[]);
    let rc = rc.with_stream_muxers(long.iter().cloned());
    let (i, _) = run(&ic, &rc, None);
    let err = i.unwrap_err();
    let Error::NoCommonMuxer {
        ours,
        theirs,
        theirs_omitted,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(ours, &["/yamux/1.0.0"]);
    assert_eq!(theirs.len(), REPORTED_MUXERS);
    assert_eq!(*theirs_omitted, payload::MAX_MUXERS - REPORTED_MUXERS);
    for (kept, offered) in theirs.iter().zip(&long) {
        assert!(kept.len() <= REPORTED_MUXER_LEN + '…'.len_utf8(), "{kept}");
        assert!(kept.ends_with('…'));
        assert!(offered.starts_with(kept.trim_end_matches('…')));
    }
    let held: usize = theirs.iter().map(String::capacity).sum();
    assert!(held <= REPORTED_MUXERS * (REPORTED_MUXER_LEN + 3), "{held}");
    let text = alloc::string::ToString::to_string(&err);
    assert!(text.starts_with("no common stream muxer: ours [\"/yamux/1.0.0\"], theirs [\"/000/mmm"));
    assert!(text.ends_with(" and 92 more"), "{text}");
    assert!(text.len() < 1024, "{}", text.len());
    // a short list is kept whole
    assert_eq!(
        Error::no_common_muxer(&["/a".into()], &["/b".into()]),
        Error::NoCommonMuxer {
            ours: vec!["/a".into()],
            theirs: vec!["/b".into()],
            theirs_omitted: 0
        }
    );
    // a cut never splits a character: 63 ASCII bytes, then a 2-byte one across byte 64
    let id = alloc::format!("{}é", "a".repeat(63));
    let Error::NoCommonMuxer { theirs, .. } = Error::no_common_muxer(&[], &[id]) else {
        unreachable!()
    };
    assert_eq!(theirs, [alloc::format!("{}…", "a".repeat(63))]);
}
