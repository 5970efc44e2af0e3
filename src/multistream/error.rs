//! The multistream-select error: one enum, variants grouped by whose fault it is.

use alloc::{boxed::Box, string::String, vec::Vec};

/// Longest excerpt of peer-chosen text kept in an error, in bytes: enough to recognise a
/// protocol id, small enough that an error never holds a whole message.
pub(crate) const MAX_CONTEXT_LEN: usize = 64;

/// Why a multistream-select negotiation failed.
///
/// After a machine returns an error it is poisoned: every later `handle_input` returns the
/// same error. [`Error::fault`] tells the four groups apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- Malformed bytes (Fault::InvalidMessage) ---
    /// The length prefix did not end within [`MAX_LENGTH_PREFIX_LEN`](super::MAX_LENGTH_PREFIX_LEN)
    /// bytes, so it announces more than any acceptable message.
    #[error("length prefix longer than {max_bytes} bytes")]
    LengthPrefixTooLong {
        /// The longest prefix accepted.
        max_bytes: usize,
    },
    /// The length prefix has a redundant trailing zero group (unsigned-varint requires the
    /// minimal encoding).
    #[error("length prefix is not minimally encoded")]
    NonMinimalLengthPrefix,
    /// The length prefix announces a message above [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN).
    #[error("message of {len} bytes exceeds the limit of {max}")]
    MessageTooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A length prefix of zero: every message holds at least its newline.
    #[error("empty message (length prefix 0)")]
    EmptyMessage,
    /// The message does not end with `'\n'`.
    #[error("message does not end with a newline")]
    MissingNewline,
    /// A protocol id that is not valid UTF-8.
    #[error("protocol id is not valid UTF-8")]
    NotUtf8,
    /// A protocol id that breaks the rules of [`validate_protocol`](super::validate_protocol).
    #[error("invalid protocol id {got:?}: {reason}")]
    InvalidProtocol {
        /// The id as received (truncated).
        got: String,
        /// The broken rule.
        reason: ProtocolIdError,
    },
    /// A message that is neither a known line nor a well-formed `ls` reply.
    #[error("malformed ls reply")]
    InvalidLsReply,

    // --- An illegal move by the peer (Fault::PeerMisbehaved) ---
    /// The peer's first message was not the `/multistream/1.0.0` header.
    #[error("expected the /multistream/1.0.0 header, got {got}")]
    MissingHeader {
        /// What came instead (truncated).
        got: String,
    },
    /// The peer sent the header a second time.
    #[error("the /multistream/1.0.0 header was sent twice")]
    DuplicateHeader,
    /// A well-formed message that has no place at this point of the exchange.
    #[error("expected {expected}, got {got}")]
    UnexpectedMessage {
        /// What the machine waited for.
        expected: &'static str,
        /// What came instead (truncated).
        got: String,
    },
    /// The dialer made the listener answer more than
    /// [`MAX_REJECTED_PROPOSALS`](super::MAX_REJECTED_PROPOSALS) proposals or `ls` requests
    /// without accepting one.
    #[error("more than {max} proposals without agreement")]
    TooManyProposals {
        /// The limit.
        max: usize,
    },

    // --- No overlap (Fault::PeerIncompatible) ---
    /// The listener rejected every protocol the dialer proposed.
    #[error("the listener rejected every proposed protocol: {tried:?}")]
    NoProtocolAgreed {
        /// The proposals, in order.
        tried: Vec<String>,
    },
    /// Listener: right after it answered `na`, the dialer's bytes were not a multistream
    /// message. Most likely a [`Version::V1Lazy`](super::Version::V1Lazy) dialer settled on
    /// the rejected protocol and went on with that protocol's data, so this is a failed
    /// negotiation rather than a protocol violation (rust-libp2p reports it as
    /// `NegotiationError::Failed`).
    #[error("no agreement: after rejecting {rejected:?}, the dialer sent non-multistream data ({cause})")]
    DataAfterRejection {
        /// The proposal answered with `na` (truncated).
        rejected: String,
        /// What reading the data as a message ran into.
        #[source]
        cause: Box<Error>,
    },

    // --- A caller bug (Fault::ApiMisuse) ---
    /// The machine was built with an empty protocol list.
    #[error("no protocols given")]
    NoProtocols,
    /// A protocol id given to the machine breaks the rules of
    /// [`validate_protocol`](super::validate_protocol).
    #[error("invalid local protocol id {protocol:?}: {reason}")]
    InvalidLocalProtocol {
        /// The id (truncated).
        protocol: String,
        /// The broken rule.
        reason: ProtocolIdError,
    },
}

/// Whose fault an [`Error`] is, in the groups rustls uses; adapters map these to
/// `io::ErrorKind`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The peer's bytes do not parse.
    InvalidMessage,
    /// Well-formed bytes, illegal at this point.
    PeerMisbehaved,
    /// Both sides followed the protocol but share no protocol.
    PeerIncompatible,
    /// The caller used the API wrongly.
    ApiMisuse,
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
mod tests {
    use super::*;
    use alloc::string::ToString;

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
