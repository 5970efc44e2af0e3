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

use p2psec::upgrade::{MuxerSelection, SecurityProtocol};
use upgrade_pair::{configs, machines, run, Flights};

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
    Row {
        dialer: &[NOISE, TLS, SECIO],
        listener: &[SECIO],
        optimistic: true,
        early_muxer: true,
        expected: (7, 7, 8, 8),
        selection: MuxerSelection::Multistream,
    },
    Row {
        dialer: &[NOISE, TLS, SECIO],
        listener: &[SECIO],
        optimistic: false,
        early_muxer: true,
        expected: (11, 11, 12, 12),
        selection: MuxerSelection::Multistream,
    },
    // with a modern peer the same dialer never touches SECIO (two candidates or more:
    // the first proposal waits for its echo, as in the tls,noise row)
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
