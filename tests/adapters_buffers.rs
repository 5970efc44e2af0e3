//! What an upgraded connection keeps allocated: the adapters' buffers grow while data is
//! in flight and are given back once the connection is idle, so an idle connection holds
//! no buffer at all (`buffered_capacity() == 0`); and a peer that announces a long frame
//! and sends a little of it gets room for what it sent, not for what it announced.
//!
//! The peer is the blocking adapter in a thread, over loopback TCP; the side under test is
//! each adapter in turn, with Noise and with TLS. Every test is bounded by [`LIMIT`].
#![cfg(all(
    feature = "tokio",
    feature = "async-std",
    feature = "noise",
    feature = "tls"
))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p2psec::adapters::{blocking, futures as fio, tokio as tio};
use p2psec::identity::{KeyType, Keypair};
use p2psec::upgrade::{Config, SecurityProtocol};

const BOTH: [SecurityProtocol; 2] = [SecurityProtocol::Noise, SecurityProtocol::Tls];
/// The burst, each way.
const BURST: usize = 4 << 20;
/// Bytes per write and per read.
const PIECE: usize = 64 << 10;
const HANDSHAKE: Duration = Duration::from_secs(5);
/// A read given this long with nothing to read finds the connection idle.
const QUIET: Duration = Duration::from_millis(200);
const LIMIT: Duration = Duration::from_secs(30);
/// The most the burst may have allocated at once on one side (a frame partly received,
/// the plaintext of one read's frames, one write's ciphertext): well under 4 MiB.
const PEAK_BOUND: usize = 512 << 10;

fn config(security: SecurityProtocol) -> Config {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let identity = Keypair::generate(KeyType::Ed25519, &mut rng).expect("identity");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    Config::new(&identity, now, &mut rng)
        .expect("config")
        .with_security([security])
        .expect("security")
}

/// The peer: accepts one connection with the blocking adapter, sends `BURST` bytes, reads
/// `BURST` bytes back, then holds the connection until `done` says so.
fn burst_peer(security: SecurityProtocol) -> (std::net::SocketAddr, Config, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cfg = config(security);
    let (done, wait) = mpsc::channel::<()>();
    let peer_cfg = cfg.clone();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let mut s = blocking::accept(tcp, &peer_cfg, HANDSHAKE).expect("peer upgrade");
        let piece = vec![0x5a; PIECE];
        for _ in 0..BURST / PIECE {
            s.write_all(&piece).expect("peer write");
        }
        s.flush().expect("peer flush");
        let mut buf = vec![0; PIECE];
        let mut got = 0;
        while got < BURST {
            let n = s.read(&mut buf).expect("peer read");
            assert!(n > 0, "the side under test ended early");
            got += n;
        }
        let _ = wait.recv_timeout(LIMIT);
    });
    (addr, cfg, done)
}

/// Runs `f` on a thread and fails the test if it takes longer than [`LIMIT`].
fn within(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(()) => t.join().expect("test thread"),
        Err(_) => match t.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("the test did not finish within {LIMIT:?}"),
        },
    }
}

/// What the side under test saw: the largest allocation during the burst in, after it
/// once idle, during the burst out, and after that once idle.
#[derive(Debug)]
struct Seen {
    peak_in: usize,
    idle_after_in: usize,
    peak_out: usize,
    idle_after_out: usize,
}

fn check(seen: &Seen, what: &str) {
    assert!(
        seen.peak_in > 0 && seen.peak_in <= PEAK_BOUND,
        "{what}: peak while receiving {} B (expected 1..={PEAK_BOUND})",
        seen.peak_in
    );
    assert!(
        seen.peak_out <= PEAK_BOUND,
        "{what}: peak while sending {} B",
        seen.peak_out
    );
    assert_eq!(seen.idle_after_in, 0, "{what}: held after the burst in");
    assert_eq!(seen.idle_after_out, 0, "{what}: held after the burst out");
}

#[test]
fn tokio_buffers_shrink_back_after_a_4mib_burst() {
    for security in BOTH {
        within(move || {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (addr, peer_cfg, done) = burst_peer(security);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let seen = rt.block_on(async {
                let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let cfg = config(security);
                let mut s = tio::dial(tcp, &cfg, Some(peer_cfg.local_peer_id()), HANDSHAKE)
                    .await
                    .expect("upgrade");
                let mut buf = vec![0; PIECE];
                let (mut got, mut peak_in) = (0, 0);
                while got < BURST {
                    got += s.read(&mut buf).await.expect("read");
                    peak_in = peak_in.max(s.buffered_capacity());
                }
                // nothing more comes: the read waits, and the connection is idle
                let quiet = tokio::time::timeout(QUIET, s.read(&mut buf)).await;
                assert!(
                    quiet.is_err(),
                    "{security:?}: unexpected data after the burst"
                );
                let idle_after_in = s.buffered_capacity();
                let mut peak_out = 0;
                let piece = vec![0xa5; PIECE];
                for _ in 0..BURST / PIECE {
                    s.write_all(&piece).await.expect("write");
                    peak_out = peak_out.max(s.buffered_capacity());
                }
                s.flush().await.expect("flush");
                Seen {
                    peak_in,
                    idle_after_in,
                    peak_out,
                    idle_after_out: s.buffered_capacity(),
                }
            });
            check(&seen, &format!("tokio {security:?}"));
            let _ = done.send(());
        });
    }
}

#[test]
fn async_std_buffers_shrink_back_after_a_4mib_burst() {
    for security in BOTH {
        within(move || {
            use futures::{AsyncReadExt, AsyncWriteExt};
            let (addr, peer_cfg, done) = burst_peer(security);
            let seen = async_std::task::block_on(async {
                let tcp = async_std::net::TcpStream::connect(addr)
                    .await
                    .expect("connect");
                let cfg = config(security);
                let mut s = fio::dial(tcp, &cfg, Some(peer_cfg.local_peer_id()), HANDSHAKE)
                    .await
                    .expect("upgrade");
                let mut buf = vec![0; PIECE];
                let (mut got, mut peak_in) = (0, 0);
                while got < BURST {
                    got += s.read(&mut buf).await.expect("read");
                    peak_in = peak_in.max(s.buffered_capacity());
                }
                let quiet = async_std::future::timeout(QUIET, s.read(&mut buf)).await;
                assert!(
                    quiet.is_err(),
                    "{security:?}: unexpected data after the burst"
                );
                let idle_after_in = s.buffered_capacity();
                let mut peak_out = 0;
                let piece = vec![0xa5; PIECE];
                for _ in 0..BURST / PIECE {
                    s.write_all(&piece).await.expect("write");
                    peak_out = peak_out.max(s.buffered_capacity());
                }
                s.flush().await.expect("flush");
                Seen {
                    peak_in,
                    idle_after_in,
                    peak_out,
                    idle_after_out: s.buffered_capacity(),
                }
            });
            check(&seen, &format!("async-std {security:?}"));
            let _ = done.send(());
        });
    }
}

#[test]
fn blocking_buffers_shrink_back_after_a_4mib_burst() {
    for security in BOTH {
        within(move || {
            let (addr, peer_cfg, done) = burst_peer(security);
            let tcp = TcpStream::connect(addr).expect("connect");
            let cfg = config(security);
            let mut s = blocking::dial(tcp, &cfg, Some(peer_cfg.local_peer_id()), HANDSHAKE)
                .expect("upgrade");
            let mut buf = vec![0; PIECE];
            let (mut got, mut peak_in) = (0, 0);
            while got < BURST {
                got += s.read(&mut buf).expect("read");
                peak_in = peak_in.max(s.buffered_capacity());
            }
            // a read that times out: the adapter gave its buffers back before blocking
            s.get_ref().set_read_timeout(Some(QUIET)).expect("timeout");
            let quiet = s.read(&mut buf);
            assert!(
                quiet.is_err(),
                "{security:?}: unexpected data after the burst"
            );
            let idle_after_in = s.buffered_capacity();
            let mut peak_out = 0;
            let piece = vec![0xa5; PIECE];
            for _ in 0..BURST / PIECE {
                s.write_all(&piece).expect("write");
                peak_out = peak_out.max(s.buffered_capacity());
            }
            s.flush().expect("flush");
            let seen = Seen {
                peak_in,
                idle_after_in,
                peak_out,
                idle_after_out: s.buffered_capacity(),
            };
            check(&seen, &format!("blocking {security:?}"));
            let _ = done.send(());
        });
    }
}

/// The start of a frame (Noise) or record (TLS) whose header announces the longest
/// length, as the peer writes it beneath the channel.
fn long_frame_header(security: SecurityProtocol) -> Vec<u8> {
    match security {
        SecurityProtocol::Noise => vec![0xff, 0xff],
        // application data, legacy version 1.2, 16 KiB + 256 (the record limit)
        _ => vec![23, 3, 3, 0x41, 0x00],
    }
}

#[test]
fn a_partial_frame_holds_room_for_what_arrived_not_for_what_it_announced() {
    for security in BOTH {
        within(move || {
            use tokio::io::AsyncReadExt;
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            let peer_cfg = config(security);
            let expected = peer_cfg.local_peer_id();
            let (next, step) = mpsc::channel::<Vec<u8>>();
            thread::spawn(move || {
                let (tcp, _) = listener.accept().expect("accept");
                let s = blocking::accept(tcp, &peer_cfg, HANDSHAKE).expect("peer upgrade");
                // raw bytes beneath the channel: a frame that never completes
                let mut raw = s.get_ref();
                while let Ok(bytes) = step.recv_timeout(LIMIT) {
                    raw.write_all(&bytes).expect("raw write");
                }
            });
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let cfg = config(security);
                let mut s = tio::dial(tcp, &cfg, Some(expected), HANDSHAKE)
                    .await
                    .expect("upgrade");
                let mut buf = vec![0; PIECE];
                let mut arrived = 0;
                let mut first = long_frame_header(security);
                first.extend_from_slice(&[1; 100]);
                for bytes in [first, vec![2; 3000], vec![3; 9000]] {
                    arrived += bytes.len();
                    next.send(bytes).expect("peer");
                    let quiet = tokio::time::timeout(QUIET, s.read(&mut buf)).await;
                    assert!(
                        quiet.is_err(),
                        "{security:?}: a partial frame gave plaintext"
                    );
                    let held = s.buffered_capacity();
                    assert!(
                        held >= arrived && held <= 2 * arrived + 4096,
                        "{security:?}: {held} B held for a partial frame of {arrived} B"
                    );
                }
            });
        });
    }
}
