//! Load on a listener process, side by side in one run: the real `p2psec listen` CLI against
//! a stock rust-libp2p 0.57 Swarm, for Noise and TLS (Ed25519 identities), both dialed by
//! rust-libp2p's own transport stack over loopback TCP.
//!
//! Processes (each listener is started fresh for each security protocol, and is its own
//! process, so its memory and CPU can be read from /proc):
//! - p2psec: the CLI binary, `p2psec listen --addr /ip4/127.0.0.1/tcp/0 --security noise|tls`
//!   with its defaults otherwise (handshake timeout, pending limit); it logs one line per
//!   connection, which the bench drains (stdout and stderr) so the pipes never fill.
//! - rust-libp2p: this bench binary re-executed with `P2PSEC_LOAD_ROLE=libp2p-listener`: what
//!   `SwarmBuilder::with_tcp(tcp::Config::default(), noise|tls, yamux)` builds (with its 10 s
//!   connection timeout), the ping behaviour with its defaults, connections idle for up to an
//!   hour; a tokio multi-thread runtime with 2 workers, as the CLI's `Runtime::new()` has here.
//!   It exits when its stdin (held by the bench) closes, so a killed bench leaves none behind.
//! - the client, in the bench process (one tokio multi-thread runtime): rust-libp2p's
//!   transport as `SwarmBuilder` builds it, `tcp::tokio::Transport` (`TCP_NODELAY`)
//!   `.upgrade(V1Lazy).authenticate(noise|tls).multiplex(yamux).timeout(20 s)`, dialing with
//!   `PortUse::New` and checking the PeerId in the listener's address. A connection that must
//!   stay live is polled by a task (inbound streams, such as rust-libp2p's pings, are
//!   accepted and dropped) until it is closed (yamux GoAway, then the socket).
//!
//! Phases, per listener and security ("64 at a time": 64 workers, each upgrading in turn):
//! 1. warm-up: 20 upgrades.
//! 2. upgrades/s: 3000 upgrades (quick: 600), 64 at a time, each closed right after its
//!    upgrade; p50 and p99 of one upgrade's latency (TCP connect to the client's upgrade done)
//!    and the listener's CPU per connection (utime + stime from /proc/PID/stat over the
//!    phase, divided by the upgrades).
//! 3. 1,000 simultaneous dials, released together by a barrier: failures, the slowest
//!    upgrade, and the TCP counters that tell of SYN drops over the phase (ListenOverflows,
//!    ListenDrops, SYN retransmits, RTO timeouts, from /proc/net/netstat and /proc/net/snmp;
//!    loopback queue drops from /proc/net/softnet_stat; the whole network namespace's). A
//!    ~1 s tail with `TCPSynRetrans` = the upgrades over 1 s is a SYN dropped by a full
//!    accept queue and resent after the 1 s initial RTO (a 128-entry backlog, std's and
//!    mio's, does it; rust-libp2p binds with 1024).
//! 4. RSS per live connection: the listener's VmRSS with no connection (after a settle), then
//!    with N live connections (opened 64 at a time, after a settle); the difference over N.
//!    N = 1000 and (full run) 10,000, skipped if RLIMIT_NOFILE is too low: each process holds
//!    N sockets (the bench the client ends, the listener its own), so N + 200 is needed
//!    (the listener inherits the bench's limit; a soft limit below the hard one is raised
//!    first with `prlimit`, if installed: the crate has no libc binding to call setrlimit).
//!    After phase 3 the listener's allocator still holds that peak's memory, which the next
//!    1,000 connections reuse without raising RSS: N = 1000 then reads low (near zero for
//!    some stacks). So the same step also runs on a separate fresh listener, after its
//!    warm-up only ("fresh" in the table), the figure to compare stacks by.
//! 5. stalled: 200 TCP connections that send nothing and 20 "slowloris" ones that send the
//!    multistream header one byte a second, held while 2,000 honest upgrades (64 at a time)
//!    must succeed; when the listener cut each stalled connection (read returns 0 or fails),
//!    from its connect, given up 30 s after it. Quick: 100 + 10 stalled, 500 honest.
//! 6. memory after rounds: three rounds of 1,000 connections (quick: 300) opened 64 at a
//!    time, held, closed; RSS and open fds (/proc/PID/fd) after each round, against those
//!    before the rounds.
//!
//! A table of every figure ends the run, then `ratio rss_per_conn_noise_vs_libp2p V`, `ratio
//! rss_per_conn_tls_vs_libp2p V`, `ratio listener_cpu_per_conn_noise_vs_libp2p V` (p2psec
//! over rust-libp2p), `bytes rss_per_conn_noise V`, `bytes rss_per_conn_tls V` (p2psec; the
//! RSS figures are the fresh listener's, N = 1000), `seconds stalled_cut_max V` and `seconds concurrent_1000_slowest V` (p2psec,
//! the larger over Noise and TLS; a stalled connection never cut counts as the 30 s give-up).
//! For A/B runs, `P2PSEC_LOAD_P2PSEC_BIN` names another `p2psec` binary and
//! `P2PSEC_LOAD_P2PSEC_ARGS` adds `listen` options (unset: this build, its defaults);
//! `P2PSEC_LOAD_ALL_COUNTERS=1` prints every changed counter of phase 3.
//! `P2PSEC_BENCH_QUICK=1` gives a short run (under two minutes on two cores; its settles and
//! holds are halved so that the stalled phase's listener timeouts fit).

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::muxing::{StreamMuxerBox, StreamMuxerExt};
use libp2p::core::transport::{Boxed, DialOpts, PortUse};
use libp2p::core::upgrade::Version;
use libp2p::core::Endpoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{identity, noise, ping, tcp, tls, yamux, Multiaddr, PeerId, SwarmBuilder, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Barrier};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};

/// Selects the child role of this binary.
const ROLE_VAR: &str = "P2PSEC_LOAD_ROLE";
const ROLE_LIBP2P: &str = "libp2p-listener";
/// The child's security protocol: `noise` or `tls`.
const SECURITY_VAR: &str = "P2PSEC_LOAD_SECURITY";

/// Investigation knobs, for A/B runs: another `p2psec` binary (unset: this build's), and
/// extra arguments for `p2psec listen`, whitespace-separated (unset: none, the defaults).
const BIN_VAR: &str = "P2PSEC_LOAD_P2PSEC_BIN";
const EXTRA_ARGS_VAR: &str = "P2PSEC_LOAD_P2PSEC_ARGS";

/// Upgrades in flight at once in the "64 at a time" phases.
const WIDTH: usize = 64;
/// The client transport's bound on one dial (connect and upgrade).
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on one graceful close, and on closing a whole batch.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const CLOSE_ALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a raw TCP connect and on a listener printing its address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stalled connection waits for the listener to cut it.
const STALL_GIVE_UP: Duration = Duration::from_secs(30);
/// What a slowloris connection sends, one byte a second: the multistream-select header.
const SLOWLORIS: &[u8] = b"\x13/multistream/1.0.0\n";
/// File descriptors a process needs beside its N sockets.
const FD_HEADROOM: u64 = 200;
/// The loopback TCP counters printed for the simultaneous dials (nstat's names).
const TCP_COUNTERS: [&str; 11] = [
    "TcpExtListenOverflows",
    "TcpExtListenDrops",
    "TcpExtTCPReqQFullDrop",
    "TcpExtTCPReqQFullDoCookies",
    "TcpExtSyncookiesSent",
    "TcpExtTCPSynRetrans",
    "TcpExtTCPTimeouts",
    "TcpExtTCPLossProbes",
    "TcpRetransSegs",
    "TcpAttemptFails",
    "SoftnetDropped",
];

// ---------------------------------------------------------------- plan

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Security {
    Noise,
    Tls,
}

impl Security {
    fn name(self) -> &'static str {
        match self {
            Security::Noise => "noise",
            Security::Tls => "tls",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    P2psec,
    Libp2p,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::P2psec => "p2psec",
            Kind::Libp2p => "libp2p",
        }
    }
}

/// The sizes of one run.
struct Plan {
    quick: bool,
    warm_up: usize,
    rate_upgrades: usize,
    simultaneous: usize,
    live_steps: Vec<usize>,
    stalled: usize,
    slowloris: usize,
    honest: usize,
    round_conns: usize,
    /// Before reading an idle or a loaded RSS.
    settle: Duration,
    /// A round's connections are held this long.
    hold: Duration,
    /// After a round is closed, before its RSS is read.
    round_wait: Duration,
    ticks_per_sec: f64,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let wait = |full_ms: u64| Duration::from_millis(if quick { full_ms / 2 } else { full_ms });
        Self {
            quick,
            warm_up: 20,
            rate_upgrades: if quick { 600 } else { 3000 },
            simultaneous: 1000,
            live_steps: if quick {
                vec![1000]
            } else {
                vec![1000, 10_000]
            },
            stalled: if quick { 100 } else { 200 },
            slowloris: if quick { 10 } else { 20 },
            honest: if quick { 500 } else { 2000 },
            round_conns: if quick { 300 } else { 1000 },
            settle: wait(2000),
            hold: wait(1000),
            round_wait: wait(2000),
            ticks_per_sec: ticks_per_sec(),
        }
    }
}

// ---------------------------------------------------------------- /proc

/// Clock ticks per second of /proc/PID/stat's times (100 on Linux, asked once).
fn ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// `pid` is a process id or `self`.
fn rss_bytes(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// utime + stime, in clock ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the command name (field 2) may hold spaces: count from its closing parenthesis, after
    // which field 3 comes first, so fields 14 and 15 are the 12th and 13th
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

fn fd_count(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// RLIMIT_NOFILE of this process, (soft, hard).
fn nofile_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut values = line["Max open files".len()..]
        .split_whitespace()
        .map(|v| match v {
            "unlimited" => Some(u64::MAX),
            v => v.parse().ok(),
        });
    Some((values.next()??, values.next()??))
}

/// Raises the soft RLIMIT_NOFILE to the hard one, through `prlimit` (no libc here); the
/// listeners, spawned later, inherit it.
fn raise_nofile() {
    let Some((soft, hard)) = nofile_limits() else {
        return;
    };
    if soft >= hard {
        return;
    }
    let hard = if hard == u64::MAX {
        "unlimited".to_string()
    } else {
        hard.to_string()
    };
    let raised = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status();
    if !raised.is_ok_and(|s| s.success()) {
        println!("note: could not raise RLIMIT_NOFILE's soft limit {soft} (no prlimit?)");
    }
}

/// Why `n` live connections cannot be held, if they cannot.
fn fd_shortage(n: usize) -> Option<String> {
    let need = n as u64 + FD_HEADROOM;
    match nofile_limits() {
        Some((soft, hard)) if soft >= need && hard >= need => None,
        Some((soft, hard)) => Some(format!(
            "RLIMIT_NOFILE soft {soft} / hard {hard} below the {need} needed"
        )),
        None => Some("RLIMIT_NOFILE unreadable".into()),
    }
}

/// Every counter of /proc/net/netstat and /proc/net/snmp, named as nstat names them.
fn tcp_counters() -> HashMap<String, i64> {
    let mut counters = HashMap::new();
    for file in ["/proc/net/netstat", "/proc/net/snmp"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        // each group is a line of names and a line of values, both prefixed `Group:`
        for pair in lines.chunks(2) {
            let [names, values] = pair else { continue };
            let (Some((group, names)), Some((_, values))) =
                (names.split_once(':'), values.split_once(':'))
            else {
                continue;
            };
            for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
                counters.insert(format!("{group}{name}"), value.parse().unwrap_or(0));
            }
        }
    }
    // loopback packets queue per CPU (net.core.netdev_max_backlog); column 2 counts drops
    let softnet = std::fs::read_to_string("/proc/net/softnet_stat").unwrap_or_default();
    let dropped = softnet
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|v| i64::from_str_radix(v, 16).ok())
        .sum();
    counters.insert("SoftnetDropped".into(), dropped);
    counters
}

/// The changes of [`TCP_COUNTERS`] (every counter with `P2PSEC_LOAD_ALL_COUNTERS=1`) from
/// `before` to now, the nonzero ones.
fn counter_changes(before: &HashMap<String, i64>) -> String {
    let after = tcp_counters();
    let mut names: Vec<&str> = TCP_COUNTERS.to_vec();
    if std::env::var("P2PSEC_LOAD_ALL_COUNTERS").is_ok_and(|v| v == "1") {
        names = after.keys().map(String::as_str).collect();
        names.sort_unstable();
    }
    let changed: Vec<String> = names
        .iter()
        .filter_map(|name| {
            let delta =
                after.get(*name).copied().unwrap_or(0) - before.get(*name).copied().unwrap_or(0);
            (delta != 0).then(|| format!("{name} +{delta}"))
        })
        .collect();
    if changed.is_empty() {
        "none".into()
    } else {
        changed.join(", ")
    }
}

fn sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{name}"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------- the rust-libp2p listener

/// The child role: a stock rust-libp2p Swarm, listening until its stdin closes.
fn libp2p_listener_main() {
    let security = match std::env::var(SECURITY_VAR).as_deref() {
        Ok("tls") => Security::Tls,
        _ => Security::Noise,
    };
    // the bench holds our stdin: its end (the bench exited or was killed) ends us
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut swarm = libp2p_swarm(security);
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
            .expect("listen_on");
        let me = *swarm.local_peer_id();
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                println!("{}", address.with(Protocol::P2p(me)));
            }
        }
    });
}

fn libp2p_swarm(security: Security) -> libp2p::Swarm<ping::Behaviour> {
    // ping streams keep no connection alive: without this, idle ones close after 10 s
    let config =
        |c: libp2p::swarm::Config| c.with_idle_connection_timeout(Duration::from_secs(3600));
    let behaviour = |_: &identity::Keypair| ping::Behaviour::default();
    let builder = SwarmBuilder::with_new_identity().with_tokio();
    match security {
        Security::Noise => builder
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("noise transport")
            .with_behaviour(behaviour)
            .expect("ping behaviour")
            .with_swarm_config(config)
            .build(),
        Security::Tls => builder
            .with_tcp(
                tcp::Config::default(),
                tls::Config::new,
                yamux::Config::default,
            )
            .expect("tls transport")
            .with_behaviour(behaviour)
            .expect("ping behaviour")
            .with_swarm_config(config)
            .build(),
    }
}

// ---------------------------------------------------------------- listener processes

/// Kills the child when dropped, a panic included.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a listener wrote on stderr, grouped by message.
#[derive(Default)]
struct StderrLog {
    lines: usize,
    by_message: HashMap<String, usize>,
}

/// A running listener process and its address.
struct ListenerProc {
    child: ChildGuard,
    addr: Multiaddr,
    socket: SocketAddr,
    peer: PeerId,
    /// stdout lines after the address: p2psec logs one per connection.
    logged: Arc<AtomicUsize>,
    stderr: Arc<Mutex<StderrLog>>,
}

impl ListenerProc {
    fn spawn(kind: Kind, security: Security) -> Self {
        let mut command = match kind {
            Kind::P2psec => {
                // the knobs, unset by default: this build, the CLI's defaults
                let bin = std::env::var_os(BIN_VAR)
                    .unwrap_or_else(|| env!("CARGO_BIN_EXE_p2psec").into());
                let mut c = Command::new(bin);
                c.args(["listen", "--addr", "/ip4/127.0.0.1/tcp/0", "--security"])
                    .arg(security.name());
                if let Ok(extra) = std::env::var(EXTRA_ARGS_VAR) {
                    c.args(extra.split_whitespace());
                }
                c
            }
            Kind::Libp2p => {
                let mut c = Command::new(std::env::current_exe().expect("bench executable"));
                c.env(ROLE_VAR, ROLE_LIBP2P)
                    .env(SECURITY_VAR, security.name());
                c
            }
        };
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ChildGuard(command.spawn().expect("spawn the listener"));
        let stdout = child.0.stdout.take().expect("piped stdout");
        let stderr = child.0.stderr.take().expect("piped stderr");
        let logged = Arc::new(AtomicUsize::new(0));
        let (first_line, first) = mpsc::channel();
        let counter = logged.clone();
        std::thread::spawn(move || drain_stdout(stdout, first_line, &counter));
        let log = Arc::new(Mutex::new(StderrLog::default()));
        let sink = log.clone();
        std::thread::spawn(move || drain_stderr(stderr, &sink));

        let line = first
            .recv_timeout(START_TIMEOUT)
            .expect("the listener printed no address");
        let addr: Multiaddr = line.trim().parse().expect("the listener's multiaddr");
        let peer = addr
            .iter()
            .find_map(|p| match p {
                Protocol::P2p(peer) => Some(peer),
                _ => None,
            })
            .expect("the address ends in /p2p/");
        let socket = socket_of(&addr).expect("an /ip4/…/tcp/… address");
        Self {
            child,
            addr,
            socket,
            peer,
            logged,
            stderr: log,
        }
    }

    fn pid(&self) -> String {
        self.child.0.id().to_string()
    }

    fn rss(&self) -> u64 {
        rss_bytes(&self.pid())
    }

    fn cpu_ticks(&self) -> u64 {
        cpu_ticks(&self.pid())
    }

    fn fds(&self) -> usize {
        fd_count(&self.pid())
    }

    /// The stderr messages, most frequent first.
    fn stderr_summary(&self) -> String {
        let log = self.stderr.lock().expect("stderr log");
        let mut messages: Vec<(&String, &usize)> = log.by_message.iter().collect();
        messages.sort_by(|a, b| b.1.cmp(a.1));
        let top: Vec<String> = messages
            .iter()
            .take(4)
            .map(|(m, n)| format!("{n}x {m:?}"))
            .collect();
        format!("{} lines; {}", log.lines, top.join("; "))
    }
}

fn socket_of(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut ip = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(v4) => ip = Some(std::net::IpAddr::V4(v4)),
            Protocol::Tcp(port) => return Some(SocketAddr::new(ip?, port)),
            _ => {}
        }
    }
    None
}

/// Sends the first line (the address), then counts the rest.
fn drain_stdout(stdout: ChildStdout, first: mpsc::Sender<String>, logged: &AtomicUsize) {
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    if let Some(line) = lines.next() {
        let _ = first.send(line);
    }
    for _ in lines {
        logged.fetch_add(1, Ordering::Relaxed);
    }
}

fn drain_stderr(stderr: ChildStderr, log: &Mutex<StderrLog>) {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        // "connection from 127.0.0.1:PORT: why": grouped by the why
        let message = match line.strip_prefix("connection from ") {
            Some(rest) => rest.split_once(": ").map_or(rest, |(_, why)| why),
            None => &line,
        };
        let message: String = message.chars().take(120).collect();
        let mut log = log.lock().expect("stderr log");
        log.lines += 1;
        *log.by_message.entry(message).or_default() += 1;
    }
}

// ---------------------------------------------------------------- the client

type Conn = (PeerId, StreamMuxerBox);

/// rust-libp2p's transport stack, dialing one listener.
struct Client {
    transport: Mutex<Boxed<Conn>>,
    addr: Multiaddr,
    expected: PeerId,
}

impl Client {
    fn new(security: Security, listener: &ListenerProc) -> Self {
        Self {
            transport: Mutex::new(client_transport(security)),
            addr: listener.addr.clone(),
            expected: listener.peer,
        }
    }

    /// One dial: TCP connect, security, yamux; the muxer and the time it took.
    async fn upgrade(&self) -> Result<(StreamMuxerBox, Duration), String> {
        let start = Instant::now();
        let opts = DialOpts {
            role: Endpoint::Dialer,
            port_use: PortUse::New,
        };
        // the lock is released before the dial is awaited
        let dial = self
            .transport
            .lock()
            .expect("transport lock")
            .dial(self.addr.clone(), opts)
            .map_err(|e| format!("dial: {e}"))?;
        let (peer, muxer) = dial.await.map_err(|e| format!("upgrade: {e}"))?;
        let took = start.elapsed();
        if peer != self.expected {
            return Err(format!("listener proved {peer}, not {}", self.expected));
        }
        Ok((muxer, took))
    }
}

/// The transport `SwarmBuilder::with_tcp` builds, with a fresh identity.
fn client_transport(security: Security) -> Boxed<Conn> {
    let key = identity::Keypair::generate_ed25519();
    let tcp =
        tcp::tokio::Transport::new(tcp::Config::default().nodelay(true)).upgrade(Version::V1Lazy);
    match security {
        Security::Noise => tcp
            .authenticate(noise::Config::new(&key).expect("noise config"))
            .multiplex(yamux::Config::default())
            .timeout(UPGRADE_TIMEOUT)
            .boxed(),
        Security::Tls => tcp
            .authenticate(tls::Config::new(&key).expect("tls config"))
            .multiplex(yamux::Config::default())
            .timeout(UPGRADE_TIMEOUT)
            .boxed(),
    }
}

/// A graceful close: yamux's GoAway (which also flushes the lazy muxer proposal, so the
/// listener completes its upgrade), then the socket.
async fn close(muxer: StreamMuxerBox) {
    let _ = timeout(CLOSE_TIMEOUT, muxer.close()).await;
}

async fn upgrade_and_close(client: Arc<Client>) -> Result<Duration, String> {
    let (muxer, took) = client.upgrade().await?;
    close(muxer).await;
    Ok(took)
}

/// A live connection, polled by its task until `stop` fires.
struct Live {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Live connections that ended before they were closed (the listener cut them).
type Lost = Arc<AtomicUsize>;

fn keep_live(mut muxer: StreamMuxerBox, lost: Lost) -> Live {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let told = poll_fn(|cx| {
            if Pin::new(&mut stopped).poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            drive(&mut muxer, cx).map(|()| false)
        })
        .await;
        if told {
            close(muxer).await;
        } else {
            lost.fetch_add(1, Ordering::Relaxed);
        }
    });
    Live { stop, task }
}

/// Polls a muxer as a connection task would; ready when the connection is gone.
fn drive(muxer: &mut StreamMuxerBox, cx: &mut Context<'_>) -> Poll<()> {
    loop {
        match muxer.poll_inbound_unpin(cx) {
            Poll::Ready(Ok(stream)) => {
                drop(stream); // the bench serves no protocol
                continue;
            }
            Poll::Ready(Err(_)) => return Poll::Ready(()),
            Poll::Pending => {}
        }
        match muxer.poll_unpin(cx) {
            Poll::Ready(Ok(_)) => continue,
            Poll::Ready(Err(_)) => return Poll::Ready(()),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Closes every connection, waiting (bounded) until all are closed.
async fn close_all(live: Vec<Live>) {
    let mut aborts = Vec::with_capacity(live.len());
    let mut tasks = Vec::with_capacity(live.len());
    for l in live {
        let _ = l.stop.send(());
        aborts.push(l.task.abort_handle());
        tasks.push(l.task);
    }
    if timeout(CLOSE_ALL_TIMEOUT, futures::future::join_all(tasks))
        .await
        .is_err()
    {
        println!("  note: closing took over {CLOSE_ALL_TIMEOUT:?}, aborted");
        aborts.iter().for_each(|a| a.abort());
    }
}

async fn open_one(client: Arc<Client>, lost: Lost) -> Result<Live, String> {
    let (muxer, _) = client.upgrade().await?;
    Ok(keep_live(muxer, lost))
}

/// `n` live connections, opened 64 at a time.
async fn open_live(client: &Arc<Client>, n: usize, lost: &Lost) -> (Vec<Live>, Failures) {
    let (c, l) = (client.clone(), lost.clone());
    split(pooled(n, WIDTH, move || open_one(c.clone(), l.clone())).await)
}

/// Runs `job` `n` times, `width` at a time; every result.
async fn pooled<T, F, Fut>(n: usize, width: usize, job: F) -> Vec<T>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<JoinHandle<Vec<T>>> = (0..width.min(n))
        .map(|_| {
            let (job, next) = (job.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    done.push(job().await);
                }
                done
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for w in workers {
        // every job's awaits are bounded, so the workers end
        all.extend(w.await.expect("a worker panicked"));
    }
    all
}

// ---------------------------------------------------------------- figures

/// Failed jobs: how many, and the first reason.
#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<String>,
}

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.first {
            Some(why) => write!(f, "{} (first: {why})", self.count),
            None => write!(f, "{}", self.count),
        }
    }
}

fn split<T>(results: Vec<Result<T, String>>) -> (Vec<T>, Failures) {
    let mut ok = Vec::with_capacity(results.len());
    let mut failures = Failures::default();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => {
                failures.count += 1;
                failures.first.get_or_insert(e);
            }
        }
    }
    (ok, failures)
}

/// The `q` quantile of sorted seconds.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn sorted_secs(durations: &[Duration]) -> Vec<f64> {
    let mut v: Vec<f64> = durations.iter().map(Duration::as_secs_f64).collect();
    v.sort_by(f64::total_cmp);
    v
}

#[derive(Default)]
struct Rate {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    listener_cpu_us: f64,
    client_cpu_us: f64,
    failures: Failures,
}

#[derive(Default)]
struct Simultaneous {
    failures: Failures,
    slowest_s: f64,
    p50_s: f64,
    wall_s: f64,
    over_1s: usize,
    counters: String,
}

struct RssStep {
    n: usize,
    /// Err: why the step was skipped.
    result: Result<RssFig, String>,
}

struct RssFig {
    idle: u64,
    held: u64,
    per_conn: f64,
    fds: usize,
    failures: Failures,
}

/// When each stalled connection of one kind was cut.
#[derive(Default)]
struct Cuts {
    cut: Vec<f64>,
    never: usize,
    connect_failures: usize,
}

impl Cuts {
    fn max(&self) -> f64 {
        self.cut.iter().copied().fold(f64::NAN, f64::max)
    }

    fn min(&self) -> f64 {
        self.cut.iter().copied().fold(f64::NAN, f64::min)
    }

    /// The longest a connection stayed, the give-up counting for those never cut.
    fn worst(&self) -> f64 {
        if self.never > 0 {
            STALL_GIVE_UP.as_secs_f64()
        } else {
            self.max()
        }
    }
}

#[derive(Default)]
struct Stall {
    honest_failures: Failures,
    honest_p99_ms: f64,
    silent: Cuts,
    slow: Cuts,
}

#[derive(Default)]
struct Rounds {
    rss_before: u64,
    rss: Vec<u64>,
    fds_before: usize,
    fds: Vec<usize>,
    failures: usize,
}

impl Rounds {
    fn growth_pct(&self) -> f64 {
        match (self.rss.first(), self.rss.last()) {
            (Some(&first), Some(&last)) if first > 0 => {
                (last as f64 - first as f64) / first as f64 * 100.0
            }
            _ => f64::NAN,
        }
    }
}

/// Everything measured on one listener with one security protocol.
struct Figures {
    kind: Kind,
    security: Security,
    rate: Rate,
    simultaneous: Simultaneous,
    rss_idle: u64,
    rss_steps: Vec<RssStep>,
    /// Phase 4 at N = 1000 on a listener after its warm-up only.
    rss_fresh: Result<RssFig, String>,
    stall: Stall,
    rounds: Rounds,
    lost: usize,
    logged: usize,
    seconds: f64,
}

impl Figures {
    /// The table's rows: (label, value); the same labels for every listener.
    fn rows(&self) -> Vec<(String, String)> {
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
        let (r, s, st, ro) = (&self.rate, &self.simultaneous, &self.stall, &self.rounds);
        let mut t = Rows::default();
        t.add("upgrades/s (64 at a time)", format!("{:.0}", r.per_sec));
        t.add(
            "  p50 / p99 latency",
            format!("{:.1} / {:.1} ms", r.p50_ms, r.p99_ms),
        );
        t.add(
            "  listener CPU per conn",
            format!("{:.0} us", r.listener_cpu_us),
        );
        t.add(
            "  client CPU per conn",
            format!("{:.0} us", r.client_cpu_us),
        );
        t.add("  failures", r.failures.count.to_string());
        t.add(
            "1,000 simultaneous: slowest",
            format!("{:.3} s", s.slowest_s),
        );
        t.add(
            "  p50 / all done",
            format!("{:.3} / {:.3} s", s.p50_s, s.wall_s),
        );
        t.add("  upgrades over 1 s", s.over_1s.to_string());
        t.add("  failures", s.failures.count.to_string());
        t.add("RSS idle", mib(self.rss_idle));
        for step in &self.rss_steps {
            let label = format!("RSS per live conn, N={}", step.n);
            match &step.result {
                Ok(f) => {
                    t.add(label, format!("{:.0} B", f.per_conn));
                    t.add(format!("  RSS at N={}", step.n), mib(f.held));
                    t.add(format!("  fds at N={}", step.n), f.fds.to_string());
                }
                Err(_) => t.add(label, "skipped"),
            }
        }
        let fresh = match &self.rss_fresh {
            Ok(f) => format!("{:.0} B", f.per_conn),
            Err(_) => "-".into(),
        };
        t.add("RSS per live conn, fresh, N=1000", fresh);
        t.add(
            "stalled: honest failures",
            st.honest_failures.count.to_string(),
        );
        t.add(
            "  honest p99 latency",
            format!("{:.1} ms", st.honest_p99_ms),
        );
        t.add("  silent cut min / max", cut_range(&st.silent));
        t.add("  silent never cut", st.silent.never.to_string());
        t.add("  slowloris cut min / max", cut_range(&st.slow));
        t.add("  slowloris never cut", st.slow.never.to_string());
        t.add("rounds: RSS before", mib(ro.rss_before));
        t.add(
            "  RSS after round 1",
            ro.rss.first().map_or("-".into(), |&b| mib(b)),
        );
        t.add(
            "  RSS after round 3",
            ro.rss.last().map_or("-".into(), |&b| mib(b)),
        );
        t.add(
            "  growth round 1 -> 3",
            format!("{:+.1} %", ro.growth_pct()),
        );
        let fds_after = ro.fds.last().copied().unwrap_or(0);
        t.add(
            "  fds before / after",
            format!("{} / {fds_after}", ro.fds_before),
        );
        t.add("  failures", ro.failures.to_string());
        t.add("live conns cut early", self.lost.to_string());
        t.add("run time", format!("{:.1} s", self.seconds));
        t.0
    }
}

/// Table rows being built.
#[derive(Default)]
struct Rows(Vec<(String, String)>);

impl Rows {
    fn add(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.0.push((label.into(), value.into()));
    }
}

fn cut_range(c: &Cuts) -> String {
    if c.cut.is_empty() {
        "-".into()
    } else {
        format!("{:.1} / {:.1} s", c.min(), c.max())
    }
}

// ---------------------------------------------------------------- phases

/// Phase 2: upgrades per second, 64 at a time, each closed right away.
async fn phase_rate(listener: &ListenerProc, client: &Arc<Client>, plan: &Plan) -> Rate {
    let m = plan.rate_upgrades;
    let (cpu0, self0) = (listener.cpu_ticks(), cpu_ticks("self"));
    let start = Instant::now();
    let c = client.clone();
    let results = pooled(m, WIDTH, move || upgrade_and_close(c.clone())).await;
    let wall = start.elapsed().as_secs_f64();
    let us_per_conn = |ticks: u64| ticks as f64 / plan.ticks_per_sec * 1e6 / m as f64;
    let listener_cpu_us = us_per_conn(listener.cpu_ticks() - cpu0);
    let client_cpu_us = us_per_conn(cpu_ticks("self") - self0);
    let (took, failures) = split(results);
    let secs = sorted_secs(&took);
    Rate {
        per_sec: took.len() as f64 / wall,
        p50_ms: quantile(&secs, 0.5) * 1e3,
        p99_ms: quantile(&secs, 0.99) * 1e3,
        listener_cpu_us,
        client_cpu_us,
        failures,
    }
}

/// One of the simultaneous dials: its connection, its upgrade's time, when it started.
struct Dialed {
    live: Live,
    took: Duration,
    go: Instant,
}

/// Phase 3: `n` dials released at once; all kept live until the last is done.
async fn phase_simultaneous(client: &Arc<Client>, n: usize, lost: &Lost) -> Simultaneous {
    let before = tcp_counters();
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<JoinHandle<Result<Dialed, String>>> = (0..n)
        .map(|_| {
            let (client, barrier, lost) = (client.clone(), barrier.clone(), lost.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let go = Instant::now();
                let (muxer, took) = client.upgrade().await?;
                let live = keep_live(muxer, lost);
                Ok(Dialed { live, took, go })
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for t in tasks {
        // bounded: each dial has the transport's timeout
        results.push(t.await.expect("a dial task panicked"));
    }
    let counters = counter_changes(&before);
    let (done, failures) = split(results);
    let first = done.iter().map(|d| d.go).min();
    let last = done.iter().map(|d| d.go + d.took).max();
    let wall_s = match (first, last) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => f64::NAN,
    };
    let took: Vec<Duration> = done.iter().map(|d| d.took).collect();
    let secs = sorted_secs(&took);
    close_all(done.into_iter().map(|d| d.live).collect()).await;
    Simultaneous {
        failures,
        slowest_s: secs.last().copied().unwrap_or(f64::NAN),
        p50_s: quantile(&secs, 0.5),
        wall_s,
        over_1s: secs.iter().filter(|&&s| s > 1.0).count(),
        counters,
    }
}

/// Phase 4, one step: RSS with `n` live connections over the idle RSS.
async fn phase_rss(
    listener: &ListenerProc,
    client: &Arc<Client>,
    n: usize,
    plan: &Plan,
    lost: &Lost,
) -> Result<RssFig, String> {
    if let Some(why) = fd_shortage(n) {
        return Err(why);
    }
    sleep(plan.settle).await;
    let idle = listener.rss();
    let (live, failures) = open_live(client, n, lost).await;
    sleep(plan.settle).await;
    let (held, fds) = (listener.rss(), listener.fds());
    let per_conn = (held as f64 - idle as f64) / live.len().max(1) as f64;
    close_all(live).await;
    Ok(RssFig {
        idle,
        held,
        per_conn,
        fds,
        failures,
    })
}

/// A stalled connection: sends `drip` one byte a second (nothing if empty) and reads until
/// the listener cuts it; seconds from its connect, or `None` at the give-up.
async fn hold_stalled(mut tcp: TcpStream, connected: Instant, drip: &'static [u8]) -> Option<f64> {
    let give_up = connected + STALL_GIVE_UP;
    let mut buf = [0u8; 512];
    let mut sent = 0;
    let mut next_byte = connected;
    loop {
        tokio::select! {
            read = tcp.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Some(connected.elapsed().as_secs_f64()),
                Ok(_) => {} // the listener's own multistream header: not a cut
            },
            () = sleep_until(next_byte), if sent < drip.len() => {
                if tcp.write_all(&drip[sent..=sent]).await.is_err() {
                    return Some(connected.elapsed().as_secs_f64());
                }
                sent += 1;
                next_byte += Duration::from_secs(1);
            }
            () = sleep_until(give_up) => return None,
        }
    }
}

/// Opens `n` raw TCP connections, each held by a task from its connect.
async fn stall(
    addr: SocketAddr,
    n: usize,
    drip: &'static [u8],
) -> (Vec<JoinHandle<Option<f64>>>, usize) {
    let mut held = Vec::with_capacity(n);
    let mut failed = 0;
    for _ in 0..n {
        match timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => held.push(tokio::spawn(hold_stalled(tcp, Instant::now(), drip))),
            _ => failed += 1,
        }
    }
    (held, failed)
}

async fn cuts(held: Vec<JoinHandle<Option<f64>>>, connect_failures: usize) -> Cuts {
    let mut c = Cuts {
        connect_failures,
        ..Cuts::default()
    };
    for h in held {
        // bounded by the give-up
        match h.await.expect("a stalled connection's task panicked") {
            Some(s) => c.cut.push(s),
            None => c.never += 1,
        }
    }
    c
}

/// Phase 5: honest upgrades while stalled and slowloris connections are held.
async fn phase_stalled(listener: &ListenerProc, client: &Arc<Client>, plan: &Plan) -> Stall {
    let (silent, silent_failed) = stall(listener.socket, plan.stalled, b"").await;
    let (slow, slow_failed) = stall(listener.socket, plan.slowloris, SLOWLORIS).await;
    let c = client.clone();
    let honest = pooled(plan.honest, WIDTH, move || upgrade_and_close(c.clone())).await;
    let (took, honest_failures) = split(honest);
    Stall {
        honest_failures,
        honest_p99_ms: quantile(&sorted_secs(&took), 0.99) * 1e3,
        silent: cuts(silent, silent_failed).await,
        slow: cuts(slow, slow_failed).await,
    }
}

/// Phase 6: three rounds of connections opened, held, closed.
async fn phase_rounds(
    listener: &ListenerProc,
    client: &Arc<Client>,
    plan: &Plan,
    lost: &Lost,
) -> Rounds {
    sleep(plan.settle).await;
    let mut r = Rounds {
        rss_before: listener.rss(),
        fds_before: listener.fds(),
        ..Rounds::default()
    };
    for _ in 0..3 {
        let (live, failures) = open_live(client, plan.round_conns, lost).await;
        r.failures += failures.count;
        sleep(plan.hold).await;
        close_all(live).await;
        sleep(plan.round_wait).await;
        r.rss.push(listener.rss());
        r.fds.push(listener.fds());
    }
    r
}

/// Phase 4 at N = 1000 on a listener that has seen only the warm-up: without the peak of
/// phase 3 in its allocator, which the idle RSS of phase 4 keeps (freed memory is reused
/// by the next connections without raising RSS).
async fn phase_rss_fresh(
    kind: Kind,
    security: Security,
    listener: &ListenerProc,
    plan: &Plan,
) -> Result<RssFig, String> {
    let client = Arc::new(Client::new(security, listener));
    let lost: Lost = Arc::new(AtomicUsize::new(0));
    let c = client.clone();
    let _ = pooled(plan.warm_up, WIDTH, move || upgrade_and_close(c.clone())).await;
    let result = phase_rss(listener, &client, 1000, plan, &lost).await;
    if let Ok(f) = &result {
        println!(
            "[{} {}] fresh listener, RSS per live connection, N=1000: {:.0} B (idle {} KiB, held {} KiB), failures {}",
            kind.name(), security.name(), f.per_conn, f.idle / 1024, f.held / 1024, f.failures
        );
    }
    result
}

/// Every phase against one fresh listener (`rss_fresh`: measured on another one before).
async fn run_phases(
    kind: Kind,
    security: Security,
    listener: &ListenerProc,
    plan: &Plan,
    rss_fresh: Result<RssFig, String>,
) -> Figures {
    let start = Instant::now();
    let tag = format!("[{} {}]", kind.name(), security.name());
    let client = Arc::new(Client::new(security, listener));
    let lost: Lost = Arc::new(AtomicUsize::new(0));

    let c = client.clone();
    let (_, warm_failures) =
        split(pooled(plan.warm_up, WIDTH, move || upgrade_and_close(c.clone())).await);
    if warm_failures.count > 0 {
        println!("{tag} warm-up failures: {warm_failures}");
    }

    let rate = phase_rate(listener, &client, plan).await;
    println!(
        "{tag} upgrades/s (64 at a time): {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, listener CPU {:.0} us/conn, client CPU {:.0} us/conn, failures {}",
        rate.per_sec, rate.p50_ms, rate.p99_ms, rate.listener_cpu_us, rate.client_cpu_us, rate.failures
    );

    let simultaneous = phase_simultaneous(&client, plan.simultaneous, &lost).await;
    println!(
        "{tag} {} simultaneous dials: slowest {:.3} s, p50 {:.3} s, all done in {:.3} s, {} over 1 s, failures {}; TCP counters: {}",
        plan.simultaneous,
        simultaneous.slowest_s,
        simultaneous.p50_s,
        simultaneous.wall_s,
        simultaneous.over_1s,
        simultaneous.failures,
        simultaneous.counters
    );

    let mut rss_steps = Vec::new();
    for &n in &plan.live_steps {
        let result = phase_rss(listener, &client, n, plan, &lost).await;
        match &result {
            Ok(f) => println!(
                "{tag} RSS per live connection, N={n}: {:.0} B (idle {} KiB, held {} KiB, listener fds {}), failures {}",
                f.per_conn, f.idle / 1024, f.held / 1024, f.fds, f.failures
            ),
            Err(why) => println!("{tag} RSS per live connection, N={n}: skipped: {why}"),
        }
        rss_steps.push(RssStep { n, result });
    }
    for n in [1000, 10_000] {
        if !plan.live_steps.contains(&n) {
            rss_steps.push(RssStep {
                n,
                result: Err("quick run".into()),
            });
        }
    }
    let rss_idle = rss_steps
        .first()
        .and_then(|s| s.result.as_ref().ok())
        .map_or(0, |f| f.idle);

    let stall = phase_stalled(listener, &client, plan).await;
    println!(
        "{tag} stalled ({} silent + {} slowloris) with {} honest upgrades: honest failures {}, honest p99 {:.1} ms; silent cut {} (never {}, connect failures {}); slowloris cut {} (never {}, connect failures {})",
        plan.stalled, plan.slowloris, plan.honest,
        stall.honest_failures, stall.honest_p99_ms,
        cut_range(&stall.silent), stall.silent.never, stall.silent.connect_failures,
        cut_range(&stall.slow), stall.slow.never, stall.slow.connect_failures,
    );

    let rounds = phase_rounds(listener, &client, plan, &lost).await;
    let kib: Vec<String> = rounds.rss.iter().map(|b| (b / 1024).to_string()).collect();
    println!(
        "{tag} memory after rounds of {}: RSS before {} KiB, after each round [{}] KiB, growth round 1 -> 3 {:+.1} %; fds before {}, after each round {:?}; failures {}",
        plan.round_conns, rounds.rss_before / 1024, kib.join(", "), rounds.growth_pct(),
        rounds.fds_before, rounds.fds, rounds.failures
    );

    let figures = Figures {
        kind,
        security,
        rate,
        simultaneous,
        rss_idle,
        rss_steps,
        rss_fresh,
        stall,
        rounds,
        lost: lost.load(Ordering::Relaxed),
        logged: listener.logged.load(Ordering::Relaxed),
        seconds: start.elapsed().as_secs_f64(),
    };
    println!(
        "{tag} done in {:.1} s; listener stdout: {} connection lines; stderr: {}",
        figures.seconds,
        figures.logged,
        listener.stderr_summary()
    );
    figures
}

// ---------------------------------------------------------------- main

fn print_table(all: &[Figures]) {
    println!();
    let header: Vec<String> = all
        .iter()
        .map(|f| format!("{} {}", f.kind.name(), f.security.name()))
        .collect();
    println!(
        "{:<32} {}",
        "",
        header
            .iter()
            .map(|h| format!("{h:>18}"))
            .collect::<String>()
    );
    let columns: Vec<Vec<(String, String)>> = all.iter().map(Figures::rows).collect();
    let Some(first) = columns.first() else {
        return;
    };
    for (i, (label, _)) in first.iter().enumerate() {
        let values: String = columns
            .iter()
            .map(|c| format!("{:>18}", c.get(i).map_or("", |(_, v)| v.as_str())))
            .collect();
        println!("{label:<32} {values}");
    }
}

fn find(all: &[Figures], kind: Kind, security: Security) -> Option<&Figures> {
    all.iter()
        .find(|f| f.kind == kind && f.security == security)
}

fn print_summary(all: &[Figures]) {
    let ratio = |security: Security, of: &dyn Fn(&Figures) -> Option<f64>| {
        let ours = find(all, Kind::P2psec, security).and_then(of);
        let theirs = find(all, Kind::Libp2p, security).and_then(of);
        match (ours, theirs) {
            (Some(a), Some(b)) => a / b,
            _ => f64::NAN,
        }
    };
    // the fresh listener's figure: the warmed-up one reuses what phase 3's peak left in
    // its allocator (see phase 4 in the module docs)
    let rss = |f: &Figures| f.rss_fresh.as_ref().ok().map(|r| r.per_conn);
    let cpu = |f: &Figures| Some(f.rate.listener_cpu_us);
    let ours = |security| find(all, Kind::P2psec, security);
    let p2psec_max = |of: &dyn Fn(&Figures) -> f64| {
        [Security::Noise, Security::Tls]
            .into_iter()
            .filter_map(ours)
            .map(of)
            .fold(f64::NAN, f64::max)
    };
    let bytes = |security| ours(security).and_then(rss).unwrap_or(f64::NAN);
    println!();
    println!(
        "ratio rss_per_conn_noise_vs_libp2p {:.3}",
        ratio(Security::Noise, &rss)
    );
    println!(
        "ratio rss_per_conn_tls_vs_libp2p {:.3}",
        ratio(Security::Tls, &rss)
    );
    println!(
        "ratio listener_cpu_per_conn_noise_vs_libp2p {:.3}",
        ratio(Security::Noise, &cpu)
    );
    println!("bytes rss_per_conn_noise {:.0}", bytes(Security::Noise));
    println!("bytes rss_per_conn_tls {:.0}", bytes(Security::Tls));
    println!(
        "seconds stalled_cut_max {:.3}",
        p2psec_max(&|f| f.stall.silent.worst().max(f.stall.slow.worst()))
    );
    println!(
        "seconds concurrent_1000_slowest {:.3}",
        p2psec_max(&|f| f.simultaneous.slowest_s)
    );
}

fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok(ROLE_LIBP2P) {
        libp2p_listener_main();
        return;
    }
    let quick = std::env::var("P2PSEC_BENCH_QUICK").is_ok_and(|v| v == "1");
    let plan = Plan::new(quick);
    raise_nofile();
    let (soft, hard) = nofile_limits().unwrap_or((0, 0));
    println!(
        "== Load benchmark, listener processes over loopback TCP, rust-libp2p client ({} run)",
        if plan.quick { "quick" } else { "full" }
    );
    println!(
        "RLIMIT_NOFILE {soft}/{hard}, somaxconn {}, tcp_max_syn_backlog {}, syncookies {}, CLK_TCK {}",
        sysctl("net/core/somaxconn"),
        sysctl("net/ipv4/tcp_max_syn_backlog"),
        sysctl("net/ipv4/tcp_syncookies"),
        plan.ticks_per_sec
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let start = Instant::now();
    let mut all = Vec::new();
    for security in [Security::Noise, Security::Tls] {
        for kind in [Kind::P2psec, Kind::Libp2p] {
            let fresh = ListenerProc::spawn(kind, security);
            let rss_fresh = runtime.block_on(phase_rss_fresh(kind, security, &fresh, &plan));
            drop(fresh); // each listener is killed before the next one starts
            let listener = ListenerProc::spawn(kind, security);
            let phases = run_phases(kind, security, &listener, &plan, rss_fresh);
            all.push(runtime.block_on(phases));
            drop(listener);
        }
    }
    print_table(&all);
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    print_summary(&all);
}
