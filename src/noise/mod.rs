//! libp2p Noise (`/noise`): `Noise_XX_25519_ChaChaPoly_SHA256` with the libp2p identity
//! payload, as sans-IO machines. Spec: libp2p noise/README.md (r5) and
//! connections/inlined-muxer-negotiation.md.
//!
//! - [`Initiator`] (the dialer) and [`Responder`] (the listener) run the XX handshake on
//!   our own Noise state (`symmetric.rs`, `xx.rs`: every key, `ck` and `h` wiped on drop,
//!   which snow's state cannot be; checked against snow in `tests/noise_snow_reference.rs`);
//!   the libp2p payload (identity key, signature over the prefixed static key,
//!   extensions) is built, sent in messages 2 and 3, parsed strictly and verified before
//!   the next message is sent. An expected PeerId, if given, is checked in the handshake.
//! - Early muxer negotiation: each side lists muxers (`stream_muxers`); the result is the
//!   first entry of the initiator's list that the responder supports; both lists present
//!   and no overlap fails the handshake (spec). WebTransport certificate hashes are
//!   carried and exposed.
//! - The finished handshake yields a [`Session`] (`into_session`, which hands the machine
//!   back inside an [`Incomplete`](crate::machine::Incomplete) when called too early):
//!   the transport verbs (`handle_input`, `read`, `write`, `poll_transmit`, `close`) over
//!   bounded buffers, as the TLS session (`tls::Session`) has them. Under it, the low-level frame
//!   API: independent [`SendHalf`] and [`RecvHalf`] with the 2-byte length framing,
//!   sealing and opening in the caller's buffers.
//!
//! The static X25519 key and its identity signature are made once per [`Config`] and
//! reused by every handshake made from it (the spec allows a per-process static key; it
//! is never written anywhere). Randomness comes from the caller: the static key when the
//! `Config` is made, the ephemeral key when a handshake is made.
//!
//! Not here: IK / XXfallback (dropped from the spec in r2), rekeying (not specified).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::identity::{KeyPolicy, Keypair};

mod crypto;
mod error;
mod handshake;
pub mod payload;
mod session;
mod symmetric;
mod transport;
mod xx;

pub use error::Error;
pub use handshake::{Event, Initiator, Responder};
pub use session::{Session, MAX_BUFFERED_PLAINTEXT, MAX_PENDING_CIPHERTEXT};
pub use transport::{Opened, RecvHalf, SendHalf, MAX_WIRE_FRAME};

/// The multistream-select protocol id.
pub const PROTOCOL_ID: &str = "/noise";
/// The Noise protocol name; 32 bytes, so it is used as the initial `h` unhashed.
pub const PROTOCOL_NAME: &str = "Noise_XX_25519_ChaChaPoly_SHA256";
/// Largest Noise message (the 2-byte length prefix).
pub const MAX_FRAME_LEN: usize = 65535;
/// Largest plaintext in one transport frame: the frame minus the 16-byte tag (go-libp2p's
/// `MaxPlaintextLength`).
pub const MAX_PLAINTEXT_LEN: usize = MAX_FRAME_LEN - TAG_LEN;
/// The AEAD tag length.
pub const TAG_LEN: usize = crypto::TAG_LEN;
/// What the identity key signs, before the static key (spec).
pub const STATIC_KEY_DOMAIN: &[u8] = b"noise-libp2p-static-key:";

/// What every handshake of one identity shares: the identity, the static key and its
/// signature (made once), the prologue and the extensions to offer. Cheap to clone.
#[derive(Clone)]
pub struct Config {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    identity_key: Vec<u8>,
    identity_sig: Vec<u8>,
    static_key: Arc<crypto::StaticKey>,
    prologue: Vec<u8>,
    stream_muxers: Vec<String>,
    webtransport_certhashes: Vec<Vec<u8>>,
    /// Which identity keys the remote may prove itself with.
    key_policy: KeyPolicy,
    /// Our payload as initiator and as responder, encoded once per configuration (every
    /// handshake sends the same bytes); `encode_payloads` after each edit.
    payloads: [Vec<u8>; 2],
}

impl Inner {
    fn encode_payloads(&mut self) {
        let payload = |certhashes: &[Vec<u8>]| {
            payload::Payload {
                identity_key: self.identity_key.clone(),
                identity_sig: self.identity_sig.clone(),
                webtransport_certhashes: certhashes.to_vec(),
                stream_muxers: self.stream_muxers.clone(),
                has_extensions: false,
            }
            .encode()
        };
        // certificate hashes are the responder's (WebTransport server's) to send
        self.payloads = [payload(&[]), payload(&self.webtransport_certhashes)];
    }

    /// The encoded payload this side sends.
    fn payload(&self, initiator: bool) -> &[u8] {
        let [i, r] = &self.payloads;
        if initiator {
            i
        } else {
            r
        }
    }
}

impl Config {
    /// A configuration for `identity`: draws the static X25519 key from `rng` and signs it.
    pub fn new<R: CryptoRng + ?Sized>(identity: &Keypair, rng: &mut R) -> Result<Self, Error> {
        let mut static_secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut static_secret[..]);
        Self::with_static_secret(identity, static_secret)
    }

    /// A configuration with a given static secret (tests and recorded vectors replay with
    /// it). Prefer [`Config::new`].
    pub fn with_static_secret(
        identity: &Keypair,
        static_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        let static_key = crypto::StaticKey::new(static_secret).ok_or(Error::ApiMisuse(
            "the X25519 backend refused the static key",
        ))?;
        let static_public = static_key.public();
        let mut signed = Vec::with_capacity(STATIC_KEY_DOMAIN.len() + 32);
        signed.extend_from_slice(STATIC_KEY_DOMAIN);
        signed.extend_from_slice(&static_public);
        let identity_sig = identity.sign(&signed).map_err(Error::Signing)?;
        let mut inner = Inner {
            identity_key: identity.public().encode_protobuf(),
            identity_sig,
            static_key: Arc::new(static_key),
            prologue: Vec::new(),
            stream_muxers: Vec::new(),
            webtransport_certhashes: Vec::new(),
            key_policy: KeyPolicy::STRICT,
            payloads: [Vec::new(), Vec::new()],
        };
        inner.encode_payloads();
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Applies `f` to the settings and re-encodes the payloads.
    fn edit(&mut self, f: impl FnOnce(&mut Inner)) {
        // copy-on-write: a clone taken earlier keeps its own settings
        let inner = Arc::make_mut(&mut self.inner);
        f(inner);
        inner.encode_payloads();
    }

    /// The Noise prologue both sides must share (empty by default; WebRTC-direct sets one).
    #[must_use]
    pub fn with_prologue(mut self, prologue: &[u8]) -> Self {
        self.edit(|c| c.prologue = prologue.to_vec());
        self
    }

    /// Stream muxers to offer inside the handshake, in preference order.
    #[must_use]
    pub fn with_stream_muxers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        muxers: I,
    ) -> Self {
        let muxers = muxers.into_iter().map(Into::into).collect();
        self.edit(|c| c.stream_muxers = muxers);
        self
    }

    /// WebTransport certificate hashes (multihashes) a responder advertises in message 2.
    #[must_use]
    pub fn with_webtransport_certhashes(mut self, hashes: Vec<Vec<u8>>) -> Self {
        self.edit(|c| c.webtransport_certhashes = hashes);
        self
    }

    /// Which identity keys the remote may prove itself with ([`KeyPolicy::STRICT`] by
    /// default; see [`KeyPolicy`] for legacy RSA and its risk).
    pub fn with_key_policy(mut self, policy: KeyPolicy) -> Self {
        Arc::make_mut(&mut self.inner).key_policy = policy;
        self
    }

    pub(crate) fn key_policy(&self) -> KeyPolicy {
        self.inner.key_policy
    }

    /// The static X25519 public key this configuration's handshakes prove.
    pub fn static_public_key(&self) -> [u8; 32] {
        self.inner.static_key.public()
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("noise::Config")
            .field("stream_muxers", &self.inner.stream_muxers)
            .field("prologue_len", &self.inner.prologue.len())
            .finish_non_exhaustive()
    }
}
#[cfg(test)]
mod tests;
