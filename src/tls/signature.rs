//! The signature algorithms of libp2p TLS: [`SignatureAlgorithm`], what a certificate is
//! self-signed with (rust-libp2p's accepted set), and [`SignatureScheme`], the TLS 1.3
//! code point a `CertificateVerify` names (RFC 8446 §4.2.3), with the one scheme each
//! algorithm allows there. Both are p2psec's own types, so no rustls type reaches the
//! public API; the rustls folder converts at its edge.
//!
//! Each algorithm maps to the rustls-webpki verification algorithm of the crypto backend
//! (`backend.rs`) that checks both the self-signature and the handshake signature; the
//! certificate is matched to it by the exact DER identifiers (`certificate.rs`).

use core::fmt;
use core::hash::{Hash, Hasher};

use super::backend::webpki_algs as algs;
use super::backend::SignatureVerificationAlgorithm;

/// A TLS 1.3 `SignatureScheme` (RFC 8446 §4.2.3): the code point a `CertificateVerify`
/// carries. The named variants are the schemes RFC 8446 defines for TLS 1.3 signatures;
/// any other code point is [`SignatureScheme::Other`]. Converts to and from the `u16`
/// code point without loss; two values are equal when their code points are.
#[derive(Debug, Clone, Copy, Eq)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// `rsa_pkcs1_sha256` (0x0401): not allowed in a TLS 1.3 `CertificateVerify`.
    RsaPkcs1Sha256,
    /// `rsa_pkcs1_sha384` (0x0501): not allowed in a TLS 1.3 `CertificateVerify`.
    RsaPkcs1Sha384,
    /// `rsa_pkcs1_sha512` (0x0601): not allowed in a TLS 1.3 `CertificateVerify`.
    RsaPkcs1Sha512,
    /// `ecdsa_secp256r1_sha256` (0x0403).
    EcdsaNistp256Sha256,
    /// `ecdsa_secp384r1_sha384` (0x0503).
    EcdsaNistp384Sha384,
    /// `ecdsa_secp521r1_sha512` (0x0603).
    EcdsaNistp521Sha512,
    /// `rsa_pss_rsae_sha256` (0x0804): RSASSA-PSS under an rsaEncryption key.
    RsaPssSha256,
    /// `rsa_pss_rsae_sha384` (0x0805).
    RsaPssSha384,
    /// `rsa_pss_rsae_sha512` (0x0806).
    RsaPssSha512,
    /// `ed25519` (0x0807).
    Ed25519,
    /// `ed448` (0x0808).
    Ed448,
    /// Any other code point. [`SignatureScheme::from`] a `u16` gives the named variant
    /// for a named code point, never `Other` with it.
    Other(u16),
}

/// The named schemes and their code points (RFC 8446 §4.2.3).
const NAMED: [(SignatureScheme, u16, &str); 11] = {
    use SignatureScheme as S;
    [
        (S::RsaPkcs1Sha256, 0x0401, "rsa_pkcs1_sha256"),
        (S::RsaPkcs1Sha384, 0x0501, "rsa_pkcs1_sha384"),
        (S::RsaPkcs1Sha512, 0x0601, "rsa_pkcs1_sha512"),
        (S::EcdsaNistp256Sha256, 0x0403, "ecdsa_secp256r1_sha256"),
        (S::EcdsaNistp384Sha384, 0x0503, "ecdsa_secp384r1_sha384"),
        (S::EcdsaNistp521Sha512, 0x0603, "ecdsa_secp521r1_sha512"),
        (S::RsaPssSha256, 0x0804, "rsa_pss_rsae_sha256"),
        (S::RsaPssSha384, 0x0805, "rsa_pss_rsae_sha384"),
        (S::RsaPssSha512, 0x0806, "rsa_pss_rsae_sha512"),
        (S::Ed25519, 0x0807, "ed25519"),
        (S::Ed448, 0x0808, "ed448"),
    ]
};

impl SignatureScheme {
    /// The code point, as the wire carries it.
    pub fn code_point(self) -> u16 {
        match self {
            Self::RsaPkcs1Sha256 => 0x0401,
            Self::RsaPkcs1Sha384 => 0x0501,
            Self::RsaPkcs1Sha512 => 0x0601,
            Self::EcdsaNistp256Sha256 => 0x0403,
            Self::EcdsaNistp384Sha384 => 0x0503,
            Self::EcdsaNistp521Sha512 => 0x0603,
            Self::RsaPssSha256 => 0x0804,
            Self::RsaPssSha384 => 0x0805,
            Self::RsaPssSha512 => 0x0806,
            Self::Ed25519 => 0x0807,
            Self::Ed448 => 0x0808,
            Self::Other(code) => code,
        }
    }

    /// The scheme's name in RFC 8446 (`ecdsa_secp256r1_sha256`, ...), `None` for
    /// [`SignatureScheme::Other`] (unless it holds a named code point).
    pub fn name(self) -> Option<&'static str> {
        let code = self.code_point();
        NAMED
            .iter()
            .find(|(_, named, _)| *named == code)
            .map(|(_, _, name)| *name)
    }
}

impl From<u16> for SignatureScheme {
    fn from(code: u16) -> Self {
        NAMED
            .iter()
            .find(|(_, named, _)| *named == code)
            .map_or(Self::Other(code), |(scheme, _, _)| *scheme)
    }
}

impl From<SignatureScheme> for u16 {
    fn from(scheme: SignatureScheme) -> Self {
        scheme.code_point()
    }
}

impl PartialEq for SignatureScheme {
    fn eq(&self, other: &Self) -> bool {
        self.code_point() == other.code_point()
    }
}

impl Hash for SignatureScheme {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code_point().hash(state);
    }
}

/// The RFC 8446 name, or the code point in hex (`0x0202`) for an unnamed one.
impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#06x}", self.code_point()),
        }
    }
}

/// The self-signature algorithms accepted (rust-libp2p's set). Each pins the key type
/// and, for ECDSA, the curve to the hash: P-256 with SHA-256, P-384 with SHA-384.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// ecdsa-with-SHA256 over a P-256 key (what go-libp2p, rust-libp2p and p2psec make).
    EcdsaP256Sha256,
    /// ecdsa-with-SHA384 over a P-384 key.
    EcdsaP384Sha384,
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, salt 32) over an rsaEncryption key.
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384 (MGF1 SHA-384, salt 48) over an rsaEncryption key.
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512 (MGF1 SHA-512, salt 64) over an rsaEncryption key.
    RsaPssSha512,
    /// sha256WithRSAEncryption. Parses, but TLS 1.3 forbids PKCS#1 v1.5 in
    /// `CertificateVerify`, so a handshake with such a certificate always fails.
    RsaPkcs1Sha256,
    /// sha384WithRSAEncryption (see [`SignatureAlgorithm::RsaPkcs1Sha256`]).
    RsaPkcs1Sha384,
    /// sha512WithRSAEncryption (see [`SignatureAlgorithm::RsaPkcs1Sha256`]).
    RsaPkcs1Sha512,
}

impl SignatureAlgorithm {
    /// The TLS 1.3 `CertificateVerify` scheme the certificate key must use (rust-libp2p
    /// pins it to the self-signature's algorithm); `None` for RSA PKCS#1 v1.5, which TLS
    /// 1.3 does not allow there (RFC 8446 §4.4.3).
    pub fn tls13_scheme(self) -> Option<SignatureScheme> {
        match self {
            Self::EcdsaP256Sha256 => Some(SignatureScheme::EcdsaNistp256Sha256),
            Self::EcdsaP384Sha384 => Some(SignatureScheme::EcdsaNistp384Sha384),
            Self::Ed25519 => Some(SignatureScheme::Ed25519),
            Self::RsaPssSha256 => Some(SignatureScheme::RsaPssSha256),
            Self::RsaPssSha384 => Some(SignatureScheme::RsaPssSha384),
            Self::RsaPssSha512 => Some(SignatureScheme::RsaPssSha512),
            Self::RsaPkcs1Sha256 | Self::RsaPkcs1Sha384 | Self::RsaPkcs1Sha512 => None,
        }
    }

    /// A short name: `ecdsa-p256-sha256`, `ed25519`, `rsa-pss-sha256`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Self::EcdsaP384Sha384 => "ecdsa-p384-sha384",
            Self::Ed25519 => "ed25519",
            Self::RsaPssSha256 => "rsa-pss-sha256",
            Self::RsaPssSha384 => "rsa-pss-sha384",
            Self::RsaPssSha512 => "rsa-pss-sha512",
            Self::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            Self::RsaPkcs1Sha384 => "rsa-pkcs1-sha384",
            Self::RsaPkcs1Sha512 => "rsa-pkcs1-sha512",
        }
    }

    /// The verifier used for this algorithm (self-signature and `CertificateVerify`).
    pub(super) fn verifier(self) -> &'static dyn SignatureVerificationAlgorithm {
        match self {
            Self::EcdsaP256Sha256 => algs::ECDSA_P256_SHA256,
            Self::EcdsaP384Sha384 => algs::ECDSA_P384_SHA384,
            Self::Ed25519 => algs::ED25519,
            Self::RsaPssSha256 => algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            Self::RsaPssSha384 => algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            Self::RsaPssSha512 => algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            Self::RsaPkcs1Sha256 => algs::RSA_PKCS1_2048_8192_SHA256,
            Self::RsaPkcs1Sha384 => algs::RSA_PKCS1_2048_8192_SHA384,
            Self::RsaPkcs1Sha512 => algs::RSA_PKCS1_2048_8192_SHA512,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every accepted signature `AlgorithmIdentifier`, as webpki encodes it, with the
/// algorithm it means. RFC 4055 says the RSA PKCS#1 parameters MUST be NULL and that
/// implementations MUST accept them absent too, hence two entries for each.
pub(super) fn accepted() -> [(
    SignatureAlgorithm,
    &'static dyn SignatureVerificationAlgorithm,
); 12] {
    use SignatureAlgorithm as A;
    [
        (A::EcdsaP256Sha256, A::EcdsaP256Sha256.verifier()),
        (A::EcdsaP384Sha384, A::EcdsaP384Sha384.verifier()),
        (A::Ed25519, A::Ed25519.verifier()),
        (A::RsaPssSha256, A::RsaPssSha256.verifier()),
        (A::RsaPssSha384, A::RsaPssSha384.verifier()),
        (A::RsaPssSha512, A::RsaPssSha512.verifier()),
        (A::RsaPkcs1Sha256, A::RsaPkcs1Sha256.verifier()),
        (A::RsaPkcs1Sha384, A::RsaPkcs1Sha384.verifier()),
        (A::RsaPkcs1Sha512, A::RsaPkcs1Sha512.verifier()),
        (
            A::RsaPkcs1Sha256,
            algs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        ),
        (
            A::RsaPkcs1Sha384,
            algs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        ),
        (
            A::RsaPkcs1Sha512,
            algs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn schemes_round_trip_through_their_code_points() {
        for code in 0..=u16::MAX {
            let scheme = SignatureScheme::from(code);
            assert_eq!(u16::from(scheme), code);
            assert_eq!(
                matches!(scheme, SignatureScheme::Other(_)),
                scheme.name().is_none()
            );
        }
        for (scheme, code, name) in NAMED {
            assert_eq!(scheme.code_point(), code);
            assert_eq!(SignatureScheme::Other(code), scheme);
            assert_eq!(scheme.to_string(), name);
        }
        assert_eq!(SignatureScheme::Other(0x0202).to_string(), "0x0202");
    }

    #[test]
    fn each_algorithm_allows_the_scheme_of_its_own_key() {
        use SignatureAlgorithm as A;
        use SignatureScheme as S;
        assert_eq!(
            A::EcdsaP256Sha256.tls13_scheme(),
            Some(S::EcdsaNistp256Sha256)
        );
        assert_eq!(A::RsaPssSha384.tls13_scheme(), Some(S::RsaPssSha384));
        assert_eq!(A::RsaPkcs1Sha256.tls13_scheme(), None);
    }
}
