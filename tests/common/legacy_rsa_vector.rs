//! The file `vectors/legacy-rsa/js-rsa1024.json` (described in the README beside it):
//! what a js-libp2p node with a 1024-bit RSA identity sent us, recorded by
//! `tests/interop_js.rs` (`record_legacy_rsa_vectors`, ignored) and replayed by
//! `tests/legacy_rsa_vectors.rs`.
//!
//! Included with `#[path = "common/legacy_rsa_vector.rs"] mod legacy_rsa_vector;`.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

pub(crate) const PATH: &str = "vectors/legacy-rsa/js-rsa1024.json";

#[derive(Serialize, Deserialize)]
pub(crate) struct File {
    pub(crate) description: String,
    /// The foreign node: implementation and version, its PeerId, its RSA modulus size.
    pub(crate) peer: Peer,
    pub(crate) noise: NoiseUpgrade,
    pub(crate) tls: TlsCertificate,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Peer {
    pub(crate) implementation: String,
    pub(crate) peer_id: String,
    pub(crate) rsa_bits: usize,
}

/// A whole upgrade, p2psec dialing the node over `/noise`, with legacy RSA allowed.
#[derive(Serialize, Deserialize)]
pub(crate) struct NoiseUpgrade {
    /// Our clock (Unix seconds) and the seeds our side is rebuilt from: the identity
    /// (Ed25519, `Keypair::generate` with `TestRng(identity_seed)`), the configuration
    /// (`Config::new` with `TestRng(config_seed)`: the Noise static key) and the dial's 32
    /// random bytes (`Dialer::with_seed`).
    pub(crate) time_unix: u64,
    pub(crate) identity_seed: u64,
    pub(crate) config_seed: u64,
    pub(crate) dialer_seed_hex: String,
    /// Every byte we sent until the upgrade completed, and every byte of the node's it
    /// consumed (multistream-select, the three Noise messages, the muxer agreed inside).
    pub(crate) ours_hex: String,
    pub(crate) theirs_hex: String,
    pub(crate) muxer: Option<String>,
}

/// A node's TLS certificate, as its `/tls/1.0.0` server flight carried it (a second node,
/// also RSA-1024: `peer_id` is the one its certificate proves).
#[derive(Serialize, Deserialize)]
pub(crate) struct TlsCertificate {
    pub(crate) peer_id: String,
    pub(crate) time_unix: u64,
    pub(crate) certificate_der_hex: String,
}
