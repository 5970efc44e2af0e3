use super::*;
use alloc::vec;

/// Moves everything between two connections until neither has anything to say;
/// returns the events each saw.
fn pump(a: &mut Connection, b: &mut Connection) -> (Vec<Event>, Vec<Event>) {
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    let (mut to_b, mut to_a) = (Vec::new(), Vec::new());
    loop {
        let _ = a.poll_transmit(&mut to_b);
        let _ = b.poll_transmit(&mut to_a);
        if to_a.is_empty() && to_b.is_empty() {
            break;
        }
        let used = b.handle_input(&to_b).unwrap();
        to_b.drain(..used);
        let used = a.handle_input(&to_a).unwrap();
        to_a.drain(..used);
        ea.extend(core::iter::from_fn(|| a.poll_event()));
        eb.extend(core::iter::from_fn(|| b.poll_event()));
        assert!(to_a.is_empty() && to_b.is_empty(), "blocked");
    }
    (ea, eb)
}

fn read_all(c: &mut Connection, id: StreamId) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 1000];
    while let Ok(n) = c.read(id, &mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}

#[test]
fn open_write_close_read() {
    let (mut a, mut b) = (Connection::new(), Connection::new());
    let s = a.open_stream().unwrap();
    assert_eq!(s, StreamId::outbound(0));
    assert_eq!(a.write(s, b"hello").unwrap(), 5);
    a.close(s).unwrap();
    let (_, eb) = pump(&mut a, &mut b);
    let theirs = StreamId::inbound(0);
    assert_eq!(
        eb,
        [
            Event::InboundStream { id: theirs },
            Event::Readable { id: theirs },
            Event::RemoteClosed { id: theirs }
        ]
    );
    assert_eq!(read_all(&mut b, theirs), b"hello");
    // EOF was read; our side is still open: write back, then close
    assert_eq!(b.write(theirs, b"bye").unwrap(), 3);
    b.close(theirs).unwrap();
    assert_eq!(b.open_streams(), 0, "closed both ways and read to the end");
    let (ea, _) = pump(&mut a, &mut b);
    assert_eq!(
        ea,
        [Event::Readable { id: s }, Event::RemoteClosed { id: s }]
    );
    assert_eq!(read_all(&mut a, s), b"bye");
    assert_eq!(a.open_streams(), 0);
    assert_eq!(a.write(s, b"x"), Err(StreamError::UnknownStream { id: s }));
}

#[test]
fn both_sides_may_use_the_same_number() {
    let (mut a, mut b) = (Connection::new(), Connection::new());
    let sa = a.open_stream().unwrap();
    let sb = b.open_stream().unwrap();
    a.write(sa, b"from a").unwrap();
    b.write(sb, b"from b").unwrap();
    pump(&mut a, &mut b);
    assert_eq!(read_all(&mut a, StreamId::inbound(0)), b"from b");
    assert_eq!(read_all(&mut b, StreamId::inbound(0)), b"from a");
    // nothing arrived on the streams each opened
    let mut buf = [0u8; 8];
    assert_eq!(a.read(sa, &mut buf), Err(StreamError::WouldBlock));
}

#[test]
fn reset_drops_data_and_forgets() {
    let (mut a, mut b) = (Connection::new(), Connection::new());
    let s = a.open_stream().unwrap();
    a.write(s, b"lost").unwrap();
    pump(&mut a, &mut b);
    let theirs = StreamId::inbound(0);
    assert_eq!(b.buffered(), 4);
    a.reset(s).unwrap();
    let (_, eb) = pump(&mut a, &mut b);
    assert_eq!(eb, [Event::Reset { id: theirs }]);
    assert_eq!(b.buffered(), 0);
    assert_eq!(
        b.read(theirs, &mut [0u8; 4]),
        Err(StreamError::UnknownStream { id: theirs })
    );
    // data the peer sent before it saw our reset is skipped
    // (flag 2: data from the stream's initiator, stream 0)
    b.handle_input(&[2, 2, b'o', b'k']).unwrap();
    assert_eq!(b.poll_event(), None);
}

#[test]
fn writes_are_split_and_bounded() {
    let mut a = Connection::new();
    let s = a.open_stream().unwrap();
    let data = vec![7u8; MAX_SEND_BUFFER + 10];
    assert_eq!(a.write(s, &data).unwrap(), MAX_SEND_BUFFER);
    assert_eq!(a.write(s, &data), Err(StreamError::WouldBlock));
    let mut out = Vec::new();
    let n = a.poll_transmit(&mut out);
    assert_eq!(n, out.len());
    let frames = MAX_SEND_BUFFER / SEND_FRAME_LEN;
    // NewStream (2 bytes), then each frame: header 1 byte, length 3 bytes
    assert_eq!(out.len(), 2 + frames * (4 + SEND_FRAME_LEN));
    assert_eq!(a.write(s, &data[..10]).unwrap(), 10);
}

#[test]
fn a_full_stream_blocks_input_until_read() {
    let (mut a, mut b) = (Connection::new(), Connection::new());
    let s = a.open_stream().unwrap();
    let mut wire = Vec::new();
    let chunk = vec![1u8; MAX_SEND_BUFFER];
    for _ in 0..3 {
        a.write(s, &chunk).unwrap();
        let _ = a.poll_transmit(&mut wire);
    }
    let used = b.handle_input(&wire).unwrap();
    assert!(used < wire.len());
    let theirs = StreamId::inbound(0);
    assert_eq!(b.blocked_on(), Some(theirs));
    assert_eq!(b.buffered(), MAX_STREAM_BUFFER);
    // the same call again takes nothing: no room yet
    assert_eq!(b.handle_input(&wire[used..]).unwrap(), 0);
    let mut buf = vec![0u8; 100_000];
    assert_eq!(b.read(theirs, &mut buf).unwrap(), 100_000);
    assert_eq!(b.blocked_on(), None);
    let more = b.handle_input(&wire[used..]).unwrap();
    assert!(more >= 100_000);
    assert_eq!(b.buffered(), MAX_STREAM_BUFFER);
}

#[test]
fn poisoned_after_an_error() {
    let mut c = Connection::new();
    let s = c.open_stream().unwrap();
    let e = c.handle_input(&[7, 0]).unwrap_err();
    assert_eq!(e, Error::InvalidFlag { flag: 7 });
    assert_eq!(c.handle_input(&[]), Err(e.clone()));
    assert_eq!(c.error(), Some(&e));
    assert_eq!(c.write(s, b"x"), Err(StreamError::Connection(e.clone())));
    assert_eq!(c.open_stream(), Err(StreamError::Connection(e)));
    assert_eq!(c.poll_transmit(&mut Vec::new()), 0);
    assert_eq!(c.poll_event(), None);
}

#[test]
fn release_resets_open_streams_and_forgets_closed_ones() {
    let (mut a, mut b) = (Connection::new(), Connection::new());
    let s1 = a.open_stream().unwrap();
    let s2 = a.open_stream().unwrap();
    a.close(s2).unwrap();
    pump(&mut a, &mut b);
    a.release(s1).unwrap();
    a.release(s2).unwrap();
    a.release(s2).unwrap();
    let (_, eb) = pump(&mut a, &mut b);
    assert_eq!(
        eb,
        [Event::Reset {
            id: StreamId::inbound(0)
        }]
    );
    assert_eq!(a.open_streams(), 0);
    // stream 1 is still open on b's side; what b sends on it is skipped by a
    b.write(StreamId::inbound(1), b"late").unwrap();
    let (ea, _) = pump(&mut a, &mut b);
    assert!(ea.is_empty());
}
