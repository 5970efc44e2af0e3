//! One sans-IO [`Connection`] carries every stream of an mplex connection.
//!
//! Follows libp2p's `mplex/README.md` (r0). Every message is `uvarint(stream_id << 3 |
//! flag) || uvarint(len) || data`; the flag says what the frame does (open, data, close,
//! reset) and, for all but the opening, whether the stream is the sender's own or the
//! receiver's: both sides number their streams independently, so one number can name a
//! stream we opened and one the peer opened. [`StreamId`] keeps the two apart.
//!
//! mplex has no flow control. The [`Connection`] never buffers more than
//! [`MAX_STREAM_BUFFER`] unread bytes for one stream or [`MAX_BUFFERED`] in all: when a
//! data frame finds no room, `handle_input` stops consuming and returns what it used (the
//! rest stays in the caller's buffer), so the driver stops reading the socket and TCP's
//! own flow control slows the peer down. This is rust-libp2p's default
//! (`MaxBufferBehaviour::Block`); the price is that one stream nobody reads stalls the
//! connection (the spec's head-of-line blocking). [`Connection::blocked_on`] names that
//! stream, so a driver with a clock can reset it after a while, as go-mplex does.
//!
//! The [`Connection`] follows the crate's machine pattern (`handle_input` /
//! `poll_transmit` / `poll_event`) plus the stream verbs ([`Connection::open_stream`],
//! [`Connection::write`], [`Connection::read`], [`Connection::close`],
//! [`Connection::reset`], [`Connection::release`]). The stream verbs return a
//! [`StreamError`] that does *not* poison the connection: a stream the peer reset while
//! we were writing to it is a race, not a broken connection. Only what the peer sends can
//! break the connection ([`Error`]), and then every verb returns that error.
//!
//! What this layer does *not* do:
//! - Stream names: the opening frame's payload is skipped (the spec: "purely for
//!   debugging"), and our own streams are opened with an empty name, as rust-libp2p does.
//! - End of the connection: the machine has no EOF verb; the driver that sees the socket
//!   close ends every stream itself.
//! - Timeouts: no clock inside (see [`Connection::blocked_on`]).

use core::fmt;

mod codec;
mod connection;
mod error;

pub use connection::Connection;
pub use error::{Error, StreamError};

/// The protocol id that multistream-select (or the security handshake) agrees on.
pub const MPLEX: &str = "/mplex/6.7.0";

/// Largest frame payload accepted or sent: 1 MiB (the spec: "up to 1MiB per message";
/// go-mplex, rust-libp2p and js-libp2p enforce the same).
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

/// Longest varint accepted (header or length), in bytes: the unsigned-varint spec's
/// maximum of 9 bytes (63 bits), which the mplex spec repeats for the header.
pub const MAX_VARINT_LEN: usize = 9;

/// Largest stream number: the header's 63 bits less the 3 flag bits (the spec:
/// `2^60 - 1`).
pub const MAX_STREAM_NUM: u64 = (1 << 60) - 1;

/// Streams the peer may have open at once; a `NewStream` past this is answered with a
/// reset (as rust-libp2p does past its `max_substreams`).
///
/// rust-libp2p allows 128 streams in both directions together, js-libp2p 1024 inbound;
/// a stream costs one map entry (its buffered data is bounded by [`MAX_BUFFERED`]), so
/// 256 leaves room for busy legacy peers at little cost.
pub const MAX_INBOUND_STREAMS: usize = 256;

/// Streams we may have open at once; [`Connection::open_stream`] past this returns
/// [`StreamError::TooManyStreams`]. The same number as [`MAX_INBOUND_STREAMS`], so a peer
/// with rust-libp2p's or our limits accepts every one of them.
pub const MAX_OUTBOUND_STREAMS: usize = 256;

/// Streams refused in a row (opened past [`MAX_INBOUND_STREAMS`] with none accepted in
/// between); the peer's next `NewStream` past the limit fails the connection with
/// [`Error::TooManyStreams`].
///
/// Each refusal costs us a reset frame; a peer that keeps opening streams while we refuse
/// them is not going to stop. js-libp2p's mplex closes the connection in the same case
/// (it counts refusals per second; without a clock we count them in a row).
pub const MAX_REFUSED_STREAMS: usize = 16;

/// Unread bytes buffered for one stream before its data frames wait in the caller's
/// buffer (see the module doc): one maximum frame, so a peer that writes whole 1 MiB
/// frames (go, js) is never stalled by a reader that keeps up. rust-libp2p buffers 32
/// frames, 256 KiB with its 8 KiB frames; js-libp2p resets a stream past 4 MiB.
pub const MAX_STREAM_BUFFER: usize = MAX_FRAME_LEN;

/// Unread bytes buffered for all streams together: the memory one connection may hold
/// for slow readers (16 streams at their full [`MAX_STREAM_BUFFER`]).
pub const MAX_BUFFERED: usize = 16 * MAX_STREAM_BUFFER;

/// Payload of the data frames we send. Longer writes are split, so streams interleave
/// at this granularity instead of one stream's 1 MiB frame holding up the others;
/// the header costs at most 12 bytes per 64 KiB (rust-libp2p picked 8 KiB by
/// benchmark for its own codec; ours copies once, so bigger frames are cheaper).
pub const SEND_FRAME_LEN: usize = 64 * 1024;

/// Payload bytes [`Connection::write`] accepts before [`Connection::poll_transmit`] must
/// take them ([`StreamError::WouldBlock`] until then): the machine's send buffer.
pub const MAX_SEND_BUFFER: usize = MAX_FRAME_LEN;

/// Events queued before `handle_input` stops consuming until [`Connection::poll_event`]
/// takes some: the peer cannot grow the queue without bound by opening and resetting
/// streams faster than the caller looks.
pub const MAX_PENDING_EVENTS: usize = 1024;

/// Frames the peer made us queue (resets of refused streams) before `handle_input` stops
/// consuming until [`Connection::poll_transmit`] takes them.
pub const MAX_PENDING_REPLIES: usize = 256;

/// One stream: its number and who opened it (the spec's "initiator").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    num: u64,
    outbound: bool,
}

impl StreamId {
    /// The stream we opened with number `num`.
    pub const fn outbound(num: u64) -> Self {
        Self {
            num,
            outbound: true,
        }
    }

    /// The stream the peer opened with number `num`.
    pub const fn inbound(num: u64) -> Self {
        Self {
            num,
            outbound: false,
        }
    }

    /// The number on the wire (at most [`MAX_STREAM_NUM`]).
    pub const fn num(&self) -> u64 {
        self.num
    }

    /// Whether we opened it (we are its initiator).
    pub const fn is_outbound(&self) -> bool {
        self.outbound
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.outbound { "ours" } else { "theirs" };
        write!(f, "stream {} ({who})", self.num)
    }
}

/// What [`Connection::poll_event`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer opened a stream. We may write to it at once.
    InboundStream {
        /// The new stream.
        id: StreamId,
    },
    /// Data arrived for a stream: [`Connection::read`] it. Reported once until the next
    /// `read` of that stream, however many frames arrive in between.
    Readable {
        /// The stream.
        id: StreamId,
    },
    /// The peer closed its side (half-close): after the data already buffered,
    /// [`Connection::read`] returns `Ok(0)`. We may still write.
    RemoteClosed {
        /// The stream.
        id: StreamId,
    },
    /// The peer reset the stream: its unread data is dropped and the id is forgotten
    /// (every verb on it now returns [`StreamError::UnknownStream`]).
    Reset {
        /// The stream.
        id: StreamId,
    },
}
