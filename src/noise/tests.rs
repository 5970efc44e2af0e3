//! Unit tests: the two machines against each other in memory.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::identity::{KeyType, Keypair, PeerId};

/// Deterministic RNG (splitmix64) so every run is the same handshake.
pub(crate) struct TestRng(pub(crate) u64);

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
            Err(e) => return (i.into_session(), Err(e)),
        }
        let _ = r.poll_transmit(&mut to_i);
        match i.handle_input(&to_i) {
            Ok(n) => drop(to_i.drain(..n)),
            Err(e) => return (Err(e), r.into_session()),
        }
    }
    (i.into_session(), r.into_session())
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
