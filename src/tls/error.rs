//! Errors of the TLS layer, grouped by fault (STYLE.md).

use alloc::string::{String, ToString};

use super::signature::{SignatureAlgorithm, SignatureScheme};
use crate::identity::{self, PeerId};

/// Why a certificate was refused, a handshake signature failed, or our certificate could
/// not be made. Each variant names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// The certificate is larger than [`MAX_CERTIFICATE_LEN`](super::certificate::MAX_CERTIFICATE_LEN);
    /// it is refused before any parsing.
    #[error("certificate of {len} bytes exceeds the {max}-byte limit")]
    CertificateTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a DER X.509 certificate.
    #[error("certificate is not valid DER X.509: {reason}")]
    CertificateDer {
        /// What the parser reported.
        reason: String,
    },
    /// Bytes follow the certificate's DER encoding.
    #[error("certificate is followed by {len} trailing bytes")]
    TrailingBytes {
        /// How many bytes follow.
        len: usize,
    },
    /// The libp2p extension's value is not a DER
    /// `SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }`.
    #[error("libp2p extension is not a DER SignedKey: {reason}")]
    SignedKeyDer {
        /// Which rule of the encoding was broken.
        reason: &'static str,
    },
    /// The host key in the extension does not decode (unknown or unsupported key type,
    /// malformed, non-canonical, off-curve, ...).
    #[error("libp2p extension host key: {0}")]
    HostKey(#[source] identity::Error),

    // --- the peer broke a rule of the spec ---
    /// Not exactly one certificate: the spec requires a single self-signed certificate.
    #[error("expected exactly one certificate, got {len}")]
    ChainLength {
        /// How many arrived.
        len: usize,
    },
    /// `notBefore` is after now.
    #[error("certificate not valid before {not_before}, now is {now} (Unix seconds)")]
    NotYetValid {
        /// The verifier's time.
        now: u64,
        /// The certificate's `notBefore`.
        not_before: i64,
    },
    /// `notAfter` is before now.
    #[error("certificate expired at {not_after}, now is {now} (Unix seconds)")]
    Expired {
        /// The verifier's time.
        now: u64,
        /// The certificate's `notAfter`.
        not_after: i64,
    },
    /// `issuerUniqueID` or `subjectUniqueID` is present (the spec says they MUST be absent).
    #[error("certificate carries {field}, which must be absent")]
    UniqueIdPresent {
        /// `issuerUniqueID` or `subjectUniqueID`.
        field: &'static str,
    },
    /// A critical extension other than the libp2p one (the spec: any unknown critical
    /// extension MUST cause an abort; p2psec processes no other extension).
    #[error("unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// Its OID in dotted form.
        oid: String,
    },
    /// The libp2p Public Key Extension is absent.
    #[error("certificate lacks the libp2p public key extension")]
    MissingExtension,
    /// The libp2p Public Key Extension appears more than once (rust-libp2p rejects this
    /// too; RFC 5280 forbids repeating an extension).
    #[error("certificate carries the libp2p public key extension more than once")]
    DuplicateExtension,
    /// The `signature` field inside `tbsCertificate` differs from the outer
    /// `signatureAlgorithm` (RFC 5280 §4.1.1.2: they MUST be identical).
    #[error("tbsCertificate signature algorithm differs from the outer signatureAlgorithm")]
    SignatureAlgorithmMismatch,
    /// The self-signature's algorithm is correctly paired with the key type, but the key's
    /// algorithm (curve) does not match it, e.g. ecdsa-with-SHA256 over a P-384 key.
    #[error("certificate key ({key}) does not match its signature algorithm {signature}")]
    KeyAlgorithmMismatch {
        /// The certificate's signature algorithm.
        signature: SignatureAlgorithm,
        /// The SubjectPublicKeyInfo algorithm OID (and curve OID, if any).
        key: String,
    },
    /// The certificate's self-signature does not verify under its own key.
    #[error("certificate self-signature does not verify")]
    SelfSignature,
    /// The host key's signature over `"libp2p-tls-handshake:" || SubjectPublicKeyInfo`
    /// does not verify: the claimed PeerId did not sign this certificate key.
    #[error("libp2p extension signature does not verify under its host key")]
    ExtensionSignature,
    /// The peer is not the one the dialer asked for.
    #[error("remote PeerId is {got}, expected {expected}")]
    UnexpectedPeer {
        /// The PeerId the dialer expected.
        expected: PeerId,
        /// The PeerId the certificate proves.
        got: PeerId,
    },
    /// A TLS 1.3 `CertificateVerify` signature does not verify under the certificate key.
    #[error("TLS 1.3 CertificateVerify signature does not verify")]
    HandshakeSignature,

    // --- no overlap ---
    /// The certificate is signed with an algorithm p2psec does not accept (see
    /// [`SignatureAlgorithm`] for the accepted set: rust-libp2p's).
    #[error("unsupported certificate signature algorithm {oid}")]
    UnsupportedSignatureAlgorithm {
        /// The algorithm's OID in dotted form.
        oid: String,
    },
    /// A TLS 1.3 `CertificateVerify` uses a scheme other than the one the certificate's
    /// algorithm allows (certificates self-signed with RSA PKCS#1 v1.5 allow none: TLS 1.3
    /// forbids PKCS#1 v1.5 in `CertificateVerify`).
    #[error("signature scheme {scheme} not allowed for a {certificate} certificate")]
    SignatureSchemeMismatch {
        /// The certificate's self-signature algorithm.
        certificate: SignatureAlgorithm,
        /// The scheme the peer used.
        scheme: SignatureScheme,
    },

    // --- local failures ---
    /// Our certificate could not be built (a time out of range, an encoder failure).
    #[error("certificate generation failed: {reason}")]
    CertificateGeneration {
        /// What failed.
        reason: String,
    },
    /// The local identity key could not sign the certificate key.
    #[error("local identity could not sign: {0}")]
    Signing(#[source] identity::Error),

    // --- the TLS handshake and session (added with the machines) ---
    /// A record's length field exceeds the TLS 1.3 limit (RFC 8446 §5.2: 2^14 + 256);
    /// refused from its header alone.
    #[error("TLS record of {len} bytes exceeds the {max}-byte limit")]
    RecordTooLarge {
        /// The length field.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes that are not well-formed TLS (a bad header, a malformed message).
    #[error("malformed TLS message: {reason}")]
    InvalidMessage {
        /// What rustls reported.
        reason: String,
    },
    /// A record failed authentication (`bad_record_mac`): tampered in flight, or not from
    /// this session's peer. Ends the handshake or session.
    #[error("TLS record failed authentication")]
    RecordAuthentication,
    /// The peer broke the TLS protocol (a message out of order, a forbidden field, data
    /// after close_notify).
    #[error("peer broke the TLS protocol: {reason}")]
    PeerMisbehaved {
        /// What was wrong.
        reason: String,
    },
    /// The peer sent more KeyUpdate messages in a row, with no application data between
    /// them, than [`MAX_CONSECUTIVE_KEY_UPDATES`](super::MAX_CONSECUTIVE_KEY_UPDATES).
    #[error("peer sent more than {max} KeyUpdates without data between them")]
    TooManyKeyUpdates {
        /// The limit.
        max: usize,
    },
    /// The peer sent more empty application-data records in a row than
    /// [`MAX_CONSECUTIVE_EMPTY_RECORDS`](super::MAX_CONSECUTIVE_EMPTY_RECORDS).
    #[error("peer sent more than {max} empty records in a row")]
    TooManyEmptyRecords {
        /// The limit.
        max: usize,
    },
    /// The peer sent more warning alerts than
    /// [`MAX_WARNING_ALERTS`](super::MAX_WARNING_ALERTS) allows in one session.
    #[error("peer sent more than {max} warning alerts")]
    TooManyWarningAlerts {
        /// The limit.
        max: usize,
    },
    /// The peer ended the connection with a fatal alert (for example `access_denied` when
    /// it refused our certificate or PeerId, `bad_certificate`, `decrypt_error`).
    #[error("peer sent TLS alert {description}")]
    AlertReceived {
        /// The alert's name as rustls prints it (`AccessDenied`, `BadCertificate`, ...).
        description: String,
    },
    /// No common TLS parameters (version, cipher suite, key exchange group, signature
    /// scheme).
    #[error("no common TLS parameters: {reason}")]
    PeerIncompatible {
        /// What was missing.
        reason: String,
    },
    /// The server supports none of the client's ALPN values (spec: the server MUST abort).
    #[error("no common ALPN protocol")]
    NoApplicationProtocol,
    /// Our certificate is not valid at the given time: make a new one
    /// (`Config::refresh_if_needed`) before the handshake.
    #[error("our certificate is valid from {not_before} to {not_after}, now is {now}")]
    LocalCertificateOutdated {
        /// The caller's time.
        now: u64,
        /// Its `notBefore`.
        not_before: u64,
        /// Its `notAfter`.
        not_after: u64,
    },
    /// Another TLS failure rustls reported.
    #[error("TLS failure: {reason}")]
    Tls {
        /// What rustls reported.
        reason: String,
    },
    /// A caller bug: a call out of order, an invalid setting.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
}

impl Error {
    /// [`Error::CertificateGeneration`] for `reason`.
    pub(super) fn generation(reason: &str) -> Self {
        Self::CertificateGeneration {
            reason: reason.to_string(),
        }
    }
}
