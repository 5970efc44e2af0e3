//! A stock rust-libp2p 0.57 Swarm as a separate process, for peers that are not Rust
//! tests: the Python package's interop tests (python/tests) start it to talk to a real
//! rust-libp2p node. The Swarm is the one tests/interop_rust.rs uses
//! (tests/common/swarm.rs): TCP, one security protocol, yamux, the ping behaviour (it
//! pings every connection every 250 ms and answers pings).
//!
//! ```text
//! swarm_peer listen noise|tls
//!     prints its address (ending in /p2p/<PeerId>) as the first stdout line, then one
//!     JSON object per line for what it sees; exits when its stdin closes.
//! swarm_peer dial noise|tls <multiaddr> [--pings N] [--timeout SECS]
//!     dials, prints the same JSON lines, exits 0 after N (default 2) answered pings to
//!     the dialed peer, 1 on a failed dial or at the timeout (default 30 s).
//! ```
//!
//! Build: `cargo build --example swarm_peer`.

#[path = "../tests/common/swarm.rs"]
mod swarm;

use std::io::{BufRead, Write};
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use swarm::{build_swarm, RunningSwarm, Security, Seen};

fn usage() -> ! {
    eprintln!("usage: swarm_peer listen noise|tls | dial noise|tls <multiaddr> [--pings N] [--timeout SECS]");
    std::process::exit(2)
}

fn security(arg: Option<&String>) -> Security {
    match arg.map(String::as_str) {
        Some("noise") => Security::Noise,
        Some("tls") => Security::Tls,
        _ => usage(),
    }
}

/// One line of JSON for what the Swarm saw.
fn line(seen: &Seen) -> String {
    let text = |s: &str| serde_json::Value::String(s.to_owned());
    let value = match seen {
        Seen::Established { peer, dialer } => serde_json::json!({
            "event": "established", "peer": text(&peer.to_string()), "dialer": dialer,
        }),
        Seen::Ping { peer, result } => match result {
            Ok(rtt) => serde_json::json!({
                "event": "ping", "peer": text(&peer.to_string()), "ok": true,
                "rtt_ms": rtt.as_secs_f64() * 1000.0,
            }),
            Err(e) => serde_json::json!({
                "event": "ping", "peer": text(&peer.to_string()), "ok": false, "error": text(e),
            }),
        },
        Seen::Closed { peer, cause } => serde_json::json!({
            "event": "closed", "peer": text(&peer.to_string()), "cause": cause,
        }),
        Seen::IncomingError(e) => serde_json::json!({"event": "incoming_error", "error": text(e)}),
        Seen::OutgoingError(e) => serde_json::json!({"event": "outgoing_error", "error": text(e)}),
    };
    value.to_string()
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    // a closed stdout (the test is gone) ends nothing here: stdin's end does
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

async fn listen(security: Security) {
    // the test holds our stdin: its end (the test finished or was killed) ends us
    std::thread::spawn(|| {
        let stdin = std::io::stdin();
        for _ in stdin.lock().lines() {}
        std::process::exit(0);
    });
    let (mut swarm, addr) = RunningSwarm::listen(security).await;
    say(&format!("{addr}/p2p/{}", swarm.peer_id));
    loop {
        match swarm.next().await {
            Some(seen) => say(&line(&seen)),
            // `next` gives up after its deadline: a quiet listener goes on listening
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn dial(security: Security, addr: Multiaddr, pings: usize, limit: Duration) -> i32 {
    let Some(libp2p::multiaddr::Protocol::P2p(target)) = addr.iter().last() else {
        eprintln!("the address must end in /p2p/<PeerId>");
        return 2;
    };
    let target: PeerId = target;
    let mut raw = build_swarm(security);
    if let Err(e) = raw.dial(addr) {
        eprintln!("dial: {e}");
        return 1;
    }
    let mut swarm = RunningSwarm::spawn(raw);
    let deadline = tokio::time::Instant::now() + limit;
    let mut answered = 0;
    while answered < pings {
        let Some(seen) = swarm.next_before(deadline).await else {
            eprintln!("timed out after {answered} of {pings} pings");
            return 1;
        };
        say(&line(&seen));
        match &seen {
            Seen::Ping {
                peer,
                result: Ok(_),
            } if *peer == target => answered += 1,
            Seen::OutgoingError(_) => return 1,
            _ => {}
        }
    }
    0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("listen") => listen(security(args.get(1))).await,
        Some("dial") => {
            let security = security(args.get(1));
            let Some(addr) = args.get(2).and_then(|a| a.parse::<Multiaddr>().ok()) else {
                usage()
            };
            let mut pings = 2;
            let mut limit = Duration::from_secs(30);
            let mut rest = args.iter().skip(3);
            while let Some(flag) = rest.next() {
                let value = rest.next().unwrap_or_else(|| usage());
                match flag.as_str() {
                    "--pings" => pings = value.parse().unwrap_or_else(|_| usage()),
                    "--timeout" => {
                        limit = Duration::from_secs_f64(value.parse().unwrap_or_else(|_| usage()))
                    }
                    _ => usage(),
                }
            }
            std::process::exit(dial(security, addr, pings, limit).await);
        }
        _ => usage(),
    }
}
