//! SECIO's primitives, all RustCrypto: the ephemeral ECDH key (drawn from a caller seed, so
//! a handshake replays), the shared secret (fixed-width X, as native rust-libp2p and Node
//! js-libp2p compute it; go strips leading zeros, see spec-notes), the key stretcher, and
//! one direction's cipher and MAC.

use alloc::vec::Vec;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

use super::algorithms::{Cipher, Hash, KeyExchange};
use super::Error;

/// IV length for every cipher (a 128-bit counter block).
pub(crate) const IV_LEN: usize = 16;
/// MAC key length, whatever the hash (a 20-byte key, a relic of SHA-1 days).
pub(crate) const MAC_KEY_LEN: usize = 20;
/// The stretcher's seed (spec).
const KEY_EXPANSION: &[u8] = b"key expansion";

/// An ephemeral ECDH secret on one of the three curves.
pub(crate) enum EphemeralSecret {
    P256(p256::NonZeroScalar),
    P384(p384::NonZeroScalar),
    P521(p521::NonZeroScalar),
}

macro_rules! on_curve {
    ($curve:ident, $seed:expr, $len:expr) => {{
        let mut result = None;
        for counter in 0u8..=255 {
            let mut bytes = expand($seed, counter, $len);
            if $len == 66 {
                // P-521 scalars are 521 bits: keep the low bit of the top byte only
                if let Some(top) = bytes.first_mut() {
                    *top &= 0x01;
                }
            }
            if let Ok(secret) = $curve::SecretKey::from_slice(&bytes) {
                result = Some(secret.to_nonzero_scalar());
                break;
            }
        }
        result
    }};
}

impl EphemeralSecret {
    /// A secret on `curve` from a 32-byte seed: HMAC-SHA512 blocks with a counter, drawn
    /// until the bytes form a valid scalar (rejection sampling keeps it uniform).
    pub(crate) fn from_seed(curve: KeyExchange, seed: &[u8; 32]) -> Result<Self, Error> {
        let refused = Error::ApiMisuse("no valid ephemeral scalar from the seed");
        Ok(match curve {
            KeyExchange::P256 => Self::P256(on_curve!(p256, seed, 32).ok_or(refused)?),
            KeyExchange::P384 => Self::P384(on_curve!(p384, seed, 48).ok_or(refused)?),
            KeyExchange::P521 => Self::P521(on_curve!(p521, seed, 66).ok_or(refused)?),
        })
    }

    /// The uncompressed public point `04 || X || Y`.
    pub(crate) fn public_point(&self) -> Vec<u8> {
        use p256::elliptic_curve::sec1::ToSec1Point;
        match self {
            Self::P256(s) => p256::PublicKey::from_secret_scalar(s)
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Self::P384(s) => p384::PublicKey::from_secret_scalar(s)
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
            Self::P521(s) => p521::PublicKey::from_secret_scalar(s)
                .to_sec1_point(false)
                .as_bytes()
                .to_vec(),
        }
    }

    /// The shared secret with the peer's uncompressed point: its fixed-width X coordinate.
    /// The point must be on the curve and not the identity.
    pub(crate) fn agree(
        &self,
        curve: KeyExchange,
        remote_point: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let bad = Error::BadEphemeralKey {
            curve: super::algorithms::Algorithm::name(curve),
        };
        // the spec's encoding is uncompressed; a compressed point would also decode, so
        // refuse it by its shape first
        if remote_point.len() != curve.point_len() || remote_point.first() != Some(&0x04) {
            return Err(bad);
        }
        macro_rules! dh {
            ($curve:ident, $secret:expr) => {{
                let public = $curve::PublicKey::from_sec1_bytes(remote_point).map_err(|_| bad)?;
                let shared = $curve::ecdh::diffie_hellman($secret, public.as_affine());
                Zeroizing::new(shared.raw_secret_bytes().to_vec())
            }};
        }
        Ok(match self {
            Self::P256(s) if curve == KeyExchange::P256 => dh!(p256, s),
            Self::P384(s) if curve == KeyExchange::P384 => dh!(p384, s),
            Self::P521(s) if curve == KeyExchange::P521 => dh!(p521, s),
            _ => return Err(Error::ApiMisuse("ephemeral key on another curve")),
        })
    }
}

/// `len` bytes of HMAC-SHA512(seed, "secio ephemeral" || counter || block).
fn expand(seed: &[u8; 32], counter: u8, len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut block = 0u8;
    while out.len() < len {
        let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(seed)
            .unwrap_or_else(|_| <Hmac<Sha512> as KeyInit>::new(&Default::default()));
        mac.update(b"secio ephemeral");
        mac.update(&[counter, block]);
        out.extend_from_slice(&mac.finalize().into_bytes());
        block = block.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// 16 public nonce bytes from the seed, independent of the ephemeral scalar (another
/// HMAC label).
pub(crate) fn nonce_from_seed(seed: &[u8; 32]) -> [u8; 16] {
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(seed)
        .unwrap_or_else(|_| <Hmac<Sha512> as KeyInit>::new(&Default::default()));
    mac.update(b"secio nonce");
    let digest = mac.finalize().into_bytes();
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    nonce
}

/// One direction's keys out of the stretcher: IV, cipher key, MAC key.
pub(crate) struct DirectionKeys {
    pub(crate) iv: [u8; IV_LEN],
    pub(crate) cipher_key: Zeroizing<Vec<u8>>,
    pub(crate) mac_key: Zeroizing<[u8; MAC_KEY_LEN]>,
}

impl Drop for DirectionKeys {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

/// The key stretcher (spec step 6, the TLS 1.0 `P_hash` shape): two halves of
/// `IV | cipher key | MAC key`, the first and the second.
pub(crate) fn stretch(hash: Hash, cipher: Cipher, secret: &[u8]) -> (DirectionKeys, DirectionKeys) {
    let half = IV_LEN + cipher.key_len() + MAC_KEY_LEN;
    let out = match hash {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(secret, 2 * half),
        Hash::Sha512 => p_hash::<Hmac<Sha512>>(secret, 2 * half),
    };
    let split = |bytes: &[u8]| {
        let (iv, rest) = bytes.split_at(IV_LEN.min(bytes.len()));
        let (key, mac) = rest.split_at(cipher.key_len().min(rest.len()));
        let mut keys = DirectionKeys {
            iv: [0u8; IV_LEN],
            cipher_key: Zeroizing::new(key.to_vec()),
            mac_key: Zeroizing::new([0u8; MAC_KEY_LEN]),
        };
        keys.iv
            .copy_from_slice(iv.get(..IV_LEN).unwrap_or(&[0u8; IV_LEN]));
        if let Some(mac) = mac.get(..MAC_KEY_LEN) {
            keys.mac_key.copy_from_slice(mac);
        }
        keys
    };
    let (first, second) = out.split_at(half.min(out.len()));
    (split(first), split(second))
}

/// `a = H(seed)`; repeat: output `H(a || seed)`, `a = H(a)`.
pub(crate) fn p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let keyed = <M as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <M as KeyInit>::new(&Default::default()));
    let mut a = Zeroizing::new(
        keyed
            .clone()
            .chain_update(KEY_EXPANSION)
            .finalize()
            .into_bytes()
            .to_vec(),
    );
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    while out.len() < len {
        let b = keyed
            .clone()
            .chain_update(&a[..])
            .chain_update(KEY_EXPANSION)
            .finalize()
            .into_bytes();
        let take = (len - out.len()).min(b.len());
        out.extend_from_slice(b.get(..take).unwrap_or_default());
        let next = keyed.clone().chain_update(&a[..]).finalize().into_bytes();
        a.clear();
        a.extend_from_slice(&next);
    }
    out
}

/// A CTR key stream that continues across frames and is never reset (spec).
enum KeyStream {
    Aes128(ctr::Ctr128BE<aes::Aes128>),
    Aes256(ctr::Ctr128BE<aes::Aes256>),
    Twofish(ctr::Ctr128BE<twofish::Twofish>),
}

impl KeyStream {
    fn new(cipher: Cipher, keys: &DirectionKeys) -> Result<Self, Error> {
        let bad = |_| Error::ApiMisuse("stretched key of the wrong length");
        let (key, iv) = (&keys.cipher_key[..], &keys.iv[..]);
        Ok(match cipher {
            Cipher::Aes128 => Self::Aes128(KeyIvInit::new_from_slices(key, iv).map_err(bad)?),
            Cipher::Aes256 => Self::Aes256(KeyIvInit::new_from_slices(key, iv).map_err(bad)?),
            Cipher::TwofishCtr => Self::Twofish(KeyIvInit::new_from_slices(key, iv).map_err(bad)?),
        })
    }

    fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Self::Aes128(c) => c.apply_keystream(buf),
            Self::Aes256(c) => c.apply_keystream(buf),
            Self::Twofish(c) => c.apply_keystream(buf),
        }
    }
}

/// The MAC keyed once; each frame starts from a clone of the keyed state.
#[derive(Clone)]
enum Tagger {
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl Tagger {
    fn new(hash: Hash, key: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::ApiMisuse("MAC key refused");
        Ok(match hash {
            Hash::Sha256 => {
                Self::Sha256(<Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(bad)?)
            }
            Hash::Sha512 => {
                Self::Sha512(<Hmac<Sha512> as KeyInit>::new_from_slice(key).map_err(bad)?)
            }
        })
    }
}

/// One direction of a session: encrypt-then-MAC out, MAC-then-decrypt in.
pub(crate) struct DirectionCipher {
    stream: KeyStream,
    tagger: Tagger,
    mac_len: usize,
}

impl DirectionCipher {
    pub(crate) fn new(cipher: Cipher, hash: Hash, keys: &DirectionKeys) -> Result<Self, Error> {
        Ok(Self {
            stream: KeyStream::new(cipher, keys)?,
            tagger: Tagger::new(hash, &keys.mac_key[..])?,
            mac_len: hash.mac_len(),
        })
    }

    pub(crate) fn mac_len(&self) -> usize {
        self.mac_len
    }

    /// Encrypts `body` in place and writes its MAC into `tag` (`mac_len` bytes).
    pub(crate) fn seal(&mut self, body: &mut [u8], tag: &mut [u8]) {
        self.stream.apply(body);
        match &self.tagger {
            Tagger::Sha256(m) => {
                let t = m.clone().chain_update(&*body).finalize().into_bytes();
                tag.copy_from_slice(t.get(..tag.len()).unwrap_or_default());
            }
            Tagger::Sha512(m) => {
                let t = m.clone().chain_update(&*body).finalize().into_bytes();
                tag.copy_from_slice(t.get(..tag.len()).unwrap_or_default());
            }
        }
    }

    /// Checks `tag` over `body` in constant time; nothing is decrypted unless it holds.
    pub(crate) fn verify(&self, body: &[u8], tag: &[u8]) -> bool {
        match &self.tagger {
            Tagger::Sha256(m) => m.clone().chain_update(body).verify_slice(tag).is_ok(),
            Tagger::Sha512(m) => m.clone().chain_update(body).verify_slice(tag).is_ok(),
        }
    }

    /// Runs the key stream over verified ciphertext.
    pub(crate) fn decrypt(&mut self, body: &mut [u8]) {
        self.stream.apply(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretch_layout_and_lengths() {
        let (k1, k2) = stretch(Hash::Sha256, Cipher::Aes128, b"shared secret");
        assert_eq!(k1.cipher_key.len(), 16);
        assert_eq!(k2.cipher_key.len(), 16);
        // the two halves are consecutive slices of one P_hash output
        let all = p_hash::<Hmac<Sha256>>(b"shared secret", 2 * (16 + 16 + 20));
        assert_eq!(&all[..16], &k1.iv[..]);
        assert_eq!(&all[16..32], &k1.cipher_key[..]);
        assert_eq!(&all[32..52], &k1.mac_key[..]);
        assert_eq!(&all[52..68], &k2.iv[..]);
        let (k1, _) = stretch(Hash::Sha512, Cipher::Aes256, b"x");
        assert_eq!(k1.cipher_key.len(), 32);
    }

    #[test]
    fn ecdh_agrees_on_every_curve() {
        for curve in [KeyExchange::P256, KeyExchange::P384, KeyExchange::P521] {
            let a = EphemeralSecret::from_seed(curve, &[1u8; 32]).unwrap();
            let b = EphemeralSecret::from_seed(curve, &[2u8; 32]).unwrap();
            let (pa, pb) = (a.public_point(), b.public_point());
            assert_eq!(pa.len(), curve.point_len());
            let s1 = a.agree(curve, &pb).unwrap();
            let s2 = b.agree(curve, &pa).unwrap();
            assert_eq!(s1, s2);
            assert_eq!(s1.len(), curve.field_len());
        }
    }

    #[test]
    fn off_curve_and_compressed_points_are_refused() {
        let a = EphemeralSecret::from_seed(KeyExchange::P256, &[1u8; 32]).unwrap();
        let mut p = a.public_point();
        p[64] ^= 1;
        assert!(matches!(
            a.agree(KeyExchange::P256, &p),
            Err(Error::BadEphemeralKey { .. })
        ));
        let compressed = &a.public_point()[..33];
        assert!(a.agree(KeyExchange::P256, compressed).is_err());
    }

    #[test]
    fn seal_then_verify_and_decrypt() {
        let (k, _) = stretch(Hash::Sha512, Cipher::TwofishCtr, b"s");
        let mut tx = DirectionCipher::new(Cipher::TwofishCtr, Hash::Sha512, &k).unwrap();
        let mut rx = DirectionCipher::new(Cipher::TwofishCtr, Hash::Sha512, &k).unwrap();
        for msg in [&b"hello"[..], b"second frame continues the key stream"] {
            let mut body = msg.to_vec();
            let mut tag = [0u8; 64];
            tx.seal(&mut body, &mut tag);
            assert_ne!(&body[..], msg);
            assert!(rx.verify(&body, &tag));
            tag[0] ^= 1;
            assert!(!rx.verify(&body, &tag));
            rx.decrypt(&mut body);
            assert_eq!(&body[..], msg);
        }
    }
}
