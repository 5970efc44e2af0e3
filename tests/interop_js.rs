//! Interop with js-libp2p: the `p2psec` CLI against a js-libp2p node (Node.js), both ways,
//! over `/noise` and `/tls/1.0.0`, with yamux as the muxer.
//!
//! For each security protocol, js listens and `p2psec dial` connects, then `p2psec listen`
//! listens and the js peer dials; each dialer checks the remote PeerId, runs 3 pings
//! (`/ipfs/ping/1.0.0`) and echoes 1 MiB (`/echo/1.0.0`). The js peer is
//! `tests/interop/js/peer.mjs`; its npm packages are pinned by the lock file beside it and
//! installed by `tests/interop/js/install.sh`, which this test runs first. Node.js >= 20
//! and npm must be on PATH: the test fails (it does not skip) without them. Only loopback
//! addresses are used; every spawned process is killed at the end, and every wait has a
//! deadline so that a hang fails the test.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "common/js_peer.rs"]
mod js_peer;
use js_peer::{install_js_peer, js_dir, node_peer};

const PINGS: u64 = 3;
const ECHO_BYTES: u64 = 1 << 20;
/// How long a listener may take to print its multiaddr (node's first start is slow).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a dialer may run, handshake, pings and echo included.
const DIAL_TIMEOUT: Duration = Duration::from_secs(120);

fn p2psec(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p2psec"));
    cmd.args(args);
    cmd
}

/// Reads a pipe to its end on a thread.
fn drain<R: Read + Send + 'static>(mut pipe: R) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A listening peer; killed (and its stderr shown if the test is failing) on drop.
struct Listener {
    name: String,
    child: Child,
    stdout: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
    /// The multiaddr it printed, ending in `/p2p/<PeerId>`.
    addr: String,
}

impl Listener {
    fn spawn(name: &str, mut cmd: Command) -> Listener {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: could not spawn {cmd:?}: {e}"));
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let stderr: ChildStderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Sends the first line, then keeps reading so the listener never blocks on a
        // full pipe.
        let stdout = thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            for _ in lines {}
        });
        let mut listener = Listener {
            name: name.to_owned(),
            child,
            stdout: Some(stdout),
            stderr: Some(drain(stderr)),
            addr: String::new(),
        };
        match rx.recv_timeout(LISTEN_TIMEOUT) {
            Ok(Some(Ok(line))) => listener.addr = line.trim().to_owned(),
            Ok(Some(Err(e))) => panic!("{name}: reading its stdout failed: {e}"),
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{name}: exited before printing its multiaddr")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{name}: printed no multiaddr within {LISTEN_TIMEOUT:?}")
            }
        }
        assert!(
            listener.addr.starts_with("/ip4/127.0.0.1/tcp/"),
            "{name}: expected a loopback TCP multiaddr, got {:?}",
            listener.addr
        );
        listener
    }

    fn peer_id(&self) -> &str {
        peer_id_of(&self.addr)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = self.stdout.take() {
            let _ = t.join();
        }
        let stderr = self.stderr.take().map(|t| t.join().unwrap_or_default());
        if thread::panicking() {
            eprintln!(
                "--- {} ({}) stderr:\n{}",
                self.name,
                self.addr,
                stderr.unwrap_or_default()
            );
        }
    }
}

fn peer_id_of(addr: &str) -> &str {
    addr.rsplit_once("/p2p/")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .unwrap_or_else(|| panic!("multiaddr {addr:?} does not end in /p2p/<PeerId>"))
}

/// Runs a dialer to completion within [`DIAL_TIMEOUT`]; panics if it fails or hangs.
/// Returns its stdout.
fn run_dialer(name: &str, cmd: Command) -> String {
    match run_to_end(name, cmd) {
        (true, stdout, _) => stdout,
        (false, stdout, stderr) => {
            panic!("{name}: failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
        }
    }
}

/// Runs a command to its end within [`DIAL_TIMEOUT`] (panics if it hangs): whether it
/// succeeded, its stdout and its stderr.
fn run_to_end(name: &str, mut cmd: Command) -> (bool, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: could not spawn {cmd:?}: {e}"));
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + DIAL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("{name}: waiting for it failed: {e}"),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        None => panic!(
            "{name}: still running after {DIAL_TIMEOUT:?}, killed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
        Some(s) => (s.success(), stdout, stderr),
    }
}

/// Checks a dialer's JSON lines: `connected` (PeerId, security, muxer), [`PINGS`] pings,
/// then an echo of [`ECHO_BYTES`], in that order.
fn check_dial_output(name: &str, stdout: &str, remote_peer_id: &str, security: &str) {
    let events: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{name}: stdout line {l:?} is not JSON: {e}"))
        })
        .collect();
    let ctx = || format!("{name}: stdout was\n{stdout}");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or(""))
        .collect();
    let mut expected = vec!["connected"];
    expected.extend(std::iter::repeat_n("ping", PINGS as usize));
    expected.push("echo");
    assert_eq!(kinds, expected, "{}", ctx());

    let connected = &events[0];
    assert_eq!(
        connected["remote_peer_id"].as_str(),
        Some(remote_peer_id),
        "{}",
        ctx()
    );
    assert_eq!(connected["security"].as_str(), Some(security), "{}", ctx());
    assert_eq!(
        connected["muxer"].as_str(),
        Some("/yamux/1.0.0"),
        "{}",
        ctx()
    );

    for (i, ping) in events[1..=PINGS as usize].iter().enumerate() {
        assert_eq!(ping["seq"].as_u64(), Some(i as u64 + 1), "{}", ctx());
        let rtt = ping["rtt_ms"].as_f64();
        assert!(rtt.is_some_and(|r| r >= 0.0), "{}", ctx());
    }

    let echo = &events[PINGS as usize + 1];
    assert_eq!(echo["ok"].as_bool(), Some(true), "{}", ctx());
    assert_eq!(echo["bytes"].as_u64(), Some(ECHO_BYTES), "{}", ctx());
}

fn security_protocol(security: &str) -> &'static str {
    match security {
        "noise" => "/noise",
        "tls" => "/tls/1.0.0",
        other => panic!("unknown security {other}"),
    }
}

/// js-libp2p listens, `p2psec dial` connects.
fn js_listens_p2psec_dials(security: &str) {
    install_js_peer();
    let js = Listener::spawn(
        &format!("js listener ({security})"),
        node_peer(&["listen", "--security", security]),
    );
    let pings = PINGS.to_string();
    let echo = ECHO_BYTES.to_string();
    let name = format!("p2psec dial ({security}) to js");
    let stdout = run_dialer(
        &name,
        p2psec(&[
            "dial",
            &js.addr,
            "--security",
            security,
            "--ping",
            &pings,
            "--echo",
            &echo,
            "--json",
        ]),
    );
    check_dial_output(&name, &stdout, js.peer_id(), security_protocol(security));
}

/// `p2psec listen` listens, js-libp2p dials.
fn p2psec_listens_js_dials(security: &str) {
    install_js_peer();
    let rust = Listener::spawn(
        &format!("p2psec listener ({security})"),
        p2psec(&[
            "listen",
            "--addr",
            "/ip4/127.0.0.1/tcp/0",
            "--security",
            security,
            "--muxer",
            "yamux",
        ]),
    );
    let pings = PINGS.to_string();
    let echo = ECHO_BYTES.to_string();
    let name = format!("js dial ({security}) to p2psec");
    let stdout = run_dialer(
        &name,
        node_peer(&[
            "dial",
            &rust.addr,
            "--security",
            security,
            "--ping",
            &pings,
            "--echo",
            &echo,
        ]),
    );
    check_dial_output(&name, &stdout, rust.peer_id(), security_protocol(security));
}

#[test]
fn noise_js_listens_p2psec_dials() {
    js_listens_p2psec_dials("noise");
}

#[test]
fn tls_js_listens_p2psec_dials() {
    js_listens_p2psec_dials("tls");
}

#[test]
fn noise_p2psec_listens_js_dials() {
    p2psec_listens_js_dials("noise");
}

#[test]
fn tls_p2psec_listens_js_dials() {
    p2psec_listens_js_dials("tls");
}

/// `p2psec dial --repeat 2` with the CLI's default lists (`noise,tls`, `yamux,mplex`)
/// against a js-libp2p node that speaks one security protocol: the second dial proposes
/// what js accepted, from the process's peer memory, and takes one round trip.
fn js_redial_takes_one_round_trip(security: &str) {
    install_js_peer();
    let js = Listener::spawn(
        &format!("js listener ({security})"),
        node_peer(&["listen", "--security", security]),
    );
    let name = format!("p2psec dial --repeat 2 to js ({security})");
    let stdout = run_dialer(
        &name,
        p2psec(&["dial", &js.addr, "--repeat", "2", "--ping", "1", "--json"]),
    );
    let connected: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "connected")
        .collect();
    assert_eq!(connected.len(), 2, "{name}: {stdout}");
    assert_eq!(connected[0]["memory"], "empty", "{name}: {stdout}");
    assert_eq!(connected[1]["memory"], "used", "{name}: {stdout}");
    for c in &connected {
        assert_eq!(c["security"], security_protocol(security), "{name}: {c}");
        assert_eq!(c["remote_peer_id"], js.peer_id(), "{name}: {c}");
    }
    let first = connected[0]["round_trips"].as_u64().expect("round_trips");
    let again = connected[1]["round_trips"].as_u64().expect("round_trips");
    assert_eq!(again, 1, "{name}: {stdout}");
    assert!(first >= again, "{name}: {stdout}");
    println!("{name}: round trips first contact {first}, re-dial {again}");
}

#[test]
fn noise_js_redial_takes_one_round_trip() {
    js_redial_takes_one_round_trip("noise");
}

#[test]
fn tls_js_redial_takes_one_round_trip() {
    js_redial_takes_one_round_trip("tls");
}

// ---- legacy RSA-1024 identities: refused by default, accepted when allowed ----

/// What p2psec prints when it refuses a legacy RSA key (identity::Error::LegacyRsaKey).
const LEGACY_REFUSAL: &str = "RSA key of 1024 bits is below 2048";

/// A js-libp2p node whose identity is a 1024-bit RSA key listens: `p2psec dial` refuses
/// it with the named error, then connects, pings and echoes with `--legacy-rsa-1024`.
fn legacy_rsa_js_listens_p2psec_dials(security: &str) {
    install_js_peer();
    let js = Listener::spawn(
        &format!("js listener ({security}, RSA-1024)"),
        node_peer(&["listen", "--security", security, "--rsa-bits", "1024"]),
    );
    assert!(
        js.peer_id().starts_with("Qm"),
        "an RSA PeerId hashes its key: {}",
        js.peer_id()
    );
    let name = format!("p2psec dial ({security}) to an RSA-1024 js node, not allowed");
    let (ok, stdout, stderr) = run_to_end(
        &name,
        p2psec(&["dial", &js.addr, "--security", security, "--json"]),
    );
    assert!(!ok, "{name}: connected\n{stdout}");
    assert!(
        stderr.contains(LEGACY_REFUSAL),
        "{name}: stderr was\n{stderr}"
    );
    // js-libp2p limits inbound connections per second from one address
    thread::sleep(Duration::from_millis(500));
    let (pings, echo) = (PINGS.to_string(), ECHO_BYTES.to_string());
    let name = format!("p2psec dial ({security}) to an RSA-1024 js node, allowed");
    let stdout = run_dialer(
        &name,
        p2psec(&[
            "dial",
            &js.addr,
            "--security",
            security,
            "--legacy-rsa-1024",
            "--ping",
            &pings,
            "--echo",
            &echo,
            "--json",
        ]),
    );
    check_dial_output(&name, &stdout, js.peer_id(), security_protocol(security));
}

/// A js-libp2p node whose identity is a 1024-bit RSA key dials `p2psec listen`: refused
/// without `--legacy-rsa-1024` (the js dial fails), served with it.
fn legacy_rsa_p2psec_listens_js_dials(security: &str) {
    install_js_peer();
    let (pings, echo) = (PINGS.to_string(), ECHO_BYTES.to_string());
    let js_dial = |addr: &str| {
        node_peer(&[
            "dial",
            addr,
            "--security",
            security,
            "--rsa-bits",
            "1024",
            "--ping",
            &pings,
            "--echo",
            &echo,
            "--timeout",
            "20",
        ])
    };
    let strict = Listener::spawn(
        &format!("p2psec listener ({security})"),
        p2psec(&["listen", "--security", security, "--muxer", "yamux"]),
    );
    let name = format!("RSA-1024 js dial ({security}) to p2psec, not allowed");
    let (ok, stdout, _) = run_to_end(&name, js_dial(&strict.addr));
    assert!(!ok, "{name}: connected\n{stdout}");
    drop(strict);
    let allowing = Listener::spawn(
        &format!("p2psec listener ({security}, legacy RSA allowed)"),
        p2psec(&[
            "listen",
            "--security",
            security,
            "--muxer",
            "yamux",
            "--legacy-rsa-1024",
        ]),
    );
    let name = format!("RSA-1024 js dial ({security}) to p2psec, allowed");
    let stdout = run_dialer(&name, js_dial(&allowing.addr));
    check_dial_output(
        &name,
        &stdout,
        allowing.peer_id(),
        security_protocol(security),
    );
}

#[test]
fn noise_legacy_rsa_js_listens_p2psec_dials() {
    legacy_rsa_js_listens_p2psec_dials("noise");
}

#[test]
fn tls_legacy_rsa_js_listens_p2psec_dials() {
    legacy_rsa_js_listens_p2psec_dials("tls");
}

#[test]
fn noise_legacy_rsa_p2psec_listens_js_dials() {
    legacy_rsa_p2psec_listens_js_dials("noise");
}

#[test]
fn tls_legacy_rsa_p2psec_listens_js_dials() {
    legacy_rsa_p2psec_listens_js_dials("tls");
}

// ---- recording vectors/legacy-rsa/js-rsa1024.json ----

#[path = "common/legacy_rsa_vector.rs"]
mod legacy_rsa_vector;
#[path = "common/rng.rs"]
mod rng;

/// Writes `vectors/legacy-rsa/js-rsa1024.json` from a live RSA-1024 js-libp2p node:
/// `cargo test --features cli --test interop_js -- --ignored record_legacy_rsa_vectors`.
#[test]
#[ignore = "writes the recorded vectors; run by hand"]
fn record_legacy_rsa_vectors() {
    use legacy_rsa_vector::{File, Peer, TlsCertificate};
    install_js_peer();
    let time_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // one node for both: its identity is what is recorded
    let noise_js = Listener::spawn(
        "js listener (noise, RSA-1024)",
        node_peer(&["listen", "--security", "noise", "--rsa-bits", "1024"]),
    );
    let noise = record_noise_upgrade(&noise_js.addr, time_unix);
    let tls_js = Listener::spawn(
        "js listener (tls, RSA-1024)",
        node_peer(&["listen", "--security", "tls", "--rsa-bits", "1024"]),
    );
    let certificate = capture_tls_certificate(&tls_js.addr);
    let version = |package: &str| -> String {
        let path = js_dir()
            .join("node_modules")
            .join(package)
            .join("package.json");
        let text = std::fs::read_to_string(&path).expect("package.json");
        let json: Value = serde_json::from_str(&text).expect("package.json is JSON");
        json["version"].as_str().unwrap_or("?").to_owned()
    };
    // two nodes, two identities: `peer` is the Noise node's, `tls.peer_id` the other's
    let file = File {
        description: "A js-libp2p node with a 1024-bit RSA identity (vectors/legacy-rsa/README.md)"
            .into(),
        peer: Peer {
            implementation: format!(
                "js-libp2p {} (@libp2p/crypto {}, @libp2p/noise {}, @libp2p/tls {})",
                version("libp2p"),
                version("@libp2p/crypto"),
                version("@libp2p/noise"),
                version("@libp2p/tls")
            ),
            peer_id: noise_js.peer_id().to_owned(),
            rsa_bits: 1024,
        },
        noise,
        tls: TlsCertificate {
            peer_id: tls_js.peer_id().to_owned(),
            time_unix,
            certificate_der_hex: hex(&certificate),
        },
    };
    let text = serde_json::to_string_pretty(&file).expect("json") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(legacy_rsa_vector::PATH);
    std::fs::write(&path, text).expect("write the vector file");
    eprintln!("wrote {}", legacy_rsa_vector::PATH);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn socket_of(addr: &str) -> std::net::SocketAddr {
    let port: u16 = addr
        .split('/')
        .nth(4)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no TCP port in {addr}"));
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// Dials `addr` with a seeded `upgrade::Dialer` (legacy RSA allowed) over blocking TCP,
/// recording our bytes and the node's bytes the upgrade consumed.
fn record_noise_upgrade(addr: &str, time_unix: u64) -> legacy_rsa_vector::NoiseUpgrade {
    use p2psec::identity::{KeyPolicy, KeyType, Keypair};
    use p2psec::upgrade::{Config, Dialer, SecurityProtocol};
    use std::io::Write;
    let (identity_seed, config_seed) = (71, 72);
    let dialer_seed = [0x5au8; 32];
    let identity =
        Keypair::generate(KeyType::Ed25519, &mut rng::TestRng(identity_seed)).expect("key");
    let config = Config::new(&identity, time_unix, &mut rng::TestRng(config_seed))
        .expect("config")
        .with_security([SecurityProtocol::Noise])
        .expect("security")
        .with_key_policy(KeyPolicy::allowing_legacy_rsa_1024());
    let expected = peer_id_of(addr).parse().expect("PeerId");
    let mut dialer = Dialer::with_seed(
        &config,
        Some(expected),
        time_unix,
        zeroize::Zeroizing::new(dialer_seed),
    )
    .expect("dialer");
    let mut tcp = std::net::TcpStream::connect(socket_of(addr)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (mut ours, mut theirs, mut inbox) = (Vec::new(), Vec::new(), Vec::new());
    let mut buf = [0u8; 4096];
    while !dialer.is_complete() {
        let mut out = Vec::new();
        let _ = dialer.poll_transmit(&mut out);
        if !out.is_empty() {
            tcp.write_all(&out).expect("write");
            ours.extend_from_slice(&out);
            continue;
        }
        let n = tcp.read(&mut buf).expect("read");
        assert!(n > 0, "the node closed the connection");
        inbox.extend_from_slice(&buf[..n]);
        let used = dialer.handle_input(&inbox).expect("the upgrade failed");
        theirs.extend_from_slice(&inbox[..used]);
        inbox.drain(..used);
    }
    let mut out = Vec::new();
    let _ = dialer.poll_transmit(&mut out);
    tcp.write_all(&out).expect("write");
    ours.extend_from_slice(&out);
    let upgraded = dialer.into_upgraded().expect("upgraded");
    legacy_rsa_vector::NoiseUpgrade {
        time_unix,
        identity_seed,
        config_seed,
        dialer_seed_hex: hex(&dialer_seed),
        ours_hex: hex(&ours),
        theirs_hex: hex(&theirs),
        muxer: upgraded.muxer,
    }
}

/// The node's certificate from its TLS server flight: multistream-select `/tls/1.0.0`
/// by hand, then a rustls client whose verifier keeps the certificate and refuses it
/// (the handshake goes no further).
fn capture_tls_certificate(addr: &str) -> Vec<u8> {
    use futures_rustls::rustls;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Debug)]
    struct Capture(Mutex<Option<Vec<u8>>>);
    impl ServerCertVerifier for Capture {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            *self.0.lock().unwrap() = Some(end_entity.to_vec());
            Err(rustls::Error::General("captured".into()))
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Err(rustls::Error::General("TLS 1.2".into()))
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Err(rustls::Error::General("not reached".into()))
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    let mut tcp = std::net::TcpStream::connect(socket_of(addr)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let line = |text: &str| {
        let mut m = vec![text.len() as u8 + 1];
        m.extend_from_slice(text.as_bytes());
        m.push(b'\n');
        m
    };
    let mut hello = line("/multistream/1.0.0");
    hello.extend(line("/tls/1.0.0"));
    tcp.write_all(&hello).expect("write");
    let mut answer = vec![0u8; hello.len()];
    tcp.read_exact(&mut answer)
        .expect("the node's multistream answer");
    assert_eq!(answer, hello, "the node did not agree on /tls/1.0.0");

    let capture = Arc::new(Capture(Mutex::new(None)));
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("TLS 1.3")
    .dangerous()
    .with_custom_certificate_verifier(capture.clone())
    .with_no_client_auth();
    config.alpn_protocols = vec![b"libp2p".to_vec()];
    let name = ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let _ = client.complete_io(&mut tcp);
    let der = capture.0.lock().unwrap().take();
    der.expect("the node's server flight carried no certificate")
}
