//! Secp256k1 identities (k256).
//!
//! Public `Data` is the 33-byte compressed SEC1 point; private `Data` the 32-byte scalar.
//! Signatures are ECDSA over SHA-256 of the message, DER-encoded. We sign low-S (BIP-62)
//! and, like rust-libp2p, reject high-S signatures when verifying (go-libp2p accepts them;
//! the spec is silent). A 65-byte uncompressed key is rejected as non-canonical: rust and
//! go would re-encode it compressed, so its PeerId would not be the one we computed.

use alloc::vec::Vec;
use core::fmt;
use k256::ecdsa::{signature::Signer, signature::Verifier, Signature, SigningKey, VerifyingKey};
use k256::elliptic_curve::Generate;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::Error;

const NAME: &str = "Secp256k1";

/// A Secp256k1 key pair. The scalar is zeroized on drop (k256's `SigningKey`).
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// A fresh key pair from the caller's random number generator.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(SigningKey::generate_from_rng(rng))
    }

    /// Parses a 32-byte big-endian scalar (rejects zero and values not below the order).
    pub fn try_from_scalar(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != 32 {
            return Err(Error::InvalidKeyLength {
                key_type: NAME,
                what: "private key",
                len: bytes.len(),
                expected: "32",
            });
        }
        SigningKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidScalar { key_type: NAME })
    }

    /// Private `Data`: the 32-byte scalar, wiped when dropped.
    pub(crate) fn to_private_data(&self) -> Zeroizing<Vec<u8>> {
        let bytes = Zeroizing::new(self.0.to_bytes());
        Zeroizing::new(bytes.to_vec())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// Signs SHA-256(`msg`) with RFC 6979 nonces; DER, low-S.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.0.sign(msg);
        // k256 already normalizes; normalizing again costs nothing and states the rule
        sig.normalize_s().to_der().as_bytes().to_vec()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("secp256k1::Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// A Secp256k1 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses a 33-byte compressed SEC1 point.
    pub fn try_from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        match (bytes.len(), bytes.first()) {
            (33, Some(0x02 | 0x03)) => {}
            (65, Some(0x04)) => {
                return Err(Error::NonCanonicalKey {
                    key_type: NAME,
                    reason: "33-byte compressed point expected, got uncompressed",
                })
            }
            (33, _) => return Err(Error::InvalidPoint { key_type: NAME }),
            (len, _) => {
                return Err(Error::InvalidKeyLength {
                    key_type: NAME,
                    what: "public key",
                    len,
                    expected: "33",
                })
            }
        }
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidPoint { key_type: NAME })
    }

    /// The 33-byte compressed point.
    pub fn to_bytes(&self) -> [u8; 33] {
        let point = self.0.to_sec1_point(true);
        let mut out = [0u8; 33];
        // a compressed point of this curve is always 33 bytes
        if point.as_bytes().len() == 33 {
            out.copy_from_slice(point.as_bytes());
        }
        out
    }

    /// Whether `sig` (DER, low-S) is a valid signature of SHA-256(`msg`) by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_der(sig) else {
            return false;
        };
        // k256 rejects high-S in verify (NORMALIZE_S), matching rust-libp2p
        self.0.verify(msg, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secp256k1::PublicKey(")?;
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}
