//! Fuzz bodies, compiled inside the crate so they stay in step with the code and are
//! checked by clippy and the unit tests; `fuzz/fuzz_targets/` only calls them.
//!
//! Not part of the public API: built for the crate's own unit tests and behind the
//! internal `fuzzing` feature, which the fuzz crate turns on. The bodies and their
//! fixtures panic on purpose: a panic is what a fuzzer reports.
//!
//! One file per layer. `drive` holds what the bodies share: the chunking of an input,
//! one driver that feeds any [`crate::Machine`] and checks its call contract, the check
//! of what a finished handshake hands over, the fixture exchange. `rng` holds the one
//! fixed RNG of the crate's unit tests and fuzz bodies.

mod drive;
mod identity;
#[cfg(feature = "mplex")]
mod mplex;
mod multistream;
#[cfg(feature = "noise")]
mod noise;
#[cfg(feature = "pnet")]
mod pnet;
mod rng;
#[cfg(feature = "secio")]
mod secio;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
mod tls_session;
#[cfg(all(feature = "noise", feature = "tls"))]
mod upgrade;

pub use drive::chunks;
pub use identity::{identity_private_key, identity_public_key, multiaddr_text, peer_id_text};
#[cfg(feature = "mplex")]
pub use mplex::mplex_connection;
pub use multistream::{multistream_dialer, multistream_listener};
#[cfg(feature = "noise")]
pub use noise::{noise_initiator, noise_responder, noise_transport};
#[cfg(feature = "pnet")]
pub use pnet::pnet_layer;
pub use rng::TestRng;
#[cfg(test)]
pub(crate) use rng::{mutate, Xorshift};
#[cfg(feature = "secio")]
pub use secio::{secio_handshake, secio_transport};
#[cfg(feature = "tls")]
pub use tls::{tls_certificate, tls_client, tls_server};
#[cfg(feature = "tls")]
pub use tls_session::tls_session;
#[cfg(all(feature = "noise", feature = "tls"))]
pub use upgrade::{upgrade_dialer, upgrade_listener};
