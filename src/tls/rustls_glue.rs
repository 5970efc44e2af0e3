//! Every rustls call of p2psec lives in this file (STYLE.md: rustls 0.23's API is being
//! replaced on rustls's main branch, so a later move stays local).
//!
//! What is here:
//! - [`LocalCert`]: our [`Certificate`] as a rustls `CertifiedKey` (its backend key
//!   pair behind rustls's `SigningKey` trait, no PKCS#8 round trip), with the crypto
//!   provider every handshake uses (built once per process): the backend's (`backend.rs`:
//!   aws-lc-rs, or ring), TLS 1.3 only,
//!   cipher suites TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384,
//!   TLS13_CHACHA20_POLY1305_SHA256 in that order (the client offers them so, the server
//!   follows the client's order, rustls's default). rust-libp2p offers the same three.
//! - [`Engine`]: one rustls connection driven in memory, fed whole TLS records by the
//!   handshake machines in `handshake.rs`, then handing its traffic keys to `session.rs`.
//!   Its `ClientConfig`/`ServerConfig` is built per handshake, because it carries this
//!   handshake's verifier (the caller's time, the expected PeerId, the slot where the
//!   verified peer lands) and, for the server, an ALPN list ordered by the client's
//!   ClientHello.
//! - The libp2p certificate verifier, both roles: [`certificate::verify_chain`] (through
//!   the config's cache of certificates verified before, `verified_cache.rs`) and
//!   [`certificate::verify_tls13_signature`] with the time the caller gave when the
//!   handshake was made. rustls hands the verifier a `now: UnixTime` from the config's
//!   time provider; p2psec installs a provider that returns the caller's time too and then
//!   ignores `now` anyway, so no system clock is read anywhere (STYLE.md: time comes from
//!   the caller).
//! - The rustls-to-[`Error`] mapping. A certificate that fails verification reaches the
//!   caller as the typed error [`certificate`] produced, not as rustls's summary of it.
//!
//! Settings (spec tls/tls.md and the spec notes): no SNI (the client names the server by
//! the unspecified address 0.0.0.0, for which rustls sends no server_name, as rust-libp2p
//! does); resumption disabled on both sides (`Resumption::disabled()`, no tickets sent, no
//! server session storage: a resumed handshake would skip the certificate and so the
//! peer's identity); no early data; the server requires a client certificate.
//!
//! ALPN: the client offers its muxers in preference order, then `libp2p`. The spec says
//! the server SHOULD pick the first entry of the *client's* list it supports, but a rustls
//! server picks by its own list's order. So the server reads the ClientHello through
//! rustls's `Acceptor` first and only then builds its `ServerConfig`, with its ALPN list
//! reordered to the client's order (go-libp2p overrides its TLS stack's choice the same
//! way). If no entry overlaps, the server keeps its full list so that rustls aborts with
//! `no_application_protocol` (the spec's MUST); a client that offers no ALPN at all is
//! accepted with none (go-libp2p and rust-libp2p do the same).
//!
//! API choice: the buffered `ClientConnection`/`ServerConnection` (`read_tls`,
//! `process_new_packets`, `write_tls`) for the handshake only. It offers the `Acceptor`
//! (the client's ALPN order, above) and is what rust-libp2p has exercised for years.
//! Once the handshake is complete, [`Engine::into_traffic`] drains rustls's output and
//! takes the application traffic keys out of it (`dangerous_extract_secrets`, with
//! `enable_secret_extraction` set) together with the application traffic secrets (from
//! a key log kept in memory, [`SecretLog`]: extracted keys alone cannot follow a
//! KeyUpdate); `session.rs` then runs the TLS 1.3 record layer itself with the crypto
//! backend.
//! Measured before this choice (quick bench, AES-128-GCM, 64 KiB writes): rustls's
//! buffered record layer copies each byte four times (into and out of its queues on
//! both sides) and reached about half the bare AEAD's throughput; `rustls::unbuffered`
//! saves the send-side copy only (its `ReadTraffic` hands out plaintext from an internal
//! queue, and it needs a mutable copy of the caller's `&[u8]` input anyway).
//!
//! Not here: the call contracts and events (`handshake.rs`, `session.rs`), certificate
//! rules (`certificate.rs`). Randomness inside TLS (the ClientHello and ServerHello
//! randoms, the legacy session id, the ECDHE ephemeral keys) comes from the crypto
//! backend's own OS-seeded generator: rustls's key-exchange groups draw their keys
//! internally, so the caller's RNG reaches only the certificate key (made in
//! `certificate.rs`), and TLS transcripts do not replay byte for byte. Tests compare
//! outcomes, not bytes.

use alloc::{boxed::Box, format, string::ToString, sync::Arc, vec, vec::Vec};
use core::time::Duration;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{Accepted, Acceptor, NoServerSessionStorage};
use rustls::sign::{CertifiedKey, Signer, SigningKey, SingleCertAndKey};
use rustls::time_provider::TimeProvider;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, Connection, DigitallySignedStruct,
    DistinguishedName, KeyLog, ServerConfig, SignatureScheme,
};

use super::backend::rand::SystemRandom;
use super::backend::rustls_provider;
use super::backend::signature::EcdsaKeyPair;
use super::certificate::{self, Certificate, SignatureAlgorithm, Verified};
use super::verified_cache::VerifiedCache;
use super::Error;
use crate::identity::PeerId;
use zeroize::Zeroizing;

/// The TLS record header: content type (1), legacy version (2), length (2) (RFC 8446
/// §5.1).
pub const RECORD_HEADER_LEN: usize = 5;

/// The largest record body accepted: `TLSCiphertext.length` MUST NOT exceed 2^14 + 256
/// (RFC 8446 §5.2); plaintext records are smaller still (2^14). A longer length field is
/// refused as soon as its header arrives, before its body is waited for.
pub const MAX_RECORD_BODY_LEN: usize = (1 << 14) + 256;

/// What the start of a byte stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// Not yet a whole record.
    Incomplete,
    /// A whole record of this many bytes, header included.
    Whole(usize),
    /// A header whose length field exceeds [`MAX_RECORD_BODY_LEN`].
    TooLarge {
        /// The length field.
        len: usize,
    },
}

/// Frames the next record at the start of `bytes` by its header alone; the content is
/// rustls's to judge.
pub(crate) fn next_record(bytes: &[u8]) -> Record {
    let Some([_, _, _, hi, lo]) = bytes.get(..RECORD_HEADER_LEN) else {
        return Record::Incomplete;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if len > MAX_RECORD_BODY_LEN {
        return Record::TooLarge { len };
    }
    if bytes.len() < RECORD_HEADER_LEN + len {
        Record::Incomplete
    } else {
        Record::Whole(RECORD_HEADER_LEN + len)
    }
}

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
pub(crate) struct LocalCert {
    provider: Arc<CryptoProvider>,
    key: Arc<CertifiedKey>,
}

impl LocalCert {
    pub(crate) fn new(cert: &Certificate) -> Result<Self, Error> {
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

impl core::fmt::Debug for LocalCert {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalCert").finish_non_exhaustive()
    }
}

/// rustls's clock, stopped at the caller's time. rustls reads it for the verifier's `now`
/// (ignored, see [`Libp2pVerifier`]) and for ticket ages (no tickets here).
#[derive(Debug)]
struct CallerTime(UnixTime);

impl TimeProvider for CallerTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

fn unix_time(now_unix: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(now_unix))
}

// ---- the verifier ----

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
struct Libp2pVerifier {
    now_unix: u64,
    expected: Option<PeerId>,
    /// The config's certificates verified before (`verified_cache.rs`).
    cache: Arc<VerifiedCache>,
    state: Mutex<VerifierState>,
}

impl Libp2pVerifier {
    fn new(now_unix: u64, expected: Option<PeerId>, cache: Arc<VerifiedCache>) -> Self {
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
    /// ([`CallerTime`]), and the verifier must not depend on which clock rustls holds.
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
                        dss.scheme,
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

    fn schemes() -> Vec<SignatureScheme> {
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
        .collect()
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

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
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

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        Self::schemes()
    }
}

// ---- the traffic secrets ----

/// The two application traffic secrets of one handshake (RFC 8446 §7.1), as rustls hands
/// them to its key log. The session's record layer derives its keys from them, and the
/// next secrets on a key update (rustls's extracted key and IV alone cannot be updated).
#[derive(Default)]
struct SecretLog {
    /// `client_application_traffic_secret_0`, `server_application_traffic_secret_0`.
    secrets: Mutex<(Secret, Secret)>,
}

/// A traffic secret (or key), wiped when dropped.
pub(crate) type Secret = Zeroizing<Vec<u8>>;

impl SecretLog {
    fn take(&self) -> (Secret, Secret) {
        core::mem::take(&mut *self.secrets.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl core::fmt::Debug for SecretLog {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecretLog").finish_non_exhaustive()
    }
}

impl KeyLog for SecretLog {
    fn will_log(&self, label: &str) -> bool {
        matches!(label, CLIENT_TRAFFIC_SECRET | SERVER_TRAFFIC_SECRET)
    }

    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        let mut secrets = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match label {
            CLIENT_TRAFFIC_SECRET => &mut secrets.0,
            SERVER_TRAFFIC_SECRET => &mut secrets.1,
            _ => return,
        };
        *slot = Zeroizing::new(secret.to_vec());
    }
}

/// rustls's key log label of `client_application_traffic_secret_0` (NSS key log format).
const CLIENT_TRAFFIC_SECRET: &str = "CLIENT_TRAFFIC_SECRET_0";
/// rustls's key log label of `server_application_traffic_secret_0`.
const SERVER_TRAFFIC_SECRET: &str = "SERVER_TRAFFIC_SECRET_0";

/// The AEAD of the negotiated TLS 1.3 cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aead {
    /// TLS13_AES_128_GCM_SHA256.
    Aes128Gcm,
    /// TLS13_AES_256_GCM_SHA384.
    Aes256Gcm,
    /// TLS13_CHACHA20_POLY1305_SHA256.
    Chacha20Poly1305,
}

/// One direction's application traffic state when the handshake ended.
pub(crate) struct Direction {
    /// The current application traffic secret.
    pub(crate) secret: Secret,
    /// rustls's write (or read) key for it: the record layer checks its own derivation.
    pub(crate) key: Secret,
    /// rustls's IV for it.
    pub(crate) iv: Zeroizing<[u8; 12]>,
    /// The next record's sequence number.
    pub(crate) seq: u64,
}

/// What the session's record layer takes over from rustls.
pub(crate) struct Traffic {
    pub(crate) is_client: bool,
    pub(crate) aead: Aead,
    pub(crate) tx: Direction,
    pub(crate) rx: Direction,
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) cipher_suite: Option<&'static str>,
}

/// The name of a TLS alert description, as [`Error::AlertReceived`] carries it.
pub(crate) fn alert_name(description: u8) -> alloc::string::String {
    format!("{:?}", rustls::AlertDescription::from(description))
}

// ---- the engine ----

/// The server before the ClientHello: what it needs to build its config then.
struct Pending {
    acceptor: Box<Acceptor>,
    local: LocalCert,
    now_unix: u64,
    /// Our muxers, then `libp2p`.
    supported_alpn: Vec<Vec<u8>>,
}

enum Conn {
    /// Server: reading the ClientHello.
    Accepting(Pending),
    Established(Box<Connection>),
    /// The `Acceptor` failed; its alert (if any) waits in `Engine::out`.
    Failed,
}

/// One rustls connection in memory, for the handshake. The machines feed it whole records
/// ([`next_record`]) and drain its output; it never sees a partial record or an empty
/// read (rustls takes an empty read for the end of the stream). The session takes its
/// keys over with [`Engine::into_traffic`].
pub(crate) struct Engine {
    conn: Conn,
    verifier: Arc<Libp2pVerifier>,
    /// The application traffic secrets, as rustls derives them.
    secrets: Arc<SecretLog>,
    /// Bytes to send that rustls no longer holds (the `Acceptor`'s alert).
    out: Vec<u8>,
}

impl Engine {
    /// A client: queues the ClientHello offering `alpn` (non-empty, in preference order).
    pub(crate) fn client(
        local: &LocalCert,
        cache: Arc<VerifiedCache>,
        alpn: Vec<Vec<u8>>,
        expected: Option<PeerId>,
        now_unix: u64,
    ) -> Result<Self, Error> {
        let verifier = Arc::new(Libp2pVerifier::new(now_unix, expected, cache));
        let secrets = Arc::new(SecretLog::default());
        let mut config = ClientConfig::builder_with_details(
            local.provider.clone(),
            Arc::new(CallerTime(unix_time(now_unix))),
        )
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(map_error)?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(local.key.clone())));
        config.alpn_protocols = alpn;
        config.resumption = Resumption::disabled();
        config.enable_sni = false;
        config.enable_early_data = false;
        config.key_log = secrets.clone();
        config.enable_secret_extraction = true;
        // 0.0.0.0: an IP address, so rustls sends no server_name (spec: no SNI)
        let name = ServerName::from(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let conn = ClientConnection::new(Arc::new(config), name).map_err(map_error)?;
        Ok(Self::new(
            Conn::Established(Box::new(Connection::Client(conn))),
            verifier,
            secrets,
        ))
    }

    /// A server supporting `supported_alpn` (non-empty); waits for the ClientHello.
    pub(crate) fn server(
        local: &LocalCert,
        cache: Arc<VerifiedCache>,
        supported_alpn: Vec<Vec<u8>>,
        now_unix: u64,
    ) -> Result<Self, Error> {
        let verifier = Arc::new(Libp2pVerifier::new(now_unix, None, cache));
        let pending = Pending {
            acceptor: Box::default(),
            local: local.clone(),
            now_unix,
            supported_alpn,
        };
        Ok(Self::new(
            Conn::Accepting(pending),
            verifier,
            Arc::new(SecretLog::default()),
        ))
    }

    fn new(conn: Conn, verifier: Arc<Libp2pVerifier>, secrets: Arc<SecretLog>) -> Self {
        Self {
            conn,
            verifier,
            secrets,
            out: Vec::new(),
        }
    }

    /// Processes one whole record (from [`next_record`]).
    pub(crate) fn feed_record(&mut self, record: &[u8]) -> Result<(), Error> {
        match &mut self.conn {
            Conn::Accepting(pending) => {
                read_all(record, |r| pending.acceptor.read_tls(r))?;
                match pending.acceptor.accept() {
                    Ok(None) => Ok(()),
                    Ok(Some(accepted)) => self.accepted(accepted),
                    Err((e, mut alert)) => {
                        // writing into a Vec cannot fail
                        let _ = alert.write_all(&mut self.out);
                        self.conn = Conn::Failed;
                        Err(self.map(e))
                    }
                }
            }
            Conn::Established(conn) => {
                read_all(record, |r| conn.read_tls(r))?;
                match conn.process_new_packets() {
                    Ok(_) => Ok(()),
                    Err(e) => Err(self.map(e)),
                }
            }
            Conn::Failed => Err(Error::ApiMisuse("TLS connection failed earlier")),
        }
    }

    /// The server's config, made once the ClientHello shows the client's ALPN order.
    fn accepted(&mut self, accepted: Accepted) -> Result<(), Error> {
        let Conn::Accepting(pending) = core::mem::replace(&mut self.conn, Conn::Failed) else {
            return Err(Error::ApiMisuse("ClientHello accepted twice"));
        };
        let hello = accepted.client_hello();
        // The spec: the first entry of the client's list the server supports. rustls picks
        // the first of *its* list the client offered, so hand it the overlap in the
        // client's order; without an overlap keep ours, so rustls aborts with
        // no_application_protocol if the client offered any.
        let mut alpn: Vec<Vec<u8>> = hello
            .alpn()
            .into_iter()
            .flatten()
            .filter(|offered| pending.supported_alpn.iter().any(|s| s == offered))
            .map(<[u8]>::to_vec)
            .collect();
        alpn.dedup();
        if alpn.is_empty() {
            alpn = pending.supported_alpn;
        }
        let mut config = ServerConfig::builder_with_details(
            pending.local.provider.clone(),
            Arc::new(CallerTime(unix_time(pending.now_unix))),
        )
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(map_error)?
        .with_client_cert_verifier(self.verifier.clone())
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(pending.local.key.clone())));
        config.alpn_protocols = alpn;
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.max_early_data_size = 0;
        config.key_log = self.secrets.clone();
        config.enable_secret_extraction = true;
        match accepted.into_connection(Arc::new(config)) {
            Ok(conn) => {
                self.conn = Conn::Established(Box::new(Connection::Server(conn)));
                Ok(())
            }
            Err((e, mut alert)) => {
                let _ = alert.write_all(&mut self.out);
                Err(self.map(e))
            }
        }
    }

    /// Fails the connection over a header whose length exceeds [`MAX_RECORD_BODY_LEN`];
    /// the caller reports [`Error::RecordTooLarge`]. rustls's own bound is looser
    /// (2^14 + 2048, kept for TLS 1.2), so it gets the header with the length field at its
    /// maximum, which it refuses at once and answers with its alert (decode_error).
    pub(crate) fn refuse_oversized(&mut self, header: &[u8]) {
        let mut header = header.to_vec();
        if let Some(len) = header.get_mut(3..RECORD_HEADER_LEN) {
            len.copy_from_slice(&[0xff, 0xff]);
        }
        let _ = self.feed_record(&header);
    }

    /// Appends what rustls has to send; returns how many bytes.
    pub(crate) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        if out.is_empty() {
            // hand over our buffer instead of copying it
            core::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
        }
        if let Conn::Established(conn) = &mut self.conn {
            while conn.wants_write() {
                match conn.write_tls(out) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        out.len().saturating_sub(start)
    }

    /// Whether the handshake is still running (or never got past the ClientHello).
    pub(crate) fn is_handshaking(&self) -> bool {
        match &self.conn {
            Conn::Established(conn) => conn.is_handshaking(),
            Conn::Accepting(_) | Conn::Failed => true,
        }
    }

    /// The peer, once its certificate verified and it signed the handshake with its key.
    pub(crate) fn remote(&self) -> Option<Verified> {
        let state = self.verifier.state();
        match (&state.certificate, state.proven) {
            (Some((_, verified)), true) => Some(verified.clone()),
            _ => None,
        }
    }

    /// The ALPN value agreed, if any.
    pub(crate) fn alpn(&self) -> Option<&[u8]> {
        match &self.conn {
            Conn::Established(conn) => conn.alpn_protocol(),
            _ => None,
        }
    }

    /// The negotiated cipher suite's IANA name.
    pub(crate) fn cipher_suite(&self) -> Option<&'static str> {
        match &self.conn {
            Conn::Established(conn) => conn.negotiated_cipher_suite()?.suite().as_str(),
            _ => None,
        }
    }

    /// Ends rustls's part once the handshake is complete: appends what rustls still has to
    /// send (the client's last flight) to `out`, then takes the application traffic keys
    /// and sequence numbers out of rustls for the session's own record layer.
    pub(crate) fn into_traffic(mut self, out: &mut Vec<u8>) -> Result<Traffic, Error> {
        let _ = self.poll_transmit(out);
        let alpn = self.alpn().map(<[u8]>::to_vec);
        let cipher_suite = self.cipher_suite();
        let Conn::Established(conn) = self.conn else {
            return Err(Error::ApiMisuse("session before the handshake"));
        };
        let is_client = matches!(*conn, Connection::Client(_));
        let extracted = conn.dangerous_extract_secrets().map_err(map_error)?;
        let (client, server) = self.secrets.take();
        let (tx_secret, rx_secret) = if is_client {
            (client, server)
        } else {
            (server, client)
        };
        let (aead, tx_key, tx_iv) = traffic_keys(extracted.tx.1)?;
        let (rx_aead, rx_key, rx_iv) = traffic_keys(extracted.rx.1)?;
        if aead != rx_aead || tx_secret.is_empty() || rx_secret.is_empty() {
            return Err(Error::Tls {
                reason: "no application traffic secrets".to_string(),
            });
        }
        Ok(Traffic {
            is_client,
            aead,
            tx: Direction {
                secret: tx_secret,
                key: tx_key,
                iv: tx_iv,
                seq: extracted.tx.0,
            },
            rx: Direction {
                secret: rx_secret,
                key: rx_key,
                iv: rx_iv,
                seq: extracted.rx.0,
            },
            alpn,
            cipher_suite,
        })
    }

    /// A rustls error as p2psec names it; a certificate refused by our verifier keeps the
    /// verifier's own error.
    fn map(&self, e: rustls::Error) -> Error {
        if let rustls::Error::InvalidCertificate(_) = e {
            if let Some(ours) = self.verifier.state().error.take() {
                return ours;
            }
        }
        map_error(e)
    }
}

/// The AEAD, key and IV of one direction's extracted secrets.
fn traffic_keys(
    secrets: rustls::ConnectionTrafficSecrets,
) -> Result<(Aead, Secret, Zeroizing<[u8; 12]>), Error> {
    use rustls::ConnectionTrafficSecrets as S;
    let (aead, key, iv) = match secrets {
        S::Aes128Gcm { key, iv } => (Aead::Aes128Gcm, key, iv),
        S::Aes256Gcm { key, iv } => (Aead::Aes256Gcm, key, iv),
        S::Chacha20Poly1305 { key, iv } => (Aead::Chacha20Poly1305, key, iv),
        _ => {
            return Err(Error::Tls {
                reason: "unexpected cipher suite".to_string(),
            })
        }
    };
    let iv: [u8; 12] = iv.as_ref().try_into().map_err(|_| Error::Tls {
        reason: "unexpected IV length".to_string(),
    })?;
    Ok((
        aead,
        Zeroizing::new(key.as_ref().to_vec()),
        Zeroizing::new(iv),
    ))
}

/// Feeds all of `record` through `read_tls` (which may take it in several reads).
fn read_all(
    mut record: &[u8],
    mut read_tls: impl FnMut(&mut dyn Read) -> std::io::Result<usize>,
) -> Result<(), Error> {
    while !record.is_empty() {
        match read_tls(&mut record) {
            Ok(0) => {
                return Err(Error::PeerMisbehaved {
                    reason: "data after close_notify".to_string(),
                })
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Tls {
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

fn map_error(e: rustls::Error) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_framed_by_their_header() {
        assert_eq!(next_record(&[]), Record::Incomplete);
        assert_eq!(next_record(&[22, 3, 1, 0]), Record::Incomplete);
        assert_eq!(next_record(&[22, 3, 1, 0, 2, 9]), Record::Incomplete);
        assert_eq!(next_record(&[22, 3, 1, 0, 2, 9, 9, 1]), Record::Whole(7));
        assert_eq!(next_record(&[23, 3, 3, 0, 0]), Record::Whole(5));
        let max = u16::try_from(MAX_RECORD_BODY_LEN).unwrap_or(u16::MAX);
        let [hi, lo] = max.to_be_bytes();
        assert_eq!(next_record(&[23, 3, 3, hi, lo]), Record::Incomplete);
        let [hi, lo] = (max + 1).to_be_bytes();
        assert_eq!(
            next_record(&[23, 3, 3, hi, lo]),
            Record::TooLarge {
                len: MAX_RECORD_BODY_LEN + 1
            }
        );
    }

    #[test]
    fn offered_schemes_are_the_accepted_algorithms() {
        let schemes = Libp2pVerifier::schemes();
        assert_eq!(
            schemes.first(),
            Some(&SignatureScheme::ECDSA_NISTP256_SHA256)
        );
        assert_eq!(schemes.len(), 6);
        assert!(!schemes.contains(&SignatureScheme::RSA_PKCS1_SHA256));
    }
}
