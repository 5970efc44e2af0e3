//! The adapters over real loopback TCP (127.0.0.1 only): the blocking, tokio and
//! futures-io (async-std) drivers each secure a connection with Noise and with TLS, agree
//! on what was negotiated, carry 4 MiB each way intact and end with a clean end of stream
//! (TLS close_notify, or TCP FIN for Noise).
//!
//! Around that, every failure keeps its kind from the table in `src/adapters/mod.rs`: the
//! handshake deadline against silent, trickling and stalled peers (`TimedOut`), a remote
//! with another PeerId (`PermissionDenied`), no common security protocol (`Unsupported`),
//! a peer that hangs up mid-handshake or cuts the stream mid-frame (`UnexpectedEof`). And
//! the bytes written right after an upgrade survive arriving in one read with its last
//! message: a relay in the middle coalesces what arrives close together.
//!
//! Fake peers are std threads writing raw bytes, whichever adapter is under test. Every
//! test is bounded by [`LIMIT`], so a hang fails instead of blocking the suite.
//!
//! The tests at the end reproduce adapter bugs found and fixed (backpressure, wakers,
//! error after a partial write, ending a Noise stream over async-std).
#![cfg(all(
    feature = "tokio",
    feature = "async-std",
    feature = "noise",
    feature = "tls"
))]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use p2psec::adapters::{blocking, futures as fio, tokio as tio, ConnectionInfo};
use p2psec::identity::{KeyType, Keypair};
use p2psec::upgrade::{self, Config, MuxerSelection, SecurityProtocol, YAMUX};
use p2psec::PeerId;

const NOISE: SecurityProtocol = SecurityProtocol::Noise;
const TLS: SecurityProtocol = SecurityProtocol::Tls;
const BOTH: [SecurityProtocol; 2] = [NOISE, TLS];

/// Plaintext each way in the transfer tests.
const BULK: usize = 4 << 20;
/// Plaintext per write call in the transfer tests: one full Noise frame.
const PIECE: usize = 64 << 10;
/// The handshake deadline where a test is not about it.
const HANDSHAKE: Duration = Duration::from_secs(5);
/// The deadline the deadline tests set...
const SHORT: Duration = Duration::from_millis(300);
/// ...and the latest they accept it to fire (loose: a debug build on a busy machine).
const SHORT_LATEST: Duration = Duration::from_secs(2);
/// Bounds every test body.
const LIMIT: Duration = Duration::from_secs(10);
/// How long the relay waits for more bytes before forwarding what it has.
const COALESCE: Duration = Duration::from_millis(100);
/// What the truncating relay keeps back: more than a TLS close_notify record (24 bytes),
/// less than the data frame in front of it, so the cut falls inside that frame.
const HOLD_BACK: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adapter {
    Blocking,
    Tokio,
    AsyncStd,
}

const ADAPTERS: [Adapter; 3] = [Adapter::Blocking, Adapter::Tokio, Adapter::AsyncStd];

// ---------------------------------------------------------------------------------------
// helpers

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A fresh Ed25519 identity offering only `security` (the adapters check certificates
/// against the real clock, so the configuration is made at the real time too).
fn config(security: SecurityProtocol) -> Config {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let identity = Keypair::generate(KeyType::Ed25519, &mut rng).expect("identity");
    Config::new(&identity, now_unix(), &mut rng)
        .expect("config")
        .with_security([security])
        .expect("security list")
}

fn other_peer_id() -> PeerId {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    Keypair::generate(KeyType::Ed25519, &mut rng)
        .expect("identity")
        .peer_id()
}

#[path = "common/rng.rs"]
mod rng;

/// `len` bytes of a splitmix64 stream: a misplaced or repeated chunk shows.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    rng::TestRng(seed).bytes(len)
}

/// Equality of large buffers without printing them.
#[track_caller]
fn same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: got {} bytes, want {}; first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// The upgrade error inside an adapter's `io::Error`.
#[track_caller]
fn inner(e: &io::Error) -> &upgrade::Error {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<upgrade::Error>())
        .unwrap_or_else(|| panic!("no upgrade::Error inside {e:?}"))
}

/// The error of `r`, which must have `kind`.
#[track_caller]
fn fails<T: std::fmt::Debug>(r: io::Result<T>, kind: io::ErrorKind, what: &str) -> io::Error {
    match r {
        Ok(v) => panic!("{what}: want {kind:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{what}: {e}");
            e
        }
    }
}

/// Both sides agree: each names the other, the protocol asked for, yamux chosen the same
/// way.
#[track_caller]
fn check_infos(
    security: SecurityProtocol,
    selection: MuxerSelection,
    dialer: &ConnectionInfo,
    listener: &ConnectionInfo,
    ids: (PeerId, PeerId),
) {
    let (dialer_id, listener_id) = ids;
    assert_eq!(dialer.remote_peer_id, listener_id, "dialer's remote");
    assert_eq!(listener.remote_peer_id, dialer_id, "listener's remote");
    for info in [dialer, listener] {
        assert_eq!(info.security, security);
        assert_eq!(info.muxer.as_deref(), Some(YAMUX));
        assert_eq!(info.muxer_selection, selection);
    }
}

/// A thread whose result the test waits for at most [`LIMIT`].
struct Task<T> {
    rx: mpsc::Receiver<T>,
    handle: thread::JoinHandle<()>,
}

fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Task<T> {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = tx.send(f());
    });
    Task { rx, handle }
}

impl<T> Task<T> {
    #[track_caller]
    fn join(self) -> T {
        match self.rx.recv_timeout(LIMIT) {
            Ok(v) => v,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("a thread hung for {LIMIT:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => match self.handle.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the thread ended without a result"),
            },
        }
    }
}

/// Runs `f` on its own thread and fails if it takes longer than [`LIMIT`].
#[track_caller]
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn(f).join()
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Connects to `addr` and dials with `adapter`: what the upgrade agreed (the stream is
/// dropped at once) and how long the upgrade took.
fn dial_with(
    adapter: Adapter,
    addr: SocketAddr,
    config: &Config,
    expected: Option<PeerId>,
    timeout: Duration,
) -> (io::Result<ConnectionInfo>, Duration) {
    match adapter {
        Adapter::Blocking => {
            let tcp = TcpStream::connect(addr).expect("connect");
            let start = Instant::now();
            let r = blocking::dial(tcp, config, expected, timeout);
            (r.map(|s| s.info().clone()), start.elapsed())
        }
        Adapter::Tokio => tokio_runtime().block_on(async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let start = Instant::now();
            let r = tio::dial(tcp, config, expected, timeout).await;
            (r.map(|s| s.info().clone()), start.elapsed())
        }),
        Adapter::AsyncStd => async_std::task::block_on(async {
            let tcp = async_std::net::TcpStream::connect(addr)
                .await
                .expect("connect");
            let start = Instant::now();
            let r = fio::dial(tcp, config, expected, timeout).await;
            (r.map(|s| s.info().clone()), start.elapsed())
        }),
    }
}

/// Accepts one connection on `listener` and upgrades it with `adapter`, like
/// [`dial_with`].
fn accept_with(
    adapter: Adapter,
    listener: &TcpListener,
    config: &Config,
    timeout: Duration,
) -> (io::Result<ConnectionInfo>, Duration) {
    let (tcp, _) = listener.accept().expect("accept");
    match adapter {
        Adapter::Blocking => {
            let start = Instant::now();
            let r = blocking::accept(tcp, config, timeout);
            (r.map(|s| s.info().clone()), start.elapsed())
        }
        Adapter::Tokio => {
            tcp.set_nonblocking(true).expect("nonblocking");
            tokio_runtime().block_on(async {
                let tcp = tokio::net::TcpStream::from_std(tcp).expect("tokio stream");
                let start = Instant::now();
                let r = tio::accept(tcp, config, timeout).await;
                (r.map(|s| s.info().clone()), start.elapsed())
            })
        }
        Adapter::AsyncStd => async_std::task::block_on(async {
            let tcp = async_std::net::TcpStream::from(tcp);
            let start = Instant::now();
            let r = fio::accept(tcp, config, timeout).await;
            (r.map(|s| s.info().clone()), start.elapsed())
        }),
    }
}

/// One upgrade between two real peers on `adapter`: (dialer's result, listener's result).
fn pair(
    adapter: Adapter,
    dialer: &Config,
    listener: &Config,
    expected: Option<PeerId>,
) -> (io::Result<ConnectionInfo>, io::Result<ConnectionInfo>) {
    let (tcp_listener, addr) = bind();
    let listener = listener.clone();
    let accepting = spawn(move || accept_with(adapter, &tcp_listener, &listener, HANDSHAKE).0);
    let dialed = dial_with(adapter, addr, dialer, expected, HANDSHAKE).0;
    (dialed, accepting.join())
}

/// One multistream-select message: the length as a one-byte uvarint, the line, `\n`.
fn ms(line: &str) -> Vec<u8> {
    let mut m = vec![u8::try_from(line.len() + 1).expect("short line")];
    m.extend_from_slice(line.as_bytes());
    m.push(b'\n');
    m
}

fn ms_header() -> Vec<u8> {
    ms("/multistream/1.0.0")
}

/// The first bytes of a handshake message that promises more than it brings: a Noise
/// frame (u16 length) or a TLS handshake record (RFC 8446 §5.1) cut after 10 bytes.
fn partial_message(security: SecurityProtocol) -> Vec<u8> {
    let mut m = match security {
        SecurityProtocol::Noise => vec![0x00, 0x50],
        SecurityProtocol::Tls => vec![0x16, 0x03, 0x03, 0x00, 0x80],
        _ => unreachable!(),
    };
    m.extend_from_slice(&[0x42; 10]);
    m
}

/// What a fake peer writes, and whether it hangs up after.
struct Script {
    bytes: Vec<u8>,
    /// Pause after each byte (zero: all at once).
    gap: Duration,
    /// Shut the write side down after the bytes (a FIN: the other side reads end of
    /// stream).
    hang_up: bool,
}

impl Script {
    fn silent() -> Self {
        Self::stall(Vec::new())
    }
    /// `bytes`, then silence.
    fn stall(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            gap: Duration::ZERO,
            hang_up: false,
        }
    }
    /// `bytes` one at a time, 50 ms apart: every read returns something, the whole
    /// never arrives within [`SHORT`].
    fn trickle(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            gap: Duration::from_millis(50),
            hang_up: false,
        }
    }
    /// `bytes`, then end of stream.
    fn hang_up(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            gap: Duration::ZERO,
            hang_up: true,
        }
    }

    /// Plays the script, then reads and drops whatever comes until the other side hangs
    /// up: reading it all keeps our close a FIN (close with unread bytes sends a RST,
    /// which would show as a reset instead of the end of stream under test).
    fn play(self, mut tcp: TcpStream) {
        if self.gap.is_zero() {
            let _ = tcp.write_all(&self.bytes);
        } else {
            for b in self.bytes {
                if tcp.write_all(&[b]).is_err() {
                    break;
                }
                thread::sleep(self.gap);
            }
        }
        if self.hang_up {
            let _ = tcp.shutdown(Shutdown::Write);
        }
        let _ = tcp.set_read_timeout(Some(LIMIT));
        let mut sink = [0u8; 4096];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    }
}

/// A listener that plays `script` to the one connection it accepts.
fn fake_listener(script: Script) -> SocketAddr {
    let (listener, addr) = bind();
    thread::spawn(move || {
        if let Ok((tcp, _)) = listener.accept() {
            script.play(tcp);
        }
    });
    addr
}

/// A dialer that connects to `addr` and plays `script`.
fn fake_dialer(addr: SocketAddr, script: Script) {
    thread::spawn(move || {
        if let Ok(tcp) = TcpStream::connect(addr) {
            script.play(tcp);
        }
    });
}

/// A TCP relay between a dialer and a listener. Each direction forwards what arrives
/// within [`COALESCE`] as one write, so a handshake's last message and the bytes written
/// right after it reach the other side in one read. Once `truncate` is set, the
/// dialer-to-listener direction keeps its last [`HOLD_BACK`] bytes back and drops them at
/// the dialer's end of stream: the listener sees the stream end inside a frame.
struct Relay {
    /// Where the dialer connects.
    addr: SocketAddr,
    truncate: Arc<AtomicBool>,
    /// The sizes of the writes forwarded: `[to the listener, to the dialer]`.
    forwarded: Arc<Mutex<[Vec<usize>; 2]>>,
}

impl Relay {
    /// A relay in front of the listener at `target`, for one connection.
    fn new(target: SocketAddr) -> Self {
        let (front, addr) = bind();
        let relay = Self {
            addr,
            truncate: Arc::new(AtomicBool::new(false)),
            forwarded: Arc::default(),
        };
        let (truncate, forwarded) = (relay.truncate.clone(), relay.forwarded.clone());
        thread::spawn(move || {
            let Ok((dialer, _)) = front.accept() else {
                return;
            };
            let Ok(listener) = TcpStream::connect(target) else {
                return;
            };
            let (Ok(dialer2), Ok(listener2)) = (dialer.try_clone(), listener.try_clone()) else {
                return;
            };
            let _ = dialer.set_nodelay(true);
            let _ = listener.set_nodelay(true);
            let back = forwarded.clone();
            thread::spawn(move || forward(listener2, dialer2, None, (back, 1)));
            forward(dialer, listener, Some(truncate), (forwarded, 0));
        });
        relay
    }

    /// Whether the last write in some direction carried more than `len` bytes of
    /// application data sealed alone would take: handshake bytes came with the data.
    fn coalesced(&self, len: usize) -> bool {
        // a Noise frame adds 18 bytes, a TLS 1.3 record 22
        let sealed = len + 22;
        let forwarded = self.forwarded.lock().expect("relay log");
        forwarded
            .iter()
            .any(|writes| writes.last().is_some_and(|&n| n > sealed))
    }
}

type Log = (Arc<Mutex<[Vec<usize>; 2]>>, usize);

fn forward(mut from: TcpStream, mut to: TcpStream, truncate: Option<Arc<AtomicBool>>, log: Log) {
    let mut buf = vec![0u8; 64 << 10];
    let mut held = Vec::new();
    let cutting = || truncate.as_ref().is_some_and(|t| t.load(Ordering::SeqCst));
    loop {
        let _ = from.set_read_timeout(Some(LIMIT));
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        held.extend_from_slice(&buf[..n]);
        let _ = from.set_read_timeout(Some(COALESCE));
        let mut eof = false;
        while held.len() < 256 << 10 {
            match from.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => held.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        let keep = if cutting() {
            HOLD_BACK.min(held.len())
        } else {
            0
        };
        let send = held.len() - keep;
        if send > 0 {
            if let Ok(mut writes) = log.0.lock() {
                writes[log.1].push(send);
            }
            if to.write_all(&held[..send]).is_err() {
                return;
            }
            held.drain(..send);
        }
        if eof {
            break;
        }
    }
    if !cutting() {
        let _ = to.write_all(&held);
    }
    let _ = to.shutdown(Shutdown::Write);
}

// ---------------------------------------------------------------------------------------
// 1-3. the happy path: 4 MiB each way, clean end of stream

/// Ends our sending on a blocking stream. TLS says it with close_notify alone (the TCP
/// connection stays open, so the peer's `Ok(0)` comes from the record); Noise has no
/// closing message, so the TCP write side is shut down.
fn blocking_finish(stream: &mut blocking::SecureStream<TcpStream>) {
    stream.close().expect("close");
    if stream.info().security == NOISE {
        stream
            .get_ref()
            .shutdown(Shutdown::Write)
            .expect("shutdown");
    }
}

fn blocking_write(stream: &mut blocking::SecureStream<TcpStream>, data: &[u8]) {
    for piece in data.chunks(PIECE) {
        stream.write_all(piece).expect("write");
    }
}

/// The blocking stream is not `try_clone`, so the directions take turns: the dialer
/// writes 4 MiB and closes while the listener only reads, then the other way round (one
/// side only writes while the other only reads: bounded socket buffers cannot deadlock).
fn blocking_transfer(security: SecurityProtocol) {
    within(move || {
        let (dc, lc) = (config(security), config(security));
        let ids = (dc.local_peer_id(), lc.local_peer_id());
        let (tcp_listener, addr) = bind();
        let listening = spawn(move || {
            let (tcp, _) = tcp_listener.accept().expect("accept");
            let mut stream = blocking::accept(tcp, &lc, HANDSHAKE).expect("accept upgrade");
            let mut got = Vec::new();
            stream
                .read_to_end(&mut got)
                .expect("read the dialer's bytes");
            assert_eq!(stream.read(&mut [0; 16]).expect("read again"), 0);
            blocking_write(&mut stream, &pattern(BULK, 2));
            blocking_finish(&mut stream);
            (stream.info().clone(), got)
        });
        let tcp = TcpStream::connect(addr).expect("connect");
        let mut stream = blocking::dial(tcp, &dc, Some(ids.1), HANDSHAKE).expect("dial upgrade");
        blocking_write(&mut stream, &pattern(BULK, 1));
        blocking_finish(&mut stream);
        let mut back = Vec::new();
        stream
            .read_to_end(&mut back)
            .expect("read the listener's bytes");
        assert_eq!(stream.read(&mut [0; 16]).expect("read again"), 0);
        let (listener_info, got) = listening.join();
        same(&got, &pattern(BULK, 1), "dialer to listener");
        same(&back, &pattern(BULK, 2), "listener to dialer");
        check_infos(
            security,
            MuxerSelection::Early,
            stream.info(),
            &listener_info,
            ids,
        );
        // optimistic negotiation: the dialer waits for one answer only
        assert_eq!(stream.info().round_trips, 1, "dialer's round trips");
    });
}

#[test]
fn blocking_noise_4mib_each_way() {
    blocking_transfer(NOISE);
}

#[test]
fn blocking_tls_4mib_each_way() {
    blocking_transfer(TLS);
}

/// How the reading and the writing half of a stream run at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halves {
    /// Both polled by one task (`join!`), as a muxer's connection task does.
    OneTask,
    /// The writer spawned as a task of its own.
    TwoTasks,
}

/// Writes `data` in pieces and shuts down, while reading until the peer's end of
/// stream.
async fn tokio_exchange(
    stream: tio::SecureStream<tokio::net::TcpStream>,
    data: Vec<u8>,
    halves: Halves,
) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut reader, mut writer) = tokio::io::split(stream);
    let writing = async move {
        for piece in data.chunks(PIECE) {
            writer.write_all(piece).await.expect("write");
        }
        writer.shutdown().await.expect("shutdown");
    };
    let reading = async move {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.expect("read");
        assert_eq!(reader.read(&mut [0; 16]).await.expect("read again"), 0);
        got
    };
    match halves {
        Halves::OneTask => tokio::join!(writing, reading).1,
        Halves::TwoTasks => {
            let writing = tokio::spawn(writing);
            let got = reading.await;
            writing.await.expect("writer task");
            got
        }
    }
}

async fn tokio_transfer(security: SecurityProtocol, halves: Halves) {
    let (dc, lc) = (config(security), config(security));
    let ids = (dc.local_peer_id(), lc.local_peer_id());
    let tcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = tcp_listener.local_addr().expect("local addr");
    let listening = tokio::spawn(async move {
        let (tcp, _) = tcp_listener.accept().await.expect("accept");
        let stream = tio::accept(tcp, &lc, HANDSHAKE)
            .await
            .expect("accept upgrade");
        let info = stream.info().clone();
        (info, tokio_exchange(stream, pattern(BULK, 2), halves).await)
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let stream = tio::dial(tcp, &dc, Some(ids.1), HANDSHAKE)
        .await
        .expect("dial upgrade");
    let info = stream.info().clone();
    let back = tokio_exchange(stream, pattern(BULK, 1), halves).await;
    let (listener_info, got) = listening.await.expect("listener task");
    same(&got, &pattern(BULK, 1), "dialer to listener");
    same(&back, &pattern(BULK, 2), "listener to dialer");
    check_infos(security, MuxerSelection::Early, &info, &listener_info, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_noise_4mib_both_ways_at_once() {
    tokio::time::timeout(LIMIT, tokio_transfer(NOISE, Halves::OneTask))
        .await
        .expect("hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_tls_4mib_both_ways_at_once() {
    tokio::time::timeout(LIMIT, tokio_transfer(TLS, Halves::OneTask))
        .await
        .expect("hung");
}

/// [`tokio_exchange`] for futures-io: the halves of `AsyncReadExt::split`. `tcp` is a
/// clone of the stream's socket: async-std's `TcpStream::poll_close` only flushes
/// (async-io's), so the adapter's close cannot end the TCP stream and we shut it down
/// ourselves (see [`async_std_close_ends_a_noise_stream`]).
async fn async_std_exchange(
    stream: fio::SecureStream<async_std::net::TcpStream>,
    tcp: async_std::net::TcpStream,
    data: Vec<u8>,
    halves: Halves,
) -> Vec<u8> {
    use futures::{AsyncReadExt, AsyncWriteExt};
    let (mut reader, mut writer) = stream.split();
    let writing = async move {
        for piece in data.chunks(PIECE) {
            writer.write_all(piece).await.expect("write");
        }
        writer.close().await.expect("close");
        tcp.shutdown(Shutdown::Write).expect("shutdown");
    };
    let reading = async move {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.expect("read");
        assert_eq!(reader.read(&mut [0; 16]).await.expect("read again"), 0);
        got
    };
    match halves {
        Halves::OneTask => futures::join!(writing, reading).1,
        Halves::TwoTasks => {
            let writing = async_std::task::spawn(writing);
            let got = reading.await;
            writing.await;
            got
        }
    }
}

async fn async_std_transfer(security: SecurityProtocol, halves: Halves) {
    let (dc, lc) = (config(security), config(security));
    let ids = (dc.local_peer_id(), lc.local_peer_id());
    let tcp_listener = async_std::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = tcp_listener.local_addr().expect("local addr");
    let listening = async_std::task::spawn(async move {
        let (tcp, _) = tcp_listener.accept().await.expect("accept");
        let socket = tcp.clone();
        let stream = fio::accept(tcp, &lc, HANDSHAKE)
            .await
            .expect("accept upgrade");
        let info = stream.info().clone();
        let got = async_std_exchange(stream, socket, pattern(BULK, 2), halves).await;
        (info, got)
    });
    let tcp = async_std::net::TcpStream::connect(addr)
        .await
        .expect("connect");
    let socket = tcp.clone();
    let stream = fio::dial(tcp, &dc, Some(ids.1), HANDSHAKE)
        .await
        .expect("dial upgrade");
    let info = stream.info().clone();
    let back = async_std_exchange(stream, socket, pattern(BULK, 1), halves).await;
    let (listener_info, got) = listening.await;
    same(&got, &pattern(BULK, 1), "dialer to listener");
    same(&back, &pattern(BULK, 2), "listener to dialer");
    check_infos(security, MuxerSelection::Early, &info, &listener_info, ids);
}

#[async_std::test]
async fn async_std_noise_4mib_both_ways_at_once() {
    async_std::future::timeout(LIMIT, Box::pin(async_std_transfer(NOISE, Halves::OneTask)))
        .await
        .expect("hung");
}

#[async_std::test]
async fn async_std_tls_4mib_both_ways_at_once() {
    async_std::future::timeout(LIMIT, Box::pin(async_std_transfer(TLS, Halves::OneTask)))
        .await
        .expect("hung");
}

/// The halves in two tasks work over async-std, unlike tokio
/// ([`tokio_halves_in_two_tasks`]): async-io wakes the waker it replaces.
#[async_std::test]
async fn async_std_halves_in_two_tasks() {
    for security in BOTH {
        let run = Box::pin(async_std_transfer(security, Halves::TwoTasks));
        async_std::future::timeout(LIMIT, run).await.expect("hung");
    }
}

// ---------------------------------------------------------------------------------------
// 4. the handshake deadline

#[track_caller]
fn timed_out_in_time(r: io::Result<ConnectionInfo>, took: Duration, what: &str) {
    fails(r, io::ErrorKind::TimedOut, what);
    assert!(
        took >= SHORT - Duration::from_millis(5) && took < SHORT_LATEST,
        "{what}: the {SHORT:?} deadline fired after {took:?}"
    );
}

/// Against a listener that never answers, one that trickles its multistream header a
/// byte at a time, and one that agrees on the protocol and then stalls, the dial fails
/// with `TimedOut` at the deadline (the cases run at once).
fn dial_deadline(adapter: Adapter) {
    let cases = [
        ("silent", NOISE, Script::silent()),
        ("trickling", TLS, Script::trickle(ms_header())),
        (
            "stalled after negotiation",
            NOISE,
            Script::stall([ms_header(), ms("/noise")].concat()),
        ),
    ];
    let tasks: Vec<_> = cases
        .into_iter()
        .map(|(what, security, script)| {
            let addr = fake_listener(script);
            let config = config(security);
            spawn(move || {
                let (r, took) = dial_with(adapter, addr, &config, None, SHORT);
                (what, r, took)
            })
        })
        .collect();
    for task in tasks {
        let (what, r, took) = task.join();
        timed_out_in_time(r, took, &format!("{adapter:?} dial, {what} listener"));
    }
}

/// The same for the listener, against a dialer that connects and says nothing and one
/// that trickles its header.
fn accept_deadline(adapter: Adapter) {
    let cases = [
        ("silent", NOISE, Script::silent()),
        ("trickling", TLS, Script::trickle(ms_header())),
    ];
    let tasks: Vec<_> = cases
        .into_iter()
        .map(|(what, security, script)| {
            let (listener, addr) = bind();
            fake_dialer(addr, script);
            let config = config(security);
            spawn(move || {
                let (r, took) = accept_with(adapter, &listener, &config, SHORT);
                (what, r, took)
            })
        })
        .collect();
    for task in tasks {
        let (what, r, took) = task.join();
        timed_out_in_time(r, took, &format!("{adapter:?} accept, {what} dialer"));
    }
}

#[test]
fn blocking_deadline() {
    within(|| {
        dial_deadline(Adapter::Blocking);
        accept_deadline(Adapter::Blocking);
    });
}

#[test]
fn tokio_deadline() {
    within(|| {
        dial_deadline(Adapter::Tokio);
        accept_deadline(Adapter::Tokio);
    });
}

#[test]
fn async_std_deadline() {
    within(|| {
        dial_deadline(Adapter::AsyncStd);
        accept_deadline(Adapter::AsyncStd);
    });
}

// ---------------------------------------------------------------------------------------
// 5. the wrong peer, no common protocol

/// The dialer expects another PeerId than the listener proves: `PermissionDenied`,
/// carrying an error that says so. With Noise the dialer hangs up without a word (no
/// message 3), so the listener reads `UnexpectedEof`; with TLS it sends its alert
/// first, so the listener fails with the alert (`InvalidData`).
#[test]
fn unexpected_peer_is_permission_denied() {
    within(|| {
        for adapter in ADAPTERS {
            for security in BOTH {
                let what = format!("{adapter:?} {security:?}");
                let (dc, lc) = (config(security), config(security));
                let (dialed, accepted) = pair(adapter, &dc, &lc, Some(other_peer_id()));
                let e = fails(dialed, io::ErrorKind::PermissionDenied, &what);
                assert!(inner(&e).is_unexpected_peer(), "{what}: {e}");
                if security == NOISE {
                    fails(accepted, io::ErrorKind::UnexpectedEof, &what);
                } else {
                    let e = fails(accepted, io::ErrorKind::InvalidData, &what);
                    assert!(e.to_string().contains("alert"), "{what}: {e}");
                }
            }
        }
    });
}

/// A dialer offering only Noise against a listener offering only TLS (and the other way
/// round). Without optimistic negotiation the listener's `na` ends it: `Unsupported` for
/// the dialer, with the multistream error that lists what was tried.
#[test]
fn no_common_security_is_unsupported() {
    within(|| {
        for adapter in ADAPTERS {
            for (ours, theirs) in [(NOISE, TLS), (TLS, NOISE)] {
                let what = format!("{adapter:?} {ours:?} against {theirs:?}");
                let dc = config(ours).with_optimistic_negotiation(false);
                let lc = config(theirs);
                let (dialed, accepted) = pair(adapter, &dc, &lc, None);
                let e = fails(dialed, io::ErrorKind::Unsupported, &what);
                assert!(
                    matches!(
                        inner(&e),
                        upgrade::Error::SecurityNegotiation(
                            p2psec::multistream::Error::NoProtocolAgreed { .. }
                        )
                    ),
                    "{what}: {e}"
                );
                // the dialer, out of candidates, hangs up after the `na`
                fails(accepted, io::ErrorKind::UnexpectedEof, &what);
            }
        }
    });
}

/// The same mismatch with optimistic negotiation (the default): the dialer's handshake
/// message follows its proposal at once, the listener reads it as its next proposal and
/// fails with `InvalidData`; the dialer still reports the `na` as `Unsupported`.
#[test]
fn no_common_security_optimistic() {
    within(|| {
        for adapter in ADAPTERS {
            for (ours, theirs) in [(NOISE, TLS), (TLS, NOISE)] {
                let what = format!("{adapter:?} {ours:?} against {theirs:?}, optimistic");
                let (dc, lc) = (config(ours), config(theirs));
                let (dialed, accepted) = pair(adapter, &dc, &lc, None);
                let e = fails(dialed, io::ErrorKind::Unsupported, &what);
                assert!(
                    matches!(
                        inner(&e),
                        upgrade::Error::SecurityNegotiation(
                            p2psec::multistream::Error::NoProtocolAgreed { .. }
                        )
                    ),
                    "{what}: {e}"
                );
                let e = fails(accepted, io::ErrorKind::InvalidData, &what);
                assert!(
                    matches!(inner(&e), upgrade::Error::SecurityNegotiation(_)),
                    "{what}: {e}"
                );
            }
        }
    });
}

// ---------------------------------------------------------------------------------------
// 6. the peer hangs up mid-handshake

/// A listener that hangs up at once, one that answers the negotiation and hangs up, one
/// that hangs up inside its first handshake message: `UnexpectedEof` for the dialer, with
/// the upgrade's own `UnexpectedEof` inside. Then the listener side against dialers that
/// do the same.
#[test]
fn hang_up_mid_handshake_is_unexpected_eof() {
    within(|| {
        let mut tasks = Vec::new();
        for adapter in ADAPTERS {
            for security in BOTH {
                let echo = ms(security.protocol_id());
                let to_dialer = [
                    ("at once", Vec::new()),
                    ("after negotiation", [ms_header(), echo.clone()].concat()),
                    (
                        "mid-message",
                        [ms_header(), echo.clone(), partial_message(security)].concat(),
                    ),
                ];
                for (when, bytes) in to_dialer {
                    let addr = fake_listener(Script::hang_up(bytes));
                    let config = config(security);
                    let what = format!("{adapter:?} {security:?} dial, listener hangs up {when}");
                    tasks.push(spawn(move || {
                        (what, dial_with(adapter, addr, &config, None, HANDSHAKE).0)
                    }));
                }
                let to_listener = [
                    ("at once", Vec::new()),
                    ("after the proposal", [ms_header(), echo.clone()].concat()),
                    (
                        "mid-message",
                        [ms_header(), echo, partial_message(security)].concat(),
                    ),
                ];
                for (when, bytes) in to_listener {
                    let (listener, addr) = bind();
                    fake_dialer(addr, Script::hang_up(bytes));
                    let config = config(security);
                    let what = format!("{adapter:?} {security:?} accept, dialer hangs up {when}");
                    tasks.push(spawn(move || {
                        (what, accept_with(adapter, &listener, &config, HANDSHAKE).0)
                    }));
                }
            }
        }
        for task in tasks {
            let (what, r) = task.join();
            let e = fails(r, io::ErrorKind::UnexpectedEof, &what);
            assert_eq!(inner(&e), &upgrade::Error::UnexpectedEof, "{what}");
        }
    });
}

/// After the upgrade, the dialer's stream is cut inside a frame (the relay drops its
/// last bytes, then ends the stream): the listener reads the frames before the cut, then
/// `UnexpectedEof`, not a clean end.
#[test]
fn blocking_cut_mid_frame_is_unexpected_eof() {
    within(|| {
        for security in BOTH {
            let (dc, lc) = (config(security), config(security));
            let (tcp_listener, target) = bind();
            let relay = Relay::new(target);
            let (up_tx, up_rx) = mpsc::channel();
            let listening = spawn(move || {
                let (tcp, _) = tcp_listener.accept().expect("accept");
                let mut stream = blocking::accept(tcp, &lc, HANDSHAKE).expect("accept upgrade");
                up_tx.send(()).expect("signal");
                let mut got = Vec::new();
                let r = stream.read_to_end(&mut got);
                (r, got)
            });
            let tcp = TcpStream::connect(relay.addr).expect("connect");
            let mut stream = blocking::dial(tcp, &dc, None, HANDSHAKE).expect("dial upgrade");
            // cut only once both handshakes are through the relay
            up_rx.recv_timeout(LIMIT).expect("listener upgraded");
            relay.truncate.store(true, Ordering::SeqCst);
            stream.write_all(&pattern(1000, 7)).expect("write");
            thread::sleep(COALESCE * 2);
            stream.write_all(&pattern(10_000, 8)).expect("write");
            stream.close().expect("close");
            stream
                .get_ref()
                .shutdown(Shutdown::Write)
                .expect("shutdown");
            let (r, got) = listening.join();
            let what = format!("{security:?}");
            let e = fails(r, io::ErrorKind::UnexpectedEof, &what);
            assert_eq!(inner(&e), &upgrade::Error::UnexpectedEof, "{what}");
            same(&got, &pattern(1000, 7), &what);
        }
    });
}

/// The same cut read through the tokio adapter.
#[tokio::test]
async fn tokio_cut_mid_frame_is_unexpected_eof() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = async {
        for security in BOTH {
            let (dc, lc) = (config(security), config(security));
            let tcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let target = tcp_listener.local_addr().expect("local addr");
            let relay = Relay::new(target);
            let (up_tx, up_rx) = tokio::sync::oneshot::channel();
            let listening = tokio::spawn(async move {
                let (tcp, _) = tcp_listener.accept().await.expect("accept");
                let mut stream = tio::accept(tcp, &lc, HANDSHAKE)
                    .await
                    .expect("accept upgrade");
                up_tx.send(()).expect("signal");
                let mut got = Vec::new();
                let r = stream.read_to_end(&mut got).await;
                (r, got)
            });
            let tcp = tokio::net::TcpStream::connect(relay.addr)
                .await
                .expect("connect");
            let mut stream = tio::dial(tcp, &dc, None, HANDSHAKE)
                .await
                .expect("dial upgrade");
            up_rx.await.expect("listener upgraded");
            relay.truncate.store(true, Ordering::SeqCst);
            stream.write_all(&pattern(1000, 7)).await.expect("write");
            stream.flush().await.expect("flush");
            tokio::time::sleep(COALESCE * 2).await;
            stream.write_all(&pattern(10_000, 8)).await.expect("write");
            stream.shutdown().await.expect("shutdown");
            let (r, got) = listening.await.expect("listener task");
            let what = format!("{security:?}");
            let e = fails(r, io::ErrorKind::UnexpectedEof, &what);
            assert_eq!(inner(&e), &upgrade::Error::UnexpectedEof, "{what}");
            same(&got, &pattern(1000, 7), &what);
        }
    };
    tokio::time::timeout(LIMIT, body).await.expect("hung");
}

// ---------------------------------------------------------------------------------------
// 7. early data

/// Each side writes as soon as its upgrade returns; the relay delivers those bytes in one
/// read with the last handshake message before them (the dialer's Noise message 3 or TLS
/// Finished, or in the classic sequence the listener's muxer echo), so the handshake loop
/// reads them and must hand them to the stream. The sockets are `TCP_NODELAY`: otherwise
/// Nagle holds the data until that message is acknowledged, a delayed ACK (40 ms) later,
/// and the two arrive apart. For every combination of optimistic and
/// early muxer negotiation (the runs go at once).
fn blocking_early_data(security: SecurityProtocol) {
    within(move || {
        let mut tasks = Vec::new();
        for optimistic in [true, false] {
            for early_muxer in [true, false] {
                tasks.push(spawn(move || {
                    let tune = |c: Config| {
                        c.with_optimistic_negotiation(optimistic)
                            .with_early_muxer_negotiation(early_muxer)
                    };
                    let (dc, lc) = (tune(config(security)), tune(config(security)));
                    let ids = (dc.local_peer_id(), lc.local_peer_id());
                    let (tcp_listener, target) = bind();
                    let relay = Relay::new(target);
                    let listening = spawn(move || {
                        let (tcp, _) = tcp_listener.accept().expect("accept");
                        tcp.set_nodelay(true).expect("nodelay");
                        let mut stream =
                            blocking::accept(tcp, &lc, HANDSHAKE).expect("accept upgrade");
                        stream.write_all(&pattern(3000, 4)).expect("write");
                        let mut got = vec![0; 3000];
                        stream.read_exact(&mut got).expect("read");
                        (stream.info().clone(), got)
                    });
                    let tcp = TcpStream::connect(relay.addr).expect("connect");
                    tcp.set_nodelay(true).expect("nodelay");
                    let mut stream =
                        blocking::dial(tcp, &dc, Some(ids.1), HANDSHAKE).expect("dial upgrade");
                    stream.write_all(&pattern(3000, 3)).expect("write");
                    let mut back = vec![0; 3000];
                    stream.read_exact(&mut back).expect("read");
                    let (listener_info, got) = listening.join();
                    let what = format!("{security:?} optimistic {optimistic} early {early_muxer}");
                    same(&got, &pattern(3000, 3), &what);
                    same(&back, &pattern(3000, 4), &what);
                    assert!(
                        relay.coalesced(3000),
                        "{what}: no data came with the handshake"
                    );
                    let selection = if early_muxer {
                        MuxerSelection::Early
                    } else {
                        MuxerSelection::Multistream
                    };
                    check_infos(security, selection, stream.info(), &listener_info, ids);
                }));
            }
        }
        for task in tasks {
            task.join();
        }
    });
}

#[test]
fn blocking_noise_early_data() {
    blocking_early_data(NOISE);
}

#[test]
fn blocking_tls_early_data() {
    blocking_early_data(TLS);
}

#[tokio::test]
async fn tokio_early_data() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = async {
        for security in BOTH {
            let (dc, lc) = (config(security), config(security));
            let tcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let target = tcp_listener.local_addr().expect("local addr");
            let relay = Relay::new(target);
            let listening = tokio::spawn(async move {
                let (tcp, _) = tcp_listener.accept().await.expect("accept");
                let mut stream = tio::accept(tcp, &lc, HANDSHAKE)
                    .await
                    .expect("accept upgrade");
                let mut got = vec![0; 3000];
                stream.read_exact(&mut got).await.expect("read");
                got
            });
            let tcp = tokio::net::TcpStream::connect(relay.addr)
                .await
                .expect("connect");
            tcp.set_nodelay(true).expect("nodelay");
            let mut stream = tio::dial(tcp, &dc, None, HANDSHAKE)
                .await
                .expect("dial upgrade");
            stream.write_all(&pattern(3000, 3)).await.expect("write");
            stream.flush().await.expect("flush");
            let got = listening.await.expect("listener task");
            same(&got, &pattern(3000, 3), &format!("{security:?}"));
            assert!(
                relay.coalesced(3000),
                "{security:?}: not with the handshake"
            );
        }
    };
    tokio::time::timeout(LIMIT, body).await.expect("hung");
}

#[async_std::test]
async fn async_std_early_data() {
    use futures::{AsyncReadExt, AsyncWriteExt};
    let body = async {
        for security in BOTH {
            let (dc, lc) = (config(security), config(security));
            let tcp_listener = async_std::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let target = tcp_listener.local_addr().expect("local addr");
            let relay = Relay::new(target);
            let listening = async_std::task::spawn(async move {
                let (tcp, _) = tcp_listener.accept().await.expect("accept");
                let mut stream = fio::accept(tcp, &lc, HANDSHAKE)
                    .await
                    .expect("accept upgrade");
                let mut got = vec![0; 3000];
                stream.read_exact(&mut got).await.expect("read");
                got
            });
            let tcp = async_std::net::TcpStream::connect(relay.addr)
                .await
                .expect("connect");
            tcp.set_nodelay(true).expect("nodelay");
            let mut stream = fio::dial(tcp, &dc, None, HANDSHAKE)
                .await
                .expect("dial upgrade");
            stream.write_all(&pattern(3000, 3)).await.expect("write");
            stream.flush().await.expect("flush");
            let got = listening.await;
            same(&got, &pattern(3000, 3), &format!("{security:?}"));
            assert!(
                relay.coalesced(3000),
                "{security:?}: not with the handshake"
            );
        }
    };
    async_std::future::timeout(LIMIT, Box::pin(body))
        .await
        .expect("hung");
}

// ---------------------------------------------------------------------------------------
// regressions: each test below failed before its adapter fix

/// Plaintext the flooding tests offer: far beyond what loopback socket buffers hold.
const FLOOD: usize = 64 << 20;

/// tokio: the reading and the writing half in two tasks (a muxer's reader loop and a
/// writer task). It used to hang: the writer's `write_all` returns at once (see
/// [`tokio_write_applies_backpressure`]), its `shutdown` pends on the socket's write
/// readiness, then the reader's `poll_read` flushes the same queued ciphertext with the
/// reader's waker, which replaces the writer's in tokio's single write-readiness slot:
/// the writer task is never woken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_halves_in_two_tasks() {
    for security in BOTH {
        let run = tokio_transfer(security, Halves::TwoTasks);
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("hung");
    }
}

/// A peer that reads nothing must stall the writer once the socket buffers are full.
/// (Regression: `poll_write` once never returned `Pending`: the adapter moved the
/// channel's sealed output into its own unbounded buffer on every call, so 64 MiB were
/// taken and held in memory at once.)
#[tokio::test]
async fn tokio_write_applies_backpressure() {
    use tokio::io::AsyncWriteExt;
    let body = async {
        let (dc, lc) = (config(NOISE), config(NOISE));
        let tcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = tcp_listener.local_addr().expect("local addr");
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let listening = tokio::spawn(async move {
            let (tcp, _) = tcp_listener.accept().await.expect("accept");
            let stream = tio::accept(tcp, &lc, HANDSHAKE)
                .await
                .expect("accept upgrade");
            // read nothing, keep the connection open
            let _ = done_rx.await;
            drop(stream);
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut stream = tio::dial(tcp, &dc, None, HANDSHAKE)
            .await
            .expect("dial upgrade");
        let data = pattern(PIECE, 6);
        let flood = async {
            for _ in 0..FLOOD / PIECE {
                stream.write_all(&data).await.expect("write");
            }
        };
        let flooded = tokio::time::timeout(Duration::from_secs(1), flood).await;
        let _ = done_tx.send(());
        listening.await.expect("listener task");
        assert!(
            flooded.is_err(),
            "{FLOOD} bytes written within 1 s to a peer that reads nothing"
        );
    };
    tokio::time::timeout(LIMIT, body).await.expect("hung");
}

/// `std::io::Write::write`: "if an error is returned then no bytes in the buffer were
/// written". (Regression: the blocking `write` once let the channel take and seal the
/// bytes, then returned the socket's error from the flush, here a write timeout against
/// a peer that reads nothing; a caller that retried sent them twice.)
#[test]
fn blocking_failed_write_sends_nothing() {
    within(|| {
        let (dc, lc) = (config(NOISE), config(NOISE));
        let (tcp_listener, addr) = bind();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let listening = spawn(move || {
            let (tcp, _) = tcp_listener.accept().expect("accept");
            let mut stream = blocking::accept(tcp, &lc, HANDSHAKE).expect("accept upgrade");
            // read nothing until the dialer's write failed
            go_rx.recv_timeout(LIMIT).expect("go");
            let mut got = Vec::new();
            stream.read_to_end(&mut got).expect("read");
            got.len()
        });
        let tcp = TcpStream::connect(addr).expect("connect");
        let mut stream = blocking::dial(tcp, &dc, None, HANDSHAKE).expect("dial upgrade");
        let tcp = stream.get_ref();
        tcp.set_write_timeout(Some(Duration::from_millis(100)))
            .expect("write timeout");
        let data = pattern(PIECE, 9);
        let mut reported = 0;
        let e = loop {
            match stream.write(&data) {
                Ok(n) => reported += n,
                Err(e) => break e,
            }
            assert!(reported < FLOOD, "the socket never filled");
        };
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        );
        stream.get_ref().set_write_timeout(None).expect("timeout");
        go_tx.send(()).expect("go");
        stream.close().expect("close");
        stream
            .get_ref()
            .shutdown(Shutdown::Write)
            .expect("shutdown");
        let received = listening.join();
        assert_eq!(
            received, reported,
            "the peer got bytes of a write that returned an error"
        );
    });
}

/// The futures adapter's doc says `poll_close` "closes the socket's write side". Over
/// async-std's `TcpStream` it does not (its `poll_close` is async-io's, which only
/// flushes), so a Noise stream, which has no closing message, never ends for the peer
/// while the socket lives: its read pends until the deadline here.
#[async_std::test]
async fn async_std_close_ends_a_noise_stream() {
    use futures::{AsyncReadExt, AsyncWriteExt};
    let body = async {
        let (dc, lc) = (config(NOISE), config(NOISE));
        let tcp_listener = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = tcp_listener.local_addr().expect("local addr");
        let listening = async_std::task::spawn(async move {
            let (tcp, _) = tcp_listener.accept().await.expect("accept");
            let mut stream = fio::accept(tcp, &lc, HANDSHAKE)
                .await
                .expect("accept upgrade");
            let mut got = Vec::new();
            let read = stream.read_to_end(&mut got);
            let r = async_std::future::timeout(Duration::from_secs(2), read).await;
            (r.map(|r| r.map(|_| got)), stream)
        });
        let tcp = async_std::net::TcpStream::connect(addr)
            .await
            .expect("connect");
        let mut stream = fio::dial(tcp, &dc, None, HANDSHAKE)
            .await
            .expect("dial upgrade");
        stream.write_all(b"bye").await.expect("write");
        stream.close().await.expect("close");
        // async-std's close only flushes: the documented way to end a Noise stream
        stream
            .get_ref()
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        let (r, _listener_stream) = listening.await;
        let got = r.expect("the listener never saw the end of the stream");
        assert_eq!(got.expect("read"), b"bye");
        drop(stream);
    };
    async_std::future::timeout(LIMIT, Box::pin(body))
        .await
        .expect("hung");
}

// ---------------------------------------------------------------------------------------
// hole punching's role override: the side that opened the connection runs the listener's
// upgrade (`dial_as_listener`), the side that accepted it the dialer's (`accept_as_dialer`)

/// Opens a connection with `adapter`'s `dial_as_listener` (expecting `expected`) while a
/// thread accepts it with the blocking `accept_as_dialer`: what each side agreed.
fn role_override_with(
    adapter: Adapter,
    opener: &Config,
    acceptor: &Config,
    expected: PeerId,
) -> (io::Result<ConnectionInfo>, io::Result<ConnectionInfo>) {
    let (listener, addr) = bind();
    let acceptor = acceptor.clone();
    let opener_id = opener.local_peer_id();
    let accepting = spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        blocking::accept_as_dialer(tcp, &acceptor, Some(opener_id), HANDSHAKE)
            .map(|s| s.info().clone())
    });
    let opened = match adapter {
        Adapter::Blocking => {
            let tcp = TcpStream::connect(addr).expect("connect");
            blocking::dial_as_listener(tcp, opener, Some(expected), HANDSHAKE)
                .map(|s| s.info().clone())
        }
        Adapter::Tokio => tokio_runtime().block_on(async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            tio::dial_as_listener(tcp, opener, Some(expected), HANDSHAKE)
                .await
                .map(|s| s.info().clone())
        }),
        Adapter::AsyncStd => async_std::task::block_on(async {
            let tcp = async_std::net::TcpStream::connect(addr)
                .await
                .expect("connect");
            fio::dial_as_listener(tcp, opener, Some(expected), HANDSHAKE)
                .await
                .map(|s| s.info().clone())
        }),
    };
    (opened, accepting.join())
}

#[test]
fn role_override_upgrades_with_the_roles_swapped_and_checks_the_peer() {
    for adapter in ADAPTERS {
        for security in BOTH {
            within(move || {
                let (opener, acceptor) = (config(security), config(security));
                let ids = (acceptor.local_peer_id(), opener.local_peer_id());
                let (opened, accepted) =
                    role_override_with(adapter, &opener, &acceptor, acceptor.local_peer_id());
                let what = format!("{adapter:?} {security:?}");
                let (opened, accepted) = (
                    opened.unwrap_or_else(|e| panic!("{what}: opener {e}")),
                    accepted.unwrap_or_else(|e| panic!("{what}: acceptor {e}")),
                );
                // the acceptor ran the dialer's upgrade, so it is the "dialer" here
                check_infos(security, MuxerSelection::Early, &accepted, &opened, ids);

                // the opener expects someone else: its (listener's) upgrade refuses
                let (opened, _) = role_override_with(adapter, &opener, &acceptor, other_peer_id());
                let e = fails(opened, io::ErrorKind::PermissionDenied, &what);
                assert!(inner(&e).is_unexpected_peer(), "{what}: {e}");
            });
        }
    }
}
