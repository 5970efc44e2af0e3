//! An in-memory byte pipe pair for driving futures-io peers (libp2p-noise) in one thread.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncRead, AsyncWrite};

#[derive(Default)]
struct Queue {
    bytes: VecDeque<u8>,
    reader: Option<Waker>,
    closed: bool,
}

/// One end: reads what the other end wrote.
pub(crate) struct End {
    rx: Arc<Mutex<Queue>>,
    tx: Arc<Mutex<Queue>>,
}

/// Two connected ends.
pub(crate) fn pair() -> (End, End) {
    let (a, b) = (
        Arc::new(Mutex::new(Queue::default())),
        Arc::new(Mutex::new(Queue::default())),
    );
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
        },
        End { rx: b, tx: a },
    )
}

/// A handle on both queues of a pair that outlives moving the ends into a peer.
#[allow(dead_code)] // used by the noise bench only
pub(crate) struct Shrinker(Arc<Mutex<Queue>>, Arc<Mutex<Queue>>);

#[allow(dead_code)] // used by the noise bench only
impl End {
    /// A handle to release the queues' spare capacity later.
    pub(crate) fn shrinker(&self) -> Shrinker {
        Shrinker(self.rx.clone(), self.tx.clone())
    }
}

#[allow(dead_code)] // used by the noise bench only
impl Shrinker {
    /// Releases the queues' spare capacity, so heap figures count only what the peers hold.
    pub(crate) fn shrink(&self) {
        for q in [&self.0, &self.1] {
            if let Ok(mut q) = q.lock() {
                q.bytes.shrink_to_fit();
            }
        }
    }
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut q = self.rx.lock().map_err(|_| io::Error::other("poisoned"))?;
        if q.bytes.is_empty() {
            if q.closed {
                return Poll::Ready(Ok(0));
            }
            q.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        // VecDeque's io::Read copies whole slices (memcpy), not byte by byte
        Poll::Ready(std::io::Read::read(&mut q.bytes, buf))
    }
}

impl AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut q = self.tx.lock().map_err(|_| io::Error::other("poisoned"))?;
        std::io::Write::write_all(&mut q.bytes, buf)?;
        if let Some(w) = q.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut q = self.tx.lock().map_err(|_| io::Error::other("poisoned"))?;
        q.closed = true;
        if let Some(w) = q.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}
