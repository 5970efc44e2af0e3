//! The certificate's unit tests: the shape of ours, determinism in the RNG, the key
//! loading into the backend, SignedKey strictness.

use alloc::vec;

use super::*;
use crate::identity::KeyType;

use crate::fuzzing::TestRng;

const NOW: u64 = 1_750_000_000;

fn generate(seed: u64) -> (Keypair, Certificate) {
    let mut rng = TestRng(seed);
    let id = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let cert = Certificate::generate(&id, NOW, &mut rng).unwrap();
    (id, cert)
}

#[test]
fn extension_oid_bytes_match_the_arcs() {
    // 1.3 -> 43, then base-128 arcs; 53594 = 3*128^2 + 34*128 + 90
    assert_eq!(EXTENSION_OID_DER[0], 40 + 3);
    assert_eq!(&EXTENSION_OID_DER[5..8], &[0x83, 0xa2, 0x5a]);
    assert_eq!(3 * 128 * 128 + 34 * 128 + 90, EXTENSION_OID[6]);
    let oid = x509_parser::oid_registry::Oid::new(EXTENSION_OID_DER.into());
    assert_eq!(oid.to_id_string(), super::super::EXTENSION_OID_STR);
}

#[test]
fn generated_certificate_has_the_promised_shape() {
    let (id, cert) = generate(1);
    let (_, x509) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
    let tbs = &x509.tbs_certificate;
    assert_eq!(tbs.validity.not_before.timestamp(), (NOW - 3600) as i64);
    assert_eq!(
        tbs.validity.not_after.timestamp(),
        (NOW + VALIDITY_SECS) as i64
    );
    assert_eq!(cert.not_before(), NOW - 3600);
    assert_eq!(cert.not_after(), NOW + VALIDITY_SECS);
    let serial = tbs.raw_serial();
    assert!(!serial.is_empty() && serial.len() <= 9 && serial[0] & 0x80 == 0);
    assert_eq!(tbs.subject, tbs.issuer);
    assert!(tbs.issuer_uid.is_none() && tbs.subject_uid.is_none());
    let exts = tbs.extensions();
    assert_eq!(exts.len(), 1);
    assert!(exts[0].critical);
    assert_eq!(exts[0].oid.as_bytes(), EXTENSION_OID_DER);
    let (pk, _) = decode_signed_key(exts[0].value).unwrap();
    assert_eq!(pk, &id.public().encode_protobuf()[..]);
    assert_eq!(
        x509.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.10045.4.3.2"
    );
    let v = verify(cert.der(), NOW).unwrap();
    assert_eq!(v.peer_id, id.peer_id());
    assert_eq!(v.signature_algorithm, SignatureAlgorithm::EcdsaP256Sha256);
    assert_eq!(v.spki_der, tbs.subject_pki.raw);
    assert!(format!("{cert:?}").contains("der_len"));
    assert!(!format!("{cert:?}").contains("private"));
}

#[test]
fn generation_is_deterministic_in_the_rng() {
    let (_, a) = generate(5);
    let (_, b) = generate(5);
    let (_, c) = generate(6);
    assert_eq!(a.der(), b.der());
    assert_eq!(a.private_key_pkcs8_der(), b.private_key_pkcs8_der());
    assert_ne!(a.der(), c.der());
}

#[test]
fn private_key_loads_into_aws_lc_and_matches_the_certificate() {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    let (_, cert) = generate(2);
    let pair = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        cert.private_key_pkcs8_der(),
    )
    .unwrap();
    let v = verify(cert.der(), NOW).unwrap();
    let spki = Spki::split(&v.spki_der).unwrap();
    assert_eq!(pair.public_key().as_ref(), spki.key);
    // a CertificateVerify made with that key verifies under the pinned scheme only
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = pair.sign(&rng, b"transcript").unwrap();
    let scheme = SignatureScheme::EcdsaNistp256Sha256;
    verify_tls13_signature(&v, scheme, b"transcript", sig.as_ref()).unwrap();
    assert_eq!(
        verify_tls13_signature(&v, scheme, b"other", sig.as_ref()),
        Err(Error::HandshakeSignature)
    );
    assert_eq!(
        verify_tls13_signature(&v, SignatureScheme::Ed25519, b"transcript", sig.as_ref()),
        Err(Error::SignatureSchemeMismatch {
            certificate: SignatureAlgorithm::EcdsaP256Sha256,
            scheme: SignatureScheme::Ed25519,
        })
    );
}

#[test]
fn time_out_of_range_is_a_generation_error() {
    let mut rng = TestRng(3);
    let id = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    for now in [u64::MAX, u64::MAX - VALIDITY_SECS, 1 << 40] {
        assert!(matches!(
            Certificate::generate(&id, now, &mut rng),
            Err(Error::CertificateGeneration { .. })
        ));
    }
    // the first second of 1970 still works (notBefore saturates at 0)
    let cert = Certificate::generate(&id, 0, &mut rng).unwrap();
    assert_eq!(cert.not_before(), 0);
    verify(cert.der(), 0).unwrap();
}

#[test]
fn signed_key_round_trip_and_strictness() {
    let long = vec![7u8; 300];
    let enc = encode_signed_key(&long, b"sig");
    assert_eq!(decode_signed_key(&enc).unwrap(), (&long[..], &b"sig"[..]));
    let mut trailing = enc.clone();
    trailing.push(0);
    assert_eq!(
        decode_signed_key(&trailing),
        Err(Error::SignedKeyDer {
            reason: "bytes after SignedKey"
        })
    );
    // three fields
    let mut fields = Vec::new();
    for f in [&b"a"[..], b"b", b"c"] {
        der::write(der::OCTET_STRING, f, &mut fields);
    }
    let mut three = Vec::new();
    der::write(der::SEQUENCE, &fields, &mut three);
    assert_eq!(
        decode_signed_key(&three),
        Err(Error::SignedKeyDer {
            reason: "extra fields in SignedKey"
        })
    );
    // one field
    assert!(decode_signed_key(&[0x30, 0x03, 0x04, 0x01, 0x00]).is_err());
}
