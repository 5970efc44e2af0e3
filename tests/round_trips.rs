//! Round trips of the connection upgrade, counted in flights: the two machines run in
//! memory and every byte one side has to send after processing what it got travels as
//! one flight (flight 1: the dialer's first, right after the TCP connection is up).
//!
//! For every combination of security protocol, optimistic negotiation and early muxer
//! selection this asserts the flight in which the dialer can first send muxed
//! application data, the flight after which the listener has read it, and when the
//! listener's answer reaches the dialer; it prints the table (also in the README).
//!
//! With optimistic negotiation the dialer's first application bytes travel in flight 3,
//! one round trip after the connection is up, together with Noise message 3 or the TLS
//! client's Finished; the classic sequence (V1, muxer by multistream-select) needs
//! flight 7, three round trips.
#![cfg(all(feature = "noise", feature = "tls"))]

#[path = "common/upgrade_pair.rs"]
mod upgrade_pair;

use p2psec::upgrade::{
    Config, Dialer, Error, Listener, MuxerSelection, PeerMemory, Remembered, SecurityProtocol,
    Upgraded,
};
use upgrade_pair::{config, configs, machines, run, Flights, Side, TestRng, NOW};

const NOISE: SecurityProtocol = SecurityProtocol::Noise;
const TLS: SecurityProtocol = SecurityProtocol::Tls;

struct Row {
    dialer: &'static [SecurityProtocol],
    listener: &'static [SecurityProtocol],
    optimistic: bool,
    early_muxer: bool,
    /// (dialer sends, listener receives, listener answers, dialer receives)
    expected: (usize, usize, usize, usize),
    selection: MuxerSelection,
}

const ROWS: &[Row] = &[
    Row {
        dialer: &[NOISE],
        listener: &[NOISE, TLS],
        optimistic: true,
        early_muxer: true,
        expected: (3, 3, 4, 4),
        selection: MuxerSelection::Early,
    },
    Row {
        dialer: &[NOISE],
        listener: &[NOISE, TLS],
        optimistic: true,
        early_muxer: false,
        expected: (3, 3, 4, 4),
        selection: MuxerSelection::Multistream,
    },
    Row {
        dialer: &[NOISE],
        listener: &[NOISE, TLS],
        optimistic: false,
        early_muxer: true,
        expected: (5, 5, 6, 6),
        selection: MuxerSelection::Early,
    },
    Row {
        dialer: &[NOISE],
        listener: &[NOISE, TLS],
        optimistic: false,
        early_muxer: false,
        expected: (7, 7, 8, 8),
        selection: MuxerSelection::Multistream,
    },
    Row {
        dialer: &[TLS],
        listener: &[NOISE, TLS],
        optimistic: true,
        early_muxer: true,
        expected: (3, 3, 4, 4),
        selection: MuxerSelection::Early,
    },
    Row {
        dialer: &[TLS],
        listener: &[NOISE, TLS],
        optimistic: true,
        early_muxer: false,
        expected: (3, 3, 4, 4),
        selection: MuxerSelection::Multistream,
    },
    Row {
        dialer: &[TLS],
        listener: &[NOISE, TLS],
        optimistic: false,
        early_muxer: true,
        expected: (5, 5, 6, 6),
        selection: MuxerSelection::Early,
    },
    Row {
        dialer: &[TLS],
        listener: &[NOISE, TLS],
        optimistic: false,
        early_muxer: false,
        expected: (7, 7, 8, 8),
        selection: MuxerSelection::Multistream,
    },
    // two candidates, the first refused: one more round trip before the handshake
    Row {
        dialer: &[TLS, NOISE],
        listener: &[NOISE],
        optimistic: true,
        early_muxer: true,
        expected: (5, 5, 6, 6),
        selection: MuxerSelection::Early,
    },
];

/// SECIO rows: a modern dialer that also lists SECIO (last) reaching a SECIO-only peer
/// pays one round trip per refused candidate; the handshake itself costs what Noise's
/// does, because both sides may send right behind their nonce echo.
#[cfg(feature = "secio")]
const SECIO: SecurityProtocol = SecurityProtocol::Secio;
#[cfg(feature = "secio")]
const SECIO_ROWS: &[Row] = &[
    Row {
        dialer: &[SECIO],
        listener: &[SECIO],
        optimistic: true,
        early_muxer: true,
        expected: (3, 3, 4, 4),
        selection: MuxerSelection::Multistream,
    },
    Row {
        dialer: &[SECIO],
        listener: &[SECIO],
        optimistic: false,
        early_muxer: true,
        expected: (7, 7, 8, 8),
        selection: MuxerSelection::Multistream,
    },
    // three candidates: the dialer asks `ls` first (one round trip) instead of hearing
    // two refusals (two): proposing in turn gave flight 7 here, 11 below
    Row {
        dialer: &[NOISE, TLS, SECIO],
        listener: &[SECIO],
        optimistic: true,
        early_muxer: true,
        expected: (5, 5, 6, 6),
        selection: MuxerSelection::Multistream,
    },
    Row {
        dialer: &[NOISE, TLS, SECIO],
        listener: &[SECIO],
        optimistic: false,
        early_muxer: true,
        expected: (9, 9, 10, 10),
        selection: MuxerSelection::Multistream,
    },
    // with a modern peer the same dialer never touches SECIO: `ls` costs the round trip
    // the first proposal's echo would (as in the tls,noise row)
    Row {
        dialer: &[NOISE, TLS, SECIO],
        listener: &[NOISE, TLS, SECIO],
        optimistic: true,
        early_muxer: true,
        expected: (5, 5, 6, 6),
        selection: MuxerSelection::Early,
    },
];
#[cfg(not(feature = "secio"))]
const SECIO_ROWS: &[Row] = &[];

fn names(list: &[SecurityProtocol]) -> String {
    list.iter().map(|p| p.name()).collect::<Vec<_>>().join(",")
}

#[test]
fn round_trip_table() {
    let mut table = String::from(
        "| dialer security | listener security | optimistic | early muxer | muxer agreed | dialer sends data | listener reads it | listener answers | dialer reads answer | RTTs until the dialer sends |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    for row in ROWS.iter().chain(SECIO_ROWS) {
        let (dc, lc) = configs(row.dialer, row.listener, row.optimistic, row.early_muxer);
        let (dialer, listener) = machines(&dc, &lc, Some(lc.local_peer_id()));
        let (d, l, f) = run(dialer, listener, 20);
        assert!(d.error().is_none(), "dialer failed: {:?}", d.error());
        assert!(l.error().is_none(), "listener failed: {:?}", l.error());
        let du = d.upgraded().expect("dialer upgraded");
        let lu = l.upgraded().expect("listener upgraded");
        assert_eq!(du.remote_peer_id, lc.local_peer_id());
        assert_eq!(lu.remote_peer_id, dc.local_peer_id());
        assert_eq!(du.security, lu.security);
        // the first of the dialer's list that the listener speaks, never a later one
        let first_common = row.dialer.iter().find(|p| row.listener.contains(p));
        assert_eq!(Some(&du.security), first_common);
        assert_eq!(du.muxer.as_deref(), Some("/yamux/1.0.0"));
        assert_eq!(lu.muxer.as_deref(), Some("/yamux/1.0.0"));
        assert_eq!(du.muxer_selection, row.selection);
        assert_eq!(lu.muxer_selection, row.selection);
        let got = flights(&f);
        let sends = got.0;
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} ({:?}) | flight {} | flight {} | flight {} | flight {} | {} |\n",
            names(row.dialer),
            names(row.listener),
            if row.optimistic { "on" } else { "off" },
            if row.early_muxer { "on" } else { "off" },
            du.muxer.as_deref().unwrap_or("-"),
            du.muxer_selection,
            got.0,
            got.1,
            got.2,
            got.3,
            (sends - 1) / 2,
        ));
        if got != row.expected {
            failures.push(format!(
                "{} optimistic={} early={}: got {:?}, expected {:?}",
                names(row.dialer),
                row.optimistic,
                row.early_muxer,
                got,
                row.expected
            ));
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}");
}

fn flights(f: &Flights) -> (usize, usize, usize, usize) {
    (
        f.dialer_sends.expect("the dialer never sent"),
        f.listener_receives.expect("the listener never read"),
        f.listener_answers.expect("the listener never answered"),
        f.dialer_receives.expect("the dialer never read the answer"),
    )
}

// ---- with a peer memory (upgrade::PeerMemory): first contact, then the re-dial ----

const YAMUX: &str = "/yamux/1.0.0";
const MPLEX: &str = "/mplex/6.7.0";

/// A listener of the memory table: what it speaks now.
struct Peer {
    security: &'static [SecurityProtocol],
    muxers: &'static [&'static str],
    early_muxer: bool,
}

/// The dialer's lists of the CLI's defaults: `noise,tls`, `yamux,mplex`.
fn cli_dialer(optimistic: bool) -> Config {
    config(1)
        .with_security([NOISE, TLS])
        .expect("security")
        .with_muxers([YAMUX, MPLEX])
        .expect("muxers")
        .with_optimistic_negotiation(optimistic)
}

fn listener_for(peer: &Peer) -> Config {
    config(2)
        .with_security(peer.security.iter().copied())
        .expect("security")
        .with_muxers(peer.muxers.iter().copied())
        .expect("muxers")
        .with_early_muxer_negotiation(peer.early_muxer)
}

/// One dial through `memory`: its flights, and what the dialer ended with.
fn dial_with(
    dialer: &Config,
    listener: &Config,
    memory: &mut PeerMemory,
    seed: u64,
) -> (Flights, Result<Upgraded, Error>, bool) {
    let expected = listener.local_peer_id();
    let d = Dialer::with_memory(dialer, expected, NOW, memory, &mut TestRng(seed)).expect("dialer");
    let recalled = d.recalled().is_some();
    let l = Listener::new(listener, NOW, &mut TestRng(seed + 1)).expect("listener");
    let (mut d, _l, f) = run(d, l, 16);
    let outcome = match std::mem::replace(&mut d.side, Side::Failed(Error::UnexpectedEof)) {
        Side::Up(up) => Ok(*up),
        Side::Failed(e) => Err(e),
        Side::Upgrading(_) => panic!("the dialer neither finished nor failed"),
    };
    memory.observe(&expected, outcome.as_ref());
    (f, outcome, recalled)
}

/// For each of the two dials: the flight that carried the dialer's data, and whether the
/// memory was used.
type TwoDials = [(usize, bool); 2];

/// First contact and the re-dial of one peer, as the table's rows.
fn contact_twice(label: &str, dialer: &Config, peer: &Peer, table: &mut String) -> TwoDials {
    let listener = listener_for(peer);
    let mut memory = PeerMemory::default();
    let mut got = [(0, false); 2];
    for (i, name) in ["first contact", "re-dial"].into_iter().enumerate() {
        let (f, outcome, recalled) = dial_with(dialer, &listener, &mut memory, 10 + i as u64);
        let up = outcome.unwrap_or_else(|e| panic!("{label} {name}: {e}"));
        let sends = f.dialer_sends.expect("the dialer never sent");
        assert_eq!(f.dialer_receives, Some(sends + 1), "{label} {name}: {f:?}");
        table.push_str(&format!(
            "| {label} | {name} | {} | {} | {} ({:?}) | flight {sends} | {} |\n",
            if recalled { "used" } else { "empty" },
            up.security.name(),
            up.muxer.as_deref().unwrap_or("-"),
            up.muxer_selection,
            (sends - 1) / 2,
        ));
        got[i] = (sends, recalled);
    }
    got
}

/// The dialer with the CLI's lists (`noise,tls`, `yamux,mplex`) against peers that speak
/// a subset, twice each: first contact costs what multistream-select requires, the
/// re-dial with the memory costs one round trip (flight 3) in every case.
#[test]
fn memory_round_trip_table() {
    let mut table = String::from(
        "| peer speaks | dial | memory | agreed | dialer sends data | RTTs until the dialer sends |\n|---|---|---|---|---|---|\n",
    );
    let dialer = cli_dialer(true);
    // rust-libp2p 0.57: noise or tls, yamux, no early muxer
    let rust_like = Peer {
        security: &[NOISE],
        muxers: &[YAMUX],
        early_muxer: false,
    };
    // a p2psec or go-style peer: early muxer negotiation inside the handshake
    let modern = Peer {
        security: &[NOISE, TLS],
        muxers: &[YAMUX, MPLEX],
        early_muxer: true,
    };
    let tls_only = Peer {
        security: &[TLS],
        muxers: &[YAMUX],
        early_muxer: false,
    };
    let mplex_only = Peer {
        security: &[NOISE],
        muxers: &[MPLEX],
        early_muxer: false,
    };
    let cases: [(&str, &Peer, TwoDials); 4] = [
        // two security candidates: the first proposal waits for its echo; two muxers:
        // the muxer proposal waits too
        (
            "noise, yamux, no early muxer",
            &rust_like,
            [(7, false), (3, true)],
        ),
        (
            "noise,tls, yamux,mplex, early muxer",
            &modern,
            [(5, false), (3, true)],
        ),
        // `na` to noise first: the listener's refusal costs the round trip that the
        // second candidate (the last, so lazy) saves; the same for `na` to yamux
        (
            "tls, yamux, no early muxer",
            &tls_only,
            [(7, false), (3, true)],
        ),
        (
            "noise, mplex, no early muxer",
            &mplex_only,
            [(7, false), (3, true)],
        ),
    ];
    let mut failures = Vec::new();
    for (label, peer, expected) in cases {
        let got = contact_twice(label, &dialer, peer, &mut table);
        if got != expected {
            failures.push(format!("{label}: got {got:?}, expected {expected:?}"));
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A listener that now speaks only Noise and yamux, without early muxer negotiation.
fn noise_yamux_listener() -> Config {
    listener_for(&Peer {
        security: &[NOISE],
        muxers: &[YAMUX],
        early_muxer: false,
    })
}

/// A memory holding one choice for `peer`, agreed by multistream-select.
fn remembering(peer: p2psec::PeerId, security: SecurityProtocol, muxer: &str) -> PeerMemory {
    let mut memory = PeerMemory::default();
    memory.insert(
        peer,
        Remembered {
            security,
            muxer: Some(muxer.into()),
            muxer_selection: MuxerSelection::Multistream,
        },
    );
    memory
}

/// A memory that went stale (the peer now refuses the remembered security protocol):
/// the lazy dialer already sent that protocol's first message, so it fails with the
/// typed error, the memory forgets the peer, and the re-dial with the full lists works
/// and is remembered.
#[test]
fn stale_security_memory_fails_typed_then_the_redial_works() {
    let dialer = cli_dialer(true);
    let listener = noise_yamux_listener();
    let peer = listener.local_peer_id();
    let mut memory = remembering(peer, TLS, YAMUX);
    let (_, outcome, recalled) = dial_with(&dialer, &listener, &mut memory, 30);
    assert!(recalled);
    let e = outcome.expect_err("the peer refused /tls/1.0.0");
    assert!(e.is_stale_memory(), "{e:?}");
    assert_eq!(
        e,
        Error::RememberedProtocolRefused {
            protocol: "/tls/1.0.0".into()
        }
    );
    assert!(e.to_string().contains("redial"), "{e}");
    assert_eq!(e.code(), 7301);
    assert!(
        memory.get(&peer).is_none(),
        "observe forgot the stale entry"
    );
    let (_, outcome, recalled) = dial_with(&dialer, &listener, &mut memory, 40);
    assert!(!recalled);
    assert_eq!(outcome.expect("the re-dial").security, NOISE);
    assert_eq!(memory.get(&peer).map(|r| r.security), Some(NOISE));
}

/// A stale muxer: the remembered muxer was proposed alone behind the handshake, and the
/// muxed bytes followed it, so its refusal is the same typed error (from the channel).
#[test]
fn stale_muxer_memory_fails_typed() {
    let dialer = cli_dialer(true);
    let listener = noise_yamux_listener();
    let peer = listener.local_peer_id();
    let mut memory = remembering(peer, NOISE, MPLEX);
    let (_, outcome, _) = dial_with(&dialer, &listener, &mut memory, 50);
    let e = outcome.expect_err("the peer refused /mplex/6.7.0");
    assert_eq!(
        e,
        Error::RememberedProtocolRefused {
            protocol: MPLEX.into()
        }
    );
    assert!(memory.get(&peer).is_none());
}

/// Without optimistic negotiation the remembered choice goes first and the rest follow:
/// a refusal falls through to the next candidate on the same connection.
#[test]
fn patient_dialer_recovers_from_a_stale_memory_in_place() {
    let dialer = cli_dialer(false);
    let listener = noise_yamux_listener();
    let peer = listener.local_peer_id();
    let mut memory = remembering(peer, TLS, MPLEX);
    let (_, outcome, recalled) = dial_with(&dialer, &listener, &mut memory, 60);
    assert!(recalled);
    let up = outcome.expect("recovered on the same connection");
    assert_eq!((up.security, up.muxer.as_deref()), (NOISE, Some(YAMUX)));
    assert_eq!(memory.get(&peer).map(|r| r.security), Some(NOISE));
}

/// A remembered protocol the configuration no longer offers is ignored.
#[test]
fn memory_outside_the_configuration_is_ignored() {
    let dialer = config(1).with_security([NOISE]).expect("security");
    let listener = listener_for(&Peer {
        security: &[NOISE, TLS],
        muxers: &[YAMUX],
        early_muxer: true,
    });
    let mut memory = PeerMemory::default();
    memory.insert(
        listener.local_peer_id(),
        Remembered {
            security: TLS,
            muxer: Some(YAMUX.into()),
            muxer_selection: MuxerSelection::Early,
        },
    );
    let (_, outcome, recalled) = dial_with(&dialer, &listener, &mut memory, 70);
    assert!(!recalled);
    assert_eq!(outcome.expect("plain dial").security, NOISE);
}

/// A modern dialer that also lists SECIO (`noise,tls,secio`, `yamux,mplex`) reaching a
/// SECIO-only peer (mplex, as SECIO-era peers speak): two refusals on first contact, none
/// on the re-dial.
#[cfg(feature = "secio")]
#[test]
fn memory_secio_only_peer() {
    let mut table = String::new();
    let dialer = cli_dialer(true)
        .with_security([NOISE, TLS, SECIO])
        .expect("security");
    let peer = Peer {
        security: &[SECIO],
        muxers: &[MPLEX],
        early_muxer: false,
    };
    let got = contact_twice("secio, mplex", &dialer, &peer, &mut table);
    println!("{table}");
    // flights 1 `ls`, 3 /secio lazily with its Propose (proposing in turn: flight 5,
    // after two refusals), then the handshake, and mplex lazily (the last of the list)
    assert_eq!(got, [(7, false), (3, true)], "{table}");
}
