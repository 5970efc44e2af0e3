//! The agreed muxer (yamux, or the library's mplex adapter) driven by a task of its own,
//! which opens the streams the commands ask for and serves every inbound one.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::io::{AsyncRead, AsyncWrite};
use p2psec::adapters::mplex::{MplexConnection, MplexStream};
use p2psec::adapters::tokio::negotiate_dialer;
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

use super::idle::{Activity, Tracked};
use super::{serve, Secured};
use crate::output::CliError;

/// The upgraded connection as the muxer sees it: every byte marks it active.
type Io = Tracked<Secured>;

/// A request for an outbound stream, answered by the muxer's task.
type OpenRequest = oneshot::Sender<Result<Stream, CliError>>;

/// A stream of either muxer: ping, echo and multistream-select run on both alike.
pub(crate) enum Stream {
    Yamux(yamux::Stream),
    Mplex(Compat<MplexStream>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Yamux(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Mplex(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Yamux(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Mplex(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Yamux(s) => Pin::new(s).poll_flush(cx),
            Stream::Mplex(s) => Pin::new(s).poll_flush(cx),
        }
    }

    /// Half-close: the peer reads the end of the stream; we can still read.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Yamux(s) => Pin::new(s).poll_close(cx),
            Stream::Mplex(s) => Pin::new(s).poll_close(cx),
        }
    }
}

/// The agreed muxer driven by its own task, which also serves every inbound stream (ping
/// and echo). Dropping every handle closes the connection.
#[derive(Clone)]
pub(crate) struct Muxer {
    open: mpsc::UnboundedSender<OpenRequest>,
}

impl Muxer {
    /// Starts the muxer the upgrade agreed on `io` (yamux: client mode on the dialer's
    /// side, server on the listener's; mplex has no roles). The task ends when the
    /// connection does, or when no byte moved for `idle_timeout`.
    pub(crate) fn start(
        io: Secured,
        dialer: bool,
        idle_timeout: Option<Duration>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(io, dialer, Some(rx), idle_timeout));
        (Self { open: tx }, task)
    }

    /// Serves the peer's streams on `io` until the connection ends or idles out, opening
    /// none: a listener's connection, run in the caller's task (no second task, no handle).
    /// `dialer`: the upgrade ran as dialer (yamux's client mode).
    pub(crate) async fn serve_inbound(io: Secured, dialer: bool, idle_timeout: Option<Duration>) {
        run(io, dialer, None, idle_timeout).await
    }

    /// Opens an outbound stream and agrees `protocol` on it (multistream-select V1).
    pub(crate) async fn open(&self, protocol: &str) -> Result<Stream, CliError> {
        let (tx, rx) = oneshot::channel();
        self.open
            .send(tx)
            .map_err(|_| "the connection is closed".to_string())?;
        let mut stream = rx
            .await
            .map_err(|_| "the connection is closed".to_string())??;
        let agreed = negotiate_dialer(&mut (&mut stream).compat(), [protocol])
            .await
            .map_err(|e| format!("{protocol}: {e}"))?;
        // a V1 dialer consumed exactly the answer: nothing of the protocol's is here
        if !agreed.remaining.is_empty() {
            return Err(format!(
                "{protocol}: the peer sent data before our first message"
            ));
        }
        Ok(stream)
    }
}

/// Runs the agreed muxer on `io`: opens the streams `requests` asks for (none without
/// it) and serves the peer's.
async fn run(
    io: Secured,
    dialer: bool,
    requests: Option<mpsc::UnboundedReceiver<OpenRequest>>,
    idle_timeout: Option<Duration>,
) {
    let activity = Activity::new();
    let idle = idle_timeout.map(|limit| IdleLimit {
        limit,
        activity: activity.clone(),
        timer: Box::pin(tokio::time::sleep(limit)),
    });
    let io = Tracked::new(io, activity);
    if io.get_ref().info().muxer.as_deref() == Some(p2psec::mplex::MPLEX) {
        drive(MplexConnection::new(io), requests, idle).await
    } else {
        let mode = if dialer {
            yamux::Mode::Client
        } else {
            yamux::Mode::Server
        };
        let conn = yamux::Connection::new(io.compat(), yamux_config(), mode);
        drive(conn, requests, idle).await
    }
}

/// The peer hung up (a reset, or our write after its close): the connection's ordinary
/// end when a peer closes without a GoAway, not an error to report. (A close inside a
/// frame is still reported: the channel names it, `UnexpectedEof`.)
fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

/// What [`drive`] needs of a muxer's connection.
trait Connection {
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<Stream, CliError>>;
    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Stream, CliError>>>;
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CliError>>;
}

impl Connection for yamux::Connection<Compat<Io>> {
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<Stream, CliError>> {
        self.poll_new_outbound(cx)
            .map(|r| r.map(Stream::Yamux).map_err(|e| format!("yamux: {e}")))
    }

    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Stream, CliError>>> {
        self.poll_next_inbound(cx).map(|next| match next {
            Some(Err(yamux::ConnectionError::Io(e))) if peer_gone(&e) => None,
            next => next.map(|r| r.map(Stream::Yamux).map_err(|e| e.to_string())),
        })
    }

    /// yamux's GoAway, then the connection's close.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CliError>> {
        self.poll_close(cx).map_err(|e| e.to_string())
    }
}

impl Connection for MplexConnection<Io> {
    fn poll_open(&mut self, _: &mut Context<'_>) -> Poll<Result<Stream, CliError>> {
        let opened = self.open_stream();
        Poll::Ready(
            opened
                .map(|s| Stream::Mplex(s.compat()))
                .map_err(|e| format!("mplex: {e}")),
        )
    }

    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Stream, CliError>>> {
        self.poll_next_inbound(cx).map(|next| match next {
            Some(Err(e)) if peer_gone(&e) => None,
            next => next.map(|r| {
                r.map(|s| Stream::Mplex(s.compat()))
                    .map_err(|e| e.to_string())
            }),
        })
    }

    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CliError>> {
        self.poll_close(cx).map_err(|e| e.to_string())
    }
}

/// Opens the streams asked for and serves the peer's until the connection ends, or until
/// every [`Muxer`] handle is gone: then it closes the connection.
async fn drive<C: Connection>(
    mut conn: C,
    mut requests: Option<mpsc::UnboundedReceiver<OpenRequest>>,
    mut idle: Option<IdleLimit>,
) {
    let mut waiting: VecDeque<OpenRequest> = VecDeque::new();
    let mut closing = false;
    let result = poll_fn(|cx| {
        if closing {
            return conn.poll_end(cx);
        }
        if let Some(idle) = &mut idle {
            if let Poll::Ready(()) = idle.poll_expired(cx) {
                // dropping the connection closes the socket: a stalled peer gets no GoAway
                return Poll::Ready(Err(format!(
                    "no data moved for {} s (--idle-timeout): closed",
                    idle.limit.as_secs_f64()
                )));
            }
        }
        while let Some(requests) = &mut requests {
            match requests.poll_recv(cx) {
                Poll::Ready(Some(req)) => waiting.push_back(req),
                Poll::Ready(None) => {
                    closing = true;
                    return conn.poll_end(cx);
                }
                Poll::Pending => break,
            }
        }
        while !waiting.is_empty() {
            match conn.poll_open(cx) {
                Poll::Ready(r) => {
                    if let Some(tx) = waiting.pop_front() {
                        let _ = tx.send(r);
                    }
                }
                Poll::Pending => break,
            }
        }
        loop {
            match conn.poll_inbound(cx) {
                Poll::Ready(Some(Ok(stream))) => {
                    tokio::spawn(serve(stream));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    if let Err(e) = result {
        eprintln!("connection ended: {e}");
    }
}

/// The idle timeout of one connection.
struct IdleLimit {
    limit: Duration,
    activity: Activity,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl IdleLimit {
    /// Ready once no byte moved for `limit`; else the timer is set for when that would be.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let idle_for = self.activity.idle_for();
            if idle_for >= self.limit {
                return Poll::Ready(());
            }
            let at = tokio::time::Instant::now() + (self.limit - idle_for);
            self.timer.as_mut().reset(at);
        }
        Poll::Pending
    }
}

/// yamux's settings for every connection: its defaults, chosen by measurement. An idle
/// connection holds none of yamux's buffers either way (a stream's receive buffer fills
/// only as data arrives), so the window decides throughput alone: a 256 KiB connection
/// window echoed 64 MiB in the demo as fast as the default (186-247 against 166-235
/// MiB/s each way over loopback, Noise, runs on this 2-core machine), and the default's
/// auto-tuned window (up to 1 GiB per connection) is what long fat links need.
fn yamux_config() -> yamux::Config {
    yamux::Config::default()
}
