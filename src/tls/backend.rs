//! The crypto backend of the TLS layer, the one place that names it: aws-lc-rs with the
//! `aws-lc-rs` feature (the default, chosen by measurement: benches/tls.rs; faster
//! certificates, handshakes and records), otherwise ring with the `tls-ring` feature
//! (lighter to build). With both on, aws-lc-rs wins. The rest of `src/tls` uses the
//! modules re-exported here, whose APIs are the same in both crates, and the items below
//! where they differ: loading the certificate key, multiplying the base point by a secret
//! scalar, opening and sealing a record body (aws-lc-rs out of place, ring in place), and
//! how a session holds a record key.
//!
//! ring's rustls provider offers no X25519MLKEM768: on ring the key exchange is classical
//! (X25519 first), on aws-lc-rs rustls also offers the hybrid.
//!
//! What each backend supplies: rustls's crypto provider (the key exchange, the handshake
//! hashes and the randoms inside TLS), rustls-webpki's signature verification algorithms,
//! the AEAD and HKDF of our record layer (`record.rs`), SHA-256 and HMAC (the verified
//! certificate cache, RFC 6979 nonces) and ECDSA signing of `CertificateVerify`.
//!
//! This is the lowest room of the TLS layer: it uses crates only, no other file of
//! `src/tls` (what it needs from them, the PKCS#8 of the certificate key, comes in as an
//! argument). Besides the rustls folder it is the one file that names rustls: for the
//! backend's rustls provider module, and for the rustls-pki-types trait that webpki's
//! algorithms implement (`SignatureVerificationAlgorithm`; rustls-webpki does not
//! re-export pki-types, and p2psec reaches that crate only through rustls).
//!
//! What is wiped. Our code keeps every secret it holds in a zeroizing type: the traffic
//! secrets and the key and IV derived from them (`record.rs`), the certificate scalar,
//! its PKCS#8 and the RFC 6979 state (`cert_key.rs`, `der.rs`). Inside the backend:
//! - aws-lc-rs keeps its AEAD contexts and EC keys in memory aws-lc allocated, which
//!   `OPENSSL_free` cleanses before freeing it, so record keys and the certificate key are
//!   wiped when the session or the config is dropped;
//! - ring's `LessSafeKey` (the AES or ChaCha20 key schedule) and `EcdsaKeyPair` (the
//!   certificate's private scalar) are plain Rust values without zeroize: on `tls-ring`
//!   they stay in freed memory until it is reused. Choose the default backend where that
//!   matters (the `tls-ring` feature's docs say so too).

#[cfg(not(any(feature = "aws-lc-rs", feature = "tls-ring")))]
compile_error!(
    "the `tls` feature needs a crypto backend: enable `aws-lc-rs` (the default) or `tls-ring`"
);

#[cfg(feature = "aws-lc-rs")]
mod imp {
    pub(in crate::tls) use aws_lc_rs::{aead, digest, hkdf, hmac, rand, signature};
    pub(in crate::tls) use rustls::crypto::aws_lc_rs as rustls_provider;
    pub(in crate::tls) use webpki::aws_lc_rs as webpki_algs;

    /// A record-protection key as a session holds it: aws-lc-rs keeps the key schedule
    /// behind its own pointer, so the key is small.
    pub(in crate::tls) type RecordKey = aead::LessSafeKey;

    use alloc::{format, string::String, vec::Vec};
    use aws_lc_rs::agreement;
    use signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use zeroize::Zeroizing;

    /// The certificate key from its private scalar: the key pair rustls signs with and the
    /// uncompressed public point. `pkcs8` writes the key's PKCS#8, with the public point
    /// if given (`der.rs`). aws-lc computes `d·G` from a PKCS#8 without the public key
    /// (and checks the pair, a second multiplication; the other loading paths tried cost
    /// a third), so it is given none (and the scalar is not needed here).
    pub(in crate::tls) fn load_p256(
        _secret: &Zeroizing<[u8; 32]>,
        pkcs8: impl FnOnce(Option<&[u8]>) -> Zeroizing<Vec<u8>>,
    ) -> Result<(EcdsaKeyPair, Vec<u8>), String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8(None))
            .map_err(|e| format!("aws-lc-rs refused the key: {e}"))?;
        let point = pair.public_key().as_ref().to_vec();
        Ok((pair, point))
    }

    /// `scalar·G` on P-256 as an uncompressed SEC1 point, constant time (the scalar is
    /// secret). An ECDH private key is the one aws-lc-rs interface that multiplies the
    /// base point by a scalar of the caller's; it costs a sixth of the p256 crate's.
    pub(in crate::tls) fn base_point_mul(scalar: &[u8]) -> Result<Vec<u8>, String> {
        let key = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, scalar)
            .map_err(|e| format!("aws-lc-rs refused a scalar: {e}"))?;
        let point = key
            .compute_public_key()
            .map_err(|_| String::from("aws-lc-rs could not compute a point"))?;
        Ok(point.as_ref().to_vec())
    }
    /// Opens a record body out of place: `ciphertext` and `tag` in, plaintext written to
    /// `out` (as long as `ciphertext`), without a copy in between.
    pub(in crate::tls) fn open_into(
        key: &aead::LessSafeKey,
        nonce: aead::Nonce,
        aad: aead::Aad<[u8; 5]>,
        ciphertext: &[u8],
        tag: &[u8],
        out: &mut [u8],
    ) -> Result<(), ()> {
        key.open_separate_gather(nonce, aad, ciphertext, tag, out)
            .map_err(|_| ())
    }

    /// Seals `content` followed by the `content_type` byte (TLS 1.3's inner plaintext)
    /// into `body`, which holds exactly the ciphertext, that byte and the tag; `content`
    /// is read once, straight into `body`.
    pub(in crate::tls) fn seal_into(
        key: &aead::LessSafeKey,
        nonce: aead::Nonce,
        aad: aead::Aad<[u8; 5]>,
        content: &[u8],
        content_type: u8,
        body: &mut [u8],
    ) -> Result<(), ()> {
        let (ciphertext, type_and_tag) = body.split_at_mut_checked(content.len()).ok_or(())?;
        key.seal_out_of_place_scatter(
            nonce,
            aad,
            content,
            ciphertext,
            &[content_type],
            type_and_tag,
        )
        .map_err(|_| ())
    }

    /// Pays aws-lc's one-time start-up now: its random generator seeds itself on first
    /// use, process-wide (measured: about 30 ms here, then about 1 µs per call), and the
    /// first TLS handshake would otherwise carry it.
    pub(in crate::tls) fn warm_up() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let mut byte = [0u8; 1];
            // a failure here would fail the handshake's own draw just the same, named there
            let _ = rand::fill(&mut byte);
        });
    }
}

#[cfg(all(feature = "tls-ring", not(feature = "aws-lc-rs")))]
mod imp {
    pub(in crate::tls) use ring::{aead, digest, hkdf, hmac, rand, signature};
    pub(in crate::tls) use rustls::crypto::ring as rustls_provider;
    pub(in crate::tls) use webpki::ring as webpki_algs;

    /// A record-protection key as a session holds it: boxed, because ring keeps the AES
    /// key schedule inline (about 550 bytes a key, two per session), which would make a
    /// session three times larger than a Noise one wherever it is moved or stored.
    pub(in crate::tls) type RecordKey = alloc::boxed::Box<aead::LessSafeKey>;

    use alloc::{format, string::String, vec::Vec};
    use p256::elliptic_curve::group::Group;
    use p256::elliptic_curve::sec1::ToSec1Point;
    use p256::{FieldBytes, NonZeroScalar, ProjectivePoint};
    use signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use zeroize::{Zeroize, Zeroizing};

    /// The certificate key from its private scalar: the key pair rustls signs with and the
    /// uncompressed public point. `pkcs8` writes the key's PKCS#8, with the public point
    /// if given (`der.rs`). ring loads only a PKCS#8 that carries the public key (and
    /// checks that it matches), so the point comes from p256 first.
    pub(in crate::tls) fn load_p256(
        secret: &Zeroizing<[u8; 32]>,
        pkcs8: impl FnOnce(Option<&[u8]>) -> Zeroizing<Vec<u8>>,
    ) -> Result<(EcdsaKeyPair, Vec<u8>), String> {
        let point = base_point_mul(&secret[..])?;
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &pkcs8(Some(&point)),
            &rand::SystemRandom::new(),
        )
        .map_err(|e| format!("ring refused the key: {e}"))?;
        Ok((pair, point))
    }

    /// `scalar·G` on P-256 as an uncompressed SEC1 point, by p256 (constant time: the
    /// scalar is secret). ring has no interface that multiplies the base point by a
    /// scalar of the caller's: its ECDH keys are generated inside it.
    pub(in crate::tls) fn base_point_mul(scalar: &[u8]) -> Result<Vec<u8>, String> {
        let bytes = FieldBytes::try_from(scalar).map_err(|_| String::from("bad scalar length"))?;
        let mut scalar = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(bytes))
            .ok_or_else(|| String::from("scalar out of range"))?;
        let point = ProjectivePoint::mul_by_generator(&*scalar).to_affine();
        scalar.zeroize();
        Ok(point.to_sec1_point(false).as_bytes().to_vec())
    }
    /// Opens a record body: `ciphertext` is copied to `out` (as long as it) and opened
    /// there; ring has no out-of-place open.
    pub(in crate::tls) fn open_into(
        key: &aead::LessSafeKey,
        nonce: aead::Nonce,
        aad: aead::Aad<[u8; 5]>,
        ciphertext: &[u8],
        tag: &[u8],
        out: &mut [u8],
    ) -> Result<(), ()> {
        let tag = aead::Tag::try_from(tag).map_err(|_| ())?;
        let out = out.get_mut(..ciphertext.len()).ok_or(())?;
        out.copy_from_slice(ciphertext);
        key.open_in_place_separate_tag(nonce, aad, tag, out, 0..)
            .map(|_| ())
            .map_err(|_| ())
    }

    /// Seals `content` followed by the `content_type` byte (TLS 1.3's inner plaintext)
    /// into `body`, which holds exactly the ciphertext, that byte and the tag: copied in,
    /// then sealed in place (ring has no out-of-place seal).
    pub(in crate::tls) fn seal_into(
        key: &aead::LessSafeKey,
        nonce: aead::Nonce,
        aad: aead::Aad<[u8; 5]>,
        content: &[u8],
        content_type: u8,
        body: &mut [u8],
    ) -> Result<(), ()> {
        let (inner, tag_out) = body.split_at_mut_checked(content.len() + 1).ok_or(())?;
        let (text, kind) = inner.split_at_mut(content.len());
        text.copy_from_slice(content);
        kind.fill(content_type);
        let tag = key
            .seal_in_place_separate_tag(nonce, aad, inner)
            .map_err(|_| ())?;
        tag_out
            .get_mut(..tag.as_ref().len())
            .ok_or(())?
            .copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// ring draws from the OS generator directly: nothing to warm up.
    pub(in crate::tls) fn warm_up() {}
}

#[cfg(any(feature = "aws-lc-rs", feature = "tls-ring"))]
pub(super) use imp::*;

/// What webpki's verification algorithms are (`webpki_algs`, either backend): the
/// rustls-pki-types trait, reached through rustls (see the module doc).
pub(super) use rustls::pki_types::SignatureVerificationAlgorithm;
