//! Errors of the identity layer, grouped by what was wrong.

use alloc::string::String;

/// A key, a signature or a PeerId could not be decoded, or a key could not be used.
///
/// Each variant names the rule that the input broke, so a caller (or a log) can tell a
/// truncated message from a key on the wrong curve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- the protobuf envelope (`08 <type> 12 <len> <data>`) ---
    /// The protobuf bytes end before the message does.
    #[error("key protobuf truncated: {what}")]
    Truncated {
        /// Which part was cut off.
        what: &'static str,
    },
    /// A varint in the protobuf is longer than 10 bytes or overflows 64 bits.
    #[error("key protobuf has an invalid varint")]
    InvalidVarint,
    /// A required field (`Type` or `Data`) is absent.
    #[error("key protobuf is missing its required field `{field}`")]
    MissingField {
        /// `Type` or `Data`.
        field: &'static str,
    },
    /// A field number or wire type that the key messages do not have.
    #[error("key protobuf has an unexpected field (tag {tag}, wire type {wire_type})")]
    UnexpectedField {
        /// The field number.
        tag: u64,
        /// The protobuf wire type.
        wire_type: u8,
    },
    /// Bytes follow the complete message.
    #[error("key protobuf is followed by {len} trailing bytes")]
    TrailingBytes {
        /// How many bytes follow.
        len: usize,
    },
    /// The message decodes but is not the one deterministic encoding the spec requires
    /// (a varint that is not minimal), so a PeerId or signature over it would differ.
    #[error("key protobuf is not canonically encoded")]
    NonCanonicalEncoding,
    /// The `Type` field holds a value outside the KeyType enum.
    #[error("unknown key type {0}")]
    UnknownKeyType(u64),
    /// The key type is known but support for it is not compiled in (feature `rsa`).
    #[error("key type {0} is not supported by this build")]
    UnsupportedKeyType(&'static str),

    // --- the key material inside `Data` ---
    /// `Data` has the wrong length for its key type.
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
    /// small order where the curve has them).
    #[error("{key_type} public key is not a valid curve point")]
    InvalidPoint {
        /// The key type.
        key_type: &'static str,
    },
    /// A private key scalar is zero or not below the group order.
    #[error("{key_type} private key is out of range")]
    InvalidScalar {
        /// The key type.
        key_type: &'static str,
    },
    /// The DER structure around a key (SPKI, SEC1 ECPrivateKey, PKCS#1) is malformed.
    #[error("{key_type} key DER is malformed: {reason}")]
    InvalidDer {
        /// The key type.
        key_type: &'static str,
        /// What the DER parser reported.
        reason: String,
    },
    /// An ECDSA key on a curve other than P-256 (the only curve rust-libp2p supports).
    #[error("ECDSA key is not on P-256")]
    UnsupportedCurve,
    /// A valid key in an encoding other than the canonical one (for example an
    /// uncompressed secp256k1 point): accepting it would give a different PeerId from the
    /// one its owner computes.
    #[error("{key_type} key is valid but not canonically encoded ({reason})")]
    NonCanonicalKey {
        /// The key type.
        key_type: &'static str,
        /// Which canonical form was expected.
        reason: &'static str,
    },
    /// The public half stored with an Ed25519 private key does not match its seed.
    #[error("Ed25519 private key's public half does not match its seed")]
    KeyPairMismatch,
    /// An RSA modulus outside the sizes libp2p implementations accept (2048 to 8192 bits).
    #[error("RSA key of {bits} bits is outside 2048..=8192")]
    RsaKeySize {
        /// The modulus size.
        bits: usize,
    },

    // --- PeerIds ---
    /// A PeerId's multihash is malformed or uses a hash other than identity or sha2-256.
    #[error("invalid PeerId multihash: {reason}")]
    InvalidMultihash {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// PeerId text is neither base58btc nor a multibase CID.
    #[error("invalid PeerId text: {reason}")]
    InvalidPeerIdText {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A CID whose multicodec is not `libp2p-key` (0x72).
    #[error("CID codec {codec:#x} is not libp2p-key (0x72)")]
    WrongCidCodec {
        /// The codec found.
        codec: u64,
    },
    /// The PeerId is a sha2-256 hash, so it does not contain the public key.
    #[error("PeerId is a hash and does not embed its public key")]
    NoEmbeddedKey,

    // --- multiaddrs ---
    /// A multiaddr's text form could not be parsed.
    #[error("invalid multiaddr: {reason}")]
    InvalidMultiaddr {
        /// What is wrong with it.
        reason: String,
    },

    // --- signatures ---
    /// A signature is malformed or does not verify.
    #[error("{key_type} signature is invalid")]
    InvalidSignature {
        /// The key type.
        key_type: &'static str,
    },
    /// The local key could not sign (RSA internal failure).
    #[error("signing with {key_type} key failed")]
    SigningFailed {
        /// The key type.
        key_type: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("randomness unavailable")]
    RandomnessUnavailable,
}
