//! Private networks (feature `pnet`), in process: the go-libp2p fingerprint vector, the
//! layer's chunking invariance, and the upgrade with a key over loopback TCP through the
//! tokio adapter (the same key connects; another key, or none, fails on both sides with
//! a named error, at once). Interop with rust-libp2p and js-libp2p: `tests/pnet_interop.rs`.
#![cfg(all(
    feature = "pnet",
    feature = "tokio",
    feature = "noise",
    feature = "tls"
))]

use std::io;
use std::time::{Duration, Instant};

use p2psec::adapters::tokio as tio;
use p2psec::identity::{KeyType, Keypair};
use p2psec::pnet::{Error as PnetError, Pnet, PreSharedKey, NONCE_LEN};
use p2psec::upgrade::{self, Config, SecurityProtocol};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(serde::Deserialize)]
struct FingerprintVector {
    key_file: String,
    fingerprint: String,
}

#[test]
fn the_fingerprint_is_go_libp2ps() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/pnet/fingerprint.json");
    let v: FingerprintVector =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vector")).expect("json");
    let key = PreSharedKey::from_key_file(v.key_file.as_bytes()).expect("key file");
    assert_eq!(key.fingerprint().to_string(), v.fingerprint);
}

/// A stream as one side sends it: the nonce, then `plain` sealed.
fn wire(key: &PreSharedKey, nonce: [u8; NONCE_LEN], plain: &[u8]) -> Vec<u8> {
    let mut layer = Pnet::new(key, nonce);
    let mut body = plain.to_vec();
    layer.seal(&mut body);
    let mut out = layer.nonce().to_vec();
    out.extend_from_slice(&body);
    out
}

proptest! {
    /// The same bytes split anywhere open to the same plaintext (after the header check).
    #[test]
    fn opening_is_chunking_invariant(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        nonce in any::<[u8; NONCE_LEN]>(),
    ) {
        let key = PreSharedKey::new([3; 32]);
        let mut plain = b"\x13/multistream/1.0.0\n".to_vec();
        plain.extend_from_slice(&body);
        let sent = wire(&key, nonce, &plain);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (sent.len() + 1)).collect();
        points.push(0);
        points.push(sent.len());
        points.sort_unstable();
        let mut layer = Pnet::new(&key, [0; NONCE_LEN]);
        let mut got = Vec::new();
        for w in points.windows(2) {
            let mut piece = sent[w[0]..w[1]].to_vec();
            let start = layer.open(&mut piece).expect("the same key");
            got.extend_from_slice(&piece[start..]);
        }
        prop_assert_eq!(got, plain);
        prop_assert!(layer.peer_proved_key());
    }
}

#[cfg(feature = "fuzzing")]
#[test]
fn the_fuzz_body_holds_on_a_few_inputs() {
    let key = PreSharedKey::new([0x42; 32]);
    let mut inputs = vec![
        Vec::new(),
        vec![0; 100],
        key.to_key_file().as_bytes().to_vec(),
    ];
    let mut good = vec![9u8];
    good.extend(wire(&key, [1; NONCE_LEN], b"\x13/multistream/1.0.0\nmore"));
    inputs.push(good);
    for input in inputs {
        p2psec::fuzzing::pnet_layer(&input);
    }
}

fn config(security: SecurityProtocol, psk: Option<&PreSharedKey>) -> Config {
    let mut rng = p2psec::adapters::os_rng();
    let identity = Keypair::generate(KeyType::Ed25519, &mut rng).expect("identity");
    let config = Config::new(&identity, p2psec::adapters::unix_time_now(), &mut rng)
        .expect("config")
        .with_security([security])
        .expect("security");
    match psk {
        Some(key) => config.with_psk(key.clone()),
        None => config,
    }
}

/// One upgrade over loopback between a dialer and a listener with the given keys:
/// (dialer's result, listener's result, how long the slower took).
async fn upgrade_pair(
    security: SecurityProtocol,
    dialer_key: Option<&PreSharedKey>,
    listener_key: Option<&PreSharedKey>,
) -> (
    io::Result<tio::SecureStream<tokio::net::TcpStream>>,
    io::Result<tio::SecureStream<tokio::net::TcpStream>>,
    Duration,
) {
    let (dc, lc) = (config(security, dialer_key), config(security, listener_key));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let expected = lc.local_peer_id();
    let start = Instant::now();
    let deadline = Duration::from_secs(5);
    let (d, l) = tokio::join!(
        async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            tio::dial(tcp, &dc, Some(expected), deadline).await
        },
        async {
            let (tcp, _) = listener.accept().await.expect("accept");
            tio::accept(tcp, &lc, deadline).await
        }
    );
    (d, l, start.elapsed())
}

fn pnet_error(r: &io::Result<tio::SecureStream<tokio::net::TcpStream>>) -> Option<PnetError> {
    let e = r.as_ref().err()?;
    match e.get_ref()?.downcast_ref::<upgrade::Error>()? {
        upgrade::Error::Pnet(p) => Some(p.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_upgrades_and_carries_data_both_ways() {
    let key = PreSharedKey::generate(&mut p2psec::adapters::os_rng());
    for security in [SecurityProtocol::Noise, SecurityProtocol::Tls] {
        let (d, l, _) = upgrade_pair(security, Some(&key), Some(&key)).await;
        let (mut d, mut l) = (d.expect("dialer"), l.expect("listener"));
        d.write_all(b"over the private network")
            .await
            .expect("write");
        d.flush().await.expect("flush");
        let mut got = [0u8; 24];
        l.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"over the private network");
        l.write_all(b"back").await.expect("write");
        l.flush().await.expect("flush");
        let mut back = [0u8; 4];
        d.read_exact(&mut back).await.expect("read");
        assert_eq!(&back, b"back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_fails_both_sides_at_once_with_a_named_error() {
    let mut rng = p2psec::adapters::os_rng();
    let (a, b) = (
        PreSharedKey::generate(&mut rng),
        PreSharedKey::generate(&mut rng),
    );
    for security in [SecurityProtocol::Noise, SecurityProtocol::Tls] {
        let (d, l, took) = upgrade_pair(security, Some(&a), Some(&b)).await;
        // each side gets the other's multistream header (both send it first) as noise
        for (side, r) in [("dialer", &d), ("listener", &l)] {
            let e = pnet_error(r)
                .unwrap_or_else(|| panic!("{security:?} {side}: {:?}", r.as_ref().err()));
            assert!(
                matches!(
                    e,
                    PnetError::WrongKey {
                        offset: 0,
                        expected: 0x13,
                        ..
                    } | PnetError::ClosedBeforeProof
                ),
                "{security:?} {side}: {e:?}"
            );
            assert_eq!(
                r.as_ref().err().map(io::Error::kind),
                Some(io::ErrorKind::PermissionDenied)
            );
        }
        assert!(took < Duration::from_secs(2), "{security:?}: took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_on_one_side_only_fails_the_keyed_side_with_a_named_error() {
    let key = PreSharedKey::generate(&mut p2psec::adapters::os_rng());
    let (d, l, _) = upgrade_pair(SecurityProtocol::Noise, Some(&key), None).await;
    assert!(pnet_error(&d).is_some(), "dialer: {:?}", d.as_ref().err());
    assert!(l.is_err(), "the listener without the key upgraded");
    let (d, l, _) = upgrade_pair(SecurityProtocol::Noise, None, Some(&key)).await;
    assert!(pnet_error(&l).is_some(), "listener: {:?}", l.as_ref().err());
    assert!(d.is_err(), "the dialer without the key upgraded");
}
