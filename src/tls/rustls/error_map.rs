//! rustls's errors and alert names as the TLS layer's [`Error`] carries them. A
//! certificate our verifier refused keeps the verifier's own error instead
//! (`Engine::map`, `engine.rs`): rustls only carries a summary of it.

use alloc::{format, string::String, string::ToString};

use crate::tls::error::Error;

/// A rustls error as p2psec names it.
pub(super) fn map_error(e: rustls::Error) -> Error {
    use rustls::Error as E;
    match e {
        E::DecryptError => Error::RecordAuthentication,
        E::AlertReceived(alert) => Error::AlertReceived {
            description: format!("{alert:?}"),
        },
        E::InvalidMessage(m) => Error::InvalidMessage {
            reason: format!("{m:?}"),
        },
        E::PeerSentOversizedRecord => Error::InvalidMessage {
            reason: "record too large".to_string(),
        },
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            Error::PeerMisbehaved {
                reason: e.to_string(),
            }
        }
        E::PeerMisbehaved(p) => Error::PeerMisbehaved {
            reason: format!("{p:?}"),
        },
        E::PeerIncompatible(p) => Error::PeerIncompatible {
            reason: format!("{p:?}"),
        },
        E::NoApplicationProtocol => Error::NoApplicationProtocol,
        // the spec: exactly one certificate; the peer sent none
        E::NoCertificatesPresented => Error::ChainLength { len: 0 },
        other => Error::Tls {
            reason: other.to_string(),
        },
    }
}

/// The name of a TLS alert description, as [`Error::AlertReceived`] carries it (the
/// session reads alerts itself, and names them as rustls does during the handshake).
pub(in crate::tls) fn alert_name(description: u8) -> String {
    format!("{:?}", rustls::AlertDescription::from(description))
}
