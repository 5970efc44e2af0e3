//! Full connection upgrades over loopback TCP, side by side in one run on one core: p2psec's
//! tokio adapter against rust-libp2p's upgrade path, for Noise and TLS (Ed25519 identities).
//!
//! Runtime: one tokio `current_thread` runtime; dialer and listener of each upgrade run
//! concurrently in it (`join`), so both sides share one core, as the other benches run "on
//! one core".
//!
//! One upgrade, on each stack, is the same four steps, and counts as done when both sides
//! returned:
//! 1. TCP connect on 127.0.0.1 and accept (`TCP_NODELAY` on, as rust-libp2p's TCP default);
//! 2. security protocol negotiation by multistream-select, the dialer optimistic (`V1Lazy`,
//!    a single protocol offered);
//! 3. the Noise XX or TLS 1.3 handshake, identities proven (configs made once per side:
//!    static key, certificate cached, as a running node does);
//! 4. yamux agreed.
//!
//! - p2psec: `tokio::net::TcpStream` connect / `TcpListener` accept, then
//!   `adapters::tokio::{dial, accept}` with `upgrade::Config::new` defaults (optimistic
//!   negotiation on, early muxer negotiation on: yamux agreed inside the handshake, the
//!   Noise extension or TLS ALPN), the dialer checking the listener's PeerId, each side with
//!   the adapter's handshake deadline.
//! - rust-libp2p: what `SwarmBuilder::with_tcp` builds, `libp2p::tcp::tokio::Transport`
//!   `.upgrade(Version::V1Lazy).authenticate(noise or tls).multiplex(yamux)`, one transport
//!   dialing and one listening. rust-libp2p has no early muxer negotiation: yamux is agreed
//!   by a multistream-select round over the secured channel (the dialer lazy: its proposal
//!   waits in a buffer until the muxer first flushes, so the dialer's muxer is polled, as
//!   the connection task would, until the listener has agreed). Each side runs under a
//!   `tokio::time::timeout` of the same length as p2psec's deadline, so both stacks carry a
//!   deadline timer and a hang fails loudly. libp2p-tls keeps rustls' session defaults, so
//!   its server also sends two session tickets per connection (p2psec disables
//!   resumption): part of its cost as shipped.
//!
//! A bare TCP connect + accept is timed alongside for reference: it is step 1 alone.
//!
//! Heap per established connection: the heap bytes still held after `n` upgrades whose
//! both ends are kept alive, over `n`, plus the two ends' own size (a node keeps them in
//! heap memory too), less the same figure for bare tokio TCP socket pairs (the socket and
//! its registration, which every stack pays), halved: what one node holds for one
//! connection ("per side"), idle right after the upgrade. rust-libp2p's figures for
//! comparison: its secured stream alone (multistream-select + `upgrade_outbound` /
//! `upgrade_inbound`, no muxer, like p2psec's stream) and its full upgrade output (which
//! includes the yamux connection).
//!
//! Two more rows run rust-libp2p's transport stack (the same `.upgrade(V1Lazy)
//! .authenticate(..).multiplex(yamux)`) with p2psec's security upgrade in it
//! (`p2psec::libp2p::{Noise, Tls}`, feature `libp2p`): what a rust-libp2p Swarm gains by
//! swapping in p2psec's security, `ratio swarm_upgrades_per_sec_p2psec_vs_stock V` (Noise;
//! `..._tls V` for TLS).
//!
//! Last lines: `ratio upgrades_per_sec_noise_vs_libp2p V`, `ratio
//! upgrades_per_sec_tls_vs_libp2p V` (p2psec's rate over rust-libp2p's, medians over rounds
//! of each round's ratio) and `bytes connection_heap V` (p2psec, per side, the larger of
//! Noise and TLS). Before them: throughput through the tokio adapter's stream over
//! loopback (64 KiB writes one way, the reader reading 64 KiB at a time) against
//! rust-libp2p's secured stream, `ratio adapter_throughput_{noise,tls}_vs_libp2p V`, and
//! `bytes buffered_after_burst V`: what a p2psec stream still holds allocated once the
//! transfers are over (its buffers are given back when idle). `P2PSEC_BENCH_QUICK=1`
//! gives a short run (under a minute).

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use libp2p::core::muxing::{StreamMuxerBox, StreamMuxerExt};
use libp2p::core::transport::{Boxed, DialOpts, ListenerId, PortUse, TransportEvent};
use libp2p::core::upgrade::{
    InboundConnectionUpgrade, Negotiated, OutboundConnectionUpgrade, UpgradeInfo, Version,
};
use libp2p::core::Endpoint;
use libp2p::{Multiaddr, Transport};
use p2psec::adapters::tokio::{accept, dial, SecureStream};
use p2psec::adapters::DEFAULT_HANDSHAKE_TIMEOUT;
use p2psec::identity::{KeyType, Keypair, PeerId};
use p2psec::upgrade::{Config, SecurityProtocol};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[path = "support/timing.rs"]
mod timing;

/// Not a CSPRNG: a fast deterministic source for the identities and configs (the adapters
/// draw the handshakes' ephemeral secrets from the OS, as rust-libp2p does).
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::TestRng as BenchRng;

const DEADLINE: Duration = DEFAULT_HANDSHAKE_TIMEOUT;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn loopback_listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("local addr");
    (l, addr)
}

// ---------------------------------------------------------------- bare TCP

/// Step 1 alone: connect and accept, Nagle off on both ends.
async fn tcp_pair(listener: &TcpListener, addr: SocketAddr) -> (TcpStream, TcpStream) {
    let (d, l) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (d, l) = (d.expect("connect"), l.expect("accept").0);
    d.set_nodelay(true).expect("nodelay");
    l.set_nodelay(true).expect("nodelay");
    (d, l)
}

// ---------------------------------------------------------------- p2psec

/// One protocol's p2psec endpoints: the dialer's config restricted to that protocol, the
/// listener's default config (it accepts either).
struct P2p {
    listener: TcpListener,
    addr: SocketAddr,
    dialer: Config,
    acceptor: Config,
    expected: PeerId,
}

type P2pConn = (SecureStream<TcpStream>, SecureStream<TcpStream>);

impl P2p {
    async fn new(dialer: &Config, acceptor: &Config, protocol: SecurityProtocol) -> Self {
        let (listener, addr) = loopback_listener().await;
        Self {
            listener,
            addr,
            dialer: dialer.clone().with_security([protocol]).expect("security"),
            acceptor: acceptor.clone(),
            expected: acceptor.local_peer_id(),
        }
    }

    async fn upgrade(&self) -> P2pConn {
        let d = async {
            let tcp = TcpStream::connect(self.addr).await.expect("connect");
            tcp.set_nodelay(true).expect("nodelay");
            dial(tcp, &self.dialer, Some(self.expected), DEADLINE)
                .await
                .expect("p2psec dial")
        };
        let l = async {
            let (tcp, _) = self.listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            accept(tcp, &self.acceptor, DEADLINE)
                .await
                .expect("p2psec accept")
        };
        tokio::join!(d, l)
    }
}

// ---------------------------------------------------------------- rust-libp2p

type LibPeerId = libp2p::PeerId;
type LibConn = (LibPeerId, StreamMuxerBox);
type LibTcp = libp2p::tcp::tokio::TcpStream;

/// One protocol's rust-libp2p endpoints: a dialing and a listening transport.
struct Lib {
    dialer: Boxed<LibConn>,
    listener: Boxed<LibConn>,
    addr: Multiaddr,
}

/// The transport `SwarmBuilder::with_tcp` builds, with rust-libp2p's TCP defaults.
fn libp2p_noise_transport(key: &libp2p::identity::Keypair) -> Boxed<LibConn> {
    libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default())
        .upgrade(Version::V1Lazy)
        .authenticate(libp2p::noise::Config::new(key).expect("noise config"))
        .multiplex(libp2p::yamux::Config::default())
        .boxed()
}

fn libp2p_tls_transport(key: &libp2p::identity::Keypair) -> Boxed<LibConn> {
    libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default())
        .upgrade(Version::V1Lazy)
        .authenticate(libp2p::tls::Config::new(key).expect("tls config"))
        .multiplex(libp2p::yamux::Config::default())
        .boxed()
}

/// The same transport with p2psec's security upgrade in it (`p2psec::libp2p`, what
/// `SwarmBuilder::with_tcp(.., p2psec::libp2p::Noise::new, ..)` builds).
fn swarm_p2psec_noise_transport(key: &libp2p::identity::Keypair) -> Boxed<LibConn> {
    libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default())
        .upgrade(Version::V1Lazy)
        .authenticate(p2psec::libp2p::Noise::new(key).expect("p2psec noise"))
        .multiplex(libp2p::yamux::Config::default())
        .boxed()
}

fn swarm_p2psec_tls_transport(key: &libp2p::identity::Keypair) -> Boxed<LibConn> {
    libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default())
        .upgrade(Version::V1Lazy)
        .authenticate(p2psec::libp2p::Tls::new(key).expect("p2psec tls"))
        .multiplex(libp2p::yamux::Config::default())
        .boxed()
}

impl Lib {
    async fn new(dialer: Boxed<LibConn>, mut listener: Boxed<LibConn>) -> Self {
        let on: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr");
        listener
            .listen_on(ListenerId::next(), on)
            .expect("listen_on");
        let addr = loop {
            if let TransportEvent::NewAddress { listen_addr, .. } =
                listener.select_next_some().await
            {
                break listen_addr;
            }
        };
        Self {
            dialer,
            listener,
            addr,
        }
    }

    async fn upgrade(&mut self) -> (LibConn, LibConn) {
        let opts = DialOpts {
            role: Endpoint::Dialer,
            port_use: PortUse::New,
        };
        let dial = self.dialer.dial(self.addr.clone(), opts).expect("dial");
        let mut dial = pin!(tokio::time::timeout(DEADLINE, dial));
        let listener = &mut self.listener;
        let mut accept = pin!(tokio::time::timeout(DEADLINE, async move {
            loop {
                if let TransportEvent::Incoming { upgrade, .. } = listener.select_next_some().await
                {
                    return upgrade.await;
                }
            }
        }));
        let (mut dialed, mut accepted): (Option<LibConn>, Option<LibConn>) = (None, None);
        poll_fn(|cx| {
            if dialed.is_none() {
                if let Poll::Ready(r) = dial.as_mut().poll(cx) {
                    dialed = Some(r.expect("libp2p dial deadline").expect("libp2p dial"));
                }
            }
            if accepted.is_none() {
                if let Poll::Ready(r) = accept.as_mut().poll(cx) {
                    accepted = Some(r.expect("libp2p accept deadline").expect("libp2p accept"));
                }
            }
            match (&mut dialed, &accepted) {
                (Some(_), Some(_)) => Poll::Ready(()),
                (Some((_, muxer)), None) => {
                    // the connection task's poll: flushes the lazy muxer proposal
                    let _ = muxer.poll_unpin(cx);
                    Poll::Pending
                }
                _ => Poll::Pending,
            }
        })
        .await;
        (dialed.expect("dialed"), accepted.expect("accepted"))
    }
}

/// rust-libp2p's secured stream alone (no muxer), for the heap comparison: the same
/// multistream-select and security upgrade its transport runs, over tokio sockets.
async fn libp2p_secured<U, D, E>(
    listener: &TcpListener,
    addr: SocketAddr,
    dialer: &U,
    acceptor: &U,
) -> (D, D)
where
    U: UpgradeInfo<Info = &'static str>
        + OutboundConnectionUpgrade<Negotiated<LibTcp>, Output = (LibPeerId, D), Error = E>
        + InboundConnectionUpgrade<Negotiated<LibTcp>, Output = (LibPeerId, D), Error = E>
        + Clone,
    E: std::fmt::Debug,
{
    let protocols: Vec<&'static str> = dialer.protocol_info().into_iter().collect();
    let (d, l) = tcp_pair(listener, addr).await;
    let d = async {
        let (p, io) = multistream_select::dialer_select_proto(
            libp2p::tcp::tokio::TcpStream(d),
            protocols.clone(),
            Version::V1Lazy,
        )
        .await
        .expect("libp2p dialer select");
        dialer
            .clone()
            .upgrade_outbound(io, p)
            .await
            .expect("libp2p outbound")
            .1
    };
    let l = async {
        let (p, io) = multistream_select::listener_select_proto(
            libp2p::tcp::tokio::TcpStream(l),
            protocols.clone(),
        )
        .await
        .expect("libp2p listener select");
        acceptor
            .clone()
            .upgrade_inbound(io, p)
            .await
            .expect("libp2p inbound")
            .1
    };
    tokio::join!(d, l)
}

// ---------------------------------------------------------------- heap

fn held(region: &Region<std::alloc::System>) -> f64 {
    let c = region.change();
    c.bytes_allocated as f64 - c.bytes_deallocated as f64
}

/// Lets the runtime's driver turn, so registrations of dropped sockets are released now
/// rather than inside a measurement.
fn settle(rt: &Runtime) {
    for _ in 0..4 {
        rt.block_on(tokio::task::yield_now());
    }
}

/// Connections made and dropped before a heap measurement: enough to fill the bounded
/// caches a config keeps across connections (rustls' 256-entry session stores, which
/// libp2p-tls's configs use: each connection adds two tickets), so only what one connection
/// holds is counted.
const HEAP_WARMUP: usize = 160;

/// Bytes held per value `make` returns, with `n` of them alive (after a warm-up): the heap
/// it still holds plus its own size (a node keeps its connections in heap memory too:
/// tasks, tables).
fn heap_per<T>(rt: &Runtime, n: usize, mut make: impl FnMut() -> T) -> f64 {
    for _ in 0..HEAP_WARMUP {
        drop(make());
    }
    settle(rt);
    let mut alive: Vec<T> = Vec::with_capacity(n);
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        alive.push(make());
    }
    let bytes = held(&region) / n as f64 + std::mem::size_of::<T>() as f64;
    drop(alive);
    settle(rt);
    bytes
}

// ---------------------------------------------------------------- throughput

/// Bytes per write and per read of the throughput runs: what a muxer hands a stream.
const CHUNK: usize = 64 * 1024;

/// Sends `total` bytes from `tx` to `rx` (tokio streams: p2psec's), both driven at once;
/// returns the seconds taken.
async fn p2p_transfer(
    tx: &mut SecureStream<TcpStream>,
    rx: &mut SecureStream<TcpStream>,
    total: usize,
) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = vec![7u8; CHUNK];
    let start = std::time::Instant::now();
    let send = async {
        let mut sent = 0;
        while sent < total {
            tx.write_all(&data).await.expect("p2psec write");
            sent += CHUNK;
        }
        tx.flush().await.expect("p2psec flush");
    };
    let receive = async {
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        while got < total {
            got += rx.read(&mut buf).await.expect("p2psec read");
        }
    };
    tokio::join!(send, receive);
    start.elapsed().as_secs_f64()
}

/// The same over rust-libp2p's secured streams (futures-io).
async fn lib_transfer<D>(tx: &mut D, rx: &mut D, total: usize) -> f64
where
    D: futures::AsyncRead + futures::AsyncWrite + Unpin,
{
    use futures::{AsyncReadExt, AsyncWriteExt};
    let data = vec![7u8; CHUNK];
    let start = std::time::Instant::now();
    let send = async {
        let mut sent = 0;
        while sent < total {
            tx.write_all(&data).await.expect("libp2p write");
            sent += CHUNK;
        }
        tx.flush().await.expect("libp2p flush");
    };
    let receive = async {
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        while got < total {
            got += rx.read(&mut buf).await.expect("libp2p read");
        }
    };
    futures::join!(send, receive);
    start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------- main

const NAMES: [&str; 7] = [
    "p2psec       noise",
    "rust-libp2p  noise",
    "p2psec       tls",
    "rust-libp2p  tls",
    "tcp connect+accept only",
    "libp2p stack, p2psec noise",
    "libp2p stack, p2psec tls",
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn libp2p_key(ours: &Keypair) -> libp2p::identity::Keypair {
    libp2p::identity::Keypair::from_protobuf_encoding(&ours.encode_protobuf()).expect("libp2p key")
}

fn main() {
    let quick = timing::quick();
    let (rounds, samples, iters) = if quick { (3, 9, 20) } else { (7, 11, 40) };
    let heap_n = if quick { 32 } else { 64 };
    println!(
        "== Upgrade benchmark, loopback TCP, tokio current_thread ({} run: {rounds} rounds of {samples} samples of {iters} upgrades)",
        if quick { "quick" } else { "full" }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = now();
    let mut rng = BenchRng(1);
    let dial_id = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let listen_id = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    // once per side, as a node does: the static key and the certificate are made here
    let dial_cfg = Config::new(&dial_id, now, &mut rng).expect("config");
    let listen_cfg = Config::new(&listen_id, now, &mut rng).expect("config");
    let (ldk, llk) = (libp2p_key(&dial_id), libp2p_key(&listen_id));

    let (p_noise, p_tls, mut l_noise, mut l_tls, (bare, bare_addr)) = rt.block_on(async {
        (
            P2p::new(&dial_cfg, &listen_cfg, SecurityProtocol::Noise).await,
            P2p::new(&dial_cfg, &listen_cfg, SecurityProtocol::Tls).await,
            Lib::new(libp2p_noise_transport(&ldk), libp2p_noise_transport(&llk)).await,
            Lib::new(libp2p_tls_transport(&ldk), libp2p_tls_transport(&llk)).await,
            loopback_listener().await,
        )
    });
    let (mut s_noise, mut s_tls) = rt.block_on(async {
        (
            Lib::new(
                swarm_p2psec_noise_transport(&ldk),
                swarm_p2psec_noise_transport(&llk),
            )
            .await,
            Lib::new(
                swarm_p2psec_tls_transport(&ldk),
                swarm_p2psec_tls_transport(&llk),
            )
            .await,
        )
    });

    // what each stack agreed, checked once
    for p in [&p_noise, &p_tls] {
        let (d, l) = rt.block_on(p.upgrade());
        let (di, li) = (d.info(), l.info());
        assert_eq!(di.remote_peer_id, listen_cfg.local_peer_id());
        assert_eq!(li.remote_peer_id, dial_cfg.local_peer_id());
        assert_eq!(di.muxer.as_deref(), Some(p2psec::upgrade::YAMUX));
        assert_eq!(li.muxer, di.muxer);
        println!(
            "p2psec {:<11} muxer {} ({:?}), round trips waited: dialer {}, listener {}",
            di.security.protocol_id(),
            di.muxer.as_deref().unwrap_or("none"),
            di.muxer_selection,
            di.round_trips,
            li.round_trips
        );
    }
    for (name, l) in [
        ("/noise", &mut l_noise),
        ("/tls/1.0.0", &mut l_tls),
        ("/noise (p2psec's upgrade)", &mut s_noise),
        ("/tls/1.0.0 (p2psec's upgrade)", &mut s_tls),
    ] {
        let ((dp, _), (lp, _)) = rt.block_on(l.upgrade());
        assert_eq!(dp, llk.public().to_peer_id());
        assert_eq!(lp, ldk.public().to_peer_id());
        println!("rust-libp2p {name:<11} muxer /yamux/1.0.0 (multistream-select over the secured channel, V1Lazy)");
    }

    let mut all: Vec<Vec<f64>> = Vec::new();
    for _ in 0..rounds {
        all.push(timing::per_call(
            samples,
            iters,
            &mut [
                &mut || {
                    black_box(rt.block_on(p_noise.upgrade()));
                },
                &mut || {
                    black_box(rt.block_on(l_noise.upgrade()));
                },
                &mut || {
                    black_box(rt.block_on(p_tls.upgrade()));
                },
                &mut || {
                    black_box(rt.block_on(l_tls.upgrade()));
                },
                &mut || {
                    black_box(rt.block_on(tcp_pair(&bare, bare_addr)));
                },
                &mut || {
                    black_box(rt.block_on(s_noise.upgrade()));
                },
                &mut || {
                    black_box(rt.block_on(s_tls.upgrade()));
                },
            ],
        ));
    }
    let med = |f: &dyn Fn(&[f64]) -> f64| median(all.iter().map(|r| f(r)).collect());
    println!();
    println!(
        "{:<26} {:>12} {:>14}",
        "stack / protocol", "upgrades/s", "us per upgrade"
    );
    for (i, name) in NAMES.iter().enumerate() {
        let ns = med(&|r| r[i]);
        println!("{name:<26} {:>12.0} {:>14.1}", 1e9 / ns, ns / 1e3);
    }
    let noise_ratio = med(&|r| r[1] / r[0]);
    let tls_ratio = med(&|r| r[3] / r[2]);
    // rust-libp2p's stack with p2psec's upgrade against the same stack with its own
    let swarm_noise_ratio = med(&|r| r[1] / r[5]);
    let swarm_tls_ratio = med(&|r| r[3] / r[6]);

    // heap: both ends of `heap_n` connections alive at once
    let sock = heap_per(&rt, heap_n, || rt.block_on(tcp_pair(&bare, bare_addr)));
    let per_side = |conn: f64| (conn - sock) / 2.0;
    let p_noise_heap = per_side(heap_per(&rt, heap_n, || rt.block_on(p_noise.upgrade())));
    let p_tls_heap = per_side(heap_per(&rt, heap_n, || rt.block_on(p_tls.upgrade())));
    let l_noise_full = per_side(heap_per(&rt, heap_n, || rt.block_on(l_noise.upgrade())));
    let l_tls_full = per_side(heap_per(&rt, heap_n, || rt.block_on(l_tls.upgrade())));
    let (ln_d, ln_l) = (
        libp2p::noise::Config::new(&ldk).expect("noise config"),
        libp2p::noise::Config::new(&llk).expect("noise config"),
    );
    let (lt_d, lt_l) = (
        libp2p::tls::Config::new(&ldk).expect("tls config"),
        libp2p::tls::Config::new(&llk).expect("tls config"),
    );
    let l_noise_sec = per_side(heap_per(&rt, heap_n, || {
        rt.block_on(libp2p_secured(&bare, bare_addr, &ln_d, &ln_l))
    }));
    let l_tls_sec = per_side(heap_per(&rt, heap_n, || {
        rt.block_on(libp2p_secured(&bare, bare_addr, &lt_d, &lt_l))
    }));
    println!();
    println!(
        "heap per established connection, per side (one node's share), {heap_n} connections alive, less a bare tokio TCP socket ({:.0} B per side):",
        sock / 2.0
    );
    println!("{:<26} {:>12} {:>12}", "", "noise", "tls");
    for (name, n, t) in [
        ("p2psec SecureStream", p_noise_heap, p_tls_heap),
        ("rust-libp2p secured only", l_noise_sec, l_tls_sec),
        ("rust-libp2p + yamux muxer", l_noise_full, l_tls_full),
    ] {
        println!("{name:<26} {n:>10.0} B {t:>10.0} B");
    }

    // throughput through the adapter over loopback, against rust-libp2p's secured stream
    // (both without a muxer), rounds interleaved; and what a burst leaves allocated
    let total = if quick { 16 << 20 } else { 64 << 20 };
    let mib = total as f64 / f64::from(1u32 << 20);
    let (mut pn, mut pt) = rt.block_on(async { (p_noise.upgrade().await, p_tls.upgrade().await) });
    let (mut ln, mut lt) = rt.block_on(async {
        (
            libp2p_secured(&bare, bare_addr, &ln_d, &ln_l).await,
            libp2p_secured(&bare, bare_addr, &lt_d, &lt_l).await,
        )
    });
    let mut runs: Vec<[f64; 4]> = Vec::new();
    for _ in 0..rounds {
        runs.push(rt.block_on(async {
            [
                mib / p2p_transfer(&mut pn.0, &mut pn.1, total).await,
                mib / lib_transfer(&mut ln.0, &mut ln.1, total).await,
                mib / p2p_transfer(&mut pt.0, &mut pt.1, total).await,
                mib / lib_transfer(&mut lt.0, &mut lt.1, total).await,
            ]
        }));
    }
    let rate = |i: usize| median(runs.iter().map(|r| r[i]).collect());
    let ratio = |a: usize, b: usize| median(runs.iter().map(|r| r[a] / r[b]).collect());
    println!();
    println!("throughput through the stream, loopback TCP, {mib:.0} MiB one way in 64 KiB writes, {rounds} rounds:");
    println!("{:<26} {:>12} {:>12}", "", "noise", "tls");
    println!(
        "{:<26} {:>8.0} MiB/s {:>6.0} MiB/s",
        "p2psec tokio adapter",
        rate(0),
        rate(2)
    );
    println!(
        "{:<26} {:>8.0} MiB/s {:>6.0} MiB/s",
        "rust-libp2p secured",
        rate(1),
        rate(3)
    );
    // a read that finds nothing: the stream is idle now (its buffers are given back then)
    let after = rt.block_on(async {
        use tokio::io::AsyncReadExt;
        let mut largest = 0;
        for s in [&mut pn.0, &mut pn.1, &mut pt.0, &mut pt.1] {
            let mut buf = [0u8; 16];
            let quiet = tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await;
            assert!(quiet.is_err(), "no data was left to read");
            largest = largest.max(s.buffered_capacity());
        }
        largest
    });
    println!(
        "buffers still allocated by a p2psec stream after the runs, idle: {after} B (largest of the four ends)"
    );
    drop((pn, pt, ln, lt));

    println!(
        "ratio adapter_throughput_noise_vs_libp2p {:.3}",
        ratio(0, 1)
    );
    println!("ratio adapter_throughput_tls_vs_libp2p {:.3}", ratio(2, 3));
    println!("bytes buffered_after_burst {after}");
    println!("ratio swarm_upgrades_per_sec_p2psec_vs_stock {swarm_noise_ratio:.3}");
    println!("ratio swarm_upgrades_per_sec_p2psec_vs_stock_tls {swarm_tls_ratio:.3}");
    println!("ratio upgrades_per_sec_noise_vs_libp2p {noise_ratio:.3}");
    println!("ratio upgrades_per_sec_tls_vs_libp2p {tls_ratio:.3}");
    println!("bytes connection_heap {:.0}", p_noise_heap.max(p_tls_heap));
}
