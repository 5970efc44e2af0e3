//! Two of our mplex connections against each other (opening, 1 MiB each way, half-close,
//! reset, many streams), the same bytes cut into any chunks giving the same outcome, and
//! hostile input ending in its named error, never a panic.
#![cfg(feature = "mplex")]

use std::collections::{BTreeMap, BTreeSet};

use p2psec::mplex::{
    Connection, Error, Event, StreamError, StreamId, MAX_BUFFERED, MAX_FRAME_LEN,
    MAX_INBOUND_STREAMS, MAX_OUTBOUND_STREAMS, MAX_PENDING_EVENTS, MAX_REFUSED_STREAMS,
    MAX_STREAM_BUFFER, MAX_VARINT_LEN,
};
use proptest::prelude::*;

// ---- frames built by hand (an independent encoder, so the tests check ours) ----

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One frame as the peer sends it: `flag` as on the wire.
fn frame(num: u64, flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint((num << 3) | u64::from(flag), &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

const NEW_STREAM: u8 = 0;
const MESSAGE_RECEIVER: u8 = 1;
const MESSAGE_INITIATOR: u8 = 2;
const CLOSE_INITIATOR: u8 = 4;
const RESET_RECEIVER: u8 = 5;
const RESET_INITIATOR: u8 = 6;

// ---- the two-peer driver ----

/// One side: the machine, its unconsumed input, and what its application saw.
#[derive(Default)]
struct Side {
    conn: Connection,
    inbox: Vec<u8>,
    events: Vec<Event>,
    received: BTreeMap<StreamId, Vec<u8>>,
    eof: BTreeSet<StreamId>,
}

impl Side {
    /// Takes every event and reads every stream that reported something, as an
    /// application that keeps up does.
    fn drain_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            self.events.push(ev);
            if let Event::Readable { id } | Event::RemoteClosed { id } = ev {
                self.read_available(id);
            }
        }
    }

    fn read_available(&mut self, id: StreamId) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.conn.read(id, &mut buf) {
                Ok(0) => {
                    self.eof.insert(id);
                    return;
                }
                Ok(n) => self
                    .received
                    .entry(id)
                    .or_default()
                    .extend_from_slice(&buf[..n]),
                Err(StreamError::WouldBlock | StreamError::UnknownStream { .. }) => return,
                Err(e) => panic!("read {id}: {e}"),
            }
        }
    }

    fn received(&self, id: StreamId) -> &[u8] {
        self.received.get(&id).map_or(&[], Vec::as_slice)
    }
}

/// Two connections and the bytes between them; `chunk` cuts each delivery.
struct Pair {
    a: Side,
    b: Side,
    chunks: Box<dyn FnMut() -> usize>,
}

impl Pair {
    fn new() -> Self {
        Self::with_chunks(Box::new(|| usize::MAX))
    }

    fn with_chunks(chunks: Box<dyn FnMut() -> usize>) -> Self {
        Pair {
            a: Side::default(),
            b: Side::default(),
            chunks,
        }
    }

    /// Moves bytes both ways until neither side has anything to send or consume.
    fn run(&mut self) {
        for _ in 0..1_000_000 {
            let mut moved = deliver(&mut self.a, &mut self.b, &mut self.chunks);
            moved |= deliver(&mut self.b, &mut self.a, &mut self.chunks);
            if !moved {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    /// Writes all of `data` on `id` from side `a` (or `b`), running the pair whenever
    /// the send buffer is full.
    fn write_all(&mut self, from_a: bool, id: StreamId, mut data: &[u8]) {
        while !data.is_empty() {
            let side = if from_a { &mut self.a } else { &mut self.b };
            match side.conn.write(id, data) {
                Ok(n) => data = &data[n..],
                Err(StreamError::WouldBlock) => self.run(),
                Err(e) => panic!("write {id}: {e}"),
            }
        }
    }
}

/// `from`'s output into `to`'s inbox, fed chunk by chunk; whether anything moved.
fn deliver(from: &mut Side, to: &mut Side, chunks: &mut dyn FnMut() -> usize) -> bool {
    let mut out = Vec::new();
    let n = from.conn.poll_transmit(&mut out);
    assert_eq!(n, out.len());
    let mut moved = n > 0;
    let mut fed = 0;
    while fed < out.len() || !to.inbox.is_empty() {
        let take = chunks().clamp(1, out.len() - fed + 1).min(out.len() - fed);
        to.inbox.extend_from_slice(&out[fed..fed + take]);
        fed += take;
        let used = to.conn.handle_input(&to.inbox).expect("handle_input");
        to.inbox.drain(..used);
        moved |= used > 0;
        to.drain_events();
        if used == 0 && take == 0 {
            // blocked with nothing new: a stream nobody reads (the tests read all)
            assert!(to.conn.blocked_on().is_none(), "stalled");
            break;
        }
    }
    moved
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

// ---- scenarios ----

#[test]
fn one_mib_each_way_then_half_close_both_ways() {
    let mut p = Pair::new();
    let ours = p.a.conn.open_stream().unwrap();
    let theirs = StreamId::inbound(ours.num());
    let up = pattern(1024 * 1024 + 17, 1);
    let down = pattern(1024 * 1024 + 3, 2);
    p.write_all(true, ours, &up);
    p.run();
    assert_eq!(p.b.events[0], Event::InboundStream { id: theirs });
    p.write_all(false, theirs, &down);
    p.a.conn.close(ours).unwrap();
    p.run();
    // b saw a's end; b's side is still open and writes after it
    assert!(p.b.eof.contains(&theirs));
    assert!(!p.a.eof.contains(&ours));
    p.write_all(false, theirs, b"after your close");
    p.b.conn.close(theirs).unwrap();
    p.run();
    assert_eq!(p.b.received(theirs), &up[..]);
    let mut expected = down.clone();
    expected.extend_from_slice(b"after your close");
    assert_eq!(p.a.received(ours), &expected[..]);
    assert!(p.a.eof.contains(&ours));
    // closed both ways and read to the end: both sides forgot it
    assert_eq!(p.a.conn.open_streams(), 0);
    assert_eq!(p.b.conn.open_streams(), 0);
    assert_eq!(p.a.conn.buffered() + p.b.conn.buffered(), 0);
}

#[test]
fn write_after_our_close_is_refused_but_reading_goes_on() {
    let mut p = Pair::new();
    let s = p.a.conn.open_stream().unwrap();
    p.a.conn.close(s).unwrap();
    assert_eq!(
        p.a.conn.write(s, b"x"),
        Err(StreamError::WriteClosed { id: s })
    );
    p.a.conn.close(s).unwrap(); // idempotent
    p.run();
    let theirs = StreamId::inbound(s.num());
    assert_eq!(
        p.b.events,
        [
            Event::InboundStream { id: theirs },
            Event::RemoteClosed { id: theirs }
        ]
    );
    p.write_all(false, theirs, b"still flowing");
    p.run();
    assert_eq!(p.a.received(s), b"still flowing");
}

#[test]
fn reset_by_either_side() {
    let mut p = Pair::new();
    let s = p.a.conn.open_stream().unwrap();
    let theirs = StreamId::inbound(s.num());
    p.write_all(true, s, &pattern(5000, 3));
    p.run();
    // the receiver resets: the sender learns, its writes then fail
    p.b.conn.reset(theirs).unwrap();
    p.run();
    assert_eq!(p.a.events.last(), Some(&Event::Reset { id: s }));
    assert_eq!(
        p.a.conn.write(s, b"x"),
        Err(StreamError::UnknownStream { id: s })
    );
    assert_eq!(p.a.conn.open_streams(), 0);
    assert_eq!(p.b.conn.open_streams(), 0);

    // the opener resets with data still unread on the other side: it is dropped
    let s2 = p.a.conn.open_stream().unwrap();
    let theirs2 = StreamId::inbound(s2.num());
    p.a.conn.write(s2, b"unread").unwrap();
    let mut wire = Vec::new();
    let _ = p.a.conn.poll_transmit(&mut wire);
    p.a.conn.reset(s2).unwrap();
    let _ = p.a.conn.poll_transmit(&mut wire);
    p.b.conn.handle_input(&wire).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| p.b.conn.poll_event()).collect();
    assert_eq!(
        events,
        [
            Event::InboundStream { id: theirs2 },
            Event::Readable { id: theirs2 },
            Event::Reset { id: theirs2 }
        ]
    );
    assert_eq!(p.b.conn.buffered(), 0);
    assert_eq!(
        p.b.conn.read(theirs2, &mut [0u8; 8]),
        Err(StreamError::UnknownStream { id: theirs2 })
    );
}

#[test]
fn many_streams_both_ways_interleaved() {
    let mut p = Pair::new();
    let count = 200u64;
    let mut ours_a = Vec::new();
    let mut ours_b = Vec::new();
    for _ in 0..count {
        ours_a.push(p.a.conn.open_stream().unwrap());
        ours_b.push(p.b.conn.open_stream().unwrap());
    }
    // three rounds of writes, each stream in turn, so the frames interleave
    for round in 0..3u8 {
        for (i, (&sa, &sb)) in ours_a.iter().zip(&ours_b).enumerate() {
            let len = 100 + i * 7 + usize::from(round);
            p.write_all(true, sa, &pattern(len, round ^ i as u8));
            p.write_all(false, sb, &pattern(len, !round ^ i as u8));
        }
    }
    for (&sa, &sb) in ours_a.iter().zip(&ours_b) {
        p.a.conn.close(sa).unwrap();
        p.b.conn.close(sb).unwrap();
    }
    p.run();
    for (i, (&sa, &sb)) in ours_a.iter().zip(&ours_b).enumerate() {
        let mut want_at_b = Vec::new();
        let mut want_at_a = Vec::new();
        for round in 0..3u8 {
            let len = 100 + i * 7 + usize::from(round);
            want_at_b.extend(pattern(len, round ^ i as u8));
            want_at_a.extend(pattern(len, !round ^ i as u8));
        }
        // the same number names two different streams on each side
        assert_eq!(p.b.received(StreamId::inbound(sa.num())), &want_at_b[..]);
        assert_eq!(p.a.received(StreamId::inbound(sb.num())), &want_at_a[..]);
        assert!(p.b.eof.contains(&StreamId::inbound(sa.num())));
    }
    // neither side closed the streams the other opened: all are still open
    assert_eq!(p.a.conn.open_streams(), 2 * count as usize);
}

#[test]
fn stream_limits_on_both_sides() {
    let mut p = Pair::new();
    for _ in 0..MAX_OUTBOUND_STREAMS {
        p.a.conn.open_stream().unwrap();
    }
    assert_eq!(
        p.a.conn.open_stream(),
        Err(StreamError::TooManyStreams {
            max: MAX_OUTBOUND_STREAMS
        })
    );
    p.run();
    assert_eq!(p.b.conn.open_streams(), MAX_INBOUND_STREAMS);
    // a stream reset by the peer frees a place
    p.b.conn.reset(StreamId::inbound(0)).unwrap();
    p.run();
    let more = p.a.conn.open_stream().unwrap();
    p.run();
    assert!(p.b.events.contains(&Event::InboundStream {
        id: StreamId::inbound(more.num())
    }));
    assert_eq!(p.b.conn.open_streams(), MAX_INBOUND_STREAMS);
}

#[test]
fn a_full_buffer_stalls_the_connection_until_read() {
    let mut a = Connection::new();
    let mut b = Connection::new();
    let streams: Vec<_> = (0..20).map(|_| a.open_stream().unwrap()).collect();
    let mut wire = Vec::new();
    let chunk = pattern(MAX_STREAM_BUFFER, 9);
    for &s in &streams {
        // one full buffer per stream, more than MAX_BUFFERED in all
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            match a.write(s, rest) {
                Ok(n) => rest = &rest[n..],
                Err(StreamError::WouldBlock) => {
                    let _ = a.poll_transmit(&mut wire);
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    let _ = a.poll_transmit(&mut wire);
    let used = b.handle_input(&wire).unwrap();
    assert!(used < wire.len());
    assert_eq!(b.buffered(), MAX_BUFFERED);
    let blocked = b.blocked_on().expect("blocked");
    assert_eq!(
        blocked,
        StreamId::inbound(MAX_BUFFERED as u64 / MAX_STREAM_BUFFER as u64)
    );
    // reading another stream makes room for the blocked one
    let mut buf = vec![0u8; MAX_STREAM_BUFFER];
    assert_eq!(
        b.read(StreamId::inbound(0), &mut buf),
        Ok(MAX_STREAM_BUFFER)
    );
    let rest = &wire[used..];
    let used2 = b.handle_input(rest).unwrap();
    assert!(used2 > 0);
    assert_eq!(b.buffered(), MAX_BUFFERED);
}

#[test]
fn the_event_queue_is_bounded() {
    // a peer that opens and resets streams faster than the caller looks
    let mut wire = Vec::new();
    for num in 0..(MAX_PENDING_EVENTS as u64) {
        wire.extend(frame(num, NEW_STREAM, b""));
        wire.extend(frame(num, RESET_INITIATOR, b""));
    }
    let mut b = Connection::new();
    let used = b.handle_input(&wire).unwrap();
    assert!(used < wire.len());
    let events = std::iter::from_fn(|| b.poll_event()).count();
    assert_eq!(events, MAX_PENDING_EVENTS);
    let used2 = b.handle_input(&wire[used..]).unwrap();
    assert_eq!(used + used2, wire.len());
}

// ---- hostile input: each with its named error, and poisoned afterwards ----

/// Feeds `wire` to a fresh connection in one piece and byte by byte: both end in `want`.
fn fails_with(wire: &[u8], want: Error) {
    let mut whole = Connection::new();
    let mut whole_out = Vec::new();
    let e = whole.handle_input(wire).unwrap_err();
    assert_eq!(e, want);
    assert_eq!(whole.handle_input(b"more"), Err(want.clone()));
    assert_eq!(
        whole.open_stream(),
        Err(StreamError::Connection(want.clone()))
    );
    assert_eq!(whole.poll_transmit(&mut whole_out), 0);
    assert_eq!(whole.poll_event(), None);
    let mut bytewise = Connection::new();
    let mut inbox = Vec::new();
    let mut got = None;
    for &b in wire {
        inbox.push(b);
        match bytewise.handle_input(&inbox) {
            Ok(n) => {
                inbox.drain(..n);
                while bytewise.poll_event().is_some() {}
                let _ = bytewise.poll_transmit(&mut Vec::new());
            }
            Err(e) => {
                got = Some(e);
                break;
            }
        }
    }
    assert_eq!(got, Some(want));
}

#[test]
fn oversized_frame() {
    let mut wire = Vec::new();
    varint(0, &mut wire);
    varint(MAX_FRAME_LEN as u64 + 1, &mut wire);
    fails_with(
        &wire,
        Error::FrameTooLarge {
            len: MAX_FRAME_LEN as u64 + 1,
            max: MAX_FRAME_LEN,
        },
    );
    // the largest allowed is fine, even as a stream name
    let mut ok = frame(0, NEW_STREAM, &vec![b'n'; MAX_FRAME_LEN]);
    ok.extend(frame(0, MESSAGE_INITIATOR, b"x"));
    let mut c = Connection::new();
    assert_eq!(c.handle_input(&ok), Ok(ok.len()));
    // a 9-byte length far past the limit names its value
    let mut huge = vec![0u8];
    varint(u64::MAX >> 1, &mut huge);
    fails_with(
        &huge,
        Error::FrameTooLarge {
            len: u64::MAX >> 1,
            max: MAX_FRAME_LEN,
        },
    );
}

#[test]
fn overlong_and_non_minimal_varints() {
    let overflow = Error::VarintOverflow {
        max_bytes: MAX_VARINT_LEN,
    };
    fails_with(&[0xff; 10], overflow.clone());
    fails_with(
        &[
            0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
        ],
        overflow,
    );
    fails_with(&[0x80, 0x00], Error::NonMinimalVarint);
    fails_with(&[0x08, 0x81, 0x00], Error::NonMinimalVarint);
}

#[test]
fn invalid_flag() {
    fails_with(&[0x07], Error::InvalidFlag { flag: 7 });
    fails_with(&[(5 << 3) | 7], Error::InvalidFlag { flag: 7 });
}

#[test]
fn frames_for_streams_never_opened() {
    // MessageReceiver names one of *our* streams: we opened none
    fails_with(
        &frame(5, MESSAGE_RECEIVER, b"hi"),
        Error::UnknownStream {
            id: StreamId::outbound(5),
        },
    );
    fails_with(
        &frame(0, RESET_RECEIVER, b""),
        Error::UnknownStream {
            id: StreamId::outbound(0),
        },
    );
    // the peer's own numbers may belong to streams we forgot: skipped, not an error
    let mut c = Connection::new();
    let wire = frame(9, MESSAGE_INITIATOR, b"late data");
    assert_eq!(c.handle_input(&wire), Ok(wire.len()));
    assert_eq!(c.poll_event(), None);
}

#[test]
fn duplicate_stream_and_data_after_close() {
    let mut wire = frame(3, NEW_STREAM, b"");
    wire.extend(frame(3, NEW_STREAM, b""));
    fails_with(
        &wire,
        Error::DuplicateStream {
            id: StreamId::inbound(3),
        },
    );
    let mut wire = frame(3, NEW_STREAM, b"");
    wire.extend(frame(3, CLOSE_INITIATOR, b""));
    wire.extend(frame(3, MESSAGE_INITIATOR, b"after"));
    fails_with(
        &wire,
        Error::DataAfterClose {
            id: StreamId::inbound(3),
        },
    );
}

#[test]
fn too_many_streams() {
    let mut wire = Vec::new();
    for num in 0..(MAX_INBOUND_STREAMS + MAX_REFUSED_STREAMS) as u64 {
        wire.extend(frame(num, NEW_STREAM, b""));
    }
    // up to here every extra stream is refused with a reset
    let mut c = Connection::new();
    let mut inbox = wire.clone();
    let mut resets = Vec::new();
    while !inbox.is_empty() {
        let used = c.handle_input(&inbox).unwrap();
        inbox.drain(..used);
        while c.poll_event().is_some() {}
        let _ = c.poll_transmit(&mut resets);
    }
    let mut expected = Vec::new();
    for num in MAX_INBOUND_STREAMS as u64..(MAX_INBOUND_STREAMS + MAX_REFUSED_STREAMS) as u64 {
        expected.extend(frame(num, RESET_RECEIVER, b""));
    }
    assert_eq!(resets, expected);
    // one more is one too many
    wire.extend(frame(10_000, NEW_STREAM, b""));
    fails_with(
        &wire,
        Error::TooManyStreams {
            max: MAX_INBOUND_STREAMS,
        },
    );
}

// ---- chunking invariance ----

/// What a receiver ends with: every event in order, each stream's data, the error.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    data: BTreeMap<StreamId, Vec<u8>>,
    error: Option<Error>,
    consumed: usize,
}

/// Feeds `wire` in pieces of the given sizes (cycled), taking events after each call
/// and reading the data only at the end, so reads cannot depend on the chunking.
fn receive(wire: &[u8], sizes: &[usize]) -> Outcome {
    let mut c = Connection::new();
    let mut events = Vec::new();
    let mut inbox = Vec::new();
    let mut fed = 0;
    let mut consumed = 0;
    let mut error = None;
    let mut sizes = sizes.iter().copied().cycle();
    while fed < wire.len() {
        let take = sizes.next().unwrap_or(1).max(1).min(wire.len() - fed);
        inbox.extend_from_slice(&wire[fed..fed + take]);
        fed += take;
        match c.handle_input(&inbox) {
            Ok(n) => {
                inbox.drain(..n);
                consumed += n;
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        events.extend(std::iter::from_fn(|| c.poll_event()));
        let _ = c.poll_transmit(&mut Vec::new());
    }
    let mut data = BTreeMap::new();
    if error.is_none() {
        let ids: BTreeSet<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Readable { id } => Some(*id),
                _ => None,
            })
            .collect();
        for id in ids {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = c.read(id, &mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
            }
            data.insert(id, all);
        }
    } else {
        // events before the error depend on how far the pieces got: compare the error
        events.clear();
        consumed = 0;
    }
    Outcome {
        events,
        data,
        error,
        consumed,
    }
}

/// A peer's operations, turned into its wire bytes by one of our connections.
#[derive(Debug, Clone)]
enum Op {
    Open,
    Write(usize, usize),
    Close(usize),
    Reset(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Open),
        4 => (0usize..8, 0usize..3000).prop_map(|(s, n)| Op::Write(s, n)),
        1 => (0usize..8).prop_map(Op::Close),
        1 => (0usize..8).prop_map(Op::Reset),
    ]
}

fn transcript(ops: &[Op]) -> Vec<u8> {
    let mut c = Connection::new();
    let mut streams = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Open => streams.push(c.open_stream().unwrap()),
            Op::Write(s, n) => {
                if let Some(&id) = streams.get(s) {
                    let _ = c.write(id, &pattern(n, i as u8));
                }
            }
            Op::Close(s) => {
                if let Some(&id) = streams.get(s) {
                    let _ = c.close(id);
                }
            }
            Op::Reset(s) => {
                if let Some(&id) = streams.get(s) {
                    let _ = c.reset(id);
                }
            }
        }
    }
    let mut wire = Vec::new();
    let _ = c.poll_transmit(&mut wire);
    wire
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_chunking_of_a_conversation_gives_the_same_outcome(
        ops in proptest::collection::vec(op(), 0..40),
        sizes in proptest::collection::vec(1usize..200, 1..20),
    ) {
        let wire = transcript(&ops);
        let whole = receive(&wire, &[usize::MAX]);
        prop_assert_eq!(whole.error.as_ref(), None);
        prop_assert_eq!(whole.consumed, wire.len());
        let chunked = receive(&wire, &sizes);
        prop_assert_eq!(&chunked, &whole);
        prop_assert_eq!(receive(&wire, &[1]), whole);
    }

    #[test]
    fn any_chunking_of_garbage_gives_the_same_outcome(
        wire in proptest::collection::vec(any::<u8>(), 0..400),
        sizes in proptest::collection::vec(1usize..50, 1..10),
    ) {
        let whole = receive(&wire, &[usize::MAX]);
        prop_assert_eq!(receive(&wire, &sizes), whole);
    }

    #[test]
    fn two_peers_deliver_everything_however_the_bytes_are_cut(
        seed in any::<u64>(),
        writes in proptest::collection::vec((0usize..4, any::<bool>(), 1usize..20_000), 1..20),
    ) {
        let mut state = seed | 1;
        let mut p = Pair::with_chunks(Box::new(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 3000) as usize + 1
        }));
        let a_streams: Vec<_> = (0..4).map(|_| p.a.conn.open_stream().unwrap()).collect();
        let b_streams: Vec<_> = (0..4).map(|_| p.b.conn.open_stream().unwrap()).collect();
        let mut sent: BTreeMap<(bool, usize), Vec<u8>> = BTreeMap::new();
        for (i, &(s, from_a, len)) in writes.iter().enumerate() {
            let data = pattern(len, i as u8);
            let id = if from_a { a_streams[s] } else { b_streams[s] };
            p.write_all(from_a, id, &data);
            sent.entry((from_a, s)).or_default().extend(data);
        }
        for s in 0..4 {
            p.a.conn.close(a_streams[s]).unwrap();
            p.b.conn.close(b_streams[s]).unwrap();
        }
        p.run();
        for s in 0..4 {
            let at_b = p.b.received(StreamId::inbound(a_streams[s].num()));
            let at_a = p.a.received(StreamId::inbound(b_streams[s].num()));
            prop_assert_eq!(at_b, sent.get(&(true, s)).map_or(&[][..], Vec::as_slice));
            prop_assert_eq!(at_a, sent.get(&(false, s)).map_or(&[][..], Vec::as_slice));
            prop_assert!(p.b.eof.contains(&StreamId::inbound(a_streams[s].num())));
            prop_assert!(p.a.eof.contains(&StreamId::inbound(b_streams[s].num())));
        }
    }
}
