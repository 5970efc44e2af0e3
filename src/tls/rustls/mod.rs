//! Every rustls call of p2psec lives in this folder (STYLE.md: rustls 0.23's API is being
//! replaced on rustls's main branch, so a later move stays local). No rustls type leaves
//! it: the rest of `src/tls` sees p2psec's own types ([`Engine`], [`LocalCert`], the
//! traffic secrets as `record.rs`'s `Direction`s, [`crate::tls::SignatureScheme`],
//! [`crate::tls::Error`]). The one other file that names rustls is `backend.rs`, which
//! picks the backend's rustls provider module and names the rustls-pki-types trait of
//! webpki's verification algorithms (neither is a call into rustls).
//!
//! The rooms, each using only the ones listed before it (and the TLS files below the
//! folder: `backend.rs`, `certificate.rs`, `verified_cache.rs`, `record.rs`, `error.rs`):
//! - `error_map.rs`: rustls's errors and alerts as [`crate::tls::Error`] names them.
//! - `provider.rs`: the crypto provider (the backend's, TLS 1.3 only, three cipher
//!   suites), our certificate as a rustls `CertifiedKey` ([`LocalCert`]), the caller's
//!   time as rustls's clock, and the `ClientConfig`/`ServerConfig` of one handshake (no
//!   SNI, no resumption, no early data, mutual authentication).
//! - `verifier.rs`: the libp2p certificate verifier, both roles, calling
//!   `certificate.rs`'s rules at the caller's time; the conversion between rustls's
//!   `SignatureScheme` and ours.
//! - `secrets.rs`: the in-memory key log that catches the application traffic secrets,
//!   and what the session takes over from rustls (`Traffic`).
//! - `engine.rs`: one rustls connection driven in memory ([`Engine`]): whole records in,
//!   bytes out, the server's ALPN choice in the client's order, the handover to the
//!   session.
//!
//! API choice: the buffered `ClientConnection`/`ServerConnection` (`read_tls`,
//! `process_new_packets`, `write_tls`) for the handshake only. It offers the `Acceptor`
//! (the client's ALPN order, `engine.rs`) and is what rust-libp2p has exercised for
//! years. Once the handshake is complete, `Engine::into_traffic` drains rustls's output
//! and takes the application traffic keys out of it (`dangerous_extract_secrets`, with
//! `enable_secret_extraction` set) together with the application traffic secrets (from a
//! key log kept in memory, `secrets.rs`: extracted keys alone cannot follow a
//! KeyUpdate); `session.rs` then runs the TLS 1.3 record layer itself (`record.rs`) with
//! the crypto backend. Measured before this choice (quick bench, AES-128-GCM, 64 KiB
//! writes): rustls's buffered record layer copies each byte four times (into and out of
//! its queues on both sides) and reached about half the bare AEAD's throughput;
//! `rustls::unbuffered` saves the send-side copy only (its `ReadTraffic` hands out
//! plaintext from an internal queue, and it needs a mutable copy of the caller's `&[u8]`
//! input anyway).
//!
//! Not here: the call contracts and events (`handshake.rs`, `session.rs`), certificate
//! rules (`certificate.rs`), record framing and protection (`record.rs`). Randomness
//! inside TLS (the ClientHello and ServerHello randoms, the legacy session id, the ECDHE
//! ephemeral keys) comes from the crypto backend's own OS-seeded generator: rustls's
//! key-exchange groups draw their keys internally, so the caller's RNG reaches only the
//! certificate key (made in `cert_key.rs`), and TLS transcripts do not replay byte for
//! byte. Tests compare outcomes, not bytes.

mod engine;
mod error_map;
mod provider;
mod secrets;
mod verifier;

pub(super) use engine::Engine;
pub(super) use error_map::alert_name;
pub(super) use provider::LocalCert;
