//! The upgrade's errors: each layer's own error, tagged with the layer it came from.

use alloc::string::String;

/// Why an upgrade (or the secured channel after it) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// multistream-select for the security protocol failed (no common protocol: the error
    /// lists what was proposed).
    #[error("security protocol negotiation: {0}")]
    SecurityNegotiation(crate::multistream::Error),
    /// multistream-select for the muxer over the secured channel failed.
    #[error("stream muxer negotiation: {0}")]
    MuxerNegotiation(crate::multistream::Error),
    /// The Noise handshake or transport failed.
    #[cfg(feature = "noise")]
    #[error("noise: {0}")]
    Noise(crate::noise::Error),
    /// The TLS handshake or session failed.
    #[cfg(feature = "tls")]
    #[error("tls: {0}")]
    Tls(crate::tls::Error),
    /// The SECIO handshake or session failed.
    #[cfg(feature = "secio")]
    #[error("secio: {0}")]
    Secio(crate::secio::Error),
    /// A security protocol name that is unknown or not compiled in.
    #[error("unsupported security protocol {0:?}")]
    UnsupportedSecurity(String),
    /// The peer closed the connection before the upgrade completed.
    #[error("the peer closed the connection during the upgrade")]
    UnexpectedEof,
    /// A call out of order or a bad configuration: a bug in the caller.
    #[error("API misuse: {0}")]
    ApiMisuse(&'static str),
}

impl Error {
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
