//! The mplex adapter (`adapters::mplex`) over an in-memory tokio duplex: two
//! [`MplexConnection`]s, each driven by a task of its own, open streams each way, echo data
//! (more than the machine's buffers, so backpressure is exercised), half-close, reset (by
//! the verb and by dropping a handle), and end the connection (our close, the peer's end
//! of stream, a peer breaking the mplex rules). One test checks the frames on the wire
//! against a raw peer, and one runs multistream-select on an mplex stream, as the CLI does.
//!
//! Every test body is bounded by [`LIMIT`], so a hang fails instead of blocking the suite.
#![cfg(all(
    feature = "tokio",
    feature = "mplex",
    any(feature = "noise", feature = "tls")
))]

use std::io;
use std::time::Duration;

use p2psec::adapters::mplex::{MplexConnection, MplexControl, MplexStream};
use p2psec::adapters::tokio::{negotiate_dialer, negotiate_listener};
use p2psec::mplex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Bounds every test body.
const LIMIT: Duration = Duration::from_secs(20);
/// The duplex's buffer each way: small, so the socket pushes back long before the machine.
const PIPE: usize = 16 * 1024;
/// Bytes each way in the transfer tests: more than the machine's send buffer and one
/// stream's receive buffer (1 MiB each).
const BULK: usize = 3 << 20;

/// One side: its connection runs in a task that hands the peer's streams to `inbound`
/// and closes the connection when `close` fires.
struct Peer {
    control: MplexControl,
    inbound: mpsc::UnboundedReceiver<MplexStream>,
    close: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Peer {
    fn spawn<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: S) -> Self {
        let mut conn = MplexConnection::new(io);
        let control = conn.control();
        let (tx, inbound) = mpsc::unbounded_channel();
        let (close, mut close_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    next = conn.next_inbound() => match next {
                        Some(Ok(stream)) => {
                            let _ = tx.send(stream);
                        }
                        Some(Err(e)) => return Err(e),
                        None => return Ok(()),
                    },
                    _ = &mut close_rx => return conn.close().await,
                }
            }
        });
        Self {
            control,
            inbound,
            close: Some(close),
            task,
        }
    }

    async fn accept(&mut self) -> MplexStream {
        self.inbound.recv().await.expect("an inbound stream")
    }

    /// Closes the connection and waits for the task's result.
    async fn close(mut self) -> io::Result<()> {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        self.task.await.expect("the connection task")
    }
}

fn pair() -> (Peer, Peer) {
    let (a, b) = tokio::io::duplex(PIPE);
    (Peer::spawn(a), Peer::spawn(b))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes `data` and half-closes while reading everything back; returns what came back.
async fn echo_through(stream: MplexStream, data: &[u8]) -> Vec<u8> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let send = async {
        for chunk in data.chunks(64 * 1024) {
            writer.write_all(chunk).await?;
        }
        writer.shutdown().await
    };
    let mut back = Vec::new();
    let receive = reader.read_to_end(&mut back);
    let (sent, received) = tokio::join!(send, receive);
    sent.expect("send");
    received.expect("receive");
    back
}

/// Serves one stream: reads it to its end, then writes it all back and closes. It never
/// stops reading, so it cannot stall the connection (see [`echo_server`]).
async fn buffered_echo_server(mut stream: MplexStream) -> io::Result<()> {
    let mut data = Vec::new();
    stream.read_to_end(&mut data).await?;
    stream.write_all(&data).await?;
    stream.shutdown().await
}

/// Serves one stream: writes back everything until the peer half-closes, then closes.
/// It stops reading while its write waits, so two of them saturating a connection both
/// ways can block each other: mplex has no flow control, and a stream whose buffer
/// is full stalls the whole connection (head-of-line blocking, `mplex` module docs).
async fn echo_server(stream: MplexStream) -> io::Result<()> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    tokio::io::copy(&mut reader, &mut writer).await?;
    writer.shutdown().await
}

async fn bounded<F: std::future::Future>(body: F) -> F::Output {
    tokio::time::timeout(LIMIT, body)
        .await
        .expect("within the limit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_opened_each_way_echo_and_half_close() {
    bounded(async {
        let (mut a, mut b) = pair();
        let ours = a.control.open_stream().unwrap();
        assert!(ours.id().is_outbound());
        let theirs = b.control.open_stream().unwrap();
        // both sides number their own streams from 0: the ids differ only by who opened
        assert_eq!(ours.id().num(), theirs.id().num());

        // both ways at once: the servers must keep reading (see `echo_server`)
        let a_data = pattern(BULK, 1);
        let b_data = pattern(BULK, 2);
        let a_side = async {
            let served = a.accept().await;
            assert!(!served.id().is_outbound());
            let (back, served) =
                tokio::join!(echo_through(ours, &a_data), buffered_echo_server(served));
            served.expect("a serves");
            back
        };
        let b_side = async {
            let served = b.accept().await;
            let (back, served) =
                tokio::join!(echo_through(theirs, &b_data), buffered_echo_server(served));
            served.expect("b serves");
            back
        };
        let (a_back, b_back) = tokio::join!(a_side, b_side);
        assert!(a_back == a_data, "a's echo differs");
        assert!(b_back == b_data, "b's echo differs");
        a.close().await.expect("a closes");
        b.close().await.expect("b ends cleanly");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_interleave() {
    bounded(async {
        let (a, mut b) = pair();
        let server = tokio::spawn(async move {
            let mut served = Vec::new();
            for _ in 0..8 {
                served.push(tokio::spawn(echo_server(b.accept().await)));
            }
            for s in served {
                s.await.unwrap().expect("serve");
            }
            b
        });
        let mut clients = Vec::new();
        for i in 0..8u8 {
            let stream = a.control.open_stream().unwrap();
            clients.push(tokio::spawn(async move {
                let data = pattern(256 * 1024, i);
                echo_through(stream, &data).await == data
            }));
        }
        for c in clients {
            assert!(c.await.unwrap(), "an echo differs");
        }
        let b = server.await.unwrap();
        a.close().await.unwrap();
        b.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_stream_buffer_waits_for_its_reader() {
    bounded(async {
        let (a, mut b) = pair();
        let data = pattern(BULK, 7);
        let mut stream = a.control.open_stream().unwrap();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            stream.write_all(&sent).await?;
            stream.shutdown().await
        });
        let mut inbound = b.accept().await;
        // nobody reads for a while: the machine stops consuming, the pipe fills up
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!writer.is_finished(), "3 MiB cannot fit in the buffers");
        let mut back = Vec::new();
        inbound.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap().unwrap();
        assert!(back == data, "the bytes differ");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_reach_the_peer_both_ways() {
    bounded(async {
        let (a, mut b) = pair();
        // the verb
        let mut ours = a.control.open_stream().unwrap();
        ours.write_all(b"ping").await.unwrap();
        ours.flush().await.unwrap();
        let mut theirs = b.accept().await;
        let mut buf = [0u8; 4];
        theirs.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        ours.reset().unwrap();
        ours.flush().await.unwrap();
        let e = theirs.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        let e = theirs.write_all(b"late").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        let e = ours.write_all(b"late").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");

        // the other way, by dropping a handle before its shutdown
        let mut ours = a.control.open_stream().unwrap();
        ours.write_all(b"x").await.unwrap();
        ours.flush().await.unwrap();
        let theirs = b.accept().await;
        drop(theirs);
        let e = ours.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");

        // a reset stream does not disturb the connection
        let fresh = a.control.open_stream().unwrap();
        let served = tokio::spawn(async move { echo_server(b.accept().await).await });
        assert_eq!(echo_through(fresh, b"still here").await, b"still here");
        served.await.unwrap().unwrap();
        a.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_ends_the_connection_for_both_sides() {
    bounded(async {
        let (a, mut b) = pair();
        let mut ours = a.control.open_stream().unwrap();
        ours.write_all(b"last words").await.unwrap();
        ours.flush().await.unwrap();
        let mut theirs = b.accept().await;
        let control = a.control.clone();
        a.close().await.expect("close");
        let e = control.open_stream().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e}");
        let e = ours.write_all(b"more").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e}");
        // the peer reads what arrived, then learns the connection ended
        let mut buf = [0u8; 10];
        theirs.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"last words");
        let e = theirs.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e}");
        // the peer's end of stream is a clean end
        b.task.await.unwrap().expect("b ends cleanly");
    })
    .await;
}

#[tokio::test]
async fn frames_on_the_wire_and_the_peer_breaking_the_rules() {
    bounded(async {
        let (ours, mut raw) = tokio::io::duplex(PIPE);
        let a = Peer::spawn(ours);
        let mut stream = a.control.open_stream().unwrap();
        stream.write_all(b"hi").await.unwrap();
        stream.shutdown().await.unwrap();
        // NewStream 0 (empty name), MessageInitiator "hi", CloseInitiator (mplex README)
        let mut frames = [0u8; 8];
        raw.read_exact(&mut frames).await.unwrap();
        assert_eq!(frames, [0x00, 0x00, 0x02, 0x02, b'h', b'i', 0x04, 0x00]);
        // flag 7 is not defined: the connection fails with the typed error inside
        raw.write_all(&[0x07, 0x00]).await.unwrap();
        let e = a.task.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        let typed = e.get_ref().and_then(|i| i.downcast_ref::<mplex::Error>());
        assert_eq!(typed, Some(&mplex::Error::InvalidFlag { flag: 7 }));
        let e = stream.read(&mut [0u8; 1]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    })
    .await;
}

#[tokio::test]
async fn the_peer_going_away_ends_the_connection() {
    bounded(async {
        let (ours, raw) = tokio::io::duplex(PIPE);
        let mut conn = MplexConnection::new(ours);
        let mut stream = conn.open_stream().unwrap();
        drop(raw);
        assert!(
            conn.next_inbound().await.is_none(),
            "end of stream: no error"
        );
        assert!(conn.next_inbound().await.is_none(), "and it stays over");
        let e = stream.read(&mut [0u8; 1]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e}");
        assert!(conn.open_stream().is_err());
        conn.close()
            .await
            .expect("closing an ended connection is fine");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multistream_select_on_an_mplex_stream() {
    bounded(async {
        let (a, mut b) = pair();
        let server = tokio::spawn(async move {
            let mut stream = b.accept().await;
            let agreed = negotiate_listener(&mut stream, ["/echo/1.0.0"]).await?;
            assert_eq!(agreed.protocol, "/echo/1.0.0");
            stream.write_all(&agreed.remaining).await?;
            echo_server(stream).await?;
            Ok::<_, io::Error>(b)
        });
        let mut stream = a.control.open_stream().unwrap();
        let agreed = negotiate_dialer(&mut stream, ["/ping/0.0.0", "/echo/1.0.0"])
            .await
            .unwrap();
        assert_eq!(agreed.protocol, "/echo/1.0.0");
        assert!(agreed.remaining.is_empty());
        assert_eq!(
            echo_through(stream, b"after the echo").await,
            b"after the echo"
        );
        let b = server.await.unwrap().unwrap();
        a.close().await.unwrap();
        b.close().await.unwrap();
    })
    .await;
}
