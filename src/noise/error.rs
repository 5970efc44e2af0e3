//! Errors of the Noise layer, grouped by fault (STYLE.md).

use alloc::string::String;
use alloc::vec::Vec;

use super::payload::PayloadError;
use crate::error::Fault;
use crate::identity::{self, PeerId};

/// Why a Noise handshake or session ended.
///
/// [`Error::fault`] groups the variants; [`Error::code`] is a stable number per variant,
/// for bindings ([`crate::error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// A handshake message has the wrong size for its place in XX. Code 3101.
    #[error("noise message {message} has {len} bytes, expected {expected}")]
    BadMessageLength {
        /// 1, 2 or 3.
        message: u8,
        /// Its length.
        len: usize,
        /// What XX allows.
        expected: &'static str,
    },
    /// The Noise layer refused a handshake message, the one read or the one being written
    /// (an AEAD tag did not authenticate, the peer's key gave an all-zero DH result, ...).
    /// Code 3102.
    #[error("noise message {message} rejected: {reason}")]
    Handshake {
        /// 1, 2 or 3.
        message: u8,
        /// Why: "decryption failed", "low-order DH public key", "message too short for
        /// its tokens", ...
        reason: String,
    },
    /// The handshake payload is not a well-formed NoiseHandshakePayload. Code 3103.
    #[error("noise message {message} payload: {source}")]
    Payload {
        /// 2 or 3.
        message: u8,
        /// The rule it broke.
        #[source]
        source: PayloadError,
    },
    /// A transport frame shorter than its authentication tag. Code 3104.
    #[error("transport frame of {len} bytes is shorter than the 16-byte tag")]
    FrameTooShort {
        /// The frame length.
        len: usize,
    },

    // --- the peer misbehaved ---
    /// Message 1 carried a payload; XX's first message must not (spec). Code 3201.
    #[error("noise message 1 carries a {len}-byte payload; it must be empty")]
    PayloadInFirstMessage {
        /// The payload length.
        len: usize,
    },
    /// The payload lacks the identity key or signature. Code 3202.
    #[error("noise payload is missing its {field}")]
    MissingIdentity {
        /// `identity_key` or `identity_sig`.
        field: &'static str,
    },
    /// The identity key does not decode (unsupported type, malformed, off-curve, ...).
    /// Its code and fault are the wrapped error's.
    #[error("noise payload identity key: {0}")]
    IdentityKey(#[source] identity::Error),
    /// The identity signature does not sign this handshake's static key with that key. Code 3203.
    #[error("identity signature over the noise static key does not verify")]
    BadSignature,
    /// The remote is not the peer the dialer asked for. Code 3204.
    #[error("remote PeerId is {got}, expected {expected}")]
    UnexpectedPeer {
        /// The PeerId the dialer expected.
        expected: PeerId,
        /// The PeerId the remote proved.
        got: PeerId,
    },
    /// A transport frame failed authentication (tampering, or keys out of step). Code 3205.
    #[error("transport frame failed authentication")]
    Decrypt,

    // --- no overlap ---
    /// Both sides listed muxers and none is common (spec: the handshake MUST fail).
    ///
    /// The peer's list is kept bounded, since a poisoned machine returns a clone of this
    /// error on every call: its first 8 entries, each cut to 64 bytes (then ending in
    /// `…`), and how many more there were. Code 3301.
    #[error(
        "no common stream muxer: ours {ours:?}, theirs {theirs:?}{}",
        Omitted(*.theirs_omitted)
    )]
    NoCommonMuxer {
        /// Our list.
        ours: Vec<String>,
        /// The start of the peer's list.
        theirs: Vec<String>,
        /// How many entries of the peer's list `theirs` leaves out.
        theirs_omitted: usize,
    },

    // --- limits ---
    /// 2^64 - 1 messages were sent or received in one direction (Noise reserves the last
    /// nonce); the session must end. Code 3501.
    #[error("nonce exhausted: the session must be closed")]
    NonceExhausted,

    // --- caller bugs ---
    /// A buffer cannot hold the result; nothing was written. Code 3401.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// The size needed.
        required: usize,
    },
    /// A plaintext longer than one frame can carry. Code 3402.
    #[error("plaintext of {len} bytes exceeds the {max}-byte frame limit")]
    PlaintextTooLong {
        /// Its length.
        len: usize,
        /// [`MAX_PLAINTEXT_LEN`](super::MAX_PLAINTEXT_LEN).
        max: usize,
    },
    /// A method was called at the wrong point of the call contract. Code 3403.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
    /// The local identity key could not sign. Its code and fault are the wrapped error's.
    #[error("local identity could not sign: {0}")]
    Signing(#[source] identity::Error),
}

impl Error {
    /// The group this error belongs to (the wrapped error's for `IdentityKey` and `Signing`).
    pub fn fault(&self) -> Fault {
        match self {
            Error::IdentityKey(e) | Error::Signing(e) => e.fault(),
            Error::BadMessageLength { .. }
            | Error::Handshake { .. }
            | Error::Payload { .. }
            | Error::FrameTooShort { .. } => Fault::InvalidMessage,
            Error::PayloadInFirstMessage { .. }
            | Error::MissingIdentity { .. }
            | Error::BadSignature
            | Error::UnexpectedPeer { .. }
            | Error::Decrypt => Fault::PeerMisbehaved,
            Error::NoCommonMuxer { .. } => Fault::PeerIncompatible,
            Error::BufferTooSmall { .. } | Error::PlaintextTooLong { .. } | Error::ApiMisuse(_) => {
                Fault::ApiMisuse
            }
            Error::NonceExhausted => Fault::Local,
        }
    }

    /// A stable number for this variant, `3GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. Each variant's doc gives its code; `IdentityKey` and
    /// `Signing` answer the wrapped identity error's (`1GNN`), the root cause.
    pub fn code(&self) -> u16 {
        match self {
            Error::IdentityKey(e) | Error::Signing(e) => e.code(),
            Error::BadMessageLength { .. } => 3101,
            Error::Handshake { .. } => 3102,
            Error::Payload { .. } => 3103,
            Error::FrameTooShort { .. } => 3104,
            Error::PayloadInFirstMessage { .. } => 3201,
            Error::MissingIdentity { .. } => 3202,
            Error::BadSignature => 3203,
            Error::UnexpectedPeer { .. } => 3204,
            Error::Decrypt => 3205,
            Error::NoCommonMuxer { .. } => 3301,
            Error::BufferTooSmall { .. } => 3401,
            Error::PlaintextTooLong { .. } => 3402,
            Error::ApiMisuse(_) => 3403,
            Error::NonceExhausted => 3501,
        }
    }
}

/// At most this many of the peer's muxer ids are kept in [`Error::NoCommonMuxer`]: enough
/// to see what it offered (real peers list two or three).
pub(crate) const REPORTED_MUXERS: usize = 8;
/// Longest muxer id kept in [`Error::NoCommonMuxer`], in bytes (real ids are under 20).
pub(crate) const REPORTED_MUXER_LEN: usize = 64;

impl Error {
    /// [`Error::NoCommonMuxer`] with the peer's list bounded (see there).
    pub(crate) fn no_common_muxer(ours: &[String], theirs: &[String]) -> Self {
        let shortened = |id: &String| {
            if id.len() <= REPORTED_MUXER_LEN {
                return id.clone();
            }
            let mut end = REPORTED_MUXER_LEN;
            while !id.is_char_boundary(end) {
                end -= 1;
            }
            let mut cut = String::with_capacity(end + '…'.len_utf8());
            cut.push_str(id.get(..end).unwrap_or_default());
            cut.push('…');
            cut
        };
        Self::NoCommonMuxer {
            ours: ours.to_vec(),
            theirs: theirs.iter().take(REPORTED_MUXERS).map(shortened).collect(),
            theirs_omitted: theirs.len().saturating_sub(REPORTED_MUXERS),
        }
    }
}

/// The tail of [`Error::NoCommonMuxer`]'s text: how many of the peer's ids are left out.
struct Omitted(usize);

impl core::fmt::Display for Omitted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, " and {n} more"),
        }
    }
}

#[cfg(test)]
impl Error {
    /// One value of every variant that does not wrap another layer's error.
    pub(crate) fn own_variants() -> Vec<Self> {
        let peer = || {
            crate::identity::Keypair::Ed25519(identity::ed25519::Keypair::from_seed(&mut [7; 32]))
                .peer_id()
        };
        alloc::vec![
            Error::BadMessageLength {
                message: 1,
                len: 31,
                expected: "32",
            },
            Error::Handshake {
                message: 2,
                reason: String::from("decryption failed"),
            },
            Error::Payload {
                message: 2,
                source: PayloadError::RemovedEarlyData,
            },
            Error::FrameTooShort { len: 15 },
            Error::PayloadInFirstMessage { len: 1 },
            Error::MissingIdentity {
                field: "identity_key",
            },
            Error::BadSignature,
            Error::UnexpectedPeer {
                expected: peer(),
                got: peer(),
            },
            Error::Decrypt,
            Error::no_common_muxer(&[String::from("/yamux/1.0.0")], &[]),
            Error::NonceExhausted,
            Error::BufferTooSmall { required: 16 },
            Error::PlaintextTooLong {
                len: 65536,
                max: 65519
            },
            Error::ApiMisuse("write before the handshake"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        let own: Vec<_> = Error::own_variants()
            .iter()
            .map(|e| (e.code(), e.fault()))
            .collect();
        crate::error::check_layer(crate::error::Layer::Noise, include_str!("error.rs"), &own);
        for inner in identity::Error::own_variants() {
            for e in [
                Error::IdentityKey(inner.clone()),
                Error::Signing(inner.clone()),
            ] {
                assert_eq!((e.code(), e.fault()), (inner.code(), inner.fault()));
            }
        }
    }
}
