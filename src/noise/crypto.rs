//! The primitives snow runs the handshake with, and the transport AEAD.
//!
//! One file holds every primitive so a faster backend can replace one without touching the
//! machines. Today: X25519 from curve25519-dalek (already in the tree through
//! ed25519-dalek), ChaCha20-Poly1305 from RustCrypto, SHA-256 from sha2: all `no_std`.
//! Randomness is never drawn here: the ephemeral key's 32 bytes are drawn from the caller's
//! RNG when a handshake is created and handed to snow through [`OneShotRandom`].

use alloc::boxed::Box;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, KeyInit};
use curve25519_dalek::MontgomeryPoint;
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
pub(crate) fn nonce(counter: u64) -> chacha20poly1305::Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n.into()
}

/// X25519 public key of a secret (clamped per RFC 7748).
pub(crate) fn x25519_public(secret: &[u8; DH_LEN]) -> [u8; DH_LEN] {
    MontgomeryPoint::mul_base_clamped(*secret).to_bytes()
}

/// Resolves `Noise_XX_25519_ChaChaPoly_SHA256` to our primitives; nothing else.
pub(crate) struct Resolver {
    pub(crate) ephemeral_secret: Zeroizing<[u8; DH_LEN]>,
}

impl CryptoResolver for Resolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(OneShotRandom {
            bytes: self.ephemeral_secret.clone(),
            used: false,
        }))
    }
    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        matches!(choice, DHChoice::Curve25519).then(|| Box::new(X25519::default()) as Box<dyn Dh>)
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
    public: [u8; DH_LEN],
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
        if privkey.len() == DH_LEN {
            self.secret.copy_from_slice(privkey);
            self.public = x25519_public(&self.secret);
        }
    }
    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        rng.try_fill_bytes(&mut self.secret[..])?;
        self.public = x25519_public(&self.secret);
        Ok(())
    }
    fn pubkey(&self) -> &[u8] {
        &self.public
    }
    fn privkey(&self) -> &[u8] {
        &self.secret[..]
    }
    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        // snow hands over its MAXDHLEN-sized buffer; the key is the first 32 bytes
        let pk = pubkey
            .get(..DH_LEN)
            .and_then(|k| <[u8; DH_LEN]>::try_from(k).ok());
        let (Some(pk), Some(out)) = (pk, out.get_mut(..DH_LEN)) else {
            return Err(snow::Error::Dh);
        };
        let shared = Zeroizing::new(MontgomeryPoint(pk).mul_clamped(*self.secret).to_bytes());
        // A low-order public key gives an all-zero secret; go-libp2p's X25519 refuses it
        // too, so refusing keeps the handshake contributory without hurting interop.
        if shared.iter().all(|&b| b == 0) {
            return Err(snow::Error::Dh);
        }
        out.copy_from_slice(&shared[..]);
        Ok(())
    }
}

/// ChaCha20-Poly1305 for the handshake's CipherState.
#[derive(Default)]
struct ChaChaPoly {
    key: Zeroizing<[u8; 32]>,
}

impl Cipher for ChaChaPoly {
    fn name(&self) -> &'static str {
        "ChaChaPoly"
    }
    fn set(&mut self, key: &[u8; 32]) {
        self.key.copy_from_slice(key);
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
        let Some(tag_out) = rest.get_mut(..TAG_LEN) else {
            return 0;
        };
        body.copy_from_slice(plaintext);
        let cipher = ChaCha20Poly1305::new(&(*self.key).into());
        match cipher.encrypt_inout_detached(&nonce(nonce_value), authtext, InOutBuf::from(body)) {
            Ok(tag) => {
                tag_out.copy_from_slice(&tag);
                len + TAG_LEN
            }
            Err(_) => 0,
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
        out.copy_from_slice(body);
        let cipher = ChaCha20Poly1305::new(&(*self.key).into());
        let tag = chacha20poly1305::Tag::try_from(tag).map_err(|_| snow::Error::Decrypt)?;
        cipher
            .decrypt_inout_detached(
                &nonce(nonce_value),
                authtext,
                InOutBuf::from(&mut *out),
                &tag,
            )
            .map_err(|_| {
                out.zeroize();
                snow::Error::Decrypt
            })?;
        Ok(len)
    }
}

/// SHA-256 for snow's SymmetricState (HMAC and HKDF come from snow's defaults).
#[derive(Default)]
struct Sha256(sha2::Sha256);

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
}

/// The transport AEAD with its key set once (no per-frame key schedule).
pub(crate) struct TransportCipher(ChaCha20Poly1305);

impl TransportCipher {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(ChaCha20Poly1305::new(&(*key).into()))
    }

    /// Encrypts `buf` in place with empty associated data; returns the tag.
    pub(crate) fn seal(&self, counter: u64, buf: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        self.0
            .encrypt_inout_detached(&nonce(counter), &[], InOutBuf::from(buf))
            .ok()
            .map(Into::into)
    }

    /// Decrypts `buf` in place if `tag` authenticates it; `false` leaves garbage the caller
    /// must not use.
    pub(crate) fn open(&self, counter: u64, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        self.0
            .decrypt_inout_detached(&nonce(counter), &[], InOutBuf::from(buf), &(*tag).into())
            .is_ok()
    }
}
