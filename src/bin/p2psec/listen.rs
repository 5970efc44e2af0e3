//! `p2psec listen`: accept libp2p connections, upgrade them, and serve ping and echo on
//! their yamux or mplex streams until killed.

use p2psec::multiaddr::Multiaddr;
use serde_json::json;
use tokio::net::TcpListener;

use crate::net::{self, Muxer, SecurityArgs};
use crate::output::{CliError, Output};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Where to listen (a TCP multiaddr; port 0 picks a free one).
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
    addr: String,
    #[command(flatten)]
    security: SecurityArgs,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    let config = args.security.config()?;
    let addr: Multiaddr = args.addr.parse().map_err(|e| format!("--addr: {e}"))?;
    let socket = addr
        .tcp_socket_addr()
        .ok_or_else(|| format!("--addr {addr}: not an /ip4|/ip6/…/tcp/… address"))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = TcpListener::bind(socket)
            .await
            .map_err(|e| format!("listen on {socket}: {e}"))?;
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
            let config = config.clone();
            let json = out.json();
            tokio::spawn(async move {
                match net::accept(tcp, &config).await {
                    Ok((io, info)) => {
                        Output::new(json).record(&[
                            ("event", json!("connection")),
                            ("from", json!(from.to_string())),
                            ("remote_peer_id", json!(info.remote_peer_id.to_base58())),
                            ("security", json!(info.security.protocol_id())),
                            ("muxer", json!(info.muxer)),
                        ]);
                        // the listener opens no streams; the task serves the peer's
                        // (the handle lives as long as the connection: dropping it
                        // would close the connection)
                        let (_muxer, task) = Muxer::start(io, false);
                        let _ = task.await;
                    }
                    Err(e) => eprintln!("connection from {from}: {e}"),
                }
            });
        }
    })
}
