//! Our TLS machines against rust-libp2p's `libp2p-tls` 0.7 over an in-memory duplex: both
//! roles, Ed25519 / Secp256k1 / ECDSA identities, more than 1 MiB each way after the
//! handshake (content checked), close_notify both ways, PeerIds checked on both sides, and
//! a wrong expected PeerId refused by whichever side is the client (ours with our named
//! error, theirs with rustls's).
//!
//! libp2p-tls checks certificate validity against the system clock, so our certificates
//! are made at the system time here.

#[path = "common/tls_pair.rs"]
mod tls_pair;

use std::{
    collections::VecDeque,
    future::Future,
    io,
    pin::{pin, Pin},
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
    time::{SystemTime, UNIX_EPOCH},
};

use futures::{
    executor::block_on,
    future::poll_fn,
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
};
use libp2p_core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};
use p2psec::identity::{KeyType, Keypair};
use p2psec::tls::{Error, Event, Server};
use p2psec::PeerId;
use tls_pair::{config, keypair, Peer, TestRng};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---- an in-memory duplex: their end is AsyncRead + AsyncWrite, ours is byte queues ----

#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
    /// How many bytes ever went through.
    total: usize,
}

type Shared = Arc<Mutex<Pipe>>;

fn push(pipe: &Shared, data: &[u8]) {
    let mut p = pipe.lock().unwrap();
    if data.is_empty() || p.closed {
        return;
    }
    p.bytes.extend(data);
    p.total += data.len();
    if let Some(w) = p.reader.take() {
        w.wake();
    }
}

fn close(pipe: &Shared) {
    let mut p = pipe.lock().unwrap();
    p.closed = true;
    if let Some(w) = p.reader.take() {
        w.wake();
    }
}

fn drain(pipe: &Shared) -> Vec<u8> {
    pipe.lock().unwrap().bytes.drain(..).collect()
}

fn state(pipe: &Shared) -> (usize, usize, bool) {
    let p = pipe.lock().unwrap();
    (p.total, p.bytes.len(), p.closed)
}

/// Their end of the duplex.
struct Endpoint {
    rx: Shared,
    tx: Shared,
}

impl AsyncRead for Endpoint {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.rx.lock().unwrap();
        if p.bytes.is_empty() {
            if p.closed {
                return Poll::Ready(Ok(0));
            }
            p.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(p.bytes.len());
        for (dst, src) in buf.iter_mut().zip(p.bytes.drain(..n)) {
            *dst = src;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Endpoint {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.tx.lock().unwrap().closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        push(&self.tx, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        close(&self.tx);
        Poll::Ready(Ok(()))
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        close(&self.tx);
    }
}

// ---- their side ----

#[derive(Debug)]
#[allow(dead_code)] // the fields are read through Debug in failure messages
enum TheirError {
    Upgrade(libp2p_tls::UpgradeError),
    Io(io::Error),
}

type TheirResult = Result<(libp2p_identity::PeerId, Vec<u8>), TheirError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

/// Their handshake in `role`, then `writes` (each flushed), exactly `expect_len` bytes
/// read, then their close_notify.
async fn their_side(
    config: libp2p_tls::Config,
    io: Endpoint,
    role: Role,
    writes: Vec<Vec<u8>>,
    expect_len: usize,
) -> TheirResult {
    let (peer, mut stream) = match role {
        Role::Client => config.upgrade_outbound(io, "/tls/1.0.0").await,
        Role::Server => config.upgrade_inbound(io, "/tls/1.0.0").await,
    }
    .map_err(TheirError::Upgrade)?;
    for w in writes {
        stream.write_all(&w).await.map_err(TheirError::Io)?;
        stream.flush().await.map_err(TheirError::Io)?;
    }
    let mut got = vec![0; expect_len];
    stream.read_exact(&mut got).await.map_err(TheirError::Io)?;
    stream.close().await.map_err(TheirError::Io)?;
    Ok((peer, got))
}

/// Runs our `peer` against their future until nothing moves any more.
fn run_mixed<F: Future<Output = TheirResult>>(
    peer: &mut Peer,
    theirs: impl FnOnce(Endpoint) -> F,
) -> Option<TheirResult> {
    let to_them: Shared = Arc::default();
    let to_us: Shared = Arc::default();
    let endpoint = Endpoint {
        rx: to_them.clone(),
        tx: to_us.clone(),
    };
    let mut fut = pin!(theirs(endpoint));
    let mut result = None;
    block_on(poll_fn(|cx| {
        for _ in 0..1_000_000 {
            let before = (state(&to_them), state(&to_us), result.is_some());
            if result.is_none() {
                if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                    result = Some(r);
                }
            }
            peer.input(&drain(&to_us));
            push(&to_them, &peer.output());
            // a driver closes the stream on an error, or once the peer went away
            if peer.summary.error.is_some() || state(&to_us).2 {
                close(&to_them);
            }
            if before == (state(&to_them), state(&to_us), result.is_some()) {
                return Poll::Ready(());
            }
        }
        panic!("the exchange never settled");
    }));
    result
}

// ---- identities ----

/// Their configuration for a key given as our protobuf encoding.
fn their_config(ours: &Keypair) -> (libp2p_identity::Keypair, libp2p_tls::Config) {
    let keypair = libp2p_identity::Keypair::from_protobuf_encoding(&ours.encode_protobuf())
        .expect("libp2p-identity decodes our key encoding");
    let config = libp2p_tls::Config::new(&keypair).unwrap();
    (keypair, config)
}

fn to_our_peer_id(id: &libp2p_identity::PeerId) -> PeerId {
    PeerId::try_from_bytes(&id.to_bytes()).unwrap()
}

fn seed(ty: KeyType) -> u64 {
    match ty {
        KeyType::Ed25519 => 10,
        KeyType::Secp256k1 => 20,
        _ => 30,
    }
}

/// Writes adding up to more than 1 MiB: empty, tiny, one record, one byte more, large.
fn writes(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = TestRng(seed);
    let mut out: Vec<Vec<u8>> = [0usize, 1, 100, 16_384, 16_385, 300_000]
        .iter()
        .map(|&n| rng.bytes(n))
        .collect();
    let mut total: usize = out.iter().map(Vec::len).sum();
    while total <= 1 << 20 {
        let n = 1 + rng.below(150_000) as usize;
        out.push(rng.bytes(n));
        total += n;
    }
    out
}

const KEY_TYPES: [KeyType; 3] = [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa];

fn full_exchange(ty: KeyType, our_role: Role) {
    let now = now();
    let ours = keypair(ty, seed(ty));
    let their_keys = keypair(ty, seed(ty) + 1);
    let (their_keypair, their_cfg) = their_config(&their_keys);
    assert_eq!(
        to_our_peer_id(&their_keypair.public().to_peer_id()),
        their_keys.peer_id()
    );
    let our_cfg = config(&ours, now, seed(ty) + 2, &["/yamux/1.0.0"]);
    let (ow, tw) = (writes(1), writes(2));
    let (ow_len, tw_all) = (ow.iter().map(Vec::len).sum::<usize>(), tw.concat());
    let mut peer = match our_role {
        Role::Client => Peer::client(&our_cfg, Some(their_keys.peer_id()), now),
        Role::Server => Peer::server(&our_cfg, now),
    }
    .with_writes(ow.clone(), true);
    let their_role = match our_role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let theirs = run_mixed(&mut peer, |io| {
        their_side(their_cfg, io, their_role, tw, ow_len)
    });

    // ours: identified them, no muxer (libp2p-tls offers only `libp2p`), all their bytes
    let s = &peer.summary;
    assert_eq!(s.error, None, "{ty:?} {our_role:?}");
    assert_eq!(
        s.events,
        vec![
            Event::RemoteIdentified {
                peer_id: their_keys.peer_id()
            },
            Event::Complete
        ]
    );
    assert_eq!(s.session, Some((their_keys.peer_id(), None)));
    assert_eq!(s.received.len(), tw_all.len());
    assert!(s.received == tw_all, "their bytes arrived altered");
    assert!(s.peer_closed, "their close_notify");
    assert!(s.closed);
    let session = peer.session().unwrap();
    assert_eq!(session.remote_public_key(), &their_keys.public());

    // theirs: identified us, got all our bytes
    let (their_view, got) = theirs
        .expect("their side finished")
        .unwrap_or_else(|e| panic!("{ty:?} {our_role:?}: {e:?}"));
    assert_eq!(to_our_peer_id(&their_view), ours.peer_id());
    assert!(got == ow.concat(), "our bytes arrived altered");
}

#[test]
fn ours_as_client_against_their_server() {
    for ty in KEY_TYPES {
        full_exchange(ty, Role::Client);
    }
}

#[test]
fn ours_as_server_against_their_client() {
    for ty in KEY_TYPES {
        full_exchange(ty, Role::Server);
    }
}

#[test]
fn our_client_refuses_their_server_under_a_wrong_peer_id() {
    let now = now();
    let ours = keypair(KeyType::Ed25519, 40);
    let their_keys = keypair(KeyType::Ed25519, 41);
    let wrong = keypair(KeyType::Ed25519, 42).peer_id();
    let (_, their_cfg) = their_config(&their_keys);
    let mut peer = Peer::client(&config(&ours, now, 43, &[]), Some(wrong), now);
    let theirs = run_mixed(&mut peer, |io| {
        their_side(their_cfg, io, Role::Server, Vec::new(), 0)
    });
    assert_eq!(
        peer.summary.error,
        Some(Error::UnexpectedPeer {
            expected: wrong,
            got: their_keys.peer_id()
        })
    );
    assert!(peer.summary.events.is_empty());
    // their server got our alert instead of our certificate
    let err = theirs.expect("their side finished").unwrap_err();
    assert!(
        matches!(
            &err,
            TheirError::Upgrade(libp2p_tls::UpgradeError::ServerUpgrade(_))
        ),
        "{err:?}"
    );
}

/// Their client (rustls with libp2p-tls's config) dialing our server, synchronously.
#[test]
fn their_client_refuses_our_server_under_a_wrong_peer_id() {
    let now = now();
    let ours = keypair(KeyType::Ed25519, 50);
    let their_keys = keypair(KeyType::Ed25519, 51);
    let (their_keypair, _) = their_config(&their_keys);
    let wrong =
        libp2p_identity::PeerId::from_bytes(&keypair(KeyType::Ed25519, 53).peer_id().to_bytes())
            .unwrap();
    let their_cfg = libp2p_tls::make_client_config(&their_keypair, Some(wrong)).unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
    let mut conn = rustls::ClientConnection::new(Arc::new(their_cfg), name).unwrap();
    let mut server = Server::new(&config(&ours, now, 52, &[]), now).unwrap();

    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let (mut theirs, mut ours_err) = (None, None);
    for _ in 0..20 {
        while conn.wants_write() {
            conn.write_tls(&mut to_server).unwrap();
        }
        if ours_err.is_none() {
            match server.handle_input(&to_server) {
                Ok(n) => {
                    to_server.drain(..n);
                }
                Err(e) => ours_err = Some(e),
            }
        }
        let _ = server.poll_transmit(&mut to_client);
        if theirs.is_none() && !to_client.is_empty() {
            let mut slice = &to_client[..];
            while !slice.is_empty() {
                conn.read_tls(&mut slice).unwrap();
            }
            to_client.clear();
            if let Err(e) = conn.process_new_packets() {
                theirs = Some(e);
            }
        }
    }
    assert_eq!(
        theirs,
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure
        ))
    );
    assert_eq!(
        ours_err,
        Some(Error::AlertReceived {
            description: "AccessDenied".into()
        })
    );
    assert!(!server.is_complete());
}

#[test]
fn their_client_with_the_right_peer_id_is_accepted() {
    let now = now();
    let ours = keypair(KeyType::Secp256k1, 60);
    let their_keys = keypair(KeyType::Ecdsa, 61);
    let (their_keypair, _) = their_config(&their_keys);
    let right = libp2p_identity::PeerId::from_bytes(&ours.peer_id().to_bytes()).unwrap();
    let their_cfg = libp2p_tls::make_client_config(&their_keypair, Some(right)).unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
    let mut conn = rustls::ClientConnection::new(Arc::new(their_cfg), name).unwrap();
    let mut server = Server::new(&config(&ours, now, 62, &["/yamux/1.0.0"]), now).unwrap();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        while conn.wants_write() {
            conn.write_tls(&mut to_server).unwrap();
        }
        let n = server.handle_input(&to_server).unwrap();
        to_server.drain(..n);
        let _ = server.poll_transmit(&mut to_client);
        let mut slice = &to_client[..];
        while !slice.is_empty() {
            conn.read_tls(&mut slice).unwrap();
        }
        to_client.clear();
        conn.process_new_packets().unwrap();
    }
    assert!(server.is_complete() && !conn.is_handshaking());
    assert_eq!(server.remote_peer_id(), Some(their_keys.peer_id()));
    assert_eq!(conn.alpn_protocol(), Some(&b"libp2p"[..]));
    let session = server.into_session().unwrap();
    assert_eq!(session.muxer(), None);
}
