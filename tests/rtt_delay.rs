//! Round trips measured in time: `p2psec dial --repeat 2 --json`, with the CLI's default
//! lists (`--security noise,tls`, `--muxer yamux,mplex`), through a delay proxy
//! (`common/delay_proxy.rs`) to a peer that speaks only `/noise` and `/yamux/1.0.0`: a
//! rust-libp2p 0.57 `Swarm` (ping behaviour) and a js-libp2p node
//! (`tests/interop/js/peer.mjs`, installed by `tests/interop/js/install.sh`; Node.js >= 20
//! and npm must be on PATH, the js test fails without them).
//!
//! The first dial has an empty peer memory and pays for the lists; the second proposes
//! what the peer accepted (one round trip). Each dial's `handshake_ms` runs from the start
//! of the dial (TCP connect included) to the end of the upgrade. The proxy delays every
//! chunk by D each way, so a round trip after TCP's own handshake costs 2 D more; TCP's
//! connect to the proxy is not delayed (see the proxy's docs). The dials are run with
//! D = 50 ms and D = 150 ms and the round trips are the slope,
//! `(t(150) - t(50)) / (2 * 100 ms)`: the CPU time of the handshake (key generation,
//! signatures, the peer's own work), which is the same at both delays, cancels out. Each
//! delay is measured [`RUNS`] times and the fastest run is kept (noise only adds time);
//! the runs are paced ([`PACE`]) to stay under js-libp2p's inbound rate limit.
//!
//! Printed: `rtt first_contact_rust V`, `rtt redial_rust V`, `rtt first_contact_js V`,
//! `rtt redial_js V` (the measured round trips), and beside each the CLI's own count (the
//! `round_trips` field). Checked, loosely (the machine may be busy, but 100 ms per round
//! trip dominates): every re-dial is one round trip (within 0.4), and first contact with
//! rust-libp2p is three, more than its re-dial.
//!
//! Only loopback addresses are used; every spawned process is killed on drop and every wait
//! is bounded ([`DEADLINE`]), so a hang fails the test. The measurements are serialised
//! (one at a time across the tests of this binary) so that they do not slow each other.
#![cfg(feature = "cli")]

#[path = "common/delay_proxy.rs"]
mod delay_proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use delay_proxy::DelayProxy;
use libp2p::{futures::StreamExt, noise, ping, swarm::SwarmEvent, tcp, yamux, SwarmBuilder};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

/// Bound on every wait: a listener's start, one `p2psec dial` run.
const DEADLINE: Duration = Duration::from_secs(60);
/// The two one-way delays; the slope between them counts the round trips.
const DELAYS_MS: [u64; 2] = [50, 150];
/// Runs per delay; the fastest is kept.
const RUNS: usize = 3;
/// Least time between the starts of two runs (two connections each): js-libp2p refuses
/// more than 5 inbound connections per second from one host (its connection manager's
/// `inboundConnectionThreshold`), and 127.0.0.1 is one host.
const PACE: Duration = Duration::from_millis(1100);

/// One measurement at a time in this test binary.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A spawned process, killed when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// Reads `from` to its end in a task (so the child never blocks on a full pipe), into the
/// returned buffer, shown on failure.
fn drain(mut from: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let out = buf.clone();
    tokio::spawn(async move {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = from.read(&mut chunk).await {
            let text = String::from_utf8_lossy(&chunk[..n]).into_owned();
            out.lock().unwrap().push_str(&text);
        }
    });
    buf
}

/// The port of a `/ip4/127.0.0.1/tcp/PORT[/...]` multiaddr.
fn loopback_port(addr: &str) -> u16 {
    addr.strip_prefix("/ip4/127.0.0.1/tcp/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{addr:?} is not a /ip4/127.0.0.1/tcp/PORT multiaddr"))
}

/// What one delay gave: the fastest `handshake_ms` of dial 1 and dial 2, and the CLI's
/// `round_trips` of each.
struct AtDelay {
    ms: [f64; 2],
    counted: [u64; 2],
}

/// Runs `p2psec dial --repeat 2 --json` through `proxy` to `peer_id`, [`RUNS`] times.
async fn dial_through(name: &str, proxy: &DelayProxy, peer_id: &str) -> AtDelay {
    let target = format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer_id}", proxy.addr().port());
    let mut best = [f64::INFINITY; 2];
    let mut counted = None;
    for run in 1..=RUNS {
        let paced = tokio::time::sleep(PACE);
        let child = Command::new(env!("CARGO_BIN_EXE_p2psec"))
            .args(["dial", &target, "--repeat", "2", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn p2psec dial");
        let out = timeout(DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{name}: p2psec dial {target} ran over {DEADLINE:?}"))
            .expect("wait for p2psec dial");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ctx = || {
            format!(
                "{name}, D = {:?}, run {run}: p2psec dial {target} ({})\n--- stdout\n{stdout}\
                 --- stderr\n{}",
                proxy.delay(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        };
        assert!(out.status.success(), "{}", ctx());
        let connected: Vec<Value> = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["event"] == "connected")
            .collect();
        assert_eq!(connected.len(), 2, "{}", ctx());
        assert_eq!(connected[0]["memory"], "empty", "{}", ctx());
        assert_eq!(connected[1]["memory"], "used", "{}", ctx());
        let mut rounds = [0; 2];
        for (i, c) in connected.iter().enumerate() {
            assert_eq!(c["dial"], i as u64 + 1, "{}", ctx());
            assert_eq!(c["remote_peer_id"], peer_id, "{}", ctx());
            assert_eq!(c["security"], "/noise", "{}", ctx());
            assert_eq!(c["muxer"], "/yamux/1.0.0", "{}", ctx());
            let ms = c["handshake_ms"].as_f64().expect("handshake_ms");
            best[i] = best[i].min(ms);
            rounds[i] = c["round_trips"].as_u64().expect("round_trips");
        }
        // the CLI's count does not depend on time
        assert_eq!(*counted.get_or_insert(rounds), rounds, "{}", ctx());
        paced.await;
    }
    AtDelay {
        ms: best,
        counted: counted.unwrap(),
    }
}

/// Measures first contact and re-dial against the peer at `target`; prints and returns
/// `[first contact, re-dial]` in round trips, and the CLI's counts.
async fn measure(label: &str, target: SocketAddr, peer_id: &str) -> ([f64; 2], [u64; 2]) {
    let mut at = Vec::new();
    for d in DELAYS_MS {
        let proxy = DelayProxy::start(target, Duration::from_millis(d))
            .await
            .expect("start the delay proxy");
        at.push(dial_through(label, &proxy, peer_id).await);
    }
    let (low, high) = (&at[0], &at[1]);
    assert_eq!(
        low.counted, high.counted,
        "{label}: the CLI's counts differ"
    );
    let per_round_trip = 2.0 * (DELAYS_MS[1] - DELAYS_MS[0]) as f64;
    let rounds = [0, 1].map(|i| (high.ms[i] - low.ms[i]) / per_round_trip);
    for (i, what) in ["first_contact", "redial"].into_iter().enumerate() {
        println!("rtt {what}_{label} {:.2}", rounds[i]);
        println!(
            "  cli round_trips {}; handshake_ms {:.1} at D = {} ms, {:.1} at D = {} ms",
            low.counted[i], low.ms[i], DELAYS_MS[0], high.ms[i], DELAYS_MS[1]
        );
    }
    (rounds, low.counted)
}

/// A rust-libp2p Swarm listening on loopback with `/noise`, yamux and ping; its task is
/// aborted on drop. `errors` collects its connection errors, for failure messages.
struct RustPeer {
    addr: SocketAddr,
    peer_id: String,
    errors: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RustPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RustPeer {
    async fn listen() -> RustPeer {
        let mut swarm = SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("noise transport")
            .with_behaviour(|_| ping::Behaviour::new(ping::Config::new()))
            .expect("ping behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
            .expect("listen_on");
        let addr = timeout(DEADLINE, async {
            loop {
                if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                    return address;
                }
            }
        })
        .await
        .expect("no NewListenAddr from the Swarm");
        let port = loopback_port(&addr.to_string());
        let peer_id = swarm.local_peer_id().to_string();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = errors.clone();
        let task = tokio::spawn(async move {
            loop {
                if let SwarmEvent::IncomingConnectionError { error, .. } =
                    swarm.select_next_some().await
                {
                    seen.lock().unwrap().push(error.to_string());
                }
            }
        });
        RustPeer {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            peer_id,
            errors,
            task,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtt_against_rust_libp2p() {
    let _serial = SERIAL.lock().await;
    let rust = RustPeer::listen().await;
    let (rounds, counted) = measure("rust", rust.addr, &rust.peer_id).await;
    let [first, again] = rounds;
    let ctx = format!(
        "measured {rounds:?}, the CLI counts {counted:?}; Swarm errors {:?}",
        rust.errors.lock().unwrap()
    );
    assert!((again - 1.0).abs() < 0.4, "re-dial: {ctx}");
    assert!((first - 3.0).abs() < 0.4, "first contact: {ctx}");
    assert!(first > again, "{ctx}");
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/js")
}

/// Runs `tests/interop/js/install.sh` (idempotent); panics with its output when node or
/// npm is missing or `npm ci` fails.
fn install_js_peer() {
    for tool in ["node", "npm"] {
        if let Err(e) = std::process::Command::new(tool).arg("--version").output() {
            panic!("`{tool} --version` failed ({e}): this test needs Node.js >= 20 and npm");
        }
    }
    let script = js_dir().join("install.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not run bash {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtt_against_js_libp2p() {
    tokio::task::spawn_blocking(install_js_peer)
        .await
        .expect("install the js peer");
    let _serial = SERIAL.lock().await;
    let mut child = Command::new("node")
        .current_dir(js_dir())
        .args(["peer.mjs", "listen", "--security", "noise"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node peer.mjs listen");
    let stderr = drain(child.stderr.take().unwrap());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let _child = KillOnDrop(child);
    let mut line = String::new();
    let read = timeout(DEADLINE, stdout.read_line(&mut line))
        .await
        .expect("the js listener printed no multiaddr in time")
        .expect("read the js listener's stdout");
    assert!(
        read > 0,
        "the js listener ended without a multiaddr; stderr: {}",
        stderr.lock().unwrap()
    );
    let _rest = drain(stdout);
    let addr = line.trim();
    let port = loopback_port(addr);
    let peer_id = addr
        .rsplit_once("/p2p/")
        .map(|(_, id)| id.to_owned())
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .unwrap_or_else(|| panic!("{addr:?} does not end in /p2p/<PeerId>"));
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    let (rounds, counted) = measure("js", target, &peer_id).await;
    let [first, again] = rounds;
    let ctx = format!(
        "measured {rounds:?}, the CLI counts {counted:?}; js stderr:\n{}",
        stderr.lock().unwrap()
    );
    assert!((again - 1.0).abs() < 0.4, "re-dial: {ctx}");
    assert!(first > again, "{ctx}");
}
