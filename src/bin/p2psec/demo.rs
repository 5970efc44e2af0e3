//! `p2psec demo`: identities of every key type, then multistream-select negotiations run
//! in memory, flight by flight, showing what crosses the wire and that the next layer's
//! first bytes survive the handover. Later layers (Noise, TLS) will join it.

use p2psec::identity::{KeyType, Keypair};
use p2psec::multistream::{self, Dialer, Event, Listener, Version};
use serde_json::json;

use crate::output::{CliError, Output};

#[derive(clap::Args)]
pub(crate) struct Args {}

/// The verbs every p2psec machine shares (STYLE.md), so one pump drives both roles.
trait Machine {
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, multistream::Error>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
    fn poll_event(&mut self) -> Option<Event>;
}

macro_rules! machine {
    ($t:ty) => {
        impl Machine for $t {
            fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, multistream::Error> {
                <$t>::handle_input(self, bytes)
            }
            fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
                <$t>::poll_transmit(self, out)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
        }
    };
}
machine!(Dialer);
machine!(Listener);

/// One side of an in-memory connection.
struct Side<M> {
    name: &'static str,
    machine: M,
    /// Bytes received and not yet consumed by the machine.
    inbox: Vec<u8>,
    /// The next layer's first bytes, sent as soon as the machine allows.
    app_data: Option<&'static [u8]>,
    agreed: Option<String>,
}

impl<M: Machine> Side<M> {
    /// Whether negotiation is over and exactly the peer's next-layer bytes are left.
    fn holds(&self, app: &[u8]) -> bool {
        self.agreed.is_some() && self.inbox == app
    }

    /// Lets the machine consume what it can, then builds this side's next flight.
    fn flight(&mut self) -> Result<Vec<u8>, multistream::Error> {
        loop {
            let used = self.machine.handle_input(&self.inbox)?;
            self.inbox.drain(..used);
            if used == 0 {
                break;
            }
        }
        let mut out = Vec::new();
        let _ = self.machine.poll_transmit(&mut out);
        let mut may_send_app = false;
        while let Some(event) = self.machine.poll_event() {
            match event {
                Event::Optimistic { protocol } => {
                    may_send_app = true;
                    self.agreed.get_or_insert(protocol);
                }
                Event::Negotiated { protocol } => {
                    may_send_app = true;
                    self.agreed = Some(protocol);
                }
                _ => {}
            }
        }
        if may_send_app || self.agreed.is_some() {
            if let Some(data) = self.app_data.take() {
                out.extend_from_slice(data);
            }
        }
        Ok(out)
    }
}

/// Bytes as readable text: multistream messages are mostly ASCII.
fn show(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

pub(crate) fn run(_args: Args, out: &Output) -> Result<(), CliError> {
    out.say("== identities ==");
    for ty in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa] {
        let pair = Keypair::generate_with_os_rng(ty).map_err(|e| e.to_string())?;
        let id = pair.peer_id();
        let msg = b"p2psec demo";
        let sig = pair.sign(msg).map_err(|e| e.to_string())?;
        if !pair.public().verify(msg, &sig) {
            return Err(format!("{ty}: own signature did not verify"));
        }
        out.record(&[
            ("step", json!("identity")),
            ("key_type", json!(ty.as_str())),
            ("peer_id", json!(id.to_base58())),
            ("peer_id_cid", json!(id.to_cid_string())),
            (
                "public_key_bytes",
                json!(pair.public().encode_protobuf().len()),
            ),
            ("signature_bytes", json!(sig.len())),
        ]);
    }

    let cases: [(&str, &[&str], &[&str], Version); 3] = [
        (
            "V1, first choice rejected",
            &["/tls/1.0.0", "/noise"],
            &["/noise"],
            Version::V1,
        ),
        (
            "V1Lazy, one protocol (0-RTT)",
            &["/noise"],
            &["/noise", "/tls/1.0.0"],
            Version::V1Lazy,
        ),
        (
            "V1, no overlap",
            &["/secio/1.0.0"],
            &["/noise", "/tls/1.0.0"],
            Version::V1,
        ),
    ];
    for (title, proposals, supported, version) in cases {
        out.say(&format!("\n== multistream-select: {title} =="));
        negotiate(out, title, proposals, supported, version)?;
    }
    crate::demo_noise::run(out)?;
    Ok(())
}

fn negotiate(
    out: &Output,
    title: &str,
    proposals: &[&str],
    supported: &[&str],
    version: Version,
) -> Result<(), CliError> {
    const DIALER_APP: &[u8] = b"<dialer's first next-layer bytes>";
    const LISTENER_APP: &[u8] = b"<listener's first next-layer bytes>";
    let mut dialer = Side {
        name: "dialer",
        machine: Dialer::new(proposals.iter().copied(), version).map_err(|e| e.to_string())?,
        inbox: Vec::new(),
        app_data: Some(DIALER_APP),
        agreed: None,
    };
    let mut listener = Side {
        name: "listener",
        machine: Listener::new(supported.iter().copied()).map_err(|e| e.to_string())?,
        inbox: Vec::new(),
        app_data: Some(LISTENER_APP),
        agreed: None,
    };
    out.say(&format!(
        "dialer proposes {proposals:?}, listener supports {supported:?}"
    ));

    let mut flights = 0;
    let mut failure = None;
    // Flights alternate, dialer first; stop once both sides hold the other's app bytes.
    for turn in 0..8 {
        let (from, to_inbox) = if turn % 2 == 0 {
            (
                dialer.flight().map(|f| (dialer.name, f)),
                &mut listener.inbox,
            )
        } else {
            (
                listener.flight().map(|f| (listener.name, f)),
                &mut dialer.inbox,
            )
        };
        let (name, bytes) = match from {
            Ok(x) => x,
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        };
        if !bytes.is_empty() {
            flights += 1;
            out.say(&format!("flight {flights} {name:>8} -> {}", show(&bytes)));
            to_inbox.extend_from_slice(&bytes);
        }
        if dialer.holds(LISTENER_APP) && listener.holds(DIALER_APP) {
            break;
        }
    }
    let dialer_confirmed = dialer.machine.negotiated().map(str::to_owned);
    out.record(&[
        ("step", json!("multistream")),
        ("case", json!(title)),
        ("version", json!(format!("{version:?}"))),
        ("protocol", json!(dialer_confirmed)),
        ("listener_protocol", json!(listener.machine.negotiated())),
        ("flights", json!(flights)),
        // after a failure there is no next layer to hand bytes to
        (
            "dialer_next_layer_bytes_intact",
            json!(failure.is_none().then(|| dialer.inbox == LISTENER_APP)),
        ),
        (
            "listener_next_layer_bytes_intact",
            json!(failure.is_none().then(|| listener.inbox == DIALER_APP)),
        ),
        ("error", json!(failure)),
    ]);
    Ok(())
}
