//! Which keys a handshake accepts from a peer beyond the default rules.

/// The keys a handshake accepts from a peer. The default ([`KeyPolicy::STRICT`]) is what
/// rust-libp2p accepts; the one exception that can be allowed is legacy RSA.
///
/// **Legacy RSA (1024 to 2047 bits).** js-libp2p and go-libp2p still verify RSA identities
/// of 1024 bits, which old nodes were created with; rust-libp2p refuses them, and so does
/// p2psec by default ([`Error::LegacyRsaKey`](super::Error::LegacyRsaKey)). Allowing them
/// lets such a node prove its PeerId, at a risk: a 1024-bit RSA modulus is within reach of
/// a well-funded factoring effort (NIST withdrew it in 2013), and whoever factors it can
/// impersonate that PeerId to everyone who allows it. Allow it only to reach known legacy
/// peers. Our own keys still sign only at 2048 bits or more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyPolicy {
    legacy_rsa_1024: bool,
}

impl KeyPolicy {
    /// The default: RSA from 2048 to 8192 bits, the other key types by their own rules.
    pub const STRICT: Self = Self {
        legacy_rsa_1024: false,
    };

    /// Also a peer's RSA keys of 1024 to 2047 bits (see the risk above).
    pub const fn allowing_legacy_rsa_1024() -> Self {
        Self {
            legacy_rsa_1024: true,
        }
    }

    /// Whether a peer's RSA key of 1024 to 2047 bits is accepted.
    pub const fn allows_legacy_rsa_1024(self) -> bool {
        self.legacy_rsa_1024
    }
}
