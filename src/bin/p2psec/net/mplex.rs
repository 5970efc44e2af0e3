//! The mplex driver: one tokio task owns the secured connection and feeds p2psec's
//! sans-IO [`Connection`]; stream handles ([`MplexStream`], futures' `AsyncRead +
//! AsyncWrite`) read from and write to the machine directly, under one lock.
//!
//! Backpressure: the task reads the socket only once the machine consumed everything
//! read before. A stream whose buffer is full stops the machine consuming, so the task
//! stops reading and TCP slows the peer down; reading that stream wakes the task again.
//! Writes go into the machine's bounded send buffer and wait while it is full. Closing a
//! handle's write side is mplex's half-close; dropping a handle before closing resets
//! the stream (`Connection::release`).

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncRead, AsyncWrite};
use p2psec::mplex::{Connection, Event, StreamError, StreamId};
use tokio::sync::mpsc;

use super::{serve, OpenRequest, Secured, Stream};

/// Bytes read from the secured connection at a time (the largest Noise frame).
const READ_CHUNK: usize = 64 * 1024;

/// What the task and the stream handles share.
struct Shared {
    conn: Connection,
    /// Each stream's waiting reader and writer.
    wakers: HashMap<StreamId, StreamWakers>,
    /// Writers waiting for room in the send buffer, or for a flush.
    send_waiters: Vec<Waker>,
    /// The task, to wake when a handle wrote, read from a full buffer or closed.
    task: Option<Waker>,
    /// The machine left input unconsumed: a read makes room for it.
    input_stalled: bool,
    /// Counts writes and closes; `flushed` is the count the task last flushed to the
    /// socket, so a flush waits until it catches up.
    written: u64,
    flushed: u64,
    /// Why the connection ended, once it has.
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
}

type Handle = Arc<Mutex<Shared>>;

fn lock(shared: &Handle) -> MutexGuard<'_, Shared> {
    // a handle that panicked elsewhere leaves consistent machine state behind
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts the driver task on `io`; it answers open requests until every
/// [`Muxer`](super::Muxer) handle is gone, then closes the connection.
pub(super) fn start(
    io: Secured,
    requests: mpsc::UnboundedReceiver<OpenRequest>,
) -> tokio::task::JoinHandle<()> {
    let shared = Arc::new(Mutex::new(Shared {
        conn: Connection::new(),
        wakers: HashMap::new(),
        send_waiters: Vec::new(),
        task: None,
        input_stalled: false,
        written: 0,
        flushed: 0,
        ended: None,
    }));
    tokio::spawn(async move {
        let result = Driver {
            io,
            shared: shared.clone(),
            requests,
            closing: false,
            inbuf: vec![0; READ_CHUNK],
            filled: 0,
            out: Vec::new(),
            out_pos: 0,
            taken: 0,
            need_flush: false,
        }
        .run()
        .await;
        let mut s = lock(&shared);
        s.ended = Some(match &result {
            Ok(()) => (
                io::ErrorKind::ConnectionAborted,
                "the connection is closed".into(),
            ),
            Err(e) => (e.kind(), format!("the connection failed: {e}")),
        });
        let ids: Vec<_> = s.wakers.keys().copied().collect();
        for id in ids {
            s.wake_stream(id);
        }
        s.wake_senders();
        drop(s);
        if let Err(e) = result {
            eprintln!("connection ended: {e}");
        }
    })
}

struct Driver {
    io: Secured,
    shared: Handle,
    requests: mpsc::UnboundedReceiver<OpenRequest>,
    /// Every `Muxer` handle is gone: flush, close, end.
    closing: bool,
    /// `inbuf[..filled]`: input the machine has not consumed.
    inbuf: Vec<u8>,
    filled: usize,
    /// `out[out_pos..]`: frames not written to the socket yet.
    out: Vec<u8>,
    out_pos: usize,
    /// `Shared::written` when `out` was taken from the machine.
    taken: u64,
    need_flush: bool,
}

impl Driver {
    async fn run(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll(cx)).await
    }

    /// One pass over everything that can move; `Ready` when the connection is over.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        lock(&self.shared).task = Some(cx.waker().clone());
        loop {
            let mut progress = self.accept_requests(cx);
            progress |= self.consume()?;
            if self.filled == 0 {
                match Pin::new(&mut self.io).poll_read(cx, &mut self.inbuf) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Ok(())),
                    Poll::Ready(Ok(n)) => {
                        self.filled = n;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            match self.transmit(cx) {
                Poll::Ready(Ok(moved)) => progress |= moved,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            if self.closing && self.out_pos == self.out.len() && !self.need_flush {
                // the last frames (closes and resets of dropped streams) are out
                return Pin::new(&mut self.io).poll_close(cx);
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Opens the streams asked for; notices when every handle is gone.
    fn accept_requests(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while !self.closing {
            match self.requests.poll_recv(cx) {
                Poll::Ready(Some(reply)) => {
                    progress = true;
                    let mut s = lock(&self.shared);
                    let opened = s.conn.open_stream();
                    let answer = match opened {
                        Ok(id) => {
                            s.wakers.insert(id, StreamWakers::default());
                            Ok(Stream::Mplex(MplexStream::new(self.shared.clone(), id)))
                        }
                        Err(e) => Err(format!("mplex: {e}")),
                    };
                    drop(s);
                    let _ = reply.send(answer);
                }
                Poll::Ready(None) => self.closing = true,
                Poll::Pending => break,
            }
        }
        progress
    }

    /// Hands the unconsumed input to the machine and acts on its events.
    fn consume(&mut self) -> io::Result<bool> {
        if self.filled == 0 {
            return Ok(false);
        }
        let mut s = lock(&self.shared);
        let input = self.inbuf.get(..self.filled).unwrap_or_default();
        let used = s
            .conn
            .handle_input(input)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if used > 0 {
            self.inbuf.copy_within(used..self.filled, 0);
            self.filled -= used;
        }
        s.input_stalled = self.filled > 0;
        while let Some(event) = s.conn.poll_event() {
            match event {
                Event::InboundStream { id } => {
                    s.wakers.insert(id, StreamWakers::default());
                    let stream = MplexStream::new(self.shared.clone(), id);
                    tokio::spawn(serve(Stream::Mplex(stream)));
                }
                Event::Readable { id } | Event::RemoteClosed { id } | Event::Reset { id } => {
                    s.wake_stream(id)
                }
                _ => {}
            }
        }
        Ok(used > 0)
    }

    /// Moves the machine's frames to the socket and flushes it.
    fn transmit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut progress = false;
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            let mut s = lock(&self.shared);
            if s.conn.poll_transmit(&mut self.out) > 0 {
                self.taken = s.written;
                self.need_flush = true;
                progress = true;
            } else if !self.need_flush {
                // nothing pending: what was written is on the wire
                s.flushed = s.written;
            }
            // the send buffer has room again
            s.wake_senders();
        }
        while self.out_pos < self.out.len() {
            let rest = self.out.get(self.out_pos..).unwrap_or_default();
            match Pin::new(&mut self.io).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.out_pos += n;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.need_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.need_flush = false;
                    let mut s = lock(&self.shared);
                    s.flushed = s.flushed.max(self.taken);
                    s.wake_senders();
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(progress))
    }
}

/// One mplex stream as futures' `AsyncRead + AsyncWrite`.
pub(crate) struct MplexStream {
    shared: Handle,
    id: StreamId,
    /// `read` returned the end of the stream (the machine may have forgotten it since).
    read_eof: bool,
    /// We closed our side.
    write_closed: bool,
}

impl MplexStream {
    fn new(shared: Handle, id: StreamId) -> Self {
        Self {
            shared,
            id,
            read_eof: false,
            write_closed: false,
        }
    }

    /// Waits until everything written so far was flushed to the socket.
    fn poll_flushed(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = lock(&self.shared);
        if s.flushed >= s.written {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = s.ended_error() {
            return Poll::Ready(Err(e));
        }
        s.wait_send(cx);
        s.wake_task();
        Poll::Pending
    }
}

/// A stream verb's error as the `io::Error` the stream's user sees.
fn stream_error(e: StreamError) -> io::Error {
    let kind = match &e {
        StreamError::UnknownStream { .. } => io::ErrorKind::ConnectionReset,
        StreamError::WriteClosed { .. } => io::ErrorKind::BrokenPipe,
        StreamError::Connection(_) => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl AsyncRead for MplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.read_eof || buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut s = lock(&this.shared);
        match s.conn.read(this.id, buf) {
            Ok(n) => {
                if n == 0 {
                    this.read_eof = true;
                }
                if s.input_stalled {
                    // room for the input the machine had to leave
                    s.wake_task();
                }
                Poll::Ready(Ok(n))
            }
            Err(StreamError::WouldBlock) => {
                if let Some(e) = s.ended_error() {
                    return Poll::Ready(Err(e));
                }
                if let Some(w) = s.wakers.get_mut(&this.id) {
                    w.read = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(stream_error(e))),
        }
    }
}

impl AsyncWrite for MplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut s = lock(&this.shared);
        if let Some(e) = s.ended_error() {
            return Poll::Ready(Err(e));
        }
        match s.conn.write(this.id, buf) {
            Ok(n) => {
                s.written += 1;
                s.wake_task();
                Poll::Ready(Ok(n))
            }
            Err(StreamError::WouldBlock) => {
                s.wait_send(cx);
                s.wake_task();
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(stream_error(e))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flushed(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            let mut s = lock(&this.shared);
            if let Some(e) = s.ended_error() {
                return Poll::Ready(Err(e));
            }
            s.conn.close(this.id).map_err(stream_error)?;
            this.write_closed = true;
            s.written += 1;
            s.wake_task();
        }
        this.poll_flushed(cx)
    }
}

impl Drop for MplexStream {
    fn drop(&mut self) {
        let mut s = lock(&self.shared);
        // closed: forget it; still open: reset, so the peer does not wait for more
        let _ = s.conn.release(self.id);
        s.wakers.remove(&self.id);
        s.wake_task();
    }
}
