//! Errors of the Noise layer, grouped by fault (STYLE.md).

use alloc::string::String;

use super::payload::PayloadError;
use crate::identity::{self, PeerId};

/// Why a Noise handshake or session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// A handshake message has the wrong size for its place in XX.
    #[error("noise message {message} has {len} bytes, expected {expected}")]
    BadMessageLength {
        /// 1, 2 or 3.
        message: u8,
        /// Its length.
        len: usize,
        /// What XX allows.
        expected: &'static str,
    },
    /// snow could not process a handshake message (authentication failed, a key was not a
    /// valid X25519 point, ...).
    #[error("noise message {message} rejected: {reason}")]
    Handshake {
        /// 1, 2 or 3.
        message: u8,
        /// What snow reported.
        reason: String,
    },
    /// The handshake payload is not a well-formed NoiseHandshakePayload.
    #[error("noise message {message} payload: {source}")]
    Payload {
        /// 2 or 3.
        message: u8,
        /// The rule it broke.
        #[source]
        source: PayloadError,
    },
    /// A transport frame shorter than its authentication tag.
    #[error("transport frame of {len} bytes is shorter than the 16-byte tag")]
    FrameTooShort {
        /// The frame length.
        len: usize,
    },

    // --- the peer misbehaved ---
    /// Message 1 carried a payload; XX's first message must not (spec).
    #[error("noise message 1 carries a {len}-byte payload; it must be empty")]
    PayloadInFirstMessage {
        /// The payload length.
        len: usize,
    },
    /// The payload lacks the identity key or signature.
    #[error("noise payload is missing its {field}")]
    MissingIdentity {
        /// `identity_key` or `identity_sig`.
        field: &'static str,
    },
    /// The identity key does not decode (unsupported type, malformed, off-curve, ...).
    #[error("noise payload identity key: {0}")]
    IdentityKey(#[source] identity::Error),
    /// The identity signature does not sign this handshake's static key with that key.
    #[error("identity signature over the noise static key does not verify")]
    BadSignature,
    /// The remote is not the peer the dialer asked for.
    #[error("remote PeerId is {got}, expected {expected}")]
    UnexpectedPeer {
        /// The PeerId the dialer expected.
        expected: PeerId,
        /// The PeerId the remote proved.
        got: PeerId,
    },
    /// A transport frame failed authentication (tampering, or keys out of step).
    #[error("transport frame failed authentication")]
    Decrypt,

    // --- no overlap ---
    /// Both sides listed muxers and none is common (spec: the handshake MUST fail).
    #[error("no common stream muxer: ours {ours:?}, theirs {theirs:?}")]
    NoCommonMuxer {
        /// Our list.
        ours: alloc::vec::Vec<String>,
        /// The peer's list.
        theirs: alloc::vec::Vec<String>,
    },

    // --- limits ---
    /// 2^64 - 1 messages were sent or received in one direction (Noise reserves the last
    /// nonce); the session must end.
    #[error("nonce exhausted: the session must be closed")]
    NonceExhausted,

    // --- caller bugs ---
    /// A buffer cannot hold the result; nothing was written.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// The size needed.
        required: usize,
    },
    /// A plaintext longer than one frame can carry.
    #[error("plaintext of {len} bytes exceeds the {max}-byte frame limit")]
    PlaintextTooLong {
        /// Its length.
        len: usize,
        /// [`MAX_PLAINTEXT_LEN`](super::MAX_PLAINTEXT_LEN).
        max: usize,
    },
    /// A method was called at the wrong point of the call contract.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
    /// The local identity key could not sign.
    #[error("local identity could not sign: {0}")]
    Signing(#[source] identity::Error),
}
