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
//! - [`Session`]: [`SendHalf`] and [`RecvHalf`] with the 4-byte length framing, AES-128,
//!   AES-256 or Twofish in CTR mode, HMAC-SHA256 or HMAC-SHA512 over the ciphertext,
//!   checked in constant time before anything is decrypted.
//!
//! Why it is deprecated, and stays so here: no transcript hash (only the two Propose
//! messages are signed), no sequence numbers under the MAC, no rekeying, a homegrown key
//! stretcher, and the ECDH secret's encoding differs between implementations (go strips
//! leading zeros; p2psec uses fixed-width X like native rust-libp2p and Node js-libp2p,
//! so about 1 in 256 handshakes with an old go peer fails, as it did between go and rust).
//!
//! Randomness comes from the caller: one 32-byte seed per handshake, from which the nonce
//! and the ephemeral key are derived.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::identity::Keypair;

mod algorithms;
pub(crate) mod crypto;
mod error;
mod handshake;
mod proto;
mod transport;

pub use algorithms::{Algorithm, Cipher, Hash, KeyExchange};
pub use error::Error;
pub use handshake::{Event, Handshake};
pub use transport::{
    Opened, RecvHalf, SendHalf, Session, LEN_PREFIX, MAX_FRAME_LEN, MAX_PLAINTEXT_LEN,
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
/// is not proposed.
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
                max_frame_len: MAX_FRAME_LEN,
            }),
        }
    }

    fn edit(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
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

    /// The largest encrypted frame accepted, at most [`MAX_FRAME_LEN`] (the default).
    /// Peers choose their frame sizes freely; lower it only for peers known to send small
    /// frames (js-libp2p sends up to 1 MiB plus the MAC).
    pub fn with_max_frame_len(mut self, max: usize) -> Result<Self, Error> {
        if !(128..=MAX_FRAME_LEN).contains(&max) {
            return Err(Error::ApiMisuse(
                "the frame limit must be between 128 bytes and 8 MiB",
            ));
        }
        self.edit().max_frame_len = max;
        Ok(self)
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
