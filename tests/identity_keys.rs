//! Sign/verify for every key type, forged signatures, and every malformed-key class with
//! its named error.

use p2psec::identity::{Error, KeyType, Keypair, PublicKey};

#[path = "common/rng.rs"]
mod rng;
use rng::TestRng;

const TYPES: [KeyType; 3] = [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa];

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .unwrap()
}

#[test]
fn every_type_signs_verifies_and_rejects_forgeries() {
    let mut rng = TestRng(7);
    for ty in TYPES {
        let pair = Keypair::generate(ty, &mut rng).unwrap();
        let other = Keypair::generate(ty, &mut rng).unwrap();
        let public = pair.public();
        let msg = b"noise-libp2p-static-key:0123456789abcdef0123456789abcdef";
        let sig = pair.sign(msg).unwrap();
        assert!(public.verify(msg, &sig), "{ty}");
        // the same signature on another message, by another key, or with a flipped bit
        assert!(
            !public.verify(b"another message", &sig),
            "{ty}: other message"
        );
        assert!(!other.public().verify(msg, &sig), "{ty}: other key");
        let other_sig = other.sign(msg).unwrap();
        assert!(
            !public.verify(msg, &other_sig),
            "{ty}: signature by other key"
        );
        for i in [0, sig.len() / 2, sig.len() - 1] {
            let mut forged = sig.clone();
            forged[i] ^= 0x01;
            assert!(!public.verify(msg, &forged), "{ty}: bit flip at {i}");
        }
        assert!(!public.verify(msg, &[]), "{ty}: empty signature");
        // keys round-trip through both protobufs
        let decoded = Keypair::try_decode_protobuf(&pair.encode_protobuf()).unwrap();
        assert_eq!(decoded.public(), public);
        assert_eq!(
            PublicKey::try_decode_protobuf(&public.encode_protobuf()).unwrap(),
            public
        );
        assert_eq!(pair.peer_id(), public.to_peer_id());
    }
}

#[test]
fn the_same_seed_gives_the_same_keys() {
    for ty in TYPES {
        let a = Keypair::generate(ty, &mut TestRng(42)).unwrap();
        let b = Keypair::generate(ty, &mut TestRng(42)).unwrap();
        assert_eq!(a.public(), b.public());
    }
}

#[test]
fn peer_id_kind_follows_the_key_length() {
    let mut rng = TestRng(1);
    let ed = Keypair::generate(KeyType::Ed25519, &mut rng)
        .unwrap()
        .peer_id();
    let k1 = Keypair::generate(KeyType::Secp256k1, &mut rng)
        .unwrap()
        .peer_id();
    let ec = Keypair::generate(KeyType::Ecdsa, &mut rng)
        .unwrap()
        .peer_id();
    assert!(ed.to_base58().starts_with("12D3KooW"));
    assert!(ed.to_cid_string().starts_with("bafzaajaiaejc"));
    assert!(k1.to_base58().starts_with("16Uiu2HA"));
    assert!(k1.to_cid_string().starts_with("bafzaajiiaijcca"));
    assert!(ec.to_base58().starts_with("Qm"));
    assert!(ec.to_cid_string().starts_with("bafzbei"));
    assert!(ed.public_key().is_ok());
    assert!(k1.public_key().is_ok());
    assert_eq!(ec.public_key(), Err(Error::NoEmbeddedKey));
}

#[test]
fn secp256k1_high_s_signature_is_rejected() {
    let pair = Keypair::generate(KeyType::Secp256k1, &mut TestRng(3)).unwrap();
    let msg = b"high-s";
    let der = pair.sign(msg).unwrap();
    let sig = k256::ecdsa::Signature::from_der(&der).unwrap();
    // s' = n - s is the other valid-looking signature; BIP-62 forbids it
    let high = k256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
    let high_der = high.to_der();
    assert!(pair.public().verify(msg, &der));
    assert!(!pair.public().verify(msg, high_der.as_bytes()));
}

#[test]
fn malformed_public_keys_have_named_errors() {
    let ed_pub = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    let k1_pub = "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";
    let ec_pub = "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62";

    let mut trailing = hex(ed_pub);
    trailing.push(0);
    let short_ed = hex("0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2");
    let mut off_curve_k1 = hex(k1_pub);
    off_curve_k1[4] = 0x05; // 0x05 is no SEC1 point tag
                            // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p)
    let mut no_y_k1 = vec![0x08, 0x02, 0x12, 0x21, 0x02];
    no_y_k1.extend_from_slice(&[0u8; 31]);
    no_y_k1.push(5);
    let uncompressed_k1 = {
        let key = PublicKey::try_decode_protobuf(&hex(k1_pub)).unwrap();
        let PublicKey::Secp256k1(k) = key else {
            unreachable!()
        };
        let point = k256::PublicKey::from_sec1_bytes(&k.to_bytes()).unwrap();
        let mut v = vec![0x08, 0x02, 0x12, 0x41];
        v.extend_from_slice(
            k256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&point, false).as_bytes(),
        );
        v
    };
    // P-384 SPKI: a valid ECDSA key on a curve libp2p-rust cannot use
    let p384_spki = {
        let mut v = hex("3076301006072a8648ce3d020106052b81040022036200");
        v.push(0x04);
        v.extend_from_slice(&[0x11; 96]);
        let mut pb = vec![0x08, 0x03, 0x12, 0x78];
        pb.extend_from_slice(&v);
        pb
    };
    let mut bad_point_ec = hex(ec_pub);
    let last = bad_point_ec.len() - 1;
    bad_point_ec[last] ^= 0x01;
    let mut garbage_der_ec = hex(ec_pub);
    garbage_der_ec[4] = 0x31; // SEQUENCE tag -> SET

    type Case = (&'static str, Vec<u8>, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        ("trailing bytes", trailing, |e| {
            matches!(e, Error::TrailingBytes { len: 1 })
        }),
        ("unknown key type", hex("0809120100"), |e| {
            matches!(e, Error::UnknownKeyType(9))
        }),
        ("missing Data", hex("0801"), |e| {
            matches!(e, Error::MissingField { field: "Data" })
        }),
        ("missing Type", hex("12020102"), |e| {
            matches!(e, Error::MissingField { field: "Type" })
        }),
        ("short Ed25519", short_ed, |e| {
            matches!(e, Error::InvalidKeyLength { len: 31, .. })
        }),
        ("bad SEC1 tag", off_curve_k1, |e| {
            matches!(
                e,
                Error::InvalidPoint {
                    key_type: "Secp256k1"
                }
            )
        }),
        ("x not on secp256k1", no_y_k1, |e| {
            matches!(
                e,
                Error::InvalidPoint {
                    key_type: "Secp256k1"
                }
            )
        }),
        ("uncompressed secp256k1", uncompressed_k1, |e| {
            matches!(
                e,
                Error::NonCanonicalKey {
                    key_type: "Secp256k1",
                    ..
                }
            )
        }),
        ("P-384 ECDSA", p384_spki, |e| {
            matches!(e, Error::UnsupportedCurve)
        }),
        ("ECDSA point off curve", bad_point_ec, |e| {
            matches!(e, Error::InvalidPoint { key_type: "ECDSA" })
        }),
        ("ECDSA garbage DER", garbage_der_ec, |e| {
            matches!(
                e,
                Error::InvalidDer {
                    key_type: "ECDSA",
                    ..
                }
            )
        }),
    ];
    for (what, bytes, want) in cases {
        let err = PublicKey::try_decode_protobuf(&bytes).expect_err(what);
        assert!(want(&err), "{what}: got {err:?}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn malformed_private_keys_have_named_errors() {
    let ed_priv = hex("080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
    let mut mismatched = ed_priv.clone();
    let last = mismatched.len() - 1;
    mismatched[last] ^= 1;
    // legacy 96-byte form: seed, public, public
    let mut legacy = vec![0x08, 0x01, 0x12, 0x60];
    legacy.extend_from_slice(&ed_priv[4..]);
    legacy.extend_from_slice(&ed_priv[36..]);
    let legacy_pair = Keypair::try_decode_protobuf(&legacy).expect("legacy 96-byte Ed25519");
    assert_eq!(
        *legacy_pair.encode_protobuf(),
        ed_priv,
        "re-encoded in the 64-byte form"
    );
    let mut legacy_bad = legacy.clone();
    let last = legacy_bad.len() - 1;
    legacy_bad[last] ^= 1;
    let zero_k1 = {
        let mut v = vec![0x08, 0x02, 0x12, 0x20];
        v.extend_from_slice(&[0u8; 32]);
        v
    };
    let order_k1 = {
        let mut v = vec![0x08, 0x02, 0x12, 0x20];
        v.extend_from_slice(&hex(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        ));
        v
    };
    for (what, bytes, want) in [
        (
            "ed25519 public half mismatch",
            mismatched,
            Error::KeyPairMismatch,
        ),
        ("legacy copies differ", legacy_bad, Error::KeyPairMismatch),
        (
            "zero scalar",
            zero_k1,
            Error::InvalidScalar {
                key_type: "Secp256k1",
            },
        ),
        (
            "scalar = order",
            order_k1,
            Error::InvalidScalar {
                key_type: "Secp256k1",
            },
        ),
    ] {
        assert_eq!(
            Keypair::try_decode_protobuf(&bytes).err(),
            Some(want),
            "{what}"
        );
    }
}

#[test]
fn key_debug_never_prints_the_secret() {
    let pair = Keypair::generate(KeyType::Ed25519, &mut TestRng(9)).unwrap();
    let secret_hex: String = pair.encode_protobuf()[4..36]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let shown = format!("{pair:?}");
    assert!(!shown.contains(&secret_hex));
}
