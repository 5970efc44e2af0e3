//! What `listen`, `dial` and `demo` share: the upgrade configuration from the command
//! line, the upgrade itself, and the two protocols served and used on the muxer's streams:
//! ping and echo (the muxer's task is in `muxer.rs`).

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use p2psec::adapters::{self, ConnectionInfo};
use p2psec::identity::{KeyPolicy, KeyType, Keypair};
use p2psec::upgrade::{Config, PeerMemory, SecurityProtocol};
use tokio::net::TcpStream;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::output::CliError;

mod idle;
mod muxer;

pub(crate) use muxer::Muxer;
use muxer::Stream;

/// libp2p ping (spec: ping/ping.md): 32 random bytes, echoed.
pub(crate) const PING: &str = "/ipfs/ping/1.0.0";
/// Echo: every byte of the stream written back until end of stream.
pub(crate) const ECHO: &str = "/echo/1.0.0";
const PING_LEN: usize = 32;

/// The options `listen` and `dial` share.
#[derive(clap::Args, Clone)]
pub(crate) struct SecurityArgs {
    /// Identity: a protobuf private key file (from `p2psec keygen --out`). Default: a
    /// fresh Ed25519 identity.
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// Security protocols in preference order, comma-separated: noise, tls, and (built
    /// with the `secio` feature) secio, deprecated, only last, to reach legacy peers.
    #[arg(long, default_value = "noise,tls", value_delimiter = ',')]
    pub(crate) security: Vec<String>,
    /// Stream muxers in preference order, comma-separated: yamux, mplex (the legacy
    /// muxer of SECIO-era peers).
    #[arg(long, default_value = "yamux,mplex", value_delimiter = ',')]
    pub(crate) muxer: Vec<String>,
    /// Do not offer the muxer inside the handshake (always negotiate it afterwards).
    #[arg(long)]
    pub(crate) no_early_muxer: bool,
    /// Wait for every multistream answer (V1) instead of negotiating optimistically.
    #[arg(long)]
    pub(crate) no_optimistic: bool,
    /// Seconds each connection's upgrade (security negotiation, handshake, muxer) may
    /// take: a peer that stalls or trickles its handshake is cut then (rust-libp2p's and
    /// js-libp2p's value).
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub(crate) handshake_timeout: Duration,
    /// Accept remotes whose identity is a 1024- to 2047-bit RSA key (old js-libp2p and
    /// go-libp2p nodes). Risky: such a key can be factored by a well-funded attacker, who
    /// could then impersonate that PeerId. Off by default; our own keys stay >= 2048 bits.
    #[arg(long)]
    pub(crate) legacy_rsa_1024: bool,
    /// A private network's key file (libp2p pnet: `/key/swarm/psk/1.0.0/`, from `p2psec
    /// psk generate` or go-libp2p's `swarm.key`): only peers holding the same key connect.
    #[arg(long)]
    pub(crate) psk: Option<PathBuf>,
}

/// A duration given in seconds (decimals allowed), as the command line takes them.
pub(crate) fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?}: out of range"))
}

fn err(e: impl std::fmt::Display) -> CliError {
    e.to_string()
}

impl SecurityArgs {
    /// The identity and the upgrade configuration these options describe.
    pub(crate) fn config(&self) -> Result<Config, CliError> {
        let identity = match &self.key {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                Keypair::try_decode_protobuf(&bytes)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Keypair::generate_with_os_rng(KeyType::Ed25519).map_err(err)?,
        };
        let security = self
            .security
            .iter()
            .map(|s| s.trim().parse::<SecurityProtocol>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let mut muxers = Vec::new();
        for name in &self.muxer {
            let id = match name.trim() {
                "yamux" | p2psec::upgrade::YAMUX => p2psec::upgrade::YAMUX,
                "mplex" | p2psec::mplex::MPLEX => p2psec::mplex::MPLEX,
                other => return Err(format!("unsupported muxer {other:?} (yamux or mplex)")),
            };
            if muxers.contains(&id) {
                return Err(format!("--muxer lists {id} twice"));
            }
            muxers.push(id);
        }
        let config = Config::new(
            &identity,
            adapters::unix_time_now(),
            &mut adapters::os_rng(),
        )
        .map_err(err)?
        .with_security(security)
        .map_err(err)?
        .with_muxers(muxers)
        .map_err(err)?
        .with_early_muxer_negotiation(!self.no_early_muxer)
        .with_optimistic_negotiation(!self.no_optimistic)
        .with_key_policy(if self.legacy_rsa_1024 {
            KeyPolicy::allowing_legacy_rsa_1024()
        } else {
            KeyPolicy::STRICT
        });
        match &self.psk {
            Some(path) => {
                let key = crate::psk::read(path)?;
                eprintln!("private network: key fingerprint {}", key.fingerprint());
                Ok(config.with_psk(key))
            }
            None => Ok(config),
        }
    }
}

/// An upgraded TCP connection, boxed as soon as the upgrade returns it: the tasks that
/// carry it for the connection's life then hold a pointer, not the stream (an async
/// function keeps a slot for every value it moves, so an unboxed stream passed down
/// through the muxer's futures was held several times over: 8.4 KB per connection).
pub(crate) type Secured = Box<adapters::tokio::SecureStream<TcpStream>>;

/// Dials `addr` and upgrades; returns the stream, what was agreed and the upgrade's time.
pub(crate) async fn dial(
    addr: std::net::SocketAddr,
    config: &Config,
    expected: Option<p2psec::PeerId>,
    timeout: Duration,
) -> Result<(Secured, ConnectionInfo, Duration), CliError> {
    dial_in_role(addr, config, expected, timeout, Role::Dialer).await
}

/// Which side of the upgrade a connection runs: normally the one of its TCP role; hole
/// punching may make the side that opened it run the listener's (`dial --as-listener`)
/// and the side that accepted it the dialer's (`listen --as-dialer`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    Dialer,
    Listener,
}

/// [`dial`], with the upgrade run as `role`.
pub(crate) async fn dial_in_role(
    addr: std::net::SocketAddr,
    config: &Config,
    expected: Option<p2psec::PeerId>,
    timeout: Duration,
    role: Role,
) -> Result<(Secured, ConnectionInfo, Duration), CliError> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let start = Instant::now();
    let upgraded = match role {
        Role::Dialer => adapters::tokio::dial(tcp, config, expected, timeout).await,
        Role::Listener => adapters::tokio::dial_as_listener(tcp, config, expected, timeout).await,
    };
    let stream = Box::new(upgraded.map_err(upgrade_error)?);
    let elapsed = start.elapsed();
    let info = stream.info().clone();
    Ok((stream, info, elapsed))
}

/// [`dial`] through the process's peer memory: what `expected` accepted last time is
/// proposed alone (one round trip); a refusal of it forgets the peer and redials once
/// with the full lists (the adapter does both).
pub(crate) async fn dial_remembering(
    addr: std::net::SocketAddr,
    config: &Config,
    expected: p2psec::PeerId,
    memory: &mut PeerMemory,
    timeout: Duration,
) -> Result<(Secured, ConnectionInfo, Duration), CliError> {
    let start = Instant::now();
    // a failed connect keeps its own message: it is not an upgrade failure
    let connect = || async move {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                Ok(tcp)
            }
            Err(e) => Err(io::Error::new(
                e.kind(),
                ConnectFailed(format!("connect {addr}: {e}")),
            )),
        }
    };
    let stream = Box::new(
        adapters::tokio::dial_with_memory(connect, config, expected, memory, timeout)
            .await
            .map_err(
                |e| match e.get_ref().and_then(|i| i.downcast_ref::<ConnectFailed>()) {
                    Some(ConnectFailed(text)) => text.clone(),
                    None => upgrade_error(e),
                },
            )?,
    );
    let elapsed = start.elapsed();
    let info = stream.info().clone();
    Ok((stream, info, elapsed))
}

/// A connect that failed inside [`dial_remembering`], told apart from the upgrade's errors.
#[derive(Debug)]
struct ConnectFailed(String);

impl std::fmt::Display for ConnectFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectFailed {}

/// Accepts one upgrade on an accepted TCP connection, within `timeout`, run as `role`.
pub(crate) async fn accept(
    tcp: TcpStream,
    config: &Config,
    timeout: Duration,
    role: Role,
) -> Result<(Secured, ConnectionInfo), CliError> {
    let _ = tcp.set_nodelay(true);
    let upgraded = match role {
        Role::Listener => adapters::tokio::accept(tcp, config, timeout).await,
        Role::Dialer => adapters::tokio::accept_as_dialer(tcp, config, None, timeout).await,
    };
    let stream = Box::new(upgraded.map_err(upgrade_error)?);
    let info = stream.info().clone();
    Ok((stream, info))
}

/// The crate's typed error inside the `io::Error`, named.
fn upgrade_error(e: io::Error) -> CliError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<p2psec::upgrade::Error>())
    {
        Some(typed) => format!("upgrade failed: {typed}"),
        None => format!("upgrade failed: {e}"),
    }
}

/// Serves one inbound stream: ping or echo, until the peer closes it.
async fn serve(mut stream: Stream) {
    let result = async {
        let agreed = adapters::tokio::negotiate_listener(&mut (&mut stream).compat(), [PING, ECHO])
            .await
            .map_err(err)?;
        match agreed.protocol.as_str() {
            PING => serve_ping(&mut stream, agreed.remaining).await,
            _ => serve_echo(&mut stream, agreed.remaining).await,
        }
    }
    .await;
    if let Err(e) = result {
        eprintln!("stream: {e}");
    }
    let _ = stream.close().await;
}

/// Answers pings on one stream until its end (rust-libp2p reuses one stream for every
/// ping; js sends one and half-closes).
async fn serve_ping(stream: &mut Stream, early: Vec<u8>) -> Result<(), CliError> {
    let mut pending = early;
    let mut buf = [0u8; 1024];
    loop {
        while pending.len() >= PING_LEN {
            let ping: Vec<u8> = pending.drain(..PING_LEN).collect();
            stream.write_all(&ping).await.map_err(err)?;
            stream.flush().await.map_err(err)?;
        }
        let n = stream.read(&mut buf).await.map_err(err)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

async fn serve_echo(stream: &mut Stream, early: Vec<u8>) -> Result<(), CliError> {
    if !early.is_empty() {
        stream.write_all(&early).await.map_err(err)?;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await.map_err(err)?;
        if n == 0 {
            return stream.flush().await.map_err(err);
        }
        stream.write_all(&buf[..n]).await.map_err(err)?;
    }
}

/// Sends `count` pings on one stream; returns each round-trip time.
pub(crate) async fn ping(
    muxer: &Muxer,
    count: usize,
    mut each: impl FnMut(usize, Duration),
) -> Result<Vec<Duration>, CliError> {
    let mut stream = muxer.open(PING).await?;
    let mut rtts = Vec::with_capacity(count);
    for seq in 1..=count {
        let mut payload = [0u8; PING_LEN];
        getrandom::fill(&mut payload).map_err(err)?;
        let start = Instant::now();
        stream.write_all(&payload).await.map_err(err)?;
        stream.flush().await.map_err(err)?;
        let mut back = [0u8; PING_LEN];
        stream
            .read_exact(&mut back)
            .await
            .map_err(|e| format!("ping {seq}: {e}"))?;
        let rtt = start.elapsed();
        if back != payload {
            return Err(format!("ping {seq}: the answer differs from the ping"));
        }
        each(seq, rtt);
        rtts.push(rtt);
    }
    let _ = stream.close().await;
    Ok(rtts)
}

/// Sends `len` random bytes on an echo stream while reading them back; returns the time
/// from the first byte sent to the last byte back.
pub(crate) async fn echo(muxer: &Muxer, len: usize) -> Result<Duration, CliError> {
    let stream = muxer.open(ECHO).await?;
    let mut data = vec![0u8; len];
    getrandom::fill(&mut data).map_err(err)?;
    let (mut reader, mut writer) = stream.split();
    let start = Instant::now();
    let send = async {
        for chunk in data.chunks(64 * 1024) {
            writer.write_all(chunk).await?;
        }
        // half-close: the echo server ends the stream once it has sent everything back
        writer.close().await
    };
    let receive = async {
        let mut back = vec![0u8; len];
        reader.read_exact(&mut back).await?;
        Ok::<_, io::Error>(back)
    };
    let (sent, back) = futures::join!(send, receive);
    sent.map_err(|e| format!("echo send: {e}"))?;
    let back = back.map_err(|e| format!("echo receive: {e}"))?;
    let elapsed = start.elapsed();
    if back != data {
        return Err("echo: the bytes that came back differ".into());
    }
    Ok(elapsed)
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
