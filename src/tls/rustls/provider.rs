//! The rustls side of our configuration: the crypto provider every handshake uses, our
//! [`Certificate`] as rustls signs with it ([`LocalCert`]), the caller's time as rustls's
//! clock, and the `ClientConfig`/`ServerConfig` of one handshake.
//!
//! The provider is the crypto backend's (`backend.rs`: aws-lc-rs, or ring), TLS 1.3 only,
//! with the cipher suites TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384,
//! TLS13_CHACHA20_POLY1305_SHA256 in that order (the client offers them so, the server
//! follows the client's order, rustls's default). rust-libp2p offers the same three.
//!
//! A config is built per handshake, because it carries this handshake's verifier (the
//! caller's time, the expected PeerId, the slot where the verified peer lands:
//! `verifier.rs`) and, for the server, an ALPN list ordered by the client's ClientHello
//! (`engine.rs`). Settings (spec tls/tls.md and the spec notes): resumption disabled on
//! both sides (`Resumption::disabled()`, no tickets sent, no server session storage: a
//! resumed handshake would skip the certificate and so the peer's identity); no early
//! data; no SNI (`engine.rs` names the server by an address); the server requires a
//! client certificate (`verifier.rs`); the application traffic secrets go to our key log
//! and may be extracted (`secrets.rs`).
//!
//! rustls hands the verifiers a `now: UnixTime` from the config's time provider; p2psec
//! installs one that returns the caller's time ([`CallerTime`]), and the verifiers ignore
//! `now` anyway, so no system clock is read anywhere (STYLE.md: time comes from the
//! caller).

use alloc::{boxed::Box, string::ToString, sync::Arc, vec, vec::Vec};
use core::time::Duration;
use std::sync::OnceLock;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::NoServerSessionStorage;
use rustls::sign::{CertifiedKey, Signer, SigningKey, SingleCertAndKey};
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, KeyLog, ServerConfig, SignatureScheme};

use super::error_map::map_error;
use crate::tls::backend::rand::SystemRandom;
use crate::tls::backend::rustls_provider;
use crate::tls::backend::signature::EcdsaKeyPair;
use crate::tls::certificate::Certificate;
use crate::tls::error::Error;

/// The crypto provider of every p2psec TLS connection: the backend's (`backend.rs`:
/// aws-lc-rs by default, ring with `tls-ring` alone), with exactly the three
/// TLS 1.3 cipher suites, AES-GCM first (the server follows the client's order). Built
/// once per process and shared: it holds no state, only the algorithm tables.
fn provider() -> Arc<CryptoProvider> {
    use rustls_provider::cipher_suite::{
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
    };
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let mut provider = rustls_provider::default_provider();
            provider.cipher_suites = vec![
                TLS13_AES_128_GCM_SHA256,
                TLS13_AES_256_GCM_SHA384,
                TLS13_CHACHA20_POLY1305_SHA256,
            ];
            Arc::new(provider)
        })
        .clone()
}

/// Our certificate as rustls uses it: the DER chain of one and its loaded signing key,
/// plus the provider. Made once per certificate (per `Config`), shared by every handshake.
#[derive(Clone)]
pub(in crate::tls) struct LocalCert {
    provider: Arc<CryptoProvider>,
    key: Arc<CertifiedKey>,
}

impl LocalCert {
    pub(in crate::tls) fn new(cert: &Certificate) -> Result<Self, Error> {
        // `CertifiedKey::from_der` would also compare the key with the certificate through
        // webpki, which refuses the critical libp2p extension; and loading the PKCS#8 key
        // through the provider would parse and check it again in the backend (measured on
        // aws-lc-rs: about 17 µs, a third of what the certificate costs now). The
        // certificate holds the key already loaded: sign with it directly.
        let signing_key = Arc::new(CertificateKey(cert.key_pair().clone()));
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        Ok(Self {
            provider: provider(),
            key: Arc::new(CertifiedKey::new(chain, signing_key)),
        })
    }
}

impl core::fmt::Debug for LocalCert {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalCert").finish_non_exhaustive()
    }
}

/// Our certificate key as rustls signs with it: ECDSA P-256 with SHA-256, the one scheme
/// our certificates allow (libp2p peers pin the `CertificateVerify` scheme to the
/// certificate's algorithm). The same as rustls's own ECDSA key, without the PKCS#8 round
/// trip. The signature is randomized on both backends: aws-lc-rs draws the nonce from
/// aws-lc's generator (ignoring the `SystemRandom` passed), ring from that `SystemRandom`
/// (the OS). Replay is unaffected: rustls's own randoms already come from the provider, so
/// transcripts never replayed byte for byte.
struct CertificateKey(Arc<EcdsaKeyPair>);

impl core::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CertificateKey(ECDSA P-256)")
    }
}

impl SigningKey for CertificateKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::ECDSA_NISTP256_SHA256)
            .then(|| Box::new(CertificateSigner(self.0.clone())) as Box<dyn Signer>)
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        rustls::SignatureAlgorithm::ECDSA
    }
}

struct CertificateSigner(Arc<EcdsaKeyPair>);

impl core::fmt::Debug for CertificateSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CertificateSigner(ECDSA P-256 SHA-256)")
    }
}

impl Signer for CertificateSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        self.0
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| rustls::Error::General("ECDSA signing failed".to_string()))
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP256_SHA256
    }
}

/// rustls's clock, stopped at the caller's time. rustls reads it for the verifier's `now`
/// (ignored, see `verifier.rs`) and for ticket ages (no tickets here).
#[derive(Debug)]
struct CallerTime(UnixTime);

impl TimeProvider for CallerTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

fn caller_time(now_unix: u64) -> Arc<CallerTime> {
    Arc::new(CallerTime(UnixTime::since_unix_epoch(Duration::from_secs(
        now_unix,
    ))))
}

/// The client's config for one handshake at `now_unix`: offers `alpn` (in preference
/// order), presents `local`, checks the server with `verifier`, logs the traffic secrets
/// to `key_log`.
pub(super) fn client_config(
    local: &LocalCert,
    verifier: Arc<dyn ServerCertVerifier>,
    key_log: Arc<dyn KeyLog>,
    alpn: Vec<Vec<u8>>,
    now_unix: u64,
) -> Result<ClientConfig, Error> {
    let mut config =
        ClientConfig::builder_with_details(local.provider.clone(), caller_time(now_unix))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(map_error)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(local.key.clone())));
    config.alpn_protocols = alpn;
    config.resumption = Resumption::disabled();
    config.enable_sni = false;
    config.enable_early_data = false;
    config.key_log = key_log;
    config.enable_secret_extraction = true;
    Ok(config)
}

/// The server's config for one handshake at `now_unix`: accepts `alpn` (rustls takes the
/// first entry the client offered), presents `local`, requires and checks the client's
/// certificate with `verifier`, logs the traffic secrets to `key_log`.
pub(super) fn server_config(
    local: &LocalCert,
    verifier: Arc<dyn ClientCertVerifier>,
    key_log: Arc<dyn KeyLog>,
    alpn: Vec<Vec<u8>>,
    now_unix: u64,
) -> Result<ServerConfig, Error> {
    let mut config =
        ServerConfig::builder_with_details(local.provider.clone(), caller_time(now_unix))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(map_error)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(local.key.clone())));
    config.alpn_protocols = alpn;
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.max_early_data_size = 0;
    config.key_log = key_log;
    config.enable_secret_extraction = true;
    Ok(config)
}
