//! libp2p TLS (`/tls/1.0.0`): the TLS 1.3 handshake between two libp2p identities, the
//! certificate that carries each identity through it, and the session after it. Spec: libp2p tls/tls.md (r0 with later edits, including the 2025
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
//!   signature under a verified certificate's key, with the scheme ([`SignatureScheme`],
//!   the TLS 1.3 code point) pinned to the certificate's own signature algorithm
//!   ([`SignatureAlgorithm::tls13_scheme`], as rust-libp2p does).
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
//! The TLS 1.3 machines drive rustls 0.23 in memory (every rustls call lives in one
//! private folder, `rustls/`, and no rustls type appears in this module's API):
//!
//! - [`Config`]: the identity, our current certificate (made from the caller's RNG and
//!   time, reused across connections, replaced by [`Config::refresh_if_needed`] before it
//!   nears expiry), the stream muxers to offer, and the peer certificates verified before
//!   (a bounded cache: a certificate seen again byte for byte is checked only against the
//!   new time and expected PeerId; the peer's handshake signature is checked every time).
//! - [`Client`] (the dialer) and [`Server`] (the listener): the handshake, with the
//!   machine verbs `handle_input` / `poll_transmit` / `poll_event` / `is_complete` and
//!   `into_session` (which hands the machine back inside an
//!   [`Incomplete`](crate::machine::Incomplete) when called too early). TLS 1.3 only
//!   (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305); mutual authentication by the libp2p
//!   certificate rules at the caller's time, the expected PeerId checked by the client;
//!   no SNI; resumption and early data disabled; the muxer agreed through ALPN (client:
//!   its muxers then `libp2p`; server: the first of the client's entries it supports).
//! - [`Session`]: the record layer after the handshake: ciphertext in and out, plaintext in
//!   and out, close_notify both ways; bounded buffers.
//!
//! ```
//! use p2psec::identity::{KeyType, Keypair};
//! use p2psec::tls::{Client, Config, Event, Server};
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
//! let dialer = Keypair::generate(KeyType::Ed25519, &mut rng)?;
//! let listener = Keypair::generate(KeyType::Ed25519, &mut rng)?;
//! let client_config = Config::new(&dialer, now, &mut rng)?.with_stream_muxers(["/yamux/1.0.0"]);
//! let server_config = Config::new(&listener, now, &mut rng)?.with_stream_muxers(["/yamux/1.0.0"]);
//! let mut client = Client::new(&client_config, Some(listener.peer_id()), now)?;
//! let mut server = Server::new(&server_config, now)?;
//! let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
//! while !(client.is_complete() && server.is_complete()) {
//!     let _ = client.poll_transmit(&mut to_server);
//!     let used = server.handle_input(&to_server)?;
//!     to_server.drain(..used);
//!     let _ = server.poll_transmit(&mut to_client);
//!     let used = client.handle_input(&to_client)?;
//!     to_client.drain(..used);
//! }
//! assert_eq!(server.poll_event(), Some(Event::RemoteIdentified { peer_id: dialer.peer_id() }));
//! let mut client = client.into_session()?;
//! let mut server = server.into_session()?;
//! assert_eq!(client.muxer(), Some("/yamux/1.0.0"));
//!
//! client.write(b"hello")?;
//! let _ = client.poll_transmit(&mut to_server); // after the client's Finished
//! let used = server.handle_input(&to_server)?;
//! to_server.drain(..used);
//! let mut buf = [0u8; 16];
//! let n = server.read(&mut buf)?;
//! assert_eq!(&buf[..n], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The files, each using only those listed before it (no import circle): `der.rs` (the
//! strict DER reader and writer, the certificate key's PKCS#8) and `backend.rs` (the
//! crypto backend, aws-lc-rs or ring: crates only); `signature.rs` (the signature
//! algorithms and schemes); `error.rs`; `cert_key.rs` (the certificate key, RFC 6979);
//! `certificate.rs` (generation and the spec's checks); `verified_cache.rs`; `record.rs`
//! (record framing, traffic keys, sealing and opening one record); `rustls/` (the rustls
//! connection of a handshake: provider and configs, verifier, traffic secrets, engine);
//! `session.rs` (the record-layer machine; `session/post_handshake.rs` its alerts and
//! post-handshake messages); `handshake.rs` (`Config`, `Client`,
//! `Server`). This file holds the constants and the re-exports.
//!
//! Not here: multistream-select (the `/tls/1.0.0` negotiation before the handshake, and the
//! muxer negotiation after it when ALPN agreed only `libp2p`), sockets and timeouts (the
//! adapters own the handshake deadline), and randomness inside TLS itself: rustls draws
//! the ClientHello random and the ECDHE keys from the crypto backend's OS-seeded
//! generator, so only the certificate comes from the caller's RNG and transcripts do not
//! replay byte for byte.

mod backend;
mod cert_key;
pub mod certificate;
mod der;
mod error;
mod handshake;
mod record;
mod rustls;
mod session;
mod signature;
mod verified_cache;

pub use certificate::{Certificate, Verified};
pub use error::Error;
pub use handshake::{
    Client, Config, Event, Server, CERTIFICATE_RENEWAL_MARGIN_SECS, MAX_STREAM_MUXERS,
};
pub use record::{MAX_RECORD_BODY_LEN, RECORD_HEADER_LEN};
pub use session::{
    Session, MAX_BUFFERED_PLAINTEXT, MAX_CONSECUTIVE_EMPTY_RECORDS, MAX_CONSECUTIVE_KEY_UPDATES,
    MAX_PENDING_CIPHERTEXT, MAX_WARNING_ALERTS,
};
pub use signature::{SignatureAlgorithm, SignatureScheme};
pub use verified_cache::VERIFIED_CACHE_CAPACITY;

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
