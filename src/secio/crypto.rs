//! SECIO's primitives, all RustCrypto: the ephemeral ECDH key (drawn from a caller seed, so
//! a handshake replays), the shared secret (fixed-width X, as native rust-libp2p and Node
//! js-libp2p compute it; go strips leading zeros, see spec-notes), the key stretcher, and
//! one direction's cipher and MAC.
//!
//! Every length rule here is fixed by construction: HMACs are keyed through a block-sized
//! array (RFC 2104's own padding), the stretcher is a byte stream that fills each key of
//! its exact size, and the MAC length is the tag type's own; what cannot be fixed by type
//! is checked and fails with [`Error::Internal`], never with zeros or a panic.
//!
//! # Secrets, and how each is wiped
//! | secret | held in | wiped |
//! |---|---|---|
//! | the 32-byte seed | `Handshake::seed`, `Zeroizing<[u8; 32]>` | on drop, and as soon as the ephemeral key is drawn |
//! | the seed's HMAC-SHA512 DRBG output | [`CtOutput`] blocks gathered into a `Zeroizing<Vec<u8>>` | on drop |
//! | a candidate scalar | elliptic-curve's `SecretKey` (`ZeroizeOnDrop`) | on drop |
//! | the ephemeral scalar | [`EphemeralSecret`] (`ZeroizeOnDrop`, derived: elliptic-curve 0.14's `NonZeroScalar` is `Zeroize` but has no `Drop`) | on drop |
//! | the ECDH shared secret | elliptic-curve's `SharedSecret` (`ZeroizeOnDrop`), copied into `Zeroizing<Vec<u8>>` | on drop |
//! | HMAC key blocks (RFC 2104's padded key) | a block-sized array in [`keyed`] | right after keying |
//! | the stretcher's `A(i)` and output blocks | [`CtOutput`] (`ZeroizeOnDrop` with digest's `zeroize`) | on drop and on every overwrite |
//! | the stretched IVs, cipher and MAC keys | [`DirectionKeys`] (`ZeroizeOnDrop`) | on drop, once the session's ciphers are keyed |
//! | the session's key streams (AES/Twofish key schedules, CTR counters) | `KeyStream` over ctr, aes and twofish with their `zeroize` features (`ZeroizeOnDrop`) | on drop |
//! | keyed HMAC states (DRBG, stretcher, each direction's MAC) | hmac 0.13's `Hmac<Sha256/512>` | on drop: `Hmac` has no `Drop` of its own, but its two inner SHA-2 states wipe themselves (sha2's `zeroize` feature, on for the whole crate) |
//!
//! The unit tests assert `ZeroizeOnDrop` for each type of the table that has it. Outside
//! our reach: the transient copies the compiler makes when it moves a value, and the key
//! block hmac 0.13 pads inside `new_from_slice` (not wiped there).

use alloc::vec;
use alloc::vec::Vec;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::digest::{CtOutput, Key, OutputSizeUser};
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::algorithms::{Algorithm, Cipher, Hash, KeyExchange};
use super::{Error, NONCE_LEN};

/// IV length for every cipher (a 128-bit counter block).
pub(crate) const IV_LEN: usize = 16;
/// MAC key length, whatever the hash (a 20-byte key, a relic of SHA-1 days).
pub(crate) const MAC_KEY_LEN: usize = 20;
/// The stretcher's seed (spec).
const KEY_EXPANSION: &[u8] = b"key expansion";

/// HMAC keyed with `key`, of any length. RFC 2104 pads a key to the hash's block size and
/// hashes a longer one first; doing that here and keying through the block-sized array
/// (`KeyInit::new`) leaves no length to refuse, where `new_from_slice` returns a `Result`
/// whose error a caller would have to invent a key for. The padded block is wiped.
fn keyed<D: EagerHash>(key: &[u8]) -> Hmac<D> {
    let mut block = Key::<Hmac<D>>::default();
    if key.len() <= block.len() {
        block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
    } else {
        // SHA-256 and SHA-512 digests are shorter than their blocks (32 < 64, 64 < 128)
        let mut digest = D::digest(key);
        block
            .iter_mut()
            .zip(digest.iter())
            .for_each(|(b, k)| *b = *k);
        digest.as_mut_slice().zeroize();
    }
    let mac = <Hmac<D> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

/// An ephemeral ECDH secret on one of the three curves, wiped on drop (elliptic-curve
/// 0.14's `NonZeroScalar` implements `Zeroize` but does not call it when dropped; the
/// derive does, variant by variant).
#[derive(Zeroize, ZeroizeOnDrop)]
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
            // `SecretKey` is ZeroizeOnDrop: the candidate is wiped when it goes
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
            curve: Algorithm::name(curve),
        };
        // the spec's encoding is uncompressed; a compressed point would also decode, so
        // refuse it by its shape first
        if remote_point.len() != curve.point_len() || remote_point.first() != Some(&0x04) {
            return Err(bad);
        }
        macro_rules! dh {
            ($curve:ident, $secret:expr) => {{
                let public = $curve::PublicKey::from_sec1_bytes(remote_point).map_err(|_| bad)?;
                // `SharedSecret` is ZeroizeOnDrop; the copy is in `Zeroizing`
                let shared = $curve::ecdh::diffie_hellman($secret, public.as_affine());
                Zeroizing::new(shared.raw_secret_bytes().to_vec())
            }};
        }
        Ok(match self {
            Self::P256(s) if curve == KeyExchange::P256 => dh!(p256, s),
            Self::P384(s) if curve == KeyExchange::P384 => dh!(p384, s),
            Self::P521(s) if curve == KeyExchange::P521 => dh!(p521, s),
            _ => return Err(Error::Internal("ephemeral key on another curve")),
        })
    }
}

/// `len` bytes of HMAC-SHA512(seed, "secio ephemeral" || counter || block).
fn expand(seed: &[u8; 32], counter: u8, len: usize) -> Zeroizing<Vec<u8>> {
    let drbg = keyed::<Sha512>(seed);
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut block = 0u8;
    while out.len() < len {
        let output = drbg
            .clone()
            .chain_update(b"secio ephemeral")
            .chain_update([counter, block])
            .finalize();
        out.extend_from_slice(output.as_bytes());
        block = block.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// 16 public nonce bytes from the seed, independent of the ephemeral scalar (another
/// HMAC label).
pub(crate) fn nonce_from_seed(seed: &[u8; 32]) -> Result<[u8; NONCE_LEN], Error> {
    let output = keyed::<Sha512>(seed)
        .chain_update(b"secio nonce")
        .finalize();
    output
        .as_bytes()
        .first_chunk::<NONCE_LEN>()
        .copied()
        .ok_or(Error::Internal("HMAC-SHA512 output shorter than a nonce"))
}

/// One direction's keys out of the stretcher: IV, cipher key, MAC key. Wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct DirectionKeys {
    pub(crate) iv: [u8; IV_LEN],
    pub(crate) cipher_key: Zeroizing<Vec<u8>>,
    pub(crate) mac_key: Zeroizing<[u8; MAC_KEY_LEN]>,
}

/// The key stretcher (spec step 6, the TLS 1.0 `P_hash` shape): two halves of
/// `IV | cipher key | MAC key`, the first and the second. The halves are read from the
/// `P_hash` byte stream field by field, each filling exactly its own size, so no split
/// of a buffer can disagree with the layout; the bytes are those of the spec's
/// `2 * (16 + key_len + 20)`-byte output.
pub(crate) fn stretch(hash: Hash, cipher: Cipher, secret: &[u8]) -> (DirectionKeys, DirectionKeys) {
    fn halves<D: EagerHash>(secret: &[u8], cipher: Cipher) -> (DirectionKeys, DirectionKeys) {
        let mut stream = Stretcher::<D>::new(secret);
        let first = stream.direction(cipher);
        let second = stream.direction(cipher);
        (first, second)
    }
    match hash {
        Hash::Sha256 => halves::<Sha256>(secret, cipher),
        Hash::Sha512 => halves::<Sha512>(secret, cipher),
    }
}

/// The stretcher's output as an endless byte stream: `A(0) = H(seed)`; each block is
/// `H(A(i) || seed)`, then `A(i+1) = H(A(i))`, with `H` the HMAC keyed by the secret and
/// `seed` = "key expansion".
struct Stretcher<D: EagerHash> {
    keyed: Hmac<D>,
    a: CtOutput<Hmac<D>>,
    block: CtOutput<Hmac<D>>,
    /// Bytes of `block` already handed out (all of it before the first block).
    used: usize,
}

impl<D: EagerHash> Stretcher<D> {
    fn new(secret: &[u8]) -> Self {
        let keyed = keyed::<D>(secret);
        let a = keyed.clone().chain_update(KEY_EXPANSION).finalize();
        let block = CtOutput::new(Default::default());
        let used = block.as_bytes().len();
        Self {
            keyed,
            a,
            block,
            used,
        }
    }

    /// Fills `out` with the next bytes of the stream.
    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            // a block is a whole digest, never empty: at most one refill per byte
            let next = loop {
                if let Some(b) = self.block.as_bytes().get(self.used) {
                    break *b;
                }
                self.next_block();
            };
            self.used += 1;
            *byte = next;
        }
    }

    fn next_block(&mut self) {
        // the overwritten outputs are CtOutputs: wiped as they are dropped
        self.block = self
            .keyed
            .clone()
            .chain_update(self.a.as_bytes())
            .chain_update(KEY_EXPANSION)
            .finalize();
        self.a = self
            .keyed
            .clone()
            .chain_update(self.a.as_bytes())
            .finalize();
        self.used = 0;
    }

    /// One half of the layout: `IV(16) | CipherKey(key_len) | MacKey(20)`.
    fn direction(&mut self, cipher: Cipher) -> DirectionKeys {
        let mut keys = DirectionKeys {
            iv: [0u8; IV_LEN],
            cipher_key: Zeroizing::new(vec![0u8; cipher.key_len()]),
            mac_key: Zeroizing::new([0u8; MAC_KEY_LEN]),
        };
        self.fill(&mut keys.iv);
        self.fill(&mut keys.cipher_key);
        self.fill(&mut keys.mac_key[..]);
        keys
    }
}

/// A CTR key stream that continues across frames and is never reset (spec). Every
/// variant is ZeroizeOnDrop (ctr, aes and twofish with their `zeroize` features), which
/// the derive checks.
#[derive(ZeroizeOnDrop)]
enum KeyStream {
    Aes128(ctr::Ctr128BE<aes::Aes128>),
    Aes256(ctr::Ctr128BE<aes::Aes256>),
    Twofish(ctr::Ctr128BE<twofish::Twofish>),
}

impl KeyStream {
    fn new(cipher: Cipher, keys: &DirectionKeys) -> Result<Self, Error> {
        let bad = |_| Error::Internal("stretched cipher key of the wrong length");
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
    fn new(hash: Hash, key: &[u8]) -> Self {
        match hash {
            Hash::Sha256 => Self::Sha256(keyed::<Sha256>(key)),
            Hash::Sha512 => Self::Sha512(keyed::<Sha512>(key)),
        }
    }

    /// The tag length: the full output of this HMAC's type (32 or 64 bytes).
    fn mac_len(&self) -> usize {
        match self {
            Self::Sha256(_) => <Hmac<Sha256> as OutputSizeUser>::output_size(),
            Self::Sha512(_) => <Hmac<Sha512> as OutputSizeUser>::output_size(),
        }
    }
}

/// One direction of a session: encrypt-then-MAC out, MAC-then-decrypt in.
pub(crate) struct DirectionCipher {
    stream: KeyStream,
    tagger: Tagger,
}

impl DirectionCipher {
    pub(crate) fn new(cipher: Cipher, hash: Hash, keys: &DirectionKeys) -> Result<Self, Error> {
        Ok(Self {
            stream: KeyStream::new(cipher, keys)?,
            tagger: Tagger::new(hash, &keys.mac_key[..]),
        })
    }

    pub(crate) fn mac_len(&self) -> usize {
        self.tagger.mac_len()
    }

    /// Encrypts `body` in place and writes its MAC into `tag`, which must be
    /// [`DirectionCipher::mac_len`] bytes. On an error nothing changed: neither the buffers
    /// nor the key stream.
    pub(crate) fn seal(&mut self, body: &mut [u8], tag: &mut [u8]) -> Result<(), Error> {
        if tag.len() != self.mac_len() {
            return Err(Error::Internal("MAC slot of the wrong length"));
        }
        self.stream.apply(body);
        // `mac_len` is the output size of the tag's type: the lengths are equal
        match &self.tagger {
            Tagger::Sha256(m) => {
                tag.copy_from_slice(m.clone().chain_update(&*body).finalize().as_bytes())
            }
            Tagger::Sha512(m) => {
                tag.copy_from_slice(m.clone().chain_update(&*body).finalize().as_bytes())
            }
        }
        Ok(())
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
mod tests;
