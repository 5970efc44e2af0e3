//! A loopback TCP proxy that delays every chunk by a fixed one-way delay, in both
//! directions: a stand-in for a long link, with no external tool (no `tc netem`, no root).
//!
//! [`DelayProxy::start`] listens on `127.0.0.1:0`; for each accepted connection it connects
//! to the target and relays both ways. Each chunk read from one side is timestamped on
//! arrival and written to the other side at arrival + `delay`, in order. Delays are not
//! serialised: a burst of chunks arriving together is delivered together `delay` later,
//! as on a link with latency and plenty of bandwidth (there is no bandwidth limit and no
//! back-pressure: a chunk waits in memory until its time, which suits handshakes, not
//! bulk transfers). An end of stream (half-close) is delayed like data; a reset or error
//! ends the relay of that connection. Many connections are relayed at once.
//!
//! What is and is not delayed: the client's TCP connect to the proxy completes at
//! loopback speed, and the proxy connects upstream as soon as it accepts, so the target
//! sees the connection at once too. Every byte after that is delayed by `delay` per
//! direction, so the first byte a client sends reaches the target `delay` later and a
//! request/answer costs `2 * delay`: timings through the proxy count the round trips
//! after TCP's own handshake, not TCP's.
//!
//! Each proxy socket has `TCP_NODELAY` and is acknowledged locally by the kernel (the
//! proxy terminates TCP on both sides), so Nagle's algorithm and delayed ACKs of the
//! endpoints do not interact with the added delay.
//!
//! Dropping the [`DelayProxy`] stops it: the accept loop and every relayed connection
//! (they all live in one task, which is aborted). Needs a tokio runtime with the timer and
//! I/O drivers enabled. Included with `#[path = "common/delay_proxy.rs"] mod delay_proxy;`.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep_until, Instant};

/// A running delay proxy; stopped (with all its connections) when dropped.
pub(crate) struct DelayProxy {
    addr: SocketAddr,
    delay: Duration,
    task: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on `127.0.0.1:0` and relays every accepted connection to `target`, each
    /// chunk delayed by `delay` in each direction.
    pub(crate) async fn start(target: SocketAddr, delay: Duration) -> io::Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, target, delay));
        Ok(DelayProxy { addr, delay, task })
    }

    /// The address clients connect to (loopback, the port chosen by the OS).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The one-way delay added to every chunk.
    pub(crate) fn delay(&self) -> Duration {
        self.delay
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        // the connections are in the task's JoinSet: aborting the task drops the set,
        // which aborts them
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, delay: Duration) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(relay(client, target, delay));
                }
                // e.g. too many open files: wait a little rather than spin
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // reap finished connections so that the set does not grow
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What travels from a reader to its writer: data, or the end of the stream.
enum Item {
    Data(Vec<u8>),
    Eof,
}

/// Relays one client connection to `target`, both ways, until both directions end.
async fn relay(client: TcpStream, target: SocketAddr, delay: Duration) {
    let _ = client.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (to_target, for_target) = mpsc::unbounded_channel();
    let (to_client, for_client) = mpsc::unbounded_channel();
    // the client's bytes are read (and timestamped) from the start, while the upstream
    // connect is still under way
    let upstream = async move {
        let Ok(server) = TcpStream::connect(target).await else {
            // dropping `client_write` and `for_target` ends the client's side
            return;
        };
        let _ = server.set_nodelay(true);
        let (server_read, server_write) = server.into_split();
        tokio::join!(
            write_chunks(for_target, server_write),
            read_chunks(server_read, to_client, delay),
            write_chunks(for_client, client_write),
        );
    };
    tokio::join!(read_chunks(client_read, to_target, delay), upstream);
}

/// Reads chunks as they arrive and queues each with its delivery time, arrival + `delay`.
async fn read_chunks(
    mut from: OwnedReadHalf,
    to: mpsc::UnboundedSender<(Instant, Item)>,
    delay: Duration,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let item = match from.read(&mut buf).await {
            Ok(0) => Item::Eof,
            Ok(n) => Item::Data(buf[..n].to_vec()),
            // a reset: stop relaying this direction (the writer drops its half)
            Err(_) => return,
        };
        let eof = matches!(item, Item::Eof);
        if to.send((Instant::now() + delay, item)).is_err() || eof {
            return;
        }
    }
}

/// Writes each queued chunk at its delivery time, in order; a queued end of stream
/// half-closes `to` at its time.
async fn write_chunks(mut from: mpsc::UnboundedReceiver<(Instant, Item)>, mut to: OwnedWriteHalf) {
    while let Some((at, item)) = from.recv().await {
        sleep_until(at).await;
        match item {
            Item::Data(bytes) => {
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Item::Eof => {
                let _ = to.shutdown().await;
                return;
            }
        }
    }
}
