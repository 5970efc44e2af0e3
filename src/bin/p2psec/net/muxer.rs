//! The agreed muxer (yamux, or the library's mplex adapter) driven by a task of its own,
//! which opens the streams the commands ask for and serves every inbound one.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};
use p2psec::adapters::mplex::{MplexConnection, MplexStream};
use p2psec::adapters::tokio::negotiate_dialer;
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

use super::{serve, Secured};
use crate::output::CliError;

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
    /// connection does.
    pub(crate) fn start(io: Secured, dialer: bool) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = if io.info().muxer.as_deref() == Some(p2psec::mplex::MPLEX) {
            tokio::spawn(drive(MplexConnection::new(io), rx))
        } else {
            let mode = if dialer {
                yamux::Mode::Client
            } else {
                yamux::Mode::Server
            };
            let conn = yamux::Connection::new(io.compat(), yamux::Config::default(), mode);
            tokio::spawn(drive(conn, rx))
        };
        (Self { open: tx }, task)
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

/// What [`drive`] needs of a muxer's connection.
trait Connection {
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<Stream, CliError>>;
    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Stream, CliError>>>;
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CliError>>;
}

impl Connection for yamux::Connection<Compat<Secured>> {
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<Stream, CliError>> {
        self.poll_new_outbound(cx)
            .map(|r| r.map(Stream::Yamux).map_err(|e| format!("yamux: {e}")))
    }

    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Stream, CliError>>> {
        self.poll_next_inbound(cx)
            .map(|next| next.map(|r| r.map(Stream::Yamux).map_err(|e| e.to_string())))
    }

    /// yamux's GoAway, then the connection's close.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CliError>> {
        self.poll_close(cx).map_err(|e| e.to_string())
    }
}

impl Connection for MplexConnection<Secured> {
    fn poll_open(&mut self, _: &mut Context<'_>) -> Poll<Result<Stream, CliError>> {
        let opened = self.open_stream();
        Poll::Ready(
            opened
                .map(|s| Stream::Mplex(s.compat()))
                .map_err(|e| format!("mplex: {e}")),
        )
    }

    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Stream, CliError>>> {
        self.poll_next_inbound(cx).map(|next| {
            next.map(|r| {
                r.map(|s| Stream::Mplex(s.compat()))
                    .map_err(|e| e.to_string())
            })
        })
    }

    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CliError>> {
        self.poll_close(cx).map_err(|e| e.to_string())
    }
}

/// Opens the streams asked for and serves the peer's until the connection ends, or until
/// every [`Muxer`] handle is gone: then it closes the connection.
async fn drive<C: Connection>(mut conn: C, mut requests: mpsc::UnboundedReceiver<OpenRequest>) {
    let mut waiting: VecDeque<OpenRequest> = VecDeque::new();
    let mut closing = false;
    let result = poll_fn(|cx| {
        if closing {
            return conn.poll_end(cx);
        }
        loop {
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
