//! A p2psec node for the SECIO tests, driven over any [`Wire`]: a live TCP socket or a
//! recorded transcript. It runs the upgrade (`upgrade::Dialer` or `Listener`), then mplex
//! (p2psec's own machine) with libp2p ping and echo on its streams, the way the legacy
//! peers of SECIO's era expect. Everything it sends is a function of what it received,
//! in the order received: the same seed and the same peer chunks give the same bytes,
//! which is what the recorded vectors check.
//!
//! Included with `#[path = "common/legacy_node.rs"] mod legacy_node;`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use p2psec::identity::{KeyType, Keypair};
use p2psec::mplex::{self, StreamId};
use p2psec::multistream::{self, Version};
use p2psec::upgrade::{Config, Dialer, Event, Listener, SecurityProtocol, Upgraded};
use p2psec::Machine as _;
use p2psec::PeerId;

pub(crate) const PING: &str = "/ipfs/ping/1.0.0";
pub(crate) const ECHO: &str = "/echo/1.0.0";
/// How the SECIO tests configure p2psec: a modern node that also lists SECIO, last.
pub(crate) const NOISE_TLS_SECIO: &[SecurityProtocol] = &[
    SecurityProtocol::Noise,
    SecurityProtocol::Tls,
    SecurityProtocol::Secio,
];
/// Unix time of every recorded session (no certificate is involved with SECIO; the
/// configuration still takes one).
pub(crate) const NOW: u64 = 1_750_000_000;

#[path = "pair.rs"]
mod pair;
#[path = "rng.rs"]
mod rng;
pub(crate) use rng::TestRng;

/// Where the node's bytes come from and go to.
pub(crate) trait Wire {
    fn send(&mut self, bytes: &[u8]);
    /// The next chunk from the peer; `None` at its end of stream.
    fn recv(&mut self) -> Option<Vec<u8>>;
}

/// What the node does once upgraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Open a ping stream, ping `pings` times, then (if `echo > 0`) echo `echo` bytes on
    /// an echo stream; done after that. Also serve what the peer opens meanwhile.
    Client { pings: usize, echo: usize },
    /// Serve ping and echo streams until the peer hangs up.
    Server,
}

/// The identity and configuration of a recorded or live node: Ed25519 from `seed`.
pub(crate) fn node_config(seed: u64, security: &[SecurityProtocol]) -> (Keypair, Config) {
    let mut rng = TestRng(seed);
    let identity = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let config = Config::new(&identity, NOW, &mut rng)
        .expect("config")
        .with_security(security.iter().copied())
        .expect("security")
        .with_muxers([mplex::MPLEX])
        .expect("muxers");
    (identity, config)
}

#[derive(Default)]
struct Stream {
    /// Negotiating as the opener.
    dialer: Option<multistream::Dialer>,
    /// Negotiating as the acceptor.
    listener: Option<multistream::Listener>,
    protocol: Option<String>,
    /// Application bytes received and not yet used.
    inbuf: Vec<u8>,
    /// Bytes for the peer that mplex has not taken yet.
    pending: Vec<u8>,
    /// Close our side once `pending` is out.
    close_after: bool,
    remote_closed: bool,
}

/// What a node run ended with.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) remote_peer_id: Option<PeerId>,
    pub(crate) security: Option<SecurityProtocol>,
    pub(crate) muxer: Option<String>,
    pub(crate) pings_ok: usize,
    pub(crate) echo_ok: bool,
    /// Pings and echo streams the peer opened and we answered.
    pub(crate) served: usize,
    pub(crate) error: Option<String>,
}

/// Runs a node to its end over `wire`.
pub(crate) fn run(
    config: &Config,
    dial: Option<Option<PeerId>>,
    seed: u64,
    role: Role,
    wire: &mut dyn Wire,
) -> Outcome {
    let mut rng = TestRng(seed);
    let mut outcome = Outcome {
        remote_peer_id: None,
        security: None,
        muxer: None,
        pings_ok: 0,
        echo_ok: false,
        served: 0,
        error: None,
    };
    let mut upgrading = Some(match dial {
        Some(expected) => {
            pair::Role::Dialer(Dialer::new(config, expected, NOW, &mut rng).expect("dialer"))
        }
        None => pair::Role::Listener(Listener::new(config, NOW, &mut rng).expect("listener")),
    });
    let mut up: Option<Upgraded> = None;
    let mut inbox: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut app = App::new(role);
    loop {
        // 1. take what the peer sent so far through the machines
        if let Some(u) = upgrading.as_mut() {
            let mut events = Vec::new();
            if let Err(e) = pair::step(u, &mut inbox, &mut events) {
                outcome.error = Some(format!("upgrade: {e}"));
                events.extend(std::iter::from_fn(|| u.poll_event()));
            }
            for ev in events {
                if let Event::RemoteIdentified { peer_id } = ev {
                    outcome.remote_peer_id = Some(peer_id);
                }
            }
            let _ = u.poll_transmit(&mut out);
            if u.is_complete() && outcome.error.is_none() {
                let Some(u) = upgrading.take() else {
                    unreachable!()
                };
                match pair::Handshake::finish(u) {
                    Ok(u) => {
                        outcome.security = Some(u.security);
                        outcome.muxer = u.muxer.clone();
                        up = Some(u);
                    }
                    Err(e) => outcome.error = Some(format!("upgrade: {e}")),
                }
            }
        }
        if let Some(u) = up.as_mut() {
            if let Err(e) = app.step(u, &mut inbox, &mut out, &mut outcome) {
                outcome.error = Some(e);
            }
            let _ = u.channel.poll_transmit(&mut out);
        }
        if !out.is_empty() {
            wire.send(&out);
            out.clear();
        }
        if outcome.error.is_some() || app.done {
            return outcome;
        }
        // 2. wait for the peer
        match wire.recv() {
            Some(chunk) => inbox.extend_from_slice(&chunk),
            None => {
                if up.is_none() {
                    outcome.error = Some("the peer hung up during the upgrade".into());
                }
                return outcome;
            }
        }
    }
}

/// Ping payloads: 32 bytes each, fixed, so transcripts replay.
fn ping_payload(i: usize) -> [u8; 32] {
    let mut p = [0u8; 32];
    for (j, b) in p.iter_mut().enumerate() {
        *b = (i * 37 + j * 11) as u8;
    }
    p
}

/// Echo payload: a fixed pseudo-random stream.
pub(crate) fn echo_payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

struct App {
    role: Role,
    mux: mplex::Connection,
    streams: BTreeMap<StreamId, Stream>,
    started: bool,
    ping_stream: Option<StreamId>,
    pings_sent: usize,
    echo_stream: Option<StreamId>,
    echo_sent: usize,
    echo_back: Vec<u8>,
    /// Scratch space for reads from the channel and from streams.
    scratch: Vec<u8>,
    done: bool,
}

impl App {
    fn new(role: Role) -> Self {
        Self {
            role,
            mux: mplex::Connection::new(),
            streams: BTreeMap::new(),
            started: false,
            ping_stream: None,
            pings_sent: 0,
            echo_stream: None,
            echo_sent: 0,
            echo_back: Vec::new(),
            scratch: vec![0u8; 64 * 1024],
            done: false,
        }
    }

    fn open(&mut self, protocol: &str) -> Result<StreamId, String> {
        let id = self.mux.open_stream().map_err(|e| e.to_string())?;
        let d = multistream::Dialer::new([protocol], Version::V1).map_err(|e| e.to_string())?;
        self.streams.insert(
            id,
            Stream {
                dialer: Some(d),
                ..Default::default()
            },
        );
        Ok(id)
    }

    /// One pass: channel bytes into mplex, stream events, the role's next moves, mplex
    /// bytes out into the channel.
    fn step(
        &mut self,
        up: &mut Upgraded,
        inbox: &mut Vec<u8>,
        out: &mut Vec<u8>,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        let mut plain = Vec::new();
        loop {
            let n = up.channel.handle_input(inbox).map_err(|e| e.to_string())?;
            inbox.drain(..n);
            let mut got = 0;
            loop {
                let m = up
                    .channel
                    .read(&mut self.scratch)
                    .map_err(|e| e.to_string())?;
                if m == 0 {
                    break;
                }
                got += m;
                plain.extend_from_slice(&self.scratch[..m]);
            }
            if got == 0 || inbox.is_empty() {
                break;
            }
        }
        let mut at = 0;
        while at < plain.len() {
            let n = self
                .mux
                .handle_input(&plain[at..])
                .map_err(|e| format!("mplex: {e}"))?;
            at += n;
            self.drain_events()?;
            if n == 0 {
                return Err("mplex stopped taking input (backpressure in a test)".into());
            }
        }
        self.drain_events()?;
        if let Role::Client { pings, echo } = self.role {
            if !self.started {
                self.started = true;
                if pings > 0 {
                    self.ping_stream = Some(self.open(PING)?);
                } else if echo > 0 {
                    self.echo_stream = Some(self.open(ECHO)?);
                }
            }
            self.client_moves(pings, echo, outcome)?;
        }
        self.serve(outcome)?;
        self.negotiate_streams()?;
        // mplex output into the channel, the channel's into `out`, until every stream's
        // pending bytes are through
        loop {
            self.flush_streams()?;
            let mut bytes = Vec::new();
            let _ = self.mux.poll_transmit(&mut bytes);
            if bytes.is_empty() {
                return Ok(());
            }
            let mut at = 0;
            while at < bytes.len() {
                let n = up.channel.write(&bytes[at..]).map_err(|e| e.to_string())?;
                at += n;
                if n == 0 {
                    let _ = up.channel.poll_transmit(out);
                }
            }
        }
    }

    /// Hands each stream's pending bytes to mplex as far as it takes them.
    fn flush_streams(&mut self) -> Result<(), String> {
        let ids: Vec<StreamId> = self.streams.keys().copied().collect();
        for id in ids {
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            while !s.pending.is_empty() {
                match self.mux.write(id, &s.pending) {
                    Ok(0) => break,
                    Ok(n) => drop(s.pending.drain(..n)),
                    Err(mplex::StreamError::WouldBlock) => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
            if s.pending.is_empty() && s.close_after {
                s.close_after = false;
                let _ = self.mux.close(id);
                if s.remote_closed && !id.is_outbound() {
                    self.streams.remove(&id);
                }
            }
        }
        Ok(())
    }

    fn drain_events(&mut self) -> Result<(), String> {
        while let Some(ev) = self.mux.poll_event() {
            match ev {
                mplex::Event::InboundStream { id } => {
                    let l = multistream::Listener::new([PING, ECHO]).map_err(|e| e.to_string())?;
                    self.streams.insert(
                        id,
                        Stream {
                            listener: Some(l),
                            ..Default::default()
                        },
                    );
                }
                mplex::Event::Readable { id } => loop {
                    match self.mux.read(id, &mut self.scratch) {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Some(s) = self.streams.get_mut(&id) {
                                s.inbuf.extend_from_slice(&self.scratch[..n]);
                            }
                        }
                        Err(_) => break,
                    }
                },
                mplex::Event::RemoteClosed { id } => {
                    if let Some(s) = self.streams.get_mut(&id) {
                        s.remote_closed = true;
                    }
                }
                mplex::Event::Reset { id } => {
                    self.streams.remove(&id);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// multistream-select on every stream still negotiating.
    fn negotiate_streams(&mut self) -> Result<(), String> {
        let ids: Vec<StreamId> = self.streams.keys().copied().collect();
        for id in ids {
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            let mut out = Vec::new();
            if let Some(d) = s.dialer.as_mut() {
                let n = d.handle_input(&s.inbuf).map_err(|e| format!("{id}: {e}"))?;
                s.inbuf.drain(..n);
                let _ = d.poll_transmit(&mut out);
                if d.is_done() {
                    s.protocol = d.negotiated().map(String::from);
                    s.dialer = None;
                }
            } else if let Some(l) = s.listener.as_mut() {
                let n = l.handle_input(&s.inbuf).map_err(|e| format!("{id}: {e}"))?;
                s.inbuf.drain(..n);
                let _ = l.poll_transmit(&mut out);
                if let Some(p) = l.negotiated() {
                    s.protocol = Some(p.to_string());
                    s.listener = None;
                }
            }
            s.pending.extend_from_slice(&out);
        }
        Ok(())
    }

    fn client_moves(
        &mut self,
        pings: usize,
        echo: usize,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        self.negotiate_streams()?;
        if let Some(id) = self.ping_stream {
            let s = self.streams.get_mut(&id).ok_or("ping stream gone")?;
            if s.protocol.as_deref() == Some(PING) {
                // one ping in flight at a time
                if s.inbuf.len() >= 32 {
                    let got: Vec<u8> = s.inbuf.drain(..32).collect();
                    if got[..] != ping_payload(self.pings_sent - 1)[..] {
                        return Err("ping answer differs".into());
                    }
                    outcome.pings_ok += 1;
                }
                if self.pings_sent == outcome.pings_ok && self.pings_sent < pings {
                    s.pending.extend_from_slice(&ping_payload(self.pings_sent));
                    self.pings_sent += 1;
                }
                if outcome.pings_ok == pings {
                    s.close_after = true;
                    self.ping_stream = None;
                    if echo > 0 {
                        self.echo_stream = Some(self.open(ECHO)?);
                    } else {
                        self.done = true;
                    }
                }
            }
        }
        if let Some(id) = self.echo_stream {
            let s = self.streams.get_mut(&id).ok_or("echo stream gone")?;
            if s.protocol.as_deref() == Some(ECHO) {
                let data = echo_payload(echo);
                if self.echo_sent == 0 {
                    s.pending.extend_from_slice(&data);
                    s.close_after = true;
                    self.echo_sent = echo;
                }
                self.echo_back.append(&mut s.inbuf);
                if s.remote_closed || self.echo_back.len() >= echo {
                    outcome.echo_ok = self.echo_back == data;
                    self.done = true;
                }
            }
        }
        Ok(())
    }

    /// Answers the streams the peer opened: ping payloads back, echo bytes back.
    fn serve(&mut self, outcome: &mut Outcome) -> Result<(), String> {
        let ids: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(id, _)| !id.is_outbound())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            let reply: Vec<u8> = match s.protocol.as_deref() {
                Some(PING) => {
                    let whole = s.inbuf.len() / 32 * 32;
                    outcome.served += whole / 32;
                    s.inbuf.drain(..whole).collect()
                }
                Some(ECHO) => std::mem::take(&mut s.inbuf),
                _ => continue,
            };
            s.pending.extend_from_slice(&reply);
            if s.remote_closed {
                s.close_after = true;
            }
        }
        Ok(())
    }
}
