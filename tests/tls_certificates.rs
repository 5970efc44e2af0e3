//! The libp2p TLS certificate: the spec's vectors (vectors/tls/), generate -> verify round
//! trips, certificates from rust-libp2p's `libp2p-tls` both ways, one hostile certificate
//! per rule (each refused with its named error), and random corruption.
#![cfg(feature = "tls")]

use p256::elliptic_curve::Generate;
use p256::pkcs8::EncodePrivateKey;
use p2psec::identity::{self, KeyType, Keypair, PeerId};
use p2psec::tls::certificate::{
    self, Certificate, SignatureAlgorithm, MAX_CERTIFICATE_LEN, NOT_BEFORE_SKEW_SECS, VALIDITY_SECS,
};
use p2psec::tls::{Error, SignatureScheme};
use proptest::prelude::*;
use serde::Deserialize;

/// A fixed "now" (2025-06-15), inside every certificate built here unless a test moves it.
const NOW: u64 = 1_750_000_000;

// ---- deterministic randomness ----

#[path = "common/rng.rs"]
mod rng;
use rng::TestRng;

fn identity(ty: KeyType, seed: u64) -> Keypair {
    Keypair::generate(ty, &mut TestRng(seed)).unwrap()
}

// ---- (a) the spec's vectors ----

#[derive(Deserialize)]
struct Vector {
    file: String,
    expected_result: String,
    expected_peer_id: Option<String>,
    derived_not_in_spec: Derived,
}

#[derive(Deserialize)]
struct Derived {
    host_key_type: u64,
    not_before: String,
}

fn read(name: &str) -> String {
    let path = format!("{}/vectors/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.trim().as_bytes())
        .expect("vector hex")
}

#[test]
fn spec_vectors() {
    let vectors: Vec<Vector> = serde_json::from_str(&read("vectors.json")).unwrap();
    assert_eq!(vectors.len(), 4);
    for v in vectors {
        let der = hex(&read(&v.file));
        let result = certificate::verify(&der, NOW);
        match v.expected_result.as_str() {
            "accept" => {
                let ok = result.unwrap_or_else(|e| panic!("{}: {e}", v.file));
                let expected: PeerId = v.expected_peer_id.unwrap().parse().unwrap();
                assert_eq!(ok.peer_id, expected, "{}", v.file);
                assert_eq!(
                    ok.public_key.key_type().to_u64(),
                    v.derived_not_in_spec.host_key_type
                );
                assert_eq!(ok.public_key.to_peer_id(), expected);
                assert_eq!(ok.signature_algorithm, SignatureAlgorithm::EcdsaP256Sha256);
                let chained = certificate::verify_chain(&[&der], NOW, Some(expected)).unwrap();
                assert_eq!(chained, ok);
                // valid 1975-01-01T13:00:00Z .. 4096: "now" in 1970 is too early
                assert_eq!(
                    v.derived_not_in_spec.not_before,
                    "1975-01-01T13:00:00+00:00"
                );
                assert_eq!(
                    certificate::verify(&der, 0),
                    Err(Error::NotYetValid {
                        now: 0,
                        not_before: 157_813_200
                    })
                );
            }
            "reject" => assert_eq!(result, Err(Error::ExtensionSignature), "{}", v.file),
            other => panic!("unknown expectation {other}"),
        }
    }
}

// ---- (b) generate -> verify ----

#[test]
fn round_trip_for_every_identity_type() {
    for (i, ty) in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa]
        .into_iter()
        .enumerate()
    {
        let id = identity(ty, 10 + i as u64);
        let cert = Certificate::generate(&id, NOW, &mut TestRng(20 + i as u64)).unwrap();
        let v = certificate::verify_chain(&[cert.der()], NOW, Some(id.peer_id())).unwrap();
        assert_eq!(v.peer_id, id.peer_id(), "{ty}");
        assert_eq!(v.public_key, id.public(), "{ty}");
        assert_eq!(v.signature_algorithm, SignatureAlgorithm::EcdsaP256Sha256);
        // the listener does not know whom to expect
        assert_eq!(certificate::verify_chain(&[cert.der()], NOW, None), Ok(v));
    }
}

#[test]
fn validity_window_edges() {
    let id = identity(KeyType::Ed25519, 1);
    let cert = Certificate::generate(&id, NOW, &mut TestRng(2)).unwrap();
    let (nb, na) = (cert.not_before(), cert.not_after());
    assert_eq!(nb, NOW - NOT_BEFORE_SKEW_SECS);
    assert_eq!(na, NOW + VALIDITY_SECS);
    assert!(certificate::verify(cert.der(), nb).is_ok());
    assert!(certificate::verify(cert.der(), na).is_ok());
    assert_eq!(
        certificate::verify(cert.der(), nb - 1),
        Err(Error::NotYetValid {
            now: nb - 1,
            not_before: nb as i64
        })
    );
    assert_eq!(
        certificate::verify(cert.der(), na + 1),
        Err(Error::Expired {
            now: na + 1,
            not_after: na as i64
        })
    );
}

#[test]
fn wrong_expected_peer_is_refused() {
    let id = identity(KeyType::Ed25519, 3);
    let other = identity(KeyType::Ed25519, 4).peer_id();
    let cert = Certificate::generate(&id, NOW, &mut TestRng(5)).unwrap();
    assert_eq!(
        certificate::verify_chain(&[cert.der()], NOW, Some(other)),
        Err(Error::UnexpectedPeer {
            expected: other,
            got: id.peer_id()
        })
    );
}

#[test]
fn certificate_verify_signature_is_pinned_to_the_certificate_key() {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    let id = identity(KeyType::Secp256k1, 6);
    let cert = Certificate::generate(&id, NOW, &mut TestRng(7)).unwrap();
    let v = certificate::verify(cert.der(), NOW).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        cert.private_key_pkcs8_der(),
    )
    .unwrap();
    let message = [b' '; 98];
    let sig = key
        .sign(&aws_lc_rs::rand::SystemRandom::new(), &message)
        .unwrap();
    let scheme = SignatureScheme::EcdsaNistp256Sha256;
    assert_eq!(
        certificate::verify_tls13_signature(&v, scheme, &message, sig.as_ref()),
        Ok(())
    );
    assert_eq!(
        certificate::verify_tls13_signature(&v, scheme, &message[1..], sig.as_ref()),
        Err(Error::HandshakeSignature)
    );
    assert_eq!(
        certificate::verify_tls13_signature(
            &v,
            SignatureScheme::EcdsaNistp384Sha384,
            &message,
            sig.as_ref()
        ),
        Err(Error::SignatureSchemeMismatch {
            certificate: SignatureAlgorithm::EcdsaP256Sha256,
            scheme: SignatureScheme::EcdsaNistp384Sha384
        })
    );
    // a signature by another certificate key
    let other = Certificate::generate(&id, NOW, &mut TestRng(8)).unwrap();
    let other_key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        other.private_key_pkcs8_der(),
    )
    .unwrap();
    let other_sig = other_key
        .sign(&aws_lc_rs::rand::SystemRandom::new(), &message)
        .unwrap();
    assert_eq!(
        certificate::verify_tls13_signature(&v, scheme, &message, other_sig.as_ref()),
        Err(Error::HandshakeSignature)
    );
}

// ---- rust-libp2p's certificates, both ways ----

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn theirs(id: &Keypair) -> libp2p_identity::Keypair {
    libp2p_identity::Keypair::from_protobuf_encoding(&id.encode_protobuf()).unwrap()
}

#[test]
fn rust_libp2p_accepts_ours_and_we_accept_theirs() {
    for (i, ty) in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa]
        .into_iter()
        .enumerate()
    {
        let id = identity(ty, 30 + i as u64);
        let their_id = theirs(&id);

        // ours, read by libp2p-tls (which checks validity against the real clock)
        let now = unix_now();
        let ours = Certificate::generate(&id, now, &mut TestRng(40 + i as u64)).unwrap();
        let ours_der = rustls::pki_types::CertificateDer::from(ours.der());
        let parsed = libp2p_tls::certificate::parse(&ours_der).unwrap();
        assert_eq!(parsed.peer_id().to_bytes(), id.peer_id().as_bytes(), "{ty}");

        // theirs, read by us
        let (their_der, _) = libp2p_tls::certificate::generate(&their_id).unwrap();
        let v = certificate::verify(their_der.as_ref(), NOW).unwrap();
        assert_eq!(v.peer_id, id.peer_id(), "{ty}");
        assert_eq!(v.signature_algorithm, SignatureAlgorithm::EcdsaP256Sha256);
    }
}

// ---- (c) hostile certificates ----

/// DER tag-length-value with a minimal length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The elements of a DER sequence's contents as (tag, contents) (test input only).
fn elements(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let tag = bytes[0];
        let (len, header) = match bytes[1] {
            l if l < 0x80 => (l as usize, 2),
            l => {
                let n = (l & 0x7f) as usize;
                let len = bytes[2..2 + n]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | b as usize);
                (len, 2 + n)
            }
        };
        out.push((tag, bytes[header..header + len].to_vec()));
        bytes = &bytes[header + len..];
    }
    out
}

fn encode(elements: &[(u8, Vec<u8>)]) -> Vec<u8> {
    elements.iter().flat_map(|(t, c)| tlv(*t, c)).collect()
}

/// A certificate split into its tbsCertificate fields and the outer signatureAlgorithm.
fn split(der: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
    let outer = elements(der);
    let parts = elements(&outer[0].1);
    (elements(&parts[0].1), tlv(0x30, &parts[1].1))
}

/// Reassembles and re-signs a certificate from edited parts.
fn assemble(
    tbs_fields: &[(u8, Vec<u8>)],
    signature_alg: &[u8],
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let tbs = tlv(0x30, &encode(tbs_fields));
    let mut bits = vec![0];
    bits.extend_from_slice(&sign(&tbs));
    let mut content = tbs;
    content.extend_from_slice(signature_alg);
    content.extend_from_slice(&tlv(0x03, &bits));
    tlv(0x30, &content)
}

fn signed_key(public_key: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut fields = tlv(0x04, public_key);
    fields.extend_from_slice(&tlv(0x04, signature));
    tlv(0x30, &fields)
}

fn host_signature(id: &Keypair, spki: &[u8]) -> Vec<u8> {
    id.sign(&[&b"libp2p-tls-handshake:"[..], spki].concat())
        .unwrap()
}

/// An identity and a P-256 certificate key (from the test RNG), to build certificates with
/// rcgen that break one rule each.
struct Hostile {
    id: Keypair,
    p256: p256::ecdsa::SigningKey,
    key: rcgen::KeyPair,
}

impl Hostile {
    fn new(seed: u64) -> Self {
        let mut rng = TestRng(seed);
        let id = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
        let p256 = p256::ecdsa::SigningKey::generate_from_rng(&mut rng);
        let pkcs8 = p256.to_pkcs8_der().unwrap();
        let key = rcgen::KeyPair::try_from(pkcs8.as_bytes()).unwrap();
        Self { id, p256, key }
    }

    fn spki(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.key)
    }

    fn extension_with(&self, value: Vec<u8>) -> rcgen::CustomExtension {
        rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 53594, 1, 1], value)
    }

    /// A correct libp2p extension (non-critical, as go-libp2p writes it).
    fn extension(&self) -> rcgen::CustomExtension {
        let pk = self.id.public().encode_protobuf();
        self.extension_with(signed_key(&pk, &host_signature(&self.id, &self.spki())))
    }

    /// Default rcgen parameters (valid 1975..4096) and a correct extension.
    fn params(&self) -> rcgen::CertificateParams {
        let mut params = rcgen::CertificateParams::default();
        params.custom_extensions.push(self.extension());
        params
    }

    fn sign(&self, params: &rcgen::CertificateParams) -> Vec<u8> {
        params.self_signed(&self.key).unwrap().der().to_vec()
    }

    fn resign(&self, tbs: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = self.p256.sign(tbs);
        sig.to_der().as_bytes().to_vec()
    }

    fn valid(&self) -> Vec<u8> {
        self.sign(&self.params())
    }
}

#[test]
fn hostile_baseline_is_accepted() {
    let h = Hostile::new(100);
    let v = certificate::verify(&h.valid(), NOW).unwrap();
    assert_eq!(v.peer_id, h.id.peer_id());
    // and survives being taken apart and put back together by the test helpers
    let (tbs, alg) = split(&h.valid());
    let again = assemble(&tbs, &alg, |t| h.resign(t));
    assert_eq!(certificate::verify(&again, NOW), Ok(v));
}

#[test]
fn expired() {
    let h = Hostile::new(101);
    let mut params = h.params();
    params.not_before = rcgen::date_time_ymd(1999, 1, 1);
    params.not_after = rcgen::date_time_ymd(2000, 1, 1);
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::Expired {
            now: NOW,
            not_after: 946_684_800
        })
    );
}

#[test]
fn not_yet_valid() {
    let h = Hostile::new(102);
    let mut params = h.params();
    params.not_before = rcgen::date_time_ymd(2100, 1, 1);
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::NotYetValid {
            now: NOW,
            not_before: 4_102_444_800
        })
    );
}

#[test]
fn two_certificates_in_the_chain() {
    let h = Hostile::new(103);
    let cert = h.valid();
    assert_eq!(
        certificate::verify_chain(&[&cert, &cert], NOW, None),
        Err(Error::ChainLength { len: 2 })
    );
}

#[test]
fn zero_certificates() {
    assert_eq!(
        certificate::verify_chain(&[], NOW, None),
        Err(Error::ChainLength { len: 0 })
    );
}

#[test]
fn missing_extension() {
    let h = Hostile::new(104);
    let mut params = h.params();
    params.custom_extensions.clear();
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::MissingExtension)
    );
}

#[test]
fn duplicated_extension() {
    let h = Hostile::new(105);
    let mut params = h.params();
    params.custom_extensions.push(h.extension());
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::DuplicateExtension)
    );
}

#[test]
fn extension_signed_by_another_key() {
    let h = Hostile::new(106);
    let other = identity(KeyType::Ed25519, 107);
    let pk = h.id.public().encode_protobuf();
    let mut params = h.params();
    params.custom_extensions =
        vec![h.extension_with(signed_key(&pk, &host_signature(&other, &h.spki())))];
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::ExtensionSignature)
    );
}

#[test]
fn extension_signature_over_another_certificate_key() {
    let h = Hostile::new(108);
    let other = Hostile::new(109);
    let pk = h.id.public().encode_protobuf();
    let mut params = h.params();
    params.custom_extensions =
        vec![h.extension_with(signed_key(&pk, &host_signature(&h.id, &other.spki())))];
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::ExtensionSignature)
    );
}

#[test]
fn extension_key_type_unknown() {
    let h = Hostile::new(110);
    let mut pk = vec![0x08, 0x09, 0x12, 0x20];
    pk.extend_from_slice(&[7; 32]);
    let mut params = h.params();
    params.custom_extensions = vec![h.extension_with(signed_key(&pk, &[1; 64]))];
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::HostKey(identity::Error::UnknownKeyType(9)))
    );
}

#[cfg(not(feature = "rsa"))]
#[test]
fn extension_key_type_rsa_without_the_feature() {
    let h = Hostile::new(111);
    let mut pk = vec![0x08, 0x00, 0x12, 0x20];
    pk.extend_from_slice(&[7; 32]);
    let mut params = h.params();
    params.custom_extensions = vec![h.extension_with(signed_key(&pk, &[1; 64]))];
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::HostKey(identity::Error::UnsupportedKeyType("RSA")))
    );
}

#[test]
fn extension_value_not_a_signed_key() {
    let h = Hostile::new(112);
    let pk = h.id.public().encode_protobuf();
    let sig = host_signature(&h.id, &h.spki());
    let mut trailing = signed_key(&pk, &sig);
    trailing.push(0);
    for (value, reason) in [
        (b"garbage".to_vec(), "unexpected tag"),
        (trailing, "bytes after SignedKey"),
        (tlv(0x30, &tlv(0x04, &pk)), "truncated: tag"),
    ] {
        let mut params = h.params();
        params.custom_extensions = vec![h.extension_with(value)];
        assert_eq!(
            certificate::verify(&h.sign(&params), NOW),
            Err(Error::SignedKeyDer { reason })
        );
    }
}

#[test]
fn self_signature_broken() {
    let h = Hostile::new(113);
    let mut cert = h.valid();
    // the last byte is the end of the ECDSA signature's `s`: still DER, no longer valid
    *cert.last_mut().unwrap() ^= 0x01;
    assert_eq!(certificate::verify(&cert, NOW), Err(Error::SelfSignature));
}

#[test]
fn self_signature_by_another_key() {
    let h = Hostile::new(114);
    let other = Hostile::new(115);
    let (tbs, alg) = split(&h.valid());
    let cert = assemble(&tbs, &alg, |t| other.resign(t));
    assert_eq!(certificate::verify(&cert, NOW), Err(Error::SelfSignature));
}

#[test]
fn unknown_critical_extension() {
    let h = Hostile::new(116);
    let mut params = h.params();
    let mut ext =
        rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![5, 0]);
    ext.set_criticality(true);
    params.custom_extensions.push(ext);
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::UnknownCriticalExtension {
            oid: "1.3.6.1.4.1.99999.1".into()
        })
    );
}

#[test]
fn unknown_non_critical_extensions_are_ignored() {
    let h = Hostile::new(117);
    let mut params = h.params();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 1],
            vec![5, 0],
        ));
    // a well-known extension, non-critical, is not processed either
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let v = certificate::verify(&h.sign(&params), NOW).unwrap();
    assert_eq!(v.peer_id, h.id.peer_id());
}

#[test]
fn critical_key_usage_is_an_unknown_critical_extension() {
    // rcgen marks keyUsage critical (RFC 5280's SHOULD). p2psec processes no keyUsage, so
    // it is unknown to it, as to rust-libp2p (go would accept it; no libp2p implementation
    // writes one).
    let h = Hostile::new(130);
    let mut params = h.params();
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    assert_eq!(
        certificate::verify(&h.sign(&params), NOW),
        Err(Error::UnknownCriticalExtension {
            oid: "2.5.29.15".into()
        })
    );
}

#[test]
fn unique_ids_present() {
    let h = Hostile::new(118);
    let (tbs, alg) = split(&h.valid());
    // tbsCertificate: version, serial, signature, issuer, validity, subject, spki, [3] exts
    for (tag, field) in [(0x81, "issuerUniqueID"), (0x82, "subjectUniqueID")] {
        let mut edited = tbs.clone();
        edited.insert(7, (tag, vec![0x00, 0xaa]));
        let cert = assemble(&edited, &alg, |t| h.resign(t));
        assert_eq!(
            certificate::verify(&cert, NOW),
            Err(Error::UniqueIdPresent { field })
        );
    }
}

#[test]
fn version_other_than_v3() {
    let h = Hostile::new(133);
    let (mut tbs, alg) = split(&h.valid());
    for version in [0u8, 1, 3] {
        tbs[0] = (0xa0, vec![0x02, 0x01, version]);
        let cert = assemble(&tbs, &alg, |t| h.resign(t));
        assert_eq!(
            certificate::verify(&cert, NOW),
            Err(Error::CertificateDer {
                reason: "not an X.509 v3 certificate".into()
            }),
            "version {version}"
        );
    }
}

#[test]
fn inner_and_outer_signature_algorithms_differ() {
    let h = Hostile::new(119);
    let (tbs, _) = split(&h.valid());
    // ecdsa-with-SHA384 outside, ecdsa-with-SHA256 inside
    let sha384 = tlv(
        0x30,
        &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03]),
    );
    let cert = assemble(&tbs, &sha384, |t| h.resign(t));
    assert_eq!(
        certificate::verify(&cert, NOW),
        Err(Error::SignatureAlgorithmMismatch)
    );
}

/// A certificate with a libp2p extension over `key` (any rcgen key type).
fn with_key(key: &rcgen::KeyPair, seed: u64) -> (Keypair, Vec<u8>) {
    let id = identity(KeyType::Ed25519, seed);
    let spki = rcgen::PublicKeyData::subject_public_key_info(key);
    let value = signed_key(&id.public().encode_protobuf(), &host_signature(&id, &spki));
    let mut params = rcgen::CertificateParams::default();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 53594, 1, 1],
            value,
        ));
    (id, params.self_signed(key).unwrap().der().to_vec())
}

// rcgen makes P-521 keys only on its aws-lc-rs backend
#[cfg(feature = "aws-lc-rs")]
#[test]
fn unsupported_signature_algorithm() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let (_, cert) = with_key(&key, 120);
    assert_eq!(
        certificate::verify(&cert, NOW),
        Err(Error::UnsupportedSignatureAlgorithm {
            oid: "1.2.840.10045.4.3.4".into()
        })
    );
}

// rcgen makes P-521 keys only on its aws-lc-rs backend
#[cfg(feature = "aws-lc-rs")]
#[test]
fn curve_and_hash_must_pair() {
    // ecdsa-with-SHA256 (accepted for P-256) over a P-521 key
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA256).unwrap();
    let (_, cert) = with_key(&key, 121);
    assert_eq!(
        certificate::verify(&cert, NOW),
        Err(Error::KeyAlgorithmMismatch {
            signature: SignatureAlgorithm::EcdsaP256Sha256,
            key: "1.2.840.10045.2.1 (1.3.132.0.35)".into()
        })
    );
}

#[test]
fn other_accepted_certificate_keys() {
    for (alg, expected) in [
        (
            &rcgen::PKCS_ECDSA_P384_SHA384,
            SignatureAlgorithm::EcdsaP384Sha384,
        ),
        (&rcgen::PKCS_ED25519, SignatureAlgorithm::Ed25519),
    ] {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let (id, cert) = with_key(&key, 122);
        let v = certificate::verify(&cert, NOW).unwrap();
        assert_eq!((v.peer_id, v.signature_algorithm), (id.peer_id(), expected));
    }
}

// rcgen generates RSA keys only on its aws-lc-rs backend (ring cannot)
#[cfg(feature = "aws-lc-rs")]
#[test]
fn rsa_certificate_keys_pkcs1_and_pss() {
    use aws_lc_rs::signature::{RsaKeyPair, RSA_PSS_SHA256};
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let (id, pkcs1) = with_key(&key, 123);
    // PKCS#1 v1.5 parses, but no TLS 1.3 CertificateVerify scheme is allowed with it
    let v = certificate::verify(&pkcs1, NOW).unwrap();
    assert_eq!(v.signature_algorithm, SignatureAlgorithm::RsaPkcs1Sha256);
    assert_eq!(v.peer_id, id.peer_id());
    for scheme in [
        SignatureScheme::RsaPkcs1Sha256,
        SignatureScheme::RsaPssSha256,
    ] {
        assert_eq!(
            certificate::verify_tls13_signature(&v, scheme, b"m", &[0; 256]),
            Err(Error::SignatureSchemeMismatch {
                certificate: SignatureAlgorithm::RsaPkcs1Sha256,
                scheme
            })
        );
    }

    // the same key self-signing with RSA-PSS (rcgen cannot: re-sign with aws-lc-rs)
    let rsa = RsaKeyPair::from_pkcs8(key.serialized_der()).unwrap();
    let pss = |msg: &[u8]| {
        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(
            &RSA_PSS_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            msg,
            &mut sig,
        )
        .unwrap();
        sig
    };
    let pss_id = webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY.signature_alg_id();
    let pss_alg = tlv(0x30, pss_id.as_ref());
    let (mut tbs, _) = split(&pkcs1);
    tbs[2] = (0x30, pss_id.as_ref().to_vec());
    let cert = assemble(&tbs, &pss_alg, pss);
    let v = certificate::verify(&cert, NOW).unwrap();
    assert_eq!(v.signature_algorithm, SignatureAlgorithm::RsaPssSha256);
    assert_eq!(v.peer_id, id.peer_id());
    let sig = pss(b"transcript");
    assert_eq!(
        certificate::verify_tls13_signature(&v, SignatureScheme::RsaPssSha256, b"transcript", &sig),
        Ok(())
    );
    assert_eq!(
        certificate::verify_tls13_signature(&v, SignatureScheme::RsaPssSha384, b"transcript", &sig),
        Err(Error::SignatureSchemeMismatch {
            certificate: SignatureAlgorithm::RsaPssSha256,
            scheme: SignatureScheme::RsaPssSha384
        })
    );
}

#[test]
fn garbage_der() {
    for bytes in [
        &b""[..],
        b"hello",
        &[0x30, 0x03, 0x02, 0x01, 0x01],
        &[0x30, 0x80, 0, 0],
    ] {
        assert!(
            matches!(
                certificate::verify(bytes, NOW),
                Err(Error::CertificateDer { .. })
            ),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn trailing_bytes() {
    let h = Hostile::new(124);
    let mut cert = h.valid();
    cert.extend_from_slice(&[0, 1, 2]);
    assert_eq!(
        certificate::verify(&cert, NOW),
        Err(Error::TrailingBytes { len: 3 })
    );
}

#[test]
fn too_large() {
    let big = vec![0x30; MAX_CERTIFICATE_LEN + 1];
    assert_eq!(
        certificate::verify(&big, NOW),
        Err(Error::CertificateTooLarge {
            len: MAX_CERTIFICATE_LEN + 1,
            max: MAX_CERTIFICATE_LEN
        })
    );
}

#[test]
fn every_truncation_is_refused_by_name() {
    let id = identity(KeyType::Ed25519, 125);
    let cert = Certificate::generate(&id, NOW, &mut TestRng(126)).unwrap();
    for len in 0..cert.der().len() {
        assert!(
            certificate::verify(&cert.der()[..len], NOW).is_err(),
            "{len}"
        );
    }
}

// ---- (d) corruption ----

#[test]
fn every_bit_flip_of_our_certificate_is_refused() {
    // Our certificates have no byte that nothing depends on: the signed tbsCertificate,
    // the algorithm (compared with the signed copy), the signature, and the DER framing.
    let id = identity(KeyType::Ed25519, 131);
    let cert = Certificate::generate(&id, NOW, &mut TestRng(132)).unwrap();
    for i in 0..cert.der().len() {
        for bit in 0..8 {
            let mut der = cert.der().to_vec();
            der[i] ^= 1 << bit;
            assert!(
                certificate::verify(&der, NOW).is_err(),
                "byte {i} bit {bit}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// One corrupted byte never panics: the certificate is refused with a named error,
    /// or (the byte was somewhere nothing depends on) it still proves the same PeerId.
    #[test]
    fn single_byte_corruption(index in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let id = identity(KeyType::Ed25519, 127);
        let cert = Certificate::generate(&id, NOW, &mut TestRng(128)).unwrap();
        let mut der = cert.der().to_vec();
        let i = index.index(der.len());
        der[i] ^= flip;
        match certificate::verify(&der, NOW) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(v) => prop_assert_eq!(v.peer_id, id.peer_id()),
        }
    }
}
