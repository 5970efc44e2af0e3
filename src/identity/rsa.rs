//! RSA identities (feature `rsa`, the `rsa` crate): needed to talk to older nodes and the
//! IPFS bootstrap peers, whose identities are RSA.
//!
//! Public `Data` is a DER SubjectPublicKeyInfo, private `Data` a PKCS#1 `RSAPrivateKey`.
//! Signatures are RSASSA-PKCS1-v1_5 with SHA-256. Moduli from 2048 to 8192 bits are
//! accepted, the range go-libp2p and rust-libp2p (ring) verify. A peer's key of 1024 to
//! 2047 bits is accepted only under a [`KeyPolicy`] that allows legacy keys (old js and go
//! nodes still have them; see the risk there); our own keys sign only at 2048 bits or more.
//!
//! Signing is offered for completeness, but prefer Ed25519 for new identities: the `rsa`
//! crate's private-key operations are not constant-time (RUSTSEC-2023-0071), so an RSA
//! key should only sign where an attacker cannot time it closely.

use alloc::{string::ToString, vec::Vec};
use core::fmt;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use sha2_rsa::Sha256;
use zeroize::Zeroizing;

use super::{Error, KeyPolicy};

const NAME: &str = "RSA";
const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 8192;
/// The smallest modulus a [`KeyPolicy`] allowing legacy keys lets a peer prove itself with.
const LEGACY_MIN_BITS: usize = 1024;

/// Largest SPKI / PKCS#1 DER we parse at all: an 8192-bit private key is about 4.7 KiB.
const MAX_DER_LEN: usize = 8 * 1024;

fn check_size(bits: usize, policy: KeyPolicy) -> Result<(), Error> {
    if (MIN_BITS..=MAX_BITS).contains(&bits) {
        Ok(())
    } else if (LEGACY_MIN_BITS..MIN_BITS).contains(&bits) {
        if policy.allows_legacy_rsa_1024() {
            Ok(())
        } else {
            Err(Error::LegacyRsaKey { bits })
        }
    } else {
        Err(Error::RsaKeySize { bits })
    }
}

fn check_der_len(der: &[u8], what: &'static str) -> Result<(), Error> {
    if der.len() > MAX_DER_LEN {
        return Err(Error::InvalidKeyLength {
            key_type: NAME,
            what,
            len: der.len(),
            expected: "at most 8192 bytes",
        });
    }
    Ok(())
}

/// An RSA key pair. The private key is zeroized on drop (the `rsa` crate's `Drop`).
#[derive(Clone)]
pub struct Keypair(rsa::RsaPrivateKey);

impl Keypair {
    /// Parses private `Data`: a canonical PKCS#1 `RSAPrivateKey` DER.
    pub(crate) fn from_private_data(der: &[u8]) -> Result<Self, Error> {
        check_der_len(der, "private key")?;
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|e| Error::InvalidDer {
            key_type: NAME,
            reason: e.to_string(),
        })?;
        // our own keys sign: never below 2048 bits
        check_size(key.size() * 8, KeyPolicy::STRICT)?;
        let key = Self(key);
        if *key.to_private_data() != *der {
            return Err(Error::NonCanonicalKey {
                key_type: NAME,
                reason: "DER PKCS#1 RSAPrivateKey",
            });
        }
        Ok(key)
    }

    /// Private `Data`: PKCS#1 DER, wiped when dropped.
    pub(crate) fn to_private_data(&self) -> Zeroizing<Vec<u8>> {
        self.0
            .to_pkcs1_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .unwrap_or_else(|_| Zeroizing::new(Vec::new()))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.to_public_key())
    }

    /// Signs with RSASSA-PKCS1-v1_5 over SHA-256.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        let signer = pkcs1v15::SigningKey::<Sha256>::new(self.0.clone());
        signer
            .try_sign(msg)
            .map(|s| s.to_vec())
            .map_err(|_| Error::SigningFailed { key_type: NAME })
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("rsa::Keypair")
            .field("bits", &(self.0.size() * 8))
            .finish_non_exhaustive()
    }
}

/// An RSA public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(rsa::RsaPublicKey);

impl PublicKey {
    /// Parses a canonical DER SubjectPublicKeyInfo with a 2048..=8192-bit modulus.
    pub fn try_from_spki_der(der: &[u8]) -> Result<Self, Error> {
        Self::try_from_spki_der_with(der, KeyPolicy::STRICT)
    }

    /// [`PublicKey::try_from_spki_der`] under `policy` (which may allow 1024..=2047 bits).
    pub fn try_from_spki_der_with(der: &[u8], policy: KeyPolicy) -> Result<Self, Error> {
        check_der_len(der, "public key")?;
        let key = rsa::RsaPublicKey::from_public_key_der(der).map_err(|e| Error::InvalidDer {
            key_type: NAME,
            reason: e.to_string(),
        })?;
        check_size(key.size() * 8, policy)?;
        let key = Self(key);
        if key.to_spki_der() != der {
            return Err(Error::NonCanonicalKey {
                key_type: NAME,
                reason: "DER SubjectPublicKeyInfo",
            });
        }
        Ok(key)
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.0.size() * 8
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.0
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Whether `sig` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = pkcs1v15::Signature::try_from(sig) else {
            return false;
        };
        pkcs1v15::VerifyingKey::<Sha256>::new(self.0.clone())
            .verify(msg, &sig)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rsa::PublicKey({} bits)", self.0.size() * 8)
    }
}
