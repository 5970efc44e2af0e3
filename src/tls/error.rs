//! Errors of the TLS layer, grouped by fault (STYLE.md).

use alloc::string::{String, ToString};

use super::signature::{SignatureAlgorithm, SignatureScheme};
use crate::error::Fault;
use crate::identity::{self, PeerId};

/// Why a certificate was refused, a handshake signature failed, or our certificate could
/// not be made. Each variant names the rule that was broken.
///
/// [`Error::fault`] groups the variants; [`Error::code`] is a stable number per variant,
/// for bindings ([`crate::error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// The certificate is larger than [`MAX_CERTIFICATE_LEN`](super::certificate::MAX_CERTIFICATE_LEN);
    /// it is refused before any parsing. Code 4101.
    #[error("certificate of {len} bytes exceeds the {max}-byte limit")]
    CertificateTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a DER X.509 certificate. Code 4102.
    #[error("certificate is not valid DER X.509: {reason}")]
    CertificateDer {
        /// What the parser reported.
        reason: String,
    },
    /// Bytes follow the certificate's DER encoding. Code 4103.
    #[error("certificate is followed by {len} trailing bytes")]
    TrailingBytes {
        /// How many bytes follow.
        len: usize,
    },
    /// The libp2p extension's value is not a DER
    /// `SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }`. Code 4104.
    #[error("libp2p extension is not a DER SignedKey: {reason}")]
    SignedKeyDer {
        /// Which rule of the encoding was broken.
        reason: &'static str,
    },
    /// The host key in the extension does not decode (unknown or unsupported key type,
    /// malformed, non-canonical, off-curve, ...). Its code and fault are the wrapped error's.
    #[error("libp2p extension host key: {0}")]
    HostKey(#[source] identity::Error),

    // --- the peer broke a rule of the spec ---
    /// Not exactly one certificate: the spec requires a single self-signed certificate. Code 4201.
    #[error("expected exactly one certificate, got {len}")]
    ChainLength {
        /// How many arrived.
        len: usize,
    },
    /// `notBefore` is after now. Code 4202.
    #[error("certificate not valid before {not_before}, now is {now} (Unix seconds)")]
    NotYetValid {
        /// The verifier's time.
        now: u64,
        /// The certificate's `notBefore`.
        not_before: i64,
    },
    /// `notAfter` is before now. Code 4203.
    #[error("certificate expired at {not_after}, now is {now} (Unix seconds)")]
    Expired {
        /// The verifier's time.
        now: u64,
        /// The certificate's `notAfter`.
        not_after: i64,
    },
    /// `issuerUniqueID` or `subjectUniqueID` is present (the spec says they MUST be absent).
    /// Code 4204.
    #[error("certificate carries {field}, which must be absent")]
    UniqueIdPresent {
        /// `issuerUniqueID` or `subjectUniqueID`.
        field: &'static str,
    },
    /// A critical extension other than the libp2p one (the spec: any unknown critical
    /// extension MUST cause an abort; p2psec processes no other extension). Code 4205.
    #[error("unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// Its OID in dotted form.
        oid: String,
    },
    /// The libp2p Public Key Extension is absent. Code 4206.
    #[error("certificate lacks the libp2p public key extension")]
    MissingExtension,
    /// The libp2p Public Key Extension appears more than once (rust-libp2p rejects this
    /// too; RFC 5280 forbids repeating an extension). Code 4207.
    #[error("certificate carries the libp2p public key extension more than once")]
    DuplicateExtension,
    /// The `signature` field inside `tbsCertificate` differs from the outer
    /// `signatureAlgorithm` (RFC 5280 §4.1.1.2: they MUST be identical). Code 4208.
    #[error("tbsCertificate signature algorithm differs from the outer signatureAlgorithm")]
    SignatureAlgorithmMismatch,
    /// The self-signature's algorithm is correctly paired with the key type, but the key's
    /// algorithm (curve) does not match it, e.g. ecdsa-with-SHA256 over a P-384 key. Code 4209.
    #[error("certificate key ({key}) does not match its signature algorithm {signature}")]
    KeyAlgorithmMismatch {
        /// The certificate's signature algorithm.
        signature: SignatureAlgorithm,
        /// The SubjectPublicKeyInfo algorithm OID (and curve OID, if any).
        key: String,
    },
    /// The certificate's self-signature does not verify under its own key. Code 4210.
    #[error("certificate self-signature does not verify")]
    SelfSignature,
    /// The host key's signature over `"libp2p-tls-handshake:" || SubjectPublicKeyInfo`
    /// does not verify: the claimed PeerId did not sign this certificate key. Code 4211.
    #[error("libp2p extension signature does not verify under its host key")]
    ExtensionSignature,
    /// The peer is not the one the dialer asked for. Code 4212.
    #[error("remote PeerId is {got}, expected {expected}")]
    UnexpectedPeer {
        /// The PeerId the dialer expected.
        expected: PeerId,
        /// The PeerId the certificate proves.
        got: PeerId,
    },
    /// A TLS 1.3 `CertificateVerify` signature does not verify under the certificate key.
    /// Code 4213.
    #[error("TLS 1.3 CertificateVerify signature does not verify")]
    HandshakeSignature,

    // --- no overlap ---
    /// The certificate is signed with an algorithm p2psec does not accept (see
    /// [`SignatureAlgorithm`] for the accepted set: rust-libp2p's). Code 4301.
    #[error("unsupported certificate signature algorithm {oid}")]
    UnsupportedSignatureAlgorithm {
        /// The algorithm's OID in dotted form.
        oid: String,
    },
    /// A TLS 1.3 `CertificateVerify` uses a scheme other than the one the certificate's
    /// algorithm allows (certificates self-signed with RSA PKCS#1 v1.5 allow none: TLS 1.3
    /// forbids PKCS#1 v1.5 in `CertificateVerify`). Code 4302.
    #[error("signature scheme {scheme} not allowed for a {certificate} certificate")]
    SignatureSchemeMismatch {
        /// The certificate's self-signature algorithm.
        certificate: SignatureAlgorithm,
        /// The scheme the peer used.
        scheme: SignatureScheme,
    },

    // --- local failures ---
    /// Our certificate could not be built (a time out of range, an encoder failure). Code 4501.
    #[error("certificate generation failed: {reason}")]
    CertificateGeneration {
        /// What failed.
        reason: String,
    },
    /// The local identity key could not sign the certificate key.
    /// Its code and fault are the wrapped error's.
    #[error("local identity could not sign: {0}")]
    Signing(#[source] identity::Error),

    // --- the TLS handshake and session (added with the machines) ---
    /// A record's length field exceeds the TLS 1.3 limit (RFC 8446 §5.2: 2^14 + 256);
    /// refused from its header alone. Code 4105.
    #[error("TLS record of {len} bytes exceeds the {max}-byte limit")]
    RecordTooLarge {
        /// The length field.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes that are not well-formed TLS (a bad header, a malformed message). Code 4106.
    #[error("malformed TLS message: {reason}")]
    InvalidMessage {
        /// What rustls reported.
        reason: String,
    },
    /// A record failed authentication (`bad_record_mac`): tampered in flight, or not from
    /// this session's peer. Ends the handshake or session. Code 4214.
    #[error("TLS record failed authentication")]
    RecordAuthentication,
    /// The peer broke the TLS protocol (a message out of order, a forbidden field, data
    /// after close_notify). Code 4215.
    #[error("peer broke the TLS protocol: {reason}")]
    PeerMisbehaved {
        /// What was wrong.
        reason: String,
    },
    /// The peer sent more KeyUpdate messages in a row, with no application data between
    /// them, than [`MAX_CONSECUTIVE_KEY_UPDATES`](super::MAX_CONSECUTIVE_KEY_UPDATES). Code 4216.
    #[error("peer sent more than {max} KeyUpdates without data between them")]
    TooManyKeyUpdates {
        /// The limit.
        max: usize,
    },
    /// The peer sent more empty application-data records in a row than
    /// [`MAX_CONSECUTIVE_EMPTY_RECORDS`](super::MAX_CONSECUTIVE_EMPTY_RECORDS). Code 4217.
    #[error("peer sent more than {max} empty records in a row")]
    TooManyEmptyRecords {
        /// The limit.
        max: usize,
    },
    /// The peer sent more warning alerts than
    /// [`MAX_WARNING_ALERTS`](super::MAX_WARNING_ALERTS) allows in one session. Code 4218.
    #[error("peer sent more than {max} warning alerts")]
    TooManyWarningAlerts {
        /// The limit.
        max: usize,
    },
    /// The peer ended the connection with a fatal alert (for example `access_denied` when
    /// it refused our certificate or PeerId, `bad_certificate`, `decrypt_error`). Code 4303.
    #[error("peer sent TLS alert {description}")]
    AlertReceived {
        /// The alert's name as rustls prints it (`AccessDenied`, `BadCertificate`, ...).
        description: String,
    },
    /// No common TLS parameters (version, cipher suite, key exchange group, signature
    /// scheme). Code 4304.
    #[error("no common TLS parameters: {reason}")]
    PeerIncompatible {
        /// What was missing.
        reason: String,
    },
    /// The server supports none of the client's ALPN values (spec: the server MUST abort).
    /// Code 4305.
    #[error("no common ALPN protocol")]
    NoApplicationProtocol,
    /// Our certificate is not valid at the given time: make a new one
    /// (`Config::refresh_if_needed`) before the handshake. Code 4401.
    #[error("our certificate is valid from {not_before} to {not_after}, now is {now}")]
    LocalCertificateOutdated {
        /// The caller's time.
        now: u64,
        /// Its `notBefore`.
        not_before: u64,
        /// Its `notAfter`.
        not_after: u64,
    },
    /// Another TLS failure rustls reported. Code 4502.
    #[error("TLS failure: {reason}")]
    Tls {
        /// What rustls reported.
        reason: String,
    },
    /// A caller bug: a call out of order, an invalid setting. Code 4402.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
}

impl Error {
    /// The group this error belongs to (the wrapped error's for `HostKey` and `Signing`).
    pub fn fault(&self) -> Fault {
        match self {
            Error::HostKey(e) | Error::Signing(e) => e.fault(),
            Error::CertificateTooLarge { .. }
            | Error::CertificateDer { .. }
            | Error::TrailingBytes { .. }
            | Error::SignedKeyDer { .. }
            | Error::RecordTooLarge { .. }
            | Error::InvalidMessage { .. } => Fault::InvalidMessage,
            Error::ChainLength { .. }
            | Error::NotYetValid { .. }
            | Error::Expired { .. }
            | Error::UniqueIdPresent { .. }
            | Error::UnknownCriticalExtension { .. }
            | Error::MissingExtension
            | Error::DuplicateExtension
            | Error::SignatureAlgorithmMismatch
            | Error::KeyAlgorithmMismatch { .. }
            | Error::SelfSignature
            | Error::ExtensionSignature
            | Error::UnexpectedPeer { .. }
            | Error::HandshakeSignature
            | Error::RecordAuthentication
            | Error::PeerMisbehaved { .. }
            | Error::TooManyKeyUpdates { .. }
            | Error::TooManyEmptyRecords { .. }
            | Error::TooManyWarningAlerts { .. } => Fault::PeerMisbehaved,
            // An alert is the peer refusing (our certificate, our PeerId, the parameters),
            // not an illegal move.
            Error::UnsupportedSignatureAlgorithm { .. }
            | Error::SignatureSchemeMismatch { .. }
            | Error::AlertReceived { .. }
            | Error::PeerIncompatible { .. }
            | Error::NoApplicationProtocol => Fault::PeerIncompatible,
            Error::LocalCertificateOutdated { .. } | Error::ApiMisuse(_) => Fault::ApiMisuse,
            Error::CertificateGeneration { .. } | Error::Tls { .. } => Fault::Local,
        }
    }

    /// A stable number for this variant, `4GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. Each variant's doc gives its code; `HostKey` and `Signing`
    /// answer the wrapped identity error's (`1GNN`), the root cause.
    pub fn code(&self) -> u16 {
        match self {
            Error::HostKey(e) | Error::Signing(e) => e.code(),
            Error::CertificateTooLarge { .. } => 4101,
            Error::CertificateDer { .. } => 4102,
            Error::TrailingBytes { .. } => 4103,
            Error::SignedKeyDer { .. } => 4104,
            Error::RecordTooLarge { .. } => 4105,
            Error::InvalidMessage { .. } => 4106,
            Error::ChainLength { .. } => 4201,
            Error::NotYetValid { .. } => 4202,
            Error::Expired { .. } => 4203,
            Error::UniqueIdPresent { .. } => 4204,
            Error::UnknownCriticalExtension { .. } => 4205,
            Error::MissingExtension => 4206,
            Error::DuplicateExtension => 4207,
            Error::SignatureAlgorithmMismatch => 4208,
            Error::KeyAlgorithmMismatch { .. } => 4209,
            Error::SelfSignature => 4210,
            Error::ExtensionSignature => 4211,
            Error::UnexpectedPeer { .. } => 4212,
            Error::HandshakeSignature => 4213,
            Error::RecordAuthentication => 4214,
            Error::PeerMisbehaved { .. } => 4215,
            Error::TooManyKeyUpdates { .. } => 4216,
            Error::TooManyEmptyRecords { .. } => 4217,
            Error::TooManyWarningAlerts { .. } => 4218,
            Error::UnsupportedSignatureAlgorithm { .. } => 4301,
            Error::SignatureSchemeMismatch { .. } => 4302,
            Error::AlertReceived { .. } => 4303,
            Error::PeerIncompatible { .. } => 4304,
            Error::NoApplicationProtocol => 4305,
            Error::LocalCertificateOutdated { .. } => 4401,
            Error::ApiMisuse(_) => 4402,
            Error::CertificateGeneration { .. } => 4501,
            Error::Tls { .. } => 4502,
        }
    }

    /// [`Error::CertificateGeneration`] for `reason`.
    pub(super) fn generation(reason: &str) -> Self {
        Self::CertificateGeneration {
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
impl Error {
    /// One value of every variant that does not wrap another layer's error.
    pub(crate) fn own_variants() -> alloc::vec::Vec<Self> {
        let text = || String::from("x");
        let peer = || {
            let seed = &mut [7; 32];
            identity::Keypair::Ed25519(identity::ed25519::Keypair::from_seed(seed)).peer_id()
        };
        alloc::vec![
            Error::CertificateTooLarge { len: 2, max: 1 },
            Error::CertificateDer { reason: text() },
            Error::TrailingBytes { len: 1 },
            Error::SignedKeyDer { reason: "short" },
            Error::ChainLength { len: 2 },
            Error::NotYetValid {
                now: 1,
                not_before: 2,
            },
            Error::Expired {
                now: 2,
                not_after: 1,
            },
            Error::UniqueIdPresent {
                field: "issuerUniqueID",
            },
            Error::UnknownCriticalExtension { oid: text() },
            Error::MissingExtension,
            Error::DuplicateExtension,
            Error::SignatureAlgorithmMismatch,
            Error::KeyAlgorithmMismatch {
                signature: SignatureAlgorithm::EcdsaP256Sha256,
                key: text(),
            },
            Error::SelfSignature,
            Error::ExtensionSignature,
            Error::UnexpectedPeer {
                expected: peer(),
                got: peer(),
            },
            Error::HandshakeSignature,
            Error::UnsupportedSignatureAlgorithm { oid: text() },
            Error::SignatureSchemeMismatch {
                certificate: SignatureAlgorithm::Ed25519,
                scheme: SignatureScheme::RsaPkcs1Sha256,
            },
            Error::generation("x"),
            Error::RecordTooLarge { len: 2, max: 1 },
            Error::InvalidMessage { reason: text() },
            Error::RecordAuthentication,
            Error::PeerMisbehaved { reason: text() },
            Error::TooManyKeyUpdates { max: 1 },
            Error::TooManyEmptyRecords { max: 1 },
            Error::TooManyWarningAlerts { max: 1 },
            Error::AlertReceived {
                description: text(),
            },
            Error::PeerIncompatible { reason: text() },
            Error::NoApplicationProtocol,
            Error::LocalCertificateOutdated {
                now: 3,
                not_before: 1,
                not_after: 2,
            },
            Error::Tls { reason: text() },
            Error::ApiMisuse("x"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        let own: alloc::vec::Vec<_> = Error::own_variants()
            .iter()
            .map(|e| (e.code(), e.fault()))
            .collect();
        crate::error::check_layer(crate::error::Layer::Tls, include_str!("error.rs"), &own);
        for inner in identity::Error::own_variants() {
            for e in [Error::HostKey(inner.clone()), Error::Signing(inner.clone())] {
                assert_eq!((e.code(), e.fault()), (inner.code(), inner.fault()));
            }
        }
    }
}
