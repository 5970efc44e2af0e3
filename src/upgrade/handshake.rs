//! One type over the five handshake machines (Noise initiator and responder, TLS client
//! and server, SECIO), so the dialer and listener drive whichever multistream-select
//! agreed. The enum only owns the machine; its verbs go through [`crate::Machine`],
//! behind the small [`Security`] trait that tags each layer's error as an upgrade error
//! and passes on the one event the upgrade reports (the remote's identity).

use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use super::channel::SecureChannel;
use super::{Config, Error, Event, SecurityProtocol};
use crate::identity::PeerId;
use crate::Machine;

/// A running security handshake.
pub(super) enum Handshake {
    #[cfg(feature = "noise")]
    NoiseInitiator(crate::noise::Initiator),
    #[cfg(feature = "noise")]
    NoiseResponder(crate::noise::Responder),
    #[cfg(feature = "tls")]
    TlsClient(crate::tls::Client),
    #[cfg(feature = "tls")]
    TlsServer(crate::tls::Server),
    /// SECIO is symmetric: one machine for both sides.
    #[cfg(feature = "secio")]
    Secio(crate::secio::Handshake),
}

/// A handshake machine as the upgrade drives it.
trait Security {
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
    /// The PeerId of the next `RemoteIdentified` event; other events are dropped.
    fn poll_identified(&mut self) -> Option<PeerId>;
    fn is_complete(&self) -> bool;
}

/// A layer's error, which the upgrade reports tagged with its layer.
trait LayerError {
    fn tag(self) -> Error;
}

/// A handshake event that may name the proven remote.
trait Identifies {
    fn peer_id(self) -> Option<PeerId>;
}

impl<M> Security for M
where
    M: Machine,
    M::Error: LayerError,
    M::Event: Identifies,
{
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Machine::handle_input(self, bytes).map_err(LayerError::tag)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Machine::poll_transmit(self, out)
    }

    fn poll_identified(&mut self) -> Option<PeerId> {
        loop {
            if let Some(peer_id) = Machine::poll_event(self)?.peer_id() {
                return Some(peer_id);
            }
        }
    }

    fn is_complete(&self) -> bool {
        Machine::is_complete(self)
    }
}

#[cfg(feature = "noise")]
impl LayerError for crate::noise::Error {
    fn tag(self) -> Error {
        Error::Noise(self)
    }
}

#[cfg(feature = "noise")]
impl Identifies for crate::noise::Event {
    fn peer_id(self) -> Option<PeerId> {
        match self {
            crate::noise::Event::RemoteIdentified { peer_id } => Some(peer_id),
            _ => None,
        }
    }
}

#[cfg(feature = "tls")]
impl LayerError for crate::tls::Error {
    fn tag(self) -> Error {
        Error::Tls(self)
    }
}

#[cfg(feature = "tls")]
impl Identifies for crate::tls::Event {
    fn peer_id(self) -> Option<PeerId> {
        match self {
            crate::tls::Event::RemoteIdentified { peer_id } => Some(peer_id),
            _ => None,
        }
    }
}

#[cfg(feature = "secio")]
impl LayerError for crate::secio::Error {
    fn tag(self) -> Error {
        Error::Secio(self)
    }
}

#[cfg(feature = "secio")]
impl Identifies for crate::secio::Event {
    fn peer_id(self) -> Option<PeerId> {
        match self {
            crate::secio::Event::RemoteIdentified { peer_id } => Some(peer_id),
            _ => None,
        }
    }
}

impl Handshake {
    /// The dialer's side of `protocol`.
    pub(super) fn dialer(
        protocol: SecurityProtocol,
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        ephemeral_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        let _ = (config, expected_peer, now_unix, &ephemeral_secret);
        match protocol {
            #[cfg(feature = "noise")]
            SecurityProtocol::Noise => crate::noise::Initiator::with_ephemeral_secret(
                &config.noise,
                expected_peer,
                ephemeral_secret,
            )
            .map(Handshake::NoiseInitiator)
            .map_err(Error::Noise),
            #[cfg(feature = "tls")]
            SecurityProtocol::Tls => crate::tls::Client::new(&config.tls, expected_peer, now_unix)
                .map(Handshake::TlsClient)
                .map_err(Error::Tls),
            // the 32 random bytes seed the nonce and the ephemeral key
            #[cfg(feature = "secio")]
            SecurityProtocol::Secio => {
                crate::secio::Handshake::with_seed(&config.secio, expected_peer, ephemeral_secret)
                    .map(Handshake::Secio)
                    .map_err(Error::Secio)
            }
        }
    }

    /// The listener's side of `protocol`.
    pub(super) fn listener(
        protocol: SecurityProtocol,
        config: &Config,
        expected_peer: Option<PeerId>,
        now_unix: u64,
        ephemeral_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        let _ = (config, expected_peer, now_unix, &ephemeral_secret);
        match protocol {
            #[cfg(feature = "noise")]
            SecurityProtocol::Noise => crate::noise::Responder::with_expected_peer(
                &config.noise,
                expected_peer,
                ephemeral_secret,
            )
            .map(Handshake::NoiseResponder)
            .map_err(Error::Noise),
            #[cfg(feature = "tls")]
            SecurityProtocol::Tls => {
                crate::tls::Server::with_expected_peer(&config.tls, expected_peer, now_unix)
                    .map(Handshake::TlsServer)
                    .map_err(Error::Tls)
            }
            #[cfg(feature = "secio")]
            SecurityProtocol::Secio => {
                crate::secio::Handshake::with_seed(&config.secio, expected_peer, ephemeral_secret)
                    .map(Handshake::Secio)
                    .map_err(Error::Secio)
            }
        }
    }

    /// The running machine.
    fn machine(&mut self) -> &mut dyn Security {
        match self {
            #[cfg(feature = "noise")]
            Handshake::NoiseInitiator(m) => m,
            #[cfg(feature = "noise")]
            Handshake::NoiseResponder(m) => m,
            #[cfg(feature = "tls")]
            Handshake::TlsClient(m) => m,
            #[cfg(feature = "tls")]
            Handshake::TlsServer(m) => m,
            #[cfg(feature = "secio")]
            Handshake::Secio(m) => m,
        }
    }

    pub(super) fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.machine().handle_input(bytes)
    }

    pub(super) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.machine().poll_transmit(out)
    }

    /// The remote's identity, the one handshake event the upgrade passes on.
    pub(super) fn poll_identified(&mut self) -> Option<Event> {
        let peer_id = self.machine().poll_identified()?;
        Some(Event::RemoteIdentified { peer_id })
    }

    pub(super) fn is_complete(&mut self) -> bool {
        self.machine().is_complete()
    }

    /// The secured channel and the muxer agreed inside the handshake, if any. Output the
    /// handshake still holds must have been taken with `poll_transmit` first; if it was
    /// not (or the handshake is not complete) the handshake comes back with the error.
    // the machine comes back by value; the `Ok` session is about as large, and this runs
    // once per upgrade, so a box would save nothing
    #[allow(clippy::result_large_err)]
    pub(super) fn into_channel(self) -> Result<(SecureChannel, Option<String>), (Self, Error)> {
        match self {
            #[cfg(feature = "noise")]
            Handshake::NoiseInitiator(m) => m
                .into_session()
                .map(SecureChannel::noise)
                .map_err(|i| (Handshake::NoiseInitiator(i.machine), Error::Noise(i.error))),
            #[cfg(feature = "noise")]
            Handshake::NoiseResponder(m) => m
                .into_session()
                .map(SecureChannel::noise)
                .map_err(|i| (Handshake::NoiseResponder(i.machine), Error::Noise(i.error))),
            #[cfg(feature = "tls")]
            Handshake::TlsClient(m) => m
                .into_session()
                .map(SecureChannel::tls)
                .map_err(|i| (Handshake::TlsClient(i.machine), Error::Tls(i.error))),
            #[cfg(feature = "tls")]
            Handshake::TlsServer(m) => m
                .into_session()
                .map(SecureChannel::tls)
                .map_err(|i| (Handshake::TlsServer(i.machine), Error::Tls(i.error))),
            #[cfg(feature = "secio")]
            Handshake::Secio(m) => m
                .into_session()
                .map(SecureChannel::secio)
                .map_err(|i| (Handshake::Secio(i.machine), Error::Secio(i.error))),
        }
    }
}
