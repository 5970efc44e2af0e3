//! The futures-io adapter (feature `async-std`): the upgrade over futures-io's
//! `AsyncRead + AsyncWrite` (async-std's and smol's `TcpStream`), returning a
//! [`SecureStream`] that implements them too. The handshake deadline is async-std's
//! `future::timeout`, which runs on any executor. [`negotiate_dialer`] and
//! [`negotiate_listener`] run multistream-select on any such stream (a muxer's stream).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::io;

use futures_io::{AsyncRead, AsyncWrite};

use super::poll::{self, AsyncIo};
use super::{negotiate, timed_out, ConnectionInfo, Negotiated, Pump, Upgrade};
use crate::identity::PeerId;
use crate::upgrade::{Config, PeerMemory, SecurityProtocol};

/// futures-io's traits seen as the adapters' [`AsyncIo`].
struct Io<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncIo for Io<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// Upgrades an outbound connection as the dialer; `expected_peer` (the dial address's
/// `/p2p/` part) must be who the listener proves to be. The whole upgrade must finish
/// within `timeout`.
pub async fn dial<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: &Config,
    expected_peer: Option<PeerId>,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    run(
        io,
        super::dialer(config, expected_peer)?,
        super::layer(config),
        timeout,
    )
    .await
}

/// Dials `expected_peer` through a [`PeerMemory`] (one per process, owned by the caller):
/// opens a connection with `connect`, upgrades proposing what the memory remembers of the
/// peer (alone and lazily: one round trip) and remembers what was agreed. If the peer
/// refused the remembered security protocol ([`Error::RememberedProtocolRefused`]), that
/// connection is lost (the protocol's first bytes went with the proposal): the memory
/// forgets the peer and this dials once more with `connect` and the full lists. Each
/// upgrade must finish within `timeout`. A remembered muxer the peer refuses surfaces at
/// the stream's first read, with the same error: forget the peer and dial again.
///
/// [`Error::RememberedProtocolRefused`]: crate::upgrade::Error::RememberedProtocolRefused
pub async fn dial_with_memory<S, F, Fut>(
    mut connect: F,
    config: &Config,
    expected_peer: PeerId,
    memory: &mut PeerMemory,
    timeout: Duration,
) -> io::Result<SecureStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let (dialer, recalled) = super::remembering_dialer(config, expected_peer, memory)?;
    let mut result = run(connect().await?, dialer, super::layer(config), timeout).await;
    let info = result.as_mut().map(|s| &mut s.pump.info).map_err(|e| &*e);
    if super::observe_dial(memory, &expected_peer, recalled, info) {
        let (dialer, recalled) = super::remembering_dialer(config, expected_peer, memory)?;
        result = run(connect().await?, dialer, super::layer(config), timeout).await;
        let info = result.as_mut().map(|s| &mut s.pump.info).map_err(|e| &*e);
        super::observe_dial(memory, &expected_peer, recalled, info);
    }
    result
}

/// Upgrades an inbound connection as the listener, within `timeout`.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: &Config,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    run(io, super::listener(config)?, super::layer(config), timeout).await
}

/// Upgrades a connection we opened as the *listener* (hole punching's role override:
/// the peer runs the dialer's upgrade on the same connection); the remote must prove
/// `expected_peer` if given, as with `dial`. Within `timeout`.
pub async fn dial_as_listener<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: &Config,
    expected_peer: Option<PeerId>,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    run(
        io,
        super::outbound_listener(config, expected_peer)?,
        super::layer(config),
        timeout,
    )
    .await
}

/// Upgrades a connection we accepted as the *dialer* (the other half of the role
/// override: the peer that opened it runs the listener's upgrade); the remote must prove
/// `expected_peer` if given. Within `timeout`.
pub async fn accept_as_dialer<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: &Config,
    expected_peer: Option<PeerId>,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    run(
        io,
        super::dialer(config, expected_peer)?,
        super::layer(config),
        timeout,
    )
    .await
}

/// Runs the `protocol` handshake as its initiator on a connection whose security protocol
/// was agreed already, by the caller's own multistream-select (as rust-libp2p's transport
/// does before its security upgrade: [`crate::libp2p`] is built on this). The muxer is
/// then settled as `config` says: with no muxers configured, nothing follows the
/// handshake (the caller negotiates its muxer on the stream). Within `timeout`.
pub async fn handshake_outbound<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: &Config,
    protocol: SecurityProtocol,
    expected_peer: Option<PeerId>,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    run(
        io,
        super::agreed_dialer(config, protocol, expected_peer)?,
        // rust-libp2p runs a private network beneath its transport, not in the upgrade
        None,
        timeout,
    )
    .await
}

/// [`handshake_outbound`] as the responder.
pub async fn handshake_inbound<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: &Config,
    protocol: SecurityProtocol,
    expected_peer: Option<PeerId>,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    run(
        io,
        super::agreed_listener(config, protocol, expected_peer)?,
        None,
        timeout,
    )
    .await
}

/// Agrees a protocol on `io` (a muxer's stream, say) as the multistream-select dialer:
/// proposes `protocols` in order, waiting for each answer ([`Version::V1`]: what js and
/// go listeners expect on a stream). Bytes read past the agreement are returned in
/// [`Negotiated::remaining`]. No deadline: wrap the call in a timeout to bound it. Errors
/// by the negotiation table in the [adapters' docs](super): no common protocol is
/// `Unsupported`, the peer closing first `UnexpectedEof`.
///
/// [`Version::V1`]: crate::multistream::Version::V1
pub async fn negotiate_dialer<S, P, T>(io: &mut S, protocols: P) -> io::Result<Negotiated>
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
    P: IntoIterator<Item = T>,
    T: Into<alloc::string::String>,
{
    negotiate::dialer(&mut Io(io), protocols).await
}

/// Answers the multistream-select proposals on `io` as the listener, accepting the first
/// one among `protocols`; the dialer's bytes after its accepted proposal (a lazy dialer's
/// first data) are returned in [`Negotiated::remaining`]. No deadline, as
/// [`negotiate_dialer`].
pub async fn negotiate_listener<S, P, T>(io: &mut S, protocols: P) -> io::Result<Negotiated>
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
    P: IntoIterator<Item = T>,
    T: Into<alloc::string::String>,
{
    negotiate::listener(&mut Io(io), protocols).await
}

async fn run<S: AsyncRead + AsyncWrite + Unpin, M: Upgrade>(
    io: S,
    machine: M,
    layer: Option<alloc::boxed::Box<super::Layer>>,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    let mut io = Io(io);
    let deadline = std::time::Instant::now() + timeout;
    let mut driver = poll::driver(machine, layer);
    match async_std::future::timeout(timeout, poll::upgrade(&mut io, &mut driver)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(super::timed_out_in(&driver)),
    }
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    match async_std::future::timeout(left, poll::finish_upgrade(&mut io, driver)).await {
        Ok(Ok(pump)) => Ok(SecureStream { io, pump }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(timed_out()),
    }
}

/// An upgraded connection: `AsyncRead` and `AsyncWrite` carry the muxer's plaintext.
/// `poll_close` sends our close (TLS close_notify) and then calls the socket's own
/// `poll_close`; async-std's `TcpStream` only flushes there, so to end a Noise stream
/// (which has no closing message) also shut the socket's write side down
/// (`TcpStream::shutdown(Shutdown::Write)` on a clone).
pub struct SecureStream<S> {
    io: Io<S>,
    pump: Pump,
}

impl<S> SecureStream<S> {
    /// What the upgrade agreed.
    pub fn info(&self) -> &ConnectionInfo {
        &self.pump.info
    }

    /// The bytes this connection's buffers have allocated now: a partly received frame,
    /// ciphertext not yet written, plaintext not yet read. 0 once the connection is idle
    /// (everything read and sent): buffers grow while data is in flight and are given
    /// back after it.
    pub fn buffered_capacity(&self) -> usize {
        self.pump.buffered_capacity()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io.0
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for SecureStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll::poll_read(&mut this.io, &mut this.pump, cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for SecureStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll::poll_write(&mut this.io, &mut this.pump, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        poll::poll_flush(&mut this.io, &mut this.pump, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        poll::poll_close(&mut this.io, &mut this.pump, cx)
    }
}

impl<S> core::fmt::Debug for SecureStream<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecureStream")
            .field("info", &self.pump.info)
            .finish_non_exhaustive()
    }
}
