//! The libp2p TLS certificate: generating ours, verifying a peer's (spec tls/tls.md,
//! "Peer Authentication" and "libp2p Public Key Extension").
//!
//! Ours is self-signed with a fresh ECDSA P-256 key (ecdsa-with-SHA256), valid from one
//! hour before the caller's `now` (peers' clocks lag) for [`VALIDITY_SECS`], with a random
//! positive serial below 2^63, subject = issuer = `serialNumber=<that serial>` (RFC 5280
//! wants a non-empty issuer; go-libp2p does the same with another random number), no
//! unique ids, and one extension: the libp2p Public Key Extension, marked critical as
//! rust-libp2p does (go-libp2p marks it non-critical; both accept either).
//!
//! A peer's certificate is checked in the order of the spec notes: size, DER, validity
//! window, unique ids, extensions, self-signature, SignedKey, host key, extension
//! signature, PeerId (and the expected PeerId for a dialer). Parsing is x509-parser's
//! (extensions left unparsed: p2psec processes none but the libp2p one); the exact
//! algorithm identifiers, the signed `tbsCertificate` bytes and the signature come from a
//! small strict DER reader (`der.rs`), and signatures are verified with rustls-webpki's
//! algorithms of the crypto backend (`backend.rs`), matched to the certificate by their
//! exact DER identifiers (the table is in `signature.rs`, with [`SignatureAlgorithm`] and
//! [`SignatureScheme`], re-exported here). The certificate key is `cert_key.rs`'s.

use alloc::{
    format,
    string::{String, ToString},
    sync::Arc,
    vec::Vec,
};
use core::fmt;

use rand_core::CryptoRng;
use x509_parser::certificate::X509CertificateParser;
use x509_parser::nom::Parser;
use x509_parser::time::ASN1Time;
use x509_parser::x509::{AlgorithmIdentifier, X509Version};
use zeroize::Zeroizing;

use super::backend::signature::EcdsaKeyPair;
use super::cert_key::CertKey;
use super::der;
use super::error::Error;
use super::signature::accepted;
pub use super::signature::{SignatureAlgorithm, SignatureScheme};
use super::{EXTENSION_OID, SIGNING_PREFIX};
use crate::identity::{KeyPolicy, Keypair, PeerId, PublicKey};

/// Largest certificate accepted, checked before parsing: rustls 0.23 refuses handshake
/// messages above 0xffff bytes, so no certificate it delivers can be larger. Real libp2p
/// certificates are 400-600 bytes (ECDSA), under 3 KiB with an RSA-8192 key.
pub const MAX_CERTIFICATE_LEN: usize = 0xffff;

/// How long our certificates are valid after `now`: 365 days. The certificate key signs
/// every handshake, and the identity signature in the extension delegates the identity to
/// that key until `notAfter`, so a stolen certificate key impersonates the peer for this
/// long. go-libp2p uses 100 years and rust-libp2p 1975..4096, which make that delegation
/// permanent. One year bounds it and is far beyond any clock skew; whoever holds a
/// [`Certificate`] must make a new one before [`Certificate::not_after`].
pub const VALIDITY_SECS: u64 = 365 * 24 * 60 * 60;

/// How far before `now` our certificates start (go-libp2p's choice): a peer whose clock is
/// up to an hour behind still accepts them.
pub const NOT_BEFORE_SKEW_SECS: u64 = 60 * 60;

/// The content bytes of the libp2p extension's OID (spec: `06 0a` followed by these).
const EXTENSION_OID_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xa2, 0x5a, 0x01, 0x01];

/// X.520 `serialNumber` (2.5.4.5), the subject attribute of our certificates.
const ATTRIBUTE_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

// ---- our certificate ----

/// Our certificate and its private key, ready for rustls: the DER certificate, the
/// PKCS#8 DER key (wiped on drop) and the key loaded once into the crypto backend for signing
/// handshakes. `Debug` never shows the key.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    private_key_der: Zeroizing<Vec<u8>>,
    key_pair: Arc<EcdsaKeyPair>,
    not_before: u64,
    not_after: u64,
}

impl Certificate {
    /// A new self-signed certificate for `identity`, valid from `now_unix` minus
    /// [`NOT_BEFORE_SKEW_SECS`] to `now_unix` plus [`VALIDITY_SECS`] (Unix seconds).
    ///
    /// The certificate key (ECDSA P-256) and the serial come from `rng`; the certificate
    /// and extension signatures are deterministic (RFC 6979 for ECDSA, and the identity's
    /// own rule), so the same identity, time and RNG state give the same bytes.
    pub fn generate<R: CryptoRng + ?Sized>(
        identity: &Keypair,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let key = CertKey::generate(rng)?;
        // RFC 5280 §4.1.2.2: a positive integer of at most 20 octets; below 2^63 it fits a
        // signed 64-bit integer everywhere (go-libp2p draws below 2^62)
        let serial = (rng.next_u64() >> 1).max(1);

        let not_before = now_unix.saturating_sub(NOT_BEFORE_SKEW_SECS);
        let not_after = now_unix
            .checked_add(VALIDITY_SECS)
            .ok_or_else(|| Error::generation("notAfter overflows"))?;

        // The identity signs the SubjectPublicKeyInfo exactly as rcgen writes it into the
        // certificate (the same encoder produces both).
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let mut signed = Vec::with_capacity(SIGNING_PREFIX.len() + spki.len());
        signed.extend_from_slice(SIGNING_PREFIX);
        signed.extend_from_slice(&spki);
        let signature = identity.sign(&signed).map_err(Error::Signing)?;
        let signed_key = encode_signed_key(&identity.public().encode_protobuf(), &signature);
        let mut extension = rcgen::CustomExtension::from_oid_content(EXTENSION_OID, signed_key);
        extension.set_criticality(true);

        let mut name = rcgen::DistinguishedName::new();
        let serial_text = rcgen::string::PrintableString::try_from(serial.to_string())
            .map_err(|e| Error::generation(&e.to_string()))?;
        name.push(
            rcgen::DnType::CustomDnType(ATTRIBUTE_SERIAL_NUMBER.to_vec()),
            rcgen::DnValue::PrintableString(serial_text),
        );

        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = name;
        // rcgen takes `time::OffsetDateTime`, from a crate p2psec does not depend on
        // directly; x509-parser builds one from Unix seconds.
        params.not_before = asn1_time(not_before)?.to_datetime();
        params.not_after = asn1_time(not_after)?.to_datetime();
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial.to_be_bytes()));
        params.custom_extensions.push(extension);
        let cert = params
            .self_signed(&key)
            .map_err(|e| Error::generation(&e.to_string()))?;

        Ok(Self {
            der: cert.der().to_vec(),
            private_key_der: key.pkcs8_der(),
            key_pair: Arc::new(key.pair),
            not_before,
            not_after,
        })
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's private key: PKCS#8 DER (`PrivateKeyDer::Pkcs8` for rustls).
    pub fn private_key_pkcs8_der(&self) -> &[u8] {
        &self.private_key_der
    }

    /// The certificate key as the crypto backend holds it, for signing handshakes: loaded once
    /// here, so no handshake or config parses the PKCS#8 key again.
    pub(crate) fn key_pair(&self) -> &Arc<EcdsaKeyPair> {
        &self.key_pair
    }

    /// `notBefore`, Unix seconds.
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// `notAfter`, Unix seconds.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("tls::Certificate")
            .field("der_len", &self.der.len())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn asn1_time(unix: u64) -> Result<ASN1Time, Error> {
    let secs = i64::try_from(unix).map_err(|_| Error::generation("time out of range"))?;
    ASN1Time::from_timestamp(secs).map_err(|_| Error::generation("time out of range"))
}

// ---- verifying a peer's certificate ----

/// A peer's certificate that passed every check: who the peer is and what the TLS
/// handshake still needs (the certificate key and its algorithm for `CertificateVerify`).
/// Only this module makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The peer's PeerId, from the host key in the extension.
    pub peer_id: PeerId,
    /// The peer's host (identity) key.
    pub public_key: PublicKey,
    /// The certificate's DER SubjectPublicKeyInfo: the key that signs the handshake.
    pub spki_der: Vec<u8>,
    /// The certificate's self-signature algorithm.
    pub signature_algorithm: SignatureAlgorithm,
}

/// Verifies the certificate chain a peer sent: exactly one certificate (spec), then
/// [`verify`]; if `expected` is given (the dialer knows whom it dialed), the certificate
/// must prove that PeerId.
pub fn verify_chain(
    chain: &[&[u8]],
    now_unix: u64,
    expected: Option<PeerId>,
) -> Result<Verified, Error> {
    verify_chain_with(chain, now_unix, expected, KeyPolicy::STRICT)
}

/// [`verify_chain`] with the host key checked under `policy`.
pub(crate) fn verify_chain_with(
    chain: &[&[u8]],
    now_unix: u64,
    expected: Option<PeerId>,
    policy: KeyPolicy,
) -> Result<Verified, Error> {
    let [der] = chain else {
        return Err(Error::ChainLength { len: chain.len() });
    };
    let (verified, _) = verify_with_validity(der, now_unix, policy)?;
    check_expected(verified, expected)
}

/// The dialer's rule: the certificate must prove the PeerId it dialed, if it knows one.
pub(crate) fn check_expected(
    verified: Verified,
    expected: Option<PeerId>,
) -> Result<Verified, Error> {
    match expected {
        Some(expected) if expected != verified.peer_id => Err(Error::UnexpectedPeer {
            expected,
            got: verified.peer_id,
        }),
        _ => Ok(verified),
    }
}

/// Verifies one libp2p certificate at `now_unix` (Unix seconds) by every rule of the spec
/// and returns the peer it proves. Works on any bytes: every failure is a named [`Error`].
pub fn verify(der: &[u8], now_unix: u64) -> Result<Verified, Error> {
    verify_with(der, now_unix, KeyPolicy::STRICT)
}

/// [`verify`] with the host key checked under `policy` (which may allow a legacy RSA key,
/// as `Config::with_key_policy` does for handshakes).
pub fn verify_with(der: &[u8], now_unix: u64, policy: KeyPolicy) -> Result<Verified, Error> {
    verify_with_validity(der, now_unix, policy).map(|(verified, _)| verified)
}

/// A certificate's validity window, Unix seconds (`notBefore`, `notAfter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

impl Validity {
    /// The spec: abort if the certificate is not yet valid or expired at `now_unix`.
    pub(crate) fn check(self, now_unix: u64) -> Result<(), Error> {
        if i128::from(now_unix) < i128::from(self.not_before) {
            return Err(Error::NotYetValid {
                now: now_unix,
                not_before: self.not_before,
            });
        }
        if i128::from(now_unix) > i128::from(self.not_after) {
            return Err(Error::Expired {
                now: now_unix,
                not_after: self.not_after,
            });
        }
        Ok(())
    }
}

/// [`verify`] with the host key checked under `policy`, also returning the certificate's
/// validity window: what a cache of verified certificates must check again at every later
/// time.
pub(crate) fn verify_with_validity(
    der: &[u8],
    now_unix: u64,
    policy: KeyPolicy,
) -> Result<(Verified, Validity), Error> {
    if der.len() > MAX_CERTIFICATE_LEN {
        return Err(Error::CertificateTooLarge {
            len: der.len(),
            max: MAX_CERTIFICATE_LEN,
        });
    }

    // 1. DER. Extensions stay unparsed: p2psec processes none but its own, and a
    //    non-critical extension it does not know must be ignored (spec).
    let (rest, cert) = X509CertificateParser::new()
        .with_deep_parse_extensions(false)
        .parse(der)
        .map_err(|e| Error::CertificateDer {
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(Error::TrailingBytes { len: rest.len() });
    }
    let raw = RawCertificate::split(der).map_err(der_error)?;
    let tbs = &cert.tbs_certificate;
    // RFC 5280 §4.1.2.1: a certificate with extensions (ours must have one) is v3
    if tbs.version != X509Version::V3 {
        return Err(der_error("not an X.509 v3 certificate"));
    }

    // 2. Validity window (the spec: abort if not yet valid or expired).
    let validity = Validity {
        not_before: tbs.validity.not_before.timestamp(),
        not_after: tbs.validity.not_after.timestamp(),
    };
    validity.check(now_unix)?;

    // 3. Unique ids (MUST be absent), unknown critical extensions, the libp2p extension
    //    exactly once.
    if tbs.issuer_uid.is_some() {
        return Err(Error::UniqueIdPresent {
            field: "issuerUniqueID",
        });
    }
    if tbs.subject_uid.is_some() {
        return Err(Error::UniqueIdPresent {
            field: "subjectUniqueID",
        });
    }
    let mut signed_key = None;
    for ext in tbs.extensions() {
        if ext.oid.as_bytes() == EXTENSION_OID_DER {
            if signed_key.replace(ext.value).is_some() {
                return Err(Error::DuplicateExtension);
            }
        } else if ext.critical {
            return Err(Error::UnknownCriticalExtension {
                oid: ext.oid.to_id_string(),
            });
        }
    }
    let signed_key = signed_key.ok_or(Error::MissingExtension)?;

    // 4. The self-signature, under the certificate's own key, with an accepted algorithm
    //    whose key type (and curve) matches the key.
    if raw.tbs_signature_alg != raw.signature_alg {
        return Err(Error::SignatureAlgorithmMismatch);
    }
    let (signature_algorithm, verifier) = accepted()
        .into_iter()
        .find(|(_, v)| v.signature_alg_id().as_ref() == raw.signature_alg)
        .ok_or_else(|| Error::UnsupportedSignatureAlgorithm {
            oid: cert.signature_algorithm.algorithm.to_id_string(),
        })?;
    let spki_der = tbs.subject_pki.raw;
    let spki = Spki::split(spki_der).map_err(der_error)?;
    if verifier.public_key_alg_id().as_ref() != spki.algorithm {
        return Err(Error::KeyAlgorithmMismatch {
            signature: signature_algorithm,
            key: describe(&tbs.subject_pki.algorithm),
        });
    }
    verifier
        .verify_signature(spki.key, raw.tbs, raw.signature)
        .map_err(|_| Error::SelfSignature)?;

    // 5. SignedKey, the host key, and its signature over prefix || SPKI.
    let (host_key, host_signature) = decode_signed_key(signed_key)?;
    let public_key =
        PublicKey::try_decode_protobuf_with(host_key, policy).map_err(Error::HostKey)?;
    let mut signed = Vec::with_capacity(SIGNING_PREFIX.len() + spki_der.len());
    signed.extend_from_slice(SIGNING_PREFIX);
    signed.extend_from_slice(spki_der);
    if !public_key.verify(&signed, host_signature) {
        return Err(Error::ExtensionSignature);
    }

    // 6. The PeerId comes from the host key, never from the certificate key.
    let verified = Verified {
        peer_id: public_key.to_peer_id(),
        public_key,
        spki_der: spki_der.to_vec(),
        signature_algorithm,
    };
    Ok((verified, validity))
}

/// Verifies a TLS 1.3 `CertificateVerify` signature (`message` is the signed content
/// RFC 8446 §4.4.3 defines) under the certificate key of `verified`. The scheme must be
/// the one the certificate's own algorithm maps to
/// ([`SignatureAlgorithm::tls13_scheme`]), as rust-libp2p requires.
pub fn verify_tls13_signature(
    verified: &Verified,
    scheme: SignatureScheme,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    let algorithm = verified.signature_algorithm;
    if algorithm.tls13_scheme() != Some(scheme) {
        return Err(Error::SignatureSchemeMismatch {
            certificate: algorithm,
            scheme,
        });
    }
    let spki = Spki::split(&verified.spki_der).map_err(der_error)?;
    algorithm
        .verifier()
        .verify_signature(spki.key, message, signature)
        .map_err(|_| Error::HandshakeSignature)
}

fn der_error(reason: &'static str) -> Error {
    Error::CertificateDer {
        reason: reason.to_string(),
    }
}

/// `1.2.840.10045.2.1 (1.3.132.0.34)`: a key algorithm OID and its curve, if any.
fn describe(algorithm: &AlgorithmIdentifier<'_>) -> String {
    let oid = algorithm.algorithm.to_id_string();
    match algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()) {
        Some(curve) => format!("{oid} ({})", curve.to_id_string()),
        None => oid,
    }
}

/// The exact bytes a signature check needs, read with the strict reader (`der.rs`):
/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }`.
struct RawCertificate<'a> {
    /// The whole `tbsCertificate` encoding: what the self-signature signs.
    tbs: &'a [u8],
    /// The contents of `tbsCertificate.signature`.
    tbs_signature_alg: &'a [u8],
    /// The contents of `signatureAlgorithm`.
    signature_alg: &'a [u8],
    /// The signature bytes (a BIT STRING with no unused bits).
    signature: &'a [u8],
}

impl<'a> RawCertificate<'a> {
    fn split(der: &'a [u8]) -> Result<Self, &'static str> {
        let mut outer = der::Reader::new(der);
        let certificate = outer.read(der::SEQUENCE)?;
        if !outer.is_empty() {
            return Err("bytes after Certificate");
        }
        let mut fields = der::Reader::new(certificate);
        let (tbs_content, tbs) = fields.read_with_header(der::SEQUENCE)?;
        let signature_alg = fields.read(der::SEQUENCE)?;
        let signature = der::bit_string_bytes(fields.read(der::BIT_STRING)?)?;
        if !fields.is_empty() {
            return Err("extra fields in Certificate");
        }
        let mut tbs_fields = der::Reader::new(tbs_content);
        if tbs_fields.peek_tag() == Some(der::CONTEXT_0) {
            tbs_fields.read(der::CONTEXT_0)?; // version
        }
        tbs_fields.read(der::INTEGER)?; // serialNumber
        let tbs_signature_alg = tbs_fields.read(der::SEQUENCE)?;
        Ok(Self {
            tbs,
            tbs_signature_alg,
            signature_alg,
            signature,
        })
    }
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }`.
struct Spki<'a> {
    /// The contents of `algorithm`.
    algorithm: &'a [u8],
    /// The key bits (no unused bits).
    key: &'a [u8],
}

impl<'a> Spki<'a> {
    fn split(der: &'a [u8]) -> Result<Self, &'static str> {
        let mut outer = der::Reader::new(der);
        let spki = outer.read(der::SEQUENCE)?;
        if !outer.is_empty() {
            return Err("bytes after SubjectPublicKeyInfo");
        }
        let mut fields = der::Reader::new(spki);
        let algorithm = fields.read(der::SEQUENCE)?;
        let key = der::bit_string_bytes(fields.read(der::BIT_STRING)?)?;
        if !fields.is_empty() {
            return Err("extra fields in SubjectPublicKeyInfo");
        }
        Ok(Self { algorithm, key })
    }
}

// ---- SignedKey ----

/// `SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }`, DER.
fn encode_signed_key(public_key: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut fields = Vec::with_capacity(public_key.len() + signature.len() + 8);
    der::write(der::OCTET_STRING, public_key, &mut fields);
    der::write(der::OCTET_STRING, signature, &mut fields);
    let mut out = Vec::with_capacity(fields.len() + 4);
    der::write(der::SEQUENCE, &fields, &mut out);
    out
}

/// Strict DER decoding of a SignedKey: `(publicKey, signature)`, nothing before, between
/// or after.
fn decode_signed_key(value: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let fail = |reason| Error::SignedKeyDer { reason };
    let mut outer = der::Reader::new(value);
    let sequence = outer.read(der::SEQUENCE).map_err(fail)?;
    if !outer.is_empty() {
        return Err(fail("bytes after SignedKey"));
    }
    let mut fields = der::Reader::new(sequence);
    let public_key = fields.read(der::OCTET_STRING).map_err(fail)?;
    let signature = fields.read(der::OCTET_STRING).map_err(fail)?;
    if !fields.is_empty() {
        return Err(fail("extra fields in SignedKey"));
    }
    Ok((public_key, signature))
}

#[cfg(test)]
mod tests;
