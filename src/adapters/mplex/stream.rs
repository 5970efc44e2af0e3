//! The stream side: a handle that reads from and writes to the machine directly, under the
//! shared lock, and wakes the connection when it left work for the socket.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{lock, stream_error, Handle};
use crate::mplex::{StreamError, StreamId};

/// One mplex stream as tokio's `AsyncRead + AsyncWrite`. `poll_shutdown` is mplex's
/// half-close (the peer reads the end of the stream; we can still read), and returns once
/// the close frame is flushed to the socket. Dropping the handle before shutting it down
/// resets the stream; after, it only forgets it.
pub struct MplexStream {
    shared: Handle,
    id: StreamId,
    /// `read` returned the end of the stream (the machine may have forgotten it since).
    read_eof: bool,
    /// We closed our side.
    write_closed: bool,
}

impl MplexStream {
    pub(super) fn new(shared: Handle, id: StreamId) -> Self {
        Self {
            shared,
            id,
            read_eof: false,
            write_closed: false,
        }
    }

    /// The stream's id: its number on the wire and who opened it.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Resets the stream: both directions end at once, unread data is dropped, and the
    /// peer is told with the connection's next transmit. Later reads and writes fail with
    /// `ConnectionReset`.
    pub fn reset(&mut self) -> io::Result<()> {
        let mut s = lock(&self.shared);
        if let Some(e) = s.ended_error() {
            return Err(e);
        }
        s.conn.reset(self.id).map_err(stream_error)?;
        s.written += 1;
        s.wake_task();
        Ok(())
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

impl AsyncRead for MplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read_eof || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut s = lock(&this.shared);
        match s.conn.read(this.id, buf.initialize_unfilled()) {
            Ok(n) => {
                if n == 0 {
                    this.read_eof = true;
                }
                if s.input_stalled {
                    // room for the input the machine had to leave
                    s.wake_task();
                }
                buf.advance(n.min(buf.remaining()));
                Poll::Ready(Ok(()))
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

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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

impl core::fmt::Debug for MplexStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MplexStream")
            .field("id", &self.id)
            .field("read_eof", &self.read_eof)
            .field("write_closed", &self.write_closed)
            .finish_non_exhaustive()
    }
}
