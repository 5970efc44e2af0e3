//! The adapters' dial through a peer memory (`dial_with_memory`), over loopback TCP
//! against a p2psec listener: the re-dial proposes what the peer accepted (one round
//! trip, `ConnectionInfo::recalled`), and a stale memory (the peer refuses the remembered
//! security protocol) is forgotten and redialed once with the full lists, by the adapter
//! itself. Blocking and tokio; the futures adapter shares the same helpers.
#![cfg(all(feature = "tokio", feature = "noise", feature = "tls"))]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use p2psec::adapters::{blocking, tokio as tio, unix_time_now, ConnectionInfo};
use p2psec::identity::{KeyType, Keypair};
use p2psec::upgrade::{Config, MuxerSelection, PeerMemory, Remembered, SecurityProtocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NOISE: SecurityProtocol = SecurityProtocol::Noise;
const TLS: SecurityProtocol = SecurityProtocol::Tls;
const TIMEOUT: Duration = Duration::from_secs(10);

fn config(security: &[SecurityProtocol], early_muxer: bool) -> Config {
    let mut rng = p2psec::adapters::os_rng();
    let identity = Keypair::generate(KeyType::Ed25519, &mut rng).expect("identity");
    Config::new(&identity, unix_time_now(), &mut rng)
        .expect("config")
        .with_security(security.iter().copied())
        .expect("security")
        .with_muxers(["/yamux/1.0.0", "/mplex/6.7.0"])
        .expect("muxers")
        .with_early_muxer_negotiation(early_muxer)
}

/// A p2psec listener answering `n` connections (a failed upgrade is one of them): it
/// echoes the first 4 bytes of each upgraded one.
fn serve(config: Config, n: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = thread::spawn(move || {
        for _ in 0..n {
            let (tcp, _) = listener.accept().expect("accept");
            if let Ok(mut s) = blocking::accept(tcp, &config, TIMEOUT) {
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() {
                    let _ = s.write_all(&buf);
                }
            }
        }
    });
    (addr, task)
}

fn blocking_dial(
    addr: SocketAddr,
    config: &Config,
    listener: &Config,
    memory: &mut PeerMemory,
    connects: &AtomicUsize,
) -> ConnectionInfo {
    let connect = || {
        connects.fetch_add(1, Ordering::SeqCst);
        TcpStream::connect(addr)
    };
    let mut s =
        blocking::dial_with_memory(connect, config, listener.local_peer_id(), memory, TIMEOUT)
            .expect("dial");
    s.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"ping");
    s.info().clone()
}

async fn tokio_dial(
    addr: SocketAddr,
    config: &Config,
    listener: &Config,
    memory: &mut PeerMemory,
    connects: Arc<AtomicUsize>,
) -> io::Result<ConnectionInfo> {
    let connect = || {
        connects.fetch_add(1, Ordering::SeqCst);
        tokio::net::TcpStream::connect(addr)
    };
    let mut s =
        tio::dial_with_memory(connect, config, listener.local_peer_id(), memory, TIMEOUT).await?;
    s.write_all(b"ping").await?;
    s.flush().await?;
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    Ok(s.info().clone())
}

/// The CLI's lists against a peer without early muxer negotiation (as rust-libp2p):
/// first contact waits for the echoes, the re-dial takes one round trip.
#[test]
fn blocking_redial_takes_one_round_trip() {
    let listener = config(&[NOISE], false);
    let dialer = config(&[NOISE, TLS], false);
    let (addr, task) = serve(listener.clone(), 2);
    let mut memory = PeerMemory::default();
    let connects = AtomicUsize::new(0);
    let first = blocking_dial(addr, &dialer, &listener, &mut memory, &connects);
    let again = blocking_dial(addr, &dialer, &listener, &mut memory, &connects);
    task.join().expect("listener");
    assert!(!first.recalled && again.recalled, "{first:?} {again:?}");
    assert_eq!(again.round_trips, 1, "{again:?}");
    assert!(first.round_trips > again.round_trips, "{first:?}");
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert_eq!(
        memory.get(&listener.local_peer_id()).map(|r| r.security),
        Some(NOISE)
    );
    println!(
        "round trips: first contact {}, re-dial {}",
        first.round_trips, again.round_trips
    );
}

/// A stale memory (TLS remembered, the peer now speaks only Noise): the adapter forgets
/// it and redials once with the full lists, by itself.
#[test]
fn tokio_stale_memory_is_redialed_once() {
    let listener = config(&[NOISE], false);
    let dialer = config(&[NOISE, TLS], false);
    let (addr, task) = serve(listener.clone(), 2);
    let mut memory = PeerMemory::default();
    memory.insert(
        listener.local_peer_id(),
        Remembered {
            security: TLS,
            muxer: Some("/yamux/1.0.0".into()),
            muxer_selection: MuxerSelection::Multistream,
        },
    );
    let connects = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let info = runtime
        .block_on(tokio_dial(
            addr,
            &dialer,
            &listener,
            &mut memory,
            connects.clone(),
        ))
        .expect("the redial succeeds");
    task.join().expect("listener");
    assert_eq!(connects.load(Ordering::SeqCst), 2, "one redial");
    assert!(!info.recalled);
    assert_eq!(info.security, NOISE);
    assert_eq!(
        memory.get(&listener.local_peer_id()).map(|r| r.security),
        Some(NOISE)
    );
}
