//! The `p2psec` binary as a user runs it: keygen, peer-id, demo, inspect-cert, `--json`,
//! errors, and `listen` against `dial` on the mplex muxer and muxer preference lists
//! (listen and dial against foreign peers: `interop_rust.rs`, `interop_js.rs`).
#![cfg(feature = "cli")]

use std::process::{Command, Output};

use serde_json::Value;

fn p2psec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p2psec"))
        .args(args)
        .output()
        .expect("run p2psec")
}

fn json_lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn keygen_then_peer_id_agree_for_every_key_type() {
    let dir = std::env::temp_dir().join(format!("p2psec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (ty, prefix) in [
        ("ed25519", "12D3KooW"),
        ("secp256k1", "16Uiu2HA"),
        ("ecdsa", "Qm"),
    ] {
        let file = dir.join(format!("{ty}.key"));
        let _ = std::fs::remove_file(&file);
        let made = json_lines(&p2psec(&[
            "keygen",
            "--type",
            ty,
            "--out",
            file.to_str().unwrap(),
            "--json",
        ]));
        let made = &made[0];
        assert_eq!(made["key_type"], ty);
        assert!(made["peer_id"].as_str().unwrap().starts_with(prefix));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "key file readable by others");
        }
        let shown = json_lines(&p2psec(&[
            "peer-id",
            "--key",
            file.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(shown[0]["peer_id"], made["peer_id"]);
        assert_eq!(shown[0]["peer_id_cid"], made["peer_id_cid"]);
        // the public key hex gives the same id too
        let by_hex = json_lines(&p2psec(&[
            "peer-id",
            made["public_key_hex"].as_str().unwrap(),
            "--json",
        ]));
        assert_eq!(by_hex[0]["peer_id"], made["peer_id"]);
        // never overwrite an existing key
        let again = p2psec(&["keygen", "--type", ty, "--out", file.to_str().unwrap()]);
        assert!(!again.status.success());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn peer_id_of_the_spec_vector() {
    let out = json_lines(&p2psec(&[
        "peer-id",
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        "--json",
    ]));
    assert_eq!(
        out[0]["peer_id"],
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
    );
    assert_eq!(
        out[0]["peer_id_cid"],
        "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"
    );
    assert_eq!(out[0]["key_type"], "ed25519");
}

#[test]
fn bad_input_fails_with_a_named_error_on_stderr() {
    for (args, needle) in [
        (vec!["peer-id", "zz"], "not hex"),
        (vec!["peer-id", "0809120100"], "unknown key type 9"),
        (
            vec!["peer-id", "08011201aa"],
            "Ed25519 public key has length 1",
        ),
    ] {
        let out = p2psec(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = p2psec(&["peer-id", "0809120100", "--json"]);
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(err["error"].as_str().unwrap().contains("unknown key type"));
}

#[test]
fn demo_upgrades_pings_and_echoes_for_every_security_protocol() {
    // 1 MiB keeps the debug-build test quick; the README's demo runs 64 MiB
    let records = json_lines(&p2psec(&["demo", "--json", "--echo-mib", "1"]));
    let security: Vec<_> = records.iter().map(|r| r["security"].clone()).collect();
    assert_eq!(security, ["/noise", "/tls/1.0.0"]);
    for r in &records {
        assert_eq!(r["muxer"], "/yamux/1.0.0");
        // optimistic negotiation, muxer inside the handshake: one round trip
        assert_eq!(r["round_trips"], 1, "{r}");
        assert_eq!(r["echo_bytes"], 1024 * 1024);
        assert_ne!(r["dialer"], r["listener"]);
        assert!(r["handshake_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn inspect_cert_checks_the_spec_vectors_in_der_and_pem() {
    let dir = std::env::temp_dir().join(format!("p2psec-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vector = |name: &str| {
        let hex =
            std::fs::read_to_string(format!("{}/vectors/tls/{name}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.trim().as_bytes())
            .unwrap()
    };
    let der = vector("cert-1-ed25519.der.hex.txt");
    let der_path = dir.join("c1.der");
    std::fs::write(&der_path, &der).unwrap();
    let pem_path = dir.join("c1.pem");
    let b64 = data_encoding::BASE64.encode(&der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    std::fs::write(
        &pem_path,
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    for path in [&der_path, &pem_path] {
        let out = json_lines(&p2psec(&["inspect-cert", path.to_str().unwrap(), "--json"]));
        assert_eq!(
            out[0]["peer_id"],
            "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv"
        );
        assert_eq!(out[0]["key_type"], "ed25519");
    }
    let bad = dir.join("c4.der");
    std::fs::write(&bad, vector("cert-4-invalid.der.hex.txt")).unwrap();
    let out = p2psec(&["inspect-cert", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("certificate rejected"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- listen and dial on mplex ----

/// A `p2psec listen` in the background (killed on drop), with its address and what it
/// printed on stderr.
struct Listening {
    child: std::process::Child,
    addr: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every wait on a spawned `p2psec` has this limit, so a hang fails the test.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

fn drain_stderr(
    mut from: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

fn listen(args: &[&str]) -> Listening {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_p2psec"))
        .arg("listen")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn p2psec listen");
    let stderr = drain_stderr(child.stderr.take().unwrap());
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // keep reading: a closed pipe would fail the listener's next line
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let mut listening = Listening {
        child,
        addr: String::new(),
        stderr,
    };
    let line = rx
        .recv_timeout(DEADLINE)
        .expect("no address from p2psec listen");
    assert!(
        line.starts_with("/ip4/127.0.0.1/tcp/"),
        "listen printed {line:?}; stderr: {}",
        listening.stderr.lock().unwrap()
    );
    listening.addr = line.trim().to_string();
    listening
}

/// Runs `p2psec dial ADDR ARGS --json` and returns its records (killed at the deadline).
fn dial(addr: &str, args: &[&str]) -> Vec<Value> {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_p2psec"))
        .arg("dial")
        .arg(addr)
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn p2psec dial");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait for dial").is_none() {
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("p2psec dial {args:?} did not finish in time");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    json_lines(&child.wait_with_output().expect("dial output"))
}

/// Checks a dial's records: connected over `muxer`, `pings` pings, the echo of `echo`.
fn assert_dialed(records: &[Value], security: &str, muxer: &str, pings: usize, echo: usize) {
    let connected = &records[0];
    assert_eq!(connected["event"], "connected", "{records:?}");
    assert_eq!(connected["security"], security, "{connected}");
    assert_eq!(connected["muxer"], muxer, "{connected}");
    let seqs: Vec<_> = records
        .iter()
        .filter(|r| r["event"] == "ping")
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=pings as u64).collect::<Vec<_>>(), "{records:?}");
    let echoed = records.iter().find(|r| r["event"] == "echo").expect("echo");
    assert_eq!(echoed["bytes"], echo);
    assert_eq!(echoed["ok"], true);
}

#[test]
fn listen_and_dial_ping_and_echo_over_mplex() {
    let listener = listen(&["--security", "noise", "--muxer", "mplex"]);
    let records = dial(
        &listener.addr,
        &[
            "--security",
            "noise",
            "--muxer",
            "mplex",
            "--ping",
            "3",
            "--echo",
            "1048576",
        ],
    );
    assert_dialed(&records, "/noise", "/mplex/6.7.0", 3, 1024 * 1024);
}

#[test]
fn the_default_muxer_list_reaches_an_mplex_only_listener() {
    // the dialer's default `yamux,mplex` against a listener with mplex alone: agreed
    // inside the handshake (Noise extensions, TLS ALPN) or by multistream-select after it
    let listener = listen(&["--security", "noise,tls", "--muxer", "/mplex/6.7.0"]);
    for (security, id, extra) in [
        ("noise", "/noise", None),
        ("noise", "/noise", Some("--no-early-muxer")),
        ("tls", "/tls/1.0.0", None),
    ] {
        let mut args = vec!["--security", security, "--ping", "1", "--echo", "100000"];
        args.extend(extra);
        let records = dial(&listener.addr, &args);
        assert_dialed(&records, id, "/mplex/6.7.0", 1, 100_000);
    }
    // and yamux stays first when both sides have both
    let both = listen(&["--security", "noise"]);
    let records = dial(&both.addr, &["--ping", "1", "--echo", "1000"]);
    assert_dialed(&records, "/noise", "/yamux/1.0.0", 1, 1000);
}

#[test]
fn unknown_or_repeated_muxers_are_refused() {
    for (list, needle) in [
        ("mplex,quic", "unsupported muxer \"quic\""),
        ("mplex,/mplex/6.7.0", "lists /mplex/6.7.0 twice"),
    ] {
        let out = p2psec(&["dial", "/ip4/127.0.0.1/tcp/1", "--muxer", list]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{list}: {err}");
    }
}

// ---- the listener's limits: --max-pending, --handshake-timeout, --idle-timeout ----

/// The TCP address of a listener's multiaddr.
fn socket_of(addr: &str) -> std::net::SocketAddr {
    let port = addr
        .split('/')
        .nth(4)
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no TCP port in {addr}"));
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether the listener's stderr says `needle` within a few seconds (it is read by a
/// thread of its own, so a line may lag the event).
fn says(listener: &Listening, needle: &str) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        if listener.stderr.lock().unwrap().contains(needle) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// How a raw TCP connection ends within `limit`: `Some(elapsed)` when the listener closed
/// it (end of stream or reset), `None` if it was still open. Bytes it sends are skipped.
fn closed_within(
    tcp: &mut std::net::TcpStream,
    limit: std::time::Duration,
) -> Option<std::time::Duration> {
    use std::io::Read;
    let start = std::time::Instant::now();
    let mut buf = [0u8; 256];
    while start.elapsed() < limit {
        let left = limit.saturating_sub(start.elapsed());
        tcp.set_read_timeout(Some(left.max(std::time::Duration::from_millis(1))))
            .expect("read timeout");
        match tcp.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[test]
fn max_pending_refuses_the_connection_above_the_cap_and_admits_again_when_one_finishes() {
    use std::net::TcpStream;
    use std::time::Duration;
    let listener = listen(&[
        "--security",
        "noise",
        "--max-pending",
        "2",
        "--handshake-timeout",
        "60",
    ]);
    let at = socket_of(&listener.addr);
    // two handshakes that never progress hold both places
    let mut first = TcpStream::connect(at).expect("connect");
    let mut second = TcpStream::connect(at).expect("connect");
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(at).expect("connect");
    assert!(
        closed_within(&mut third, Duration::from_secs(5)).is_some(),
        "the connection above --max-pending was not closed; stderr: {}",
        listener.stderr.lock().unwrap()
    );
    assert!(
        says(&listener, "--max-pending"),
        "{}",
        listener.stderr.lock().unwrap()
    );
    assert_eq!(
        closed_within(&mut first, Duration::from_millis(200)),
        None,
        "a pending one was cut"
    );
    assert_eq!(
        closed_within(&mut second, Duration::from_millis(200)),
        None,
        "a pending one was cut"
    );
    // one finishes (its peer hangs up): the next upgrade is admitted
    drop(first);
    let mut records = Vec::new();
    for _ in 0..25 {
        let out = Command::new(env!("CARGO_BIN_EXE_p2psec"))
            .args([
                "dial",
                &listener.addr,
                "--security",
                "noise",
                "--ping",
                "1",
                "--json",
            ])
            .output()
            .expect("run p2psec dial");
        if out.status.success() {
            records = json_lines(&out);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !records.is_empty(),
        "no dial was admitted after a place freed; stderr: {}",
        listener.stderr.lock().unwrap()
    );
    assert_eq!(records[0]["event"], "connected", "{records:?}");
    drop(second);
}

#[test]
fn a_stalled_handshake_is_cut_at_the_handshake_timeout() {
    use std::time::Duration;
    let listener = listen(&["--security", "noise", "--handshake-timeout", "1"]);
    let mut tcp = std::net::TcpStream::connect(socket_of(&listener.addr)).expect("connect");
    let cut = closed_within(&mut tcp, Duration::from_secs(20))
        .expect("the stalled handshake was never cut");
    assert!(
        cut >= Duration::from_millis(500),
        "cut after {cut:?}, before the deadline"
    );
    assert!(
        says(&listener, "deadline"),
        "{}",
        listener.stderr.lock().unwrap()
    );
}

#[test]
fn an_upgraded_connection_stalled_inside_a_frame_is_cut_at_the_idle_timeout() {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncReadExt;
    let listener = listen(&["--security", "noise", "--idle-timeout", "1"]);
    let at = socket_of(&listener.addr);
    let expected: p2psec::PeerId = listener
        .addr
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .expect("peer id");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut rng = p2psec::adapters::os_rng();
        let identity =
            p2psec::identity::Keypair::generate(p2psec::identity::KeyType::Ed25519, &mut rng)
                .expect("key");
        let config =
            p2psec::upgrade::Config::new(&identity, p2psec::adapters::unix_time_now(), &mut rng)
                .expect("config")
                .with_security([p2psec::upgrade::SecurityProtocol::Noise])
                .expect("security");
        let tcp = tokio::net::TcpStream::connect(at).await.expect("connect");
        let mut secured =
            p2psec::adapters::tokio::dial(tcp, &config, Some(expected), Duration::from_secs(10))
                .await
                .expect("upgrade");
        assert_eq!(
            secured.info().muxer.as_deref(),
            Some(p2psec::upgrade::YAMUX)
        );
        // beneath the channel: the start of a frame whose rest never comes
        let start = Instant::now();
        secured
            .get_ref()
            .try_write(&[0x00, 0x40, 1, 2, 3])
            .expect("raw write");
        let mut buf = [0u8; 64];
        let ended = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match secured.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        let cut = start.elapsed();
        assert!(ended.is_ok(), "the stalled connection was never cut");
        assert!(
            cut >= Duration::from_millis(500),
            "cut after {cut:?}, before the idle timeout"
        );
    });
    assert!(
        says(&listener, "--idle-timeout"),
        "{}",
        listener.stderr.lock().unwrap()
    );
}

#[test]
fn dial_as_listener_meets_listen_as_dialer() {
    // hole punching's role override on both ends: the side that opened the connection
    // runs the listener's upgrade, the side that accepted it the dialer's
    for security in ["noise", "tls"] {
        let listener = listen(&["--security", security, "--as-dialer"]);
        let records = dial(
            &listener.addr,
            &[
                "--security",
                security,
                "--as-listener",
                "--ping",
                "2",
                "--echo",
                "65536",
            ],
        );
        assert_dialed(
            &records,
            &format!(
                "/{}",
                if security == "tls" {
                    "tls/1.0.0"
                } else {
                    "noise"
                }
            ),
            "/yamux/1.0.0",
            2,
            65536,
        );
    }
    // a plain dialer against a listener that also runs the dialer's upgrade: both
    // propose, neither answers as listener; the deadline ends it with a named error
    let listener = listen(&[
        "--security",
        "noise",
        "--as-dialer",
        "--handshake-timeout",
        "2",
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_p2psec"))
        .args([
            "dial",
            &listener.addr,
            "--security",
            "noise",
            "--handshake-timeout",
            "2",
        ])
        .output()
        .expect("run p2psec dial");
    assert!(!out.status.success(), "two dialers agreed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("upgrade failed"), "{stderr}");
}
