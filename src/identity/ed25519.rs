//! Ed25519 identities (ed25519-dalek): the key type every libp2p node must support.
//!
//! Public `Data` is the raw 32-byte key; private `Data` is the 32-byte seed followed by the
//! 32-byte public key. Signatures are plain RFC 8032 Ed25519 over the message, verified with
//! `verify_strict`'s rules (rejecting small-order keys and non-canonical signatures, as
//! rust-libp2p does).
//!
//! With the `aws-lc-rs` feature the verification itself runs in aws-lc (about 25% faster
//! than ed25519-dalek here, `benches/noise.rs`), behind checks that make it accept exactly
//! what `verify_strict` accepts; see [`PublicKey::verify`].

use alloc::vec::Vec;
use core::fmt;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::Error;

const NAME: &str = "Ed25519";

/// An Ed25519 key pair. The secret is zeroized on drop (ed25519-dalek's `zeroize`).
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// A fresh key pair from the caller's random number generator.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(SigningKey::generate(rng))
    }

    /// The key pair whose 32-byte seed is `seed` (RFC 8032 secret key). The seed is wiped.
    pub fn from_seed(seed: &mut [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        seed.zeroize();
        Self(key)
    }

    /// Parses private `Data`: 64 bytes (seed, public) or the legacy 96-byte form (seed,
    /// public, public) that go-libp2p once wrote. The stored public half must match the
    /// one derived from the seed (go never checks; we do).
    pub(crate) fn from_private_data(data: &[u8]) -> Result<Self, Error> {
        let (seed, public) = match data.len() {
            64 => (&data[..32], &data[32..]),
            96 if data[32..64] == data[64..] => (&data[..32], &data[32..64]),
            96 => return Err(Error::KeyPairMismatch),
            len => {
                return Err(Error::InvalidKeyLength {
                    key_type: NAME,
                    what: "private key",
                    len,
                    expected: "64 (or legacy 96)",
                })
            }
        };
        let mut seed_arr = Zeroizing::new([0u8; 32]);
        seed_arr.copy_from_slice(seed);
        let key = SigningKey::from_bytes(&seed_arr);
        if key.verifying_key().as_bytes()[..] != *public {
            return Err(Error::KeyPairMismatch);
        }
        Ok(Self(key))
    }

    /// Private `Data`: seed followed by public key, wiped when dropped.
    pub(crate) fn to_private_data(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_keypair_bytes().to_vec())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `msg` (deterministic, 64 bytes).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ed25519::Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses the raw 32-byte key; rejects bytes that are not a point on the curve.
    pub fn try_from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let arr: &[u8; 32] = bytes.try_into().map_err(|_| Error::InvalidKeyLength {
            key_type: NAME,
            what: "public key",
            len: bytes.len(),
            expected: "32",
        })?;
        VerifyingKey::from_bytes(arr)
            .map(Self)
            .map_err(|_| Error::InvalidPoint { key_type: NAME })
    }

    /// The raw 32-byte key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Whether `sig` is a valid signature of `msg` by this key, under ed25519-dalek's
    /// `verify_strict` rules: `s` canonical (below the group order), the key and `R` not of
    /// small order, the equation checked without the cofactor and `R` compared as bytes.
    ///
    /// With `aws-lc-rs`, aws-lc does the work. It checks `s`, decodes the key strictly
    /// and compares `R` as bytes, cofactorless, like `verify_strict`; what it does not do
    /// is refuse small-order points, so those encodings are refused here first. A key whose
    /// `y` is not reduced (dalek accepts it, aws-lc does not) stays with dalek, so the set
    /// of accepted signatures is the same with or without the feature.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        #[cfg(feature = "aws-lc-rs")]
        if has_canonical_y(self.0.as_bytes()) {
            let Some(r) = sig.get(..32) else {
                return false;
            };
            if is_small_order_encoding(self.0.as_bytes()) || is_small_order_encoding(r) {
                return false;
            }
            let key = aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ED25519,
                self.0.as_bytes(),
            );
            return key.verify(msg, sig).is_ok();
        }
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.0.verify_strict(msg, &sig).is_ok()
    }
}

/// Every 32-byte string with `y` below p that decodes to a point of small order (the eight
/// points of the 8-torsion, plus the identity and (0, -1) with the sign bit set, which
/// dalek also decodes). Encodings with `y` at or above p never reach the aws-lc path.
/// The test `small_order_table_is_the_8_torsion` derives this list from curve25519-dalek.
#[cfg(feature = "aws-lc-rs")]
const SMALL_ORDER: [[u8; 32]; 10] = {
    const fn hex(s: &[u8; 64]) -> [u8; 32] {
        const fn nibble(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                _ => c - b'a' + 10,
            }
        }
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
            i += 1;
        }
        out
    }
    [
        hex(b"0100000000000000000000000000000000000000000000000000000000000000"),
        hex(b"0100000000000000000000000000000000000000000000000000000000000080"),
        hex(b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        hex(b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        hex(b"0000000000000000000000000000000000000000000000000000000000000000"),
        hex(b"0000000000000000000000000000000000000000000000000000000000000080"),
        hex(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        hex(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
        hex(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
        hex(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    ]
};

/// Whether `bytes` (with `y` below p) encodes a point of small order.
#[cfg(feature = "aws-lc-rs")]
fn is_small_order_encoding(bytes: &[u8]) -> bool {
    SMALL_ORDER.iter().any(|e| e[..] == *bytes)
}

/// Whether the encoded `y` (the low 255 bits) is below p = 2^255 - 19.
#[cfg(feature = "aws-lc-rs")]
fn has_canonical_y(bytes: &[u8; 32]) -> bool {
    // y >= p exactly when bytes 1..31 are all 0xff, byte 31 is 0x7f once the sign bit is
    // dropped, and byte 0 is at least 0xed
    let [first, middle @ .., last] = bytes;
    !(*first >= 0xed && middle.iter().all(|&b| b == 0xff) && *last & 0x7f == 0x7f)
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519::PublicKey(")?;
        for b in self.0.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(all(test, feature = "aws-lc-rs"))]
mod tests {
    use super::*;
    use alloc::vec;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;

    #[test]
    fn small_order_table_is_the_8_torsion() {
        let mut expected = Vec::new();
        for t in EIGHT_TORSION {
            let canonical = t.compress().to_bytes();
            let mut flipped = canonical;
            flipped[31] ^= 0x80;
            expected.push(canonical);
            // the other sign: the point -x (another torsion point), or, where x = 0, the
            // same point under a second encoding that dalek also decodes
            if let Some(p) = CompressedEdwardsY(flipped).decompress() {
                assert!(p.is_small_order());
                expected.push(flipped);
            }
        }
        expected.sort();
        expected.dedup();
        let mut table = SMALL_ORDER.to_vec();
        table.sort();
        assert_eq!(table, expected);
        for e in SMALL_ORDER {
            assert!(has_canonical_y(&e));
        }
    }

    #[test]
    fn canonical_y_boundary() {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!has_canonical_y(&p)); // y = p
        let mut below = p;
        below[0] = 0xec;
        assert!(has_canonical_y(&below)); // y = p - 1
        let mut signed = p;
        signed[31] = 0xff;
        assert!(!has_canonical_y(&signed)); // y = p, sign bit set
    }

    /// aws-lc and dalek agree, including on the malleable forms `verify_strict` refuses.
    #[test]
    fn aws_lc_path_matches_verify_strict() {
        let mut seed = [7u8; 32];
        let kp = Keypair::from_seed(&mut seed);
        let public = kp.public();
        let msg = b"noise-libp2p-static-key:0123456789abcdef0123456789abcdef";
        let sig = kp.sign(msg);
        let strict = |k: &PublicKey, m: &[u8], s: &[u8]| {
            ed25519_dalek::Signature::from_slice(s).is_ok_and(|s| k.0.verify_strict(m, &s).is_ok())
        };
        let mut cases: Vec<(PublicKey, Vec<u8>, Vec<u8>)> = vec![
            (public, msg.to_vec(), sig.to_vec()),
            (public, b"other".to_vec(), sig.to_vec()),
            (public, msg.to_vec(), sig[..63].to_vec()),
        ];
        // s + l: the same signature with a non-canonical scalar
        let mut high = sig;
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(high[32 + i]) + u16::from(l[i]) + carry;
            high[32 + i] = v as u8;
            carry = v >> 8;
        }
        cases.push((public, msg.to_vec(), high.to_vec()));
        // small-order key with small-order R and s = 0: holds for every message
        for e in SMALL_ORDER {
            if let Ok(k) = PublicKey::try_from_bytes(&e) {
                let mut forged = [0u8; 64];
                forged[..32].copy_from_slice(&SMALL_ORDER[0]);
                cases.push((k, msg.to_vec(), forged.to_vec()));
                let mut forged2 = [0u8; 64];
                forged2[..32].copy_from_slice(&e);
                cases.push((k, msg.to_vec(), forged2.to_vec()));
            }
        }
        // a valid key with a small-order R added to its signature's R is not valid anyway;
        // a bit flip in R
        let mut flipped = sig;
        flipped[0] ^= 1;
        cases.push((public, msg.to_vec(), flipped.to_vec()));
        for (k, m, s) in &cases {
            assert_eq!(k.verify(m, s), strict(k, m, s), "{s:02x?}");
        }
        assert!(public.verify(msg, &sig));
    }
}
