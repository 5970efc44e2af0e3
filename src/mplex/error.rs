//! The mplex errors: [`Error`] breaks the connection, [`StreamError`] only a stream verb.

use super::StreamId;
use crate::error::Fault;

/// Why the connection failed. Only the peer's bytes cause one; afterwards the
/// [`Connection`](super::Connection) is poisoned and every verb returns it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// A varint (header or length) did not end within
    /// [`MAX_VARINT_LEN`](super::MAX_VARINT_LEN) bytes. Code 6101.
    #[error("mplex varint longer than {max_bytes} bytes")]
    VarintOverflow {
        /// The longest varint accepted.
        max_bytes: usize,
    },
    /// A varint with a redundant final zero group (unsigned-varint requires the minimal
    /// encoding). Code 6102.
    #[error("mplex varint is not minimally encoded")]
    NonMinimalVarint,
    /// The header's flag bits are 7, which the spec does not define. Code 6103.
    #[error("mplex flag {flag} is not defined")]
    InvalidFlag {
        /// The flag bits.
        flag: u8,
    },
    /// A frame announces more than [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN) bytes. Code 6104.
    #[error("mplex frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The announced length.
        len: u64,
        /// The limit.
        max: usize,
    },

    // --- the peer misbehaved ---
    /// A frame about a stream of ours with a number we never used: nothing we sent can
    /// explain it (frames about streams we already forgot are ignored instead). Code 6201.
    #[error("mplex frame for {id}, which was never opened")]
    UnknownStream {
        /// The stream as we name it.
        id: StreamId,
    },
    /// `NewStream` for a number the peer's streams already use. Code 6202.
    #[error("mplex NewStream for {id}, which is already open")]
    DuplicateStream {
        /// The stream.
        id: StreamId,
    },
    /// Data after the peer closed the stream (the spec: a protocol violation). Ignoring it
    /// would drop data silently; no implementation sends it. Code 6203.
    #[error("mplex data on {id} after the peer closed it")]
    DataAfterClose {
        /// The stream.
        id: StreamId,
    },
    /// The peer kept opening streams past [`MAX_INBOUND_STREAMS`](super::MAX_INBOUND_STREAMS):
    /// [`MAX_REFUSED_STREAMS`](super::MAX_REFUSED_STREAMS) refused in a row. Code 6204.
    #[error("the peer kept opening mplex streams past the limit of {max}")]
    TooManyStreams {
        /// The limit of open inbound streams.
        max: usize,
    },
}

/// Why a stream verb did nothing. Never poisons the connection.
///
/// Its codes share mplex's layer with [`Error`]'s: a verb the stream cannot do now counts
/// as [`Fault::ApiMisuse`] (the caller asked for it), running out of stream numbers as
/// [`Fault::Local`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Not a stream the connection knows: never opened, reset (by either side), released,
    /// or closed both ways and read to its end. Code 6401.
    #[error("{id} is not open")]
    UnknownStream {
        /// The stream.
        id: StreamId,
    },
    /// `write` after our own `close`. Code 6402.
    #[error("{id} is closed for writing")]
    WriteClosed {
        /// The stream.
        id: StreamId,
    },
    /// Nothing to do yet: `read` with no data buffered and the stream not closed by the
    /// peer, or `write` with the send buffer full (take
    /// [`poll_transmit`](super::Connection::poll_transmit) first). rustls's reader reports
    /// the same state as `WouldBlock`. Code 6403.
    #[error("would block")]
    WouldBlock,
    /// [`open_stream`](super::Connection::open_stream) with
    /// [`MAX_OUTBOUND_STREAMS`](super::MAX_OUTBOUND_STREAMS) streams open. Code 6404.
    #[error("{max} mplex streams already open")]
    TooManyStreams {
        /// The limit.
        max: usize,
    },
    /// Every stream number up to [`MAX_STREAM_NUM`](super::MAX_STREAM_NUM) was used. Code 6501.
    #[error("mplex stream numbers exhausted")]
    NumbersExhausted,
    /// The connection failed earlier. Its code and fault are the wrapped error's.
    #[error("mplex connection failed: {0}")]
    Connection(#[source] Error),
}

impl Error {
    /// The group this error belongs to: the peer's bytes do not parse, or break a rule.
    pub fn fault(&self) -> Fault {
        match self {
            Error::VarintOverflow { .. }
            | Error::NonMinimalVarint
            | Error::InvalidFlag { .. }
            | Error::FrameTooLarge { .. } => Fault::InvalidMessage,
            Error::UnknownStream { .. }
            | Error::DuplicateStream { .. }
            | Error::DataAfterClose { .. }
            | Error::TooManyStreams { .. } => Fault::PeerMisbehaved,
        }
    }

    /// A stable number for this variant, `6GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. Each variant's doc gives its code.
    pub fn code(&self) -> u16 {
        match self {
            Error::VarintOverflow { .. } => 6101,
            Error::NonMinimalVarint => 6102,
            Error::InvalidFlag { .. } => 6103,
            Error::FrameTooLarge { .. } => 6104,
            Error::UnknownStream { .. } => 6201,
            Error::DuplicateStream { .. } => 6202,
            Error::DataAfterClose { .. } => 6203,
            Error::TooManyStreams { .. } => 6204,
        }
    }
}

impl StreamError {
    /// The group this error belongs to (the connection error's for `Connection`).
    pub fn fault(&self) -> Fault {
        match self {
            StreamError::Connection(e) => e.fault(),
            StreamError::UnknownStream { .. }
            | StreamError::WriteClosed { .. }
            | StreamError::WouldBlock
            | StreamError::TooManyStreams { .. } => Fault::ApiMisuse,
            StreamError::NumbersExhausted => Fault::Local,
        }
    }

    /// A stable number for this variant, `6GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. Each variant's doc gives its code; `Connection` answers
    /// the connection error's, the root cause.
    pub fn code(&self) -> u16 {
        match self {
            StreamError::Connection(e) => e.code(),
            StreamError::UnknownStream { .. } => 6401,
            StreamError::WriteClosed { .. } => 6402,
            StreamError::WouldBlock => 6403,
            StreamError::TooManyStreams { .. } => 6404,
            StreamError::NumbersExhausted => 6501,
        }
    }
}

#[cfg(test)]
impl Error {
    /// One value of every variant.
    pub(crate) fn own_variants() -> alloc::vec::Vec<Self> {
        let id = StreamId::outbound(1);
        alloc::vec![
            Error::VarintOverflow { max_bytes: 9 },
            Error::NonMinimalVarint,
            Error::InvalidFlag { flag: 7 },
            Error::FrameTooLarge { len: 2, max: 1 },
            Error::UnknownStream { id },
            Error::DuplicateStream { id },
            Error::DataAfterClose { id },
            Error::TooManyStreams { max: 1 },
        ]
    }
}

#[cfg(test)]
impl StreamError {
    /// One value of every variant but `Connection`.
    pub(crate) fn own_variants() -> alloc::vec::Vec<Self> {
        let id = StreamId::inbound(1);
        alloc::vec![
            StreamError::UnknownStream { id },
            StreamError::WriteClosed { id },
            StreamError::WouldBlock,
            StreamError::TooManyStreams { max: 1 },
            StreamError::NumbersExhausted,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn error_codes() {
        let own: alloc::vec::Vec<_> = Error::own_variants()
            .iter()
            .map(|e| (e.code(), e.fault()))
            .chain(
                StreamError::own_variants()
                    .iter()
                    .map(|e| (e.code(), e.fault())),
            )
            .collect();
        crate::error::check_layer(crate::error::Layer::Mplex, include_str!("error.rs"), &own);
        for inner in Error::own_variants() {
            let e = StreamError::Connection(inner.clone());
            assert_eq!((e.code(), e.fault()), (inner.code(), inner.fault()));
        }
    }

    #[test]
    fn display_names_the_context() {
        let e = Error::FrameTooLarge {
            len: 1 << 21,
            max: 1 << 20,
        };
        assert_eq!(
            e.to_string(),
            "mplex frame of 2097152 bytes exceeds the limit of 1048576"
        );
        let e = Error::UnknownStream {
            id: StreamId::outbound(4),
        };
        assert_eq!(
            e.to_string(),
            "mplex frame for stream 4 (ours), which was never opened"
        );
        let e = StreamError::Connection(Error::NonMinimalVarint);
        assert!(e.to_string().contains("not minimally encoded"));
    }
}
