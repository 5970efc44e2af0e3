//! The blocking adapter: the upgrade over any `Read + Write` stream that can bound its
//! blocking calls ([`IoTimeouts`]: `TcpStream`, `UnixStream`), returning a
//! [`SecureStream`] that is itself `Read + Write`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use p2psec::adapters::{blocking, DEFAULT_HANDSHAKE_TIMEOUT};
//! use p2psec::identity::{KeyType, Keypair};
//! use p2psec::upgrade::Config;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
//! let identity = Keypair::generate(KeyType::Ed25519, &mut rng)?;
//! let config = Config::new(&identity, 1_750_000_000, &mut rng)?;
//! let tcp = TcpStream::connect("127.0.0.1:4001")?;
//! let mut stream = blocking::dial(tcp, &config, None, DEFAULT_HANDSHAKE_TIMEOUT)?;
//! println!("secured with {} by {}", stream.info().security, stream.info().remote_peer_id);
//! stream.write_all(b"hello")?;
//! # Ok(()) }
//! ```

use core::task::Poll;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::driver::{Driver, Step};
use super::{drive_error, finish, ConnectionInfo, Pump, Upgrade};
use crate::identity::PeerId;
use crate::upgrade::{Config, PeerMemory};

/// A stream whose blocking reads and writes can be bounded, so a stalled peer cannot
/// hold the handshake past its deadline.
pub trait IoTimeouts {
    /// Bounds every later blocking read and write (`None`: no bound).
    fn set_io_timeouts(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl IoTimeouts for std::net::TcpStream {
    fn set_io_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }
}

#[cfg(unix)]
impl IoTimeouts for std::os::unix::net::UnixStream {
    fn set_io_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }
}

/// Upgrades an outbound connection as the dialer. `expected_peer` (the dial address's
/// `/p2p/` part) must be who the listener proves to be. The whole upgrade must finish
/// within `timeout`.
pub fn dial<S: Read + Write + IoTimeouts>(
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
pub fn dial_with_memory<S, F>(
    mut connect: F,
    config: &Config,
    expected_peer: PeerId,
    memory: &mut PeerMemory,
    timeout: Duration,
) -> io::Result<SecureStream<S>>
where
    S: Read + Write + IoTimeouts,
    F: FnMut() -> io::Result<S>,
{
    let (dialer, recalled) = super::remembering_dialer(config, expected_peer, memory)?;
    let mut result = run(connect()?, dialer, super::layer(config), timeout);
    let info = result.as_mut().map(|s| &mut s.pump.info).map_err(|e| &*e);
    if super::observe_dial(memory, &expected_peer, recalled, info) {
        let (dialer, recalled) = super::remembering_dialer(config, expected_peer, memory)?;
        result = run(connect()?, dialer, super::layer(config), timeout);
        let info = result.as_mut().map(|s| &mut s.pump.info).map_err(|e| &*e);
        super::observe_dial(memory, &expected_peer, recalled, info);
    }
    result
}

/// Upgrades an inbound connection as the listener, within `timeout`.
pub fn accept<S: Read + Write + IoTimeouts>(
    io: S,
    config: &Config,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    run(io, super::listener(config)?, super::layer(config), timeout)
}

/// Upgrades a connection we opened as the *listener* (hole punching's role override:
/// the peer runs the dialer's upgrade on the same connection); the remote must prove
/// `expected_peer` if given, as with `dial`. Within `timeout`.
pub fn dial_as_listener<S: Read + Write + IoTimeouts>(
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
}

/// Upgrades a connection we accepted as the *dialer* (the other half of the role
/// override: the peer that opened it runs the listener's upgrade); the remote must prove
/// `expected_peer` if given. Within `timeout`.
pub fn accept_as_dialer<S: Read + Write + IoTimeouts>(
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
}

fn run<S: Read + Write + IoTimeouts, M: Upgrade>(
    mut io: S,
    machine: M,
    layer: Option<alloc::boxed::Box<super::Layer>>,
    timeout: Duration,
) -> io::Result<SecureStream<S>> {
    let deadline = Instant::now() + timeout;
    let mut driver = Driver::new(machine, super::HANDSHAKE_READ_CHUNK).with_layer(layer);
    // `unproved`: a private network's peer has not proved the key (names a timeout)
    let bound = |io: &S, unproved: bool| {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(super::timed_out_unproved(unproved));
        }
        io.set_io_timeouts(Some(left))
    };
    loop {
        let unproved = driver.layer_unproved();
        let deadline_kind = |e| deadline_kind_in(e, unproved);
        match driver.next() {
            Step::Write(bytes) => {
                bound(&io, unproved)?;
                io.write_all(bytes).map_err(deadline_kind)?;
                driver.wrote();
            }
            Step::Read(room) => {
                bound(&io, unproved)?;
                let n = match io.read(room) {
                    Ok(n) => n,
                    // a reset while a private network's peer is unproved: likely another key
                    Err(e) if super::is_reset(&e) => match driver.ended() {
                        super::driver::Failure::Eof => return Err(deadline_kind(e)),
                        failure => return Err(drive_error(failure)),
                    },
                    Err(e) => return Err(deadline_kind(e)),
                };
                if let Err(failure) = driver.read(n) {
                    let _ = io.write_all(driver.last_words());
                    return Err(drive_error(failure));
                }
            }
            Step::Done => break,
        }
    }
    let mut stream = SecureStream {
        pump: finish(driver)?,
        io,
    };
    // the last handshake message may wait in the channel: the peer needs it to finish
    bound(&stream.io, false)?;
    stream.flush_pending().map_err(deadline_kind)?;
    stream.io.set_io_timeouts(None)?;
    Ok(stream)
}

/// A socket timeout during the handshake is the deadline passing.
fn deadline_kind(e: io::Error) -> io::Error {
    deadline_kind_in(e, false)
}

/// [`deadline_kind`], named after the private network when its peer is `unproved`.
fn deadline_kind_in(e: io::Error, unproved: bool) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => super::timed_out_unproved(unproved),
        _ => e,
    }
}

/// An upgraded connection: `Read` and `Write` carry the muxer's plaintext.
pub struct SecureStream<S> {
    io: S,
    pump: Pump,
}

impl<S: Read + Write> SecureStream<S> {
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
        &self.io
    }

    /// Sends our close (TLS close_notify; nothing for Noise) after the data written so
    /// far. Shut the socket's write side down afterwards to signal end of stream.
    pub fn close(&mut self) -> io::Result<()> {
        self.pump.channel.close();
        self.flush_pending()?;
        self.io.flush()
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        loop {
            let pending = self.pump.pending();
            if pending.is_empty() {
                return Ok(());
            }
            let n = self.io.write(pending)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.pump.advance_out(n);
        }
    }
}

impl<S: Read + Write> Read for SecureStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = self.pump.read_plain(buf)? {
                return Ok(n);
            }
            // before blocking: output that reading queued (a TLS KeyUpdate answer) goes
            // out now, and a socket error is reported before any plaintext was taken
            self.flush_pending()?;
            // the read may block for long: what holds nothing is given back first
            self.pump.idle();
            let io = &mut self.io;
            if let Poll::Ready(Err(e)) = self.pump.fill(|room| Poll::Ready(io.read(room))) {
                return Err(e);
            }
        }
    }
}

impl<S: Read + Write> Write for SecureStream<S> {
    /// Sends what waits first, so an error means nothing of `data` was taken; once taken,
    /// `data` is reported written even if sending it fails (the error comes with the next
    /// write or flush), as `std::io::Write` requires.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        self.flush_pending()?;
        let n = self.pump.write_plain(data)?;
        let _ = self.flush_pending();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()?;
        self.io.flush()
    }
}

impl<S> core::fmt::Debug for SecureStream<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecureStream")
            .field("info", &self.pump.info)
            .finish_non_exhaustive()
    }
}
