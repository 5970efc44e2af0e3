//! SECIO (`/secio/1.0.0`): libp2p's first secure channel, **deprecated** since 2020 and
//! removed from go-, rust- and js-libp2p. p2psec keeps it as an opt-in bridge (feature
//! `secio`, off by default) so a modern node can still reach peers that speak nothing
//! else. The upgrade offers it last, after Noise and TLS, and only when configured; never
//! choose it when the peer speaks anything better. Spec: libp2p secio/README.md (r1),
//! with the gaps filled from go-libp2p-secio, js-libp2p-secio and libp2p-secio 0.26.
//!
//! - [`Handshake`]: the symmetric three-phase handshake (Propose, Exchange, nonce echo).
//!   The ordering hashes decide whose preference lists win; ECDH over P-256, P-384 or
//!   P-521; the identity key signs both Propose messages and the ephemeral point; the key
//!   stretcher derives per-direction IV, cipher and MAC keys.
//! - [`Session`] (from `into_session`, which hands the handshake back inside an
//!   [`Incomplete`](crate::machine::Incomplete) when called too early): the transport
//!   verbs (`handle_input`, `read`, `write`, `poll_transmit`, `close`) over bounded
//!   buffers, as the Noise and TLS sessions have them. Under it, the low-level frame API:
//!   [`SendHalf`] and [`RecvHalf`] with the 4-byte length framing, AES-128, AES-256 or
//!   Twofish in CTR mode, HMAC-SHA256 or HMAC-SHA512 over the ciphertext, checked in
//!   constant time before anything is decrypted.
//!
//! Why it is deprecated, and stays so here: no transcript hash (only the two Propose
//! messages are signed), no sequence numbers under the MAC, no rekeying, a homegrown key
//! stretcher, and the ECDH secret's encoding differs between implementations (go strips
//! leading zeros; p2psec uses fixed-width X like native rust-libp2p and Node js-libp2p,
//! so about 1 in 256 handshakes with an old go peer fails, as it did between go and rust).
//!
//! Randomness comes from the caller: one 32-byte seed per handshake, from which the nonce
//! and the ephemeral key are derived.
//!
//! Secrets: the seed, the DRBG output drawn from it, the ephemeral scalar, the ECDH
//! shared secret, the stretched IVs and keys, and the session's key streams are each held
//! in a type that wipes itself on drop; the table is in `crypto.rs`, with the one gap
//! (hmac 0.13's keyed states wipe only when sha2's `zeroize` feature is on).
//!
//! Buffering: a receiver holds at most one partial frame, up to the frame limit. The
//! limit starts at [`DEFAULT_MAX_FRAME_LEN`] (4 MiB), below the 8 MiB that go and rust
//! accept ([`MAX_FRAME_LEN`], the ceiling [`Config::with_max_frame_len`] allows), yet
//! above what rust-libp2p 0.26 over mplex sends in one frame (under 132 KiB) and what
//! js-libp2p 0.29 makes of a write of up to about 8 MiB (it seals a whole queued write as
//! one frame): see [`DEFAULT_MAX_FRAME_LEN`] for the sources and measurements.
//!
//! After an error, every machine here is poisoned: SECIO has no closing message, so
//! nothing more is emitted (no queued handshake message, no event, no plaintext; the
//! session still hands out the frames it sealed before the error) and each call returns
//! the same error.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::identity::{KeyPolicy, Keypair};

mod algorithms;
pub(crate) mod crypto;
mod error;
mod handshake;
mod proto;
mod session;
mod transport;

pub use algorithms::{Algorithm, Cipher, Hash, KeyExchange};
pub use error::Error;
pub use handshake::{Event, Handshake};
pub use session::{Session, MAX_BUFFERED_PLAINTEXT, MAX_PENDING_CIPHERTEXT};
pub use transport::{
    Opened, RecvHalf, SendHalf, DEFAULT_MAX_FRAME_LEN, LEN_PREFIX, MAX_FRAME_LEN, MAX_PLAINTEXT_LEN,
};

/// The multistream-select protocol id.
pub const PROTOCOL_ID: &str = "/secio/1.0.0";
/// Nonce length: 16 random bytes in every implementation.
pub const NONCE_LEN: usize = 16;
/// Largest handshake message accepted (a Propose or an Exchange). The largest real one, a
/// Propose with an RSA-8192 key, is about 1.1 KB; go and rust allow up to 8 MiB, which
/// only lets a peer make us buffer more.
pub const MAX_HANDSHAKE_MESSAGE: usize = 64 * 1024;

/// What every SECIO handshake of one identity shares: the identity and the preference
/// lists. Cheap to clone.
///
/// Defaults: exchanges `P-256,P-384,P-521`, ciphers `AES-256,AES-128`, hashes
/// `SHA256,SHA512` (go's and js's lists, the spec's set). `TwofishCTR` (rust-libp2p's
/// extra) can be added with [`Config::with_ciphers`]; see [`Cipher::DEFAULT`] for why it
/// is not proposed. Frames up to [`DEFAULT_MAX_FRAME_LEN`] (4 MiB) are accepted.
#[derive(Clone)]
pub struct Config {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    identity: Keypair,
    pubkey: Vec<u8>,
    exchanges: String,
    ciphers: String,
    hashes: String,
    max_frame_len: usize,
    /// Which identity keys the remote may prove itself with.
    key_policy: KeyPolicy,
}

impl Config {
    /// A configuration for `identity` with the default lists.
    pub fn new(identity: &Keypair) -> Self {
        Self {
            inner: Arc::new(Inner {
                identity: identity.clone(),
                pubkey: identity.public().encode_protobuf(),
                exchanges: algorithms::join(KeyExchange::ALL),
                ciphers: algorithms::join(Cipher::DEFAULT),
                hashes: algorithms::join(Hash::ALL),
                max_frame_len: DEFAULT_MAX_FRAME_LEN,
                key_policy: KeyPolicy::STRICT,
            }),
        }
    }

    fn edit(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
    }

    /// Which identity keys the remote may prove itself with ([`KeyPolicy::STRICT`] by
    /// default; see [`KeyPolicy`] for legacy RSA and its risk).
    pub fn with_key_policy(mut self, policy: KeyPolicy) -> Self {
        self.edit().key_policy = policy;
        self
    }

    /// The key exchanges to propose, in preference order (not empty).
    pub fn with_exchanges(mut self, list: &[KeyExchange]) -> Result<Self, Error> {
        non_empty(list)?;
        self.edit().exchanges = algorithms::join(list);
        Ok(self)
    }

    /// The ciphers to propose, in preference order (not empty).
    pub fn with_ciphers(mut self, list: &[Cipher]) -> Result<Self, Error> {
        non_empty(list)?;
        self.edit().ciphers = algorithms::join(list);
        Ok(self)
    }

    /// The hashes to propose, in preference order (not empty).
    pub fn with_hashes(mut self, list: &[Hash]) -> Result<Self, Error> {
        non_empty(list)?;
        self.edit().hashes = algorithms::join(list);
        Ok(self)
    }

    /// The largest encrypted frame accepted (length prefix value, MAC included), from 128
    /// bytes to [`MAX_FRAME_LEN`] (8 MiB, what go and rust accept); it is also the most a
    /// receiver buffers for one partial frame. The default, [`DEFAULT_MAX_FRAME_LEN`]
    /// (4 MiB), takes what rust-libp2p 0.26 and js-libp2p 0.29 send in ordinary use (its
    /// doc has the numbers); raise it for peers that write bigger bursts at once (a
    /// js-libp2p write becomes about one frame), lower it for peers known to send small
    /// frames (rust-libp2p 0.26 over mplex: under 132 KiB).
    pub fn with_max_frame_len(mut self, max: usize) -> Result<Self, Error> {
        if !(128..=MAX_FRAME_LEN).contains(&max) {
            return Err(Error::ApiMisuse(
                "the frame limit must be between 128 bytes and 8 MiB",
            ));
        }
        self.edit().max_frame_len = max;
        Ok(self)
    }

    /// The frame limit in force (see [`Config::with_max_frame_len`]).
    pub fn max_frame_len(&self) -> usize {
        self.inner.max_frame_len
    }

    /// The proposed lists, as sent: exchanges, ciphers, hashes.
    pub fn proposal(&self) -> (&str, &str, &str) {
        (
            &self.inner.exchanges,
            &self.inner.ciphers,
            &self.inner.hashes,
        )
    }
}

fn non_empty<T>(list: &[T]) -> Result<(), Error> {
    if list.is_empty() {
        Err(Error::ApiMisuse("a SECIO proposal list must not be empty"))
    } else {
        Ok(())
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("secio::Config")
            .field("exchanges", &self.inner.exchanges)
            .field("ciphers", &self.inner.ciphers)
            .field("hashes", &self.inner.hashes)
            .field("max_frame_len", &self.inner.max_frame_len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
