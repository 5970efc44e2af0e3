//! `p2psec listen`: accept libp2p connections, upgrade them, and serve ping and echo on
//! their yamux or mplex streams until killed.
//!
//! Limits, each stated as an option: every upgrade must finish within
//! `--handshake-timeout`; at most `--max-pending` upgrades run at once, and a connection
//! above that is closed at once (not queued: a queue would only make the flood's victims
//! wait for their deadline); an upgraded connection that moves no byte for
//! `--idle-timeout` is closed. The accept backlog is [`LISTEN_BACKLOG`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use p2psec::multiaddr::Multiaddr;
use serde_json::json;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

use crate::net::{self, Muxer, Role, SecurityArgs};
use crate::output::{CliError, Output};

/// The TCP accept backlog asked for (the kernel caps it at `net.core.somaxconn`, 4096 on
/// current Linux): 1,000 simultaneous dials fit in it with room to spare.
const LISTEN_BACKLOG: u32 = 4096;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Where to listen (a TCP multiaddr; port 0 picks a free one).
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
    addr: String,
    #[command(flatten)]
    security: SecurityArgs,
    /// Upgrades allowed in progress at once; a connection above it is closed at once. The
    /// default admits 1,000 simultaneous dials twice over (benches/load.rs: 512 refused a
    /// third of them) while bounding what a flood of stalled handshakes can hold: each
    /// holds its 2 KiB read room, the multistream machine and, once a TLS ClientHello
    /// arrived, rustls's server state, all freed at the handshake deadline.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..))]
    max_pending: u32,
    /// Seconds an upgraded connection may move no byte before it is closed (a peer that
    /// stalls inside a frame moves none); 0: never. rust-libp2p's ping keeps a healthy
    /// connection busy every 15 s.
    #[arg(long, default_value = "300", value_parser = net::seconds)]
    idle_timeout: Duration,
    /// Run the upgrade of every accepted connection as its dialer (hole punching's role
    /// override: the peer that opened the connection runs the listener's upgrade, e.g. a
    /// rust-libp2p Swarm dialing with `override_role`, or `p2psec dial --as-listener`).
    #[arg(long)]
    as_dialer: bool,
}

/// Binds with the stated backlog (tokio's `TcpListener::bind` would take its own).
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    let config = args.security.config()?;
    let handshake_timeout = args.security.handshake_timeout;
    let idle_timeout = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    let role = if args.as_dialer {
        Role::Dialer
    } else {
        Role::Listener
    };
    let addr: Multiaddr = args.addr.parse().map_err(|e| format!("--addr: {e}"))?;
    let socket = addr
        .tcp_socket_addr()
        .ok_or_else(|| format!("--addr {addr}: not an /ip4|/ip6/…/tcp/… address"))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let pending = Arc::new(Semaphore::new(args.max_pending as usize));
    runtime.block_on(async {
        let listener = bind(socket).map_err(|e| format!("listen on {socket}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let full = Multiaddr::from_tcp_socket_addr(bound).with_peer_id(&config.local_peer_id());
        // the first line is the address alone, so scripts can read it
        if out.json() {
            out.record(&[
                ("event", json!("listening")),
                ("addr", json!(full.to_string())),
            ]);
        } else {
            println!("{full}");
        }
        loop {
            let (tcp, from) = listener.accept().await.map_err(|e| e.to_string())?;
            let Ok(permit) = pending.clone().try_acquire_owned() else {
                // over the cap: closed now, so the dialer learns at once
                drop(tcp);
                eprintln!("connection from {from}: refused, --max-pending upgrades in progress");
                continue;
            };
            let config = config.clone();
            let json = out.json();
            tokio::spawn(async move {
                // boxed: the handshake's state is freed once it is done, instead of
                // staying in this task's frame for the connection's life
                let upgraded = Box::pin(net::accept(tcp, &config, handshake_timeout, role)).await;
                drop(permit);
                match upgraded {
                    Ok((io, info)) => {
                        Output::new(json).record(&[
                            ("event", json!("connection")),
                            ("from", json!(from.to_string())),
                            ("remote_peer_id", json!(info.remote_peer_id.to_base58())),
                            ("security", json!(info.security.protocol_id())),
                            ("muxer", json!(info.muxer)),
                        ]);
                        // the listener opens no streams; this task serves the peer's
                        Muxer::serve_inbound(io, role == Role::Dialer, idle_timeout).await;
                    }
                    Err(e) => eprintln!("connection from {from}: {e}"),
                }
            });
        }
    })
}
