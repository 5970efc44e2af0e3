//! Our TLS client against our TLS server, in memory: events and PeerIds, muxer agreement
//! through ALPN in every combination of lists, data both ways with data following the
//! handshake in the same flight, close_notify each way, mutual authentication (a client
//! without a certificate, driven through rustls directly, is refused), a wrong expected
//! PeerId, certificates checked at the caller's time, tampered records, poisoning,
//! oversized records, backpressure, certificate refresh, and chunking invariance.

#[path = "common/tls_pair.rs"]
mod tls_pair;

use std::sync::Arc;

use p2psec::identity::KeyType;
use p2psec::tls::{
    Client, Config, Error, Event, Server, Session, CERTIFICATE_RENEWAL_MARGIN_SECS,
    MAX_BUFFERED_PLAINTEXT, MAX_RECORD_BODY_LEN,
};
use p2psec::PeerId;
use proptest::prelude::*;
use tls_pair::{config, keypair, run_pair, Net, Peer, Summary, TestRng, NOW};

/// Client and server identities (Ed25519 unless a test says otherwise).
struct Two {
    client: Config,
    server: Config,
    client_id: PeerId,
    server_id: PeerId,
}

fn two(client_muxers: &[&str], server_muxers: &[&str]) -> Two {
    let c = keypair(KeyType::Ed25519, 1);
    let s = keypair(KeyType::Ed25519, 2);
    Two {
        client: config(&c, NOW, 11, client_muxers),
        server: config(&s, NOW, 12, server_muxers),
        client_id: c.peer_id(),
        server_id: s.peer_id(),
    }
}

fn handshake(t: &Two) -> (Peer, Peer) {
    let mut client = Peer::client(&t.client, Some(t.server_id), NOW);
    let mut server = Peer::server(&t.server, NOW);
    run_pair(&mut client, &mut server, Net::whole());
    (client, server)
}

fn identified(id: PeerId) -> Vec<Event> {
    vec![Event::RemoteIdentified { peer_id: id }, Event::Complete]
}

#[test]
fn handshake_identifies_both_sides() {
    let t = two(&[], &[]);
    let (client, server) = handshake(&t);
    assert_eq!(client.summary.error, None);
    assert_eq!(server.summary.error, None);
    assert_eq!(client.summary.events, identified(t.server_id));
    assert_eq!(server.summary.events, identified(t.client_id));
    assert_eq!(client.summary.session, Some((t.server_id, None)));
    assert_eq!(server.summary.session, Some((t.client_id, None)));
}

#[test]
fn every_identity_key_type_completes() {
    for (i, ty) in [KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa]
        .into_iter()
        .enumerate()
    {
        let seed = 100 + i as u64 * 10;
        let (c, s) = (keypair(ty, seed), keypair(ty, seed + 1));
        let mut client = Peer::client(&config(&c, NOW, seed + 2, &[]), Some(s.peer_id()), NOW);
        let mut server = Peer::server(&config(&s, NOW, seed + 3, &[]), NOW);
        run_pair(&mut client, &mut server, Net::whole());
        assert_eq!(client.summary.events, identified(s.peer_id()), "{ty:?}");
        assert_eq!(server.summary.events, identified(c.peer_id()), "{ty:?}");
    }
}

#[test]
fn client_without_expected_peer_accepts_any_valid_server() {
    let t = two(&[], &[]);
    let mut client = Peer::client(&t.client, None, NOW);
    let mut server = Peer::server(&t.server, NOW);
    run_pair(&mut client, &mut server, Net::whole());
    assert_eq!(client.summary.events, identified(t.server_id));
}

#[test]
fn cipher_suite_is_aes_128_gcm_first() {
    let t = two(&[], &[]);
    let (mut client, mut server) = handshake(&t);
    let expected = Some("TLS13_AES_128_GCM_SHA256");
    assert_eq!(client.session().unwrap().cipher_suite(), expected);
    assert_eq!(server.session().unwrap().cipher_suite(), expected);
}

fn agreed(client_muxers: &[&str], server_muxers: &[&str]) -> (Option<String>, Option<String>) {
    let t = two(client_muxers, server_muxers);
    let (client, server) = handshake(&t);
    assert_eq!(client.summary.error, None);
    assert_eq!(server.summary.error, None);
    (
        client.summary.session.unwrap().1,
        server.summary.session.unwrap().1,
    )
}

#[test]
fn muxer_follows_the_clients_order() {
    let yamux = Some("/yamux/1.0.0".to_string());
    let mplex = Some("/mplex/6.7.0".to_string());
    // same lists
    assert_eq!(
        agreed(
            &["/yamux/1.0.0", "/mplex/6.7.0"],
            &["/yamux/1.0.0", "/mplex/6.7.0"]
        ),
        (yamux.clone(), yamux.clone())
    );
    // the server prefers mplex, the client yamux: the client's order wins (spec SHOULD)
    assert_eq!(
        agreed(
            &["/yamux/1.0.0", "/mplex/6.7.0"],
            &["/mplex/6.7.0", "/yamux/1.0.0"]
        ),
        (yamux.clone(), yamux.clone())
    );
    assert_eq!(
        agreed(
            &["/mplex/6.7.0", "/yamux/1.0.0"],
            &["/yamux/1.0.0", "/mplex/6.7.0"]
        ),
        (mplex.clone(), mplex.clone())
    );
    // partial overlap
    assert_eq!(
        agreed(&["/mplex/6.7.0", "/yamux/1.0.0"], &["/yamux/1.0.0"]),
        (yamux.clone(), yamux.clone())
    );
}

#[test]
fn without_a_common_muxer_alpn_agrees_libp2p() {
    // `libp2p` (always last in the client's list, always supported) means: no muxer here
    assert_eq!(agreed(&["/yamux/1.0.0"], &[]), (None, None));
    assert_eq!(agreed(&[], &["/yamux/1.0.0"]), (None, None));
    assert_eq!(agreed(&["/yamux/1.0.0"], &["/mplex/6.7.0"]), (None, None));
    assert_eq!(agreed(&[], &[]), (None, None));
}

#[test]
fn invalid_muxer_ids_are_refused_when_the_handshake_is_made() {
    let k = keypair(KeyType::Ed25519, 3);
    let long = "x".repeat(256);
    for muxers in [vec![""], vec![long.as_str()]] {
        let c = config(&k, NOW, 4, &muxers);
        assert!(matches!(
            Client::new(&c, None, NOW),
            Err(Error::ApiMisuse(_))
        ));
        assert!(matches!(Server::new(&c, NOW), Err(Error::ApiMisuse(_))));
    }
    let many: Vec<String> = (0..17).map(|i| format!("/m/{i}")).collect();
    let c = Config::new(&k, NOW, &mut TestRng(5))
        .unwrap()
        .with_stream_muxers(many);
    assert!(matches!(
        Client::new(&c, None, NOW),
        Err(Error::ApiMisuse(_))
    ));
}

fn writes(seed: u64, total: usize) -> Vec<Vec<u8>> {
    let mut rng = TestRng(seed);
    let mut out = vec![
        Vec::new(),
        rng.bytes(1),
        rng.bytes(16_384),
        rng.bytes(16_385),
    ];
    let mut sum: usize = out.iter().map(Vec::len).sum();
    while sum < total {
        let n = 1 + rng.below(100_000) as usize;
        out.push(rng.bytes(n));
        sum += n;
    }
    out
}

#[test]
fn data_flows_both_ways_and_close_notify_ends_each_direction() {
    let t = two(&["/yamux/1.0.0"], &["/yamux/1.0.0"]);
    let (cw, sw) = (writes(1, 1 << 20), writes(2, 1 << 20));
    let mut client = Peer::client(&t.client, Some(t.server_id), NOW).with_writes(cw.clone(), true);
    let mut server = Peer::server(&t.server, NOW).with_writes(sw.clone(), true);
    run_pair(&mut client, &mut server, Net::whole());
    for p in [&client, &server] {
        assert_eq!(p.summary.error, None);
        assert!(p.summary.closed && p.summary.peer_closed);
    }
    assert!(
        server.summary.received == cw.concat(),
        "client data altered"
    );
    assert!(
        client.summary.received == sw.concat(),
        "server data altered"
    );
    // the client wrote right after Complete: its first record followed its Finished in
    // the same flight, and the server's handshake left it for the session
    assert!(server.leftover_after_handshake > 0);
}

#[test]
fn close_is_a_half_close() {
    let t = two(&[], &[]);
    let (mut client, mut server) = handshake(&t);
    client.session().unwrap().close();
    run_pair(&mut client, &mut server, Net::whole());
    assert!(server.session().unwrap().is_peer_closed());
    assert!(!client.session().unwrap().is_peer_closed());
    // the server may still send; the client may not
    assert_eq!(server.session().unwrap().write(b"late").unwrap(), 4);
    assert!(matches!(
        client.session().unwrap().write(b"x"),
        Err(Error::ApiMisuse(_))
    ));
    run_pair(&mut client, &mut server, Net::whole());
    assert_eq!(client.summary.received, b"late");
    server.session().unwrap().close();
    run_pair(&mut client, &mut server, Net::whole());
    assert!(client.session().unwrap().is_peer_closed());
    assert_eq!(client.summary.error, None);
    assert_eq!(server.summary.error, None);
}

#[test]
fn records_after_close_notify_are_not_consumed() {
    let t = two(&[], &[]);
    let (mut client, mut server) = handshake(&t);
    let c = client.session().unwrap();
    c.write(b"before").unwrap();
    c.close();
    let mut wire = Vec::new();
    let _ = c.poll_transmit(&mut wire);
    let closed_at = wire.len();
    // a record the peer should never have sent: an old record replayed after the close
    wire.extend_from_slice(&wire[..closed_at].to_vec()[..30]);
    let s = server.session().unwrap();
    let used = s.handle_input(&wire).unwrap();
    assert_eq!(used, closed_at);
    assert!(s.is_peer_closed());
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"before");
    assert_eq!(s.read(&mut buf).unwrap(), 0);
    assert_eq!(s.handle_input(&wire[used..]).unwrap(), 0);
}

#[test]
fn wrong_expected_peer_is_refused_by_the_client() {
    let t = two(&[], &[]);
    let wrong = keypair(KeyType::Ed25519, 77).peer_id();
    let mut client = Peer::client(&t.client, Some(wrong), NOW);
    let mut server = Peer::server(&t.server, NOW);
    run_pair(&mut client, &mut server, Net::whole());
    assert_eq!(
        client.summary.error,
        Some(Error::UnexpectedPeer {
            expected: wrong,
            got: t.server_id
        })
    );
    assert!(client.summary.events.is_empty());
    assert_eq!(
        server.summary.error,
        Some(Error::AlertReceived {
            description: "AccessDenied".into()
        })
    );
    assert!(server.summary.session.is_none());
}

#[test]
fn certificates_are_checked_at_the_callers_time() {
    let c = keypair(KeyType::Ed25519, 1);
    let s = keypair(KeyType::Ed25519, 2);
    let server_cfg = config(&s, NOW, 12, &[]);
    let later = server_cfg.certificate().not_after() + 1;
    // the client lives after the server's certificate expired
    let client_cfg = config(&c, later, 11, &[]);
    let mut client = Peer::client(&client_cfg, Some(s.peer_id()), later);
    let mut server = Peer::server(&server_cfg, NOW);
    run_pair(&mut client, &mut server, Net::whole());
    assert_eq!(
        client.summary.error,
        Some(Error::Expired {
            now: later,
            not_after: later as i64 - 1
        })
    );
    // and a server whose clock is far behind the client's certificate
    let earlier = NOW - 10 * 24 * 3600;
    let server_cfg = config(&s, earlier, 12, &[]);
    let client_cfg = config(&c, NOW, 11, &[]);
    let mut client = Peer::client(&client_cfg, Some(s.peer_id()), NOW);
    let mut server = Peer::server(&server_cfg, earlier);
    run_pair(&mut client, &mut server, Net::whole());
    assert!(matches!(
        server.summary.error,
        Some(Error::NotYetValid { now, .. }) if now == earlier
    ));
    assert_eq!(
        client.summary.error,
        Some(Error::AlertReceived {
            description: "CertificateExpired".into()
        })
    );
}

#[test]
fn an_outdated_local_certificate_is_refused_and_refreshed() {
    let k = keypair(KeyType::Ed25519, 1);
    let mut cfg = config(&k, NOW, 11, &[]);
    let old = cfg.certificate().clone();
    assert!(!cfg.needs_refresh(NOW));
    assert!(!cfg.refresh_if_needed(NOW, &mut TestRng(1)).unwrap());
    let late = old.not_after() + 10;
    assert_eq!(
        Client::new(&cfg, None, late).err(),
        Some(Error::LocalCertificateOutdated {
            now: late,
            not_before: old.not_before(),
            not_after: old.not_after()
        })
    );
    // within the margin: replaced; a clone made before keeps the old one
    let before = cfg.clone();
    let soon = old.not_after() - CERTIFICATE_RENEWAL_MARGIN_SECS;
    assert!(cfg.needs_refresh(soon));
    assert!(cfg.refresh_if_needed(soon, &mut TestRng(2)).unwrap());
    assert_ne!(cfg.certificate().der(), old.der());
    assert_eq!(before.certificate().der(), old.der());
    assert!(!cfg.needs_refresh(soon));
    // a clock set back before notBefore: replaced too
    assert!(cfg.needs_refresh(NOW));
    // the new certificate works
    let s = keypair(KeyType::Ed25519, 2);
    let mut client = Peer::client(&cfg, Some(s.peer_id()), soon);
    let mut server = Peer::server(&config(&s, soon, 12, &[]), soon);
    run_pair(&mut client, &mut server, Net::whole());
    assert_eq!(server.summary.events, identified(k.peer_id()));
}

/// Flips one byte at `at` of a direction and returns both summaries.
fn tampered(a_to_b: Option<(usize, u8)>, b_to_a: Option<(usize, u8)>) -> (Peer, Peer) {
    let t = two(&[], &[]);
    let mut client =
        Peer::client(&t.client, Some(t.server_id), NOW).with_writes(vec![vec![7u8; 5000]], false);
    let mut server = Peer::server(&t.server, NOW).with_writes(vec![vec![9u8; 5000]], false);
    run_pair(
        &mut client,
        &mut server,
        Net {
            chunk: Box::new(|| usize::MAX),
            tamper_a_to_b: a_to_b,
            tamper_b_to_a: b_to_a,
        },
    );
    (client, server)
}

#[test]
fn a_tampered_application_record_ends_the_session_with_a_named_error() {
    // past the client's handshake flights, inside its application data
    let (client, server) = tampered(Some((4000, 0x01)), None);
    assert_eq!(server.summary.error, Some(Error::RecordAuthentication));
    assert_eq!(
        client.summary.error,
        Some(Error::AlertReceived {
            description: "BadRecordMac".into()
        })
    );
    // both completed the handshake first
    assert!(server.summary.session.is_some() && client.summary.session.is_some());
}

#[test]
fn a_tampered_handshake_record_fails_the_handshake() {
    // a byte inside the server's encrypted flight (after ServerHello)
    let (client, server) = tampered(None, Some((400, 0x80)));
    assert!(client.summary.error.is_some());
    assert!(client.summary.session.is_none());
    assert!(server.summary.session.is_none());
    assert!(server.summary.error.is_some());
}

#[test]
fn a_failed_session_is_poisoned_and_sends_one_alert() {
    let t = two(&[], &[]);
    let (mut client, mut server) = handshake(&t);
    let c = client.session().unwrap();
    c.write(b"hello").unwrap();
    let mut wire = Vec::new();
    let _ = c.poll_transmit(&mut wire);
    let last = wire.len() - 1;
    wire[last] ^= 1;
    let s = server.session().unwrap();
    assert_eq!(s.handle_input(&wire), Err(Error::RecordAuthentication));
    // poisoned: every verb returns the same error
    assert_eq!(s.handle_input(&wire), Err(Error::RecordAuthentication));
    assert_eq!(s.handle_input(&[]), Err(Error::RecordAuthentication));
    assert_eq!(s.write(b"x"), Err(Error::RecordAuthentication));
    assert_eq!(s.read(&mut [0u8; 8]), Err(Error::RecordAuthentication));
    // the alert goes out once
    let mut alert = Vec::new();
    assert!(s.poll_transmit(&mut alert) > 0);
    assert_eq!(s.poll_transmit(&mut Vec::new()), 0);
    let c = client.session().unwrap();
    assert_eq!(
        c.handle_input(&alert),
        Err(Error::AlertReceived {
            description: "BadRecordMac".into()
        })
    );
}

#[test]
fn a_failed_handshake_is_poisoned() {
    let t = two(&[], &[]);
    let wrong = keypair(KeyType::Ed25519, 77).peer_id();
    let mut client = Client::new(&t.client, Some(wrong), NOW).unwrap();
    let mut server = Server::new(&t.server, NOW).unwrap();
    let mut to_server = Vec::new();
    let _ = client.poll_transmit(&mut to_server);
    assert_eq!(server.handle_input(&to_server), Ok(to_server.len()));
    let mut to_client = Vec::new();
    let _ = server.poll_transmit(&mut to_client);
    let expected = Error::UnexpectedPeer {
        expected: wrong,
        got: t.server_id,
    };
    assert_eq!(client.handle_input(&to_client), Err(expected.clone()));
    assert_eq!(client.handle_input(&to_client), Err(expected.clone()));
    assert_eq!(client.handle_input(&[]), Err(expected.clone()));
    assert_eq!(client.poll_event(), None);
    assert!(!client.is_complete());
    let mut alert = Vec::new();
    assert!(client.poll_transmit(&mut alert) > 0);
    assert_eq!(client.poll_transmit(&mut Vec::new()), 0);
    assert_eq!(client.into_session().err().map(|i| i.error), Some(expected));
}

#[test]
fn into_session_before_complete_is_misuse() {
    let t = two(&[], &[]);
    let client = Client::new(&t.client, None, NOW).unwrap();
    let refused = client.into_session().err().unwrap();
    assert!(matches!(refused.error, Error::ApiMisuse(_)));
    // the machine comes back whole: its ClientHello still waits to be sent
    let mut client = refused.machine;
    assert!(client.poll_transmit(&mut Vec::new()) > 0);
    let server = Server::new(&t.server, NOW).unwrap();
    let refused = server.into_session().err().unwrap();
    assert!(matches!(refused.error, Error::ApiMisuse(_)));
    assert!(!refused.machine.is_complete());
}

#[test]
fn an_oversized_record_header_is_refused_at_once() {
    let t = two(&[], &[]);
    let mut server = Server::new(&t.server, NOW).unwrap();
    let len = MAX_RECORD_BODY_LEN + 1;
    let header = [22, 3, 1, (len >> 8) as u8, len as u8];
    let expected = Error::RecordTooLarge {
        len,
        max: MAX_RECORD_BODY_LEN,
    };
    assert_eq!(server.handle_input(&header), Err(expected.clone()));
    assert_eq!(server.handle_input(&header), Err(expected));
    // a fatal decode_error alert (50), in the clear before the handshake
    let mut alert = Vec::new();
    let _ = server.poll_transmit(&mut alert);
    assert_eq!(alert, [21, 3, 3, 0, 2, 2, 50]);

    let (mut client, mut server) = handshake(&t);
    let s = client.session().unwrap();
    let header = [23, 3, 3, 0xff, 0xff];
    assert_eq!(
        s.handle_input(&header),
        Err(Error::RecordTooLarge {
            len: 0xffff,
            max: MAX_RECORD_BODY_LEN
        })
    );
    // the alert, encrypted, reaches the server
    let mut alert = Vec::new();
    assert!(s.poll_transmit(&mut alert) > 0);
    assert_eq!(
        server.session().unwrap().handle_input(&alert),
        Err(Error::AlertReceived {
            description: "DecodeError".into()
        })
    );
}

#[test]
fn handshake_consumes_whole_records_only() {
    let t = two(&[], &[]);
    let mut client = Client::new(&t.client, Some(t.server_id), NOW).unwrap();
    let mut server = Server::new(&t.server, NOW).unwrap();
    let mut hello = Vec::new();
    let _ = client.poll_transmit(&mut hello);
    for cut in [0, 1, 4, 5, hello.len() - 1] {
        let mut fresh = Server::new(&t.server, NOW).unwrap();
        assert_eq!(fresh.handle_input(&hello[..cut]), Ok(0), "cut at {cut}");
    }
    assert_eq!(server.handle_input(&hello), Ok(hello.len()));
}

#[test]
fn unread_plaintext_stops_consumption() {
    let t = two(&[], &[]);
    let (mut client, mut server) = handshake(&t);
    let c = client.session().unwrap();
    let data = vec![5u8; 200_000];
    let mut wire = Vec::new();
    let mut written = 0;
    while written < data.len() {
        written += c.write(&data[written..]).unwrap();
        let _ = c.poll_transmit(&mut wire);
    }
    let s = server.session().unwrap();
    let used = s.handle_input(&wire).unwrap();
    assert!(used < wire.len());
    assert!(s.readable() > MAX_BUFFERED_PLAINTEXT);
    assert!(s.readable() <= MAX_BUFFERED_PLAINTEXT + (1 << 14));
    assert_eq!(s.handle_input(&wire[used..]), Ok(0));
    // reading frees room; everything arrives in the end
    let mut got = Vec::new();
    let mut at = used;
    let mut buf = vec![0u8; 10_000];
    loop {
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let n = s.handle_input(&wire[at..]).unwrap();
        if n == 0 && s.readable() == 0 {
            break;
        }
        at += n;
    }
    assert_eq!(at, wire.len());
    assert!(got == data);
}

#[test]
fn a_full_send_queue_takes_nothing_more() {
    let t = two(&[], &[]);
    let (mut client, _) = handshake(&t);
    let c = client.session().unwrap();
    let mut out = Vec::new();
    let _ = c.poll_transmit(&mut out);
    let data = vec![1u8; 1 << 20];
    let taken = c.write(&data).unwrap();
    assert!(taken < data.len());
    assert_eq!(c.write(&data[taken..]).unwrap(), 0);
    let mut out = Vec::new();
    assert!(c.poll_transmit(&mut out) > 0);
    assert!(c.write(&data[taken..]).unwrap() > 0);
}

// ---- mutual authentication, ALPN refusal: rustls clients built by hand ----

mod raw {
    use super::*;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{
        CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime,
    };
    use rustls::sign::{CertifiedKey, SingleCertAndKey};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

    /// Accepts any server: these tests are about what our *server* does.
    #[derive(Debug)]
    struct AnyServer;

    impl ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            vec![
                SignatureScheme::ECDSA_NISTP256_SHA256,
                SignatureScheme::ED25519,
            ]
        }
    }

    /// A rustls client (its own clock) against our server until neither moves.
    fn run(config: ClientConfig, server: &mut Server) -> (Option<rustls::Error>, Option<Error>) {
        let name = ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
        let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let (mut theirs, mut ours) = (None, None);
        for _ in 0..50 {
            while conn.wants_write() {
                conn.write_tls(&mut to_server).unwrap();
            }
            if ours.is_none() {
                match server.handle_input(&to_server) {
                    Ok(n) => {
                        to_server.drain(..n);
                    }
                    Err(e) => ours = Some(e),
                }
            }
            let _ = server.poll_transmit(&mut to_client);
            if !to_client.is_empty() && theirs.is_none() {
                let mut slice = &to_client[..];
                conn.read_tls(&mut slice).unwrap();
                to_client.clear();
                if let Err(e) = conn.process_new_packets() {
                    theirs = Some(e);
                }
            }
        }
        (theirs, ours)
    }

    /// The plain rustls peer's provider, named: with p2psec on ring, rustls has both
    /// providers compiled in (aws-lc-rs through the dev-dependencies), and no process
    /// default can be chosen from its features.
    fn peer_provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }

    fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
        ClientConfig::builder_with_provider(peer_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer))
    }

    #[test]
    fn a_client_without_a_certificate_is_refused() {
        let t = two(&[], &[]);
        let mut server = Server::new(&t.server, NOW).unwrap();
        let mut config = builder().with_no_client_auth();
        config.alpn_protocols = vec![b"libp2p".to_vec()];
        let (theirs, ours) = run(config, &mut server);
        // the spec's exactly one certificate: zero arrived
        assert_eq!(ours, Some(Error::ChainLength { len: 0 }));
        assert!(
            matches!(
                theirs,
                Some(rustls::Error::AlertReceived(
                    rustls::AlertDescription::CertificateRequired
                ))
            ),
            "{theirs:?}"
        );
        assert!(!server.is_complete());
    }

    fn with_our_certificate(cert: &p2psec::tls::Certificate) -> ClientConfig {
        // `with_client_auth_cert` would check the key against the certificate through
        // webpki, which refuses the critical libp2p extension
        let key = rustls::crypto::aws_lc_rs::default_provider()
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                cert.private_key_pkcs8_der().to_vec(),
            )))
            .unwrap();
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        builder().with_client_cert_resolver(Arc::new(SingleCertAndKey::from(CertifiedKey::new(
            chain, key,
        ))))
    }

    #[test]
    fn a_client_with_no_common_alpn_is_refused() {
        let t = two(&[], &["/yamux/1.0.0"]);
        let mut server = Server::new(&t.server, NOW).unwrap();
        let mut config = with_our_certificate(t.client.certificate());
        config.alpn_protocols = vec![b"/mplex/6.7.0".to_vec()];
        let (theirs, ours) = run(config, &mut server);
        assert_eq!(ours, Some(Error::NoApplicationProtocol));
        assert!(
            matches!(
                theirs,
                Some(rustls::Error::AlertReceived(
                    rustls::AlertDescription::NoApplicationProtocol
                ))
            ),
            "{theirs:?}"
        );
    }

    #[test]
    fn a_client_offering_no_alpn_is_accepted_without_a_muxer() {
        let t = two(&[], &["/yamux/1.0.0"]);
        let mut server = Server::new(&t.server, NOW).unwrap();
        let config = with_our_certificate(t.client.certificate());
        let (theirs, ours) = run(config, &mut server);
        assert_eq!((theirs, ours), (None, None));
        assert!(server.is_complete());
        assert_eq!(server.into_session().unwrap().muxer(), None);
    }

    #[test]
    fn the_client_hello_has_no_sni_and_lists_alpn_and_suites_in_order() {
        let t = two(
            &["/yamux/1.0.0", "/mplex/6.7.0", "libp2p", "/yamux/1.0.0"],
            &[],
        );
        let mut client = Client::new(&t.client, None, NOW).unwrap();
        let mut hello = Vec::new();
        let _ = client.poll_transmit(&mut hello);
        let mut acceptor = rustls::server::Acceptor::default();
        acceptor.read_tls(&mut &hello[..]).unwrap();
        let accepted = acceptor.accept().unwrap().expect("a whole ClientHello");
        let ch = accepted.client_hello();
        assert_eq!(ch.server_name(), None);
        let alpn: Vec<&[u8]> = ch.alpn().unwrap().collect();
        // duplicates dropped, `libp2p` once and last
        assert_eq!(
            alpn,
            [&b"/yamux/1.0.0"[..], &b"/mplex/6.7.0"[..], &b"libp2p"[..]]
        );
        use rustls::CipherSuite as S;
        let suites: Vec<S> = ch
            .cipher_suites()
            .iter()
            .copied()
            .filter(|s| !matches!(s, S::TLS_EMPTY_RENEGOTIATION_INFO_SCSV))
            .collect();
        assert_eq!(
            suites,
            [
                S::TLS13_AES_128_GCM_SHA256,
                S::TLS13_AES_256_GCM_SHA384,
                S::TLS13_CHACHA20_POLY1305_SHA256
            ]
        );
        assert_eq!(
            ch.signature_schemes().first(),
            Some(&SignatureScheme::ECDSA_NISTP256_SHA256)
        );
    }

    #[test]
    fn a_server_certificate_without_the_libp2p_extension_is_refused_by_name() {
        // an ordinary self-signed certificate, served by plain rustls
        let plain = rcgen::generate_simple_self_signed(vec!["peer".to_string()]).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(peer_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(plain.cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.signing_key.serialize_der())),
            )
            .unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let t = two(&[], &[]);
        let mut client = Client::new(&t.client, None, NOW).unwrap();
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let mut ours = None;
        let mut theirs = None;
        for _ in 0..10 {
            let _ = client.poll_transmit(&mut to_server);
            if theirs.is_none() && !to_server.is_empty() {
                conn.read_tls(&mut &to_server[..]).unwrap();
                to_server.clear();
                if let Err(e) = conn.process_new_packets() {
                    theirs = Some(e);
                }
            }
            while conn.wants_write() {
                conn.write_tls(&mut to_client).unwrap();
            }
            if ours.is_none() {
                match client.handle_input(&to_client) {
                    Ok(n) => {
                        to_client.drain(..n);
                    }
                    Err(e) => ours = Some(e),
                }
            }
        }
        assert_eq!(ours, Some(Error::MissingExtension));
        assert_eq!(
            theirs,
            Some(rustls::Error::AlertReceived(
                rustls::AlertDescription::BadCertificate
            ))
        );
    }

    #[test]
    fn the_server_sends_no_session_tickets() {
        let t = two(&[], &[]);
        let mut server = Server::new(&t.server, NOW).unwrap();
        let mut config = with_our_certificate(t.client.certificate());
        config.alpn_protocols = vec![b"libp2p".to_vec()];
        let name = ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
        let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        for _ in 0..10 {
            while conn.wants_write() {
                conn.write_tls(&mut to_server).unwrap();
            }
            let n = server.handle_input(&to_server).unwrap();
            to_server.drain(..n);
            let _ = server.poll_transmit(&mut to_client);
            let mut slice = &to_client[..];
            conn.read_tls(&mut slice).unwrap();
            to_client.clear();
            conn.process_new_packets().unwrap();
        }
        assert!(server.is_complete() && !conn.is_handshaking());
        assert_eq!(conn.tls13_tickets_received(), 0);
        assert_eq!(conn.handshake_kind(), Some(rustls::HandshakeKind::Full));
    }
}

// ---- chunking invariance ----

/// A run's outcome, minus what TLS randomises (the bytes on the wire).
fn outcome(client: &Peer, server: &Peer) -> (Summary, Summary) {
    (client.summary.clone(), server.summary.clone())
}

fn scenario(kind: u8, chunks: &[usize]) -> (Summary, Summary) {
    let t = two(&["/yamux/1.0.0"], &["/yamux/1.0.0", "/mplex/6.7.0"]);
    let expected = match kind {
        0 => Some(t.server_id),
        _ => Some(keypair(KeyType::Ed25519, 77).peer_id()),
    };
    let cw = vec![TestRng(3).bytes(3000), Vec::new(), TestRng(4).bytes(20_000)];
    let sw = vec![TestRng(5).bytes(17_000), TestRng(6).bytes(1)];
    let mut client = Peer::client(&t.client, expected, NOW).with_writes(cw, true);
    let mut server = Peer::server(&t.server, NOW).with_writes(sw, true);
    let mut i = 0;
    let net = Net {
        chunk: Box::new(move || {
            i += 1;
            if chunks.is_empty() {
                usize::MAX
            } else {
                chunks[i % chunks.len()]
            }
        }),
        tamper_a_to_b: None,
        tamper_b_to_a: None,
    };
    run_pair(&mut client, &mut server, net);
    outcome(&client, &server)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_split_of_the_streams_gives_the_same_outcome(
        kind in 0u8..2,
        chunks in proptest::collection::vec(
            prop_oneof![1usize..8, 1usize..600, 1usize..20_000],
            1..12,
        ),
    ) {
        let whole = scenario(kind, &[]);
        let split = scenario(kind, &chunks);
        prop_assert_eq!(split, whole);
    }
}

#[test]
fn the_reference_outcomes_are_what_they_should_be() {
    let (client, server) = scenario(0, &[]);
    assert_eq!(client.error, None);
    assert_eq!(server.error, None);
    assert_eq!(
        client.session.as_ref().unwrap().1.as_deref(),
        Some("/yamux/1.0.0")
    );
    assert_eq!(server.received.len(), 23_000);
    assert_eq!(client.received.len(), 17_001);
    assert!(client.peer_closed && server.peer_closed);
    let (client, server) = scenario(1, &[]);
    assert!(matches!(client.error, Some(Error::UnexpectedPeer { .. })));
    assert!(matches!(server.error, Some(Error::AlertReceived { .. })));
}

#[allow(dead_code)]
fn _session_is_send(s: Session) -> impl Send {
    s
}
