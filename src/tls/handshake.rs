//! The libp2p TLS 1.3 handshake machines: [`Config`] (what every handshake of one
//! identity shares), [`Client`] (the dialer) and [`Server`] (the listener). Spec: libp2p
//! tls/tls.md and connections/inlined-muxer-negotiation.md.
//!
//! Both are thin role wrappers over one core (their verbs forward to it) that feeds whole
//! TLS records (framed by `record.rs`) to rustls (through the rustls folder, the only
//! place that calls rustls) and turns what rustls reports into the machine verbs of
//! STYLE.md. When rustls reports the handshake done, the core hands its keys to a
//! [`Session`] at once; `into_session` returns it. The handshake is mutual: each side
//! checks the other's libp2p certificate ([`super::certificate::verify_chain`]) at the
//! caller's time and the `CertificateVerify` signature under its key; the client also
//! checks the PeerId it dialed. The muxer is agreed through ALPN: the client offers its
//! `stream_muxers` in preference order and then `libp2p`; the server takes the first
//! entry of the client's list it supports.
//!
//! Not here: the record layer after the handshake ([`super::Session`]), certificate rules
//! (`certificate.rs`), multistream-select (the `/tls/1.0.0` negotiation before, and the
//! muxer negotiation after, if ALPN agreed only `libp2p`).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use rand_core::CryptoRng;

use super::certificate::{Certificate, Verified};
use super::error::Error;
use super::record::{next_record, Record, MAX_RECORD_BODY_LEN, RECORD_HEADER_LEN};
use super::rustls::{Engine, LocalCert};
use super::session::Session;
use super::verified_cache::{VerifiedCache, VERIFIED_CACHE_CAPACITY};
use super::ALPN_LIBP2P;
use crate::identity::{KeyPolicy, Keypair, PeerId};
use crate::machine::Incomplete;

mod roles;
pub use roles::{Client, Server};

/// How long before our certificate's `notAfter` [`Config::refresh_if_needed`] replaces it:
/// one day. A peer checks the certificate with its own clock; one whose clock runs ahead
/// of ours by less than this still accepts it. A day is far beyond the clock skew of
/// connected hosts and leaves the rest of the year's validity for reuse.
pub const CERTIFICATE_RENEWAL_MARGIN_SECS: u64 = 24 * 60 * 60;

/// Most stream muxers a [`Config`] offers. Each becomes an ALPN protocol name (1 to 255
/// bytes, RFC 7301 §3.1) in the ClientHello; the bound keeps the list far below ALPN's
/// 2^16-byte limit. Real configurations list one to three.
pub const MAX_STREAM_MUXERS: usize = 16;

/// What every handshake of one identity shares: the identity, our current certificate
/// (made from the caller's RNG and time, reused for every connection until it nears
/// expiry), the stream muxers to offer and the peer certificates verified before
/// ([`Config::with_verified_certificate_cache`]). Cheap to clone; clones share that cache.
#[derive(Clone)]
pub struct Config {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    identity: Keypair,
    certificate: Certificate,
    local: LocalCert,
    stream_muxers: Vec<String>,
    /// Peer certificates verified before, shared by every handshake of this config and
    /// its clones.
    verified: Arc<VerifiedCache>,
}

impl Config {
    /// A configuration for `identity` with a new certificate valid at `now_unix` (Unix
    /// seconds, the caller's clock); the certificate key and serial come from `rng`.
    ///
    /// The first call in a process also pays the crypto backend's one-time start-up
    /// (aws-lc-rs seeds its random generator on first use: about 30 ms), so that the first
    /// handshake does not: a node builds its configuration at start-up.
    pub fn new<R: CryptoRng + ?Sized>(
        identity: &Keypair,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<Self, Error> {
        super::backend::warm_up();
        let certificate = Certificate::generate(identity, now_unix, rng)?;
        let local = LocalCert::new(&certificate)?;
        Ok(Self {
            inner: Arc::new(Inner {
                identity: identity.clone(),
                certificate,
                local,
                stream_muxers: Vec::new(),
                verified: Arc::new(VerifiedCache::new(VERIFIED_CACHE_CAPACITY)),
            }),
        })
    }

    fn edit(&mut self) -> &mut Inner {
        // copy-on-write: a clone taken earlier keeps its own settings
        Arc::make_mut(&mut self.inner)
    }

    /// Stream muxers to offer through ALPN (client) or accept (server), in preference
    /// order, e.g. `["/yamux/1.0.0", "/mplex/6.7.0"]`. At most [`MAX_STREAM_MUXERS`], each
    /// 1 to 255 bytes (checked when a handshake is made).
    #[must_use]
    pub fn with_stream_muxers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        muxers: I,
    ) -> Self {
        self.edit().stream_muxers = muxers.into_iter().map(Into::into).collect();
        self
    }

    /// How many verified peer certificates to remember across handshakes (default
    /// [`VERIFIED_CACHE_CAPACITY`], 64); 0 verifies every certificate in full every time.
    /// A peer that presents a certificate seen before, byte for byte, has it checked
    /// again only against the handshake's time and expected PeerId: the certificate's
    /// signatures are not verified twice. Its `CertificateVerify` signature, the proof
    /// that it holds the certificate key, is checked in every handshake. This starts a
    /// new, empty cache for this config (and the clones made from it afterwards).
    #[must_use]
    pub fn with_verified_certificate_cache(mut self, capacity: usize) -> Self {
        let policy = self.inner.verified.policy();
        self.edit().verified = Arc::new(VerifiedCache::with_policy(capacity, policy));
        self
    }

    /// Which identity keys the remote's certificate may carry ([`KeyPolicy::STRICT`] by
    /// default; see [`KeyPolicy`] for legacy RSA and its risk). Starts a new, empty
    /// verified-certificate cache (what passed under one policy is not remembered for
    /// another).
    #[must_use]
    pub fn with_key_policy(mut self, policy: KeyPolicy) -> Self {
        let capacity = self.inner.verified.capacity();
        self.edit().verified = Arc::new(VerifiedCache::with_policy(capacity, policy));
        self
    }

    /// How many verified peer certificates this config remembers
    /// ([`Config::with_verified_certificate_cache`]).
    pub fn verified_certificate_cache_capacity(&self) -> usize {
        self.inner.verified.capacity()
    }

    /// How many verified peer certificates are remembered now.
    #[cfg(test)]
    pub(crate) fn verified_cache_len(&self) -> usize {
        self.inner.verified.len()
    }

    /// Whether our certificate must be replaced before a handshake at `now_unix`: fewer
    /// than [`CERTIFICATE_RENEWAL_MARGIN_SECS`] left, or not yet valid (the clock went
    /// back by more than the certificate's backdating).
    pub fn needs_refresh(&self, now_unix: u64) -> bool {
        let cert = &self.inner.certificate;
        now_unix < cert.not_before()
            || now_unix.saturating_add(CERTIFICATE_RENEWAL_MARGIN_SECS) >= cert.not_after()
    }

    /// Makes a new certificate if [`Config::needs_refresh`]; returns whether it did.
    /// Handshakes already made keep the certificate they started with.
    pub fn refresh_if_needed<R: CryptoRng + ?Sized>(
        &mut self,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<bool, Error> {
        if !self.needs_refresh(now_unix) {
            return Ok(false);
        }
        let certificate = Certificate::generate(&self.inner.identity, now_unix, rng)?;
        let local = LocalCert::new(&certificate)?;
        let inner = self.edit();
        inner.certificate = certificate;
        inner.local = local;
        Ok(true)
    }

    /// Our current certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.inner.certificate
    }

    /// Our PeerId.
    pub fn local_peer_id(&self) -> PeerId {
        self.inner.identity.peer_id()
    }

    /// The stream muxers offered, in preference order.
    pub fn stream_muxers(&self) -> &[String] {
        &self.inner.stream_muxers
    }

    /// What a handshake at `now_unix` needs from us: checks that our certificate is valid
    /// then and the muxer ids are valid ALPN names, and returns our ALPN list: the muxers
    /// (duplicates dropped), then `libp2p` (the spec: MUST be last).
    fn alpn(&self, now_unix: u64) -> Result<Vec<Vec<u8>>, Error> {
        let cert = &self.inner.certificate;
        if now_unix < cert.not_before() || now_unix > cert.not_after() {
            return Err(Error::LocalCertificateOutdated {
                now: now_unix,
                not_before: cert.not_before(),
                not_after: cert.not_after(),
            });
        }
        let muxers = &self.inner.stream_muxers;
        if muxers.len() > MAX_STREAM_MUXERS {
            return Err(Error::ApiMisuse(
                "more stream muxers than MAX_STREAM_MUXERS",
            ));
        }
        let mut alpn = Vec::with_capacity(muxers.len() + 1);
        for muxer in muxers {
            let id = muxer.as_bytes();
            if id.is_empty() || id.len() > 255 {
                return Err(Error::ApiMisuse("a stream muxer id must be 1 to 255 bytes"));
            }
            // `libp2p` is added last below; a repeated id would be offered twice
            if id != ALPN_LIBP2P && !alpn.iter().any(|a: &Vec<u8>| a == id) {
                alpn.push(id.to_vec());
            }
        }
        alpn.push(ALPN_LIBP2P.to_vec());
        Ok(alpn)
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("tls::Config")
            .field("local_peer_id", &self.local_peer_id())
            .field("certificate", &self.inner.certificate)
            .field("stream_muxers", &self.inner.stream_muxers)
            .finish_non_exhaustive()
    }
}

/// What a handshake reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The remote's certificate passed every libp2p check (and matched the expected
    /// PeerId), and the remote signed this handshake with the certificate's key.
    RemoteIdentified {
        /// Who the remote proved to be.
        peer_id: PeerId,
    },
    /// The handshake is complete: take the session with `into_session`. The client's
    /// last flight (Certificate, CertificateVerify, Finished) may still wait in
    /// `poll_transmit`, or in the session's, which continues the same output.
    ///
    /// For the client this means the server proved itself; the server checks the client's
    /// certificate only when that last flight arrives. If it refuses it, the client's
    /// session learns so from the server's alert ([`Error::AlertReceived`]) on its next
    /// input, about one round trip later (spec: the TLS 1.3 client-side caveat).
    Complete,
}

/// Where a handshake stands: rustls until the handshake completes, then the session that
/// took its keys over at once (so a session exists only for a finished handshake, and the
/// client's last flight waits in it). `Failed` when that takeover failed: rustls is gone
/// and nothing is left to send.
enum Stage {
    Handshake(Engine),
    /// Boxed: the record layer is several times the size of rustls's handle, and a
    /// handshake need not carry it before it completes.
    Complete(Box<Session>),
    Failed,
}

struct Core {
    stage: Stage,
    /// The peer rustls verified, until the session takes it.
    remote: Option<Verified>,
    events: VecDeque<Event>,
    error: Option<Error>,
}

impl Core {
    fn new(engine: Engine) -> Self {
        Self {
            stage: Stage::Handshake(engine),
            remote: None,
            events: VecDeque::new(),
            error: None,
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.events.clear();
        self.error = Some(e.clone());
        e
    }

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut consumed = 0;
        // whole records only, and none after the one that completes the handshake: what
        // follows (application data, post-handshake messages) is the session's
        while let Stage::Handshake(engine) = &mut self.stage {
            let rest = bytes.get(consumed..).unwrap_or_default();
            let len = match next_record(rest) {
                Record::Incomplete => break,
                Record::Whole(len) => len,
                Record::TooLarge { len } => {
                    engine.refuse_oversized(rest.get(..RECORD_HEADER_LEN).unwrap_or_default());
                    return Err(self.fail(Error::RecordTooLarge {
                        len,
                        max: MAX_RECORD_BODY_LEN,
                    }));
                }
            };
            if let Err(e) = engine.feed_record(rest.get(..len).unwrap_or_default()) {
                return Err(self.fail(e));
            }
            consumed += len;
            self.progress()?;
        }
        Ok(consumed)
    }

    fn progress(&mut self) -> Result<(), Error> {
        let Stage::Handshake(engine) = &mut self.stage else {
            return Ok(());
        };
        if self.remote.is_none() {
            if let Some(verified) = engine.remote() {
                self.events.push_back(Event::RemoteIdentified {
                    peer_id: verified.peer_id,
                });
                self.remote = Some(verified);
            }
        }
        if engine.is_handshaking() {
            return Ok(());
        }
        let Some(remote) = self.remote.take() else {
            // unreachable with mandatory mutual authentication; never complete unproven
            return Err(self.fail(Error::ChainLength { len: 0 }));
        };
        let Stage::Handshake(engine) = core::mem::replace(&mut self.stage, Stage::Failed) else {
            return Ok(());
        };
        match Session::new(engine, remote) {
            Ok(session) => {
                self.stage = Stage::Complete(Box::new(session));
                self.events.push_back(Event::Complete);
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        match &mut self.stage {
            Stage::Handshake(engine) => engine.poll_transmit(out),
            Stage::Complete(session) => session.poll_transmit(out),
            Stage::Failed => 0,
        }
    }

    /// Moves what the engine (or the session) has to send into its queue; returns how
    /// many bytes wait.
    fn pending_transmit(&mut self) -> usize {
        match &mut self.stage {
            Stage::Handshake(engine) => engine.pending_transmit(),
            Stage::Complete(session) => session.prepare_transmit(),
            Stage::Failed => 0,
        }
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        match &mut self.stage {
            Stage::Handshake(engine) => engine.poll_transmit_into(buf),
            Stage::Complete(session) => session.poll_transmit_into(buf),
            Stage::Failed => Ok(0),
        }
    }

    fn is_complete(&self) -> bool {
        matches!(self.stage, Stage::Complete(_)) && self.error.is_none()
    }

    fn remote_peer_id(&self) -> Option<PeerId> {
        match &self.stage {
            Stage::Complete(session) => Some(session.remote_peer_id()),
            _ => self.remote.as_ref().map(|r| r.peer_id),
        }
    }

    /// The session; on refusal the core comes back unchanged, with the reason.
    // the machine comes back by value; the `Ok` session is about as large, and this runs
    // once per handshake, so a box would save nothing
    #[allow(clippy::result_large_err)]
    fn into_session(self) -> Result<Session, (Self, Error)> {
        if let Some(e) = &self.error {
            let e = e.clone();
            return Err((self, e));
        }
        match self.stage {
            Stage::Complete(session) => Ok(*session),
            stage => Err((
                Self { stage, ..self },
                Error::ApiMisuse("into_session before Event::Complete"),
            )),
        }
    }

    fn debug(&self, f: &mut core::fmt::Formatter<'_>, name: &str) -> core::fmt::Result {
        f.debug_struct(name)
            .field("complete", &self.is_complete())
            .field("remote", &self.remote_peer_id())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
