//! The recorded legacy RSA-1024 vectors (`vectors/legacy-rsa/js-rsa1024.json`, described
//! in the README beside it), replayed: a js-libp2p node whose identity is a 1024-bit RSA
//! key, refused by default with the named `identity::Error::LegacyRsaKey`, accepted when
//! the key policy allows legacy RSA.
//!
//! - Noise, byte for byte: our dialer, rebuilt from the recorded seeds and time and fed the
//!   node's recorded bytes, sends exactly the recorded bytes and completes with the node's
//!   PeerId when allowed; by default it fails at the node's message 2 with the named
//!   error, having sent only its first flight. The same bytes fed one at a time give the
//!   same outcome.
//! - TLS: the node's recorded certificate, verified at the recorded time, proves its
//!   PeerId when allowed and fails on its host key by default (TLS handshakes cannot be
//!   replayed byte for byte: rustls draws its own randoms).
#![cfg(all(feature = "rsa", feature = "noise", feature = "tls"))]

#[path = "common/legacy_rsa_vector.rs"]
mod legacy_rsa_vector;
#[path = "common/rng.rs"]
mod rng;

use p2psec::identity::{self, KeyPolicy, KeyType, Keypair, PeerId};
use p2psec::upgrade::{Config, Dialer, Error, SecurityProtocol};
use p2psec::{noise, tls};
use rng::TestRng;

fn load() -> legacy_rsa_vector::File {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(legacy_rsa_vector::PATH);
    let text = std::fs::read_to_string(&path).expect("the vector file");
    serde_json::from_str(&text).expect("the vector file's format")
}

fn unhex(text: &str) -> Vec<u8> {
    data_encoding::HEXLOWER
        .decode(text.as_bytes())
        .expect("hex")
}

/// Our dialer as recorded, under `policy`.
fn dialer(v: &legacy_rsa_vector::NoiseUpgrade, expected: PeerId, policy: KeyPolicy) -> Dialer {
    let identity =
        Keypair::generate(KeyType::Ed25519, &mut TestRng(v.identity_seed)).expect("identity");
    let config = Config::new(&identity, v.time_unix, &mut TestRng(v.config_seed))
        .expect("config")
        .with_security([SecurityProtocol::Noise])
        .expect("security")
        .with_key_policy(policy);
    let seed: [u8; 32] = unhex(&v.dialer_seed_hex).try_into().expect("32 bytes");
    Dialer::with_seed(
        &config,
        Some(expected),
        v.time_unix,
        zeroize::Zeroizing::new(seed),
    )
    .expect("dialer")
}

/// Feeds `theirs` in pieces of `step` bytes (keeping what is not consumed, as a driver
/// does); returns what the dialer sent and how it ended.
fn replay(mut d: Dialer, theirs: &[u8], step: usize) -> (Vec<u8>, Result<Dialer, Error>) {
    let mut ours = Vec::new();
    let _ = d.poll_transmit(&mut ours);
    let mut inbox = Vec::new();
    for piece in theirs.chunks(step) {
        inbox.extend_from_slice(piece);
        match d.handle_input(&inbox) {
            Ok(used) => drop(inbox.drain(..used)),
            Err(e) => {
                let _ = d.poll_transmit(&mut ours);
                return (ours, Err(e));
            }
        }
        let _ = d.poll_transmit(&mut ours);
    }
    (ours, Ok(d))
}

#[test]
fn a_recorded_noise_upgrade_with_an_rsa_1024_node_replays_when_allowed() {
    let file = load();
    let v = &file.noise;
    let expected: PeerId = file.peer.peer_id.parse().expect("PeerId");
    let (theirs, recorded) = (unhex(&v.theirs_hex), unhex(&v.ours_hex));
    for step in [theirs.len(), 1] {
        let d = dialer(v, expected, KeyPolicy::allowing_legacy_rsa_1024());
        let (ours, ended) = replay(d, &theirs, step);
        let d = ended.unwrap_or_else(|e| panic!("step {step}: the upgrade failed: {e}"));
        assert!(d.is_complete(), "step {step}: not complete");
        assert_eq!(
            ours, recorded,
            "step {step}: our bytes differ from the recording"
        );
        let up = d.into_upgraded().expect("upgraded");
        assert_eq!(up.remote_peer_id, expected);
        assert_eq!(up.muxer, v.muxer);
        // an RSA PeerId is the key's hash: the channel hands out the key itself
        let key = up.channel.remote_public_key();
        assert_eq!(key.key_type(), KeyType::Rsa);
        assert_eq!(key.to_peer_id(), expected);
    }
}

#[test]
fn a_recorded_noise_upgrade_with_an_rsa_1024_node_is_refused_by_default() {
    let file = load();
    let v = &file.noise;
    let expected: PeerId = file.peer.peer_id.parse().expect("PeerId");
    let (theirs, recorded) = (unhex(&v.theirs_hex), unhex(&v.ours_hex));
    for step in [theirs.len(), 1] {
        let (ours, ended) = replay(dialer(v, expected, KeyPolicy::STRICT), &theirs, step);
        let e = ended
            .err()
            .unwrap_or_else(|| panic!("step {step}: the RSA-1024 node was accepted"));
        let Error::Noise(noise::Error::IdentityKey(key_error)) = &e else {
            panic!("step {step}: not the identity key's error: {e:?}");
        };
        assert_eq!(
            *key_error,
            identity::Error::LegacyRsaKey {
                bits: file.peer.rsa_bits
            },
            "step {step}"
        );
        assert_eq!(key_error.code(), 1304);
        // only the first flight went out: message 3 (our identity) never did
        assert!(
            recorded.starts_with(&ours) && ours.len() < recorded.len(),
            "step {step}"
        );
    }
}

#[test]
fn a_recorded_rsa_1024_certificate_verifies_only_when_allowed() {
    let file = load();
    let v = &file.tls;
    let der = unhex(&v.certificate_der_hex);
    let verified =
        tls::certificate::verify_with(&der, v.time_unix, KeyPolicy::allowing_legacy_rsa_1024())
            .expect("the certificate verifies when legacy RSA is allowed");
    assert_eq!(verified.peer_id.to_base58(), v.peer_id);
    let e = tls::certificate::verify(&der, v.time_unix).expect_err("accepted by default");
    assert!(
        matches!(
            e,
            tls::Error::HostKey(identity::Error::LegacyRsaKey { bits: 1024 })
        ),
        "{e:?}"
    );
}
