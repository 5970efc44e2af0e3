//! ECDSA identities on NIST P-256 (p256).
//!
//! Public `Data` is a DER SubjectPublicKeyInfo with an uncompressed point (what go-libp2p
//! writes and the spec's vector shows); private `Data` is a SEC1 `ECPrivateKey` (RFC 5915).
//! Signatures are ECDSA over SHA-256 of the message, DER-encoded. Only P-256 is accepted:
//! rust-libp2p supports no other curve, so a key on another curve could not interoperate.
//! Both DER forms must be exactly the canonical encoding we would write, so the PeerId
//! (a hash of these bytes) is the same on every implementation.

use alloc::{string::ToString, vec::Vec};
use core::fmt;
use p256::ecdsa::{signature::Signer, signature::Verifier, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::der::{asn1::ObjectIdentifier, Decode};
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::Error;

const NAME: &str = "ECDSA";
/// id-ecPublicKey (RFC 5480).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / prime256v1 (RFC 5480).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// An ECDSA P-256 key pair. The scalar is zeroized on drop (p256's `SigningKey`).
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

    /// Parses private `Data`: a canonical SEC1 `ECPrivateKey` on P-256.
    pub(crate) fn from_private_data(der: &[u8]) -> Result<Self, Error> {
        let secret = p256::SecretKey::from_sec1_der(der).map_err(|e| Error::InvalidDer {
            key_type: NAME,
            reason: e.to_string(),
        })?;
        let key = Self(SigningKey::from(&secret));
        if *key.to_private_data() != *der {
            return Err(Error::NonCanonicalKey {
                key_type: NAME,
                reason: "SEC1 ECPrivateKey with curve OID and public key expected",
            });
        }
        Ok(key)
    }

    /// Private `Data`: SEC1 `ECPrivateKey` DER, wiped when dropped.
    pub(crate) fn to_private_data(&self) -> Zeroizing<Vec<u8>> {
        let secret = p256::SecretKey::from(&self.0);
        // encoding a valid in-memory key cannot fail; an empty result would be refused on
        // decoding, never silently accepted
        secret
            .to_sec1_der()
            .unwrap_or_else(|_| Zeroizing::new(Vec::new()))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// Signs SHA-256(`msg`) with RFC 6979 nonces; DER.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.0.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ecdsa::Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// An ECDSA P-256 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo holding a P-256 point.
    pub fn try_from_spki_der(der: &[u8]) -> Result<Self, Error> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| Error::InvalidDer {
            key_type: NAME,
            reason: e.to_string(),
        })?;
        if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(Error::InvalidDer {
                key_type: NAME,
                reason: "algorithm is not id-ecPublicKey".to_string(),
            });
        }
        let curve = spki
            .algorithm
            .parameters
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if curve != Some(SECP256R1) {
            return Err(Error::UnsupportedCurve);
        }
        let key = p256::PublicKey::from_public_key_der(der)
            .map_err(|_| Error::InvalidPoint { key_type: NAME })?;
        let key = Self(VerifyingKey::from(&key));
        if key.to_spki_der() != der {
            return Err(Error::NonCanonicalKey {
                key_type: NAME,
                reason: "SPKI with an uncompressed point expected",
            });
        }
        Ok(key)
    }

    /// The DER SubjectPublicKeyInfo (uncompressed point), 91 bytes.
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.0
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Whether `sig` (DER) is a valid signature of SHA-256(`msg`) by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_der(sig) else {
            return false;
        };
        self.0.verify(msg, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ecdsa::PublicKey(")?;
        for b in self.0.to_sec1_point(true).as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}
