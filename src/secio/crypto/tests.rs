use super::*;

/// The spec's `P_hash` written out plainly, independent of [`Stretcher`].
fn reference_p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], len: usize) -> Vec<u8> {
    let keyed = <M as KeyInit>::new_from_slice(secret).unwrap();
    let mut a = keyed
        .clone()
        .chain_update(KEY_EXPANSION)
        .finalize()
        .into_bytes()
        .to_vec();
    let mut out = Vec::new();
    while out.len() < len {
        let b = keyed
            .clone()
            .chain_update(&a)
            .chain_update(KEY_EXPANSION)
            .finalize();
        out.extend_from_slice(&b.into_bytes());
        a = keyed
            .clone()
            .chain_update(&a)
            .finalize()
            .into_bytes()
            .to_vec();
    }
    out.truncate(len);
    out
}

#[test]
fn stretch_layout_and_lengths() {
    for (hash, cipher) in [
        (Hash::Sha256, Cipher::Aes128),
        (Hash::Sha256, Cipher::Aes256),
        (Hash::Sha512, Cipher::Aes128),
        (Hash::Sha512, Cipher::TwofishCtr),
    ] {
        // 66 bytes: a P-521 secret, longer than SHA-256's block, so HMAC hashes it
        for secret in [&b"shared secret"[..], &[7u8; 66][..]] {
            let (k1, k2) = stretch(hash, cipher, secret);
            let key_len = cipher.key_len();
            let half = IV_LEN + key_len + MAC_KEY_LEN;
            let all = match hash {
                Hash::Sha256 => reference_p_hash::<Hmac<Sha256>>(secret, 2 * half),
                Hash::Sha512 => reference_p_hash::<Hmac<Sha512>>(secret, 2 * half),
            };
            for (k, at) in [(&k1, 0), (&k2, half)] {
                assert_eq!(&all[at..at + IV_LEN], &k.iv[..]);
                assert_eq!(&all[at + IV_LEN..at + IV_LEN + key_len], &k.cipher_key[..]);
                assert_eq!(&all[at + IV_LEN + key_len..at + half], &k.mac_key[..]);
            }
        }
    }
}

#[test]
fn keying_through_the_block_is_hmac() {
    let msg = b"secio";
    for len in 0..300usize {
        let key: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
        let want = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        assert_eq!(
            keyed::<Sha256>(&key)
                .chain_update(msg)
                .finalize()
                .into_bytes(),
            want.chain_update(msg).finalize().into_bytes(),
            "SHA-256, {len}-byte key"
        );
        let want = <Hmac<Sha512> as KeyInit>::new_from_slice(&key).unwrap();
        assert_eq!(
            keyed::<Sha512>(&key)
                .chain_update(msg)
                .finalize()
                .into_bytes(),
            want.chain_update(msg).finalize().into_bytes(),
            "SHA-512, {len}-byte key"
        );
    }
}

#[test]
fn mac_len_is_the_tag_type_output() {
    for hash in [Hash::Sha256, Hash::Sha512] {
        assert_eq!(Tagger::new(hash, b"k").mac_len(), hash.mac_len());
    }
}

/// The types that hold SECIO's secrets wipe themselves when dropped (compile-time).
#[test]
fn secret_holders_are_zeroize_on_drop() {
    fn assert_zod<T: ZeroizeOnDrop>() {}
    // the seed, the DRBG blocks, the shared secret's copy, the cipher key
    assert_zod::<Zeroizing<[u8; 32]>>();
    assert_zod::<Zeroizing<Vec<u8>>>();
    assert_zod::<Zeroizing<[u8; MAC_KEY_LEN]>>();
    // HMAC outputs: DRBG blocks, the stretcher's A(i) and blocks
    assert_zod::<CtOutput<Hmac<Sha256>>>();
    assert_zod::<CtOutput<Hmac<Sha512>>>();
    // the keyed HMAC states' two inner hash states (sha2's `zeroize`, on for the crate)
    assert_zod::<<Sha256 as EagerHash>::Core>();
    assert_zod::<<Sha512 as EagerHash>::Core>();
    // a candidate scalar, the ephemeral scalar, the ECDH result
    assert_zod::<p256::SecretKey>();
    assert_zod::<p384::SecretKey>();
    assert_zod::<p521::SecretKey>();
    assert_zod::<EphemeralSecret>();
    assert_zod::<p256::ecdh::SharedSecret>();
    assert_zod::<p384::ecdh::SharedSecret>();
    assert_zod::<p521::ecdh::SharedSecret>();
    // the stretched keys and the session's key streams
    assert_zod::<DirectionKeys>();
    assert_zod::<KeyStream>();
    assert_zod::<ctr::Ctr128BE<aes::Aes128>>();
    assert_zod::<ctr::Ctr128BE<aes::Aes256>>();
    assert_zod::<ctr::Ctr128BE<twofish::Twofish>>();
}

#[test]
fn zeroize_reaches_the_ephemeral_scalar_and_the_keys() {
    for curve in [KeyExchange::P256, KeyExchange::P384, KeyExchange::P521] {
        let mut secret = EphemeralSecret::from_seed(curve, &[3u8; 32]).unwrap();
        let before = secret.public_point();
        secret.zeroize();
        // elliptic-curve wipes a NonZeroScalar to ONE: the public point is the generator
        let one = EphemeralSecret::from_scalar_one(curve);
        assert_ne!(secret.public_point(), before);
        assert_eq!(secret.public_point(), one.public_point());
    }
    let (mut keys, _) = stretch(Hash::Sha256, Cipher::Aes256, b"secret");
    assert!(keys.cipher_key.iter().any(|&b| b != 0));
    keys.zeroize();
    assert_eq!(keys.iv, [0u8; IV_LEN]);
    assert_eq!(*keys.mac_key, [0u8; MAC_KEY_LEN]);
    // Zeroizing<Vec> wipes the bytes, then clears the Vec
    assert!(keys.cipher_key.iter().all(|&b| b == 0));
}

impl EphemeralSecret {
    fn from_scalar_one(curve: KeyExchange) -> Self {
        match curve {
            KeyExchange::P256 => Self::P256(p256::NonZeroScalar::new(p256::Scalar::ONE).unwrap()),
            KeyExchange::P384 => Self::P384(p384::NonZeroScalar::new(p384::Scalar::ONE).unwrap()),
            KeyExchange::P521 => Self::P521(p521::NonZeroScalar::new(p521::Scalar::ONE).unwrap()),
        }
    }
}

#[test]
fn ecdh_agrees_on_every_curve() {
    for curve in [KeyExchange::P256, KeyExchange::P384, KeyExchange::P521] {
        let a = EphemeralSecret::from_seed(curve, &[1u8; 32]).unwrap();
        let b = EphemeralSecret::from_seed(curve, &[2u8; 32]).unwrap();
        let (pa, pb) = (a.public_point(), b.public_point());
        assert_eq!(pa.len(), curve.point_len());
        let s1 = a.agree(curve, &pb).unwrap();
        let s2 = b.agree(curve, &pa).unwrap();
        assert_eq!(s1, s2);
        assert_eq!(s1.len(), curve.field_len());
    }
}

#[test]
fn off_curve_and_compressed_points_are_refused() {
    let a = EphemeralSecret::from_seed(KeyExchange::P256, &[1u8; 32]).unwrap();
    let mut p = a.public_point();
    p[64] ^= 1;
    assert!(matches!(
        a.agree(KeyExchange::P256, &p),
        Err(Error::BadEphemeralKey { .. })
    ));
    let compressed = &a.public_point()[..33];
    assert!(a.agree(KeyExchange::P256, compressed).is_err());
    assert_eq!(
        a.agree(
            KeyExchange::P384,
            &EphemeralSecret::from_seed(KeyExchange::P384, &[2u8; 32])
                .unwrap()
                .public_point()
        ),
        Err(Error::Internal("ephemeral key on another curve"))
    );
}

#[test]
fn seal_then_verify_and_decrypt() {
    let (k, _) = stretch(Hash::Sha512, Cipher::TwofishCtr, b"s");
    let mut tx = DirectionCipher::new(Cipher::TwofishCtr, Hash::Sha512, &k).unwrap();
    let mut rx = DirectionCipher::new(Cipher::TwofishCtr, Hash::Sha512, &k).unwrap();
    for msg in [&b"hello"[..], b"second frame continues the key stream"] {
        let mut body = msg.to_vec();
        let mut tag = [0u8; 64];
        tx.seal(&mut body, &mut tag).unwrap();
        assert_ne!(&body[..], msg);
        assert!(rx.verify(&body, &tag));
        tag[0] ^= 1;
        assert!(!rx.verify(&body, &tag));
        rx.decrypt(&mut body);
        assert_eq!(&body[..], msg);
    }
}

#[test]
fn a_wrong_tag_slot_is_an_error_and_changes_nothing() {
    let (k, _) = stretch(Hash::Sha256, Cipher::Aes128, b"s");
    let mut tx = DirectionCipher::new(Cipher::Aes128, Hash::Sha256, &k).unwrap();
    let mut fresh = DirectionCipher::new(Cipher::Aes128, Hash::Sha256, &k).unwrap();
    let mut body = b"data".to_vec();
    let mut short = [0u8; 31];
    assert_eq!(
        tx.seal(&mut body, &mut short),
        Err(Error::Internal("MAC slot of the wrong length"))
    );
    assert_eq!(body, b"data", "nothing encrypted");
    // the key stream did not move
    let (mut a, mut b) = (body.clone(), body.clone());
    let (mut ta, mut tb) = ([0u8; 32], [0u8; 32]);
    tx.seal(&mut a, &mut ta).unwrap();
    fresh.seal(&mut b, &mut tb).unwrap();
    assert_eq!((a, ta), (b, tb));
}

#[test]
fn nonce_and_scalar_come_from_distinct_labels() {
    let seed = [5u8; 32];
    let nonce = nonce_from_seed(&seed).unwrap();
    assert_eq!(nonce, nonce_from_seed(&seed).unwrap());
    assert_ne!(&nonce[..], &expand(&seed, 0, 16)[..]);
    assert_ne!(nonce, nonce_from_seed(&[6u8; 32]).unwrap());
}
