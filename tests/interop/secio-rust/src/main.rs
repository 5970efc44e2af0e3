//! `secio-peer`: a legacy rust-libp2p peer (libp2p-secio 0.26, the last SECIO release) that
//! p2psec's interop tests drive as a subprocess.
//!
//!   secio-peer listen [--muxer mplex|yamux|both] [--key-type ed25519|secp256k1|rsa]
//!   secio-peer dial ADDR [--pings N] [--echo BYTES] [--muxer ...] [--key-type ...]
//!
//! Stdout carries only the contract lines (the listen multiaddr; `ping <ms>` and
//! `echo <BYTES> ok` when dialing); everything else goes to stderr.

use std::{
    collections::VecDeque,
    convert::Infallible,
    io::{self, Write},
    iter,
    num::NonZeroU32,
    process,
    task::{Context, Poll},
    time::Duration,
};

use futures::{
    future::{self, BoxFuture},
    stream::FuturesUnordered,
    AsyncReadExt, AsyncWriteExt, FutureExt, StreamExt,
};
use libp2p_core::{
    connection::ConnectionId,
    either::EitherOutput,
    identity::Keypair,
    multiaddr::Protocol,
    muxing::StreamMuxerBox,
    transport::{self, Transport},
    upgrade::{self, InboundUpgrade, OutboundUpgrade, SelectUpgrade, UpgradeInfo},
    Multiaddr, PeerId,
};
use libp2p_mplex::MplexConfig;
use libp2p_ping::{handler::PingHandler, PingConfig, PingResult, PingSuccess};
use libp2p_secio::SecioConfig;
use libp2p_swarm::{
    KeepAlive, NegotiatedSubstream, NetworkBehaviour, NetworkBehaviourAction, NotifyHandler,
    PollParameters, ProtocolsHandler, ProtocolsHandlerEvent, ProtocolsHandlerSelect,
    ProtocolsHandlerUpgrErr, SubstreamProtocol, Swarm, SwarmBuilder, SwarmEvent,
};
use libp2p_tcp::TcpConfig;
use libp2p_yamux::{WindowUpdateMode, YamuxConfig};

/// Whole `dial` run: the test harness must never wait on a hung peer.
const DIAL_DEADLINE: Duration = Duration::from_secs(30);
/// Handshake (TCP + multistream + SECIO + muxer) limit per connection.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(20);
/// libp2p-ping 0.26 pings on a timer; short in `dial` so N pings arrive quickly.
const DIAL_PING_INTERVAL: Duration = Duration::from_millis(200);
/// The listener pings its dialers too (as any legacy node would), but less eagerly.
const LISTEN_PING_INTERVAL: Duration = Duration::from_secs(1);
const ECHO_PROTOCOL: &[u8] = b"/echo/1.0.0";

#[derive(Clone, Copy, Debug)]
enum Muxer {
    Mplex,
    Yamux,
    Both,
}

#[derive(Clone, Copy, Debug)]
enum KeyType {
    Ed25519,
    Secp256k1,
    Rsa,
}

struct Options {
    muxer: Muxer,
    key_type: KeyType,
    pings: u32,
    echo: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: secio-peer listen [--muxer mplex|yamux|both] [--key-type ed25519|secp256k1|rsa]\n\
         \x20      secio-peer dial ADDR [--pings N] [--echo BYTES] [--muxer ...] [--key-type ...]"
    );
    process::exit(2)
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("secio-peer: error: {}", msg);
    process::exit(1)
}

fn parse_options(args: &[String]) -> Options {
    let mut opts = Options {
        muxer: Muxer::Both,
        key_type: KeyType::Ed25519,
        pings: 3,
        echo: 0,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match (flag.as_str(), value.as_str()) {
            ("--muxer", "mplex") => opts.muxer = Muxer::Mplex,
            ("--muxer", "yamux") => opts.muxer = Muxer::Yamux,
            ("--muxer", "both") => opts.muxer = Muxer::Both,
            ("--key-type", "ed25519") => opts.key_type = KeyType::Ed25519,
            ("--key-type", "secp256k1") => opts.key_type = KeyType::Secp256k1,
            ("--key-type", "rsa") => opts.key_type = KeyType::Rsa,
            ("--pings", n) => opts.pings = n.parse().unwrap_or_else(|_| usage()),
            ("--echo", n) => opts.echo = n.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    opts
}

fn generate_key(key_type: KeyType) -> Keypair {
    match key_type {
        KeyType::Ed25519 => Keypair::generate_ed25519(),
        KeyType::Secp256k1 => Keypair::generate_secp256k1(),
        KeyType::Rsa => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                .unwrap_or_else(|e| fail(format!("RSA key generation: {}", e)));
            let der = key
                .to_pkcs8_der()
                .unwrap_or_else(|e| fail(format!("RSA PKCS#8 encoding: {}", e)));
            // libp2p-core zeroes the buffer it is given, hence the owned copy.
            let mut bytes = der.as_bytes().to_vec();
            Keypair::rsa_from_pkcs8(&mut bytes)
                .unwrap_or_else(|e| fail(format!("RSA key rejected by libp2p-core: {}", e)))
        }
    }
}

/// yamux 0.8 defaults to granting credit when data arrives, not when it is read: a fast
/// sender then overflows the 1 MiB stream buffer of a busy echo responder and the stream is
/// reset. Granting on read gives real back-pressure (both sides of our echo read while they
/// write, so it cannot deadlock).
fn yamux() -> YamuxConfig {
    let mut config = YamuxConfig::default();
    config.set_window_update_mode(WindowUpdateMode::on_read());
    config
}

/// TCP, then SECIO as the only security protocol, then the chosen muxer(s).
fn build_transport(key: Keypair, muxer: Muxer) -> transport::Boxed<(PeerId, StreamMuxerBox)> {
    let secured = TcpConfig::new()
        .nodelay(true)
        .upgrade(upgrade::Version::V1)
        .authenticate(SecioConfig::new(key));
    match muxer {
        Muxer::Mplex => secured
            .multiplex(MplexConfig::new())
            .timeout(UPGRADE_TIMEOUT)
            .boxed(),
        Muxer::Yamux => secured.multiplex(yamux()).timeout(UPGRADE_TIMEOUT).boxed(),
        // The dialer proposes in this order, so yamux is preferred.
        Muxer::Both => secured
            .multiplex(SelectUpgrade::new(yamux(), MplexConfig::new()))
            .timeout(UPGRADE_TIMEOUT)
            .boxed(),
    }
}

// ---------------------------------------------------------------------------------------
// `/echo/1.0.0`: a protocol with no framing; the responder copies every byte back until
// EOF and then closes its side.

#[derive(Clone, Copy, Default)]
struct EchoProtocol;

impl UpgradeInfo for EchoProtocol {
    type Info = &'static [u8];
    type InfoIter = iter::Once<Self::Info>;

    fn protocol_info(&self) -> Self::InfoIter {
        iter::once(ECHO_PROTOCOL)
    }
}

impl InboundUpgrade<NegotiatedSubstream> for EchoProtocol {
    type Output = NegotiatedSubstream;
    type Error = Infallible;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, stream: NegotiatedSubstream, _: Self::Info) -> Self::Future {
        future::ok(stream)
    }
}

impl OutboundUpgrade<NegotiatedSubstream> for EchoProtocol {
    type Output = NegotiatedSubstream;
    type Error = Infallible;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_outbound(self, stream: NegotiatedSubstream, _: Self::Info) -> Self::Future {
        future::ok(stream)
    }
}

/// Bytes the dialer sends: xorshift64 from a fixed seed, so runs are reproducible.
fn echo_payload(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

async fn echo_serve(stream: NegotiatedSubstream) -> io::Result<u64> {
    let (reader, mut writer) = stream.split();
    let copied = futures::io::copy(reader, &mut writer).await?;
    writer.close().await?;
    Ok(copied)
}

async fn echo_client(stream: NegotiatedSubstream, len: usize) -> Result<usize, String> {
    let payload = echo_payload(len);
    let (mut reader, mut writer) = stream.split();
    // Write and read concurrently: the muxers' windows are far smaller than large payloads.
    let send = async {
        writer.write_all(&payload).await?;
        writer.close().await // half-close: tells the responder we are done
    };
    let receive = async {
        let mut back = Vec::with_capacity(len);
        reader.read_to_end(&mut back).await.map(|_| back)
    };
    let (sent, received) = futures::join!(send, receive);
    sent.map_err(|e| format!("echo write/close: {}", e))?;
    let back = received.map_err(|e| format!("echo read: {}", e))?;
    if back.len() != len {
        return Err(format!("echo returned {} bytes, sent {}", back.len(), len));
    }
    if back != payload {
        let at = back
            .iter()
            .zip(&payload)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "echo returned different bytes (first difference at offset {})",
            at
        ));
    }
    Ok(len)
}

enum EchoIn {
    /// Open an outbound echo stream and round-trip this many bytes.
    Run(usize),
}

#[derive(Debug)]
enum EchoOut {
    ClientDone(Result<usize, String>),
    Served(io::Result<u64>),
}

#[derive(Default)]
struct EchoHandler {
    to_open: VecDeque<usize>,
    clients: FuturesUnordered<BoxFuture<'static, Result<usize, String>>>,
    servers: FuturesUnordered<BoxFuture<'static, io::Result<u64>>>,
    failures: VecDeque<String>,
}

impl ProtocolsHandler for EchoHandler {
    type InEvent = EchoIn;
    type OutEvent = EchoOut;
    type Error = Infallible;
    type InboundProtocol = EchoProtocol;
    type OutboundProtocol = EchoProtocol;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = usize;

    fn listen_protocol(&self) -> SubstreamProtocol<EchoProtocol, ()> {
        SubstreamProtocol::new(EchoProtocol, ())
    }

    fn inject_fully_negotiated_inbound(&mut self, stream: NegotiatedSubstream, (): ()) {
        self.servers.push(echo_serve(stream).boxed());
    }

    fn inject_fully_negotiated_outbound(&mut self, stream: NegotiatedSubstream, len: usize) {
        self.clients.push(echo_client(stream, len).boxed());
    }

    fn inject_event(&mut self, event: EchoIn) {
        match event {
            EchoIn::Run(len) => self.to_open.push_back(len),
        }
    }

    fn inject_dial_upgrade_error(&mut self, _: usize, error: ProtocolsHandlerUpgrErr<Infallible>) {
        self.failures
            .push_back(format!("opening an echo stream: {}", error));
    }

    fn connection_keep_alive(&self) -> KeepAlive {
        if self.to_open.is_empty() && self.clients.is_empty() && self.servers.is_empty() {
            KeepAlive::No
        } else {
            KeepAlive::Yes
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ProtocolsHandlerEvent<EchoProtocol, usize, EchoOut, Infallible>> {
        if let Some(len) = self.to_open.pop_front() {
            let protocol = SubstreamProtocol::new(EchoProtocol, len);
            return Poll::Ready(ProtocolsHandlerEvent::OutboundSubstreamRequest { protocol });
        }
        if let Some(error) = self.failures.pop_front() {
            return Poll::Ready(ProtocolsHandlerEvent::Custom(EchoOut::ClientDone(Err(
                error,
            ))));
        }
        if let Poll::Ready(Some(result)) = self.clients.poll_next_unpin(cx) {
            return Poll::Ready(ProtocolsHandlerEvent::Custom(EchoOut::ClientDone(result)));
        }
        if let Poll::Ready(Some(result)) = self.servers.poll_next_unpin(cx) {
            return Poll::Ready(ProtocolsHandlerEvent::Custom(EchoOut::Served(result)));
        }
        Poll::Pending
    }
}

// ---------------------------------------------------------------------------------------
// The behaviour: libp2p-ping's own handler beside the echo handler on every connection.

type Handler = ProtocolsHandlerSelect<PingHandler, EchoHandler>;

#[derive(Debug)]
enum Event {
    Ping(PeerId, PingResult),
    Echo(PeerId, EchoOut),
}

struct Peer {
    ping: PingConfig,
    actions: VecDeque<NetworkBehaviourAction<<Handler as ProtocolsHandler>::InEvent, Event>>,
}

impl Peer {
    fn new(ping: PingConfig) -> Self {
        Peer {
            ping,
            actions: VecDeque::new(),
        }
    }

    fn run_echo(&mut self, peer_id: PeerId, len: usize) {
        self.actions
            .push_back(NetworkBehaviourAction::NotifyHandler {
                peer_id,
                handler: NotifyHandler::Any,
                event: EitherOutput::Second(EchoIn::Run(len)),
            });
    }
}

impl NetworkBehaviour for Peer {
    type ProtocolsHandler = Handler;
    type OutEvent = Event;

    fn new_handler(&mut self) -> Handler {
        ProtocolsHandler::select(PingHandler::new(self.ping.clone()), EchoHandler::default())
    }

    fn addresses_of_peer(&mut self, _: &PeerId) -> Vec<Multiaddr> {
        Vec::new()
    }

    fn inject_connected(&mut self, _: &PeerId) {}

    fn inject_disconnected(&mut self, _: &PeerId) {}

    fn inject_event(
        &mut self,
        peer: PeerId,
        _: ConnectionId,
        event: <Handler as ProtocolsHandler>::OutEvent,
    ) {
        let event = match event {
            EitherOutput::First(result) => Event::Ping(peer, result),
            EitherOutput::Second(out) => Event::Echo(peer, out),
        };
        self.actions
            .push_back(NetworkBehaviourAction::GenerateEvent(event));
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
        _: &mut impl PollParameters,
    ) -> Poll<NetworkBehaviourAction<<Handler as ProtocolsHandler>::InEvent, Event>> {
        match self.actions.pop_front() {
            Some(action) => Poll::Ready(action),
            None => Poll::Pending,
        }
    }
}

fn build_swarm(opts: &Options, ping_interval: Duration) -> Swarm<Peer> {
    let key = generate_key(opts.key_type);
    let local_id = key.public().into_peer_id();
    let ping = PingConfig::new()
        .with_interval(ping_interval)
        .with_timeout(Duration::from_secs(10))
        .with_keep_alive(true)
        // With more than one allowed failure each is reported (the default silently drops
        // the first); `dial` fails on the first report. Three in a row still close the
        // connection, as a stock node would, and a peer that refuses the protocol (the
        // handler retries at once) cannot cause a storm of substreams.
        .with_max_failures(NonZeroU32::new(3).expect("nonzero"));
    SwarmBuilder::new(build_transport(key, opts.muxer), Peer::new(ping), local_id)
        .executor(Box::new(|task| {
            async_std::task::spawn(task);
        }))
        .build()
}

fn print_line(line: &str) {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    // A closed stdout (the harness went away) is no reason to panic.
    let _ = writeln!(out, "{}", line).and_then(|_| out.flush());
}

async fn listen(opts: Options) -> ! {
    let mut swarm = build_swarm(&opts, LISTEN_PING_INTERVAL);
    let local_id = Swarm::local_peer_id(&swarm).clone();
    let addr: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr");
    Swarm::listen_on(&mut swarm, addr).unwrap_or_else(|e| fail(format!("listen: {}", e)));
    eprintln!(
        "secio-peer: listening as {} (muxer {:?}, key {:?})",
        local_id, opts.muxer, opts.key_type
    );
    let mut announced = false;
    loop {
        match swarm.next_event().await {
            SwarmEvent::NewListenAddr(addr) if !announced => {
                announced = true;
                print_line(&format!("{}/p2p/{}", addr, local_id));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                eprintln!("secio-peer: connection from {} ({:?})", peer_id, endpoint)
            }
            SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                eprintln!(
                    "secio-peer: connection with {} closed: {:?}",
                    peer_id, cause
                )
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                eprintln!(
                    "secio-peer: inbound from {} failed: {}",
                    send_back_addr, error
                )
            }
            SwarmEvent::ListenerError { error } => {
                eprintln!("secio-peer: listener error: {}", error)
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                fail(format!("listener closed: {:?}", reason))
            }
            SwarmEvent::Behaviour(Event::Ping(peer, result)) => match result {
                Ok(PingSuccess::Ping { rtt }) => {
                    eprintln!(
                        "secio-peer: pinged {} in {:.3} ms",
                        peer,
                        rtt.as_secs_f64() * 1e3
                    )
                }
                Ok(PingSuccess::Pong) => eprintln!("secio-peer: answered a ping from {}", peer),
                Err(e) => eprintln!("secio-peer: ping of {} failed: {}", peer, e),
            },
            SwarmEvent::Behaviour(Event::Echo(peer, out)) => {
                eprintln!("secio-peer: echo with {}: {:?}", peer, out)
            }
            other => log::debug!("swarm event: {:?}", other),
        }
    }
}

/// Splits `/ip4/.../tcp/.../p2p/ID` into the address to dial and the PeerId to expect.
fn split_p2p(mut addr: Multiaddr) -> (Multiaddr, PeerId) {
    match addr.pop() {
        Some(Protocol::P2p(hash)) => match PeerId::from_multihash(hash) {
            Ok(id) => (addr, id),
            Err(_) => fail("the /p2p/ part of ADDR is not a valid PeerId"),
        },
        _ => fail("ADDR must end in /p2p/PEERID"),
    }
}

async fn dial(addr: Multiaddr, opts: Options) -> Result<(), String> {
    let (addr, expected) = split_p2p(addr);
    let mut swarm = build_swarm(&opts, DIAL_PING_INTERVAL);
    eprintln!(
        "secio-peer: dialing {} as {} (muxer {:?}, key {:?})",
        addr,
        Swarm::local_peer_id(&swarm),
        opts.muxer,
        opts.key_type
    );
    Swarm::dial_addr(&mut swarm, addr).map_err(|e| format!("dial: {:?}", e))?;

    let mut pings_done = 0;
    let mut echo_done = opts.echo == 0;
    loop {
        if pings_done >= opts.pings && echo_done {
            return Ok(());
        }
        match swarm.next_event().await {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                if peer_id != expected {
                    return Err(format!(
                        "remote PeerId is {}, expected {}",
                        peer_id, expected
                    ));
                }
                eprintln!("secio-peer: SECIO session with {}", peer_id);
                if opts.echo > 0 {
                    swarm.run_echo(peer_id, opts.echo);
                }
            }
            SwarmEvent::UnknownPeerUnreachableAddr { address, error } => {
                return Err(format!("connecting to {} failed: {}", address, error))
            }
            SwarmEvent::ConnectionClosed { cause, .. } => {
                return Err(format!("connection closed early: {:?}", cause))
            }
            SwarmEvent::Behaviour(Event::Ping(_, result)) => match result {
                Ok(PingSuccess::Ping { rtt }) => {
                    if pings_done < opts.pings {
                        pings_done += 1;
                        print_line(&format!("ping {:.3}", rtt.as_secs_f64() * 1e3));
                    }
                }
                Ok(PingSuccess::Pong) => eprintln!("secio-peer: answered a ping from the listener"),
                Err(e) => return Err(format!("ping failed: {}", e)),
            },
            SwarmEvent::Behaviour(Event::Echo(_, EchoOut::ClientDone(result))) => {
                let len = result?;
                print_line(&format!("echo {} ok", len));
                echo_done = true;
            }
            SwarmEvent::Behaviour(Event::Echo(_, EchoOut::Served(result))) => {
                eprintln!("secio-peer: served an inbound echo stream: {:?}", result)
            }
            other => log::debug!("swarm event: {:?}", other),
        }
    }
}

fn main() {
    // Logs go to stderr (env_logger's default), filtered by RUST_LOG; quiet otherwise.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("listen") => async_std::task::block_on(listen(parse_options(&args[1..]))),
        Some("dial") => {
            let addr: Multiaddr = match args.get(1) {
                Some(a) => a
                    .parse()
                    .unwrap_or_else(|e| fail(format!("bad ADDR {}: {}", a, e))),
                None => usage(),
            };
            let opts = parse_options(&args[2..]);
            let run = async_std::future::timeout(DIAL_DEADLINE, dial(addr, opts));
            match async_std::task::block_on(run) {
                Ok(Ok(())) => process::exit(0),
                Ok(Err(msg)) => fail(msg),
                Err(_) => fail(format!("timed out after {} s", DIAL_DEADLINE.as_secs())),
            }
        }
        _ => usage(),
    }
}
