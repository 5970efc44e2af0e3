//! Interop with rust-libp2p 0.57: the `p2psec` CLI against a real rust-libp2p `Swarm` over
//! loopback TCP. The Swarm offers exactly one security protocol (`/noise` or `/tls/1.0.0`),
//! the `/yamux/1.0.0` muxer and the `/ipfs/ping/1.0.0` behaviour (it pings every connection
//! and answers pings).
//!
//! For both security protocols this proves that:
//! - `p2psec dial` upgrades a connection to a Swarm listener, authenticates the Swarm's
//!   PeerId, pings it over yamux, and answers the Swarm's own pings meanwhile;
//! - a Swarm dialing `p2psec listen` authenticates p2psec's PeerId (the one p2psec prints in
//!   its multiaddr) and gets its pings answered;
//! - `p2psec dial` refuses a listener whose PeerId is not the one in `/p2p/`.
//!
//! Every wait has a timeout and every spawned `p2psec` is killed on drop, so a hang fails.
#![cfg(feature = "cli")]

use std::{
    process::{Output, Stdio},
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use libp2p::{identity::Keypair, multiaddr::Protocol, swarm::dial_opts::DialOpts, Multiaddr};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader},
    process::{Child, Command},
    time::timeout,
};

/// Limit for one `p2psec dial` run (and, in `common/swarm.rs`, for a Swarm's events).
const DEADLINE: Duration = Duration::from_secs(30);

#[path = "common/swarm.rs"]
mod swarm;
use swarm::{build_swarm, RunningSwarm, Security, Seen};

/// A spawned `p2psec` process, killed when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

fn p2psec() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p2psec"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `p2psec args` to completion; a run longer than `DEADLINE` fails (and is killed).
async fn run_p2psec(args: &[&str]) -> Output {
    let child = p2psec().args(args).spawn().expect("spawn p2psec");
    match timeout(DEADLINE, child.wait_with_output()).await {
        Ok(out) => out.expect("wait for p2psec"),
        Err(_) => panic!("p2psec {args:?} did not finish within {DEADLINE:?}"),
    }
}

/// Reads `from` to the end in a task, into the returned buffer (so that the child never
/// blocks on a full pipe, and its output can be shown on failure).
fn drain(mut from: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let out = buf.clone();
    tokio::spawn(async move {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = from.read(&mut chunk).await {
            out.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buf
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

async fn p2psec_dials_swarm(security: Security) {
    let (mut swarm, addr) = RunningSwarm::listen(security).await;
    let target = addr.with(Protocol::P2p(swarm.peer_id));
    let out = run_p2psec(&[
        "dial",
        &target.to_string(),
        "--security",
        security.cli(),
        "--ping",
        "3",
        // the Swarm pings p2psec too, from its own task: on a loaded machine that ping
        // may start after p2psec's three are done, so the connection stays open a while
        "--linger",
        "2",
        "--json",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "p2psec dial {target} failed ({}): {stderr}",
        out.status
    );

    // p2psec's side.
    let events = json_lines(&out.stdout);
    let connected = events.first().expect("no output from p2psec dial");
    assert_eq!(connected["event"], "connected", "{events:?}");
    assert_eq!(
        connected["remote_peer_id"],
        swarm.peer_id.to_string(),
        "{connected}"
    );
    assert_eq!(connected["security"], security.protocol(), "{connected}");
    assert_eq!(connected["muxer"], "/yamux/1.0.0", "{connected}");
    assert!(connected["handshake_ms"].is_number(), "{connected}");
    let pings: Vec<&Value> = events.iter().filter(|e| e["event"] == "ping").collect();
    assert_eq!(pings.len(), 3, "{events:?}");
    let first = pings[0]["seq"].as_u64().expect("ping seq");
    for (i, ping) in pings.iter().enumerate() {
        assert_eq!(ping["seq"].as_u64(), Some(first + i as u64), "{events:?}");
        let rtt = ping["rtt_ms"].as_f64().expect("ping rtt_ms");
        assert!(rtt >= 0.0, "{ping}");
    }

    // The Swarm's side: one inbound connection from p2psec, whose pings it answered, and at
    // least one of its own pings answered by p2psec.
    let mut dialer = None;
    let mut answered = None;
    while dialer.is_none() || answered.is_none() {
        match swarm.next().await {
            Some(Seen::Established {
                peer,
                dialer: false,
            }) => dialer = Some(peer),
            Some(Seen::Ping {
                peer,
                result: Ok(rtt),
            }) if Some(peer) == dialer => answered = Some(rtt),
            Some(Seen::IncomingError(e)) => panic!("the Swarm refused p2psec's connection: {e}"),
            Some(_) => {}
            None => panic!(
                "the Swarm saw no inbound connection with a successful ping to p2psec; \
                 events: {:?}; p2psec stdout: {}",
                swarm.log,
                String::from_utf8_lossy(&out.stdout)
            ),
        }
    }
    let dialer = dialer.unwrap();
    assert_ne!(dialer, swarm.peer_id);
    if let Some(local) = connected.get("local_peer_id") {
        assert_eq!(*local, dialer.to_string(), "{connected}");
    }
    println!(
        "{security:?}: p2psec {dialer} dialed Swarm {}; p2psec pings {:?} ms; Swarm ping {:?}",
        swarm.peer_id,
        pings.iter().map(|p| &p["rtt_ms"]).collect::<Vec<_>>(),
        answered.unwrap()
    );
}

/// How the Swarm's dial runs the upgrade: as the dialer (the normal case), or as the
/// listener (`DialOpts::override_role`, hole punching), p2psec then running the dialer's
/// upgrade on the connection it accepted (`listen --as-dialer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SwarmRole {
    Dialer,
    OverriddenToListener,
}

async fn swarm_dials_p2psec(security: Security) {
    swarm_dials_p2psec_as(security, SwarmRole::Dialer).await;
}

async fn swarm_dials_p2psec_as(security: Security, role: SwarmRole) {
    let mut args = vec![
        "listen",
        "--addr",
        "/ip4/127.0.0.1/tcp/0",
        "--security",
        security.cli(),
        "--muxer",
        "yamux",
    ];
    if role == SwarmRole::OverriddenToListener {
        args.push("--as-dialer");
    }
    let mut child = p2psec().args(&args).spawn().expect("spawn p2psec listen");
    let stderr = drain(child.stderr.take().unwrap());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let child = KillOnDrop(child);

    let mut line = String::new();
    let read = timeout(DEADLINE, stdout.read_line(&mut line))
        .await
        .expect("p2psec listen printed no address in time")
        .expect("read p2psec listen stdout");
    assert!(
        read > 0,
        "p2psec listen ended without an address; stderr: {}",
        stderr.lock().unwrap()
    );
    let _rest = drain(stdout);
    let addr = Multiaddr::from_str(line.trim())
        .unwrap_or_else(|e| panic!("not a multiaddr: {line:?}: {e}"));
    let Some(Protocol::P2p(expected)) = addr.iter().last() else {
        panic!("{addr} does not end in /p2p/<PeerId>");
    };

    let mut swarm = build_swarm(security);
    let opts = match role {
        SwarmRole::Dialer => DialOpts::from(addr.clone()),
        SwarmRole::OverriddenToListener => DialOpts::peer_id(expected)
            .addresses(vec![addr.clone()])
            .override_role()
            .build(),
    };
    swarm.dial(opts).expect("Swarm dial");
    let mut swarm = RunningSwarm::spawn(swarm);
    let mut connected = false;
    let mut rtts = Vec::new();
    while !connected || rtts.len() < 2 {
        match swarm.next().await {
            Some(Seen::Established { peer, dialer }) => {
                assert_eq!(peer, expected, "connected to an unexpected PeerId");
                assert!(dialer, "the Swarm's connection should be outbound");
                connected = true;
            }
            Some(Seen::Ping {
                peer,
                result: Ok(rtt),
            }) if peer == expected => rtts.push(rtt),
            Some(Seen::OutgoingError(e)) => panic!(
                "Swarm could not dial {addr}: {e}; p2psec stderr: {}",
                stderr.lock().unwrap()
            ),
            Some(Seen::Closed { peer, cause }) if peer == expected => panic!(
                "p2psec connection closed ({cause:?}) after {} pings; events {:?}; \
                 p2psec stderr: {}",
                rtts.len(),
                swarm.log,
                stderr.lock().unwrap()
            ),
            Some(_) => {}
            None => panic!(
                "Swarm did not connect and ping twice in time; events {:?}; p2psec stderr: {}",
                swarm.log,
                stderr.lock().unwrap()
            ),
        }
    }
    println!(
        "{security:?}: Swarm {} dialed p2psec {expected} (upgrade role {role:?}); ping rtts {rtts:?}",
        swarm.peer_id
    );
    drop(swarm);
    drop(child);
}

async fn dial_with_wrong_peer_id_fails(security: Security) {
    let (swarm, addr) = RunningSwarm::listen(security).await;
    let wrong = Keypair::generate_ed25519().public().to_peer_id();
    assert_ne!(wrong, swarm.peer_id);
    let target = addr.with(Protocol::P2p(wrong));
    let out = run_p2psec(&[
        "dial",
        &target.to_string(),
        "--security",
        security.cli(),
        "--ping",
        "1",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "p2psec dial accepted {} as {wrong}; stdout: {}",
        swarm.peer_id,
        String::from_utf8_lossy(&out.stdout)
    );
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("peerid") || lower.contains("peer id"),
        "stderr does not name the PeerId mismatch: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_p2psec_dials_swarm() {
    p2psec_dials_swarm(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_p2psec_dials_swarm() {
    p2psec_dials_swarm(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_swarm_dials_p2psec() {
    swarm_dials_p2psec(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_swarm_dials_p2psec() {
    swarm_dials_p2psec(Security::Tls).await;
}

// hole punching's role override: the Swarm dials but runs the upgrade as the listener
// (`DialOpts::override_role`), p2psec accepted the connection and runs it as the dialer
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_swarm_dials_p2psec_with_override_role() {
    swarm_dials_p2psec_as(Security::Noise, SwarmRole::OverriddenToListener).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_swarm_dials_p2psec_with_override_role() {
    swarm_dials_p2psec_as(Security::Tls, SwarmRole::OverriddenToListener).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_dial_with_wrong_peer_id_fails() {
    dial_with_wrong_peer_id_fails(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_dial_with_wrong_peer_id_fails() {
    dial_with_wrong_peer_id_fails(Security::Tls).await;
}

/// `p2psec dial --repeat 2` with the CLI's default lists (`noise,tls`, `yamux,mplex`)
/// against a Swarm that speaks one security protocol and yamux, with no early muxer:
/// the first dial pays for the lists, the second proposes what the Swarm accepted, from
/// the process's peer memory, and takes one round trip.
async fn redial_takes_one_round_trip(security: Security) {
    let (_swarm, addr) = RunningSwarm::listen(security).await;
    let target = addr.with(Protocol::P2p(_swarm.peer_id));
    let out = run_p2psec(&[
        "dial",
        &target.to_string(),
        "--repeat",
        "2",
        "--ping",
        "1",
        "--json",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "p2psec dial --repeat 2 failed: {stderr}"
    );
    let events = json_lines(&out.stdout);
    let connected: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "connected")
        .collect();
    assert_eq!(connected.len(), 2, "{events:?}");
    assert_eq!(connected[0]["memory"], "empty", "{events:?}");
    assert_eq!(connected[1]["memory"], "used", "{events:?}");
    for c in &connected {
        assert_eq!(c["security"], security.protocol(), "{c}");
        assert_eq!(c["muxer"], "/yamux/1.0.0", "{c}");
    }
    let first = connected[0]["round_trips"].as_u64().expect("round_trips");
    let again = connected[1]["round_trips"].as_u64().expect("round_trips");
    assert_eq!(again, 1, "{events:?}");
    assert!(first > again, "{events:?}");
    let pings = events.iter().filter(|e| e["event"] == "ping").count();
    assert_eq!(pings, 2, "{events:?}");
    println!("{security:?}: round trips first contact {first}, re-dial {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_redial_takes_one_round_trip() {
    redial_takes_one_round_trip(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_redial_takes_one_round_trip() {
    redial_takes_one_round_trip(Security::Tls).await;
}
