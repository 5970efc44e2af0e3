//! Errors of the identity layer, grouped by what was wrong.

use alloc::string::String;

use crate::error::Fault;

/// A key, a signature or a PeerId could not be decoded, or a key could not be used.
///
/// Each variant names the rule that the input broke, so a caller (or a log) can tell a
/// truncated message from a key on the wrong curve. [`Error::fault`] groups them (taking
/// the input to be the peer's); [`Error::code`] is a stable number per variant, for
/// bindings ([`crate::error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- the protobuf envelope (`08 <type> 12 <len> <data>`) ---
    /// The protobuf bytes end before the message does. Code 1101.
    #[error("key protobuf truncated: {what}")]
    Truncated {
        /// Which part was cut off.
        what: &'static str,
    },
    /// A varint in the protobuf is longer than 10 bytes or overflows 64 bits. Code 1102.
    #[error("key protobuf has an invalid varint")]
    InvalidVarint,
    /// A required field (`Type` or `Data`) is absent. Code 1103.
    #[error("key protobuf is missing its required field `{field}`")]
    MissingField {
        /// `Type` or `Data`.
        field: &'static str,
    },
    /// A field number or wire type that the key messages do not have. Code 1104.
    #[error("key protobuf has an unexpected field (tag {tag}, wire type {wire_type})")]
    UnexpectedField {
        /// The field number.
        tag: u64,
        /// The protobuf wire type.
        wire_type: u8,
    },
    /// Bytes follow the complete message. Code 1105.
    #[error("key protobuf is followed by {len} trailing bytes")]
    TrailingBytes {
        /// How many bytes follow.
        len: usize,
    },
    /// The message decodes but is not the one deterministic encoding the spec requires
    /// (a varint that is not minimal), so a PeerId or signature over it would differ. Code 1106.
    #[error("key protobuf is not canonically encoded")]
    NonCanonicalEncoding,
    /// The `Type` field holds a value outside the KeyType enum. Code 1107.
    #[error("unknown key type {0}")]
    UnknownKeyType(u64),
    /// The key type is known but support for it is not compiled in (feature `rsa`). Code 1301.
    #[error("key type {0} is not supported by this build")]
    UnsupportedKeyType(&'static str),

    // --- the key material inside `Data` ---
    /// `Data` has the wrong length for its key type. Code 1108.
    #[error("{key_type} {what} has length {len}, expected {expected}")]
    InvalidKeyLength {
        /// The key type.
        key_type: &'static str,
        /// `public key` or `private key`.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The length (or lengths) allowed.
        expected: &'static str,
    },
    /// A public key is not a valid point on its curve (or is the identity, or a point of
    /// small order where the curve has them). Code 1109.
    #[error("{key_type} public key is not a valid curve point")]
    InvalidPoint {
        /// The key type.
        key_type: &'static str,
    },
    /// A private key scalar is zero or not below the group order. Code 1110.
    #[error("{key_type} private key is out of range")]
    InvalidScalar {
        /// The key type.
        key_type: &'static str,
    },
    /// The DER structure around a key (SPKI, SEC1 ECPrivateKey, PKCS#1) is malformed. Code 1111.
    #[error("{key_type} key DER is malformed: {reason}")]
    InvalidDer {
        /// The key type.
        key_type: &'static str,
        /// What the DER parser reported.
        reason: String,
    },
    /// An ECDSA key on a curve other than P-256 (the only curve rust-libp2p supports). Code 1302.
    #[error("ECDSA key is not on P-256")]
    UnsupportedCurve,
    /// A valid key in an encoding other than the canonical one (for example an
    /// uncompressed secp256k1 point): accepting it would give a different PeerId from the
    /// one its owner computes. Code 1112.
    #[error("{key_type} key is valid but not canonically encoded ({reason})")]
    NonCanonicalKey {
        /// The key type.
        key_type: &'static str,
        /// Which canonical form was expected.
        reason: &'static str,
    },
    /// The public half stored with an Ed25519 private key does not match its seed. Code 1113.
    #[error("Ed25519 private key's public half does not match its seed")]
    KeyPairMismatch,
    /// An RSA modulus outside the sizes libp2p implementations accept (2048 to 8192 bits;
    /// 1024 to 2047 is [`Error::LegacyRsaKey`]). Code 1303.
    #[error("RSA key of {bits} bits is outside 2048..=8192")]
    RsaKeySize {
        /// The modulus size.
        bits: usize,
    },
    /// A peer's RSA key of 1024 to 2047 bits: the size old js-libp2p and go-libp2p nodes
    /// still use, refused unless the handshake allows legacy RSA keys
    /// ([`KeyPolicy::allowing_legacy_rsa_1024`](super::KeyPolicy)). Code 1304.
    #[error(
        "RSA key of {bits} bits is below 2048: a legacy size, refused unless legacy RSA keys are allowed"
    )]
    LegacyRsaKey {
        /// The modulus size.
        bits: usize,
    },

    // --- PeerIds ---
    /// A PeerId's multihash is malformed or uses a hash other than identity or sha2-256. Code 1114.
    #[error("invalid PeerId multihash: {reason}")]
    InvalidMultihash {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// PeerId text is neither base58btc nor a multibase CID. Code 1115.
    #[error("invalid PeerId text: {reason}")]
    InvalidPeerIdText {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A CID whose multicodec is not `libp2p-key` (0x72). Code 1116.
    #[error("CID codec {codec:#x} is not libp2p-key (0x72)")]
    WrongCidCodec {
        /// The codec found.
        codec: u64,
    },
    /// The PeerId is a sha2-256 hash, so it does not contain the public key. Code 1401.
    #[error("PeerId is a hash and does not embed its public key")]
    NoEmbeddedKey,

    // --- multiaddrs ---
    /// A multiaddr's text form could not be parsed. Code 1117.
    #[error("invalid multiaddr: {reason}")]
    InvalidMultiaddr {
        /// What is wrong with it.
        reason: String,
    },

    // --- signatures ---
    /// A signature is malformed or does not verify. Code 1201.
    #[error("{key_type} signature is invalid")]
    InvalidSignature {
        /// The key type.
        key_type: &'static str,
    },
    /// The local key could not sign (RSA internal failure). Code 1501.
    #[error("signing with {key_type} key failed")]
    SigningFailed {
        /// The key type.
        key_type: &'static str,
    },
    /// The operating system's random number generator failed. Code 1502.
    #[error("randomness unavailable")]
    RandomnessUnavailable,
}

impl Error {
    /// The group this error belongs to, as if the input came from the peer.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Truncated { .. }
            | Error::InvalidVarint
            | Error::MissingField { .. }
            | Error::UnexpectedField { .. }
            | Error::TrailingBytes { .. }
            | Error::NonCanonicalEncoding
            | Error::UnknownKeyType(_)
            | Error::InvalidKeyLength { .. }
            | Error::InvalidPoint { .. }
            | Error::InvalidScalar { .. }
            | Error::InvalidDer { .. }
            | Error::NonCanonicalKey { .. }
            | Error::KeyPairMismatch
            | Error::InvalidMultihash { .. }
            | Error::InvalidPeerIdText { .. }
            | Error::WrongCidCodec { .. }
            | Error::InvalidMultiaddr { .. } => Fault::InvalidMessage,
            Error::InvalidSignature { .. } => Fault::PeerMisbehaved,
            Error::UnsupportedKeyType(_)
            | Error::UnsupportedCurve
            | Error::RsaKeySize { .. }
            | Error::LegacyRsaKey { .. } => Fault::PeerIncompatible,
            Error::NoEmbeddedKey => Fault::ApiMisuse,
            Error::SigningFailed { .. } | Error::RandomnessUnavailable => Fault::Local,
        }
    }

    /// A stable number for this variant, `1GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. Each variant's doc gives its code.
    pub fn code(&self) -> u16 {
        match self {
            Error::Truncated { .. } => 1101,
            Error::InvalidVarint => 1102,
            Error::MissingField { .. } => 1103,
            Error::UnexpectedField { .. } => 1104,
            Error::TrailingBytes { .. } => 1105,
            Error::NonCanonicalEncoding => 1106,
            Error::UnknownKeyType(_) => 1107,
            Error::InvalidKeyLength { .. } => 1108,
            Error::InvalidPoint { .. } => 1109,
            Error::InvalidScalar { .. } => 1110,
            Error::InvalidDer { .. } => 1111,
            Error::NonCanonicalKey { .. } => 1112,
            Error::KeyPairMismatch => 1113,
            Error::InvalidMultihash { .. } => 1114,
            Error::InvalidPeerIdText { .. } => 1115,
            Error::WrongCidCodec { .. } => 1116,
            Error::InvalidMultiaddr { .. } => 1117,
            Error::InvalidSignature { .. } => 1201,
            Error::UnsupportedKeyType(_) => 1301,
            Error::UnsupportedCurve => 1302,
            Error::RsaKeySize { .. } => 1303,
            Error::LegacyRsaKey { .. } => 1304,
            Error::NoEmbeddedKey => 1401,
            Error::SigningFailed { .. } => 1501,
            Error::RandomnessUnavailable => 1502,
        }
    }
}

#[cfg(test)]
impl Error {
    /// One value of every variant (none wraps another layer's error).
    pub(crate) fn own_variants() -> alloc::vec::Vec<Self> {
        let key_type = "Ed25519";
        alloc::vec![
            Error::Truncated { what: "Data" },
            Error::InvalidVarint,
            Error::MissingField { field: "Type" },
            Error::UnexpectedField {
                tag: 3,
                wire_type: 0,
            },
            Error::TrailingBytes { len: 1 },
            Error::NonCanonicalEncoding,
            Error::UnknownKeyType(9),
            Error::UnsupportedKeyType("RSA"),
            Error::InvalidKeyLength {
                key_type,
                what: "public key",
                len: 31,
                expected: "32",
            },
            Error::InvalidPoint { key_type },
            Error::InvalidScalar { key_type },
            Error::InvalidDer {
                key_type,
                reason: String::from("short"),
            },
            Error::UnsupportedCurve,
            Error::NonCanonicalKey {
                key_type,
                reason: "compressed",
            },
            Error::KeyPairMismatch,
            Error::RsaKeySize { bits: 512 },
            Error::LegacyRsaKey { bits: 1024 },
            Error::InvalidMultihash { reason: "short" },
            Error::InvalidPeerIdText { reason: "empty" },
            Error::WrongCidCodec { codec: 0x55 },
            Error::NoEmbeddedKey,
            Error::InvalidMultiaddr {
                reason: String::from("empty"),
            },
            Error::InvalidSignature { key_type },
            Error::SigningFailed { key_type: "RSA" },
            Error::RandomnessUnavailable,
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
        crate::error::check_layer(
            crate::error::Layer::Identity,
            include_str!("error.rs"),
            &own,
        );
    }
}
