//! The connection upgrade's failure paths and invariants, run in memory by the shared
//! two-peer driver (`common/upgrade_pair.rs`): a dialer expecting another PeerId, no common
//! security protocol, a refused muxer (with and without early negotiation), 1 MiB each way
//! after the upgrade without a byte lost or duplicated, the same outcome however the byte
//! streams are cut, hostile and truncated input (no panic, poisoned after an error),
//! `SecurityProtocol` parsing, and the `upgrade_dialer`/`upgrade_listener` fuzz bodies on
//! a few inputs.
#![cfg(all(feature = "noise", feature = "tls"))]

#[path = "common/upgrade_pair.rs"]
mod upgrade_pair;

use std::sync::OnceLock;

use p2psec::multistream;
use p2psec::upgrade::{
    Config, Dialer, Error, Event, Listener, MuxerSelection, SecurityProtocol, YAMUX,
};
use p2psec::PeerId;
use proptest::prelude::*;
use upgrade_pair::{config, configs, machines, Machine, Peer, Side, TestRng, NOW};

const NOISE: SecurityProtocol = SecurityProtocol::Noise;
const TLS: SecurityProtocol = SecurityProtocol::Tls;
const MPLEX: &str = "/mplex/6.7.0";
/// More flights than any upgrade here needs (the slowest completes in flight 8).
const MAX_FLIGHTS: usize = 20;

fn no_protocol_agreed(tried: &str) -> multistream::Error {
    multistream::Error::NoProtocolAgreed {
        tried: vec![tried.to_string()],
    }
}

/// A side of [`run_to_the_end`]: the shared driver's `Peer`, plus what its machine owed
/// the peer when it failed (`Peer::process` drops a failed machine, and with it the final
/// message the style lets it send: a multistream `na`, a TLS alert).
struct Talker<M> {
    peer: Peer<M>,
    last_words: Vec<u8>,
}

impl<M: Machine> Talker<M> {
    fn new(machine: M) -> Self {
        Self {
            peer: Peer::new(machine),
            last_words: Vec::new(),
        }
    }

    /// `Peer::process`, taking a failing machine's output before it is dropped.
    fn process(&mut self) {
        if let Side::Upgrading(m) = &mut self.peer.side {
            match m.handle_input(&self.peer.inbox) {
                Ok(used) => {
                    self.peer.inbox.drain(..used);
                }
                Err(e) => {
                    let _ = m.poll_transmit(&mut self.last_words);
                    while let Some(event) = m.poll_event() {
                        self.peer.events.push(event);
                    }
                    self.peer.side = Side::Failed(e);
                    return;
                }
            }
        }
        // the rest, and the channel once complete, as the shared driver does it
        self.peer.process();
    }

    fn transmit(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.last_words);
        self.peer.transmit(out);
    }
}

/// Like `upgrade_pair::run` (the dialer sends `PING` once upgraded, the listener answers
/// `PONG` once it read it), but failing machines still say their last words, and it runs
/// all `MAX_FLIGHTS` unless both sides failed or the answer arrived.
fn run_to_the_end(dialer: Dialer, listener: Listener) -> (Peer<Dialer>, Peer<Listener>) {
    run_with_ping(dialer, listener, upgrade_pair::PING, false)
}

/// [`run_to_the_end`] with other first application bytes from the dialer; `bytewise`
/// delivers every flight one byte at a time.
fn run_with_ping(
    dialer: Dialer,
    listener: Listener,
    ping: &[u8],
    bytewise: bool,
) -> (Peer<Dialer>, Peer<Listener>) {
    fn receive<M: Machine>(to: &mut Talker<M>, bytes: &[u8], bytewise: bool) {
        let step = if bytewise { 1 } else { bytes.len().max(1) };
        for piece in bytes.chunks(step) {
            to.peer.inbox.extend_from_slice(piece);
            to.process();
        }
    }
    let (mut d, mut l) = (Talker::new(dialer), Talker::new(listener));
    let (mut pinged, mut ponged) = (false, false);
    for flight in 1..=MAX_FLIGHTS {
        let mut bytes = Vec::new();
        if flight % 2 == 1 {
            d.process();
            pinged = pinged || d.peer.send_app(ping);
            d.transmit(&mut bytes);
            receive(&mut l, &bytes, bytewise);
        } else {
            l.process();
            ponged = ponged
                || (l.peer.received.len() >= ping.len() && l.peer.send_app(upgrade_pair::PONG));
            l.transmit(&mut bytes);
            receive(&mut d, &bytes, bytewise);
        }
        let both_failed = d.peer.error().is_some() && l.peer.error().is_some();
        if both_failed || d.peer.received.len() >= upgrade_pair::PONG.len() {
            break;
        }
    }
    (d.peer, l.peer)
}

// ---- 1. a dialer expecting another PeerId ----

/// The dialer fails with the handshake's `UnexpectedPeer` naming both PeerIds; the
/// listener never completes (Noise: message 3 never comes; TLS: the client's Finished
/// never comes; the dialer's alert reaches it, see the test below).
fn wrong_expected_peer(security: SecurityProtocol) {
    let stranger = config(3).local_peer_id();
    for optimistic in [true, false] {
        for early in [true, false] {
            let (dc, lc) = configs(&[security], &[security], optimistic, early);
            let (dialer, listener) = machines(&dc, &lc, Some(stranger));
            let (d, l) = run_to_the_end(dialer, listener);
            let e = d.error().expect("the dialer must fail");
            assert!(
                e.is_unexpected_peer(),
                "{security} optimistic={optimistic}: {e:?}"
            );
            let (expected, got) = match e {
                Error::Noise(p2psec::noise::Error::UnexpectedPeer { expected, got }) => {
                    (expected, got)
                }
                Error::Tls(p2psec::tls::Error::UnexpectedPeer { expected, got }) => (expected, got),
                other => panic!("not the handshake's UnexpectedPeer: {other:?}"),
            };
            assert_eq!((*expected, *got), (stranger, lc.local_peer_id()));
            assert!(!d.events.contains(&Event::Complete));
            assert!(l.upgraded().is_none(), "the listener completed");
            assert!(!l.events.contains(&Event::Complete));
            if security == NOISE {
                assert_eq!(l.error(), None, "the Noise listener waits for message 3");
            }
            // TLS: the client's alert should fail the server's handshake, but the upgrade
            // dialer drops it (see `tls_dialer_sends_its_alert_after_an_unexpected_peer`),
            // so the server still waits for the client's Finished
        }
    }
}

#[test]
fn noise_dialer_rejects_an_unexpected_peer() {
    wrong_expected_peer(NOISE);
}

#[test]
fn tls_dialer_rejects_an_unexpected_peer() {
    wrong_expected_peer(TLS);
}

// ---- 1b. the role override: a listener's upgrade on a connection it opened ----

/// `Listener::for_outbound` checks the PeerId as a dialer does: the expected one
/// completes (both sides agree), another fails the listener with the handshake's
/// `UnexpectedPeer` naming both.
fn outbound_listener_checks_the_peer(security: SecurityProtocol) {
    let stranger = config(3).local_peer_id();
    for optimistic in [true, false] {
        for early in [true, false] {
            let (dc, lc) = configs(&[security], &[security], optimistic, early);
            let right = Some(dc.local_peer_id());
            let dialer = Dialer::new(&dc, None, NOW, &mut TestRng(100)).expect("dialer");
            let listener =
                Listener::for_outbound(&lc, right, NOW, &mut TestRng(200)).expect("listener");
            let (d, l) = run_to_the_end(dialer, listener);
            let what = format!("{security} optimistic={optimistic} early={early}");
            assert!(d.upgraded().is_some(), "{what}: dialer {:?}", d.error());
            assert!(l.upgraded().is_some(), "{what}: listener {:?}", l.error());
            assert_eq!(l.received, upgrade_pair::PING, "{what}");

            let dialer = Dialer::new(&dc, None, NOW, &mut TestRng(100)).expect("dialer");
            let listener = Listener::for_outbound(&lc, Some(stranger), NOW, &mut TestRng(200))
                .expect("listener");
            let (_, l) = run_to_the_end(dialer, listener);
            let e = l.error().expect("the listener must fail");
            let (expected, got) = match e {
                Error::Noise(p2psec::noise::Error::UnexpectedPeer { expected, got }) => {
                    (expected, got)
                }
                Error::Tls(p2psec::tls::Error::UnexpectedPeer { expected, got }) => (expected, got),
                other => panic!("{what}: not the handshake's UnexpectedPeer: {other:?}"),
            };
            assert_eq!((*expected, *got), (stranger, dc.local_peer_id()), "{what}");
            assert!(l.upgraded().is_none(), "{what}: the listener completed");
        }
    }
}

#[test]
fn noise_outbound_listener_checks_the_peer() {
    outbound_listener_checks_the_peer(NOISE);
}

#[test]
fn tls_outbound_listener_checks_the_peer() {
    outbound_listener_checks_the_peer(TLS);
}

/// The TLS client queues a fatal alert when the server proves another PeerId (as
/// `tests/tls_handshake.rs` checks for `tls::Client`); the STYLE lets a failed machine send
/// that one message, and the upgrade dialer must pass it on (regression: `Dialer::fail`
/// once dropped the stage with the handshake in it).
#[test]
fn tls_dialer_sends_its_alert_after_an_unexpected_peer() {
    let (dc, lc) = configs(&[TLS], &[TLS], false, true);
    let stranger = config(3).local_peer_id();
    // the TLS machines alone: the client's alert fails the server
    let mut client = p2psec::tls::Client::new(dc.tls(), Some(stranger), NOW).expect("client");
    let mut server = p2psec::tls::Server::new(lc.tls(), NOW).expect("server");
    let mut hello = Vec::new();
    let _ = client.poll_transmit(&mut hello);
    assert_eq!(server.handle_input(&hello), Ok(hello.len()));
    let mut flight = Vec::new();
    let _ = server.poll_transmit(&mut flight);
    let refused = client.handle_input(&flight).expect_err("a stranger");
    assert!(matches!(refused, p2psec::tls::Error::UnexpectedPeer { .. }));
    let mut alert = Vec::new();
    assert!(client.poll_transmit(&mut alert) > 0);
    let told = server.handle_input(&alert);
    assert!(
        matches!(told, Err(p2psec::tls::Error::AlertReceived { .. })),
        "{told:?}"
    );
    // the same through the upgrade
    let (mut d, mut l) = machines(&dc, &lc, Some(stranger));
    let mut failure = None;
    for _ in 0..MAX_FLIGHTS {
        let mut to_listener = Vec::new();
        let _ = d.poll_transmit(&mut to_listener);
        assert_eq!(l.handle_input(&to_listener), Ok(to_listener.len()));
        let mut to_dialer = Vec::new();
        let _ = l.poll_transmit(&mut to_dialer);
        if let Err(e) = d.handle_input(&to_dialer) {
            failure = Some(e);
            break;
        }
    }
    assert!(failure.expect("the dialer failed").is_unexpected_peer());
    let mut alert = Vec::new();
    assert!(
        d.poll_transmit(&mut alert) > 0,
        "the TLS client's alert was dropped"
    );
    match l.handle_input(&alert) {
        Err(Error::Tls(p2psec::tls::Error::AlertReceived { .. })) => {}
        other => panic!("the listener got {other:?}"),
    }
}

// ---- 2. no common security protocol ----

fn no_common_security(dialer: SecurityProtocol, listener: SecurityProtocol) {
    for optimistic in [true, false] {
        let (dc, lc) = configs(&[dialer], &[listener], optimistic, true);
        let (d, l) = machines(&dc, &lc, None);
        let (d, l) = run_to_the_end(d, l);
        assert_eq!(
            d.error(),
            Some(&Error::SecurityNegotiation(no_protocol_agreed(
                dialer.protocol_id()
            ))),
            "{dialer} vs {listener}, optimistic={optimistic}"
        );
        assert!(l.upgraded().is_none());
        if optimistic {
            // the handshake's first message came right behind the refused proposal
            match l.error() {
                Some(Error::SecurityNegotiation(multistream::Error::DataAfterRejection {
                    rejected,
                    ..
                })) => assert_eq!(rejected, dialer.protocol_id()),
                other => panic!("{dialer} vs {listener}: listener {other:?}"),
            }
        } else {
            // a V1 dialer sends nothing after its proposal: the listener waits for another
            assert_eq!(l.error(), None);
        }
    }
}

#[test]
fn noise_dialer_tls_listener_agree_on_nothing() {
    no_common_security(NOISE, TLS);
}

#[test]
fn tls_dialer_noise_listener_agree_on_nothing() {
    no_common_security(TLS, NOISE);
}

/// The listener's exact error for the optimistic case: the handshake bytes read as a
/// multistream message.
#[test]
fn optimistic_handshake_bytes_after_na_name_their_cause() {
    let (dc, lc) = configs(&[NOISE], &[TLS], true, true);
    let (d, l) = machines(&dc, &lc, None);
    let (_, l) = run_to_the_end(d, l);
    // Noise message 1 starts with its u16 length 00 20: a multistream length prefix of 0
    assert_eq!(
        l.error(),
        Some(&Error::SecurityNegotiation(
            multistream::Error::DataAfterRejection {
                rejected: "/noise".to_string(),
                cause: Box::new(multistream::Error::EmptyMessage),
            }
        ))
    );
}

// ---- 3. a refused muxer ----

/// The dialer offers only yamux, the listener only mplex.
fn refused_muxer(
    security: SecurityProtocol,
    optimistic: bool,
    early: bool,
) -> (Peer<Dialer>, Peer<Listener>) {
    let (dc, lc) = configs(&[security], &[security], optimistic, early);
    let dc = dc.with_muxers([YAMUX]).expect("muxers");
    let lc = lc.with_muxers([MPLEX]).expect("muxers");
    let (dialer, listener) = machines(&dc, &lc, Some(lc.local_peer_id()));
    let (d, l) = run_to_the_end(dialer, listener);
    assert!(
        l.upgraded().is_none(),
        "the listener completed without a muxer"
    );
    (d, l)
}

/// After an error the dialer is poisoned: no event (not even the identity it proved
/// before the failure, the security protocol it agreed), the same error again, and no
/// byte beyond what it had queued before failing.
#[test]
fn a_failed_dialer_reports_no_event_and_sends_nothing_more() {
    for security in [NOISE, TLS] {
        let (dc, lc) = configs(&[security], &[security], false, false);
        let dc = dc.with_muxers([YAMUX]).expect("muxers");
        let lc = lc.with_muxers([MPLEX]).expect("muxers");
        let (mut d, mut l) = machines(&dc, &lc, Some(lc.local_peer_id()));
        // never polling the dialer's events, until it fails
        let (mut to_l, mut to_d) = (Vec::new(), Vec::new());
        let mut failed = None;
        for _ in 0..MAX_FLIGHTS {
            let _ = d.poll_transmit(&mut to_l);
            let n = l.handle_input(&to_l).expect("the listener does not fail");
            to_l.drain(..n);
            while l.poll_event().is_some() {}
            let _ = l.poll_transmit(&mut to_d);
            match d.handle_input(&to_d) {
                Ok(n) => drop(to_d.drain(..n)),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let e = failed.expect("the dialer fails on the refused muxer");
        assert_eq!(e, Error::MuxerNegotiation(no_protocol_agreed(YAMUX)));
        assert_eq!(d.poll_event(), None, "{security}: an event after the error");
        let mut before = Vec::new();
        let _ = d.poll_transmit(&mut before);
        assert_eq!(d.handle_input(b"more bytes"), Err(e.clone()));
        assert_eq!(d.handle_input(&to_d), Err(e));
        let mut after = Vec::new();
        assert_eq!(
            d.poll_transmit(&mut after),
            0,
            "{security}: bytes after the error"
        );
        assert_eq!(d.poll_event(), None);
    }
}

/// Without early negotiation, a V1 dialer learns of the refusal before it completes.
#[test]
fn refused_muxer_fails_the_v1_dialer() {
    for security in [NOISE, TLS] {
        let (d, l) = refused_muxer(security, false, false);
        assert_eq!(
            d.error(),
            Some(&Error::MuxerNegotiation(no_protocol_agreed(YAMUX))),
            "{security}"
        );
        assert!(!d.events.contains(&Event::Complete));
        // the listener answered `na` and waits for another proposal
        assert_eq!(l.error(), None, "{security}");
    }
}

/// Without early negotiation, an optimistic dialer completes on its lazy proposal; the
/// listener's `na` then fails its channel.
#[test]
fn refused_muxer_fails_the_optimistic_dialers_channel() {
    for security in [NOISE, TLS] {
        let (d, l) = refused_muxer(security, true, false);
        assert!(d.events.contains(&Event::Complete), "{security}");
        assert_eq!(
            d.error(),
            Some(&Error::MuxerNegotiation(no_protocol_agreed(YAMUX))),
            "{security}"
        );
        assert!(d.received.is_empty(), "the `na` leaked into the plaintext");
        // the dialer's muxed data came behind its proposal; as multistream bytes it
        // announces a longer message than arrives, so the listener still waits
        assert_eq!(l.error(), None, "{security}");
    }
}

/// A yamux frame header (version 0, window update with SYN on stream 1): what a muxer
/// sends first, and to a multistream listener an empty message (length prefix 0).
const YAMUX_SYN: [u8; 12] = [0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];

/// The optimistic dialer's muxed data (which starts with a yamux header) travels in the
/// same flight as its lazy proposal. The listener answers the proposal with `na`, then
/// fails on the data (`DataAfterRejection`; the listener's doc: "a multistream `na` goes
/// out before the failure it leads to"); the `na` must still reach the dialer, whose channel then fails with
/// `MuxerNegotiation(NoProtocolAgreed)`. (Regression: the listener's failure comes from
/// `Listener::advance` (`settle_muxer`'s `feed_plaintext`), after `progress` moved the
/// stage out, so `flush_failed` finds `Stage::Gone` and the `na`, still queued in the
/// muxer's `multistream::Listener`, was dropped; the dialer saw only silence (a real
/// connection: an EOF). Same for Noise and TLS.)
#[test]
fn refused_muxer_na_reaches_the_dialer_when_muxed_data_follows() {
    let mut failures = Vec::new();
    for security in [NOISE, TLS] {
        // whole flights: the bug; one byte at a time (the proposal's frame or record is
        // complete before the data's): the `na` goes out first and the outcome is right,
        // so the outcome also depends on how the bytes are cut
        for bytewise in [false, true] {
            let (dc, lc) = configs(&[security], &[security], true, false);
            let dc = dc.with_muxers([YAMUX]).expect("muxers");
            let lc = lc.with_muxers([MPLEX]).expect("muxers");
            let (dialer, listener) = machines(&dc, &lc, Some(lc.local_peer_id()));
            let (d, l) = run_with_ping(dialer, listener, &YAMUX_SYN, bytewise);
            match l.error() {
                Some(Error::MuxerNegotiation(multistream::Error::DataAfterRejection {
                    rejected,
                    ..
                })) => assert_eq!(rejected, YAMUX),
                other => panic!("{security}: listener {other:?}"),
            }
            let expected = Error::MuxerNegotiation(no_protocol_agreed(YAMUX));
            if d.error() != Some(&expected) {
                failures.push(format!(
                    "{security}, bytewise={bytewise}: dialer {:?}, upgraded: {}",
                    d.error(),
                    d.upgraded().is_some()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "the `na` never arrived: {failures:#?}");
}

/// Early negotiation with disjoint lists, Noise: both sent lists and none is common, so
/// the handshake fails at the dialer (spec: MUST fail) and never falls back.
#[test]
fn refused_early_muxer_fails_the_noise_handshake() {
    for optimistic in [true, false] {
        let (d, l) = refused_muxer(NOISE, optimistic, true);
        assert_eq!(
            d.error(),
            Some(&Error::Noise(p2psec::noise::Error::NoCommonMuxer {
                ours: vec![YAMUX.to_string()],
                theirs: vec![MPLEX.to_string()],
                theirs_omitted: 0,
            })),
            "optimistic={optimistic}"
        );
        assert!(!d.events.contains(&Event::Complete));
        // the dialer never sends message 3
        assert_eq!(l.error(), None);
    }
}

/// Early negotiation with disjoint lists, TLS: the server falls back to ALPN "libp2p", so
/// the muxer goes to multistream-select over the channel, where it is refused as above.
#[test]
fn refused_early_muxer_falls_back_to_multistream_with_tls() {
    let (d, l) = refused_muxer(TLS, false, true);
    assert_eq!(
        d.error(),
        Some(&Error::MuxerNegotiation(no_protocol_agreed(YAMUX)))
    );
    assert!(!d.events.contains(&Event::Complete));
    assert_eq!(l.error(), None);
    let (d, l) = refused_muxer(TLS, true, true);
    assert!(d.events.contains(&Event::Complete));
    assert_eq!(
        d.error(),
        Some(&Error::MuxerNegotiation(no_protocol_agreed(YAMUX)))
    );
    assert_eq!(l.error(), None);
}

// ---- 4. 1 MiB each way ----

const MIB: usize = 1 << 20;
/// The application's write size.
const PIECE: usize = 64 * 1024;

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    let Ok(()) = rand_core::TryRng::try_fill_bytes(&mut TestRng(seed), &mut bytes);
    bytes
}

/// Writes `data[*sent..]` in pieces of at most [`PIECE`] until the channel takes no more;
/// returns whether it took anything.
fn pump<M: Machine>(peer: &mut Peer<M>, data: &[u8], sent: &mut usize) -> bool {
    let Side::Up(up) = &mut peer.side else {
        return false;
    };
    let before = *sent;
    while *sent < data.len() {
        let piece = &data[*sent..data.len().min(*sent + PIECE)];
        let n = up.channel.write(piece).expect("write");
        *sent += n;
        if n < piece.len() {
            break;
        }
    }
    *sent > before
}

/// Both sides write 1 MiB as soon as they are upgraded; every flight carries all either
/// side has to send. Returns the flight of the dialer's first application bytes and
/// whether the listener had completed before that flight reached it.
fn transfer(security: SecurityProtocol, optimistic: bool, early: bool) -> (usize, bool) {
    let (dc, lc) = configs(&[security], &[security], optimistic, early);
    let (dialer, listener) = machines(&dc, &lc, Some(lc.local_peer_id()));
    let (mut d, mut l) = (Peer::new(dialer), Peer::new(listener));
    let d_data = random_bytes(MIB, 11);
    let l_data = random_bytes(MIB, 12);
    let (mut d_sent, mut l_sent) = (0, 0);
    let mut first = None;
    let case = format!("{security} optimistic={optimistic} early={early}");
    for flight in 1..=1000 {
        let mut bytes = Vec::new();
        if flight % 2 == 1 {
            d.process();
            let listener_was_up = l.upgraded().is_some();
            let wrote = pump(&mut d, &d_data, &mut d_sent);
            d.transmit(&mut bytes);
            l.inbox.extend_from_slice(&bytes);
            l.process();
            if wrote && first.is_none() {
                assert!(
                    !l.received.is_empty(),
                    "{case}: the first bytes did not arrive"
                );
                first = Some((flight, listener_was_up));
            }
        } else {
            l.process();
            let _ = pump(&mut l, &l_data, &mut l_sent);
            l.transmit(&mut bytes);
            d.inbox.extend_from_slice(&bytes);
            d.process();
        }
        assert_eq!(d.error(), None, "{case}: dialer");
        assert_eq!(l.error(), None, "{case}: listener");
        if d.received.len() >= MIB && l.received.len() >= MIB {
            break;
        }
    }
    assert!(
        l.received == d_data,
        "{case}: the listener got other bytes ({} of {MIB})",
        l.received.len()
    );
    assert!(
        d.received == l_data,
        "{case}: the dialer got other bytes ({} of {MIB})",
        d.received.len()
    );
    assert!(
        d.inbox.is_empty() && l.inbox.is_empty(),
        "{case}: bytes left unconsumed"
    );
    let (du, lu) = (
        d.upgraded().expect("dialer"),
        l.upgraded().expect("listener"),
    );
    assert_eq!((du.security, lu.security), (security, security));
    assert_eq!(
        (du.remote_peer_id, lu.remote_peer_id),
        (lc.local_peer_id(), dc.local_peer_id())
    );
    // the key the handshake checked is the one behind the PeerId
    assert_eq!(
        (
            du.channel.remote_public_key().to_peer_id(),
            lu.channel.remote_public_key().to_peer_id()
        ),
        (lc.local_peer_id(), dc.local_peer_id())
    );
    assert_eq!(
        (du.muxer.as_deref(), lu.muxer.as_deref()),
        (Some(YAMUX), Some(YAMUX))
    );
    first.expect("the dialer never wrote")
}

fn one_mib_each_way(security: SecurityProtocol) {
    for optimistic in [true, false] {
        for early in [true, false] {
            let (flight, listener_was_up) = transfer(security, optimistic, early);
            if optimistic || early {
                // the dialer's data went out with its last handshake message (Noise
                // message 3, the TLS client's Finished), before the listener was done
                assert!(
                    !listener_was_up,
                    "{security} optimistic={optimistic} early={early}: flight {flight}"
                );
            }
            let expected = match (optimistic, early) {
                (true, _) => 3,
                (false, true) => 5,
                (false, false) => 7,
            };
            assert_eq!(
                flight, expected,
                "{security} optimistic={optimistic} early={early}"
            );
        }
    }
}

#[test]
fn noise_carries_one_mib_each_way() {
    one_mib_each_way(NOISE);
}

#[test]
fn tls_carries_one_mib_each_way() {
    one_mib_each_way(TLS);
}

// ---- 5. chunking invariance ----

/// What one side ended with.
#[derive(Debug, Clone, PartialEq)]
struct SideOutcome {
    events: Vec<Event>,
    /// (remote PeerId, security, muxer, how the muxer was agreed), or the error.
    result: Result<(PeerId, SecurityProtocol, Option<String>, MuxerSelection), Option<Error>>,
    received: Vec<u8>,
}

fn side_outcome<M>(peer: &Peer<M>) -> SideOutcome {
    let result = match &peer.side {
        Side::Up(up) => Ok((
            up.remote_peer_id,
            up.security,
            up.muxer.clone(),
            up.muxer_selection,
        )),
        Side::Failed(e) => Err(Some(e.clone())),
        Side::Upgrading(_) => Err(None),
    };
    SideOutcome {
        events: peer.events.clone(),
        result,
        received: peer.received.clone(),
    }
}

/// The dialer's application data (two TLS records, one Noise frame) and the answer.
fn app_data() -> &'static (Vec<u8>, Vec<u8>) {
    static DATA: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    DATA.get_or_init(|| (random_bytes(20_000, 21), random_bytes(3_000, 22)))
}

/// Hands `bytes` to `peer` in deliveries cut by `cuts` (whole when it is empty), letting
/// it process each.
fn deliver<M: Machine>(peer: &mut Peer<M>, bytes: &[u8], cuts: &mut impl Iterator<Item = usize>) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = cuts.next().map_or(rest.len(), |n| n.clamp(1, rest.len()));
        peer.inbox.extend_from_slice(&rest[..n]);
        peer.process();
        rest = &rest[n..];
    }
}

/// The upgrade flight by flight (as `upgrade_pair::run`), each flight delivered in pieces
/// of the sizes `cuts` cycles through; the dialer sends its data once upgraded, the
/// listener answers once it read it all.
fn exchange(dc: &Config, lc: &Config, cuts: &[usize]) -> (SideOutcome, SideOutcome) {
    let (d, l, _) = exchange_recorded(dc, lc, cuts);
    (d, l)
}

/// [`exchange`], also returning what the dialer and the listener sent.
fn exchange_recorded(
    dc: &Config,
    lc: &Config,
    cuts: &[usize],
) -> (SideOutcome, SideOutcome, (Vec<u8>, Vec<u8>)) {
    let (dialer, listener) = machines(dc, lc, Some(lc.local_peer_id()));
    let (mut d, mut l) = (Peer::new(dialer), Peer::new(listener));
    let (ping, pong) = app_data();
    let mut cuts = cuts.iter().copied().cycle();
    let (mut pinged, mut ponged) = (false, false);
    let (mut d_stream, mut l_stream) = (Vec::new(), Vec::new());
    for flight in 1..=MAX_FLIGHTS {
        let mut bytes = Vec::new();
        if flight % 2 == 1 {
            d.process();
            pinged = pinged || d.send_app(ping);
            d.transmit(&mut bytes);
            deliver(&mut l, &bytes, &mut cuts);
            d_stream.extend_from_slice(&bytes);
        } else {
            l.process();
            ponged = ponged || (l.received.len() >= ping.len() && l.send_app(pong));
            l.transmit(&mut bytes);
            deliver(&mut d, &bytes, &mut cuts);
            l_stream.extend_from_slice(&bytes);
        }
        if d.received.len() >= pong.len() || (d.error().is_some() && l.error().is_some()) {
            break;
        }
    }
    (side_outcome(&d), side_outcome(&l), (d_stream, l_stream))
}

/// (security, optimistic, early muxer), the dialer's and the listener's configuration.
type Case = ((SecurityProtocol, bool, bool), Config, Config);

/// The four (security, optimistic) cases, early muxer on and off: configurations made once.
fn chunking_configs() -> &'static Vec<Case> {
    static CONFIGS: OnceLock<Vec<Case>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let mut all = Vec::new();
        for security in [NOISE, TLS] {
            for optimistic in [true, false] {
                for early in [true, false] {
                    let (dc, lc) = configs(&[security], &[security], optimistic, early);
                    all.push(((security, optimistic, early), dc, lc));
                }
            }
        }
        all
    })
}

/// The outcome of each configuration with whole flights, checked once.
fn reference(index: usize) -> &'static (SideOutcome, SideOutcome) {
    static REFERENCE: OnceLock<Vec<(SideOutcome, SideOutcome)>> = OnceLock::new();
    let all = REFERENCE.get_or_init(|| {
        let (ping, pong) = app_data();
        chunking_configs()
            .iter()
            .map(|(case, dc, lc)| {
                let (d, l) = exchange(dc, lc, &[]);
                let d_ok = d.result.as_ref().expect("dialer upgraded");
                let l_ok = l.result.as_ref().expect("listener upgraded");
                assert_eq!(d_ok.0, lc.local_peer_id(), "{case:?}");
                assert_eq!(l_ok.0, dc.local_peer_id(), "{case:?}");
                assert_eq!(d_ok.2.as_deref(), Some(YAMUX), "{case:?}");
                assert_eq!(l_ok.2.as_deref(), Some(YAMUX), "{case:?}");
                assert_eq!(&l.received, ping, "{case:?}");
                assert_eq!(&d.received, pong, "{case:?}");
                (d, l)
            })
            .collect()
    });
    &all[index]
}

fn config_index(security: SecurityProtocol, optimistic: bool, early: bool) -> usize {
    chunking_configs()
        .iter()
        .position(|(case, _, _)| *case == (security, optimistic, early))
        .expect("a configured case")
}

fn check_chunking(security: SecurityProtocol, optimistic: bool, early: bool, cuts: &[usize]) {
    let index = config_index(security, optimistic, early);
    let (_, dc, lc) = &chunking_configs()[index];
    let expected = reference(index);
    let got = exchange(dc, lc, cuts);
    assert!(
        got == *expected,
        "{security} optimistic={optimistic} early={early} cuts={cuts:?}:\n got {:?} / {:?}\n expected {:?} / {:?}",
        got.0.result,
        got.1.result,
        expected.0.result,
        expected.1.result
    );
}

/// Delivery sizes: mostly tiny (every boundary gets hit), sometimes a record or more.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![6 => 1usize..=16, 3 => 1usize..=300, 1 => 1usize..=5000],
        1..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn noise_optimistic_outcome_ignores_chunking(early in any::<bool>(), cuts in cuts()) {
        check_chunking(NOISE, true, early, &cuts);
    }

    #[test]
    fn noise_v1_outcome_ignores_chunking(early in any::<bool>(), cuts in cuts()) {
        check_chunking(NOISE, false, early, &cuts);
    }

    #[test]
    fn tls_optimistic_outcome_ignores_chunking(early in any::<bool>(), cuts in cuts()) {
        check_chunking(TLS, true, early, &cuts);
    }

    #[test]
    fn tls_v1_outcome_ignores_chunking(early in any::<bool>(), cuts in cuts()) {
        check_chunking(TLS, false, early, &cuts);
    }
}

// ---- 6. hostile and truncated input ----

/// A multistream message: varint length, then `line` and its newline.
fn mss_message(line: &str) -> Vec<u8> {
    let len = line.len() + 1;
    assert!(len < 128);
    let mut m = vec![len as u8];
    m.extend_from_slice(line.as_bytes());
    m.push(b'\n');
    m
}

/// What a hostile peer may send first so the garbage lands deeper: nothing, the header,
/// or the header and a proposal (for the listener) or its echo (for the dialer).
fn hostile_prefix(kind: u8, security: SecurityProtocol) -> Vec<u8> {
    let mut p = Vec::new();
    if kind >= 1 {
        p.extend(mss_message("/multistream/1.0.0"));
    }
    if kind >= 2 {
        p.extend(mss_message(security.protocol_id()));
    }
    p
}

/// A configuration variant for the hostile tests, made once per variant.
fn hostile_config(variant: usize) -> &'static Config {
    static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();
    let all = CONFIGS.get_or_init(|| {
        let base = config(7);
        let mut all = Vec::new();
        for security in [vec![NOISE], vec![TLS], vec![NOISE, TLS]] {
            for optimistic in [true, false] {
                for early in [true, false] {
                    all.push(
                        base.clone()
                            .with_security(security.clone())
                            .expect("security")
                            .with_optimistic_negotiation(optimistic)
                            .with_early_muxer_negotiation(early),
                    );
                }
            }
        }
        all
    });
    &all[variant % all.len()]
}

/// Feeds `pieces` to a fresh machine as a driver would and checks: it never consumes
/// more than it got, and after an error every later `handle_input` (new bytes, the kept
/// bytes, nothing) returns that error, it never completes, and `into_upgraded` returns it
/// too. Returns the error, or whether it completed.
fn feed<M: Machine>(mut m: M, pieces: &[&[u8]]) -> Result<bool, Error> {
    let mut inbox = Vec::new();
    let mut failed: Option<Error> = None;
    for piece in pieces {
        let mut out = Vec::new();
        if let Some(e) = &failed {
            assert_eq!(m.handle_input(piece).as_ref(), Err(e));
            assert_eq!(m.handle_input(&inbox).as_ref(), Err(e));
            assert!(!m.is_complete());
            let _ = m.poll_transmit(&mut out);
            continue;
        }
        if m.is_complete() {
            break;
        }
        inbox.extend_from_slice(piece);
        match m.handle_input(&inbox) {
            Ok(n) => {
                assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                inbox.drain(..n);
            }
            Err(e) => {
                assert!(!matches!(e, Error::ApiMisuse(_)), "a peer caused {e:?}");
                assert_eq!(m.handle_input(&inbox).as_ref(), Err(&e));
                assert_eq!(m.handle_input(&[]).as_ref(), Err(&e));
                assert_eq!(m.handle_input(b"more").as_ref(), Err(&e));
                assert!(!m.is_complete());
                failed = Some(e);
            }
        }
        let n = m.poll_transmit(&mut out);
        assert_eq!(n, out.len());
        while m.poll_event().is_some() {}
    }
    let complete = m.is_complete();
    match (m.into_upgraded(), failed) {
        (Err(e), Some(f)) => {
            assert_eq!(e, f, "into_upgraded after an error");
            Err(f)
        }
        (Ok(_), None) => {
            assert!(complete);
            Ok(true)
        }
        (Err(Error::ApiMisuse(_)), None) => {
            assert!(!complete);
            Ok(false)
        }
        (r, f) => panic!("into_upgraded: {:?} after {f:?}", r.err()),
    }
}

fn cut<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut sizes = sizes.iter().copied().cycle();
    let mut rest = bytes;
    let mut pieces = Vec::new();
    while !rest.is_empty() {
        let n = sizes.next().map_or(rest.len(), |n| n.clamp(1, rest.len()));
        pieces.push(&rest[..n]);
        rest = &rest[n..];
    }
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Garbage (after no prefix, the multistream header, or header and proposal/echo) fed
    /// to a fresh listener and dialer: no panic, never complete, poisoned after an error.
    #[test]
    fn hostile_input_never_panics(
        variant in 0usize..12,
        prefix in 0u8..3,
        garbage in prop::collection::vec(any::<u8>(), 0..3000),
        sizes in cuts(),
    ) {
        let config = hostile_config(variant);
        let security = config.security()[0];
        let mut input = hostile_prefix(prefix, security);
        input.extend_from_slice(&garbage);
        let pieces = cut(&input, &sizes);
        let listener = Listener::new(config, NOW, &mut TestRng(200)).expect("listener");
        let dialer = Dialer::new(config, None, NOW, &mut TestRng(100)).expect("dialer");
        prop_assert_ne!(feed(listener, &pieces), Ok(true), "garbage completed a listener");
        prop_assert_ne!(feed(dialer, &pieces), Ok(true), "garbage completed a dialer");
    }

    /// A fresh machine fed a truncated recording of what its peer sent. Our Noise side
    /// replays exactly (fixed keys and seeds), so a prefix is never an error and the
    /// whole stream completes; rustls draws fresh randoms, so with TLS the recording
    /// fails once its encrypted records come (and never completes).
    #[test]
    fn truncated_streams_never_panic(
        index in 0usize..8,
        listener_side in any::<bool>(),
        keep in 0.0f64..=1.0,
        sizes in cuts(),
    ) {
        let (case, dc, lc) = &chunking_configs()[index];
        let (dialer_stream, listener_stream) = recording(index);
        let (dialer, listener) = machines(dc, lc, Some(lc.local_peer_id()));
        let stream = if listener_side { dialer_stream } else { listener_stream };
        // every length, the whole stream included
        let len = ((stream.len() as f64) * keep).round() as usize;
        let pieces = cut(&stream[..len], &sizes);
        let got = if listener_side { feed(listener, &pieces) } else { feed(dialer, &pieces) };
        if case.0 == NOISE {
            prop_assert!(got.is_ok(), "{:?}: a prefix of {} of {} bytes failed: {:?}", case, len, stream.len(), got);
            if len == stream.len() {
                prop_assert_eq!(got, Ok(true), "the whole recording did not complete");
            }
        } else {
            prop_assert_ne!(got, Ok(true), "a TLS recording replayed");
        }
    }
}

/// What each side sent in the whole-flight exchange of a chunking configuration.
fn recording(index: usize) -> &'static (Vec<u8>, Vec<u8>) {
    static RECORDINGS: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    let all = RECORDINGS.get_or_init(|| {
        chunking_configs()
            .iter()
            .map(|(_, dc, lc)| {
                let (_, _, streams) = exchange_recorded(dc, lc, &[]);
                streams
            })
            .collect()
    });
    &all[index]
}

/// A fresh Noise listener (dialer) fed every prefix of the recorded dialer (listener)
/// stream, up to a little past the upgrade: never an error, and complete exactly from the
/// upgrade's last byte on.
#[test]
fn truncation_points_of_a_noise_recording() {
    let index = config_index(NOISE, true, true);
    let (_, dc, lc) = &chunking_configs()[index];
    let (dialer_stream, listener_stream) = recording(index);
    let (ping, pong) = app_data();
    // each stream ends with one Noise frame of application data (length, data, tag)
    let listener_done = dialer_stream.len() - (2 + ping.len() + 16);
    let dialer_done = listener_stream.len() - (2 + pong.len() + 16);
    for len in 0..=listener_done + 40 {
        let (_, listener) = machines(dc, lc, None);
        let got = feed(listener, &[&dialer_stream[..len]]);
        // the listener completes exactly with the last byte of message 3: the dialer's
        // data behind it is the channel's
        assert_eq!(got, Ok(len >= listener_done), "listener fed {len} bytes");
    }
    for len in 0..=dialer_done + 40 {
        let (dialer, _) = machines(dc, lc, Some(lc.local_peer_id()));
        let got = feed(dialer, &[&listener_stream[..len]]);
        assert_eq!(got, Ok(len >= dialer_done), "dialer fed {len} bytes");
    }
}

// ---- 7. SecurityProtocol parsing ----

#[test]
fn security_protocol_parses_names_and_ids() {
    for (text, protocol) in [
        ("noise", NOISE),
        ("/noise", NOISE),
        ("tls", TLS),
        ("/tls/1.0.0", TLS),
    ] {
        assert_eq!(text.parse::<SecurityProtocol>(), Ok(protocol), "{text}");
    }
    // SECIO parses only when built in, and is never among the defaults
    #[cfg(feature = "secio")]
    for text in ["secio", "/secio/1.0.0"] {
        assert_eq!(text.parse(), Ok(SecurityProtocol::Secio), "{text}");
        assert!(!SecurityProtocol::ALL.contains(&SecurityProtocol::Secio));
    }
    #[cfg(not(feature = "secio"))]
    let unknown = ["secio", "/secio/1.0.0", "foo", "", "Noise", "/tls"];
    #[cfg(feature = "secio")]
    let unknown = ["foo", "", "Noise", "/tls", "SECIO"];
    for text in unknown {
        assert_eq!(
            text.parse::<SecurityProtocol>(),
            Err(Error::UnsupportedSecurity(text.to_string())),
            "{text}"
        );
    }
    assert_eq!(NOISE.to_string(), "/noise");
    assert_eq!(SecurityProtocol::from_protocol_id("/tls/1.0.0"), Some(TLS));
    assert_eq!(SecurityProtocol::from_protocol_id("tls"), None);
}

/// SECIO is deprecated: a configuration may list it only last.
#[cfg(feature = "secio")]
#[test]
fn secio_may_only_come_last() {
    let config = upgrade_pair::config(1);
    let secio = SecurityProtocol::Secio;
    assert!(config.clone().with_security([NOISE, TLS, secio]).is_ok());
    assert!(config.clone().with_security([secio]).is_ok());
    for list in [vec![secio, NOISE], vec![NOISE, secio, TLS]] {
        assert!(matches!(
            config.clone().with_security(list),
            Err(Error::ApiMisuse(_))
        ));
    }
}

// ---- the fuzz bodies ----

/// The fuzz bodies on a few inputs: empty, each flag combination alone, the recorded
/// Noise conversation (bit 7) with and without bytes behind it, and pseudo-random bytes.
/// The bodies live behind the internal `fuzzing` feature (on in `--all-features`).
#[cfg(feature = "fuzzing")]
#[test]
fn fuzz_bodies_hold_on_a_few_inputs() {
    let mut inputs: Vec<Vec<u8>> = vec![vec![]];
    inputs.extend((0..=255u8).step_by(5).map(|flags| vec![flags]));
    inputs.push(vec![0x80, 1, 2, 3]);
    inputs.push(vec![0xc0, 0, 0, 0, 0]);
    let mut junk = random_bytes(4000, 31);
    for n in [10, 100, 1000, 4000] {
        for flags in [0x00, 0x07, 0x40, 0x80, 0xff] {
            junk[0] = flags;
            inputs.push(junk[..n].to_vec());
        }
    }
    for data in &inputs {
        p2psec::fuzzing::upgrade_dialer(data);
        p2psec::fuzzing::upgrade_listener(data);
    }
}

/// Seeded machines replay: two Noise upgrades from the same configs and seeds send the
/// same bytes, flight by flight; and the machines take a `&mut dyn CryptoRng` (what a
/// binding holds).
#[test]
fn seeded_upgrades_replay_and_accept_a_dyn_rng() {
    use zeroize::Zeroizing;
    let (dc, lc) = configs(&[NOISE], &[NOISE], true, true);
    let transcript = || {
        let mut d = Dialer::with_seed(&dc, Some(lc.local_peer_id()), NOW, Zeroizing::new([1; 32]))
            .expect("dialer");
        let mut l = Listener::with_seed(&lc, NOW, Zeroizing::new([2; 32])).expect("listener");
        let mut wire = Vec::new();
        for _ in 0..4 {
            let mut flight = Vec::new();
            let _ = d.poll_transmit(&mut flight);
            let n = l.handle_input(&flight).expect("listener input");
            assert_eq!(n, flight.len());
            wire.extend_from_slice(&flight);
            let mut flight = Vec::new();
            let _ = l.poll_transmit(&mut flight);
            let n = d.handle_input(&flight).expect("dialer input");
            assert_eq!(n, flight.len());
            wire.extend_from_slice(&flight);
        }
        assert!(d.is_complete() && l.is_complete());
        wire
    };
    let first = transcript();
    assert!(first.len() > 200, "a whole Noise upgrade");
    assert_eq!(first, transcript(), "seeded upgrades differ");

    let mut rng = TestRng(7);
    let dyn_rng: &mut dyn rand_core::CryptoRng = &mut rng;
    assert!(Dialer::new(&dc, None, NOW, dyn_rng).is_ok());
    assert!(Listener::new(&lc, NOW, dyn_rng).is_ok());
}
