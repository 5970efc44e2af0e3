//! Noise's `CipherState` and `SymmetricState` (Noise spec rev. 34, §5.1 and §5.2) for
//! `Noise_XX_25519_ChaChaPoly_SHA256`, over the primitives of `crypto.rs`. The XX tokens
//! that drive them are in `xx.rs`.
//!
//! # Why our own, not snow's
//! snow 0.10 keeps `ck` and `h` in a `Copy` struct with no zeroize (and copies it for its
//! checkpoints), and its raw split hands the keys out in plain arrays: nothing of that can
//! be wiped through its API. This file and `xx.rs` replace it (the crate already had every
//! primitive), checked byte for byte against snow itself (`tests/noise_snow_reference.rs`)
//! and against the recorded transcripts (`vectors/noise`).
//!
//! # What is wiped
//! - [`SymmetricState`] (`ck`, `h` and its [`CipherState`]) and [`CipherState`] (`k`, `n`)
//!   are `ZeroizeOnDrop`; `h` is not secret but is wiped with the rest.
//! - MixKey's HKDF outputs and Split's keys ([`SplitKeys`], `ZeroizeOnDrop`) are written
//!   into wiped buffers, never returned by value (a move leaves its source behind).
//! - The HMAC states keyed with `ck` or HKDF's temp key are sha2 states, wiped on drop
//!   (sha2's `zeroize` feature); HKDF's temp key is `Zeroizing` (`crypto.rs`).
//! - The AEAD is keyed for each operation from `k` and dropped right after (aws-lc cleanses
//!   its context on free; RustCrypto's cipher is `ZeroizeOnDrop`).
//!
//! The machine keeps its handshake state on the heap (`handshake.rs`), so moving an
//! `Initiator` or `Responder` copies a pointer, not `ck`; a failed handshake wipes its
//! state at once, not only when the machine drops.
//!
//! Not here: PSK tokens, rekey, a third HKDF output (none is used by XX).

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::crypto::{self, HASH_LEN, KEY_LEN, TAG_LEN};

/// Why the handshake state refused a step; [`Refusal::reason`] becomes
/// [`Error::Handshake`](super::Error::Handshake)'s `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// An AEAD tag did not authenticate (tampering, another prologue, other keys).
    Decrypt,
    /// A DH gave the all-zero secret: the peer sent a low-order point.
    LowOrderKey,
    /// A message too short for its tokens, or a buffer too small for what is written.
    Length,
    /// A message read or written out of XX's order (a bug of the caller of this module).
    OutOfOrder,
    /// The crypto backend refused a key, or the nonce reached 2^64 - 1.
    Backend,
}

impl Refusal {
    /// A short reason for the error's text.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Decrypt => "decryption failed",
            Self::LowOrderKey => "low-order DH public key",
            Self::Length => "message too short for its tokens",
            Self::OutOfOrder => "message out of order",
            Self::Backend => "the crypto backend refused the operation",
        }
    }
}

/// `k` and `n` (spec §5.1). `k` absent: EncryptWithAd and DecryptWithAd pass data through
/// (the spec's `empty` key; only before the first MixKey in XX).
#[derive(Default, Zeroize, ZeroizeOnDrop)]
pub(crate) struct CipherState {
    k: [u8; KEY_LEN],
    has_key: bool,
    n: u64,
}

impl CipherState {
    /// InitializeKey(key): sets `k`, `n = 0`.
    fn initialize_key(&mut self, key: &[u8; KEY_LEN]) {
        self.k.copy_from_slice(key);
        self.has_key = true;
        self.n = 0;
    }

    /// The nonce to use, or a refusal at 2^64 - 1 (reserved by the spec; XX uses 0 and 1).
    fn nonce(&self) -> Result<u64, Refusal> {
        if self.n == u64::MAX {
            return Err(Refusal::Backend);
        }
        Ok(self.n)
    }

    /// EncryptWithAd(ad, plaintext) with a key: `buf` is encrypted in place, the tag goes to
    /// `tag_out`.
    fn encrypt_with_ad(
        &mut self,
        ad: &[u8],
        buf: &mut [u8],
        tag_out: &mut [u8; TAG_LEN],
    ) -> Result<(), Refusal> {
        let tag = crypto::seal(&self.k, self.nonce()?, ad, buf).ok_or(Refusal::Backend)?;
        tag_out.copy_from_slice(&tag);
        self.n += 1;
        Ok(())
    }

    /// DecryptWithAd(ad, ciphertext) with a key: `body` (tag apart) into `out` of its
    /// length. On failure `out` is wiped and `n` stays.
    fn decrypt_with_ad(
        &mut self,
        ad: &[u8],
        body: &[u8],
        tag: &[u8],
        out: &mut [u8],
    ) -> Result<(), Refusal> {
        if !crypto::open(&self.k, self.nonce()?, ad, body, tag, out) {
            out.zeroize();
            return Err(Refusal::Decrypt);
        }
        self.n += 1;
        Ok(())
    }
}

/// The transport keys of Split() (spec §5.2): `c1` encrypts initiator -> responder, `c2`
/// the other way.
#[derive(Default, Zeroize, ZeroizeOnDrop)]
pub(crate) struct SplitKeys {
    pub(crate) c1: [u8; KEY_LEN],
    pub(crate) c2: [u8; KEY_LEN],
}

/// `ck`, `h` and the CipherState (spec §5.2).
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct SymmetricState {
    ck: [u8; HASH_LEN],
    h: [u8; HASH_LEN],
    cipher: CipherState,
}

impl SymmetricState {
    /// InitializeSymmetric(protocol_name): a name of at most HASHLEN bytes is zero-padded
    /// into `h` (ours is exactly 32), a longer one hashed; `ck = h`.
    pub(crate) fn new(protocol_name: &[u8]) -> Self {
        let mut h = [0u8; HASH_LEN];
        match h.get_mut(..protocol_name.len()) {
            Some(prefix) => prefix.copy_from_slice(protocol_name),
            None => crypto::hash(protocol_name, &mut h),
        }
        Self {
            ck: h,
            h,
            cipher: CipherState::default(),
        }
    }

    /// MixHash(data): `h = HASH(h || data)`.
    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        crypto::mix_hash(&mut self.h, data);
    }

    /// MixKey(input_key_material): `ck, temp_k = HKDF(ck, ikm, 2)`; InitializeKey(temp_k)
    /// (SHA-256's 32-byte output is exactly the cipher key, nothing to truncate).
    pub(crate) fn mix_key(&mut self, input_key_material: &[u8]) {
        let mut ck = Zeroizing::new([0u8; HASH_LEN]);
        let mut temp_k = Zeroizing::new([0u8; HASH_LEN]);
        crypto::hkdf(&self.ck, input_key_material, &mut ck, &mut temp_k);
        self.ck.copy_from_slice(&ck[..]);
        self.cipher.initialize_key(&temp_k);
    }

    /// EncryptAndHash(plaintext): writes the ciphertext (plaintext and tag, or the
    /// plaintext alone before the first MixKey) to the start of `out`; MixHash of it.
    /// Returns its length.
    pub(crate) fn encrypt_and_hash(
        &mut self,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Refusal> {
        let len = plaintext.len() + if self.cipher.has_key { TAG_LEN } else { 0 };
        let ciphertext = out.get_mut(..len).ok_or(Refusal::Length)?;
        let (body, tag) = ciphertext.split_at_mut(plaintext.len());
        body.copy_from_slice(plaintext);
        if self.cipher.has_key {
            let tag = <&mut [u8; TAG_LEN]>::try_from(tag).map_err(|_| Refusal::Length)?;
            self.cipher.encrypt_with_ad(&self.h, body, tag)?;
        }
        crypto::mix_hash(&mut self.h, ciphertext);
        Ok(len)
    }

    /// DecryptAndHash(ciphertext): the plaintext into the start of `out`; MixHash of the
    /// ciphertext. Returns the plaintext's length.
    pub(crate) fn decrypt_and_hash(
        &mut self,
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Refusal> {
        let len = if self.cipher.has_key {
            ciphertext
                .len()
                .checked_sub(TAG_LEN)
                .ok_or(Refusal::Length)?
        } else {
            ciphertext.len()
        };
        let (body, tag) = ciphertext.split_at_checked(len).ok_or(Refusal::Length)?;
        let plaintext = out.get_mut(..len).ok_or(Refusal::Length)?;
        if self.cipher.has_key {
            self.cipher.decrypt_with_ad(&self.h, body, tag, plaintext)?;
        } else {
            plaintext.copy_from_slice(body);
        }
        crypto::mix_hash(&mut self.h, ciphertext);
        Ok(len)
    }

    /// Split(): `temp_k1, temp_k2 = HKDF(ck, zerolen, 2)`, into `keys`.
    pub(crate) fn split(&self, keys: &mut SplitKeys) {
        crypto::hkdf(&self.ck, &[], &mut keys.c1, &mut keys.c2);
    }

    /// The handshake hash `h` (a channel binding once the handshake is done).
    pub(crate) fn handshake_hash(&self) -> &[u8; HASH_LEN] {
        &self.h
    }

    #[cfg(test)]
    pub(crate) fn chaining_key(&self) -> &[u8; HASH_LEN] {
        &self.ck
    }

    #[cfg(test)]
    pub(crate) fn cipher_key(&self) -> Option<&[u8; KEY_LEN]> {
        self.cipher.has_key.then_some(&self.cipher.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only for types that wipe themselves when dropped.
    fn assert_zeroize_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn every_secret_holder_wipes_itself() {
        assert_zeroize_on_drop::<CipherState>();
        assert_zeroize_on_drop::<SymmetricState>();
        assert_zeroize_on_drop::<SplitKeys>();
        // the keyed HMAC states (sha2's `zeroize` feature) and HKDF's temp key
        assert_zeroize_on_drop::<sha2::Sha256>();
        assert_zeroize_on_drop::<Zeroizing<[u8; HASH_LEN]>>();
        #[cfg(not(feature = "aws-lc-rs"))]
        assert_zeroize_on_drop::<chacha20poly1305::ChaCha20Poly1305>();
    }

    #[test]
    fn zeroize_clears_ck_h_and_k() {
        let mut s = SymmetricState::new(super::super::PROTOCOL_NAME.as_bytes());
        s.mix_hash(b"prologue");
        s.mix_key(&[7; 32]);
        let mut out = [0u8; 5 + TAG_LEN];
        assert_eq!(s.encrypt_and_hash(b"hello", &mut out), Ok(5 + TAG_LEN));
        assert_ne!(s.chaining_key(), &[0; HASH_LEN]);
        assert_ne!(s.handshake_hash(), &[0; HASH_LEN]);
        assert!(s.cipher_key().is_some_and(|k| k != &[0; KEY_LEN]));
        s.zeroize();
        assert_eq!(s.chaining_key(), &[0; HASH_LEN]);
        assert_eq!(s.handshake_hash(), &[0; HASH_LEN]);
        assert_eq!(s.cipher_key(), None);
        assert_eq!((s.cipher.k, s.cipher.n), ([0; KEY_LEN], 0));
        let mut keys = SplitKeys {
            c1: [1; 32],
            c2: [2; 32],
        };
        keys.zeroize();
        assert_eq!((keys.c1, keys.c2), ([0; 32], [0; 32]));
    }

    #[test]
    fn protocol_name_is_padded_or_hashed() {
        let name = super::super::PROTOCOL_NAME.as_bytes();
        assert_eq!(name.len(), HASH_LEN);
        let s = SymmetricState::new(name);
        assert_eq!(&s.handshake_hash()[..], name);
        assert_eq!(s.chaining_key(), s.handshake_hash());
        let short = SymmetricState::new(b"Noise_NN");
        assert_eq!(&short.handshake_hash()[..8], b"Noise_NN");
        assert_eq!(&short.handshake_hash()[8..], &[0; 24]);
        let long = [b'x'; 33];
        let mut hashed = [0u8; HASH_LEN];
        crypto::hash(&long, &mut hashed);
        assert_eq!(SymmetricState::new(&long).handshake_hash(), &hashed);
    }

    #[test]
    fn tampered_ciphertext_is_refused_and_wiped() {
        let mut a = SymmetricState::new(b"Noise_test");
        let mut b = SymmetricState::new(b"Noise_test");
        a.mix_key(b"shared");
        b.mix_key(b"shared");
        let mut ct = [0u8; 3 + TAG_LEN];
        assert_eq!(a.encrypt_and_hash(b"abc", &mut ct), Ok(ct.len()));
        ct[1] ^= 1;
        let mut out = [0xaa; 3 + TAG_LEN];
        assert_eq!(b.decrypt_and_hash(&ct, &mut out), Err(Refusal::Decrypt));
        assert_eq!(&out[..3], &[0; 3]);
        assert_eq!(
            b.decrypt_and_hash(&ct[..TAG_LEN - 1], &mut out),
            Err(Refusal::Length)
        );
    }
}
