//! Errors of the SECIO layer, grouped by fault (STYLE.md).

use alloc::string::String;

use crate::identity::{self, PeerId};

/// Why a SECIO handshake or session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// A frame's length prefix is above the limit (the configured frame limit, 4 MiB by
    /// default and at most 8 MiB as go and rust enforce; smaller during the handshake).
    #[error("secio frame of {len} bytes is larger than the {max}-byte limit")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// The limit that applied.
        max: usize,
    },
    /// The peer's stream ended inside a frame.
    #[error("secio stream ended inside a frame ({have} bytes of it arrived)")]
    TruncatedFrame {
        /// Bytes of the cut frame that arrived.
        have: usize,
    },
    /// An encrypted frame shorter than its MAC.
    #[error("secio frame of {len} bytes is shorter than its {mac_len}-byte MAC")]
    FrameTooShort {
        /// The announced length.
        len: usize,
        /// The MAC length of the agreed hash.
        mac_len: usize,
    },
    /// A handshake message is not a valid protobuf `Propose` or `Exchange`.
    #[error("secio {message} message is malformed protobuf")]
    Malformed {
        /// `Propose` or `Exchange`.
        message: &'static str,
    },
    /// A handshake message lacks a field the protocol needs.
    #[error("secio {message} message lacks its {field} field")]
    MissingField {
        /// `Propose` or `Exchange`.
        message: &'static str,
        /// The field name.
        field: &'static str,
    },
    /// The Propose nonce is not 16 bytes (every implementation sends 16).
    #[error("secio Propose nonce has {len} bytes, expected 16")]
    BadNonceLength {
        /// Its length.
        len: usize,
    },
    /// The ephemeral public key is not an uncompressed point on the agreed curve.
    #[error("secio ephemeral key is not an uncompressed {curve} point")]
    BadEphemeralKey {
        /// The agreed curve.
        curve: &'static str,
    },

    // --- the peer misbehaved ---
    /// The remote identity key does not decode (unsupported type, malformed, ...).
    #[error("secio remote identity key: {0}")]
    RemoteKey(#[source] identity::Error),
    /// The remote is not the peer the dialer asked for.
    #[error("remote PeerId is {got}, expected {expected}")]
    UnexpectedPeer {
        /// The PeerId the dialer expected.
        expected: PeerId,
        /// The PeerId the remote's key gives.
        got: PeerId,
    },
    /// Both sides' ordering hashes are equal: the same key and nonce, a connection to self.
    #[error("secio peer is talking to itself (equal ordering hashes)")]
    TalkingToSelf,
    /// The Exchange signature does not verify under the remote identity key.
    #[error("secio Exchange signature does not verify under the remote identity key")]
    BadSignature,
    /// The first encrypted bytes are not our nonce: the peer derived other keys.
    #[error("secio nonce echo does not match our nonce")]
    NonceMismatch,
    /// A frame's MAC does not verify (tampering, or keys out of step).
    #[error("secio frame MAC does not verify")]
    MacMismatch,
    /// The peer sent handshake bytes after its last handshake message and before its nonce
    /// echo could be read, or more than the handshake allows.
    #[error("secio peer sent more handshake data than the protocol allows")]
    UnexpectedData,

    // --- no overlap ---
    /// The two proposals share no entry of one list.
    #[error("secio: no common {list} (ours {local:?}, theirs {remote:?})")]
    NoCommonAlgorithm {
        /// `exchange`, `cipher` or `hash`.
        list: &'static str,
        /// Our list as proposed.
        local: String,
        /// Theirs as proposed.
        remote: String,
    },

    // --- our side ---
    /// Signing the Exchange with our identity key failed.
    #[error("signing the secio Exchange failed: {0}")]
    Signing(#[source] identity::Error),
    /// A caller-provided buffer is too small; nothing was written.
    #[error("buffer too small: {required} bytes needed")]
    BufferTooSmall {
        /// The size needed.
        required: usize,
    },
    /// A plaintext longer than one frame may carry.
    #[error("plaintext of {len} bytes is longer than the {max}-byte frame limit")]
    PlaintextTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A configuration or call the protocol cannot honour (names the rule).
    #[error("secio API misuse: {0}")]
    ApiMisuse(&'static str),
    /// A length rule inside p2psec broke (a key, tag or nonce of the wrong size): a bug of
    /// ours, never the peer's doing; reported instead of panicking or filling in zeros.
    #[error("secio internal error: {0}")]
    Internal(&'static str),
}
