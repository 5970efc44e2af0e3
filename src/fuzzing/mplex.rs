//! The fuzz body for the mplex machine: the peer's bytes in chunks, our verbs in between.
//! The same input, whole or chunked, must end alike; buffering stays bounded; an error
//! poisons the machine.

use super::chunks;
use crate::mplex::{Connection, Error, Event, StreamError, StreamId, MAX_BUFFERED};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// What a passive receiver ends with (data read only at the end, so the reads cannot
/// depend on the chunking).
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    data: BTreeMap<StreamId, Vec<u8>>,
    error: Option<Error>,
    consumed: usize,
}

/// Fuzz body: an mplex connection fed `data` as the peer's bytes. The first byte seeds
/// the chunking. Checks that the chunks and the whole input end alike (events, data,
/// error), that nothing panics, that buffering stays bounded and that an error
/// poisons the machine; then replays the chunks with our verbs (open, write, read,
/// close, reset) interleaved, picked by each chunk's first byte.
pub fn mplex_connection(data: &[u8]) {
    let payload = data.get(1..).unwrap_or_default();
    let whole = passive(core::iter::once(payload));
    let chunked = passive(chunks(data));
    match (&whole.error, &chunked.error) {
        (None, None) => assert_eq!(whole, chunked, "chunking changed the outcome"),
        (a, b) => assert_eq!(a, b, "chunking changed the error"),
    }
    active(data);
}

fn passive<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut c = Connection::new();
    let mut inbox = Vec::new();
    let mut events = Vec::new();
    let mut consumed = 0;
    let mut error = None;
    'feed: for piece in pieces {
        inbox.extend_from_slice(piece);
        loop {
            match c.handle_input(&inbox) {
                Ok(n) => {
                    assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                    inbox.drain(..n);
                    consumed += n;
                    let before = events.len();
                    events.extend(core::iter::from_fn(|| c.poll_event()));
                    let mut out = Vec::new();
                    let sent = c.poll_transmit(&mut out);
                    assert_eq!(sent, out.len(), "poll_transmit miscounted");
                    assert!(c.buffered() <= MAX_BUFFERED, "unbounded buffering");
                    // again only while something moved (a full event queue or reply
                    // queue stops the machine until they are taken)
                    if n == 0 && events.len() == before && sent == 0 {
                        break;
                    }
                }
                Err(e) => {
                    assert_eq!(c.handle_input(&inbox).as_ref(), Err(&e));
                    assert_eq!(c.poll_event(), None);
                    assert_eq!(c.poll_transmit(&mut Vec::new()), 0);
                    assert_eq!(c.open_stream(), Err(StreamError::Connection(e.clone())));
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    let mut data = BTreeMap::new();
    if error.is_none() {
        for ev in &events {
            if let Event::Readable { id } = ev {
                let mut all = Vec::new();
                let mut buf = [0u8; 1024];
                while let Ok(n) = c.read(*id, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    all.extend_from_slice(buf.get(..n).unwrap_or_default());
                }
                data.entry(*id).or_insert(all);
            }
        }
    }
    Outcome {
        events,
        data,
        error,
        consumed,
    }
}

/// The chunks again, as an application would meet them: answering new streams,
/// reading what arrives, closing after the peer's close, opening and writing and
/// resetting streams of its own.
fn active(data: &[u8]) {
    let mut c = Connection::new();
    let mut inbox = Vec::new();
    let mut mine: Vec<StreamId> = Vec::new();
    let mut buf = [0u8; 512];
    for piece in chunks(data) {
        let pick = piece.first().copied().unwrap_or(0);
        let ours = mine
            .get(usize::from(pick >> 3) % mine.len().max(1))
            .copied();
        match (pick % 8, ours) {
            (0, _) => {
                if let Ok(id) = c.open_stream() {
                    mine.push(id);
                }
            }
            (1, Some(id)) => {
                let _ = c.write(id, piece);
            }
            (2, Some(id)) => {
                let _ = c.close(id);
            }
            (3, Some(id)) => {
                let _ = c.reset(id);
            }
            (4, Some(id)) => {
                let _ = c.release(id);
            }
            _ => {}
        }
        inbox.extend_from_slice(piece);
        match c.handle_input(&inbox) {
            Ok(n) => {
                inbox.drain(..n);
            }
            Err(e) => {
                let id = StreamId::inbound(0);
                let poisoned = Err(StreamError::Connection(e.clone()));
                assert_eq!(c.write(id, b"x"), poisoned);
                assert_eq!(c.read(id, &mut buf), poisoned);
                assert_eq!(c.close(id), poisoned.map(|_| ()));
                assert_eq!(c.error(), Some(&e));
                return;
            }
        }
        while let Some(ev) = c.poll_event() {
            match ev {
                Event::InboundStream { id } => {
                    let _ = c.write(id, b"hello");
                }
                Event::Readable { id } | Event::RemoteClosed { id } => {
                    while let Ok(n) = c.read(id, &mut buf) {
                        if n == 0 {
                            let _ = c.close(id);
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(c.buffered() <= MAX_BUFFERED, "unbounded buffering");
        let mut out = Vec::new();
        let sent = c.poll_transmit(&mut out);
        assert_eq!(sent, out.len(), "poll_transmit miscounted");
    }
}

#[cfg(test)]
mod tests {
    use super::super::drive::holds;
    use super::*;
    use crate::fuzzing::Xorshift;

    /// Appends one frame (flag as on the wire).
    fn frame(num: u64, flag: u64, payload: &[u8], out: &mut Vec<u8>) {
        let mut buf = unsigned_varint::encode::u64_buffer();
        out.extend_from_slice(unsigned_varint::encode::u64((num << 3) | flag, &mut buf));
        let mut buf = unsigned_varint::encode::usize_buffer();
        out.extend_from_slice(unsigned_varint::encode::usize(payload.len(), &mut buf));
        out.extend_from_slice(payload);
    }

    /// Deterministic inputs built from mplex frames and noise, so the body reaches
    /// every state, not just the header check.
    fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
        let mut rng = Xorshift(seed | 1);
        (0..count).map(move |_| {
            let mut data = alloc::vec![rng.next() as u8];
            for _ in 0..rng.next() % 16 {
                let num = rng.next() % 4;
                match rng.next() % 12 {
                    0..=9 => {
                        let len = (rng.next() % 40) as usize;
                        let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                        // mostly the peer's own streams (initiator flags), which stay legal
                        let flag = [0, 0, 2, 2, 2, 4, 6, 1, 3, 5][(rng.next() % 10) as usize];
                        frame(num, flag, &payload, &mut data);
                    }
                    10 => frame(num, 7, b"", &mut data),
                    _ => {
                        for _ in 0..rng.next() % 6 {
                            data.push(rng.next() as u8);
                        }
                    }
                }
            }
            data
        })
    }

    #[test]
    fn body_holds_on_pseudo_random_inputs() {
        holds(
            mplex_connection,
            &[&[]],
            inputs(4000, 0x9e37_79b9_7f4a_7c15),
        );
    }
}
