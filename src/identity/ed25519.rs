//! Ed25519 identities (ed25519-dalek): the key type every libp2p node must support.
//!
//! Public `Data` is the raw 32-byte key; private `Data` is the 32-byte seed followed by the
//! 32-byte public key. Signatures are plain RFC 8032 Ed25519 over the message, verified with
//! `verify_strict` (rejecting small-order keys and non-canonical signatures, as
//! rust-libp2p does).

use alloc::vec::Vec;
use core::fmt;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::Error;

const NAME: &str = "Ed25519";

/// An Ed25519 key pair. The secret is zeroized on drop (ed25519-dalek's `zeroize`).
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// A fresh key pair from the caller's random number generator.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(SigningKey::generate(rng))
    }

    /// The key pair whose 32-byte seed is `seed` (RFC 8032 secret key). The seed is wiped.
    pub fn from_seed(seed: &mut [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        seed.zeroize();
        Self(key)
    }

    /// Parses private `Data`: 64 bytes (seed, public) or the legacy 96-byte form (seed,
    /// public, public) that go-libp2p once wrote. The stored public half must match the
    /// one derived from the seed (go never checks; we do).
    pub(crate) fn from_private_data(data: &[u8]) -> Result<Self, Error> {
        let (seed, public) = match data.len() {
            64 => (&data[..32], &data[32..]),
            96 if data[32..64] == data[64..] => (&data[..32], &data[32..64]),
            96 => return Err(Error::KeyPairMismatch),
            len => {
                return Err(Error::InvalidKeyLength {
                    key_type: NAME,
                    what: "private key",
                    len,
                    expected: "64 (or legacy 96)",
                })
            }
        };
        let mut seed_arr = Zeroizing::new([0u8; 32]);
        seed_arr.copy_from_slice(seed);
        let key = SigningKey::from_bytes(&seed_arr);
        if key.verifying_key().as_bytes()[..] != *public {
            return Err(Error::KeyPairMismatch);
        }
        Ok(Self(key))
    }

    /// Private `Data`: seed followed by public key, wiped when dropped.
    pub(crate) fn to_private_data(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_keypair_bytes().to_vec())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `msg` (deterministic, 64 bytes).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ed25519::Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the raw 32-byte key; rejects bytes that are not a point on the curve.
    pub fn try_from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let arr: &[u8; 32] = bytes.try_into().map_err(|_| Error::InvalidKeyLength {
            key_type: NAME,
            what: "public key",
            len: bytes.len(),
            expected: "32",
        })?;
        VerifyingKey::from_bytes(arr)
            .map(Self)
            .map_err(|_| Error::InvalidPoint { key_type: NAME })
    }

    /// The raw 32-byte key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Whether `sig` is a valid signature of `msg` by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.0.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519::PublicKey(")?;
        for b in self.0.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}
