//! The connection side: one pass after another over everything that can move between the
//! socket and the machine, written over the adapters' [`AsyncIo`].

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::{Context, Poll};
use std::collections::HashMap;
use std::io;
use std::sync::Mutex;

use super::super::poll::AsyncIo;
use super::{lock, Handle, MplexStream, Shared, StreamWakers};
use crate::mplex::{Connection, Event};

/// Bytes read from the connection at a time: the largest Noise frame.
const READ_CHUNK: usize = 64 * 1024;

pub(super) struct Driver<I> {
    pub(super) io: I,
    pub(super) shared: Handle,
    /// `inbuf[..filled]`: input the machine has not consumed. Allocated for a read and given
    /// back when the socket has nothing more while nothing is kept.
    inbuf: Vec<u8>,
    filled: usize,
    /// `out[out_pos..]`: frames not written to the socket yet.
    out: Vec<u8>,
    out_pos: usize,
    /// `Shared::written` when `out` was taken from the machine.
    taken: u64,
    need_flush: bool,
    /// Streams the peer opened, not handed out yet.
    inbound: VecDeque<MplexStream>,
    /// `close` began: flush, shut down, end.
    closing: bool,
    /// The connection is over (`Shared::ended` is set).
    over: bool,
    /// Why it failed, until `poll_next_inbound` or `poll_close` reported it.
    failure: Option<io::Error>,
}

impl<I> Driver<I> {
    pub(super) fn new(io: I) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            conn: Connection::new(),
            wakers: HashMap::new(),
            send_waiters: Vec::new(),
            task: None,
            input_stalled: false,
            written: 0,
            flushed: 0,
            closing: false,
            ended: None,
        }));
        Self {
            io,
            shared,
            inbuf: Vec::new(),
            filled: 0,
            out: Vec::new(),
            out_pos: 0,
            taken: 0,
            need_flush: false,
            inbound: VecDeque::new(),
            closing: false,
            over: false,
            failure: None,
        }
    }

    /// The connection is over with `result`: every stream learns it.
    fn finish(&mut self, result: io::Result<()>) {
        self.over = true;
        let (kind, why) = match &result {
            Ok(()) => (
                io::ErrorKind::ConnectionAborted,
                "the connection is closed".into(),
            ),
            Err(e) => (e.kind(), alloc::format!("the connection failed: {e}")),
        };
        lock(&self.shared).end(kind, why);
        if let Err(e) = result {
            // their streams already fail; dropped outside the lock (their drop takes it)
            drop(core::mem::take(&mut self.inbound));
            self.failure = Some(e);
        }
    }
}

impl<I> Drop for Driver<I> {
    fn drop(&mut self) {
        // streams outliving their connection must not wait for it forever
        lock(&self.shared).end(
            io::ErrorKind::ConnectionAborted,
            "the connection is closed".into(),
        );
    }
}

impl<I: AsyncIo> Driver<I> {
    pub(super) fn poll_next_inbound(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<MplexStream>>> {
        if !self.over {
            if let Poll::Ready(result) = self.poll(cx) {
                self.finish(result);
            }
        }
        if let Some(stream) = self.inbound.pop_front() {
            return Poll::Ready(Some(Ok(stream)));
        }
        if self.over {
            return Poll::Ready(self.failure.take().map(Err));
        }
        Poll::Pending
    }

    pub(super) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            self.closing = true;
            lock(&self.shared).closing = true;
        }
        if !self.over {
            match self.poll(cx) {
                Poll::Ready(Ok(())) => self.finish(Ok(())),
                Poll::Ready(Err(e)) => {
                    self.finish(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(self.failure.take().map_or(Ok(()), Err))
    }

    /// Passes until nothing moves (`Pending`), an inbound stream waits to be handed out
    /// (`Pending` too: the caller hands it out at once), or the connection is over
    /// (`Ready`: the peer ended it, `close` finished, or it failed).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        lock(&self.shared).task = Some(cx.waker().clone());
        loop {
            let mut progress = self.consume()?;
            if self.closing {
                // refused: dropping resets them, and the resets go out before the end
                drop(core::mem::take(&mut self.inbound));
            }
            if self.filled == 0 {
                if self.inbuf.is_empty() {
                    self.inbuf = alloc::vec![0; READ_CHUNK];
                }
                match self.io.poll_read(cx, &mut self.inbuf) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Ok(())),
                    Poll::Ready(Ok(n)) => {
                        self.filled = n.min(self.inbuf.len());
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    // nothing to read and nothing kept: an idle connection holds no room
                    Poll::Pending => self.inbuf = Vec::new(),
                }
            }
            match self.transmit(cx) {
                Poll::Ready(Ok(moved)) => progress |= moved,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            if self.closing && self.out_pos == self.out.len() && !self.need_flush {
                // the last frames (closes and resets of dropped streams) are out
                return self.io.poll_close(cx);
            }
            if !progress || !self.inbound.is_empty() {
                return Poll::Pending;
            }
        }
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
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            .min(self.filled);
        if used > 0 {
            self.inbuf.copy_within(used..self.filled, 0);
            self.filled -= used;
        }
        s.input_stalled = self.filled > 0;
        while let Some(event) = s.conn.poll_event() {
            match event {
                Event::InboundStream { id } => {
                    s.wakers.insert(id, StreamWakers::default());
                    self.inbound
                        .push_back(MplexStream::new(self.shared.clone(), id));
                }
                Event::Readable { id } | Event::RemoteClosed { id } | Event::Reset { id } => {
                    s.wake_stream(id)
                }
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
            match self.io.poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.out_pos = (self.out_pos + n).min(self.out.len());
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.need_flush {
            match self.io.poll_flush(cx) {
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
