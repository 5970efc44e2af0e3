//! Replays the recorded SECIO sessions in `vectors/secio/` (see `vectors/README.md`):
//! each was recorded against a live legacy peer (rust-libp2p 0.26, js-libp2p 0.29) by
//! `tests/secio_legacy.rs`. Fed the peer's bytes in the recorded chunks, our side, from
//! the same key and seed, must send exactly the recorded bytes, prove the same remote
//! PeerId, and finish without error. Any change to what p2psec puts on the wire (the
//! Propose encoding, the Exchange signature, the key stretching, the framing, mplex,
//! multistream) breaks it.
#![cfg(feature = "secio")]

#[path = "common/legacy_node.rs"]
mod legacy_node;

use std::path::Path;

use legacy_node::{node_config, run, Role, Wire, NOISE_TLS_SECIO};
use p2psec::upgrade::SecurityProtocol;
use p2psec::PeerId;

struct Replay {
    chunks: std::vec::IntoIter<Vec<u8>>,
    ours: Vec<u8>,
}

impl Wire for Replay {
    fn send(&mut self, bytes: &[u8]) {
        self.ours.extend_from_slice(bytes);
    }
    fn recv(&mut self) -> Option<Vec<u8>> {
        self.chunks.next()
    }
}

fn unhex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER.decode(s.as_bytes()).expect("hex")
}

#[test]
fn recorded_secio_sessions_replay_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/secio");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("vectors/secio")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected the four recorded sessions");
    for file in files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let key_seed = v["key_seed"].as_u64().expect("key_seed");
        let run_seed = v["run_seed"].as_u64().expect("run_seed");
        let (_, config) = node_config(key_seed, NOISE_TLS_SECIO);
        let chunks: Vec<Vec<u8>> = v["peer_chunks"]
            .as_array()
            .expect("peer_chunks")
            .iter()
            .map(|c| unhex(c.as_str().expect("hex chunk")))
            .collect();
        let remote: PeerId = v["remote_peer_id"]
            .as_str()
            .expect("remote_peer_id")
            .parse()
            .expect("PeerId");
        let (dial, role) = match v["role"].as_str() {
            Some("dialer") => {
                let expected = v["expected_remote_peer_id"]
                    .as_str()
                    .map(|p| p.parse().expect("PeerId"));
                let role = Role::Client {
                    pings: v["pings"].as_u64().unwrap_or(0) as usize,
                    echo: v["echo"].as_u64().unwrap_or(0) as usize,
                };
                (Some(expected), role)
            }
            Some("listener") => (None, Role::Server),
            other => panic!("{name}: unknown role {other:?}"),
        };
        let mut wire = Replay {
            chunks: chunks.into_iter(),
            ours: Vec::new(),
        };
        let outcome = run(&config, dial, run_seed, role, &mut wire);
        assert_eq!(outcome.error, None, "{name}");
        assert_eq!(outcome.remote_peer_id, Some(remote), "{name}");
        assert_eq!(outcome.security, Some(SecurityProtocol::Secio), "{name}");
        let want = unhex(v["our_bytes"].as_str().expect("our_bytes"));
        if wire.ours != want {
            let at = wire
                .ours
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(wire.ours.len().min(want.len()));
            panic!(
                "{name}: our bytes differ from the recording at offset {at} (ours {} bytes, recorded {})",
                wire.ours.len(),
                want.len()
            );
        }
        if let Role::Client { pings, .. } = role {
            assert_eq!(outcome.pings_ok, pings, "{name}");
        }
    }
}
