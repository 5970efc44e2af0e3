//! The mplex adapter (features `tokio` and `mplex`): runs the sans-IO
//! [`mplex::Connection`](crate::mplex::Connection) over a tokio `AsyncRead + AsyncWrite`
//! connection (the [`SecureStream`](super::tokio::SecureStream) of an upgrade that agreed
//! [`MPLEX`](crate::mplex::MPLEX)) and hands out its streams as [`MplexStream`]s, tokio
//! `AsyncRead + AsyncWrite` too.
//!
//! [`MplexConnection`] owns the connection and moves every byte: poll
//! [`MplexConnection::poll_next_inbound`] (or await [`MplexConnection::next_inbound`]) for as
//! long as the connection lives, usually in a task of its own, as with yamux's
//! `Connection`; streams make progress only while it is polled. Open streams with
//! [`MplexConnection::open_stream`], or from other tasks with a [`MplexControl`]. End with
//! [`MplexConnection::close`]: it sends what the streams queued (the closes and resets of
//! dropped streams among it) and closes the connection's write side. Once the connection
//! is over (closed, ended by the peer, or failed), reads return what had already arrived
//! and then fail; writes and opens fail at once.
//!
//! Backpressure: the connection reads the socket only once the machine consumed everything
//! read before. A stream whose buffer is full stops the machine consuming, so the socket
//! is not read and TCP slows the peer down; reading that stream wakes the connection again.
//! Writes go into the machine's bounded send buffer and wait while it is full. Shutting a
//! stream's write side down is mplex's half-close; dropping a stream before that resets
//! it ([`Connection::release`](crate::mplex::Connection::release)).
//!
//! What this adapter does *not* do: choose the muxer (the upgrade does), negotiate
//! protocols on the streams (`super::tokio::negotiate_dialer` and `negotiate_listener`
//! do), or time out a stream that stalls the connection (see
//! [`Connection::blocked_on`](crate::mplex::Connection::blocked_on)).
//!
//! Errors are `io::Error`s; one the machine caused has the typed
//! [`mplex::Error`](crate::mplex::Error) or [`StreamError`] inside. Kinds:
//!
//! | cause | `io::ErrorKind` |
//! |---|---|
//! | the peer broke the mplex rules (the connection fails) | `InvalidData` |
//! | the stream was reset (by either side) or is unknown | `ConnectionReset` |
//! | a write after our own shutdown | `BrokenPipe` |
//! | too many streams open, stream numbers exhausted | `Other` |
//! | opening a stream once [`MplexConnection::close`] began | `BrokenPipe` |
//! | the connection is over: closed, or ended by the peer | `ConnectionAborted` |
//! | the connection is over: the socket failed | the socket error's kind |
//!
//! ```
//! use p2psec::adapters::mplex::MplexConnection;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // stand-ins for the two ends of an upgraded connection
//! let (ours, theirs) = tokio::io::duplex(64 * 1024);
//! // their side: echo every stream
//! tokio::spawn(async move {
//!     let mut conn = MplexConnection::new(theirs);
//!     while let Some(Ok(mut stream)) = conn.next_inbound().await {
//!         tokio::spawn(async move {
//!             let mut data = Vec::new();
//!             stream.read_to_end(&mut data).await?;
//!             stream.write_all(&data).await?;
//!             stream.shutdown().await
//!         });
//!     }
//! });
//! // our side: the connection runs in a task; streams are opened through a control
//! let mut conn = MplexConnection::new(ours);
//! let control = conn.control();
//! tokio::spawn(async move { while let Some(Ok(_)) = conn.next_inbound().await {} });
//! let mut stream = control.open_stream()?;
//! stream.write_all(b"hello").await?;
//! stream.shutdown().await?; // half-close: the peer reads the end of the stream
//! let mut back = Vec::new();
//! stream.read_to_end(&mut back).await?;
//! assert_eq!(back, b"hello");
//! # Ok(()) }
//! ```

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::task::{Context, Poll, Waker};
use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, MutexGuard};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::tokio::Io;
use crate::mplex::{Connection, StreamError, StreamId};

mod driver;
mod stream;

use driver::Driver;
pub use stream::MplexStream;

/// What the connection and its stream handles share.
struct Shared {
    conn: Connection,
    /// Each stream's waiting reader and writer.
    wakers: HashMap<StreamId, StreamWakers>,
    /// Writers waiting for room in the send buffer, or for a flush.
    send_waiters: Vec<Waker>,
    /// The connection's poller, to wake when a handle wrote, read from a full buffer or
    /// closed.
    task: Option<Waker>,
    /// The machine left input unconsumed: a read makes room for it.
    input_stalled: bool,
    /// Counts writes and closes; `flushed` is the count last flushed to the socket, so a
    /// flush waits until it catches up.
    written: u64,
    flushed: u64,
    /// [`MplexConnection::close`] began: no new streams.
    closing: bool,
    /// Why the connection is over, once it is.
    ended: Option<(io::ErrorKind, String)>,
}

#[derive(Default)]
struct StreamWakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

impl Shared {
    fn wake_task(&mut self) {
        if let Some(w) = self.task.take() {
            w.wake();
        }
    }

    fn wake_senders(&mut self) {
        for w in self.send_waiters.drain(..) {
            w.wake();
        }
    }

    fn wake_stream(&mut self, id: StreamId) {
        if let Some(w) = self.wakers.get_mut(&id) {
            if let Some(r) = w.read.take() {
                r.wake();
            }
            if let Some(r) = w.write.take() {
                r.wake();
            }
        }
    }

    fn wait_send(&mut self, cx: &Context<'_>) {
        if !self.send_waiters.iter().any(|w| w.will_wake(cx.waker())) {
            self.send_waiters.push(cx.waker().clone());
        }
    }

    fn ended_error(&self) -> Option<io::Error> {
        self.ended
            .as_ref()
            .map(|(kind, why)| io::Error::new(*kind, why.clone()))
    }

    /// The connection is over: every waiting stream learns why.
    fn end(&mut self, kind: io::ErrorKind, why: String) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some((kind, why));
        let ids: Vec<_> = self.wakers.keys().copied().collect();
        for id in ids {
            self.wake_stream(id);
        }
        self.wake_senders();
    }
}

type Handle = Arc<Mutex<Shared>>;

fn lock(shared: &Handle) -> MutexGuard<'_, Shared> {
    // a handle that panicked elsewhere leaves consistent machine state behind
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A stream verb's error as the `io::Error` the stream's user sees (the module's table).
fn stream_error(e: StreamError) -> io::Error {
    let kind = match &e {
        StreamError::UnknownStream { .. } => io::ErrorKind::ConnectionReset,
        StreamError::WriteClosed { .. } => io::ErrorKind::BrokenPipe,
        StreamError::Connection(_) => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// Opens a stream: its `NewStream` frame goes out with the connection's next transmit.
fn open(shared: &Handle) -> io::Result<MplexStream> {
    let mut s = lock(shared);
    if let Some(e) = s.ended_error() {
        return Err(e);
    }
    if s.closing {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the connection is closing",
        ));
    }
    let id = s.conn.open_stream().map_err(stream_error)?;
    s.wakers.insert(id, StreamWakers::default());
    s.wake_task();
    drop(s);
    Ok(MplexStream::new(shared.clone(), id))
}

/// An mplex connection over `S`: the machine, the socket and the streams' shared state.
/// See the [module docs](self) for the call contract.
pub struct MplexConnection<S> {
    driver: Driver<Io<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MplexConnection<S> {
    /// Starts mplex on `io`, a connection whose upgrade agreed
    /// [`MPLEX`](crate::mplex::MPLEX). mplex has no roles and sends nothing on its own, so
    /// both sides start alike.
    pub fn new(io: S) -> Self {
        Self {
            driver: Driver::new(Io(io)),
        }
    }

    /// A handle that opens streams from other tasks; it does not keep the connection
    /// alive.
    pub fn control(&self) -> MplexControl {
        MplexControl {
            shared: self.driver.shared.clone(),
        }
    }

    /// Opens a stream. mplex has no acknowledgement: data may follow at once.
    pub fn open_stream(&self) -> io::Result<MplexStream> {
        open(&self.driver.shared)
    }

    /// Moves bytes until the peer opens a stream (`Some(Ok(stream))`) or the connection
    /// is over: `None` once it ended cleanly (the peer closed it, or [`Self::close`]
    /// finished), `Some(Err(_))` once when it failed, then `None`.
    pub fn poll_next_inbound(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<MplexStream>>> {
        self.driver.poll_next_inbound(cx)
    }

    /// [`Self::poll_next_inbound`] as a future.
    pub async fn next_inbound(&mut self) -> Option<io::Result<MplexStream>> {
        poll_fn(|cx| self.driver.poll_next_inbound(cx)).await
    }

    /// Refuses new streams, sends what the streams queued, then shuts the connection's
    /// write side down. Inbound streams that arrive meanwhile are dropped (reset). Already
    /// over: `Ok` at once (or the failure not yet reported).
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.driver.poll_close(cx)
    }

    /// [`Self::poll_close`] as a future.
    pub async fn close(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.driver.poll_close(cx)).await
    }

    /// The underlying connection.
    pub fn get_ref(&self) -> &S {
        &self.driver.io.0
    }
}

impl<S> core::fmt::Debug for MplexConnection<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = lock(&self.driver.shared);
        f.debug_struct("MplexConnection")
            .field("open_streams", &s.conn.open_streams())
            .field("ended", &s.ended)
            .finish_non_exhaustive()
    }
}

/// Opens streams on an [`MplexConnection`] from any task ([`MplexConnection::control`]).
#[derive(Clone)]
pub struct MplexControl {
    shared: Handle,
}

impl MplexControl {
    /// Opens a stream, as [`MplexConnection::open_stream`]; fails once the connection is
    /// over or closing.
    pub fn open_stream(&self) -> io::Result<MplexStream> {
        open(&self.shared)
    }
}

impl core::fmt::Debug for MplexControl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MplexControl").finish_non_exhaustive()
    }
}
