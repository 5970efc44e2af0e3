//! The C ABI against real libp2p peers: the C example `ffi/examples/ping` (a C program that
//! does its own TCP I/O and drives p2psec only through `ffi/`'s C functions) against a
//! rust-libp2p 0.57 `Swarm` and a js-libp2p node (`tests/interop/js/peer.mjs`), both ways,
//! over `/noise` and `/tls/1.0.0`, on loopback TCP. No peer runs a protocol the C example
//! serves: it opens no stream and resets every stream the remote opens, so what crosses the
//! secured channel after the upgrade is yamux's own framing. The proof that the channel works
//! is a yamux PING frame (type 2, stream 0) answered by the other side's yamux:
//!
//! - `ping dial` (C) to a Swarm or a js listener: multistream-select, the security
//!   handshake (authenticating the PeerId in `/p2p/`) and the `/yamux/1.0.0` negotiation
//!   succeed (`connected <PeerId> <security> /yamux/1.0.0`), and the C side's yamux PING is
//!   answered by rust-yamux or js-yamux (`yamux ping ok <rtt>`), exit status 0. The Swarm
//!   sees an inbound connection; the js node logs an open connection with the same security
//!   and muxer.
//! - A Swarm dialing `ping listen` (C): the Swarm authenticates the PeerId the C listener
//!   printed in its multiaddr, the C listener authenticates the Swarm's (it prints it), and
//!   answers the PING frame that rust-yamux sends by itself as soon as a connection is up
//!   (yamux 0.14.1, the version libp2p-yamux 0.48 / libp2p 0.57 uses here,
//!   `src/connection/rtt.rs`: `Rtt::new` starts in `Waiting { next: Instant::now() }`, and
//!   `Active::poll` sends `rtt.next_ping()` first thing whenever the socket is ready, then
//!   every 10 s after each pong; 0.13.10 does the same). The Swarm's `/ipfs/ping/1.0.0`
//!   streams are refused (a ping failure) while the connection stays up.
//! - js-libp2p dialing `ping listen` (C): both PeerIds are checked the same way, and js
//!   sends yamux PINGs through its muxer (`peer.mjs dial --yamux-ping`), which the C
//!   listener answers, once each.
//!
//! Every C listener is stopped with SIGTERM and must exit 0: it frees everything first, so
//! under the AddressSanitizer build LeakSanitizer checks it; a dialer exits 0 on its own.
//!
//! The C binary is `ffi/examples/ping`, or the one `P2PSEC_FFI_PING` names (relative to the
//! repository root, e.g. `ffi/examples/ping-asan`). This test does not build it (cargo
//! holds the build lock while tests run): without it the test fails and says to run
//! `make -C ffi/examples`. The js half needs Node.js >= 20 and npm, like
//! `tests/interop_js.rs`: `tests/interop/js/install.sh` runs first. Every spawned process
//! is killed on drop and every wait has a deadline, so a hang fails.
#![cfg(feature = "cli")]

use std::{
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    str::FromStr,
    sync::OnceLock,
    time::Duration,
};

use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::mpsc,
    time::{timeout, timeout_at, Instant},
};

/// Limit for one C run, a listener's address, a line awaited, a Swarm event awaited.
const DEADLINE: Duration = Duration::from_secs(30);
/// Limit for a js process to print its address or finish (node's first start is slow).
const JS_DEADLINE: Duration = Duration::from_secs(60);
/// How many yamux pings the js dialer sends.
const JS_YAMUX_PINGS: usize = 3;
/// The muxer every connection must negotiate.
const YAMUX: &str = "/yamux/1.0.0";
/// The C listener's line for each yamux PING it answered.
const PING_ANSWERED: &str = "yamux ping answered";
/// The C dialer's line once its yamux PING was answered, followed by the rtt.
const PING_OK: &str = "yamux ping ok ";

// ---------------------------------------------------------------------------------------
// The C example and the js peer

/// The C example's path: `P2PSEC_FFI_PING` (relative to the repository root) or
/// `ffi/examples/ping`. Panics if it is not there.
fn ffi_ping_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let from_env = std::env::var_os("P2PSEC_FFI_PING").filter(|v| !v.is_empty());
    let path = match &from_env {
        Some(p) => root.join(p),
        None => root.join("ffi/examples/ping"),
    };
    if !path.is_file() {
        let named = match &from_env {
            Some(p) => format!(" (named by P2PSEC_FFI_PING={})", p.to_string_lossy()),
            None => String::new(),
        };
        panic!(
            "the C example {}{named} does not exist: build it first with \
             `make -C ffi/examples` (this test does not build it: cargo holds the build lock \
             while tests run)",
            path.display()
        );
    }
    path
}

fn c_ping(args: &[&str]) -> Command {
    let mut cmd = Command::new(ffi_ping_binary());
    cmd.args(args);
    cmd
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/js")
}

fn node_peer(args: &[&str]) -> Command {
    let mut cmd = Command::new("node");
    cmd.current_dir(js_dir()).arg("peer.mjs").args(args);
    cmd
}

/// Runs `tests/interop/js/install.sh` once per test binary (as `tests/interop_js.rs`
/// does); an error when node or npm is missing or `npm ci` fails.
fn install_js_peer_blocking() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            for tool in ["node", "npm"] {
                if let Err(e) = std::process::Command::new(tool).arg("--version").output() {
                    return Err(format!(
                        "`{tool} --version` failed ({e}): the js-libp2p half of this test \
                         needs Node.js >= 20 and npm on PATH"
                    ));
                }
            }
            let script = js_dir().join("install.sh");
            let out = std::process::Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("could not run bash {}: {e}", script.display()))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
                    script.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        })
        .clone()
}

async fn install_js_peer() {
    let result = tokio::task::spawn_blocking(install_js_peer_blocking)
        .await
        .expect("the install task panicked");
    if let Err(e) = result {
        panic!("installing the js-libp2p interop peer failed: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// Spawned processes

#[derive(Clone, Copy, Debug)]
enum Pipe {
    Stdout,
    Stderr,
}

/// The lines of one pipe, read by a background task.
struct Lines {
    rx: mpsc::UnboundedReceiver<String>,
    /// Every line received so far.
    seen: Vec<String>,
    /// The reader reached the end of the pipe (and `seen` has everything).
    closed: bool,
}

impl Lines {
    fn read(pipe: impl AsyncRead + Unpin + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut pipe = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match pipe.read_until(b'\n', &mut line).await {
                    Ok(1..) => {
                        let text = String::from_utf8_lossy(&line);
                        if tx.send(text.trim_end().to_owned()).is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
            closed: false,
        }
    }

    /// Moves what has arrived into `seen`, without waiting.
    fn pump(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(line) => self.seen.push(line),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }
}

/// A spawned process with both pipes read in the background; killed on drop, and its output
/// printed then if the test is failing (unless a failure message showed it already).
struct Proc {
    name: String,
    child: Child,
    out: Lines,
    err: Lines,
    /// A failure message already carries its output (so the drop need not print it).
    reported: bool,
}

impl Proc {
    fn spawn(name: String, mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: could not spawn {cmd:?}: {e}"));
        let out = Lines::read(child.stdout.take().unwrap());
        let err = Lines::read(child.stderr.take().unwrap());
        Proc {
            name,
            child,
            out,
            err,
            reported: false,
        }
    }

    fn lines(&mut self, pipe: Pipe) -> &mut Lines {
        match pipe {
            Pipe::Stdout => &mut self.out,
            Pipe::Stderr => &mut self.err,
        }
    }

    /// Everything it printed so far, for failure messages.
    fn report(&mut self) -> String {
        self.reported = true;
        self.out.pump();
        self.err.pump();
        format!(
            "--- {} stdout:\n{}\n--- {} stderr:\n{}",
            self.name,
            self.out.seen.join("\n"),
            self.name,
            self.err.seen.join("\n")
        )
    }

    /// Panics with `msg`, its name and its output.
    fn fail(&mut self, msg: String) -> ! {
        let report = self.report();
        panic!("{}: {msg}\n{report}", self.name);
    }

    /// Waits until the lines of `pipe` so far satisfy `done`; panics (with its output) if
    /// they do not within `limit` or the pipe ends first.
    async fn wait_for(
        &mut self,
        pipe: Pipe,
        what: &str,
        limit: Duration,
        done: impl Fn(&[String]) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        let failure = loop {
            let lines = self.lines(pipe);
            lines.pump();
            if done(&lines.seen) {
                return;
            }
            if lines.closed {
                break "its output ended first".to_owned();
            }
            match timeout_at(deadline, lines.rx.recv()).await {
                Ok(Some(line)) => lines.seen.push(line),
                Ok(None) => lines.closed = true,
                Err(_) => break format!("nothing like it within {limit:?}"),
            }
        };
        self.fail(format!("waited for {what} on its {pipe:?}: {failure}"));
    }

    /// Its first stdout line (a listener's multiaddr).
    async fn first_line(&mut self, limit: Duration) -> String {
        self.wait_for(Pipe::Stdout, "a first line", limit, |l| !l.is_empty())
            .await;
        self.out.seen[0].clone()
    }

    /// Waits for it to exit within `limit` (killing it and panicking otherwise), then for
    /// both pipes to end.
    async fn exit(&mut self, limit: Duration) -> ExitStatus {
        let waited = timeout(limit, self.child.wait()).await;
        let status = match waited {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => self.fail(format!("waiting for it failed: {e}")),
            Err(_) => {
                let _ = self.child.start_kill();
                self.fail(format!("still running after {limit:?}, killed"));
            }
        };
        // The pipes close with the process; the bound only guards against a descendant
        // that kept them open.
        for pipe in [Pipe::Stdout, Pipe::Stderr] {
            let lines = self.lines(pipe);
            while !lines.closed {
                match timeout(Duration::from_secs(5), lines.rx.recv()).await {
                    Ok(Some(line)) => lines.seen.push(line),
                    Ok(None) | Err(_) => lines.closed = true,
                }
            }
        }
        status
    }

    /// Panics (with its output) unless it exited with status 0.
    fn check_success(&mut self, status: ExitStatus) {
        if !status.success() {
            self.fail(format!("exited with {status}"));
        }
    }

    /// Sends SIGTERM and waits for the exit, which must be status 0 (the C listener frees
    /// everything first, so LeakSanitizer checks it under the ASan build).
    async fn terminate(&mut self) {
        let Some(pid) = self.child.id() else {
            self.fail("exited before SIGTERM".to_owned());
        };
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        if !matches!(&kill, Ok(s) if s.success()) {
            self.fail(format!(
                "`kill -TERM {pid}` failed ({kill:?}); did it exit early?"
            ));
        }
        let status = self.exit(DEADLINE).await;
        if !status.success() {
            self.fail(format!(
                "exited with {status} after SIGTERM (expected a clean exit 0)"
            ));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() && !self.reported {
            eprintln!("{}", self.report());
        }
    }
}

/// The parts of a C `connected <peer id> <security> <muxer>` line.
fn parse_connected(line: &str) -> Option<(&str, &str, &str)> {
    let mut words = line.split_whitespace();
    if words.next() != Some("connected") {
        return None;
    }
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some(peer), Some(security), Some(muxer), None) => Some((peer, security, muxer)),
        _ => None,
    }
}

/// Checks a finished `ping dial`'s stdout: first `connected <remote> <security>
/// /yamux/1.0.0`, last `yamux ping ok <rtt>`.
fn check_c_dial_output(c: &mut Proc, remote: &str, security: Security) {
    let lines = c.out.seen.clone();
    let first = lines.first().map(String::as_str).unwrap_or("");
    if parse_connected(first) != Some((remote, security.cli(), YAMUX)) {
        c.fail(format!(
            "expected `connected {remote} {} {YAMUX}` as its first line",
            security.cli()
        ));
    }
    let rtt = lines
        .last()
        .filter(|_| lines.len() >= 2)
        .and_then(|l| l.strip_prefix(PING_OK));
    if !rtt.is_some_and(|r| r.starts_with(|ch: char| ch.is_ascii_digit())) {
        c.fail(format!("expected `{PING_OK}<rtt>` as its last line"));
    }
}

/// Waits for the C listener's (first) `connected` line and checks it is `connected <remote>
/// <security> /yamux/1.0.0`.
async fn expect_c_connected(c: &mut Proc, remote: &str, security: Security) {
    let is_connected = |l: &String| l.starts_with("connected ");
    c.wait_for(Pipe::Stdout, "a `connected` line", DEADLINE, |lines| {
        lines.iter().any(is_connected)
    })
    .await;
    let line = c.out.seen.iter().find(|l| is_connected(l)).cloned();
    let line = line.unwrap_or_default();
    if parse_connected(&line) != Some((remote, security.cli(), YAMUX)) {
        c.fail(format!(
            "expected `connected {remote} {} {YAMUX}`, got {line:?}",
            security.cli()
        ));
    }
}

/// Starts `ping listen <security>`; returns it, its multiaddr and its PeerId.
async fn c_listener(security: Security, dialer: &str) -> (Proc, Multiaddr, PeerId) {
    let mut c = Proc::spawn(
        format!("C ping listen ({}) for {dialer}", security.cli()),
        c_ping(&["listen", security.cli()]),
    );
    let line = c.first_line(DEADLINE).await;
    let (addr, id) = loopback_p2p_addr(&mut c, &line);
    (c, addr, id)
}

/// Parses a listener's first line: `/ip4/127.0.0.1/tcp/<port>/p2p/<PeerId>`.
fn loopback_p2p_addr(listener: &mut Proc, line: &str) -> (Multiaddr, PeerId) {
    let addr = match Multiaddr::from_str(line.trim()) {
        Ok(addr) => addr,
        Err(e) => listener.fail(format!("first line {line:?} is not a multiaddr: {e}")),
    };
    let mut parts = addr.iter();
    let ok = matches!(parts.next(), Some(Protocol::Ip4(ip)) if ip.is_loopback())
        && matches!(parts.next(), Some(Protocol::Tcp(port)) if port != 0);
    match (ok, parts.next(), parts.next()) {
        (true, Some(Protocol::P2p(id)), None) => (addr, id),
        _ => listener.fail(format!(
            "{addr} is not /ip4/127.0.0.1/tcp/<port>/p2p/<PeerId>"
        )),
    }
}

#[path = "common/swarm.rs"]
mod swarm;
use swarm::{build_swarm, RunningSwarm, Security, Seen};

// ---------------------------------------------------------------------------------------
// The runs

/// `ping dial` (C) to a Swarm listener.
async fn c_dials_swarm(security: Security) {
    let (mut swarm, addr) = RunningSwarm::listen(security).await;
    let target = addr.with(Protocol::P2p(swarm.peer_id));
    let mut c = Proc::spawn(
        format!(
            "C ping dial ({}) to Swarm {}",
            security.cli(),
            swarm.peer_id
        ),
        c_ping(&["dial", &target.to_string(), security.cli()]),
    );
    let status = c.exit(DEADLINE).await;
    c.check_success(status);
    check_c_dial_output(&mut c, &swarm.peer_id.to_string(), security);

    // The Swarm's side: one inbound connection (the C dialer does not print its own PeerId).
    let deadline = Instant::now() + DEADLINE;
    let dialer = loop {
        match swarm.next_before(deadline).await {
            Some(Seen::Established {
                peer,
                dialer: false,
            }) => break peer,
            Some(Seen::IncomingError(e)) => panic!(
                "the Swarm refused the C dialer's connection: {e}\n{}",
                c.report()
            ),
            Some(_) => {}
            None => panic!(
                "the Swarm saw no inbound connection; events: {:?}\n{}",
                swarm.log,
                c.report()
            ),
        }
    };
    assert_ne!(dialer, swarm.peer_id);
    println!(
        "{security:?}: C {dialer} dialed Swarm {}: {:?}",
        swarm.peer_id, c.out.seen
    );
}

/// A Swarm dials `ping listen` (C).
async fn swarm_dials_c(security: Security) {
    let swarm = build_swarm(security);
    let swarm_id = *swarm.local_peer_id();
    let (mut c, addr, expected) = c_listener(security, &format!("Swarm {swarm_id}")).await;
    let mut swarm = swarm;
    swarm.dial(addr.clone()).expect("Swarm dial");
    let mut swarm = RunningSwarm::spawn(swarm);

    // The Swarm's side: the connection to the PeerId the C listener printed, and its ping
    // streams refused (the C side resets every stream) while the connection stays up.
    let deadline = Instant::now() + DEADLINE;
    let mut established = false;
    let mut refused = None;
    while !established || refused.is_none() {
        match swarm.next_before(deadline).await {
            Some(Seen::Established { peer, dialer }) => {
                assert_eq!(
                    peer, expected,
                    "the Swarm connected to an unexpected PeerId"
                );
                assert!(dialer, "the Swarm's connection should be outbound");
                established = true;
            }
            // Refused: the stream reset (an I/O error, reported at the second failure
            // in a row) or a multistream-select `na` (Unsupported). A timeout means the C
            // side left the stream hanging.
            Some(Seen::Ping {
                peer,
                result: Err(e),
            }) if peer == expected => {
                let lower = e.to_lowercase();
                if lower.contains("timeout") || lower.contains("timed out") {
                    panic!(
                        "the Swarm's ping stream was left hanging, not refused: {e}\n{}",
                        c.report()
                    );
                }
                refused = Some(e);
            }
            Some(Seen::Ping {
                peer,
                result: Ok(rtt),
            }) if peer == expected => panic!(
                "the C listener answered an /ipfs/ping/1.0.0 ping ({rtt:?}): it should reset \
                 every stream\n{}",
                c.report()
            ),
            Some(Seen::OutgoingError(e)) => {
                panic!("the Swarm could not dial {addr}: {e}\n{}", c.report())
            }
            Some(Seen::Closed { peer, cause }) if peer == expected => panic!(
                "the connection to the C listener closed ({cause:?}); events {:?}\n{}",
                swarm.log,
                c.report()
            ),
            Some(_) => {}
            None => panic!(
                "the Swarm did not connect and see its ping refused in time; events {:?}\n{}",
                swarm.log,
                c.report()
            ),
        }
    }

    // The C side: the Swarm's PeerId, and the PING frame rust-yamux sends as soon as the
    // connection is up, answered.
    let swarm_id = swarm.peer_id.to_string();
    expect_c_connected(&mut c, &swarm_id, security).await;
    c.wait_for(
        Pipe::Stdout,
        &format!("`{PING_ANSWERED}` (rust-yamux's own PING)"),
        DEADLINE,
        |lines| lines.iter().any(|l| l == PING_ANSWERED),
    )
    .await;
    for seen in swarm.pending() {
        if let Seen::Closed { peer, cause } = seen {
            if peer == expected {
                panic!(
                    "the connection to the C listener closed ({cause:?}); events {:?}\n{}",
                    swarm.log,
                    c.report()
                );
            }
        }
    }
    println!(
        "{security:?}: Swarm {swarm_id} dialed C {expected}; ping refused: {}; C: {:?}",
        refused.unwrap(),
        c.out.seen
    );
    drop(swarm);
    c.terminate().await;
}

/// `ping dial` (C) to a js-libp2p listener.
async fn c_dials_js(security: Security) {
    install_js_peer().await;
    let mut js = Proc::spawn(
        format!("js listener ({})", security.cli()),
        node_peer(&["listen", "--security", security.cli(), "--json"]),
    );
    let line = js.first_line(JS_DEADLINE).await;
    let (addr, js_id) = loopback_p2p_addr(&mut js, &line);

    let mut c = Proc::spawn(
        format!("C ping dial ({}) to js {js_id}", security.cli()),
        c_ping(&["dial", &addr.to_string(), security.cli()]),
    );
    let status = c.exit(DEADLINE).await;
    c.check_success(status);
    check_c_dial_output(&mut c, &js_id.to_string(), security);

    // The js side logs (as a JSON line on stderr) the connection it accepted.
    let opened = |l: &str| {
        serde_json::from_str::<Value>(l).is_ok_and(|e| {
            e["event"] == "connection_open"
                && e["security"] == security.protocol()
                && e["muxer"] == YAMUX
                && e["remote_peer_id"].as_str().is_some_and(|p| !p.is_empty())
        })
    };
    js.wait_for(
        Pipe::Stderr,
        &format!(
            "a connection_open event with {} and {YAMUX}",
            security.protocol()
        ),
        DEADLINE,
        |lines| lines.iter().any(|l| opened(l)),
    )
    .await;
    println!(
        "{security:?}: C dialed js {js_id}: {:?}; js: {:?}",
        c.out.seen, js.err.seen
    );
}

/// js-libp2p dials `ping listen` (C) and sends yamux pings.
async fn js_dials_c(security: Security) {
    install_js_peer().await;
    let (mut c, addr, c_id) = c_listener(security, "js").await;
    let pings = JS_YAMUX_PINGS.to_string();
    let timeout_secs = JS_DEADLINE.as_secs().to_string();
    let mut js = Proc::spawn(
        format!("js dial ({}) to C {c_id}", security.cli()),
        node_peer(&[
            "dial",
            &addr.to_string(),
            "--security",
            security.cli(),
            "--yamux-ping",
            "--ping",
            &pings,
            "--timeout",
            &timeout_secs,
        ]),
    );
    let status = js.exit(JS_DEADLINE + Duration::from_secs(5)).await;
    js.check_success(status);

    // The js side: `connected` (both PeerIds, security, muxer), then the yamux pings.
    let events: Vec<Value> = js
        .out
        .seen
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?"))
        .collect();
    let mut expected = vec!["connected"];
    expected.extend(std::iter::repeat_n("yamux_ping", JS_YAMUX_PINGS));
    if kinds != expected {
        panic!(
            "js dial: events {kinds:?}, expected {expected:?}\n{}",
            js.report()
        );
    }
    let connected = &events[0];
    let js_id = connected["local_peer_id"].as_str().unwrap_or("").to_owned();
    let ok = connected["remote_peer_id"] == c_id.to_string()
        && connected["security"] == security.protocol()
        && connected["muxer"] == YAMUX
        && PeerId::from_str(&js_id).is_ok();
    for (i, ping) in events[1..].iter().enumerate() {
        let good = ping["seq"].as_u64() == Some(i as u64 + 1)
            && ping["rtt_ms"].as_f64().is_some_and(|r| r >= 0.0);
        if !good {
            panic!("js dial: bad yamux_ping {ping}\n{}", js.report());
        }
    }
    if !ok {
        panic!(
            "js dial: expected remote {c_id}, {}, {YAMUX} and its own PeerId in {connected}\n{}",
            security.protocol(),
            js.report()
        );
    }

    // The C side: js's PeerId, and each of js's pings answered once (its muxer sends no
    // keep-alive pings in --yamux-ping mode).
    expect_c_connected(&mut c, &js_id, security).await;
    let answered = |lines: &[String]| lines.iter().filter(|l| *l == PING_ANSWERED).count();
    c.wait_for(
        Pipe::Stdout,
        &format!("{JS_YAMUX_PINGS} `{PING_ANSWERED}` lines"),
        DEADLINE,
        |lines| answered(lines) >= JS_YAMUX_PINGS,
    )
    .await;
    c.terminate().await;
    let n = answered(&c.out.seen);
    if n != JS_YAMUX_PINGS {
        c.fail(format!(
            "answered {n} yamux pings, js sent {JS_YAMUX_PINGS}"
        ));
    }
    println!(
        "{security:?}: js {js_id} dialed C {c_id}: {:?}; C: {:?}",
        js.out.seen, c.out.seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_c_dials_swarm() {
    c_dials_swarm(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_c_dials_swarm() {
    c_dials_swarm(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_swarm_dials_c() {
    swarm_dials_c(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_swarm_dials_c() {
    swarm_dials_c(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_c_dials_js() {
    c_dials_js(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_c_dials_js() {
    c_dials_js(Security::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_js_dials_c() {
    js_dials_c(Security::Noise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_js_dials_c() {
    js_dials_c(Security::Tls).await;
}
