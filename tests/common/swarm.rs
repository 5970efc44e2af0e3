//! A rust-libp2p 0.57 `Swarm` for the interop tests: TCP, one security protocol
//! (`/noise` or `/tls/1.0.0`), yamux and the ping behaviour (it pings every connection
//! every 250 ms and answers pings), driven by a tokio task that reports what it saw.
//! Shared by tests/interop_rust.rs and tests/ffi_ping.rs.
//!
//! Included with `#[path = "common/swarm.rs"] mod swarm;`.
#![allow(dead_code)]

use std::time::Duration;

use libp2p::{
    core::ConnectedPoint, futures::StreamExt, identity::Keypair, noise, ping, swarm::SwarmEvent,
    tcp, tls, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder,
};
use tokio::{
    sync::mpsc,
    task::JoinHandle,
    time::{timeout, timeout_at, Instant},
};

/// Limit for a Swarm to reach what a test waits for.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);
/// The Swarm's ping interval: short, so it pings its peer while a test still runs.
const PING_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug)]
pub(crate) enum Security {
    Noise,
    Tls,
}

impl Security {
    /// The value of the CLI's `--security`.
    pub(crate) fn cli(self) -> &'static str {
        match self {
            Security::Noise => "noise",
            Security::Tls => "tls",
        }
    }

    /// The multistream-select protocol id.
    pub(crate) fn protocol(self) -> &'static str {
        match self {
            Security::Noise => "/noise",
            Security::Tls => "/tls/1.0.0",
        }
    }
}

/// Whose security upgrade a Swarm runs: rust-libp2p's own (libp2p-noise, libp2p-tls) or
/// p2psec's inside the same Swarm (`p2psec::libp2p`, feature `libp2p`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stack {
    Stock,
    #[cfg(feature = "libp2p")]
    P2psec,
}

/// A Swarm over TCP with only `security`, yamux and ping; a fresh Ed25519 identity.
pub(crate) fn build_swarm(security: Security) -> Swarm<ping::Behaviour> {
    build_swarm_on(security, Stack::Stock)
}

/// [`build_swarm`] with the security upgrade of `stack`.
pub(crate) fn build_swarm_on(security: Security, stack: Stack) -> Swarm<ping::Behaviour> {
    let behaviour = |_: &Keypair| {
        ping::Behaviour::new(
            ping::Config::new()
                .with_interval(PING_INTERVAL)
                .with_timeout(Duration::from_secs(10)),
        )
    };
    // Ping streams do not keep a connection alive: without this the Swarm would close an
    // otherwise idle connection 10 s after it was established.
    let config = |c: libp2p::swarm::Config| c.with_idle_connection_timeout(Duration::from_secs(60));
    let builder = SwarmBuilder::with_new_identity().with_tokio();
    // one arm per upgrade type: `with_tcp` is generic over it
    macro_rules! finish {
        ($upgrade:expr) => {
            builder
                .with_tcp(tcp::Config::default(), $upgrade, yamux::Config::default)
                .expect("transport")
                .with_behaviour(behaviour)
                .expect("ping behaviour")
                .with_swarm_config(config)
                .build()
        };
    }
    match (security, stack) {
        (Security::Noise, Stack::Stock) => finish!(noise::Config::new),
        (Security::Tls, Stack::Stock) => finish!(tls::Config::new),
        #[cfg(feature = "libp2p")]
        (Security::Noise, Stack::P2psec) => finish!(p2psec::libp2p::Noise::new),
        #[cfg(feature = "libp2p")]
        (Security::Tls, Stack::P2psec) => finish!(p2psec::libp2p::Tls::new),
    }
}

/// A Swarm in the private network of `psk` (libp2p-pnet beneath the security upgrade, as
/// rust-libp2p composes it: `tcp.and_then(pnet handshake).upgrade(..)`), with only
/// `security`, yamux and ping.
pub(crate) fn build_pnet_swarm(security: Security, psk: [u8; 32]) -> Swarm<ping::Behaviour> {
    use libp2p::core::muxing::StreamMuxerBox;
    use libp2p::core::transport::Transport;
    use libp2p::core::upgrade::Version;
    use libp2p::pnet::{PnetConfig, PreSharedKey};
    let behaviour = |_: &Keypair| {
        ping::Behaviour::new(
            ping::Config::new()
                .with_interval(PING_INTERVAL)
                .with_timeout(Duration::from_secs(10)),
        )
    };
    let config = |c: libp2p::swarm::Config| c.with_idle_connection_timeout(Duration::from_secs(60));
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_other_transport(|key| {
            let psk = PreSharedKey::new(psk);
            let base = tcp::tokio::Transport::new(tcp::Config::default())
                .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
                .upgrade(Version::V1Lazy);
            match security {
                Security::Noise => base
                    .authenticate(noise::Config::new(key).expect("noise config"))
                    .multiplex(yamux::Config::default())
                    .map(|(p, c), _| (p, StreamMuxerBox::new(c)))
                    .boxed(),
                Security::Tls => base
                    .authenticate(tls::Config::new(key).expect("tls config"))
                    .multiplex(yamux::Config::default())
                    .map(|(p, c), _| (p, StreamMuxerBox::new(c)))
                    .boxed(),
            }
        })
        .expect("pnet transport")
        .with_behaviour(behaviour)
        .expect("ping behaviour")
        .with_swarm_config(config)
        .build()
}

/// What a running Swarm saw, reduced to what the tests check.
#[derive(Debug)]
pub(crate) enum Seen {
    Established {
        peer: PeerId,
        dialer: bool,
    },
    Ping {
        peer: PeerId,
        result: Result<Duration, String>,
    },
    Closed {
        peer: PeerId,
        cause: Option<String>,
    },
    IncomingError(String),
    OutgoingError(String),
}

/// A Swarm driven by a tokio task, which reports through `events`; aborted on drop.
pub(crate) struct RunningSwarm {
    pub(crate) peer_id: PeerId,
    events: mpsc::UnboundedReceiver<Seen>,
    /// Everything received so far, for failure messages.
    pub(crate) log: Vec<String>,
    task: JoinHandle<()>,
}

impl Drop for RunningSwarm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunningSwarm {
    pub(crate) fn spawn(mut swarm: Swarm<ping::Behaviour>) -> Self {
        let peer_id = *swarm.local_peer_id();
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let seen = match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished {
                        peer_id, endpoint, ..
                    } => Seen::Established {
                        peer: peer_id,
                        dialer: matches!(endpoint, ConnectedPoint::Dialer { .. }),
                    },
                    SwarmEvent::Behaviour(ping::Event { peer, result, .. }) => Seen::Ping {
                        peer,
                        result: result.map_err(|e| e.to_string()),
                    },
                    SwarmEvent::ConnectionClosed { peer_id, cause, .. } => Seen::Closed {
                        peer: peer_id,
                        cause: cause.map(|c| c.to_string()),
                    },
                    SwarmEvent::IncomingConnectionError { error, .. } => {
                        Seen::IncomingError(error.to_string())
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        Seen::OutgoingError(error.to_string())
                    }
                    _ => continue,
                };
                if tx.send(seen).is_err() {
                    return;
                }
            }
        });
        RunningSwarm {
            peer_id,
            events,
            log: Vec::new(),
            task,
        }
    }

    /// A Swarm listening on loopback, and its address (without `/p2p/`).
    pub(crate) async fn listen(security: Security) -> (Self, Multiaddr) {
        Self::listen_with(build_swarm(security)).await
    }

    /// `swarm` listening on loopback, and its address (without `/p2p/`).
    pub(crate) async fn listen_with(mut swarm: Swarm<ping::Behaviour>) -> (Self, Multiaddr) {
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
            .expect("listen_on");
        let addr = timeout(DEADLINE, async {
            loop {
                if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                    return address;
                }
            }
        })
        .await
        .expect("no NewListenAddr from the Swarm");
        (Self::spawn(swarm), addr)
    }

    /// The next event, or `None` after `DEADLINE` (or if the task ended).
    pub(crate) async fn next(&mut self) -> Option<Seen> {
        let seen = timeout(DEADLINE, self.events.recv()).await.ok().flatten()?;
        self.log.push(format!("{seen:?}"));
        Some(seen)
    }

    /// The next event, or `None` at `deadline` (or if the task ended).
    pub(crate) async fn next_before(&mut self, deadline: Instant) -> Option<Seen> {
        let seen = timeout_at(deadline, self.events.recv())
            .await
            .ok()
            .flatten()?;
        self.log.push(format!("{seen:?}"));
        Some(seen)
    }

    /// The events that arrived, without waiting.
    pub(crate) fn pending(&mut self) -> Vec<Seen> {
        let mut all = Vec::new();
        while let Ok(seen) = self.events.try_recv() {
            self.log.push(format!("{seen:?}"));
            all.push(seen);
        }
        all
    }
}
