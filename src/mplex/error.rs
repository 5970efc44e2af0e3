//! The mplex errors: [`Error`] breaks the connection, [`StreamError`] only a stream verb.

use super::StreamId;

/// Why the connection failed. Only the peer's bytes cause one; afterwards the
/// [`Connection`](super::Connection) is poisoned and every verb returns it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed bytes ---
    /// A varint (header or length) did not end within
    /// [`MAX_VARINT_LEN`](super::MAX_VARINT_LEN) bytes.
    #[error("mplex varint longer than {max_bytes} bytes")]
    VarintOverflow {
        /// The longest varint accepted.
        max_bytes: usize,
    },
    /// A varint with a redundant final zero group (unsigned-varint requires the minimal
    /// encoding).
    #[error("mplex varint is not minimally encoded")]
    NonMinimalVarint,
    /// The header's flag bits are 7, which the spec does not define.
    #[error("mplex flag {flag} is not defined")]
    InvalidFlag {
        /// The flag bits.
        flag: u8,
    },
    /// A frame announces more than [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN) bytes.
    #[error("mplex frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The announced length.
        len: u64,
        /// The limit.
        max: usize,
    },

    // --- the peer misbehaved ---
    /// A frame about a stream of ours with a number we never used: nothing we sent can
    /// explain it (frames about streams we already forgot are ignored instead).
    #[error("mplex frame for {id}, which was never opened")]
    UnknownStream {
        /// The stream as we name it.
        id: StreamId,
    },
    /// `NewStream` for a number the peer's streams already use.
    #[error("mplex NewStream for {id}, which is already open")]
    DuplicateStream {
        /// The stream.
        id: StreamId,
    },
    /// Data after the peer closed the stream (the spec: a protocol violation). Ignoring it
    /// would drop data silently; no implementation sends it.
    #[error("mplex data on {id} after the peer closed it")]
    DataAfterClose {
        /// The stream.
        id: StreamId,
    },
    /// The peer kept opening streams past [`MAX_INBOUND_STREAMS`](super::MAX_INBOUND_STREAMS):
    /// [`MAX_REFUSED_STREAMS`](super::MAX_REFUSED_STREAMS) refused in a row.
    #[error("the peer kept opening mplex streams past the limit of {max}")]
    TooManyStreams {
        /// The limit of open inbound streams.
        max: usize,
    },
}

/// Why a stream verb did nothing. Never poisons the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Not a stream the connection knows: never opened, reset (by either side), released,
    /// or closed both ways and read to its end.
    #[error("{id} is not open")]
    UnknownStream {
        /// The stream.
        id: StreamId,
    },
    /// `write` after our own `close`.
    #[error("{id} is closed for writing")]
    WriteClosed {
        /// The stream.
        id: StreamId,
    },
    /// Nothing to do yet: `read` with no data buffered and the stream not closed by the
    /// peer, or `write` with the send buffer full (take
    /// [`poll_transmit`](super::Connection::poll_transmit) first). rustls's reader reports
    /// the same state as `WouldBlock`.
    #[error("would block")]
    WouldBlock,
    /// [`open_stream`](super::Connection::open_stream) with
    /// [`MAX_OUTBOUND_STREAMS`](super::MAX_OUTBOUND_STREAMS) streams open.
    #[error("{max} mplex streams already open")]
    TooManyStreams {
        /// The limit.
        max: usize,
    },
    /// Every stream number up to [`MAX_STREAM_NUM`](super::MAX_STREAM_NUM) was used.
    #[error("mplex stream numbers exhausted")]
    NumbersExhausted,
    /// The connection failed earlier.
    #[error("mplex connection failed: {0}")]
    Connection(#[source] Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

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
