//! p2psec inside a rust-libp2p 0.57 Swarm (feature `libp2p`): a Swarm built with
//! `SwarmBuilder::with_tcp(tcp::Config::default(), p2psec::libp2p::Noise::new (or
//! Tls::new), yamux::Config::default)` pings a stock Swarm (libp2p-noise, libp2p-tls) and
//! is pinged by it, in both roles; and it pings a js-libp2p node and is pinged by one
//! (`tests/interop/js/peer.mjs`). Loopback only; every wait has a deadline.
#![cfg(feature = "libp2p")]

use std::process::Stdio;
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

#[path = "common/js_peer.rs"]
mod js_peer;
#[path = "common/swarm.rs"]
mod swarm;

use swarm::{build_swarm_on, RunningSwarm, Security, Seen, Stack};

/// Pings each side must see answered.
const PINGS: usize = 2;
const DEADLINE: Duration = Duration::from_secs(60);

/// Waits until `swarm` saw `count` answered pings with `peer`; panics on a connection
/// error or closure, or at the deadline.
async fn pings_with(swarm: &mut RunningSwarm, peer: PeerId, count: usize, what: &str) {
    let mut answered = 0;
    while answered < count {
        match swarm.next().await {
            Some(Seen::Ping {
                peer: p,
                result: Ok(_),
            }) if p == peer => answered += 1,
            Some(Seen::Ping {
                peer: p,
                result: Err(e),
            }) if p == peer => {
                panic!("{what}: a ping failed: {e}; events {:?}", swarm.log)
            }
            Some(Seen::OutgoingError(e)) | Some(Seen::IncomingError(e)) => {
                panic!("{what}: connection error: {e}; events {:?}", swarm.log)
            }
            Some(Seen::Closed { peer: p, cause }) if p == peer => {
                panic!(
                    "{what}: closed ({cause:?}) after {answered} pings; events {:?}",
                    swarm.log
                )
            }
            Some(_) => {}
            None => panic!(
                "{what}: {answered} of {count} pings in time; events {:?}",
                swarm.log
            ),
        }
    }
}

/// A Swarm on `listener` listens, one on `dialer` dials it: each pings the other.
async fn swarm_pings_swarm(security: Security, listener: Stack, dialer: Stack) {
    let what = format!("{security:?}: {dialer:?} Swarm dials {listener:?} Swarm");
    let (mut l, addr) = RunningSwarm::listen_with(build_swarm_on(security, listener)).await;
    let mut d = build_swarm_on(security, dialer);
    d.dial(addr.with(Protocol::P2p(l.peer_id))).expect("dial");
    let mut d = RunningSwarm::spawn(d);
    pings_with(&mut d, l.peer_id, PINGS, &what).await;
    pings_with(&mut l, d.peer_id, PINGS, &what).await;
    println!("{what}: {PINGS} pings each way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_p2psec_swarm_dials_stock_swarm() {
    swarm_pings_swarm(Security::Noise, Stack::Stock, Stack::P2psec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_stock_swarm_dials_p2psec_swarm() {
    swarm_pings_swarm(Security::Noise, Stack::P2psec, Stack::Stock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_p2psec_swarm_dials_stock_swarm() {
    swarm_pings_swarm(Security::Tls, Stack::Stock, Stack::P2psec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_stock_swarm_dials_p2psec_swarm() {
    swarm_pings_swarm(Security::Tls, Stack::P2psec, Stack::Stock).await;
}

/// `node peer.mjs ARGS` with stdout piped, killed when dropped.
fn js(args: &[&str]) -> tokio::process::Child {
    js_peer::install_js_peer();
    let std_cmd = js_peer::node_peer(args);
    let mut cmd = tokio::process::Command::from(std_cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.spawn().expect("spawn node peer.mjs")
}

/// A js-libp2p node listens; the p2psec Swarm dials it and its pings are answered.
async fn p2psec_swarm_dials_js(security: Security) {
    let mut node = js(&["listen", "--security", security.cli()]);
    let mut stdout = BufReader::new(node.stdout.take().expect("stdout")).lines();
    let line = timeout(DEADLINE, stdout.next_line())
        .await
        .expect("the js node printed no address in time")
        .expect("read the js node's stdout")
        .expect("the js node exited before printing its address");
    let addr: Multiaddr = line.trim().parse().expect("a multiaddr");
    let Some(Protocol::P2p(js_id)) = addr.iter().last() else {
        panic!("{addr} does not end in /p2p/<PeerId>");
    };
    // keep draining: a full pipe would stall the node
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    let mut swarm = build_swarm_on(security, Stack::P2psec);
    swarm.dial(addr.clone()).expect("dial");
    let mut swarm = RunningSwarm::spawn(swarm);
    let what = format!("{security:?}: p2psec Swarm dials js-libp2p");
    pings_with(&mut swarm, js_id, PINGS, &what).await;
    println!("{what}: {PINGS} pings answered");
}

/// The p2psec Swarm listens; a js-libp2p node dials it and pings it three times.
async fn js_dials_p2psec_swarm(security: Security) {
    let (mut swarm, addr) =
        RunningSwarm::listen_with(build_swarm_on(security, Stack::P2psec)).await;
    let full = addr.with(Protocol::P2p(swarm.peer_id)).to_string();
    let node = js(&["dial", &full, "--security", security.cli(), "--ping", "3"]);
    let out = timeout(DEADLINE, node.wait_with_output())
        .await
        .expect("the js dial did not finish in time")
        .expect("wait for the js dial");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let what = format!("{security:?}: js-libp2p dials the p2psec Swarm");
    assert!(
        out.status.success(),
        "{what}: {}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- Swarm events {:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        swarm.pending()
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let connected = lines
        .iter()
        .find(|l| l["event"] == "connected")
        .unwrap_or_else(|| panic!("{what}: no connected line in {stdout}"));
    assert_eq!(
        connected["remote_peer_id"],
        swarm.peer_id.to_string(),
        "{what}"
    );
    let pings = lines.iter().filter(|l| l["event"] == "ping").count();
    assert_eq!(pings, 3, "{what}: {stdout}");
    println!("{what}: {pings} pings answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_p2psec_swarm_dials_js() {
    p2psec_swarm_dials_js(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_p2psec_swarm_dials_js() {
    p2psec_swarm_dials_js(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_js_dials_p2psec_swarm() {
    js_dials_p2psec_swarm(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_js_dials_p2psec_swarm() {
    js_dials_p2psec_swarm(Security::Tls).await;
}
