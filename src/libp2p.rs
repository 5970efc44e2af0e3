//! p2psec's Noise and TLS inside a rust-libp2p 0.57 `Swarm` (feature `libp2p`): the Swarm
//! keeps its transport, its multistream-select and its muxer; p2psec runs the security
//! handshake and the encrypted stream (half the handshake CPU of libp2p-noise and
//! libp2p-tls, and a connection's buffers given back when it is idle).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use libp2p::{noise, ping, tcp, yamux, SwarmBuilder};
//! let swarm = SwarmBuilder::with_new_identity()
//!     .with_tokio()
//!     .with_tcp(tcp::Config::default(), p2psec::libp2p::Noise::new, yamux::Config::default)?
//!     .with_behaviour(|_| ping::Behaviour::default())?
//!     .build();
//! # let _ = swarm; let _ = noise::Config::new; Ok(()) }
//! ```
//!
//! [`Noise`] and [`Tls`] implement libp2p-core's `UpgradeInfo`,
//! `InboundConnectionUpgrade` and `OutboundConnectionUpgrade` over any futures-io stream,
//! through the futures adapter ([`crate::adapters::futures::handshake_outbound`] and
//! `handshake_inbound`): the same driver as every other p2psec connection. The output is
//! the remote's PeerId and the adapter's `SecureStream`.
//!
//! What the trait surface allows: the Swarm agrees the security protocol by
//! multistream-select before the upgrade runs, and afterwards negotiates the muxer on the
//! upgrade's output by multistream-select again (`Transport::multiplex`); the upgrade's
//! output has no place for a muxer agreed inside the handshake, so early muxer negotiation
//! (the Noise extension, TLS ALPN) cannot save that round trip here, and none is offered.
//! The dialer's upgrade is not told which PeerId was dialed (the Swarm checks the returned
//! one itself). The Swarm bounds the upgrade with its own timeout (10 s by default);
//! p2psec's deadline ([`crate::adapters::DEFAULT_HANDSHAKE_TIMEOUT`], also 10 s) stays
//! as a second bound.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use std::io;

use futures_io::{AsyncRead, AsyncWrite};
use libp2p_core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo};

use crate::adapters::futures::{handshake_inbound, handshake_outbound, SecureStream};
use crate::adapters::{os_rng, unix_time_now, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::identity::Keypair;
use crate::upgrade::{Config, SecurityProtocol};

/// p2psec's `/noise` as a rust-libp2p security upgrade: `Noise::new` is what
/// `SwarmBuilder::with_tcp` takes in the place of `libp2p::noise::Config::new`.
pub type Noise = Security<NoiseProtocol>;

/// p2psec's `/tls/1.0.0` as a rust-libp2p security upgrade: `Tls::new` in the place of
/// `libp2p::tls::Config::new`.
pub type Tls = Security<TlsProtocol>;

/// Marks [`Noise`].
#[derive(Clone, Copy, Debug)]
pub struct NoiseProtocol;

/// Marks [`Tls`].
#[derive(Clone, Copy, Debug)]
pub struct TlsProtocol;

/// Which security protocol a [`Security`] runs.
pub trait Protocol: Clone + Send + 'static {
    /// The protocol.
    const PROTOCOL: SecurityProtocol;
}

impl Protocol for NoiseProtocol {
    const PROTOCOL: SecurityProtocol = SecurityProtocol::Noise;
}

impl Protocol for TlsProtocol {
    const PROTOCOL: SecurityProtocol = SecurityProtocol::Tls;
}

/// Why a [`Security`] could not be made from a rust-libp2p key pair.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// rust-libp2p could not encode the key pair (a key type it was built without).
    #[error("the rust-libp2p key pair could not be encoded: {0}")]
    Encode(String),
    /// p2psec refused the key (see the identity error).
    #[error("p2psec refused the key: {0}")]
    Key(#[from] crate::identity::Error),
    /// The configuration could not be made (the certificate, the Noise static key).
    #[error("the security configuration could not be made: {0}")]
    Config(#[from] crate::upgrade::Error),
}

/// One of p2psec's security protocols as a rust-libp2p connection upgrade. Cheap to
/// clone (the Swarm clones it per connection): the configuration is shared.
#[derive(Clone)]
pub struct Security<P: Protocol> {
    config: Config,
    protocol: PhantomData<P>,
}

impl<P: Protocol> core::fmt::Debug for Security<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("p2psec::libp2p::Security")
            .field("protocol", &P::PROTOCOL)
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> Security<P> {
    /// The upgrade for the Swarm's identity, crossing as its protobuf encoding: the Noise
    /// static key or the TLS certificate is made now (at the wall clock's time, from the
    /// OS generator), once for every connection.
    pub fn new(keypair: &libp2p_identity::Keypair) -> Result<Self, Error> {
        let encoded = zeroize::Zeroizing::new(
            keypair
                .to_protobuf_encoding()
                .map_err(|e| Error::Encode(format!("{e:?}")))?,
        );
        let identity = Keypair::try_decode_protobuf(&encoded)?;
        let config = Config::new(&identity, unix_time_now(), &mut os_rng())?
            .with_security([P::PROTOCOL])?
            // the Swarm negotiates its muxer on the upgrade's output
            .with_muxers(core::iter::empty::<&str>())?;
        Ok(Self::with_config(config))
    }

    /// The upgrade with a configuration of one's own (a key policy, a cache size). Its
    /// security list must hold this protocol, and it should list no muxers (the Swarm
    /// negotiates the muxer itself; a listed one would be agreed inside the handshake
    /// and then negotiated again).
    pub fn with_config(config: Config) -> Self {
        Self {
            config,
            protocol: PhantomData,
        }
    }
}

impl<P: Protocol> UpgradeInfo for Security<P> {
    type Info = &'static str;
    type InfoIter = core::iter::Once<&'static str>;

    fn protocol_info(&self) -> Self::InfoIter {
        core::iter::once(P::PROTOCOL.protocol_id())
    }
}

/// What an upgrade returns: the remote's PeerId, as rust-libp2p names it, and the stream.
pub type Output<S> = (libp2p_identity::PeerId, SecureStream<S>);

/// The upgrade's future.
pub type UpgradeFuture<S> = Pin<Box<dyn Future<Output = io::Result<Output<S>>> + Send>>;

/// The stream's remote PeerId as rust-libp2p's type (the same multihash bytes).
fn remote<S>(stream: SecureStream<S>) -> io::Result<Output<S>> {
    let bytes = stream.info().remote_peer_id.to_bytes();
    let peer = libp2p_identity::PeerId::from_bytes(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((peer, stream))
}

impl<P: Protocol, S> InboundConnectionUpgrade<S> for Security<P>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = Output<S>;
    type Error = io::Error;
    type Future = UpgradeFuture<S>;

    fn upgrade_inbound(self, socket: S, _: Self::Info) -> Self::Future {
        Box::pin(async move {
            let timeout = DEFAULT_HANDSHAKE_TIMEOUT;
            remote(handshake_inbound(socket, &self.config, P::PROTOCOL, None, timeout).await?)
        })
    }
}

impl<P: Protocol, S> OutboundConnectionUpgrade<S> for Security<P>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = Output<S>;
    type Error = io::Error;
    type Future = UpgradeFuture<S>;

    fn upgrade_outbound(self, socket: S, _: Self::Info) -> Self::Future {
        Box::pin(async move {
            let timeout = DEFAULT_HANDSHAKE_TIMEOUT;
            remote(handshake_outbound(socket, &self.config, P::PROTOCOL, None, timeout).await?)
        })
    }
}
