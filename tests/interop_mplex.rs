//! Our mplex [`Connection`] against rust-libp2p's `libp2p-mplex` 0.44 (the release for
//! libp2p-core 0.44) over an in-memory duplex: streams opened by either side, more than
//! 1 MiB each way at once, half-close in both directions, and resets both ways.
//!
//! Their side is a future (the `libp2p_core` upgrade, then `StreamMuxer` and substream
//! reads and writes); ours is a plain loop over the machine's verbs. One `poll_fn`
//! alternates the two until neither moves a byte.
#![cfg(feature = "mplex")]

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    future::Future,
    io,
    pin::{pin, Pin},
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
};

use futures::{
    executor::block_on,
    future::{join_all, poll_fn},
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
};
use libp2p_core::{muxing::StreamMuxerExt, upgrade::OutboundConnectionUpgrade};
use p2psec::mplex::{Connection, Event, StreamError, StreamId, MPLEX};

const MIB: usize = 1024 * 1024;

// ---- the in-memory duplex ----

/// One direction: a byte queue with an end-of-stream flag.
#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
    /// Bytes ever written: progress shows as a change here.
    total: usize,
}

type Shared = Arc<Mutex<Pipe>>;

fn push(pipe: &Shared, data: &[u8]) {
    let mut p = pipe.lock().unwrap();
    p.bytes.extend(data);
    p.total += data.len();
    if let Some(w) = p.reader.take() {
        w.wake();
    }
}

fn state(pipe: &Shared) -> (usize, usize, bool) {
    let p = pipe.lock().unwrap();
    (p.total, p.bytes.len(), p.closed)
}

/// Their end of the duplex.
struct Endpoint {
    rx: Shared,
    tx: Shared,
}

impl AsyncRead for Endpoint {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.rx.lock().unwrap();
        if p.bytes.is_empty() {
            if p.closed {
                return Poll::Ready(Ok(0));
            }
            p.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(p.bytes.len());
        for (dst, src) in buf.iter_mut().zip(p.bytes.drain(..n)) {
            *dst = src;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Endpoint {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        push(&self.tx, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tx.lock().unwrap().closed = true;
        Poll::Ready(Ok(()))
    }
}

type Theirs = libp2p_mplex::Multiplex<Endpoint>;

// ---- our side ----

/// Our application: sends a planned payload on streams (then closes them), reads
/// everything that arrives.
#[derive(Default)]
struct Ours {
    conn: Connection,
    inbox: Vec<u8>,
    /// What each inbound stream gets as an answer at once (then our close).
    answer: Vec<u8>,
    /// What every stream gets once the peer closed it (then our close).
    answer_after_eof: Vec<u8>,
    /// Data still to send per stream, and whether to close after it.
    sending: BTreeMap<StreamId, (Vec<u8>, usize, bool)>,
    received: BTreeMap<StreamId, Vec<u8>>,
    eof: BTreeSet<StreamId>,
    inbound: Vec<StreamId>,
    resets: Vec<StreamId>,
}

impl Ours {
    fn send(&mut self, id: StreamId, data: Vec<u8>, close: bool) {
        self.sending.insert(id, (data, 0, close));
    }

    /// One round of our driver: their bytes in, events handled, our bytes out.
    fn step(&mut self, from_them: &Shared, to_them: &Shared) {
        let bytes: Vec<u8> = from_them.lock().unwrap().bytes.drain(..).collect();
        self.inbox.extend(bytes);
        let used = self
            .conn
            .handle_input(&self.inbox)
            .expect("our handle_input");
        self.inbox.drain(..used);
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::InboundStream { id } => {
                    self.inbound.push(id);
                    let answer = self.answer.clone();
                    self.send(id, answer, true);
                }
                Event::Readable { id } | Event::RemoteClosed { id } => self.read(id),
                Event::Reset { id } => {
                    self.resets.push(id);
                    self.sending.remove(&id);
                }
                _ => {}
            }
        }
        let ids: Vec<_> = self.sending.keys().copied().collect();
        for id in ids {
            let Some((data, pos, close)) = self.sending.get_mut(&id) else {
                continue;
            };
            while *pos < data.len() {
                match self.conn.write(id, &data[*pos..]) {
                    Ok(n) => *pos += n,
                    Err(StreamError::WouldBlock) => break,
                    Err(e) => panic!("our write on {id}: {e}"),
                }
            }
            if *pos == data.len() {
                if *close {
                    self.conn.close(id).expect("our close");
                }
                self.sending.remove(&id);
            }
        }
        let mut out = Vec::new();
        let _ = self.conn.poll_transmit(&mut out);
        push(to_them, &out);
    }

    fn read(&mut self, id: StreamId) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.conn.read(id, &mut buf) {
                Ok(0) => {
                    if self.eof.insert(id) && !self.answer_after_eof.is_empty() {
                        let answer = self.answer_after_eof.clone();
                        self.send(id, answer, true);
                    }
                    return;
                }
                Ok(n) => self
                    .received
                    .entry(id)
                    .or_default()
                    .extend_from_slice(&buf[..n]),
                Err(StreamError::WouldBlock | StreamError::UnknownStream { .. }) => return,
                Err(e) => panic!("our read on {id}: {e}"),
            }
        }
    }
}

/// Runs their future against `ours` until neither moves; `before_each` may act on our
/// side between rounds. Returns their result (`None`: still waiting when all went quiet).
fn run<T, F: Future<Output = io::Result<T>>>(
    ours: &mut Ours,
    theirs: impl FnOnce(Theirs) -> F,
) -> Option<T> {
    let to_them: Shared = Arc::default();
    let to_us: Shared = Arc::default();
    let endpoint = Endpoint {
        rx: to_them.clone(),
        tx: to_us.clone(),
    };
    // mplex has no roles: the same upgrade either way (the outbound one here)
    let muxer = block_on(libp2p_mplex::Config::new().upgrade_outbound(endpoint, MPLEX))
        .expect("their upgrade");
    let mut fut = pin!(theirs(muxer));
    let mut result = None;
    block_on(poll_fn(|cx| {
        for _ in 0..1_000_000 {
            let before = (state(&to_them), state(&to_us), result.is_some());
            if result.is_none() {
                if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                    result = Some(r.expect("their side failed"));
                }
            }
            ours.step(&to_us, &to_them);
            let after = (state(&to_them), state(&to_us), result.is_some());
            if before == after {
                return Poll::Ready(());
            }
        }
        panic!("the exchange never settled");
    }));
    result
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

/// Both directions of one substream at once: writes `data` and closes, while reading
/// to the end.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    data: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let (mut reader, mut writer) = stream.split();
    let send = async {
        writer.write_all(&data).await?;
        writer.close().await
    };
    let receive = async {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await?;
        Ok::<_, io::Error>(got)
    };
    let (sent, got) = futures::join!(send, receive);
    sent?;
    got
}

#[test]
fn we_open_and_exchange_more_than_a_mib_each_way() {
    let ours_data = pattern(MIB + 4321, 1);
    let their_data = pattern(MIB + 1234, 2);
    let mut ours = Ours::default();
    let id = ours.conn.open_stream().unwrap();
    ours.send(id, ours_data.clone(), true);
    let answer = their_data.clone();
    let got = run(&mut ours, |mut muxer| async move {
        let stream = poll_fn(|cx| muxer.poll_inbound_unpin(cx)).await?;
        exchange(stream, answer).await
    })
    .expect("their side finished");
    assert_eq!(got.len(), ours_data.len());
    assert!(got == ours_data, "they received other bytes than we sent");
    assert!(ours.received[&id] == their_data, "we received other bytes");
    assert!(ours.eof.contains(&id), "their close reached us as EOF");
    // both closed and read to the end: forgotten on our side
    assert_eq!(ours.conn.open_streams(), 0);
    assert!(ours.resets.is_empty());
}

#[test]
fn they_open_and_exchange_more_than_a_mib_each_way() {
    let their_data = pattern(MIB + 99, 3);
    let ours_data = pattern(MIB + 7, 4);
    let mut ours = Ours {
        answer: ours_data.clone(),
        ..Ours::default()
    };
    let sent = their_data.clone();
    let got = run(&mut ours, |mut muxer| async move {
        let stream = poll_fn(|cx| muxer.poll_outbound_unpin(cx)).await?;
        exchange(stream, sent).await
    })
    .expect("their side finished");
    assert_eq!(ours.inbound, [StreamId::inbound(0)]);
    let id = ours.inbound[0];
    assert!(got == ours_data, "they received other bytes than we sent");
    assert!(ours.received[&id] == their_data, "we received other bytes");
    assert!(ours.eof.contains(&id));
    assert_eq!(ours.conn.open_streams(), 0);
}

#[test]
fn they_close_first_and_read_our_answer_after_their_end() {
    let mut ours = Ours {
        answer_after_eof: pattern(MIB + 1, 5),
        ..Ours::default()
    };
    let answer = ours.answer_after_eof.clone();
    let id = ours.conn.open_stream().unwrap();
    let got = run(&mut ours, |mut muxer| async move {
        let mut stream = poll_fn(|cx| muxer.poll_inbound_unpin(cx)).await?;
        stream.write_all(b"request").await?;
        stream.close().await?;
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await?;
        Ok(got)
    })
    .expect("finished");
    assert_eq!(ours.received[&id], b"request");
    assert!(ours.eof.contains(&id));
    assert!(got == answer, "their read after their own close");
    assert_eq!(ours.conn.open_streams(), 0);
}

#[test]
fn we_close_first_and_read_their_answer_after_our_end() {
    let mut ours = Ours::default();
    let id = ours.conn.open_stream().unwrap();
    ours.send(id, b"request".to_vec(), true);
    let answer = pattern(MIB + 2, 6);
    let sent = answer.clone();
    let got = run(&mut ours, |mut muxer| async move {
        let mut stream = poll_fn(|cx| muxer.poll_inbound_unpin(cx)).await?;
        let mut got = Vec::new();
        // our close is their end of stream
        stream.read_to_end(&mut got).await?;
        stream.write_all(&sent).await?;
        stream.close().await?;
        Ok(got)
    })
    .expect("finished");
    assert_eq!(got, b"request");
    assert!(ours.received[&id] == answer);
    assert!(ours.eof.contains(&id));
    assert_eq!(ours.conn.open_streams(), 0);
}

#[test]
fn many_streams_both_directions() {
    let count = 16;
    let mut ours = Ours {
        answer: pattern(50_000, 7),
        ..Ours::default()
    };
    let mut mine = Vec::new();
    for i in 0..count {
        let id = ours.conn.open_stream().unwrap();
        ours.send(id, pattern(40_000 + i, i as u8), true);
        mine.push(id);
    }
    let expected_answer = ours.answer.clone();
    let results = run(&mut ours, |mut muxer| async move {
        let mut accepted = Vec::new();
        for _ in 0..count {
            accepted.push(poll_fn(|cx| muxer.poll_inbound_unpin(cx)).await?);
        }
        let mut opened = Vec::new();
        for _ in 0..count {
            opened.push(poll_fn(|cx| muxer.poll_outbound_unpin(cx)).await?);
        }
        let ours_echoed = join_all(
            accepted
                .into_iter()
                .enumerate()
                .map(|(i, s)| exchange(s, pattern(1000 + i, 100 + i as u8))),
        );
        let theirs = join_all(
            opened
                .into_iter()
                .enumerate()
                .map(|(i, s)| exchange(s, pattern(2000 + i, 200 + i as u8))),
        );
        let (a, b) = futures::join!(ours_echoed, theirs);
        let a: io::Result<Vec<_>> = a.into_iter().collect();
        let b: io::Result<Vec<_>> = b.into_iter().collect();
        Ok((a?, b?))
    })
    .expect("finished");
    let (from_our_streams, from_their_streams) = results;
    // they accept in the order we opened
    for (i, got) in from_our_streams.iter().enumerate() {
        assert!(*got == pattern(40_000 + i, i as u8), "our stream {i}");
        assert_eq!(ours.received[&mine[i]], pattern(1000 + i, 100 + i as u8));
    }
    for (i, got) in from_their_streams.iter().enumerate() {
        assert!(*got == expected_answer, "their stream {i}");
        let id = ours.inbound[i];
        assert_eq!(ours.received[&id], pattern(2000 + i, 200 + i as u8));
    }
    assert_eq!(ours.inbound.len(), count);
    assert_eq!(ours.conn.open_streams(), 0);
}

#[test]
fn resets_both_ways() {
    // they drop a stream without closing it: rust-libp2p resets it
    let mut ours = Ours::default();
    run(&mut ours, |mut muxer| async move {
        let mut stream = poll_fn(|cx| muxer.poll_outbound_unpin(cx)).await?;
        stream.write_all(b"then gone").await?;
        stream.flush().await?;
        drop(stream);
        // rust-libp2p queues the reset and sends it with the next flush of any stream
        let mut other = poll_fn(|cx| muxer.poll_outbound_unpin(cx)).await?;
        other.flush().await?;
        other.close().await?;
        Ok(())
    })
    .expect("finished");
    let id = StreamId::inbound(0);
    assert_eq!(ours.resets, [id]);
    assert!(ours.eof.contains(&StreamId::inbound(1)));
    assert_eq!(ours.conn.open_streams(), 0);

    // we reset a stream they are reading: their read ends (rust-libp2p reports a reset
    // as the end of the stream) and their write fails
    let mut ours = Ours::default();
    let id = ours.conn.open_stream().unwrap();
    ours.conn.write(id, b"partial").unwrap();
    ours.conn.reset(id).unwrap();
    let outcome = run(&mut ours, |mut muxer| async move {
        let mut stream = poll_fn(|cx| muxer.poll_inbound_unpin(cx)).await?;
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await?;
        let write = stream.write_all(b"too late").await;
        Ok((got, write.map_err(|e| e.kind())))
    })
    .expect("finished");
    assert_eq!(outcome.1, Err(io::ErrorKind::BrokenPipe));
    assert!(ours.resets.is_empty());
}
