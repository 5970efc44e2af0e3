//! `p2psec dial`: connect to a libp2p node, upgrade, then ping it and check an echo.

use p2psec::multiaddr::Multiaddr;
use p2psec::upgrade::PeerMemory;
use serde_json::json;

use crate::net::{self, ms, Muxer, Role, SecurityArgs};
use crate::output::{CliError, Output};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The node's address, ending in `/p2p/<PeerId>` (checked against who answers).
    addr: String,
    #[command(flatten)]
    security: SecurityArgs,
    /// Pings to send (one stream, one after another).
    #[arg(long, default_value_t = 0)]
    ping: usize,
    /// Random bytes to send on an `/echo/1.0.0` stream and check coming back.
    #[arg(long)]
    echo: Option<usize>,
    /// Dial the address this many times, one after another, in this process: the dials
    /// after the first propose what the peer accepted before (one round trip).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Run the upgrade as its listener on this outbound connection (hole punching's role
    /// override: the peer, which accepted it, runs the dialer's upgrade, e.g. `p2psec
    /// listen --as-dialer` or a rust-libp2p Swarm dialing with `override_role`). The
    /// PeerId in the address is still checked; no peer memory (the listener proposes
    /// nothing).
    #[arg(long, conflicts_with = "repeat")]
    as_listener: bool,
    /// Seconds to keep the connection open after the pings and the echo, still answering
    /// the peer's streams (its own pings), before the clean close.
    #[arg(long, default_value = "0", value_parser = net::seconds)]
    linger: std::time::Duration,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    let config = args.security.config()?;
    let timeout = args.security.handshake_timeout;
    let role = if args.as_listener {
        Role::Listener
    } else {
        Role::Dialer
    };
    let addr: Multiaddr = args
        .addr
        .parse()
        .map_err(|e| format!("{}: {e}", args.addr))?;
    let expected = addr.peer_id().map_err(|e| format!("{addr}: {e}"))?;
    let socket = addr
        .tcp_socket_addr()
        .ok_or_else(|| format!("{addr}: not an /ip4|/ip6/…/tcp/… address"))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    // one memory for the process: what each peer accepted, for the next dial
    let mut memory = PeerMemory::default();
    runtime.block_on(async {
        let (mut attempt, mut redialed) = (1, false);
        while attempt <= args.repeat {
            let (io, info, took) = match (expected, role) {
                (Some(peer), Role::Dialer) => {
                    net::dial_remembering(socket, &config, peer, &mut memory, timeout).await?
                }
                _ => net::dial_in_role(socket, &config, expected, timeout, role).await?,
            };
            out.record(&[
                ("event", json!("connected")),
                ("dial", json!(attempt)),
                ("remote_peer_id", json!(info.remote_peer_id.to_base58())),
                ("local_peer_id", json!(config.local_peer_id().to_base58())),
                ("security", json!(info.security.protocol_id())),
                ("muxer", json!(info.muxer)),
                (
                    "muxer_selection",
                    json!(format!("{:?}", info.muxer_selection)),
                ),
                ("round_trips", json!(info.round_trips)),
                (
                    "memory",
                    json!(if info.recalled { "used" } else { "empty" }),
                ),
                ("handshake_ms", json!(ms(took))),
            ]);
            match session(io, &args, role, out).await {
                Ok(()) => attempt += 1,
                // a remembered muxer the peer refused shows only once the streams run
                // (the adapter redials a refused security protocol itself): forget it
                // and dial this one again, once, with the full lists
                Err(e) if !redialed && info.recalled && e.contains("remembered protocol") => {
                    if let Some(peer) = expected {
                        memory.forget(&peer);
                    }
                    redialed = true;
                    out.record(&[("event", json!("redial")), ("reason", json!(e))]);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
}

/// What one dial does once upgraded: the pings, the echo, the linger, then a clean close.
async fn session(io: net::Secured, args: &Args, role: Role, out: &Output) -> Result<(), CliError> {
    // yamux's client is the upgrade's dialer, whichever side opened the connection
    let (muxer, task) = Muxer::start(io, role == Role::Dialer, None);
    if args.ping > 0 {
        net::ping(&muxer, args.ping, |seq, rtt| {
            out.record(&[
                ("event", json!("ping")),
                ("seq", json!(seq)),
                ("rtt_ms", json!(ms(rtt))),
            ]);
        })
        .await?;
    }
    if let Some(len) = args.echo {
        let took = net::echo(&muxer, len).await?;
        out.record(&[
            ("event", json!("echo")),
            ("bytes", json!(len)),
            ("ok", json!(true)),
            ("ms", json!(ms(took))),
        ]);
    }
    // the muxer's task serves the peer's streams meanwhile
    tokio::time::sleep(args.linger).await;
    // closing the last handle makes the task close the muxer (yamux's GoAway) and end
    drop(muxer);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
    Ok(())
}
