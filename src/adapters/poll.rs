//! The part the tokio and futures-io adapters share: the upgrade loop and the stream's
//! poll functions, written once over [`AsyncIo`], which each adapter implements for its
//! runtime's traits (the negotiation loop and the mplex driver use it too).

use core::future::poll_fn;
use core::task::{Context, Poll};
use std::io;

use super::driver::{Driver, Failure, Step};
use super::{drive_error, finish, Pump, Upgrade};

/// A runtime's async byte stream, reduced to what the adapters need.
pub(super) trait AsyncIo: Unpin {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// The driver of an upgrade: `machine` over the private-network `layer`, if any.
pub(super) fn driver<M: Upgrade>(
    machine: M,
    layer: Option<alloc::boxed::Box<super::Layer>>,
) -> Driver<M> {
    Driver::new(machine, super::HANDSHAKE_READ_CHUNK).with_layer(layer)
}

/// Runs the upgrade over `io` until its machine completed (the caller bounds it with its
/// runtime's timeout, and still has the driver to tell why when it passes).
pub(super) async fn upgrade<I: AsyncIo, M: Upgrade>(
    io: &mut I,
    driver: &mut Driver<M>,
) -> io::Result<()> {
    drive(io, driver, drive_error).await
}

/// The stream state for the connection once `driver`'s machine completed, after the last
/// handshake message is written (it may wait in the channel: the peer needs it to finish).
pub(super) async fn finish_upgrade<I: AsyncIo, M: Upgrade>(
    io: &mut I,
    driver: Driver<M>,
) -> io::Result<Pump> {
    let mut pump = finish(driver)?;
    poll_fn(|cx| poll_flush_pending(io, &mut pump, cx)).await?;
    poll_fn(|cx| io.poll_flush(cx)).await?;
    Ok(pump)
}

/// Runs the driver's steps until its machine completes. On a failure the final message
/// the machine owes the peer is written (best effort), then `failed` turns the failure
/// into the caller's `io::Error`; a failing stream's own error comes back unchanged.
pub(super) async fn drive<I: AsyncIo, M: crate::Machine>(
    io: &mut I,
    driver: &mut Driver<M>,
    failed: impl Fn(Failure<M::Error>) -> io::Error,
) -> io::Result<()> {
    loop {
        match driver.next() {
            Step::Write(bytes) => {
                write_all(io, bytes).await?;
                driver.wrote();
            }
            Step::Read(room) => {
                let n = match poll_fn(|cx| io.poll_read(cx, room)).await {
                    Ok(n) => n,
                    // a reset while a private network's peer is unproved: likely another key
                    Err(e) if super::is_reset(&e) => match driver.ended() {
                        Failure::Eof => return Err(e),
                        failure => return Err(failed(failure)),
                    },
                    Err(e) => return Err(e),
                };
                if let Err(failure) = driver.read(n) {
                    if !driver.last_words().is_empty() {
                        let _ = write_all(io, driver.last_words()).await;
                    }
                    return Err(failed(failure));
                }
            }
            Step::Done => return Ok(()),
        }
    }
}

/// Writes all of `bytes`, then flushes.
pub(super) async fn write_all<I: AsyncIo>(io: &mut I, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = poll_fn(|cx| io.poll_write(cx, bytes)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = bytes.get(n..).unwrap_or_default();
    }
    poll_fn(|cx| io.poll_flush(cx)).await
}

/// Writes the pending ciphertext until none is left (or the socket would block).
pub(super) fn poll_flush_pending<I: AsyncIo>(
    io: &mut I,
    pump: &mut Pump,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    loop {
        let pending = pump.pending();
        if pending.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match io.poll_write(cx, pending) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => pump.advance_out(n),
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Reads plaintext into `buf`: from what already arrived, else from the socket.
///
/// It never writes: output that reading queued (a TLS KeyUpdate answer) goes with the next
/// write or flush. Writing here would register the reader's waker for the socket's write
/// readiness, and tokio keeps one waker per direction, so a writer waiting in another task
/// would never be woken.
pub(super) fn poll_read<I: AsyncIo>(
    io: &mut I,
    pump: &mut Pump,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    loop {
        if let Some(n) = pump.read_plain(buf)? {
            return Poll::Ready(Ok(n));
        }
        match pump.fill(|room| io.poll_read(cx, room)) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {
                // nothing more to read for now: an idle connection keeps no buffers
                pump.idle();
                return Poll::Pending;
            }
        }
    }
}

/// Encrypts what the channel takes of `data`. Backpressure: nothing is taken while
/// earlier ciphertext still waits for the socket, so at most one call's worth is ever
/// buffered. Once bytes are taken the call reports success; a socket error while sending
/// them surfaces on the next write or flush (as `std::io::Write` requires: an error means
/// nothing was written).
pub(super) fn poll_write<I: AsyncIo>(
    io: &mut I,
    pump: &mut Pump,
    cx: &mut Context<'_>,
    data: &[u8],
) -> Poll<io::Result<usize>> {
    if data.is_empty() {
        return Poll::Ready(Ok(0));
    }
    match poll_flush_pending(io, pump, cx) {
        Poll::Ready(Ok(())) => {}
        other => return other.map(|r| r.map(|()| 0)),
    }
    let n = pump.write_plain(data)?;
    // start sending at once; what the socket does not take now goes with the next call
    let _ = poll_flush_pending(io, pump, cx);
    Poll::Ready(Ok(n))
}

/// Writes every pending byte, then flushes the socket.
pub(super) fn poll_flush<I: AsyncIo>(
    io: &mut I,
    pump: &mut Pump,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    match poll_flush_pending(io, pump, cx) {
        Poll::Ready(Ok(())) => io.poll_flush(cx),
        other => other,
    }
}

/// Sends our close (TLS close_notify) after the pending data, then closes the socket's
/// write side.
pub(super) fn poll_close<I: AsyncIo>(
    io: &mut I,
    pump: &mut Pump,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    pump.channel.close();
    match poll_flush(io, pump, cx) {
        Poll::Ready(Ok(())) => io.poll_close(cx),
        other => other,
    }
}
