//! libp2p TLS (`/tls/1.0.0`): the certificate that carries a libp2p identity through a
//! TLS 1.3 handshake. Spec: libp2p tls/tls.md (r0 with later edits, including the 2025
//! test vectors) and connections/inlined-muxer-negotiation.md for the ALPN values.
//!
//! Each side proves its identity with a self-signed X.509 certificate whose key is a fresh
//! ECDSA P-256 key, unrelated to the identity key. The certificate carries the libp2p
//! Public Key Extension ([`EXTENSION_OID`]): the identity's public key (protobuf) and the
//! identity's signature over [`SIGNING_PREFIX`] followed by the certificate's DER
//! SubjectPublicKeyInfo. The remote PeerId comes from that extension, never from the
//! certificate key.
//!
//! - [`certificate::Certificate::generate`] makes our certificate; randomness (the key, the
//!   serial) comes from the caller's RNG and the time from the caller's clock.
//! - [`certificate::verify`] and [`certificate::verify_chain`] check a peer's certificate
//!   by every rule of the spec, in the spec notes' order (size, DER, validity, extensions,
//!   self-signature, SignedKey, host key, extension signature, PeerId), each failure its own
//!   [`Error`] variant.
//! - [`certificate::verify_tls13_signature`] checks a TLS 1.3 `CertificateVerify`
//!   signature under a verified certificate's key, with the scheme pinned to the
//!   certificate's own signature algorithm (as rust-libp2p does).
//!
//! ```
//! use p2psec::identity::{KeyType, Keypair};
//! use p2psec::tls::certificate::{self, Certificate};
//!
//! # struct Rng(u64);
//! # impl rand_core::TryRng for Rng {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
//! #         self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//! #         Ok(self.0 ^ (self.0 >> 29))
//! #     }
//! #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
//! #         for c in dst.chunks_mut(8) { let v = self.try_next_u64()?.to_le_bytes(); c.copy_from_slice(&v[..c.len()]); }
//! #         Ok(())
//! #     }
//! # }
//! # impl rand_core::TryCryptoRng for Rng {}
//! # let mut rng = Rng(7);
//! let now = 1_750_000_000; // Unix seconds, from the caller's clock
//! let identity = Keypair::generate(KeyType::Ed25519, &mut rng)?;
//! let cert = Certificate::generate(&identity, now, &mut rng)?;
//! let verified = certificate::verify_chain(&[cert.der()], now, Some(identity.peer_id()))?;
//! assert_eq!(verified.peer_id, identity.peer_id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Not here yet: the TLS 1.3 client and server machines (rustls 0.23's unbuffered API with
//! a libp2p certificate verifier built on [`certificate::verify_chain`] and
//! [`certificate::verify_tls13_signature`], ALPN, no SNI, resumption disabled) come next,
//! in their own modules below; every rustls call will live in one file there.

pub mod certificate;
mod error;

// The TLS 1.3 machines (client, server, session) will be declared here.

pub use certificate::{Certificate, SignatureAlgorithm, Verified};
pub use error::Error;

/// The multistream-select protocol id.
pub const PROTOCOL_ID: &str = "/tls/1.0.0";

/// The ALPN value every libp2p TLS client offers last and every server accepts (spec:
/// "libp2p"; with inlined muxer negotiation the muxer ids come before it).
pub const ALPN_LIBP2P: &[u8] = b"libp2p";

/// The libp2p Public Key Extension: `1.3.6.1.4.1.53594.1.1` (53594 is the IANA Private
/// Enterprise Number of libp2p / Protocol Labs), as OID arcs.
pub const EXTENSION_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 53594, 1, 1];

/// The libp2p Public Key Extension's OID in dotted text, as error messages show OIDs.
pub const EXTENSION_OID_STR: &str = "1.3.6.1.4.1.53594.1.1";

/// What the identity key signs, before the certificate's DER SubjectPublicKeyInfo (spec).
pub const SIGNING_PREFIX: &[u8] = b"libp2p-tls-handshake:";
