//! The multistream-select error: one enum, variants grouped by whose fault it is.

use alloc::{boxed::Box, string::String, vec::Vec};

pub use crate::error::Fault;

/// Longest excerpt of peer-chosen text kept in an error, in bytes: enough to recognise a
/// protocol id, small enough that an error never holds a whole message.
pub(crate) const MAX_CONTEXT_LEN: usize = 64;

/// Why a multistream-select negotiation failed.
///
/// After a machine returns an error it is poisoned: every later `handle_input` returns the
/// same error. [`Error::fault`] tells the groups apart; [`Error::code`] is a stable number
/// per variant, for bindings ([`crate::error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- Malformed bytes (Fault::InvalidMessage) ---
    /// The length prefix did not end within [`MAX_LENGTH_PREFIX_LEN`](super::MAX_LENGTH_PREFIX_LEN)
    /// bytes, so it announces more than any acceptable message. Code 2101.
    #[error("length prefix longer than {max_bytes} bytes")]
    LengthPrefixTooLong {
        /// The longest prefix accepted.
        max_bytes: usize,
    },
    /// The length prefix has a redundant trailing zero group (unsigned-varint requires the
    /// minimal encoding). Code 2102.
    #[error("length prefix is not minimally encoded")]
    NonMinimalLengthPrefix,
    /// The length prefix announces a message above [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN).
    /// Code 2103.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    MessageTooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A length prefix of zero: every message holds at least its newline. Code 2104.
    #[error("empty message (length prefix 0)")]
    EmptyMessage,
    /// The message does not end with `'\n'`. Code 2105.
    #[error("message does not end with a newline")]
    MissingNewline,
    /// A protocol id that is not valid UTF-8. Code 2106.
    #[error("protocol id is not valid UTF-8")]
    NotUtf8,
    /// A protocol id that breaks the rules of [`validate_protocol`](super::validate_protocol).
    /// Code 2107.
    #[error("invalid protocol id {got:?}: {reason}")]
    InvalidProtocol {
        /// The id as received (truncated).
        got: String,
        /// The broken rule.
        reason: ProtocolIdError,
    },
    /// A message that is neither a known line nor a well-formed `ls` reply. Code 2108.
    #[error("malformed ls reply")]
    InvalidLsReply,

    // --- An illegal move by the peer (Fault::PeerMisbehaved) ---
    /// The peer's first message was not the `/multistream/1.0.0` header. Code 2201.
    #[error("expected the /multistream/1.0.0 header, got {got}")]
    MissingHeader {
        /// What came instead (truncated).
        got: String,
    },
    /// The peer sent the header a second time. Code 2202.
    #[error("the /multistream/1.0.0 header was sent twice")]
    DuplicateHeader,
    /// A well-formed message that has no place at this point of the exchange. Code 2203.
    #[error("expected {expected}, got {got}")]
    UnexpectedMessage {
        /// What the machine waited for.
        expected: &'static str,
        /// What came instead (truncated).
        got: String,
    },
    /// The dialer made the listener answer more than
    /// [`MAX_REJECTED_PROPOSALS`](super::MAX_REJECTED_PROPOSALS) proposals or `ls` requests
    /// without accepting one. Code 2204.
    #[error("more than {max} proposals without agreement")]
    TooManyProposals {
        /// The limit.
        max: usize,
    },

    // --- No overlap (Fault::PeerIncompatible) ---
    /// The listener rejected every protocol the dialer proposed. Code 2301.
    #[error("the listener rejected every proposed protocol: {tried:?}")]
    NoProtocolAgreed {
        /// The proposals, in order.
        tried: Vec<String>,
    },
    /// Listener: right after it answered `na`, the dialer's bytes were not a multistream
    /// message. Most likely a [`Version::V1Lazy`](super::Version::V1Lazy) dialer settled on
    /// the rejected protocol and went on with that protocol's data, so this is a failed
    /// negotiation rather than a protocol violation (rust-libp2p reports it as
    /// `NegotiationError::Failed`). Code 2302.
    #[error("no agreement: after rejecting {rejected:?}, the dialer sent non-multistream data ({cause})")]
    DataAfterRejection {
        /// The proposal answered with `na` (truncated).
        rejected: String,
        /// What reading the data as a message ran into.
        #[source]
        cause: Box<Error>,
    },

    // --- A caller bug (Fault::ApiMisuse) ---
    /// The machine was built with an empty protocol list. Code 2401.
    #[error("no protocols given")]
    NoProtocols,
    /// A protocol id given to the machine breaks the rules of
    /// [`validate_protocol`](super::validate_protocol). Code 2402.
    #[error("invalid local protocol id {protocol:?}: {reason}")]
    InvalidLocalProtocol {
        /// The id (truncated).
        protocol: String,
        /// The broken rule.
        reason: ProtocolIdError,
    },
}

impl Error {
    /// The group this error belongs to.
    pub fn fault(&self) -> Fault {
        match self {
            Error::LengthPrefixTooLong { .. }
            | Error::NonMinimalLengthPrefix
            | Error::MessageTooLong { .. }
            | Error::EmptyMessage
            | Error::MissingNewline
            | Error::NotUtf8
            | Error::InvalidProtocol { .. }
            | Error::InvalidLsReply => Fault::InvalidMessage,
            Error::MissingHeader { .. }
            | Error::DuplicateHeader
            | Error::UnexpectedMessage { .. }
            | Error::TooManyProposals { .. } => Fault::PeerMisbehaved,
            Error::NoProtocolAgreed { .. } | Error::DataAfterRejection { .. } => {
                Fault::PeerIncompatible
            }
            Error::NoProtocols | Error::InvalidLocalProtocol { .. } => Fault::ApiMisuse,
        }
    }

    /// A stable number for this variant, `2GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. Each variant's doc gives its code.
    pub fn code(&self) -> u16 {
        match self {
            Error::LengthPrefixTooLong { .. } => 2101,
            Error::NonMinimalLengthPrefix => 2102,
            Error::MessageTooLong { .. } => 2103,
            Error::EmptyMessage => 2104,
            Error::MissingNewline => 2105,
            Error::NotUtf8 => 2106,
            Error::InvalidProtocol { .. } => 2107,
            Error::InvalidLsReply => 2108,
            Error::MissingHeader { .. } => 2201,
            Error::DuplicateHeader => 2202,
            Error::UnexpectedMessage { .. } => 2203,
            Error::TooManyProposals { .. } => 2204,
            Error::NoProtocolAgreed { .. } => 2301,
            Error::DataAfterRejection { .. } => 2302,
            Error::NoProtocols => 2401,
            Error::InvalidLocalProtocol { .. } => 2402,
        }
    }
}

/// Which rule a protocol id breaks (see [`validate_protocol`](super::validate_protocol)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolIdError {
    /// The id is empty.
    #[error("empty")]
    Empty,
    /// The id does not start with `/` (rust-libp2p refuses such ids).
    #[error("does not start with '/'")]
    NoLeadingSlash,
    /// The id contains a newline, which would end its message early.
    #[error("contains a newline")]
    ContainsNewline,
    /// The id is the multistream header itself.
    #[error("is the multistream header")]
    Reserved,
    /// The id's message (id plus newline) exceeds the limit.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Length of id plus newline.
        len: usize,
        /// [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN).
        max: usize,
    },
}

/// A copy of `s` cut to at most [`MAX_CONTEXT_LEN`] bytes on a character boundary, with `…`
/// marking the cut, so peer-chosen text in an error stays small.
pub(crate) fn truncated(s: &str) -> String {
    if s.len() <= MAX_CONTEXT_LEN {
        return String::from(s);
    }
    let mut end = MAX_CONTEXT_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::from(s.get(..end).unwrap_or_default());
    out.push('…');
    out
}

#[cfg(test)]
impl Error {
    /// One value of every variant (none wraps another layer's error).
    pub(crate) fn own_variants() -> Vec<Self> {
        let text = || String::from("/x");
        alloc::vec![
            Error::LengthPrefixTooLong { max_bytes: 2 },
            Error::NonMinimalLengthPrefix,
            Error::MessageTooLong { len: 2, max: 1 },
            Error::EmptyMessage,
            Error::MissingNewline,
            Error::NotUtf8,
            Error::InvalidProtocol {
                got: text(),
                reason: ProtocolIdError::Empty,
            },
            Error::InvalidLsReply,
            Error::MissingHeader { got: text() },
            Error::DuplicateHeader,
            Error::UnexpectedMessage {
                expected: "na",
                got: text(),
            },
            Error::TooManyProposals { max: 1 },
            Error::NoProtocolAgreed { tried: Vec::new() },
            Error::DataAfterRejection {
                rejected: text(),
                cause: Box::new(Error::EmptyMessage),
            },
            Error::NoProtocols,
            Error::InvalidLocalProtocol {
                protocol: text(),
                reason: ProtocolIdError::Reserved,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn error_codes() {
        let own: Vec<_> = Error::own_variants()
            .iter()
            .map(|e| (e.code(), e.fault()))
            .collect();
        crate::error::check_layer(
            crate::error::Layer::Multistream,
            include_str!("error.rs"),
            &own,
        );
    }

    #[test]
    fn truncation_is_bounded_and_on_char_boundary() {
        assert_eq!(truncated("/short"), "/short");
        let long = "é".repeat(100);
        let t = truncated(&long);
        assert!(t.len() <= MAX_CONTEXT_LEN + '…'.len_utf8());
        assert!(t.ends_with('…'));
    }

    #[test]
    fn faults() {
        assert_eq!(Error::EmptyMessage.fault(), Fault::InvalidMessage);
        assert_eq!(Error::DuplicateHeader.fault(), Fault::PeerMisbehaved);
        assert_eq!(
            Error::NoProtocolAgreed { tried: Vec::new() }.fault(),
            Fault::PeerIncompatible
        );
        assert_eq!(Error::NoProtocols.fault(), Fault::ApiMisuse);
    }

    #[test]
    fn display_names_the_context() {
        let e = Error::MessageTooLong {
            len: 2000,
            max: 1024,
        };
        assert_eq!(
            e.to_string(),
            "message of 2000 bytes exceeds the limit of 1024"
        );
        let e = Error::DataAfterRejection {
            rejected: "/x".to_string(),
            cause: Box::new(Error::EmptyMessage),
        };
        assert!(e.to_string().contains("/x"));
    }
}
