//! Errors of the SECIO layer, grouped by fault (STYLE.md).

use alloc::string::String;

use crate::error::Fault;
use crate::identity::{self, PeerId};

/// Why a SECIO handshake or session ended.
///
/// [`Error::fault`] groups the variants; [`Error::code`] is a stable number per variant,
/// for bindings ([`crate::error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// A frame's length prefix is above the limit (the configured frame limit, 4 MiB by
    /// default and at most 8 MiB as go and rust enforce; smaller during the handshake). Code 5101.
    #[error("secio frame of {len} bytes is larger than the {max}-byte limit")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// The limit that applied.
        max: usize,
    },
    /// The peer's stream ended inside a frame. Code 5102.
    #[error("secio stream ended inside a frame ({have} bytes of it arrived)")]
    TruncatedFrame {
        /// Bytes of the cut frame that arrived.
        have: usize,
    },
    /// An encrypted frame shorter than its MAC. Code 5103.
    #[error("secio frame of {len} bytes is shorter than its {mac_len}-byte MAC")]
    FrameTooShort {
        /// The announced length.
        len: usize,
        /// The MAC length of the agreed hash.
        mac_len: usize,
    },
    /// A handshake message is not a valid protobuf `Propose` or `Exchange`. Code 5104.
    #[error("secio {message} message is malformed protobuf")]
    Malformed {
        /// `Propose` or `Exchange`.
        message: &'static str,
    },
    /// A handshake message lacks a field the protocol needs. Code 5105.
    #[error("secio {message} message lacks its {field} field")]
    MissingField {
        /// `Propose` or `Exchange`.
        message: &'static str,
        /// The field name.
        field: &'static str,
    },
    /// The Propose nonce is not 16 bytes (every implementation sends 16). Code 5106.
    #[error("secio Propose nonce has {len} bytes, expected 16")]
    BadNonceLength {
        /// Its length.
        len: usize,
    },
    /// The ephemeral public key is not an uncompressed point on the agreed curve. Code 5107.
    #[error("secio ephemeral key is not an uncompressed {curve} point")]
    BadEphemeralKey {
        /// The agreed curve.
        curve: &'static str,
    },

    // --- the peer misbehaved ---
    /// The remote identity key does not decode (unsupported type, malformed, ...).
    /// Its code and fault are the wrapped error's.
    #[error("secio remote identity key: {0}")]
    RemoteKey(#[source] identity::Error),
    /// The remote is not the peer the dialer asked for. Code 5201.
    #[error("remote PeerId is {got}, expected {expected}")]
    UnexpectedPeer {
        /// The PeerId the dialer expected.
        expected: PeerId,
        /// The PeerId the remote's key gives.
        got: PeerId,
    },
    /// Both sides' ordering hashes are equal: the same key and nonce, a connection to self.
    /// Code 5202.
    #[error("secio peer is talking to itself (equal ordering hashes)")]
    TalkingToSelf,
    /// The Exchange signature does not verify under the remote identity key. Code 5203.
    #[error("secio Exchange signature does not verify under the remote identity key")]
    BadSignature,
    /// The first encrypted bytes are not our nonce: the peer derived other keys. Code 5204.
    #[error("secio nonce echo does not match our nonce")]
    NonceMismatch,
    /// A frame's MAC does not verify (tampering, or keys out of step). Code 5205.
    #[error("secio frame MAC does not verify")]
    MacMismatch,
    /// The peer sent handshake bytes after its last handshake message and before its nonce
    /// echo could be read, or more than the handshake allows. Code 5206.
    #[error("secio peer sent more handshake data than the protocol allows")]
    UnexpectedData,

    // --- no overlap ---
    /// The two proposals share no entry of one list. Code 5301.
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
    /// Its code and fault are the wrapped error's.
    #[error("signing the secio Exchange failed: {0}")]
    Signing(#[source] identity::Error),
    /// A caller-provided buffer is too small; nothing was written. Code 5401.
    #[error("buffer too small: {required} bytes needed")]
    BufferTooSmall {
        /// The size needed.
        required: usize,
    },
    /// A plaintext longer than one frame may carry. Code 5402.
    #[error("plaintext of {len} bytes is longer than the {max}-byte frame limit")]
    PlaintextTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A configuration or call the protocol cannot honour (names the rule). Code 5403.
    #[error("secio API misuse: {0}")]
    ApiMisuse(&'static str),
    /// A length rule inside p2psec broke (a key, tag or nonce of the wrong size): a bug of
    /// ours, never the peer's doing; reported instead of panicking or filling in zeros. Code 5501.
    #[error("secio internal error: {0}")]
    Internal(&'static str),
}

impl Error {
    /// The group this error belongs to (the wrapped error's for `RemoteKey` and `Signing`).
    pub fn fault(&self) -> Fault {
        match self {
            Error::RemoteKey(e) | Error::Signing(e) => e.fault(),
            Error::FrameTooLarge { .. }
            | Error::TruncatedFrame { .. }
            | Error::FrameTooShort { .. }
            | Error::Malformed { .. }
            | Error::MissingField { .. }
            | Error::BadNonceLength { .. }
            | Error::BadEphemeralKey { .. } => Fault::InvalidMessage,
            Error::UnexpectedPeer { .. }
            | Error::TalkingToSelf
            | Error::BadSignature
            | Error::NonceMismatch
            | Error::MacMismatch
            | Error::UnexpectedData => Fault::PeerMisbehaved,
            Error::NoCommonAlgorithm { .. } => Fault::PeerIncompatible,
            Error::BufferTooSmall { .. } | Error::PlaintextTooLong { .. } | Error::ApiMisuse(_) => {
                Fault::ApiMisuse
            }
            Error::Internal(_) => Fault::Local,
        }
    }

    /// A stable number for this variant, `5GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. Each variant's doc gives its code; `RemoteKey` and
    /// `Signing` answer the wrapped identity error's (`1GNN`), the root cause.
    pub fn code(&self) -> u16 {
        match self {
            Error::RemoteKey(e) | Error::Signing(e) => e.code(),
            Error::FrameTooLarge { .. } => 5101,
            Error::TruncatedFrame { .. } => 5102,
            Error::FrameTooShort { .. } => 5103,
            Error::Malformed { .. } => 5104,
            Error::MissingField { .. } => 5105,
            Error::BadNonceLength { .. } => 5106,
            Error::BadEphemeralKey { .. } => 5107,
            Error::UnexpectedPeer { .. } => 5201,
            Error::TalkingToSelf => 5202,
            Error::BadSignature => 5203,
            Error::NonceMismatch => 5204,
            Error::MacMismatch => 5205,
            Error::UnexpectedData => 5206,
            Error::NoCommonAlgorithm { .. } => 5301,
            Error::BufferTooSmall { .. } => 5401,
            Error::PlaintextTooLong { .. } => 5402,
            Error::ApiMisuse(_) => 5403,
            Error::Internal(_) => 5501,
        }
    }
}

#[cfg(test)]
impl Error {
    /// One value of every variant that does not wrap another layer's error.
    pub(crate) fn own_variants() -> alloc::vec::Vec<Self> {
        let peer = || {
            let seed = &mut [7; 32];
            identity::Keypair::Ed25519(identity::ed25519::Keypair::from_seed(seed)).peer_id()
        };
        alloc::vec![
            Error::FrameTooLarge { len: 2, max: 1 },
            Error::TruncatedFrame { have: 1 },
            Error::FrameTooShort {
                len: 1,
                mac_len: 32
            },
            Error::Malformed { message: "Propose" },
            Error::MissingField {
                message: "Propose",
                field: "rand",
            },
            Error::BadNonceLength { len: 15 },
            Error::BadEphemeralKey { curve: "P-256" },
            Error::UnexpectedPeer {
                expected: peer(),
                got: peer(),
            },
            Error::TalkingToSelf,
            Error::BadSignature,
            Error::NonceMismatch,
            Error::MacMismatch,
            Error::UnexpectedData,
            Error::NoCommonAlgorithm {
                list: "cipher",
                local: String::from("AES-256"),
                remote: String::from("Blowfish"),
            },
            Error::BufferTooSmall { required: 1 },
            Error::PlaintextTooLong { len: 2, max: 1 },
            Error::ApiMisuse("x"),
            Error::Internal("x"),
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
        crate::error::check_layer(crate::error::Layer::Secio, include_str!("error.rs"), &own);
        for inner in identity::Error::own_variants() {
            for e in [
                Error::RemoteKey(inner.clone()),
                Error::Signing(inner.clone()),
            ] {
                assert_eq!((e.code(), e.fault()), (inner.code(), inner.fault()));
            }
        }
    }
}
