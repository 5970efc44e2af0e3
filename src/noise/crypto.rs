//! Every primitive of the Noise layer: X25519, ChaCha20-Poly1305, SHA-256 with the HMAC and
//! HKDF of Noise spec §4.3, and the transport AEAD. The handshake's state machine over
//! them is `symmetric.rs` (spec §5.1-5.2) and `xx.rs` (§5.3, the XX pattern).
//!
//! One file holds every primitive so a faster backend can replace one without touching the
//! machines. Two backends, chosen by measurement (`benches/noise.rs`):
//! - feature `aws-lc-rs` (default, needs std): X25519 and ChaCha20-Poly1305 from aws-lc-rs,
//!   measured here at 33 µs per DH against 83 µs for curve25519-dalek's Montgomery ladder,
//!   and 68 µs per 64 KiB seal+open against 96 µs for RustCrypto;
//! - otherwise (`no_std`): X25519 from curve25519-dalek (already in the tree through
//!   ed25519-dalek) and ChaCha20-Poly1305 from RustCrypto.
//!
//! SHA-256 is sha2's in both (SHA-NI when the CPU has it), built with its `zeroize`
//! feature: a hash state (the keyed HMAC states below among them) is wiped when dropped.
//!
//! What holds a secret and how it is wiped: aws-lc keeps X25519 private keys and AEAD
//! contexts in its own allocations, and its `OPENSSL_free` cleanses every allocation it
//! frees; aws-lc-rs hands the shared secret over in a `Zeroizing` buffer. On the RustCrypto
//! side the X25519 secret is `Zeroizing` on the heap and the cipher is `ZeroizeOnDrop` (its
//! `zeroize` feature). Everything computed here (shared secrets, HMAC keys and outputs) is written into
//! buffers the caller owns, which are `Zeroizing` or fields of `ZeroizeOnDrop` types.
//!
//! Randomness is never drawn here: the ephemeral key's 32 bytes come from the caller's RNG
//! when a handshake is created.

use sha2::Digest;
use zeroize::Zeroizing;

/// Length of X25519 keys and of the shared secret.
pub(crate) const DH_LEN: usize = 32;
/// Length of the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// SHA-256's output length (Noise's HASHLEN).
pub(crate) const HASH_LEN: usize = 32;
/// ChaCha20-Poly1305's key length.
pub(crate) const KEY_LEN: usize = 32;
/// SHA-256's block length (Noise's BLOCKLEN).
const BLOCK_LEN: usize = 64;

/// The ChaChaPoly nonce: 4 zero bytes, then the counter **little-endian** (Noise spec
/// §12.3; AESGCM is big-endian, a classic interop bug).
fn nonce_bytes(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// A static X25519 key parsed once per [`Config`](super::Config): deriving the public key
/// costs about as much as a DH, so handshakes share this one instead of redoing it.
pub(crate) struct StaticKey(X25519Key);

impl StaticKey {
    /// Parses the secret; the caller's copy is wiped when it drops.
    pub(crate) fn new(secret: Zeroizing<[u8; DH_LEN]>) -> Option<Self> {
        X25519Key::new(&secret).map(Self)
    }
    pub(crate) fn public(&self) -> [u8; DH_LEN] {
        self.0.public
    }
    pub(crate) fn key(&self) -> &X25519Key {
        &self.0
    }
}

pub(crate) use backend::X25519Key;

#[cfg(feature = "aws-lc-rs")]
mod backend {
    use aws_lc_rs::{aead, agreement};

    use super::{nonce_bytes, DH_LEN, TAG_LEN};

    /// An X25519 private key parsed once, used for every DH of a handshake.
    pub(crate) struct X25519Key {
        key: agreement::PrivateKey,
        pub(crate) public: [u8; DH_LEN],
    }

    impl X25519Key {
        pub(crate) fn new(secret: &[u8; DH_LEN]) -> Option<Self> {
            let key = agreement::PrivateKey::from_private_key(&agreement::X25519, secret).ok()?;
            let public = key.compute_public_key().ok()?.as_ref().try_into().ok()?;
            Some(Self { key, public })
        }

        /// The shared secret, or `None` for an invalid or low-order peer key (aws-lc
        /// refuses an all-zero result).
        pub(crate) fn dh(&self, peer: &[u8; DH_LEN], out: &mut [u8; DH_LEN]) -> Option<()> {
            let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
            agreement::agree(&self.key, peer, (), |s| {
                let s: &[u8; DH_LEN] = s.try_into().map_err(drop)?;
                out.copy_from_slice(s);
                Ok(())
            })
            .ok()
        }
    }

    /// ChaCha20-Poly1305 with its key schedule done once.
    pub(super) struct Aead(aead::LessSafeKey);

    impl Aead {
        pub(super) fn new(key: &[u8; 32]) -> Option<Self> {
            let key = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, key).ok()?;
            Some(Self(aead::LessSafeKey::new(key)))
        }

        pub(super) fn seal(
            &self,
            counter: u64,
            ad: &[u8],
            buf: &mut [u8],
        ) -> Option<[u8; TAG_LEN]> {
            let nonce = aead::Nonce::assume_unique_for_key(nonce_bytes(counter));
            let tag = self
                .0
                .seal_in_place_separate_tag(nonce, aead::Aad::from(ad), buf)
                .ok()?;
            tag.as_ref().try_into().ok()
        }

        /// Decrypts `ciphertext` (tag separate) into `out` of the same length.
        pub(super) fn open_to(
            &self,
            counter: u64,
            ad: &[u8],
            ciphertext: &[u8],
            tag: &[u8],
            out: &mut [u8],
        ) -> bool {
            let nonce = aead::Nonce::assume_unique_for_key(nonce_bytes(counter));
            self.0
                .open_separate_gather(nonce, aead::Aad::from(ad), ciphertext, tag, out)
                .is_ok()
        }

        /// Decrypts `body || tag` in place; the plaintext is `body`. The tag is passed
        /// apart (`open_in_place_separate_tag`): `open_in_place` would go through
        /// `open_within`, which ends with a `copy_within` of the whole plaintext onto itself.
        pub(super) fn open_in_place(
            &self,
            counter: u64,
            ad: &[u8],
            body_and_tag: &mut [u8],
        ) -> bool {
            let Some(split) = body_and_tag.len().checked_sub(TAG_LEN) else {
                return false;
            };
            let (body, tag) = body_and_tag.split_at_mut(split);
            let nonce = aead::Nonce::assume_unique_for_key(nonce_bytes(counter));
            self.0
                .open_in_place_separate_tag(nonce, aead::Aad::from(ad), tag, body)
                .is_ok()
        }
    }
}

#[cfg(not(feature = "aws-lc-rs"))]
mod backend {
    use alloc::boxed::Box;
    use chacha20poly1305::aead::inout::InOutBuf;
    use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, KeyInit};
    use curve25519_dalek::MontgomeryPoint;
    use zeroize::Zeroizing;

    use super::{nonce_bytes, DH_LEN, TAG_LEN};

    /// An X25519 private key, wiped on drop. The secret is on the heap, filled in place,
    /// as aws-lc's is: moving the key (into the boxed handshake state, with a `Config`)
    /// copies a pointer, never the secret.
    pub(crate) struct X25519Key {
        secret: Box<Zeroizing<[u8; DH_LEN]>>,
        pub(crate) public: [u8; DH_LEN],
    }

    impl X25519Key {
        pub(crate) fn new(secret: &[u8; DH_LEN]) -> Option<Self> {
            let public = MontgomeryPoint::mul_base_clamped(*secret).to_bytes();
            let mut boxed = Box::new(Zeroizing::new([0u8; DH_LEN]));
            boxed.copy_from_slice(secret);
            Some(Self {
                secret: boxed,
                public,
            })
        }

        /// The shared secret, or `None` for a low-order peer key (all-zero result).
        pub(crate) fn dh(&self, peer: &[u8; DH_LEN], out: &mut [u8; DH_LEN]) -> Option<()> {
            // straight into the caller's (wiped) buffer: no copy of the secret left here
            *out = MontgomeryPoint(*peer).mul_clamped(**self.secret).to_bytes();
            if out.iter().all(|&b| b == 0) {
                return None;
            }
            Some(())
        }
    }

    /// ChaCha20-Poly1305 (the key is zeroized on drop).
    pub(super) struct Aead(ChaCha20Poly1305);

    impl Aead {
        pub(super) fn new(key: &[u8; 32]) -> Option<Self> {
            Some(Self(ChaCha20Poly1305::new(key.into())))
        }

        pub(super) fn seal(
            &self,
            counter: u64,
            ad: &[u8],
            buf: &mut [u8],
        ) -> Option<[u8; TAG_LEN]> {
            self.0
                .encrypt_inout_detached(&nonce_bytes(counter).into(), ad, InOutBuf::from(buf))
                .ok()
                .map(Into::into)
        }

        pub(super) fn open_to(
            &self,
            counter: u64,
            ad: &[u8],
            ciphertext: &[u8],
            tag: &[u8],
            out: &mut [u8],
        ) -> bool {
            let (Ok(tag), true) = (
                chacha20poly1305::Tag::try_from(tag),
                out.len() == ciphertext.len(),
            ) else {
                return false;
            };
            out.copy_from_slice(ciphertext);
            self.0
                .decrypt_inout_detached(&nonce_bytes(counter).into(), ad, InOutBuf::from(out), &tag)
                .is_ok()
        }

        pub(super) fn open_in_place(
            &self,
            counter: u64,
            ad: &[u8],
            body_and_tag: &mut [u8],
        ) -> bool {
            let Some(split) = body_and_tag.len().checked_sub(TAG_LEN) else {
                return false;
            };
            let (body, tag) = body_and_tag.split_at_mut(split);
            let Ok(tag) = chacha20poly1305::Tag::try_from(&*tag) else {
                return false;
            };
            self.0
                .decrypt_inout_detached(
                    &nonce_bytes(counter).into(),
                    ad,
                    InOutBuf::from(body),
                    &tag,
                )
                .is_ok()
        }
    }
}

/// Encrypts `buf` in place under `key` (one use: the handshake's keys serve one or two
/// messages, so no key schedule is kept); returns the tag.
pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    counter: u64,
    ad: &[u8],
    buf: &mut [u8],
) -> Option<[u8; TAG_LEN]> {
    backend::Aead::new(key)?.seal(counter, ad, buf)
}

/// Decrypts `ciphertext` (its tag apart) into `out` of the same length; `false` if the tag
/// does not authenticate it (then `out` holds nothing to use).
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    counter: u64,
    ad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
    out: &mut [u8],
) -> bool {
    backend::Aead::new(key).is_some_and(|a| a.open_to(counter, ad, ciphertext, tag, out))
}

/// `out = SHA-256(data)`.
pub(crate) fn hash(data: &[u8], out: &mut [u8; HASH_LEN]) {
    sha2::Sha256::new_with_prefix(data).finalize_into(out.into());
}

/// `h = SHA-256(h || data)`: Noise's MixHash (spec §5.2).
pub(crate) fn mix_hash(h: &mut [u8; HASH_LEN], data: &[u8]) {
    let mut hasher = sha2::Sha256::new_with_prefix(&h[..]);
    hasher.update(data);
    hasher.finalize_into(h.into());
}

/// HMAC-SHA256 keyed once: the states after absorbing `key ^ ipad` and `key ^ opad`
/// (RFC 2104), cloned for each MAC under that key. HKDF makes three MACs under one key; a
/// from-scratch HMAC would rebuild the padded blocks each time (10 compressions per
/// two-output HKDF instead of 12; same bytes). Both states are wiped on drop (sha2's
/// `zeroize`), and so is every clone.
struct HmacKey {
    inner: sha2::Sha256,
    outer: sha2::Sha256,
}

impl HmacKey {
    /// Noise only keys HMAC with HASHLEN-byte keys (a chaining key or HKDF's temp key), so
    /// a key never needs hashing down to the block length.
    fn new(key: &[u8; HASH_LEN]) -> Self {
        let mut pad = Zeroizing::new([0u8; BLOCK_LEN]);
        let padded = |pad: &mut [u8; BLOCK_LEN], byte: u8| {
            pad.fill(byte);
            for (p, k) in pad.iter_mut().zip(key) {
                *p ^= k;
            }
        };
        padded(&mut pad, 0x36);
        let inner = sha2::Sha256::new_with_prefix(&pad[..]);
        padded(&mut pad, 0x5c);
        let outer = sha2::Sha256::new_with_prefix(&pad[..]);
        Self { inner, outer }
    }

    /// HMAC of the concatenation of `parts`, into `out`.
    fn mac(&self, parts: &[&[u8]], out: &mut [u8; HASH_LEN]) {
        let mut inner = self.inner.clone();
        for p in parts {
            inner.update(p);
        }
        let mut inner_hash = Zeroizing::new([0u8; HASH_LEN]);
        inner.finalize_into((&mut *inner_hash).into());
        let mut outer = self.outer.clone();
        outer.update(&inner_hash[..]);
        outer.finalize_into(out.into());
    }
}

/// Noise's HKDF with two outputs (spec §4.3, RFC 5869 with the chaining key as salt):
/// `temp_key = HMAC(ck, ikm)`, `out1 = HMAC(temp_key, 0x01)`,
/// `out2 = HMAC(temp_key, out1 || 0x02)`. XX never needs the third output (PSK patterns do).
pub(crate) fn hkdf(
    chaining_key: &[u8; HASH_LEN],
    input_key_material: &[u8],
    out1: &mut [u8; HASH_LEN],
    out2: &mut [u8; HASH_LEN],
) {
    let mut temp_key = Zeroizing::new([0u8; HASH_LEN]);
    HmacKey::new(chaining_key).mac(&[input_key_material], &mut temp_key);
    let key = HmacKey::new(&temp_key);
    key.mac(&[&[1]], out1);
    key.mac(&[&out1[..], &[2]], out2);
}

/// The transport AEAD with its key set once (no per-frame key schedule).
pub(crate) struct TransportCipher(Option<backend::Aead>);

impl TransportCipher {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(backend::Aead::new(key))
    }

    /// Encrypts `buf` in place with empty associated data; returns the tag.
    pub(crate) fn seal(&self, counter: u64, buf: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        self.0.as_ref()?.seal(counter, &[], buf)
    }

    /// Decrypts `body || tag` in place if the tag authenticates it; `false` leaves bytes
    /// the caller must not use.
    pub(crate) fn open(&self, counter: u64, body_and_tag: &mut [u8]) -> bool {
        self.0
            .as_ref()
            .is_some_and(|a| a.open_in_place(counter, &[], body_and_tag))
    }

    /// Decrypts `ciphertext` (its tag apart) into `out` of the same length if the tag
    /// authenticates it (aws-lc-rs reads the input and writes `out` in one pass; the pure
    /// Rust backend copies, then decrypts in place); `false` leaves bytes the caller must
    /// not use.
    pub(crate) fn open_to(
        &self,
        counter: u64,
        ciphertext: &[u8],
        tag: &[u8],
        out: &mut [u8],
    ) -> bool {
        self.0
            .as_ref()
            .is_some_and(|a| a.open_to(counter, &[], ciphertext, tag, out))
    }
}
