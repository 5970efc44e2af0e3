//! The upgrade's errors: each layer's own error, tagged with the layer it came from.

use alloc::string::String;

use crate::error::{Fault, Layer};

/// Why an upgrade (or the secured channel after it) failed.
///
/// [`Error::code`] and [`Error::fault`] name the root cause, down through the layer
/// errors wrapped here ([`crate::error`]); [`Error::layer`] names the machine that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// multistream-select for the security protocol failed (no common protocol: the error
    /// lists what was proposed). Its code and fault are the wrapped error's.
    #[error("security protocol negotiation: {0}")]
    SecurityNegotiation(crate::multistream::Error),
    /// multistream-select for the muxer over the secured channel failed.
    /// Its code and fault are the wrapped error's.
    #[error("stream muxer negotiation: {0}")]
    MuxerNegotiation(crate::multistream::Error),
    /// The Noise handshake or transport failed. Its code and fault are the wrapped error's.
    #[cfg(feature = "noise")]
    #[error("noise: {0}")]
    Noise(crate::noise::Error),
    /// The TLS handshake or session failed. Its code and fault are the wrapped error's.
    #[cfg(feature = "tls")]
    #[error("tls: {0}")]
    Tls(crate::tls::Error),
    /// The SECIO handshake or session failed. Its code and fault are the wrapped error's.
    #[cfg(feature = "secio")]
    #[error("secio: {0}")]
    Secio(crate::secio::Error),
    /// The private-network layer beneath the upgrade failed (the peer holds another
    /// pre-shared key). Its code and fault are the wrapped error's.
    #[cfg(feature = "pnet")]
    #[error("private network: {0}")]
    Pnet(crate::pnet::Error),
    /// A security protocol name that is unknown or not compiled in. Code 7401.
    #[error("unsupported security protocol {0:?}")]
    UnsupportedSecurity(String),
    /// The peer closed the connection before the upgrade completed. Code 7201.
    #[error("the peer closed the connection during the upgrade")]
    UnexpectedEof,
    /// The peer refused the protocol a [`PeerMemory`](super::PeerMemory) remembered from an
    /// earlier connection (it no longer speaks it). The dialer proposed it alone and
    /// lazily, so the protocol's first bytes are already on the wire and this connection
    /// cannot recover: forget the entry ([`PeerMemory::observe`](super::PeerMemory::observe))
    /// and redial with the full lists. Code 7301.
    #[error("the peer refused the remembered protocol {protocol:?}; redial")]
    RememberedProtocolRefused {
        /// The protocol id remembered and refused (a security protocol or a muxer).
        protocol: String,
    },
    /// A call out of order or a bad configuration: a bug in the caller. Code 7402.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
}

impl Error {
    /// The group this error belongs to: the wrapped error's, if it wraps one.
    pub fn fault(&self) -> Fault {
        match self {
            Error::SecurityNegotiation(e) | Error::MuxerNegotiation(e) => e.fault(),
            #[cfg(feature = "noise")]
            Error::Noise(e) => e.fault(),
            #[cfg(feature = "tls")]
            Error::Tls(e) => e.fault(),
            #[cfg(feature = "secio")]
            Error::Secio(e) => e.fault(),
            #[cfg(feature = "pnet")]
            Error::Pnet(e) => e.fault(),
            Error::UnexpectedEof => Fault::PeerMisbehaved,
            Error::RememberedProtocolRefused { .. } => Fault::PeerIncompatible,
            Error::UnsupportedSecurity(_) | Error::ApiMisuse(_) => Fault::ApiMisuse,
        }
    }

    /// A stable number for this variant, `7GNN` ([`crate::error`]): never renumbered, so
    /// bindings can match on it. A variant that wraps a layer's error answers that error's
    /// code (which may be an identity code, `1GNN`, under a handshake): the root cause.
    pub fn code(&self) -> u16 {
        match self {
            Error::SecurityNegotiation(e) | Error::MuxerNegotiation(e) => e.code(),
            #[cfg(feature = "noise")]
            Error::Noise(e) => e.code(),
            #[cfg(feature = "tls")]
            Error::Tls(e) => e.code(),
            #[cfg(feature = "secio")]
            Error::Secio(e) => e.code(),
            #[cfg(feature = "pnet")]
            Error::Pnet(e) => e.code(),
            Error::UnexpectedEof => 7201,
            Error::RememberedProtocolRefused { .. } => 7301,
            Error::UnsupportedSecurity(_) => 7401,
            Error::ApiMisuse(_) => 7402,
        }
    }

    /// The machine that failed: multistream-select (security or muxer negotiation), a
    /// security handshake or session, or the upgrade itself. Unlike the layer of
    /// [`code`](Error::code), it is never [`Layer::Identity`]: a Noise handshake that
    /// refused the peer's identity key answers an identity code and [`Layer::Noise`].
    pub fn layer(&self) -> Layer {
        match self {
            Error::SecurityNegotiation(_) | Error::MuxerNegotiation(_) => Layer::Multistream,
            #[cfg(feature = "noise")]
            Error::Noise(_) => Layer::Noise,
            #[cfg(feature = "tls")]
            Error::Tls(_) => Layer::Tls,
            #[cfg(feature = "secio")]
            Error::Secio(_) => Layer::Secio,
            #[cfg(feature = "pnet")]
            Error::Pnet(_) => Layer::Pnet,
            Error::UnsupportedSecurity(_)
            | Error::UnexpectedEof
            | Error::RememberedProtocolRefused { .. }
            | Error::ApiMisuse(_) => Layer::Upgrade,
        }
    }

    /// Whether the peer refused what the dialer's peer memory remembered: forget the entry
    /// and redial with the full lists.
    pub fn is_stale_memory(&self) -> bool {
        matches!(self, Error::RememberedProtocolRefused { .. })
    }

    /// Whether the remote proved an identity other than the expected PeerId.
    pub fn is_unexpected_peer(&self) -> bool {
        match self {
            #[cfg(feature = "noise")]
            Error::Noise(crate::noise::Error::UnexpectedPeer { .. }) => true,
            #[cfg(feature = "tls")]
            Error::Tls(crate::tls::Error::UnexpectedPeer { .. }) => true,
            #[cfg(feature = "secio")]
            Error::Secio(crate::secio::Error::UnexpectedPeer { .. }) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
impl Error {
    /// One value of every variant that does not wrap another layer's error.
    pub(crate) fn own_variants() -> alloc::vec::Vec<Self> {
        alloc::vec![
            Error::UnsupportedSecurity(String::from("/plaintext/2.0.0")),
            Error::UnexpectedEof,
            Error::RememberedProtocolRefused {
                protocol: String::from("/noise"),
            },
            Error::ApiMisuse("x"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn error_codes() {
        let own: Vec<_> = Error::own_variants()
            .iter()
            .map(|e| (e.code(), e.fault()))
            .collect();
        crate::error::check_layer(Layer::Upgrade, include_str!("error.rs"), &own);
        assert!(Error::own_variants()
            .iter()
            .all(|e| e.layer() == Layer::Upgrade));

        // (wrapper, its layer, the wrapped error's code and fault)
        let mut wrapped: Vec<(Error, Layer, u16, Fault)> = Vec::new();
        for m in crate::multistream::Error::own_variants() {
            let (code, fault) = (m.code(), m.fault());
            wrapped.push((
                Error::SecurityNegotiation(m.clone()),
                Layer::Multistream,
                code,
                fault,
            ));
            wrapped.push((Error::MuxerNegotiation(m), Layer::Multistream, code, fault));
        }
        #[cfg(feature = "noise")]
        for n in crate::noise::Error::own_variants() {
            wrapped.push((Error::Noise(n.clone()), Layer::Noise, n.code(), n.fault()));
        }
        #[cfg(feature = "tls")]
        for t in crate::tls::Error::own_variants() {
            wrapped.push((Error::Tls(t.clone()), Layer::Tls, t.code(), t.fault()));
        }
        #[cfg(feature = "secio")]
        for s in crate::secio::Error::own_variants() {
            wrapped.push((Error::Secio(s.clone()), Layer::Secio, s.code(), s.fault()));
        }
        // an identity error two levels down
        #[cfg(feature = "noise")]
        {
            let root = crate::identity::Error::InvalidPoint {
                key_type: "Ed25519",
            };
            let e = crate::noise::Error::IdentityKey(root.clone());
            wrapped.push((Error::Noise(e), Layer::Noise, root.code(), root.fault()));
        }
        for (e, layer, code, fault) in wrapped {
            assert_eq!(
                (e.layer(), e.code(), e.fault()),
                (layer, code, fault),
                "{e}"
            );
        }
    }
}
