//! The libp2p certificate verifier of one handshake, both roles, as rustls calls it:
//! [`certificate::verify_chain`] (through the config's cache of certificates verified
//! before, `verified_cache.rs`) and [`certificate::verify_tls13_signature`] with the time
//! the caller gave when the handshake was made, the expected PeerId for the client. A
//! certificate that fails verification reaches the caller as the typed error
//! `certificate.rs` produced (kept here for `Engine::map`, `engine.rs`), not as rustls's
//! summary of it, which decides only the alert rustls sends.
//!
//! Also here: the conversion between rustls's `SignatureScheme` and ours, so the scheme
//! a peer names reaches `certificate.rs` as [`SignatureScheme`].

use alloc::{string::ToString, sync::Arc, vec::Vec};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName};

use crate::identity::PeerId;
use crate::tls::certificate::{self, Verified};
use crate::tls::error::Error;
use crate::tls::signature::{SignatureAlgorithm, SignatureScheme};
use crate::tls::verified_cache::VerifiedCache;

/// A scheme as rustls names it, from ours (the same code point).
fn to_rustls(scheme: SignatureScheme) -> rustls::SignatureScheme {
    rustls::SignatureScheme::from(u16::from(scheme))
}

/// A scheme as p2psec names it, from rustls's (the same code point).
fn from_rustls(scheme: rustls::SignatureScheme) -> SignatureScheme {
    SignatureScheme::from(u16::from(scheme))
}

/// What the verifier learned in this handshake.
#[derive(Debug, Default)]
struct VerifierState {
    /// The certificate that passed [`certificate::verify_chain`] (DER) and what it proves.
    certificate: Option<(Vec<u8>, Verified)>,
    /// The peer also signed this handshake with that certificate's key.
    proven: bool,
    /// Why verification failed, as p2psec names it (rustls only carries a summary).
    error: Option<Error>,
}

/// The libp2p verifier of one handshake (either role): the spec's certificate rules at the
/// caller's time, the expected PeerId (client), and the `CertificateVerify` signature under
/// the verified certificate's key with its scheme pinned to the certificate's algorithm.
#[derive(Debug)]
pub(super) struct Libp2pVerifier {
    now_unix: u64,
    expected: Option<PeerId>,
    /// The config's certificates verified before (`verified_cache.rs`).
    cache: Arc<VerifiedCache>,
    state: Mutex<VerifierState>,
}

impl Libp2pVerifier {
    pub(super) fn new(now_unix: u64, expected: Option<PeerId>, cache: Arc<VerifiedCache>) -> Self {
        Self {
            now_unix,
            expected,
            cache,
            state: Mutex::new(VerifierState::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, VerifierState> {
        // the state stays consistent under a panic elsewhere: every write is one assignment
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, error: Error, summary: CertificateError) -> rustls::Error {
        self.state().error = Some(error);
        rustls::Error::InvalidCertificate(summary)
    }

    /// The chain check. rustls's `now` is ignored: it is the caller's time already
    /// (`CallerTime`, `provider.rs`), and the verifier must not depend on which clock
    /// rustls holds.
    fn verify_certificate(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        let result = if intermediates.is_empty() {
            self.cache
                .verify_chain(&[end_entity.as_ref()], self.now_unix, self.expected)
        } else {
            Err(Error::ChainLength {
                len: intermediates.len().saturating_add(1),
            })
        };
        match result {
            Ok(verified) => {
                self.state().certificate = Some((end_entity.as_ref().to_vec(), verified));
                Ok(())
            }
            Err(e) => {
                // the alert rustls sends for it (RFC 8446 §6.2)
                let summary = match &e {
                    Error::NotYetValid { .. } => CertificateError::NotValidYet,
                    Error::Expired { .. } => CertificateError::Expired,
                    Error::UnexpectedPeer { .. } => {
                        CertificateError::ApplicationVerificationFailure
                    }
                    Error::SelfSignature | Error::ExtensionSignature => {
                        CertificateError::BadSignature
                    }
                    Error::UnknownCriticalExtension { .. } => {
                        CertificateError::UnhandledCriticalExtension
                    }
                    _ => CertificateError::BadEncoding,
                };
                Err(self.fail(e, summary))
            }
        }
    }

    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let result = {
            let state = self.state();
            match &state.certificate {
                Some((der, verified)) if der.as_slice() == cert.as_ref() => {
                    certificate::verify_tls13_signature(
                        verified,
                        from_rustls(dss.scheme),
                        message,
                        dss.signature(),
                    )
                }
                // rustls only asks for a signature under the certificate it had verified
                _ => Err(Error::HandshakeSignature),
            }
        };
        match result {
            Ok(()) => {
                self.state().proven = true;
                Ok(HandshakeSignatureValid::assertion())
            }
            Err(e) => Err(self.fail(e, CertificateError::BadSignature)),
        }
    }

    /// The schemes we accept in a `CertificateVerify`, in preference order: those of the
    /// accepted certificate algorithms that TLS 1.3 allows.
    fn schemes() -> Vec<rustls::SignatureScheme> {
        use SignatureAlgorithm as A;
        [
            A::EcdsaP256Sha256,
            A::Ed25519,
            A::EcdsaP384Sha384,
            A::RsaPssSha256,
            A::RsaPssSha384,
            A::RsaPssSha512,
        ]
        .into_iter()
        .filter_map(A::tls13_scheme)
        .map(to_rustls)
        .collect()
    }

    /// The peer, once its certificate verified and it signed the handshake with its key.
    pub(super) fn proven_peer(&self) -> Option<Verified> {
        let state = self.state();
        match (&state.certificate, state.proven) {
            (Some((_, verified)), true) => Some(verified.clone()),
            _ => None,
        }
    }

    /// Why the certificate was refused, as p2psec names it, if the verifier refused it.
    pub(super) fn take_error(&self) -> Option<Error> {
        self.state().error.take()
    }

    fn tls12() -> rustls::Error {
        // unreachable: only TLS 1.3 is configured
        rustls::Error::General("TLS 1.2 is not supported".to_string())
    }
}

impl ServerCertVerifier for Libp2pVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_certificate(end_entity, intermediates)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(Self::tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        Self::schemes()
    }
}

impl ClientCertVerifier for Libp2pVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// The spec: the server MUST request a client certificate and abort if none comes.
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify_certificate(end_entity, intermediates)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(Self::tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        Self::schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_schemes_are_the_accepted_algorithms() {
        let schemes = Libp2pVerifier::schemes();
        assert_eq!(
            schemes.first(),
            Some(&rustls::SignatureScheme::ECDSA_NISTP256_SHA256)
        );
        assert_eq!(schemes.len(), 6);
        assert!(!schemes.contains(&rustls::SignatureScheme::RSA_PKCS1_SHA256));
    }

    #[test]
    fn schemes_convert_both_ways_by_code_point() {
        for code in [
            0x0401, 0x0403, 0x0503, 0x0804, 0x0807, 0x0808, 0x0202, 0xfefe,
        ] {
            let ours = SignatureScheme::from(code);
            assert_eq!(u16::from(to_rustls(ours)), code);
            assert_eq!(from_rustls(to_rustls(ours)), ours);
        }
        assert_eq!(
            from_rustls(rustls::SignatureScheme::ECDSA_NISTP256_SHA256),
            SignatureScheme::EcdsaNistp256Sha256
        );
    }
}
