//! SECIO against the real legacy implementations, over loopback TCP, in both roles:
//! - rust-libp2p 0.26 (`libp2p-secio` 0.26.0, mplex): `tests/interop/secio-rust/`, built
//!   from its own pinned lockfile by its `build.sh`;
//! - js-libp2p 0.29.4 (`libp2p-secio` 0.13.1, `libp2p-mplex` 0.10.7): `tests/interop/secio-js/`,
//!   installed from npm by its `install.sh`.
//!
//! The p2psec side is the library itself (upgrade, SECIO, mplex, ping and echo on top;
//! `tests/common/legacy_node.rs`), configured as a modern node that also lists SECIO:
//! `noise, tls, secio`. Each SECIO-only peer refuses the first two, so the runs also prove
//! the fallback.
//!
//! `P2PSEC_RECORD_VECTORS=1` writes each session's transcript to `vectors/secio/`
//! (`tests/secio_vectors.rs` replays them).
#![cfg(feature = "secio")]

#[path = "common/legacy_node.rs"]
mod legacy_node;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use legacy_node::{node_config, run, Outcome, Role, Wire, NOISE_TLS_SECIO};
use p2psec::upgrade::SecurityProtocol;
use p2psec::PeerId;

fn interop_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// Builds the rust-libp2p 0.26 peer once; its path.
fn rust_peer() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new("bash")
            .arg(interop_dir("secio-rust").join("build.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/interop/secio-rust/build.sh");
        assert!(out.status.success(), "building the legacy rust peer failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("build.sh prints the binary")
                .trim(),
        )
    })
}

/// Installs the js-libp2p 0.29 peer once.
fn js_peer_installed() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = Command::new("bash")
            .arg(interop_dir("secio-js").join("install.sh"))
            .output()
            .expect("run tests/interop/secio-js/install.sh (Node.js >= 20 and npm needed)");
        assert!(
            out.status.success(),
            "installing the legacy js peer failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

#[derive(Clone, Copy, Debug)]
enum Peer {
    Rust,
    Js,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Rust => "rust-libp2p 0.26 (libp2p-secio 0.26.0, libp2p-mplex 0.26)",
            Peer::Js => "js-libp2p 0.29.4 (libp2p-secio 0.13.1, libp2p-mplex 0.10.7)",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Peer::Rust => "rust",
            Peer::Js => "js",
        }
    }

    fn command(self, args: &[&str]) -> Command {
        let mut cmd = match self {
            Peer::Rust => {
                let mut c = Command::new(rust_peer());
                c.args(args);
                if args.first() == Some(&"listen") || args.first() == Some(&"dial") {
                    c.args(["--muxer", "mplex"]);
                }
                c
            }
            Peer::Js => {
                js_peer_installed();
                let mut c = Command::new("node");
                c.arg(interop_dir("secio-js").join("peer.js")).args(args);
                c
            }
        };
        cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
        cmd
    }
}

/// A child process killed on drop.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `peer listen` and reads its multiaddr: (process, port, PeerId).
fn listen(peer: Peer) -> (Killed, u16, PeerId) {
    let mut child = peer
        .command(&["listen"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the legacy peer");
    let stdout = child.stdout.take().expect("stdout");
    let child = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listen address");
    let addr = line.trim();
    let port: u16 = addr
        .split("/tcp/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr:?}"));
    let peer_id: PeerId = addr
        .rsplit("/p2p/")
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no PeerId in {addr:?}"));
    (child, port, peer_id)
}

/// A live socket that records every chunk in each direction.
struct Recording {
    tcp: TcpStream,
    ours: Vec<u8>,
    theirs: Vec<Vec<u8>>,
}

impl Wire for Recording {
    fn send(&mut self, bytes: &[u8]) {
        self.ours.extend_from_slice(bytes);
        let _ = self.tcp.write_all(bytes);
    }
    fn recv(&mut self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 256 * 1024];
        match self.tcp.read(&mut buf) {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                self.theirs.push(buf.clone());
                Some(buf)
            }
        }
    }
}

impl Recording {
    fn new(tcp: TcpStream) -> Self {
        let _ = tcp.set_nodelay(true);
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
        Self {
            tcp,
            ours: Vec::new(),
            theirs: Vec::new(),
        }
    }
}

/// Writes the transcript when `P2PSEC_RECORD_VECTORS=1`.
#[allow(clippy::too_many_arguments)]
fn record(
    name: &str,
    peer: Peer,
    role: &str,
    key_seed: u64,
    run_seed: u64,
    app: Role,
    expected: Option<PeerId>,
    outcome: &Outcome,
    wire: &Recording,
) {
    if !recording() {
        return;
    }
    let (pings, echo) = match app {
        Role::Client { pings, echo } => (pings, echo),
        Role::Server => (0, 0),
    };
    let json = serde_json::json!({
        "description": format!("p2psec ({role}) with {} over loopback TCP: security noise,tls,secio (the peer speaks only SECIO), muxer mplex", peer.name()),
        "peer": peer.name(),
        "role": role,
        "key_seed": key_seed,
        "run_seed": run_seed,
        "pings": pings,
        "echo": echo,
        "expected_remote_peer_id": expected.map(|p| p.to_base58()),
        "remote_peer_id": outcome.remote_peer_id.map(|p| p.to_base58()),
        "peer_chunks": wire.theirs.iter().map(hex).collect::<Vec<_>>(),
        "our_bytes": hex(&wire.ours),
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/secio");
    std::fs::create_dir_all(&dir).expect("vectors/secio");
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(&json).expect("json") + "\n",
    )
    .expect("write vector");
}

fn recording() -> bool {
    std::env::var("P2PSEC_RECORD_VECTORS").as_deref() == Ok("1")
}

/// Recorded sessions echo 4 KiB instead of 1 MiB, to keep `vectors/` small.
fn echo_len(live: usize) -> usize {
    if recording() && live > 0 {
        4096
    } else {
        live
    }
}

fn hex(b: impl AsRef<[u8]>) -> String {
    b.as_ref().iter().map(|x| format!("{x:02x}")).collect()
}

/// p2psec dials the legacy listener, pings it (and echoes through it when it serves
/// echo), and checks what was agreed.
fn p2psec_dials(peer: Peer, pings: usize, echo: usize) {
    let echo = echo_len(echo);
    let (_child, port, peer_id) = listen(peer);
    let (key_seed, run_seed) = (11, 12);
    let (_, config) = node_config(key_seed, NOISE_TLS_SECIO);
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut wire = Recording::new(tcp);
    let role = Role::Client { pings, echo };
    let outcome = run(&config, Some(Some(peer_id)), run_seed, role, &mut wire);
    eprintln!("{outcome:?}");
    assert_eq!(outcome.error, None, "with {}", peer.name());
    assert_eq!(outcome.remote_peer_id, Some(peer_id));
    assert_eq!(outcome.security, Some(SecurityProtocol::Secio));
    assert_eq!(outcome.muxer.as_deref(), Some(p2psec::mplex::MPLEX));
    assert_eq!(outcome.pings_ok, pings);
    if echo > 0 {
        assert!(outcome.echo_ok, "the echo came back different");
    }
    record(
        &format!("p2psec_dials_{}", peer.tag()),
        peer,
        "dialer",
        key_seed,
        run_seed,
        role,
        Some(peer_id),
        &outcome,
        &wire,
    );
}

/// The legacy peer dials p2psec, pings (and echoes); p2psec serves until it hangs up.
fn legacy_dials(peer: Peer, echo: usize) {
    let echo = echo_len(echo);
    let (key_seed, run_seed) = (21, 22);
    let (identity, config) = node_config(key_seed, NOISE_TLS_SECIO);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let addr = format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", identity.peer_id());
    let echo_arg = echo.to_string();
    let mut args = vec!["dial", addr.as_str(), "--pings", "3"];
    if echo > 0 {
        args.extend(["--echo", echo_arg.as_str()]);
    }
    let child = peer
        .command(&args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the legacy dialer");
    let (tcp, _) = listener.accept().expect("accept");
    let mut wire = Recording::new(tcp);
    let outcome = run(&config, None, run_seed, Role::Server, &mut wire);
    let out = child.wait_with_output().expect("legacy dialer output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{outcome:?}\n{stdout}");
    assert!(out.status.success(), "the legacy dialer failed:\n{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ping ")).count(), 3);
    if echo > 0 {
        assert!(stdout.contains(&format!("echo {echo} ok")), "{stdout}");
    }
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.security, Some(SecurityProtocol::Secio));
    assert!(outcome.served >= 3, "served {} pings", outcome.served);
    record(
        &format!("{}_dials_p2psec", peer.tag()),
        peer,
        "listener",
        key_seed,
        run_seed,
        Role::Server,
        None,
        &outcome,
        &wire,
    );
}

#[test]
fn p2psec_dials_rust_libp2p_0_26() {
    p2psec_dials(Peer::Rust, 3, 0);
}

#[test]
fn rust_libp2p_0_26_dials_p2psec() {
    legacy_dials(Peer::Rust, 0);
}

#[test]
fn p2psec_dials_js_libp2p_0_29() {
    p2psec_dials(Peer::Js, 3, 1 << 20);
}

#[test]
fn js_libp2p_0_29_dials_p2psec() {
    legacy_dials(Peer::Js, 1 << 20);
}

/// A wrong expected PeerId ends the upgrade with the named error before any data.
#[test]
fn wrong_peer_id_is_refused_by_p2psec() {
    let (_child, port, _) = listen(Peer::Rust);
    let (_, config) = node_config(31, NOISE_TLS_SECIO);
    let other = node_config(32, NOISE_TLS_SECIO).0.peer_id();
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut wire = Recording::new(tcp);
    let role = Role::Client { pings: 1, echo: 0 };
    let outcome = run(&config, Some(Some(other)), 33, role, &mut wire);
    let error = outcome.error.expect("refused");
    assert!(error.contains("expected"), "{error}");
    assert_eq!(outcome.pings_ok, 0);
}
