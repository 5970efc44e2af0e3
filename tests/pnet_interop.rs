//! Private networks (libp2p pnet, PSK v1) against the real implementations, loopback only:
//! the `p2psec` CLI with `--psk` against a rust-libp2p 0.57 Swarm with libp2p-pnet (as
//! rust-libp2p composes it: TCP, then the pnet handshake, then the upgrade) and against
//! js-libp2p with `@libp2p/pnet` (`tests/interop/js/peer.mjs --psk`), in both roles, Noise
//! and TLS. The same key connects and pings; another key fails on both sides, and
//! p2psec's side names it: `pnet::Error::WrongKey` at the peer's first byte when the peer
//! speaks first or answers, `ClosedBeforeProof` when it hangs up, `TimedOutBeforeProof`
//! when a listener waits in silence for the rest of what our bytes decrypted to on its
//! side (both rust-libp2p's and js-libp2p's multistream listeners wait for the dialer's
//! header; those dials run with a short deadline).
#![cfg(feature = "cli")]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use p2psec::pnet::PreSharedKey;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

#[path = "common/js_peer.rs"]
mod js_peer;
#[path = "common/swarm.rs"]
mod swarm;

use swarm::{build_pnet_swarm, RunningSwarm, Security, Seen};

const DEADLINE: Duration = Duration::from_secs(60);
/// What p2psec's side says when the peer holds another key (both named errors say it).
const NAMED: &str = "pre-shared key";
/// A failed dial must fail well before the 10 s handshake deadline.
const QUICK: Duration = Duration::from_secs(5);

/// Two different keys as key files in a directory of this test's own.
fn key_files(test: &str) -> (PathBuf, PathBuf, [u8; 32]) {
    let dir = std::env::temp_dir().join(format!("p2psec-pnet-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rng = p2psec::adapters::os_rng();
    let (a, b) = (
        PreSharedKey::generate(&mut rng),
        PreSharedKey::generate(&mut rng),
    );
    let (pa, pb) = (dir.join("a.key"), dir.join("b.key"));
    std::fs::write(&pa, a.to_key_file().as_bytes()).expect("write key");
    std::fs::write(&pb, b.to_key_file().as_bytes()).expect("write key");
    (pa, pb, *a.as_bytes())
}

fn p2psec(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p2psec"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

fn js(args: &[&str]) -> Command {
    js_peer::install_js_peer();
    let mut cmd = Command::from(js_peer::node_peer(args));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs a dialer to its end: (success, stdout, stderr, how long it took).
async fn run(mut cmd: Command) -> (bool, String, String, Duration) {
    let start = Instant::now();
    let out = timeout(DEADLINE, cmd.output())
        .await
        .expect("the dialer did not finish in time")
        .expect("run the dialer");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

/// A listener process and its first stdout line (its address); its stderr is collected.
struct Listening {
    _child: Child,
    addr: String,
    stderr: tokio::task::JoinHandle<String>,
}

impl Listening {
    async fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().expect("spawn the listener");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = timeout(DEADLINE, lines.next_line())
            .await
            .expect("no address in time")
            .expect("read stdout")
            .expect("the listener exited before its address");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let mut err = child.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text).await;
            text
        });
        Self {
            _child: child,
            addr: addr.trim().to_owned(),
            stderr,
        }
    }

    /// Its stderr so far (ends it: call last).
    async fn stderr(self) -> String {
        drop(self._child);
        timeout(DEADLINE, self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

/// Waits for `count` answered pings with `peer`, panicking on an error or the deadline.
async fn pings_with(swarm: &mut RunningSwarm, peer: PeerId, count: usize, what: &str) {
    let mut answered = 0;
    while answered < count {
        match swarm.next().await {
            Some(Seen::Ping {
                peer: p,
                result: Ok(_),
            }) if p == peer => answered += 1,
            Some(Seen::OutgoingError(e)) | Some(Seen::IncomingError(e)) => {
                panic!("{what}: connection error: {e}; events {:?}", swarm.log)
            }
            Some(_) => {}
            None => panic!(
                "{what}: {answered} of {count} pings; events {:?}",
                swarm.log
            ),
        }
    }
}

/// Waits for the Swarm to report a failed connection (it refused the other key too).
async fn refused(swarm: &mut RunningSwarm, what: &str) {
    loop {
        match swarm.next().await {
            Some(Seen::IncomingError(_)) | Some(Seen::OutgoingError(_)) => return,
            Some(Seen::Established { .. }) => {
                panic!("{what}: the Swarm connected; {:?}", swarm.log)
            }
            Some(_) => {}
            None => panic!(
                "{what}: the Swarm reported no failed connection; {:?}",
                swarm.log
            ),
        }
    }
}

fn check_refusal(what: &str, ok: bool, stderr: &str, took: Duration) {
    assert!(!ok, "{what}: connected with another key");
    assert!(
        stderr.contains(NAMED),
        "{what}: stderr does not name the key: {stderr}"
    );
    assert!(took < QUICK, "{what}: took {took:?} to fail");
}

async fn p2psec_dials_pnet_swarm(security: Security) {
    let (same, other, key) = key_files(&format!("dials-swarm-{security:?}"));
    let (mut swarm, addr) = RunningSwarm::listen_with(build_pnet_swarm(security, key)).await;
    let full = addr.with(Protocol::P2p(swarm.peer_id)).to_string();
    let what = format!("{security:?}: p2psec dials a pnet Swarm");
    let (same, other) = (same.to_str().unwrap(), other.to_str().unwrap());
    let (ok, stdout, stderr, _) = run(p2psec(&[
        "dial",
        &full,
        "--security",
        security.cli(),
        "--psk",
        same,
        "--ping",
        "2",
    ]))
    .await;
    assert!(ok, "{what}, same key: {stdout}\n{stderr}");
    assert!(stdout.contains("ping"), "{what}: {stdout}");
    // the Swarm's events of the good connection are in; what follows is the bad one's
    let _ = swarm.pending();
    // rust-libp2p's multistream listener waits for the dialer's header before it sends
    // its own: with another key it hangs up when our noise fails its parser, or waits
    // when the noise announced a long message; then p2psec learns at its deadline (short
    // here). Either way p2psec names the likely cause
    let (ok, _, stderr, took) = run(p2psec(&[
        "dial",
        &full,
        "--security",
        security.cli(),
        "--psk",
        other,
        "--handshake-timeout",
        "2",
    ]))
    .await;
    check_refusal(&format!("{what}, another key"), ok, &stderr, took);
    refused(&mut swarm, &what).await;
}

async fn pnet_swarm_dials_p2psec(security: Security) {
    let (same, _, key) = key_files(&format!("swarm-dials-{security:?}"));
    let listener = Listening::spawn(p2psec(&[
        "listen",
        "--security",
        security.cli(),
        "--muxer",
        "yamux",
        "--psk",
        same.to_str().unwrap(),
    ]))
    .await;
    let addr: Multiaddr = listener.addr.parse().expect("multiaddr");
    let Some(Protocol::P2p(id)) = addr.iter().last() else {
        panic!("{addr}: no PeerId");
    };
    let what = format!("{security:?}: a pnet Swarm dials p2psec");
    let mut good = build_pnet_swarm(security, key);
    good.dial(addr.clone()).expect("dial");
    let mut good = RunningSwarm::spawn(good);
    pings_with(&mut good, id, 2, &what).await;
    drop(good);
    let mut wrong_key = key;
    wrong_key[0] ^= 1;
    let mut bad = build_pnet_swarm(security, wrong_key);
    bad.dial(addr).expect("dial");
    let mut bad = RunningSwarm::spawn(bad);
    refused(&mut bad, &what).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stderr = listener.stderr().await;
    assert!(
        stderr.contains(NAMED),
        "{what}: p2psec's stderr does not name the key: {stderr}"
    );
}

async fn p2psec_dials_pnet_js(security: Security) {
    let (same, other, _) = key_files(&format!("dials-js-{security:?}"));
    let (same, other) = (same.to_str().unwrap(), other.to_str().unwrap());
    let node = Listening::spawn(js(&["listen", "--security", security.cli(), "--psk", same])).await;
    let what = format!("{security:?}: p2psec dials a pnet js-libp2p node");
    let (ok, stdout, stderr, _) = run(p2psec(&[
        "dial",
        &node.addr,
        "--security",
        security.cli(),
        "--psk",
        same,
        "--ping",
        "2",
    ]))
    .await;
    assert!(ok, "{what}, same key: {stdout}\n{stderr}");
    // js-libp2p limits inbound connections per second from one address
    tokio::time::sleep(Duration::from_millis(500)).await;
    // like rust-libp2p's, js-libp2p's listener may wait in silence when our bytes decrypt
    // to noise that announces a long message (or it resets): a short deadline, and the
    // cause named either way
    let (ok, _, stderr, took) = run(p2psec(&[
        "dial",
        &node.addr,
        "--security",
        security.cli(),
        "--psk",
        other,
        "--handshake-timeout",
        "2",
    ]))
    .await;
    check_refusal(&format!("{what}, another key"), ok, &stderr, took);
}

async fn pnet_js_dials_p2psec(security: Security) {
    let (same, other, _) = key_files(&format!("js-dials-{security:?}"));
    let (same, other) = (same.to_str().unwrap(), other.to_str().unwrap());
    let listener = Listening::spawn(p2psec(&[
        "listen",
        "--security",
        security.cli(),
        "--muxer",
        "yamux",
        "--psk",
        same,
    ]))
    .await;
    let what = format!("{security:?}: a pnet js-libp2p node dials p2psec");
    let (ok, stdout, stderr, _) = run(js(&[
        "dial",
        &listener.addr,
        "--security",
        security.cli(),
        "--psk",
        same,
        "--ping",
        "3",
    ]))
    .await;
    assert!(ok, "{what}, same key: {stdout}\n{stderr}");
    assert_eq!(stdout.matches("\"ping\"").count(), 3, "{what}: {stdout}");
    let (ok, stdout, _, _) = run(js(&[
        "dial",
        &listener.addr,
        "--security",
        security.cli(),
        "--psk",
        other,
        "--timeout",
        "10",
    ]))
    .await;
    assert!(!ok, "{what}, another key: js connected: {stdout}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stderr = listener.stderr().await;
    assert!(
        stderr.contains(NAMED),
        "{what}: p2psec's stderr does not name the key: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_p2psec_dials_pnet_swarm() {
    p2psec_dials_pnet_swarm(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_p2psec_dials_pnet_swarm() {
    p2psec_dials_pnet_swarm(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_pnet_swarm_dials_p2psec() {
    pnet_swarm_dials_p2psec(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_pnet_swarm_dials_p2psec() {
    pnet_swarm_dials_p2psec(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_p2psec_dials_pnet_js() {
    p2psec_dials_pnet_js(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_p2psec_dials_pnet_js() {
    p2psec_dials_pnet_js(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_pnet_js_dials_p2psec() {
    pnet_js_dials_p2psec(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_pnet_js_dials_p2psec() {
    pnet_js_dials_p2psec(Security::Tls).await;
}
