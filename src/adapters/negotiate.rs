//! multistream-select on an async stream (a muxer's stream, or a raw connection): the loop
//! over the [`multistream::Dialer`] or [`multistream::Listener`] verbs that both async
//! adapters share, written once over [`AsyncIo`]. The public entry points are
//! `negotiate_dialer` and `negotiate_listener` in [`tokio`](super::tokio) and
//! [`futures`](super::futures).
//!
//! Every decision (what to propose, what to accept, what is malformed) is the machine's;
//! this loop only writes what the machine emits and feeds it what the stream reads. It
//! sets no deadline: a stream lives inside a connection whose owner bounds it (wrap the
//! call in the runtime's timeout for a stricter limit).
//!
//! Errors: the negotiation table in the [adapters' docs](super).

use alloc::string::String;
use alloc::vec::Vec;
use std::io;

use super::driver::{Driver, Failure};
use super::poll::{drive, AsyncIo};
use crate::multistream::{self, Event, Fault, Version};

/// Bytes read from the stream at a time while negotiating: one message of the longest
/// length multistream accepts, so a negotiation reads little past its own end.
const READ_CHUNK: usize = multistream::MAX_MESSAGE_LEN + multistream::MAX_LENGTH_PREFIX_LEN;

/// What a negotiation on a stream agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The agreed protocol id.
    pub protocol: String,
    /// Bytes read from the stream after the negotiation's last message: the first bytes
    /// of the agreed protocol, which the caller must process before reading the stream
    /// again. Often empty; a dialer that sends data right after its proposal puts it here
    /// on the listener's side.
    pub remaining: Vec<u8>,
}

/// Turns a multistream error into an `io::Error` by the table in the module docs.
pub(super) fn io_error(e: multistream::Error) -> io::Error {
    let kind = match e.fault() {
        Fault::PeerIncompatible => io::ErrorKind::Unsupported,
        Fault::ApiMisuse => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e)
}

/// Proposes `protocols` in order as the dialer ([`Version::V1`]: every answer is awaited
/// before anything else is sent, which is what js and go listeners expect on a stream).
pub(super) async fn dialer<I, P, S>(io: &mut I, protocols: P) -> io::Result<Negotiated>
where
    I: AsyncIo,
    P: IntoIterator<Item = S>,
    S: Into<String>,
{
    let machine = multistream::Dialer::new(protocols, Version::V1).map_err(io_error)?;
    run(io, machine).await
}

/// Answers the dialer's proposals, accepting the first of `protocols` it proposes.
pub(super) async fn listener<I, P, S>(io: &mut I, protocols: P) -> io::Result<Negotiated>
where
    I: AsyncIo,
    P: IntoIterator<Item = S>,
    S: Into<String>,
{
    let machine = multistream::Listener::new(protocols).map_err(io_error)?;
    run(io, machine).await
}

/// Runs either machine until it agreed; what it did not consume is returned.
async fn run<I, M>(io: &mut I, machine: M) -> io::Result<Negotiated>
where
    I: AsyncIo,
    M: crate::Machine<Event = Event, Error = multistream::Error> + Agreed,
{
    let mut driver = Driver::new(machine, READ_CHUNK);
    drive(io, &mut driver, |failure| match failure {
        Failure::Eof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the stream while negotiating",
        ),
        Failure::Machine(e) => io_error(e),
        // no layer beneath a stream's negotiation
        Failure::Layer(e) => super::io_error(e),
    })
    .await?;
    let (machine, remaining, _, _) = driver.finish();
    Ok(Negotiated {
        protocol: machine.agreed(),
        remaining,
    })
}

/// The protocol a completed negotiation agreed.
trait Agreed {
    fn agreed(&self) -> String;
}

impl Agreed for multistream::Dialer {
    fn agreed(&self) -> String {
        self.negotiated().map(String::from).unwrap_or_default()
    }
}

impl Agreed for multistream::Listener {
    fn agreed(&self) -> String {
        self.negotiated().map(String::from).unwrap_or_default()
    }
}
