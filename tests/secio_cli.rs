//! The CLI against the legacy SECIO peers: `p2psec dial` and `p2psec listen` configured
//! `--security noise,tls,secio` (the default muxers, `yamux,mplex`) reach rust-libp2p 0.26
//! and js-libp2p 0.29.4, which speak only SECIO, in both directions, with pings and an
//! echo; and `p2psec demo --security secio` runs. The peers are built and installed by
//! the scripts beside them (`tests/interop/secio-rust/build.sh`,
//! `tests/interop/secio-js/install.sh`).
#![cfg(all(feature = "secio", feature = "cli"))]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SECURITY: &str = "noise,tls,secio";

fn interop_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

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
        PathBuf::from(stdout.lines().last().expect("binary path").trim())
    })
}

fn js_peer(args: &[&str]) -> Command {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = Command::new("bash")
            .arg(interop_dir("secio-js").join("install.sh"))
            .output()
            .expect("run tests/interop/secio-js/install.sh");
        assert!(out.status.success(), "installing the legacy js peer failed");
    });
    let mut c = Command::new("node");
    c.arg(interop_dir("secio-js").join("peer.js")).args(args);
    c
}

fn p2psec(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_p2psec"));
    c.args(args);
    c
}

/// A listening process, killed on drop; its first stdout line is its multiaddr.
struct Listening {
    child: Child,
    addr: String,
}

impl Listening {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn listener");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("address line");
        // keep draining: a listener that logs each connection must not hit a closed pipe
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let addr = line.trim().to_string();
        assert!(addr.contains("/p2p/"), "not a listen address: {addr:?}");
        Self { child, addr }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a dialer to its end (60 s at most).
fn finish(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dialer");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `p2psec dial --json`: every ping and the echo succeeded over SECIO.
fn check_p2psec_dial(out: &Output, muxer: &str) {
    let all = text(out);
    assert!(out.status.success(), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("/secio/1.0.0"), "{all}");
    assert!(stdout.contains(muxer), "{all}");
}

/// `p2psec dial` against a legacy listener: 3 pings and an echo of `echo` bytes over
/// SECIO, with `muxer` agreed.
fn p2psec_dials(listener: Command, echo: &str, muxer: &str) {
    let peer = Listening::spawn(listener);
    let out = finish(p2psec(&[
        "dial",
        &peer.addr,
        "--security",
        SECURITY,
        "--ping",
        "3",
        "--echo",
        echo,
        "--json",
    ]));
    check_p2psec_dial(&out, muxer);
}

/// `p2psec listen` for a legacy dialer.
fn p2psec_listener() -> Listening {
    Listening::spawn(p2psec(&[
        "listen",
        "--addr",
        "/ip4/127.0.0.1/tcp/0",
        "--security",
        SECURITY,
    ]))
}

/// A legacy dialer's output: success, 3 pings, the echo of `echo` bytes.
fn check_legacy_dial(out: &Output, echo: &str, what: &str) {
    let all = text(out);
    assert!(out.status.success(), "{what}: {all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ping ")).count(),
        3,
        "{what}: {all}"
    );
    assert!(stdout.contains(&format!("echo {echo} ok")), "{what}: {all}");
}

fn rust_peer_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(rust_peer());
    c.args(args);
    c
}

#[test]
fn p2psec_dials_rust_legacy_listener() {
    // the legacy peer offers yamux (0.8) and mplex; ours prefers yamux
    p2psec_dials(
        rust_peer_cmd(&["listen", "--muxer", "both"]),
        "65536",
        "/yamux/1.0.0",
    );
}

#[test]
fn p2psec_dials_rust_legacy_listener_over_mplex() {
    p2psec_dials(
        rust_peer_cmd(&["listen", "--muxer", "mplex"]),
        "1048576",
        "/mplex/6.7.0",
    );
}

#[test]
fn rust_legacy_dials_p2psec_listener() {
    let ours = p2psec_listener();
    for muxer in ["mplex", "yamux"] {
        let out = finish(rust_peer_cmd(&[
            "dial", &ours.addr, "--pings", "3", "--echo", "65536", "--muxer", muxer,
        ]));
        check_legacy_dial(&out, "65536", muxer);
    }
}

#[test]
fn p2psec_dials_js_legacy_listener() {
    p2psec_dials(js_peer(&["listen"]), "1048576", "/mplex/6.7.0");
}

#[test]
fn js_legacy_dials_p2psec_listener() {
    let ours = p2psec_listener();
    let out = finish(js_peer(&[
        "dial", &ours.addr, "--pings", "3", "--echo", "1048576",
    ]));
    check_legacy_dial(&out, "1048576", "js");
}

#[test]
fn demo_runs_secio() {
    let out = finish(p2psec(&[
        "demo",
        "--security",
        "secio",
        "--echo-mib",
        "4",
        "--json",
    ]));
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/secio/1.0.0"),
        "{all}"
    );
}

#[test]
fn secio_first_is_refused() {
    let out = finish(p2psec(&[
        "listen",
        "--addr",
        "/ip4/127.0.0.1/tcp/0",
        "--security",
        "secio,noise",
    ]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SECIO"),
        "{}",
        text(&out)
    );
}
