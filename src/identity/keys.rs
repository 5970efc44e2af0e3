//! [`PublicKey`] and [`Keypair`]: one type for every key type, with the libp2p protobuf
//! encoding and the signature rule of each type.

use alloc::vec::Vec;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

#[cfg(feature = "rsa")]
use super::rsa;
use super::{ecdsa, ed25519, proto, secp256k1, Error, KeyPolicy, KeyType, PeerId};

/// A libp2p public key of any supported type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// Ed25519.
    Ed25519(ed25519::PublicKey),
    /// Secp256k1.
    Secp256k1(secp256k1::PublicKey),
    /// ECDSA on P-256.
    Ecdsa(ecdsa::PublicKey),
    /// RSA (feature `rsa`).
    #[cfg(feature = "rsa")]
    Rsa(rsa::PublicKey),
}

impl PublicKey {
    /// Decodes the `PublicKey` protobuf strictly (see [`Error`] for each rule).
    pub fn try_decode_protobuf(bytes: &[u8]) -> Result<Self, Error> {
        Self::try_decode_protobuf_with(bytes, KeyPolicy::STRICT)
    }

    /// [`PublicKey::try_decode_protobuf`] under `policy`: what a handshake applies to the
    /// key a peer proves itself with.
    pub fn try_decode_protobuf_with(bytes: &[u8], policy: KeyPolicy) -> Result<Self, Error> {
        let (key_type, data) = proto::decode(bytes)?;
        Self::try_from_data_with(key_type, data, policy)
    }

    /// Builds a key from its type and the `Data` field.
    pub fn try_from_data(key_type: KeyType, data: &[u8]) -> Result<Self, Error> {
        Self::try_from_data_with(key_type, data, KeyPolicy::STRICT)
    }

    /// [`PublicKey::try_from_data`] under `policy`.
    pub fn try_from_data_with(
        key_type: KeyType,
        data: &[u8],
        policy: KeyPolicy,
    ) -> Result<Self, Error> {
        let _ = policy;
        match key_type {
            KeyType::Ed25519 => ed25519::PublicKey::try_from_bytes(data).map(Self::Ed25519),
            KeyType::Secp256k1 => secp256k1::PublicKey::try_from_bytes(data).map(Self::Secp256k1),
            KeyType::Ecdsa => ecdsa::PublicKey::try_from_spki_der(data).map(Self::Ecdsa),
            #[cfg(feature = "rsa")]
            KeyType::Rsa => rsa::PublicKey::try_from_spki_der_with(data, policy).map(Self::Rsa),
            #[cfg(not(feature = "rsa"))]
            KeyType::Rsa => Err(Error::UnsupportedKeyType("RSA")),
        }
    }

    /// The deterministic `PublicKey` protobuf: what PeerIds hash and handshakes carry.
    pub fn encode_protobuf(&self) -> Vec<u8> {
        proto::encode(self.key_type(), &self.data())
    }

    /// The `Data` field: the key in its type's encoding.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(k) => k.to_bytes().to_vec(),
            Self::Secp256k1(k) => k.to_bytes().to_vec(),
            Self::Ecdsa(k) => k.to_spki_der(),
            #[cfg(feature = "rsa")]
            Self::Rsa(k) => k.to_spki_der(),
        }
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        match self {
            Self::Ed25519(_) => KeyType::Ed25519,
            Self::Secp256k1(_) => KeyType::Secp256k1,
            Self::Ecdsa(_) => KeyType::Ecdsa,
            #[cfg(feature = "rsa")]
            Self::Rsa(_) => KeyType::Rsa,
        }
    }

    /// Whether `sig` is a valid signature of `msg` by this key, by the rule of its type
    /// (see the module of each type).
    #[must_use]
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Ed25519(k) => k.verify(msg, sig),
            Self::Secp256k1(k) => k.verify(msg, sig),
            Self::Ecdsa(k) => k.verify(msg, sig),
            #[cfg(feature = "rsa")]
            Self::Rsa(k) => k.verify(msg, sig),
        }
    }

    /// The PeerId of this key.
    pub fn to_peer_id(&self) -> PeerId {
        PeerId::from_public_key(self)
    }
}

/// A libp2p identity key pair of any supported type. Secrets are zeroized on drop, and
/// `Debug` shows only the public half.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Keypair {
    /// Ed25519.
    Ed25519(ed25519::Keypair),
    /// Secp256k1.
    Secp256k1(secp256k1::Keypair),
    /// ECDSA on P-256.
    Ecdsa(ecdsa::Keypair),
    /// RSA (feature `rsa`; parsed from storage, never generated).
    #[cfg(feature = "rsa")]
    Rsa(rsa::Keypair),
}

impl Keypair {
    /// A fresh key pair of `key_type` from the caller's random number generator.
    /// RSA keys are not generated (use Ed25519 for new identities).
    pub fn generate<R: CryptoRng + ?Sized>(key_type: KeyType, rng: &mut R) -> Result<Self, Error> {
        match key_type {
            KeyType::Ed25519 => Ok(Self::Ed25519(ed25519::Keypair::generate(rng))),
            KeyType::Secp256k1 => Ok(Self::Secp256k1(secp256k1::Keypair::generate(rng))),
            KeyType::Ecdsa => Ok(Self::Ecdsa(ecdsa::Keypair::generate(rng))),
            KeyType::Rsa => Err(Error::UnsupportedKeyType("RSA (generation)")),
        }
    }

    /// A fresh key pair of `key_type` from the operating system's random number generator.
    #[cfg(feature = "std")]
    pub fn generate_with_os_rng(key_type: KeyType) -> Result<Self, Error> {
        // Draw the secret ourselves so an OS failure becomes an error, not a panic.
        // A uniformly random 32-byte string is a valid P-256 / secp256k1 scalar except
        // with probability below 2^-32; a few draws make failure unobservable.
        for _ in 0..8 {
            let mut secret = Zeroizing::new([0u8; 32]);
            getrandom::fill(&mut secret[..]).map_err(|_| Error::RandomnessUnavailable)?;
            let made = match key_type {
                KeyType::Ed25519 => Ok(Self::Ed25519(ed25519::Keypair::from_seed(&mut secret))),
                KeyType::Secp256k1 => {
                    secp256k1::Keypair::try_from_scalar(&secret[..]).map(Self::Secp256k1)
                }
                KeyType::Ecdsa => ecdsa::Keypair::try_from_scalar(&secret[..]).map(Self::Ecdsa),
                KeyType::Rsa => return Err(Error::UnsupportedKeyType("RSA (generation)")),
            };
            if let Ok(k) = made {
                return Ok(k);
            }
        }
        Err(Error::RandomnessUnavailable)
    }

    /// Decodes the `PrivateKey` protobuf (the on-disk storage format) strictly.
    pub fn try_decode_protobuf(bytes: &[u8]) -> Result<Self, Error> {
        let (key_type, data) = proto::decode(bytes)?;
        match key_type {
            KeyType::Ed25519 => ed25519::Keypair::from_private_data(data).map(Self::Ed25519),
            KeyType::Secp256k1 => secp256k1::Keypair::try_from_scalar(data).map(Self::Secp256k1),
            KeyType::Ecdsa => ecdsa::Keypair::from_private_data(data).map(Self::Ecdsa),
            #[cfg(feature = "rsa")]
            KeyType::Rsa => rsa::Keypair::from_private_data(data).map(Self::Rsa),
            #[cfg(not(feature = "rsa"))]
            KeyType::Rsa => Err(Error::UnsupportedKeyType("RSA")),
        }
    }

    /// The `PrivateKey` protobuf, wiped when dropped.
    pub fn encode_protobuf(&self) -> Zeroizing<Vec<u8>> {
        let data = match self {
            Self::Ed25519(k) => k.to_private_data(),
            Self::Secp256k1(k) => k.to_private_data(),
            Self::Ecdsa(k) => k.to_private_data(),
            #[cfg(feature = "rsa")]
            Self::Rsa(k) => k.to_private_data(),
        };
        Zeroizing::new(proto::encode(self.key_type(), &data))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        match self {
            Self::Ed25519(k) => PublicKey::Ed25519(k.public()),
            Self::Secp256k1(k) => PublicKey::Secp256k1(k.public()),
            Self::Ecdsa(k) => PublicKey::Ecdsa(k.public()),
            #[cfg(feature = "rsa")]
            Self::Rsa(k) => PublicKey::Rsa(k.public()),
        }
    }

    /// The PeerId of this identity.
    pub fn peer_id(&self) -> PeerId {
        self.public().to_peer_id()
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        match self {
            Self::Ed25519(_) => KeyType::Ed25519,
            Self::Secp256k1(_) => KeyType::Secp256k1,
            Self::Ecdsa(_) => KeyType::Ecdsa,
            #[cfg(feature = "rsa")]
            Self::Rsa(_) => KeyType::Rsa,
        }
    }

    /// Signs `msg` by the rule of the key type. Only RSA can fail.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            Self::Ed25519(k) => Ok(k.sign(msg).to_vec()),
            Self::Secp256k1(k) => Ok(k.sign(msg)),
            Self::Ecdsa(k) => Ok(k.sign(msg)),
            #[cfg(feature = "rsa")]
            Self::Rsa(k) => k.sign(msg),
        }
    }
}
