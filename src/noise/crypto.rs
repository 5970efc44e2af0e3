//! The primitives snow runs the handshake with, and the transport AEAD.
//!
//! One file holds every primitive so a faster backend can replace one without touching the
//! machines. Two backends, chosen by measurement (`benches/noise.rs`):
//! - feature `aws-lc-rs` (default, needs std): X25519 and ChaCha20-Poly1305 from aws-lc-rs,
//!   measured here at 33 µs per DH against 83 µs for curve25519-dalek's Montgomery ladder,
//!   and 68 µs per 64 KiB seal+open against 96 µs for RustCrypto;
//! - otherwise (`no_std`): X25519 from curve25519-dalek (already in the tree through
//!   ed25519-dalek) and ChaCha20-Poly1305 from RustCrypto.
//!
//! SHA-256 is sha2's in both (SHA-NI when the CPU has it).
//!
//! Randomness is never drawn here: the ephemeral key's 32 bytes are drawn from the caller's
//! RNG when a handshake is created and handed to snow through [`OneShotRandom`].

use alloc::boxed::Box;
use alloc::sync::Arc;
use sha2::Digest;
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::CryptoResolver;
use snow::types::{Cipher, Dh, Hash, Random};
use zeroize::{Zeroize, Zeroizing};

/// Length of X25519 keys and of the shared secret.
pub(crate) const DH_LEN: usize = 32;
/// Length of the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// The ChaChaPoly nonce: 4 zero bytes, then the counter **little-endian** (Noise spec
/// §12.3; AESGCM is big-endian, a classic interop bug).
fn nonce_bytes(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// A static X25519 key parsed once per [`Config`](super::Config): deriving the public key
/// costs about as much as a DH, so handshakes share this one instead of redoing it.
pub(crate) struct StaticKey {
    secret: Zeroizing<[u8; DH_LEN]>,
    key: Arc<backend::X25519Key>,
}

impl StaticKey {
    pub(crate) fn new(secret: Zeroizing<[u8; DH_LEN]>) -> Option<Self> {
        let key = Arc::new(backend::X25519Key::new(&secret)?);
        Some(Self { secret, key })
    }
    pub(crate) fn public(&self) -> [u8; DH_LEN] {
        self.key.public
    }
    pub(crate) fn secret(&self) -> &[u8; DH_LEN] {
        &self.secret
    }
}

#[cfg(feature = "aws-lc-rs")]
mod backend {
    use aws_lc_rs::{aead, agreement};

    use super::{nonce_bytes, DH_LEN, TAG_LEN};

    /// An X25519 private key parsed once, used for every DH of a handshake.
    pub(super) struct X25519Key {
        key: agreement::PrivateKey,
        pub(super) public: [u8; DH_LEN],
    }

    impl X25519Key {
        pub(super) fn new(secret: &[u8; DH_LEN]) -> Option<Self> {
            let key = agreement::PrivateKey::from_private_key(&agreement::X25519, secret).ok()?;
            let public = key.compute_public_key().ok()?.as_ref().try_into().ok()?;
            Some(Self { key, public })
        }

        /// The shared secret, or `None` for an invalid or low-order peer key (aws-lc
        /// refuses an all-zero result).
        pub(super) fn dh(&self, peer: &[u8; DH_LEN], out: &mut [u8; DH_LEN]) -> Option<()> {
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
    use chacha20poly1305::aead::inout::InOutBuf;
    use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, KeyInit};
    use curve25519_dalek::MontgomeryPoint;
    use zeroize::Zeroizing;

    use super::{nonce_bytes, DH_LEN, TAG_LEN};

    /// An X25519 private key (wiped on drop).
    pub(super) struct X25519Key {
        secret: Zeroizing<[u8; DH_LEN]>,
        pub(super) public: [u8; DH_LEN],
    }

    impl X25519Key {
        pub(super) fn new(secret: &[u8; DH_LEN]) -> Option<Self> {
            let public = MontgomeryPoint::mul_base_clamped(*secret).to_bytes();
            Some(Self {
                secret: Zeroizing::new(*secret),
                public,
            })
        }

        /// The shared secret, or `None` for a low-order peer key (all-zero result).
        pub(super) fn dh(&self, peer: &[u8; DH_LEN], out: &mut [u8; DH_LEN]) -> Option<()> {
            let shared =
                Zeroizing::new(MontgomeryPoint(*peer).mul_clamped(*self.secret).to_bytes());
            if shared.iter().all(|&b| b == 0) {
                return None;
            }
            out.copy_from_slice(&shared[..]);
            Some(())
        }
    }

    /// ChaCha20-Poly1305 (the key is zeroized on drop).
    pub(super) struct Aead(ChaCha20Poly1305);

    impl Aead {
        pub(super) fn new(key: &[u8; 32]) -> Option<Self> {
            Some(Self(ChaCha20Poly1305::new(&(*key).into())))
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

/// Resolves `Noise_XX_25519_ChaChaPoly_SHA256` to our primitives; nothing else.
pub(crate) struct Resolver {
    pub(crate) ephemeral_secret: Zeroizing<[u8; DH_LEN]>,
    pub(crate) static_key: Arc<StaticKey>,
}

impl CryptoResolver for Resolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(OneShotRandom {
            bytes: self.ephemeral_secret.clone(),
            used: false,
        }))
    }
    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        matches!(choice, DHChoice::Curve25519).then(|| {
            Box::new(X25519 {
                known_static: Some(self.static_key.clone()),
                ..X25519::default()
            }) as Box<dyn Dh>
        })
    }
    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        matches!(choice, HashChoice::SHA256).then(|| Box::new(Sha256::default()) as Box<dyn Hash>)
    }
    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        matches!(choice, CipherChoice::ChaChaPoly)
            .then(|| Box::new(ChaChaPoly::default()) as Box<dyn Cipher>)
    }
}

/// Hands snow exactly the 32 bytes drawn from the caller's RNG at construction (XX draws
/// randomness once: the ephemeral key). A second request is an error, never a repeat.
struct OneShotRandom {
    bytes: Zeroizing<[u8; DH_LEN]>,
    used: bool,
}

impl Random for OneShotRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        if self.used || dest.len() != DH_LEN {
            return Err(snow::Error::Rng);
        }
        dest.copy_from_slice(&self.bytes[..]);
        self.bytes.zeroize();
        self.used = true;
        Ok(())
    }
}

/// X25519 key pair for snow; the secret is wiped on drop.
#[derive(Default)]
struct X25519 {
    secret: Zeroizing<[u8; DH_LEN]>,
    key: Option<Arc<backend::X25519Key>>,
    /// The config's static key: `set` with its secret reuses the parsed key.
    known_static: Option<Arc<StaticKey>>,
}

impl Dh for X25519 {
    fn name(&self) -> &'static str {
        "25519"
    }
    fn pub_len(&self) -> usize {
        DH_LEN
    }
    fn priv_len(&self) -> usize {
        DH_LEN
    }
    fn set(&mut self, privkey: &[u8]) {
        if let Ok(secret) = <[u8; DH_LEN]>::try_from(privkey) {
            *self.secret = secret;
            self.key = match &self.known_static {
                // both sides of the comparison are our own secret: nothing for a peer to time
                Some(k) if k.secret[..] == secret[..] => Some(k.key.clone()),
                _ => backend::X25519Key::new(&secret).map(Arc::new),
            };
        }
    }
    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        rng.try_fill_bytes(&mut self.secret[..])?;
        self.key = backend::X25519Key::new(&self.secret).map(Arc::new);
        self.key.as_ref().map(drop).ok_or(snow::Error::Dh)
    }
    fn pubkey(&self) -> &[u8] {
        self.key.as_ref().map_or(&[], |k| &k.public[..])
    }
    fn privkey(&self) -> &[u8] {
        &self.secret[..]
    }
    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        // snow hands over its MAXDHLEN-sized buffer; the key is the first 32 bytes
        let pk = pubkey
            .get(..DH_LEN)
            .and_then(|k| <[u8; DH_LEN]>::try_from(k).ok());
        let out = out
            .get_mut(..DH_LEN)
            .and_then(|o| <&mut [u8; DH_LEN]>::try_from(o).ok());
        let (Some(pk), Some(out), Some(key)) = (pk, out, self.key.as_ref()) else {
            return Err(snow::Error::Dh);
        };
        // A low-order public key gives an all-zero secret; go-libp2p's X25519 refuses it
        // too, so refusing keeps the handshake contributory without hurting interop.
        key.dh(&pk, out).ok_or(snow::Error::Dh)
    }
}

/// ChaCha20-Poly1305 for the handshake's CipherState.
#[derive(Default)]
struct ChaChaPoly {
    aead: Option<backend::Aead>,
}

impl Cipher for ChaChaPoly {
    fn name(&self) -> &'static str {
        "ChaChaPoly"
    }
    fn set(&mut self, key: &[u8; 32]) {
        self.aead = backend::Aead::new(key);
    }
    fn encrypt(
        &self,
        nonce_value: u64,
        authtext: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> usize {
        let len = plaintext.len();
        let Some((body, rest)) = out.split_at_mut_checked(len) else {
            return 0;
        };
        let (Some(tag_out), Some(aead)) = (rest.get_mut(..TAG_LEN), self.aead.as_ref()) else {
            return 0;
        };
        body.copy_from_slice(plaintext);
        match aead.seal(nonce_value, authtext, body) {
            Some(tag) => {
                tag_out.copy_from_slice(&tag);
                len + TAG_LEN
            }
            None => 0,
        }
    }
    fn decrypt(
        &self,
        nonce_value: u64,
        authtext: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, snow::Error> {
        let len = ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(snow::Error::Decrypt)?;
        let (body, tag) = ciphertext.split_at(len);
        let out = out.get_mut(..len).ok_or(snow::Error::Decrypt)?;
        let aead = self.aead.as_ref().ok_or(snow::Error::Decrypt)?;
        if aead.open_to(nonce_value, authtext, body, tag, out) {
            Ok(len)
        } else {
            out.zeroize();
            Err(snow::Error::Decrypt)
        }
    }
}

/// SHA-256 for snow's SymmetricState, with HMAC and HKDF of its own: snow's defaults
/// rebuild the padded key blocks for each of HKDF's three HMACs under one key; here the
/// hash states after the inner and outer pad are made once per key and cloned (10
/// compressions per two-output HKDF instead of 12; same bytes, RFC 2104 / 5869).
#[derive(Default)]
struct Sha256(sha2::Sha256);

/// SHA-256's block length.
const BLOCK_LEN: usize = 64;
/// SHA-256's output length.
const HASH_LEN: usize = 32;

/// HMAC-SHA256 keyed once: the states after absorbing `key ^ ipad` and `key ^ opad`.
struct HmacKey {
    inner: sha2::Sha256,
    outer: sha2::Sha256,
}

impl HmacKey {
    fn new(key: &[u8]) -> Self {
        let mut block = Zeroizing::new([0u8; BLOCK_LEN]);
        if key.len() > BLOCK_LEN {
            block[..HASH_LEN].copy_from_slice(&sha2::Sha256::digest(key));
        } else if let Some(b) = block.get_mut(..key.len()) {
            b.copy_from_slice(key);
        }
        let mut pad = Zeroizing::new([0u8; BLOCK_LEN]);
        for (p, k) in pad.iter_mut().zip(block.iter()) {
            *p = k ^ 0x36;
        }
        let inner = sha2::Sha256::new_with_prefix(&pad[..]);
        for (p, k) in pad.iter_mut().zip(block.iter()) {
            *p = k ^ 0x5c;
        }
        let outer = sha2::Sha256::new_with_prefix(&pad[..]);
        Self { inner, outer }
    }

    /// HMAC of the concatenation of `parts`, into the first 32 bytes of `out`.
    fn mac(&self, parts: &[&[u8]], out: &mut [u8]) {
        let mut inner = self.inner.clone();
        for p in parts {
            inner.update(p);
        }
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        if let Some(out) = out.get_mut(..HASH_LEN) {
            out.copy_from_slice(&outer.finalize());
        }
    }
}

impl Hash for Sha256 {
    fn name(&self) -> &'static str {
        "SHA256"
    }
    fn block_len(&self) -> usize {
        64
    }
    fn hash_len(&self) -> usize {
        32
    }
    fn reset(&mut self) {
        self.0 = sha2::Sha256::new();
    }
    fn input(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn result(&mut self, out: &mut [u8]) {
        let digest = core::mem::take(&mut self.0).finalize();
        if let Some(out) = out.get_mut(..32) {
            out.copy_from_slice(&digest);
        }
    }
    fn hmac(&mut self, key: &[u8], data: &[u8], out: &mut [u8]) {
        HmacKey::new(key).mac(&[data], out);
    }
    fn hkdf(
        &mut self,
        chaining_key: &[u8],
        input_key_material: &[u8],
        outputs: usize,
        out1: &mut [u8],
        out2: &mut [u8],
        out3: &mut [u8],
    ) {
        // Noise spec §4.3: temp_key = HMAC(ck, ikm); out_i = HMAC(temp_key, out_{i-1} || i)
        let mut temp_key = Zeroizing::new([0u8; HASH_LEN]);
        HmacKey::new(chaining_key).mac(&[input_key_material], &mut temp_key[..]);
        let key = HmacKey::new(&temp_key[..]);
        key.mac(&[&[1]], out1);
        if outputs == 1 {
            return;
        }
        let prev = out1.get(..HASH_LEN).unwrap_or_default();
        key.mac(&[prev, &[2]], out2);
        if outputs == 2 {
            return;
        }
        let prev = out2.get(..HASH_LEN).unwrap_or_default();
        key.mac(&[prev, &[3]], out3);
    }
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
}
