//! The machine: one [`Connection`] owns every stream's state and buffers.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use super::codec::{encode_header, Flag, Kind, Varint};
use super::{
    Error, Event, StreamError, StreamId, MAX_BUFFERED, MAX_FRAME_LEN, MAX_INBOUND_STREAMS,
    MAX_OUTBOUND_STREAMS, MAX_PENDING_EVENTS, MAX_PENDING_REPLIES, MAX_REFUSED_STREAMS,
    MAX_SEND_BUFFER, MAX_STREAM_BUFFER, MAX_STREAM_NUM, SEND_FRAME_LEN,
};

/// A receive buffer emptied by `read` keeps its allocation up to this size; a bigger one
/// is freed, so an idle stream does not hold on to a burst's memory.
const KEEP_CAPACITY: usize = 64 * 1024;

/// An mplex connection over one secured channel. Both sides are alike: mplex has no
/// dialer or listener role, only the opener of each stream.
///
/// # Call contract
/// Loop for the life of the connection, in any order:
/// - append the peer's new bytes to the unconsumed ones and call
///   [`Connection::handle_input`] with all of them; drop the consumed prefix. It consumes
///   everything (partial frames included) unless a stream's buffer is full or too many
///   events or replies wait: then call it again after [`Connection::read`],
///   [`Connection::poll_event`] or [`Connection::poll_transmit`] made room, without
///   reading more from the socket meanwhile (that is the backpressure);
/// - [`Connection::poll_event`] until `None`: new streams, data, closes, resets;
/// - the stream verbs: [`open_stream`](Connection::open_stream),
///   [`write`](Connection::write), [`read`](Connection::read),
///   [`close`](Connection::close) (half-close), [`reset`](Connection::reset),
///   [`release`](Connection::release) (done with it);
/// - [`Connection::poll_transmit`], and send what it appended.
///
/// A stream is forgotten (its id then gets [`StreamError::UnknownStream`]) when either
/// side resets it, when the caller releases it, or once it is closed both ways and
/// `read` has returned its end (`Ok(0)`). Events already queued may name a stream the
/// caller has reset since.
///
/// After an [`Error`] the connection is poisoned: `handle_input` returns it again, every
/// stream verb returns [`StreamError::Connection`], and nothing more is transmitted or
/// reported (mplex has no goodbye message: the driver closes the channel).
pub struct Connection {
    failed: Option<Error>,
    decode: Decode,
    streams: BTreeMap<StreamId, Stream>,
    /// The number our next stream gets: ours are numbered 0, 1, 2, ... (as go, js and
    /// rust-libp2p do), so a frame about a higher number of ours is never legitimate.
    next_num: u64,
    inbound: usize,
    outbound: usize,
    refused_in_a_row: usize,
    /// Unread bytes of all streams together.
    buffered: usize,
    out: Vec<u8>,
    /// Payload bytes in `out` (what [`MAX_SEND_BUFFER`] bounds).
    queued_payload: usize,
    /// Frames in `out` that the peer's frames caused.
    queued_replies: usize,
    events: VecDeque<Event>,
}

/// Where the decoder is inside the current frame.
#[derive(Debug, Clone, Copy)]
enum Decode {
    Header(Varint),
    Length {
        flag: Flag,
        num: u64,
        len: Varint,
    },
    /// `target`: the stream that gets the bytes; `None` skips them (a stream name, the
    /// body of a close or reset, data for a stream we forgot).
    Payload {
        target: Option<StreamId>,
        remaining: usize,
    },
}

#[derive(Default)]
struct Stream {
    /// Received data; `recv[read_pos..]` is unread.
    recv: Vec<u8>,
    read_pos: usize,
    /// The peer closed its side.
    recv_closed: bool,
    /// We closed ours.
    send_closed: bool,
    /// `read` returned the end of the stream.
    eof_read: bool,
    /// An [`Event::Readable`] was queued since the last `read`.
    readable_reported: bool,
}

impl Stream {
    fn unread(&self) -> usize {
        self.recv.len().saturating_sub(self.read_pos)
    }
}

/// The connection's input, output and events as a [`crate::Machine`]; the stream verbs
/// (`open_stream`, `write`, `read`, ...) stay inherent. `handle_input` keeps the trait's
/// contract: it may stop early for backpressure, and the rest stays with the caller.
impl crate::Machine for Connection {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Connection::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Connection::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Connection::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Connection::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Connection::poll_event(self)
    }

    /// Never: a connection has no successful end of its own (mplex has no goodbye
    /// message; it lasts until the channel closes or an error poisons it).
    fn is_complete(&self) -> bool {
        false
    }
}

impl Default for Connection {
    fn default() -> Self {
        Self::new()
    }
}

impl Connection {
    /// A connection with no streams yet. mplex sends nothing on its own, so nothing is
    /// queued.
    pub fn new() -> Self {
        Self {
            failed: None,
            decode: Decode::Header(Varint::default()),
            streams: BTreeMap::new(),
            next_num: 0,
            inbound: 0,
            outbound: 0,
            refused_in_a_row: 0,
            buffered: 0,
            out: Vec::new(),
            queued_payload: 0,
            queued_replies: 0,
            events: VecDeque::new(),
        }
    }

    /// Bytes from the peer. Consumes what it can (partial frames too) and returns how
    /// many bytes it took; the rest stays in the caller's buffer. It stops early only
    /// for backpressure (see the call contract), so any split of the same bytes into
    /// calls ends in the same state.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut used = 0;
        loop {
            let rest = bytes.get(used..).unwrap_or_default();
            match self.step(rest) {
                Ok(0) => return Ok(used),
                Ok(n) => used += n,
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Appends the frames that must go to the peer now; returns how many bytes it
    /// appended.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        if out.is_empty() {
            // hand over our buffer instead of copying it (and keep the caller's)
            core::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
        }
        self.queued_payload = 0;
        self.queued_replies = 0;
        n
    }

    /// The bytes [`Connection::poll_transmit`] would append now.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// [`Connection::poll_transmit`] into the start of `buf`; returns the length. If it
    /// does not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        let n = crate::machine::take_into(&mut self.out, buf)?;
        self.queued_payload = 0;
        self.queued_replies = 0;
        Ok(n)
    }

    /// The next [`Event`], if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Opens a stream. Its `NewStream` frame is queued at once; data may follow right
    /// away (mplex has no acknowledgement).
    pub fn open_stream(&mut self) -> Result<StreamId, StreamError> {
        self.check()?;
        if self.outbound >= MAX_OUTBOUND_STREAMS {
            return Err(StreamError::TooManyStreams {
                max: MAX_OUTBOUND_STREAMS,
            });
        }
        if self.next_num > MAX_STREAM_NUM {
            return Err(StreamError::NumbersExhausted);
        }
        let id = StreamId::outbound(self.next_num);
        self.next_num += 1;
        self.streams.insert(id, Stream::default());
        self.outbound += 1;
        // an empty name, as rust-libp2p sends (names are for debugging only)
        encode_header(Kind::Open, id, 0, &mut self.out);
        Ok(id)
    }

    /// Queues as much of `data` as the send buffer takes, in frames of at most
    /// [`SEND_FRAME_LEN`] bytes; returns how much it took. With the buffer full:
    /// [`StreamError::WouldBlock`] (take [`Connection::poll_transmit`] first).
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        self.check()?;
        let stream = self
            .streams
            .get(&id)
            .ok_or(StreamError::UnknownStream { id })?;
        if stream.send_closed {
            return Err(StreamError::WriteClosed { id });
        }
        if data.is_empty() {
            return Ok(0);
        }
        let room = MAX_SEND_BUFFER.saturating_sub(self.queued_payload);
        let Some(data) = data.get(..data.len().min(room)).filter(|d| !d.is_empty()) else {
            return Err(StreamError::WouldBlock);
        };
        for chunk in data.chunks(SEND_FRAME_LEN) {
            encode_header(Kind::Data, id, chunk.len(), &mut self.out);
            self.out.extend_from_slice(chunk);
        }
        self.queued_payload += data.len();
        Ok(data.len())
    }

    /// Copies unread data of `id` into `buf`; returns how many bytes. `Ok(0)` means the
    /// peer closed the stream and everything was read (or `buf` is empty); with nothing
    /// unread yet: [`StreamError::WouldBlock`].
    pub fn read(&mut self, id: StreamId, buf: &mut [u8]) -> Result<usize, StreamError> {
        self.check()?;
        let stream = self
            .streams
            .get_mut(&id)
            .ok_or(StreamError::UnknownStream { id })?;
        stream.readable_reported = false;
        let unread = stream.recv.get(stream.read_pos..).unwrap_or_default();
        if buf.is_empty() {
            return Ok(0);
        }
        if unread.is_empty() {
            if !stream.recv_closed {
                return Err(StreamError::WouldBlock);
            }
            stream.eof_read = true;
            self.forget_if_finished(id);
            return Ok(0);
        }
        let n = unread.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), unread.get(..n)) {
            dst.copy_from_slice(src);
        }
        stream.read_pos += n;
        self.buffered = self.buffered.saturating_sub(n);
        if stream.read_pos >= stream.recv.len() {
            stream.read_pos = 0;
            if stream.recv.capacity() > KEEP_CAPACITY {
                stream.recv = Vec::new();
            } else {
                stream.recv.clear();
            }
        }
        Ok(n)
    }

    /// Closes our side of `id` (half-close): the peer reads its end after our data; we
    /// can still read. Closing twice is a no-op.
    pub fn close(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.check()?;
        let stream = self
            .streams
            .get_mut(&id)
            .ok_or(StreamError::UnknownStream { id })?;
        if !stream.send_closed {
            stream.send_closed = true;
            encode_header(Kind::Close, id, 0, &mut self.out);
            self.forget_if_finished(id);
        }
        Ok(())
    }

    /// Resets `id`: both directions end at once, unread data is dropped, the peer is told
    /// (unless both sides had already closed, when there is nothing left to abort) and
    /// the id is forgotten.
    pub fn reset(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.check()?;
        let stream = self.remove(id).ok_or(StreamError::UnknownStream { id })?;
        if !(stream.send_closed && stream.recv_closed) {
            encode_header(Kind::Reset, id, 0, &mut self.out);
        }
        Ok(())
    }

    /// The caller is done with `id` (a dropped stream handle): after our close it is
    /// forgotten silently (what the peer still sends is skipped), before it it is
    /// [`reset`](Connection::reset), so the peer does not wait for data that will never
    /// come (rust-libp2p drops its streams the same way). An unknown id is fine.
    pub fn release(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.check()?;
        match self.streams.get(&id) {
            None => Ok(()),
            Some(stream) if stream.send_closed => {
                self.remove(id);
                Ok(())
            }
            Some(_) => self.reset(id),
        }
    }

    /// The stream whose full buffer keeps `handle_input` from consuming more, if any.
    /// mplex cannot tell the peer to slow down on one stream, so a stream nobody reads
    /// stalls the connection; a driver with a clock may reset it after a while (go-mplex
    /// does after a few seconds).
    pub fn blocked_on(&self) -> Option<StreamId> {
        match self.decode {
            Decode::Payload {
                target: Some(id),
                remaining,
            } if remaining > 0 && self.streams.contains_key(&id) && self.room(id) == 0 => Some(id),
            _ => None,
        }
    }

    /// Unread bytes buffered for all streams together (at most [`MAX_BUFFERED`]).
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Streams currently known (both directions).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// The error that poisoned the connection, if any.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    fn check(&self) -> Result<(), StreamError> {
        match &self.failed {
            Some(e) => Err(StreamError::Connection(e.clone())),
            None => Ok(()),
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.failed = Some(e.clone());
        self.streams.clear();
        self.events.clear();
        self.out = Vec::new();
        self.buffered = 0;
        e
    }

    /// Bytes the next data of `id` may take.
    fn room(&self, id: StreamId) -> usize {
        let unread = self.streams.get(&id).map_or(0, Stream::unread);
        MAX_STREAM_BUFFER
            .saturating_sub(unread)
            .min(MAX_BUFFERED.saturating_sub(self.buffered))
    }

    /// Advances the decoder over the start of `rest`; returns how many bytes it used (0:
    /// no input, or backpressure).
    fn step(&mut self, rest: &[u8]) -> Result<usize, Error> {
        match self.decode {
            Decode::Header(mut header) => {
                if header.is_empty()
                    && (self.events.len() >= MAX_PENDING_EVENTS
                        || self.queued_replies >= MAX_PENDING_REPLIES)
                {
                    return Ok(0);
                }
                let Some(&byte) = rest.first() else {
                    return Ok(0);
                };
                self.decode = match header.push(byte)? {
                    None => Decode::Header(header),
                    Some(value) => Decode::Length {
                        // fail on the flag before the length arrives
                        flag: Flag::from_bits((value & 0b111) as u8)?,
                        num: value >> 3,
                        len: Varint::default(),
                    },
                };
                Ok(1)
            }
            Decode::Length { flag, num, mut len } => {
                let Some(&byte) = rest.first() else {
                    return Ok(0);
                };
                let Some(value) = len.push(byte)? else {
                    self.decode = Decode::Length { flag, num, len };
                    return Ok(1);
                };
                let remaining = usize::try_from(value)
                    .ok()
                    .filter(|&l| l <= MAX_FRAME_LEN)
                    .ok_or(Error::FrameTooLarge {
                        len: value,
                        max: MAX_FRAME_LEN,
                    })?;
                let target = self.on_frame(flag, num)?;
                self.decode = if remaining == 0 {
                    Decode::Header(Varint::default())
                } else {
                    Decode::Payload { target, remaining }
                };
                Ok(1)
            }
            Decode::Payload { target, remaining } => {
                let avail = rest.len().min(remaining);
                let taken = match target {
                    // the caller may have reset or released it since the frame began
                    Some(id) if self.streams.contains_key(&id) => {
                        self.deliver(id, rest.get(..avail).unwrap_or_default())
                    }
                    _ => avail,
                };
                let remaining = remaining - taken;
                self.decode = if remaining == 0 {
                    Decode::Header(Varint::default())
                } else {
                    Decode::Payload { target, remaining }
                };
                Ok(taken)
            }
        }
    }

    /// A frame's header and length are in: apply what it does. Returns the stream its
    /// payload belongs to (data frames), `None` to skip the payload.
    fn on_frame(&mut self, flag: Flag, num: u64) -> Result<Option<StreamId>, Error> {
        let (kind, id) = flag.incoming(num);
        if id.is_outbound() && num >= self.next_num {
            return Err(Error::UnknownStream { id });
        }
        match kind {
            Kind::Open => {
                if self.streams.contains_key(&id) {
                    return Err(Error::DuplicateStream { id });
                }
                if self.inbound >= MAX_INBOUND_STREAMS {
                    if self.refused_in_a_row >= MAX_REFUSED_STREAMS {
                        return Err(Error::TooManyStreams {
                            max: MAX_INBOUND_STREAMS,
                        });
                    }
                    self.refused_in_a_row += 1;
                    encode_header(Kind::Reset, id, 0, &mut self.out);
                    self.queued_replies += 1;
                    return Ok(None);
                }
                self.refused_in_a_row = 0;
                self.streams.insert(id, Stream::default());
                self.inbound += 1;
                self.events.push_back(Event::InboundStream { id });
                Ok(None)
            }
            Kind::Data => match self.streams.get(&id) {
                // a stream we reset or released: its data was in flight
                None => Ok(None),
                Some(s) if s.recv_closed => Err(Error::DataAfterClose { id }),
                Some(_) => Ok(Some(id)),
            },
            Kind::Close => {
                if let Some(stream) = self.streams.get_mut(&id) {
                    // a second close changes nothing, so it is not worth an error
                    if !stream.recv_closed {
                        stream.recv_closed = true;
                        self.events.push_back(Event::RemoteClosed { id });
                    }
                }
                Ok(None)
            }
            Kind::Reset => {
                if self.remove(id).is_some() {
                    self.events.push_back(Event::Reset { id });
                }
                Ok(None)
            }
        }
    }

    /// Buffers what fits of `data` for `id`; returns how much.
    fn deliver(&mut self, id: StreamId, data: &[u8]) -> usize {
        let room = self.room(id);
        let Some(stream) = self.streams.get_mut(&id) else {
            return 0;
        };
        let n = data.len().min(room);
        let Some(data) = data.get(..n).filter(|d| !d.is_empty()) else {
            return 0;
        };
        if stream.read_pos > 0 && stream.read_pos >= stream.recv.len() / 2 {
            // drop what was read before growing (amortised: at most one copy per byte)
            stream.recv.drain(..stream.read_pos);
            stream.read_pos = 0;
        }
        stream.recv.extend_from_slice(data);
        self.buffered += n;
        if !stream.readable_reported {
            stream.readable_reported = true;
            self.events.push_back(Event::Readable { id });
        }
        n
    }

    fn forget_if_finished(&mut self, id: StreamId) {
        if self
            .streams
            .get(&id)
            .is_some_and(|s| s.send_closed && s.recv_closed && s.eof_read)
        {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: StreamId) -> Option<Stream> {
        let stream = self.streams.remove(&id)?;
        self.buffered = self.buffered.saturating_sub(stream.unread());
        if id.is_outbound() {
            self.outbound = self.outbound.saturating_sub(1);
        } else {
            self.inbound = self.inbound.saturating_sub(1);
        }
        Some(stream)
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mplex::Connection")
            .field("failed", &self.failed)
            .field("streams", &self.streams.len())
            .field("buffered", &self.buffered)
            .field("pending_out", &self.out.len())
            .field("pending_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
