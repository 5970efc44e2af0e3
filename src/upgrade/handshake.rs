//! One type over the four handshake machines (Noise initiator and responder, TLS client
//! and server), so the dialer and listener drive whichever multistream-select agreed.

use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use super::channel::SecureChannel;
use super::{Config, Error, Event, SecurityProtocol};
use crate::identity::PeerId;

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

/// Calls the same method on whichever machine runs, mapping its error.
macro_rules! each {
    ($self:expr, $m:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "noise")]
            Handshake::NoiseInitiator($m) => $body.map_err(Error::Noise),
            #[cfg(feature = "noise")]
            Handshake::NoiseResponder($m) => $body.map_err(Error::Noise),
            #[cfg(feature = "tls")]
            Handshake::TlsClient($m) => $body.map_err(Error::Tls),
            #[cfg(feature = "tls")]
            Handshake::TlsServer($m) => $body.map_err(Error::Tls),
            #[cfg(feature = "secio")]
            Handshake::Secio($m) => $body.map_err(Error::Secio),
        }
    };
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
        now_unix: u64,
        ephemeral_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        let _ = (config, now_unix, &ephemeral_secret);
        match protocol {
            #[cfg(feature = "noise")]
            SecurityProtocol::Noise => {
                crate::noise::Responder::with_ephemeral_secret(&config.noise, ephemeral_secret)
                    .map(Handshake::NoiseResponder)
                    .map_err(Error::Noise)
            }
            #[cfg(feature = "tls")]
            SecurityProtocol::Tls => crate::tls::Server::new(&config.tls, now_unix)
                .map(Handshake::TlsServer)
                .map_err(Error::Tls),
            #[cfg(feature = "secio")]
            SecurityProtocol::Secio => {
                crate::secio::Handshake::with_seed(&config.secio, None, ephemeral_secret)
                    .map(Handshake::Secio)
                    .map_err(Error::Secio)
            }
        }
    }

    pub(super) fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        each!(self, m => m.handle_input(bytes))
    }

    pub(super) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        match self {
            #[cfg(feature = "noise")]
            Handshake::NoiseInitiator(m) => m.poll_transmit(out),
            #[cfg(feature = "noise")]
            Handshake::NoiseResponder(m) => m.poll_transmit(out),
            #[cfg(feature = "tls")]
            Handshake::TlsClient(m) => m.poll_transmit(out),
            #[cfg(feature = "tls")]
            Handshake::TlsServer(m) => m.poll_transmit(out),
            #[cfg(feature = "secio")]
            Handshake::Secio(m) => m.poll_transmit(out),
        }
    }

    /// The remote's identity, the one handshake event the upgrade passes on.
    pub(super) fn poll_identified(&mut self) -> Option<Event> {
        loop {
            let peer_id = match self {
                #[cfg(feature = "noise")]
                Handshake::NoiseInitiator(m) => match m.poll_event()? {
                    crate::noise::Event::RemoteIdentified { peer_id } => peer_id,
                    _ => continue,
                },
                #[cfg(feature = "noise")]
                Handshake::NoiseResponder(m) => match m.poll_event()? {
                    crate::noise::Event::RemoteIdentified { peer_id } => peer_id,
                    _ => continue,
                },
                #[cfg(feature = "tls")]
                Handshake::TlsClient(m) => match m.poll_event()? {
                    crate::tls::Event::RemoteIdentified { peer_id } => peer_id,
                    _ => continue,
                },
                #[cfg(feature = "tls")]
                Handshake::TlsServer(m) => match m.poll_event()? {
                    crate::tls::Event::RemoteIdentified { peer_id } => peer_id,
                    _ => continue,
                },
                #[cfg(feature = "secio")]
                Handshake::Secio(m) => match m.poll_event()? {
                    crate::secio::Event::RemoteIdentified { peer_id } => peer_id,
                    _ => continue,
                },
            };
            return Some(Event::RemoteIdentified { peer_id });
        }
    }

    pub(super) fn is_complete(&self) -> bool {
        match self {
            #[cfg(feature = "noise")]
            Handshake::NoiseInitiator(m) => m.is_complete(),
            #[cfg(feature = "noise")]
            Handshake::NoiseResponder(m) => m.is_complete(),
            #[cfg(feature = "tls")]
            Handshake::TlsClient(m) => m.is_complete(),
            #[cfg(feature = "tls")]
            Handshake::TlsServer(m) => m.is_complete(),
            #[cfg(feature = "secio")]
            Handshake::Secio(m) => m.is_complete(),
        }
    }

    /// The secured channel and the muxer agreed inside the handshake, if any. Output the
    /// handshake still holds must have been taken with `poll_transmit` first.
    pub(super) fn into_channel(self) -> Result<(SecureChannel, Option<String>), Error> {
        match self {
            #[cfg(feature = "noise")]
            Handshake::NoiseInitiator(m) => Ok(SecureChannel::noise(
                m.into_session().map_err(Error::Noise)?,
            )),
            #[cfg(feature = "noise")]
            Handshake::NoiseResponder(m) => Ok(SecureChannel::noise(
                m.into_session().map_err(Error::Noise)?,
            )),
            #[cfg(feature = "tls")]
            Handshake::TlsClient(m) => {
                Ok(SecureChannel::tls(m.into_session().map_err(Error::Tls)?))
            }
            #[cfg(feature = "tls")]
            Handshake::TlsServer(m) => {
                Ok(SecureChannel::tls(m.into_session().map_err(Error::Tls)?))
            }
            #[cfg(feature = "secio")]
            Handshake::Secio(m) => Ok(SecureChannel::secio(
                m.into_session().map_err(Error::Secio)?,
            )),
        }
    }
}
