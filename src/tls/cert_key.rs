//! The certificate key: ECDSA P-256 with RFC 6979 nonces, the private scalar drawn from
//! the caller's RNG, the point multiplications in the crypto backend (`backend.rs`:
//! aws-lc-rs, or p256 itself on ring) and the scalar arithmetic in p256; its PKCS#8
//! encoding is `der.rs`'s. Split from `certificate.rs` (the certificate itself and its
//! verification).
//!
//! Why not a crate's signer: p256's RFC 6979 signer costs about 3x this on aws-lc-rs (its
//! base-point multiplication and the public-key recomputation in `to_pkcs8_der`), and the
//! backends' own ECDSA draws its nonces from their generators, which the caller does not
//! control (the certificate would no longer replay from a seed). The tests below pin this
//! code to p256's output, byte for byte, for 64 keys, and to RFC 6979's own vector.

use alloc::vec::Vec;

use p256::ecdsa::Signature;
use p256::elliptic_curve::ops::{Invert, Reduce};
use p256::elliptic_curve::{Generate, PrimeField};
use p256::{FieldBytes, NonZeroScalar, Scalar};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::backend::signature::EcdsaKeyPair;
use super::backend::{self, digest, hmac};
use super::der;
use super::error::Error;

/// The certificate key as rcgen sees it.
///
/// The private scalar is drawn from the caller's RNG exactly as p256's
/// `SigningKey::generate_from_rng` draws it, and the certificate is signed with RFC 6979
/// nonces, so a seeded RNG gives the same certificate bytes as it always did, on either
/// backend. The point multiplications run in aws-lc-rs (a base-point multiplication there
/// costs a sixth of the p256 crate's with its tables; a certificate went from about 180 to
/// 55 µs when measured) or, on ring, in p256; the scalar arithmetic mod n in p256. The
/// backends' own ECDSA signing would be simpler but draws its nonces from their
/// generators, which the caller does not control.
pub(super) struct CertKey {
    /// The private scalar `d`, big-endian.
    secret: Zeroizing<[u8; SCALAR_LEN]>,
    /// The uncompressed SEC1 point: the `subjectPublicKey` bits.
    point: Vec<u8>,
    /// The same key in the crypto backend, for the TLS handshakes.
    pub(super) pair: EcdsaKeyPair,
}

/// Bytes of a P-256 scalar or coordinate.
const SCALAR_LEN: usize = 32;

impl CertKey {
    pub(super) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<Self, Error> {
        let mut scalar = NonZeroScalar::generate_from_rng(rng);
        let secret = Zeroizing::new(<[u8; SCALAR_LEN]>::from(scalar.to_repr()));
        scalar.zeroize();
        let (pair, point) = backend::load_p256(&secret, |point| der::pkcs8_p256(&secret, point))
            .map_err(|e| Error::generation(&e))?;
        Ok(Self {
            secret,
            point,
            pair,
        })
    }

    /// RFC 6979 §3.2 ECDSA over SHA-256, DER-encoded: the signature p256's
    /// `SigningKey::sign` makes, with `k·G` computed by the crypto backend.
    fn sign_rfc6979(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        let hash = digest::digest(&digest::SHA256, msg);
        let hash = FieldBytes::try_from(hash.as_ref())
            .map_err(|_| Error::generation("unexpected SHA-256 length"))?;
        // bits2int = the hash itself (qlen = hlen = 256); bits2octets = reduced mod n
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&hash);
        let mut d = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr((*self.secret).into()))
            .ok_or_else(|| Error::generation("certificate key out of range"))?;
        let mut drbg = HmacDrbg::new(&self.secret[..], &z.to_repr());
        let signature = loop {
            let candidate = drbg.next_candidate();
            // RFC 6979 step h.3: a candidate outside [1, n) takes the next one
            let Some(mut k) =
                Option::<NonZeroScalar>::from(NonZeroScalar::from_repr((*candidate).into()))
            else {
                continue;
            };
            let signed = sign_with_nonce(&d, &k, &z);
            k.zeroize();
            match signed {
                Ok(Some(signature)) => break Ok(signature),
                // r = 0 or s = 0 (probability about 2^-256): the next k
                Ok(None) => continue,
                Err(e) => break Err(e),
            }
        };
        d.zeroize();
        signature.map(|signature| signature.to_der().as_bytes().to_vec())
    }

    /// The PKCS#8 DER of this key, with its public key: byte for byte what p256's
    /// `to_pkcs8_der` writes.
    pub(super) fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        der::pkcs8_p256(&self.secret, Some(&self.point))
    }
}

/// ECDSA's signing equation with the nonce `k` (SEC 1 §4.1.3): `r = x(k·G) mod n`,
/// `s = k⁻¹(z + r·d) mod n`; `None` if `r` or `s` is zero.
fn sign_with_nonce(
    d: &NonZeroScalar,
    k: &NonZeroScalar,
    z: &Scalar,
) -> Result<Option<Signature>, Error> {
    let k_bytes = Zeroizing::new(<[u8; SCALAR_LEN]>::from(k.to_repr()));
    let big_r = backend::base_point_mul(&k_bytes[..]).map_err(|e| Error::generation(&e))?;
    let x = big_r
        .get(1..=SCALAR_LEN)
        .and_then(|x| FieldBytes::try_from(x).ok())
        .ok_or_else(|| Error::generation("unexpected point encoding"))?;
    let r = <Scalar as Reduce<FieldBytes>>::reduce(&x);
    let mut k_inv = k.invert();
    let s = *k_inv * (*z + r * **d);
    k_inv.zeroize();
    Ok(Signature::from_scalars(r, s).ok())
}

/// RFC 6979 §3.2's HMAC-DRBG over SHA-256 for P-256, with `int2octets(x)` and
/// `bits2octets(h1)` as its seed (the same generator as RustCrypto's `rfc6979`). Kept
/// here rather than taken from that crate because its generator does not zeroize `K` and
/// `V`, which derive from the private key; the RFC's own vector pins it (tests below).
struct HmacDrbg {
    k: Zeroizing<[u8; SCALAR_LEN]>,
    v: Zeroizing<[u8; SCALAR_LEN]>,
    /// Whether a candidate was drawn (RFC 6979 step h.3 runs before every later draw).
    drawn: bool,
}

impl HmacDrbg {
    fn new(x: &[u8], h1: &[u8]) -> Self {
        let mut drbg = Self {
            k: Zeroizing::new([0; SCALAR_LEN]),
            v: Zeroizing::new([1; SCALAR_LEN]),
            drawn: false,
        };
        for separator in [0x00, 0x01] {
            drbg.k = drbg.mac(&[&drbg.v[..], &[separator], x, h1]);
            drbg.v = drbg.mac(&[&drbg.v[..]]);
        }
        drbg
    }

    fn mac(&self, parts: &[&[u8]]) -> Zeroizing<[u8; SCALAR_LEN]> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.k[..]);
        let mut ctx = hmac::Context::with_key(&key);
        for part in parts {
            ctx.update(part);
        }
        let mut out = Zeroizing::new([0; SCALAR_LEN]);
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// The next candidate `k` (qlen = hlen: one HMAC block, no bits to drop); the caller
    /// rejects values outside `[1, n)`.
    fn next_candidate(&mut self) -> Zeroizing<[u8; SCALAR_LEN]> {
        if self.drawn {
            self.k = self.mac(&[&self.v[..], &[0x00]]);
            self.v = self.mac(&[&self.v[..]]);
        }
        self.drawn = true;
        self.v = self.mac(&[&self.v[..]]);
        self.v.clone()
    }
}

impl rcgen::PublicKeyData for CertKey {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for CertKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        // rcgen's error has no room for a reason; the only failures are the backend
        // refusing a valid scalar, which does not happen
        self.sign_rfc6979(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fuzzing::TestRng;

    #[test]
    fn certificate_key_matches_rustcrypto_p256() {
        use p256::ecdsa::signature::Signer;
        use p256::pkcs8::EncodePrivateKey;
        for seed in 0..64u64 {
            // the draw p256's SigningKey::generate_from_rng makes from the same RNG state
            let ours = CertKey::generate(&mut TestRng(seed)).unwrap();
            let theirs = p256::ecdsa::SigningKey::generate_from_rng(&mut TestRng(seed));
            assert_eq!(&ours.secret[..], &theirs.to_bytes()[..]);
            assert_eq!(
                ours.point,
                theirs.verifying_key().to_sec1_point(false).as_bytes()
            );
            assert_eq!(
                backend::signature::KeyPair::public_key(&ours.pair).as_ref(),
                &ours.point[..]
            );
            assert_eq!(
                &ours.pkcs8_der()[..],
                theirs.to_pkcs8_der().unwrap().as_bytes()
            );
            // RFC 6979 signatures, byte for byte, over messages of many lengths
            let msg: Vec<u8> = (0..seed * 7).map(|i| (i * 31 + seed) as u8).collect();
            let expected: Signature = theirs.sign(&msg);
            assert_eq!(
                ours.sign_rfc6979(&msg).unwrap(),
                expected.to_der().as_bytes(),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn hmac_drbg_matches_rfc_6979_a_2_5() {
        // RFC 6979 A.2.5, P-256, SHA-256, message "sample": the k the generator yields
        let x = data_encoding::HEXUPPER
            .decode(b"C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
            .unwrap();
        let hash = digest::digest(&digest::SHA256, b"sample");
        let z =
            <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::try_from(hash.as_ref()).unwrap());
        let mut drbg = HmacDrbg::new(&x, &z.to_repr());
        assert_eq!(
            data_encoding::HEXUPPER.encode(&drbg.next_candidate()[..]),
            "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60"
        );
        // the signature with that key over "sample"
        let secret = Zeroizing::new(<[u8; SCALAR_LEN]>::try_from(&x[..]).unwrap());
        let (pair, point) =
            backend::load_p256(&secret, |point| der::pkcs8_p256(&secret, point)).unwrap();
        let key = CertKey {
            secret,
            point,
            pair,
        };
        let signature = Signature::from_der(&key.sign_rfc6979(b"sample").unwrap()).unwrap();
        assert_eq!(
            data_encoding::HEXUPPER.encode(&signature.to_bytes()),
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
             F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
        );
    }
}
