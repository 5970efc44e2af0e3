//! libp2p identities: key pairs, public keys, their protobuf encoding, and [`PeerId`]s.
//!
//! Spec: libp2p peer-ids.md (keys, signatures, PeerIds) and RFC 0001 (PeerIds as CIDs).
//! Key types: Ed25519 (the one every node supports), Secp256k1, ECDSA on P-256, and RSA
//! behind the `rsa` feature (verifying, and parsing stored keys).
//!
//! Decoding is strict: a key protobuf must be the one deterministic encoding the spec
//! describes, and each key's `Data` must be in its canonical form, because PeerIds and
//! signatures are computed over these bytes. Every departure has its own [`Error`].
//! Randomness for key generation comes from the caller (any `rand_core::CryptoRng`), or
//! from the OS with [`Keypair::generate_with_os_rng`] (feature `std`).
//!
//! ```
//! use p2psec::identity::{PeerId, PublicKey};
//!
//! // An Ed25519 PeerId embeds its key: pull it out, re-derive the id, check a signature.
//! let id: PeerId = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".parse()?;
//! let key: PublicKey = id.public_key()?;
//! assert_eq!(key.to_peer_id(), id);
//! assert!(!key.verify(b"message", &[0u8; 64]));
//! assert_eq!(id.to_cid_string(), "bafzaajaiaejcal72gwuz2or47oyxxn6b3rkwdmmkrxgkjxzy3rqt5kczyn7lcm3l");
//! # Ok::<(), p2psec::identity::Error>(())
//! ```
//!
//! Not here: key exchange keys (Noise's X25519 lives in `noise`), and RSA key generation.

use core::{fmt, str::FromStr};

pub mod ecdsa;
pub mod ed25519;
mod error;
mod keys;
mod peer_id;
mod policy;
mod proto;
#[cfg(feature = "rsa")]
pub mod rsa;
pub mod secp256k1;

pub use error::Error;
pub use keys::{Keypair, PublicKey};
pub use peer_id::{PeerId, MAX_INLINE_KEY_LENGTH};
pub use policy::KeyPolicy;

/// The libp2p `KeyType` enum (protobuf values in the comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA (0).
    Rsa,
    /// Ed25519 (1).
    Ed25519,
    /// Secp256k1 (2).
    Secp256k1,
    /// ECDSA (3); p2psec supports the P-256 curve.
    Ecdsa,
}

impl KeyType {
    /// The type for a protobuf enum value.
    pub fn from_u64(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::Rsa),
            1 => Some(Self::Ed25519),
            2 => Some(Self::Secp256k1),
            3 => Some(Self::Ecdsa),
            _ => None,
        }
    }

    /// The protobuf enum value.
    pub fn to_u64(self) -> u64 {
        match self {
            Self::Rsa => 0,
            Self::Ed25519 => 1,
            Self::Secp256k1 => 2,
            Self::Ecdsa => 3,
        }
    }

    /// Lower-case name: `rsa`, `ed25519`, `secp256k1`, `ecdsa`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ed25519 => "ed25519",
            Self::Secp256k1 => "secp256k1",
            Self::Ecdsa => "ecdsa",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "rsa" => Ok(Self::Rsa),
            "ed25519" => Ok(Self::Ed25519),
            "secp256k1" => Ok(Self::Secp256k1),
            "ecdsa" | "p256" | "p-256" => Ok(Self::Ecdsa),
            _ => Err(Error::UnsupportedKeyType("unknown name")),
        }
    }
}
