//! Thin drivers that run the [`crate::upgrade`] machines over real byte streams:
//! [`blocking`] (std `Read + Write`, e.g. `TcpStream`), [`tokio`] (feature
//! `tokio`) and [`futures`] (feature `async-std`: futures-io, which also
//! serves smol). Each one only moves bytes between the stream and the machine and
//! enforces the handshake deadline; every protocol decision is the machine's.
//!
//! Each returns a stream that reads and writes the muxer's plaintext, together with a
//! [`ConnectionInfo`] (remote PeerId, security protocol, muxer). The adapters supply what
//! the machines must not take themselves: the wall clock (certificate validity), the
//! monotonic clock (the deadline) and the OS random number generator; callers that build
//! a machine themselves get the same two from [`unix_time_now`] and [`os_rng`].
//!
//! Above the upgrade, the async adapters also drive the machines that run on a secured
//! connection: `tokio::negotiate_dialer` / `tokio::negotiate_listener` (and the same in
//! `futures`) agree a protocol on a stream with the [`crate::multistream`] machines,
//! returning a `Negotiated`; `mplex` (features `tokio` and `mplex`) runs the mplex
//! muxer's machine and hands out its streams.
//!
//! Hole punching (DCUtR) makes both peers dial, and one of them must run the upgrade as
//! the listener: `dial_as_listener` runs the listener's upgrade on a connection we opened
//! (checking the remote's PeerId as a dial does), `accept_as_dialer` the dialer's on one
//! we accepted. Which side takes which role is the caller's agreement with the peer (DCUtR
//! settles it); the streams they return are the same as `dial`'s and `accept`'s.
//!
//! Set `TCP_NODELAY` on TCP sockets: the dialer's last handshake message and its first
//! application bytes are separate writes, and Nagle's algorithm would hold the second
//! for a delayed ACK (about 40 ms on Linux).
//!
//! Errors are `io::Error`s that wrap the crate's typed error, so callers can
//! `err.get_ref().and_then(|e| e.downcast_ref::<upgrade::Error>())`. Kinds:
//!
//! | cause | `io::ErrorKind` |
//! |---|---|
//! | the handshake deadline passed | `TimedOut` |
//! | the peer closed the connection during the upgrade, or mid-frame | `UnexpectedEof` |
//! | the remote proved another PeerId than expected | `PermissionDenied` |
//! | the peer holds another private-network key (`pnet`) | `PermissionDenied` |
//! | no common security protocol or muxer | `Unsupported` |
//! | anything else the peer sent wrong (malformed, forged, failed decryption) | `InvalidData` |
//! | a caller bug (`ApiMisuse`) | `InvalidInput` |
//!
//! The negotiation on a stream (`negotiate_dialer`, `negotiate_listener`) wraps a
//! [`multistream::Error`](crate::multistream::Error) the same way:
//!
//! | cause | `io::ErrorKind` |
//! |---|---|
//! | no common protocol (`Fault::PeerIncompatible`) | `Unsupported` |
//! | the peer closed the stream before agreement | `UnexpectedEof` |
//! | a caller bug: no protocols, an invalid id (`Fault::ApiMisuse`) | `InvalidInput` |
//! | anything else the peer sent wrong (malformed, out of place) | `InvalidData` |
//! | the stream's own errors | as the stream reported them |

use alloc::string::String;
use std::io;

use crate::identity::PeerId;
use crate::upgrade::{
    self, Error, MuxerSelection, PeerMemory, Remembered, SecurityProtocol, Upgraded,
};

pub mod blocking;
mod driver;
#[cfg(feature = "async-std")]
pub mod futures;
#[cfg(all(feature = "tokio", feature = "mplex"))]
pub mod mplex;
#[cfg(any(feature = "tokio", feature = "async-std"))]
mod negotiate;
#[cfg(any(feature = "tokio", feature = "async-std"))]
mod poll;
mod pump;
#[cfg(feature = "tokio")]
pub mod tokio;

#[cfg(any(feature = "tokio", feature = "async-std"))]
pub use negotiate::Negotiated;
use pump::Pump;

/// The private-network layer a connection runs beneath everything, when its configuration
/// has a pre-shared key. Without the `pnet` feature it cannot exist (an empty enum), so
/// `Option<Box<Layer>>` is always `None` and costs a pointer.
#[cfg(feature = "pnet")]
type Layer = crate::pnet::Pnet;
#[cfg(not(feature = "pnet"))]
enum Layer {}

/// The layer for `config`: its pre-shared key, our nonce from the OS.
fn layer(config: &upgrade::Config) -> Option<alloc::boxed::Box<Layer>> {
    #[cfg(feature = "pnet")]
    {
        config
            .psk()
            .map(|psk| alloc::boxed::Box::new(crate::pnet::Pnet::with_rng(psk, &mut os_rng())))
    }
    #[cfg(not(feature = "pnet"))]
    {
        let _ = config;
        None
    }
}

/// Our bytes through the layer (after its nonce), in place.
fn seal(layer: &mut Layer, bytes: &mut [u8]) {
    #[cfg(feature = "pnet")]
    layer.seal(bytes);
    #[cfg(not(feature = "pnet"))]
    {
        let _ = bytes;
        match *layer {}
    }
}

/// The peer's bytes through the layer, in place: where their plaintext begins.
fn open(layer: &mut Layer, bytes: &mut [u8]) -> Result<usize, Error> {
    #[cfg(feature = "pnet")]
    return layer.open(bytes).map_err(Error::Pnet);
    #[cfg(not(feature = "pnet"))]
    {
        let _ = bytes;
        match *layer {}
    }
}

/// Whether the peer has not yet proved the private network's key (its first bytes did not
/// decrypt to the multistream header yet): a connection that ends, is reset or times out
/// then most likely met another key.
fn unproved(layer: &Layer) -> bool {
    #[cfg(feature = "pnet")]
    return !layer.peer_proved_key();
    #[cfg(not(feature = "pnet"))]
    match *layer {}
}

/// The error of an upgrade whose deadline passed: named after the private network when
/// its peer never proved the key.
#[cfg(any(feature = "tokio", feature = "async-std"))]
fn timed_out_in<M: crate::Machine>(driver: &driver::Driver<M>) -> io::Error {
    timed_out_unproved(driver.layer_unproved())
}

/// [`timed_out_in`] from the driver's answer to `layer_unproved`.
fn timed_out_unproved(unproved: bool) -> io::Error {
    #[cfg(feature = "pnet")]
    if unproved {
        return io::Error::new(
            io::ErrorKind::TimedOut,
            Error::Pnet(crate::pnet::Error::TimedOutBeforeProof),
        );
    }
    let _ = unproved;
    timed_out()
}

/// The peer reset or dropped the connection (what a read then reports).
fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Our nonce: the first bytes on the wire.
fn nonce(layer: &Layer) -> alloc::vec::Vec<u8> {
    #[cfg(feature = "pnet")]
    return layer.nonce().to_vec();
    #[cfg(not(feature = "pnet"))]
    match *layer {}
}

/// The default handshake deadline: 10 s, what rust-libp2p's `SwarmBuilder` gives a TCP
/// connection's upgrade and js-libp2p an inbound one (go-libp2p gives 15 s). A peer that
/// stalls or trickles its handshake is cut then.
pub const DEFAULT_HANDSHAKE_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(10);

/// The room a handshake reads into at a time (the machine gathers longer messages over
/// several reads): a Noise message or a TLS flight with an Ed25519 certificate fits, and
/// hundreds of handshakes in progress hold little.
const HANDSHAKE_READ_CHUNK: usize = 2 * 1024;

/// What an upgrade agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The remote's proven PeerId.
    pub remote_peer_id: PeerId,
    /// The security protocol.
    pub security: SecurityProtocol,
    /// The stream muxer, if muxers were configured.
    pub muxer: Option<String>,
    /// How the muxer was agreed.
    pub muxer_selection: MuxerSelection,
    /// Round trips the upgrade waited for: reads of the peer's bytes that followed a
    /// flight of ours (a flight that arrives in several reads counts once).
    pub round_trips: u32,
    /// Whether the dial proposed what a [`PeerMemory`] remembered of the peer (the
    /// adapters' `dial_with_memory`); false for a first contact and for a redial after
    /// the peer refused the remembered choice.
    pub recalled: bool,
}

/// Turns a crate error into an `io::Error` by the table in the module docs.
pub fn io_error(e: Error) -> io::Error {
    let kind = match &e {
        Error::UnexpectedEof => io::ErrorKind::UnexpectedEof,
        Error::ApiMisuse(_) | Error::UnsupportedSecurity(_) => io::ErrorKind::InvalidInput,
        e if e.is_unexpected_peer() => io::ErrorKind::PermissionDenied,
        #[cfg(feature = "pnet")]
        Error::Pnet(_) => io::ErrorKind::PermissionDenied,
        Error::SecurityNegotiation(m) | Error::MuxerNegotiation(m)
            if matches!(m, crate::multistream::Error::NoProtocolAgreed { .. }) =>
        {
            io::ErrorKind::Unsupported
        }
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e)
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the handshake deadline passed")
}

/// The wall clock in Unix seconds: the `now_unix` that [`upgrade::Config::new`] and the
/// upgrade machines take for certificate validity. A clock set before 1970 reads as 0
/// (every certificate then looks not yet valid, rather than the call failing).
pub fn unix_time_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The OS random number generator (getrandom), as the `rng` the upgrade machines and
/// [`upgrade::Config::new`] take for their ephemeral secrets. It panics if the OS cannot
/// supply randomness: no secret is ever drawn from a weaker source.
pub fn os_rng() -> impl rand_core::CryptoRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// The two upgrade machines, as the adapters finish them.
trait Upgrade: crate::Machine<Event = upgrade::Event, Error = Error> {
    fn into_upgraded(self) -> Result<Upgraded, Error>;
}

impl Upgrade for upgrade::Dialer {
    fn into_upgraded(self) -> Result<Upgraded, Error> {
        upgrade::Dialer::into_upgraded(self)
    }
}

impl Upgrade for upgrade::Listener {
    fn into_upgraded(self) -> Result<Upgraded, Error> {
        upgrade::Listener::into_upgraded(self)
    }
}

/// A dialer's upgrade at the wall clock's time, its ephemeral secret from the OS.
fn dialer(config: &upgrade::Config, expected: Option<PeerId>) -> io::Result<upgrade::Dialer> {
    upgrade::Dialer::new(config, expected, unix_time_now(), &mut os_rng()).map_err(io_error)
}

/// A dialer's upgrade that proposes what `memory` remembers of `expected`, and whether it
/// does.
fn remembering_dialer(
    config: &upgrade::Config,
    expected: PeerId,
    memory: &mut PeerMemory,
) -> io::Result<(upgrade::Dialer, bool)> {
    let dialer =
        upgrade::Dialer::with_memory(config, expected, unix_time_now(), memory, &mut os_rng())
            .map_err(io_error)?;
    let recalled = dialer.recalled().is_some();
    Ok((dialer, recalled))
}

/// What a dial through `memory` tells it: a success is remembered (and marked in `info`
/// as recalled or not); a refusal of the remembered choice forgets the peer and asks for
/// the one redial with the full lists (`true`).
fn observe_dial(
    memory: &mut PeerMemory,
    expected: &PeerId,
    recalled: bool,
    outcome: Result<&mut ConnectionInfo, &io::Error>,
) -> bool {
    match outcome {
        Ok(info) => {
            info.recalled = recalled;
            memory.insert(
                info.remote_peer_id,
                Remembered {
                    security: info.security,
                    muxer: info.muxer.clone(),
                    muxer_selection: info.muxer_selection,
                },
            );
            false
        }
        Err(e) => {
            let stale = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<Error>())
                .is_some_and(Error::is_stale_memory);
            if stale {
                memory.forget(expected);
            }
            stale
        }
    }
}

/// A listener's upgrade, likewise.
fn listener(config: &upgrade::Config) -> io::Result<upgrade::Listener> {
    upgrade::Listener::new(config, unix_time_now(), &mut os_rng()).map_err(io_error)
}

/// The 32 random bytes of one handshake, from the OS.
#[cfg(feature = "async-std")]
fn os_seed() -> zeroize::Zeroizing<[u8; 32]> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::Rng::fill_bytes(&mut os_rng(), &mut seed[..]);
    seed
}

/// The dialer's upgrade whose security protocol the caller agreed already.
#[cfg(feature = "async-std")]
fn agreed_dialer(
    config: &upgrade::Config,
    protocol: SecurityProtocol,
    expected: Option<PeerId>,
) -> io::Result<upgrade::Dialer> {
    upgrade::Dialer::with_agreed_security(config, protocol, expected, unix_time_now(), os_seed())
        .map_err(io_error)
}

/// The listener's upgrade whose security protocol the caller agreed already.
#[cfg(feature = "async-std")]
fn agreed_listener(
    config: &upgrade::Config,
    protocol: SecurityProtocol,
    expected: Option<PeerId>,
) -> io::Result<upgrade::Listener> {
    upgrade::Listener::with_agreed_security(config, protocol, expected, unix_time_now(), os_seed())
        .map_err(io_error)
}

/// A listener's upgrade on a connection we opened (the hole-punch role override).
fn outbound_listener(
    config: &upgrade::Config,
    expected: Option<PeerId>,
) -> io::Result<upgrade::Listener> {
    upgrade::Listener::for_outbound(config, expected, unix_time_now(), &mut os_rng())
        .map_err(io_error)
}

/// The state for the connection once `driver`'s machine completed.
fn finish<M: Upgrade>(driver: driver::Driver<M>) -> io::Result<Pump> {
    let (machine, inbuf, round_trips, layer) = driver.finish();
    let upgraded = machine.into_upgraded().map_err(io_error)?;
    Ok(Pump::new(upgraded, inbuf, round_trips, layer))
}

/// The crate error of a failed drive.
fn drive_error(f: driver::Failure<Error>) -> io::Error {
    match f {
        driver::Failure::Eof => io_error(Error::UnexpectedEof),
        driver::Failure::Machine(e) | driver::Failure::Layer(e) => io_error(e),
    }
}
