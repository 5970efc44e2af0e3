//! `p2psec demo`: for each security protocol compiled in (or each one `--security` names,
//! `secio` included when built with that feature), a listener and a dialer in one process
//! over loopback TCP: the upgrade, a ping, and a 64 MiB echo on yamux streams; then a
//! table of what each took.

use std::time::Duration;

use p2psec::adapters::{os_rng, unix_time_now, DEFAULT_HANDSHAKE_TIMEOUT};
use p2psec::identity::{KeyType, Keypair};
use p2psec::pnet::PreSharedKey;
use p2psec::upgrade::{Config, SecurityProtocol};
use serde_json::json;
use tokio::net::TcpListener;

use crate::net::{self, ms, Muxer};
use crate::output::{CliError, Output};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// MiB to echo per protocol.
    #[arg(long, default_value_t = 64)]
    echo_mib: usize,
    /// Security protocols to run, comma-separated (default: noise and tls; `secio` is
    /// accepted when built with the `secio` feature).
    #[arg(long, value_delimiter = ',')]
    security: Vec<String>,
    /// Run both ends in the private network of this key file (libp2p pnet).
    #[arg(long)]
    psk: Option<std::path::PathBuf>,
}

struct Row {
    protocol: SecurityProtocol,
    dialer: String,
    listener: String,
    muxer: String,
    round_trips: u32,
    handshake: Duration,
    ping: Duration,
    echo: Duration,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let len = args.echo_mib * 1024 * 1024;
    let psk = args.psk.as_deref().map(crate::psk::read).transpose()?;
    let mut rows = Vec::new();
    let protocols = if args.security.is_empty() {
        SecurityProtocol::ALL.to_vec()
    } else {
        args.security
            .iter()
            .map(|s| s.trim().parse::<SecurityProtocol>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?
    };
    for protocol in protocols {
        let row = runtime.block_on(one(protocol, len, psk.as_ref()))?;
        if out.json() {
            out.record(&[
                ("security", json!(row.protocol.protocol_id())),
                ("dialer", json!(row.dialer)),
                ("listener", json!(row.listener)),
                ("muxer", json!(row.muxer)),
                ("round_trips", json!(row.round_trips)),
                ("handshake_ms", json!(ms(row.handshake))),
                ("ping_ms", json!(ms(row.ping))),
                ("echo_bytes", json!(len)),
                ("echo_ms", json!(ms(row.echo))),
                ("echo_mib_per_s", json!(mib_per_s(len, row.echo))),
            ]);
        }
        rows.push(row);
    }
    if !out.json() {
        println!(
            "{:<11} {:<14} {:<14} {:<13} {:>11} {:>13} {:>9} {:>20}",
            "security",
            "dialer",
            "listener",
            "muxer",
            "round trips",
            "handshake ms",
            "ping ms",
            "echo MiB/s each way"
        );
        for r in &rows {
            println!(
                "{:<11} {:<14} {:<14} {:<13} {:>11} {:>13.3} {:>9.3} {:>20.1}",
                r.protocol.protocol_id(),
                short(&r.dialer),
                short(&r.listener),
                r.muxer,
                r.round_trips,
                ms(r.handshake),
                ms(r.ping),
                mib_per_s(len, r.echo),
            );
        }
        println!(
            "\nround trips: what the dialer's upgrade waited for before it could send muxed data \
             (optimistic multistream-select, muxer agreed inside the handshake)."
        );
    }
    Ok(())
}

/// One protocol: listen, dial, upgrade, ping, echo.
async fn one(
    protocol: SecurityProtocol,
    len: usize,
    psk: Option<&PreSharedKey>,
) -> Result<Row, CliError> {
    let listener_config = config(protocol, psk)?;
    let dialer_config = config(protocol, psk)?;
    let tcp = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = tcp.local_addr().map_err(|e| e.to_string())?;
    let server_config = listener_config.clone();
    let server = tokio::spawn(async move {
        let (conn, _) = tcp.accept().await.map_err(|e| e.to_string())?;
        let (io, _) = net::accept(
            conn,
            &server_config,
            DEFAULT_HANDSHAKE_TIMEOUT,
            net::Role::Listener,
        )
        .await?;
        let (_muxer, task) = Muxer::start(io, false, None);
        let _ = task.await;
        Ok::<_, CliError>(())
    });
    let expected = listener_config.local_peer_id();
    let (io, info, handshake) = net::dial(
        addr,
        &dialer_config,
        Some(expected),
        DEFAULT_HANDSHAKE_TIMEOUT,
    )
    .await?;
    let (muxer, task) = Muxer::start(io, true, None);
    let rtts = net::ping(&muxer, 1, |_, _| {}).await?;
    let echo = net::echo(&muxer, len).await?;
    drop(muxer);
    let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    Ok(Row {
        protocol,
        dialer: dialer_config.local_peer_id().to_base58(),
        listener: info.remote_peer_id.to_base58(),
        muxer: info.muxer.unwrap_or_default(),
        round_trips: info.round_trips,
        handshake,
        ping: rtts.first().copied().unwrap_or_default(),
        echo,
    })
}

fn config(protocol: SecurityProtocol, psk: Option<&PreSharedKey>) -> Result<Config, CliError> {
    let identity = Keypair::generate_with_os_rng(KeyType::Ed25519).map_err(|e| e.to_string())?;
    let config = Config::new(&identity, unix_time_now(), &mut os_rng())
        .and_then(|c| c.with_security([protocol]))
        .map_err(|e| e.to_string())?;
    Ok(match psk {
        Some(key) => config.with_psk(key.clone()),
        None => config,
    })
}

fn mib_per_s(len: usize, took: Duration) -> f64 {
    let mib = len as f64 / (1024.0 * 1024.0);
    (mib / took.as_secs_f64().max(1e-9) * 10.0).round() / 10.0
}

/// A PeerId's last characters, enough to tell the sides apart in a table.
fn short(peer: &str) -> String {
    let tail: String = peer
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}
