//! Our Noise machines against rust-libp2p's `libp2p-noise` 0.47 over an in-memory duplex:
//! both roles, Ed25519 / Secp256k1 / ECDSA identities, more than 1 MiB each way after the
//! handshake in frames of many sizes, PeerIds checked on both sides; bytes tampered in
//! flight in either direction are refused (by them, or by us with a named error); a wrong
//! expected PeerId, prologues, muxer lists and WebTransport certificate hashes.
#![cfg(feature = "noise")]

#[path = "common/noise_duplex.rs"]
mod noise_duplex;
#[path = "common/noise_pair.rs"]
mod noise_pair;

use std::collections::HashSet;

use libp2p_core::multihash::Multihash;
use noise_duplex::{run_mixed, their_config, their_side, to_our_peer_id, Mixed, Role, TheirError};
use noise_pair::{identity, split_messages, Machine, Peer, TestRng};
use p2psec::identity::{KeyType, Keypair};
use p2psec::noise::{Error, Event, MAX_PLAINTEXT_LEN};

/// libp2p-noise's largest plaintext per frame (65535 - 1024, its `MAX_FRAME_LEN`).
const THEIR_MAX_PLAINTEXT: usize = 64511;

/// Application writes adding up to a bit more than 1 MiB: an empty one, small ones, exactly
/// one frame, one byte more, and writes larger than a frame (split by the sender).
fn writes(sizes: &[usize], seed: u64) -> Vec<Vec<u8>> {
    let mut rng = TestRng(seed);
    let mut total: usize = sizes.iter().sum();
    let mut out: Vec<Vec<u8>> = sizes.iter().map(|&n| rng.bytes(n)).collect();
    while total <= 1 << 20 {
        let n = 1 + rng.below(150_000) as usize;
        out.push(rng.bytes(n));
        total += n;
    }
    out
}

fn our_writes() -> Vec<Vec<u8>> {
    writes(
        &[
            0,
            1,
            100,
            4096,
            MAX_PLAINTEXT_LEN,
            MAX_PLAINTEXT_LEN + 1,
            THEIR_MAX_PLAINTEXT,
            3 * MAX_PLAINTEXT_LEN + 7,
            300_000,
        ],
        1,
    )
}

fn their_writes() -> Vec<Vec<u8>> {
    writes(
        &[
            1,
            100,
            THEIR_MAX_PLAINTEXT,
            THEIR_MAX_PLAINTEXT + 1,
            200_000,
        ],
        2,
    )
}

/// The identity of our side for `ty` (seeds 10.., so each key type differs).
fn our_identity(ty: KeyType, muxers: &[&str]) -> noise_pair::Identity {
    identity(ty, 10 + ty.to_u64(), muxers)
}

/// Their identity: a key of ours, decoded by libp2p-identity from our protobuf encoding.
fn their_identity(ty: KeyType) -> (Keypair, libp2p_identity::Keypair, libp2p_noise::Config) {
    let ours = Keypair::generate(ty, &mut TestRng(20 + ty.to_u64())).unwrap();
    let (theirs, config) = their_config(&ours.encode_protobuf());
    (ours, theirs, config)
}

/// One full exchange: handshake, then `ours_w` / `theirs_w` written by each side.
fn exchange(
    our_role: Role,
    our_machine: Machine,
    their: libp2p_noise::Config,
    ours_w: Vec<Vec<u8>>,
    theirs_w: Vec<Vec<u8>>,
    tamper_to_theirs: Option<(usize, u8)>,
    tamper_to_ours: Option<(usize, u8)>,
) -> Mixed {
    let expect: usize = ours_w.iter().map(Vec::len).sum();
    let their_role = match our_role {
        Role::Initiator => Role::Responder,
        Role::Responder => Role::Initiator,
    };
    run_mixed(
        Peer::new(our_machine, ours_w),
        move |io| their_side(their, io, their_role, theirs_w, expect),
        tamper_to_theirs,
        tamper_to_ours,
    )
}

fn full_exchange(ty: KeyType, our_role: Role) {
    let ours = our_identity(ty, &[]);
    let (their_keys, _, their_cfg) = their_identity(ty);
    let machine = match our_role {
        Role::Initiator => Machine::initiator(&ours.config, Some(their_keys.peer_id()), 7),
        Role::Responder => Machine::responder(&ours.config, 7),
    };
    let (ow, tw) = (our_writes(), their_writes());
    let m = exchange(
        our_role,
        machine,
        their_cfg,
        ow.clone(),
        tw.clone(),
        None,
        None,
    );

    // our side: identified them, got all of their bytes, once, in order
    assert_eq!(m.ours.error, None, "{ty:?} {our_role:?}");
    assert_eq!(m.ours.remote_peer_id, Some(their_keys.peer_id()));
    assert_eq!(
        m.ours.events,
        vec![
            Event::RemoteIdentified {
                peer_id: their_keys.peer_id()
            },
            Event::Complete
        ]
    );
    assert_eq!(m.ours.muxer, None, "libp2p-noise sends no muxer list");
    assert_eq!(
        m.ours.received.len(),
        tw.iter().map(Vec::len).sum::<usize>()
    );
    assert!(
        m.ours.received == tw.concat(),
        "their bytes arrived altered"
    );
    // libp2p-noise cuts its writes at its own frame limit
    assert_eq!(
        m.peer.frames_opened.iter().max(),
        Some(&THEIR_MAX_PLAINTEXT)
    );
    assert_eq!(m.peer.unconsumed(), 0);

    // their side: identified us, got all of our bytes
    let (their_view, got) = m
        .theirs
        .expect("their side finished")
        .expect("their side succeeded");
    assert_eq!(to_our_peer_id(&their_view), ours.keypair.peer_id());
    assert!(got == ow.concat(), "our bytes arrived altered");

    // the handshake on the wire has XX's shape
    let (ours_msgs, theirs_msgs) = (
        split_messages(&m.ours_to_theirs),
        split_messages(&m.theirs_to_ours),
    );
    match our_role {
        Role::Initiator => {
            assert_eq!(ours_msgs[0].len(), 2 + 32, "message 1 is e only");
            assert!(theirs_msgs[0].len() > 2 + 32 + 48 + 16);
            assert_eq!(m.ours.handshake_consumed, theirs_msgs[0].len());
        }
        Role::Responder => {
            assert_eq!(theirs_msgs[0].len(), 2 + 32);
            assert_eq!(
                m.ours.handshake_consumed,
                theirs_msgs[0].len() + theirs_msgs[1].len()
            );
        }
    }
}

#[test]
fn ours_initiator_against_their_responder_ed25519() {
    full_exchange(KeyType::Ed25519, Role::Initiator);
}

#[test]
fn ours_initiator_against_their_responder_secp256k1() {
    full_exchange(KeyType::Secp256k1, Role::Initiator);
}

#[test]
fn ours_initiator_against_their_responder_ecdsa() {
    full_exchange(KeyType::Ecdsa, Role::Initiator);
}

#[test]
fn ours_responder_against_their_initiator_ed25519() {
    full_exchange(KeyType::Ed25519, Role::Responder);
}

#[test]
fn ours_responder_against_their_initiator_secp256k1() {
    full_exchange(KeyType::Secp256k1, Role::Responder);
}

#[test]
fn ours_responder_against_their_initiator_ecdsa() {
    full_exchange(KeyType::Ecdsa, Role::Responder);
}

#[test]
fn mixed_key_types_both_ways() {
    // identities of different types on the two sides
    for (ours_ty, theirs_ty) in [
        (KeyType::Ed25519, KeyType::Ecdsa),
        (KeyType::Secp256k1, KeyType::Ed25519),
        (KeyType::Ecdsa, KeyType::Secp256k1),
    ] {
        for role in [Role::Initiator, Role::Responder] {
            let ours = our_identity(ours_ty, &[]);
            let (their_keys, _, their_cfg) = their_identity(theirs_ty);
            let machine = match role {
                Role::Initiator => Machine::initiator(&ours.config, None, 3),
                Role::Responder => Machine::responder(&ours.config, 3),
            };
            let m = exchange(
                role,
                machine,
                their_cfg,
                vec![b"ping".to_vec()],
                vec![b"pong".to_vec()],
                None,
                None,
            );
            assert_eq!(m.ours.error, None);
            assert_eq!(m.ours.remote_peer_id, Some(their_keys.peer_id()));
            assert_eq!(m.ours.received, b"pong");
            let (id, got) = m.theirs.unwrap().unwrap();
            assert_eq!(to_our_peer_id(&id), ours.keypair.peer_id());
            assert_eq!(got, b"ping");
        }
    }
}

#[test]
fn wrong_expected_peer_is_refused_before_message_3() {
    let ours = our_identity(KeyType::Ed25519, &[]);
    let (their_keys, _, their_cfg) = their_identity(KeyType::Ed25519);
    let other = Keypair::generate(KeyType::Ed25519, &mut TestRng(99))
        .unwrap()
        .peer_id();
    let machine = Machine::initiator(&ours.config, Some(other), 7);
    let m = exchange(
        Role::Initiator,
        machine,
        their_cfg,
        vec![b"x".to_vec()],
        vec![],
        None,
        None,
    );
    assert_eq!(
        m.ours.error,
        Some(Error::UnexpectedPeer {
            expected: other,
            got: their_keys.peer_id()
        })
    );
    // we sent message 1 only, then closed: they fail on the missing message 3
    assert_eq!(m.ours_to_theirs.len(), 2 + 32);
    let err = m.theirs.expect("their side finished").unwrap_err();
    assert!(
        matches!(err, TheirError::Noise(libp2p_noise::Error::Io(_))),
        "{err:?}"
    );
}

/// Offsets of `message` (0-based, whole on the wire) in `stream`: (start, len).
fn message_span(stream: &[u8], message: usize) -> (usize, usize) {
    let msgs = split_messages(stream);
    let start = msgs[..message].iter().map(Vec::len).sum();
    (start, msgs[message].len())
}

/// Positions to flip inside a span: the length prefix, then every `step`-th byte of the
/// body, and its last byte (the tag).
fn positions(start: usize, len: usize, step: usize) -> Vec<usize> {
    let mut v: Vec<usize> = vec![start, start + 1];
    v.extend((start + 2..start + len).step_by(step));
    v.push(start + len - 1);
    v.dedup();
    v
}

#[test]
fn our_tampered_handshake_bytes_are_refused_by_them() {
    let ours = our_identity(KeyType::Ed25519, &[]);
    for role in [Role::Initiator, Role::Responder] {
        // a clean run tells where our handshake message (3 as initiator, 2 as responder) is
        let (_, _, cfg) = their_identity(KeyType::Ed25519);
        let machine = |ours: &noise_pair::Identity| match role {
            Role::Initiator => Machine::initiator(&ours.config, None, 7),
            Role::Responder => Machine::responder(&ours.config, 7),
        };
        let clean = exchange(
            role,
            machine(&ours),
            cfg.clone(),
            vec![vec![1; 1000]],
            vec![vec![2; 10]],
            None,
            None,
        );
        assert!(clean.theirs.as_ref().unwrap().is_ok());
        let which = match role {
            Role::Initiator => 1, // message 3 is our second message
            Role::Responder => 0, // message 2 is our first
        };
        let (start, len) = message_span(&clean.ours_to_theirs, which);
        let mut refused = 0;
        let at_list = positions(start, len, 5);
        for &at in &at_list {
            for mask in [0x01, 0x80] {
                let m = exchange(
                    role,
                    machine(&ours),
                    cfg.clone(),
                    vec![vec![1; 1000]],
                    vec![vec![2; 10]],
                    Some((at, mask)),
                    None,
                );
                match m.theirs {
                    Some(Ok(_)) => {
                        panic!("{role:?}: they accepted our message with byte {at} ^ {mask:#x}")
                    }
                    Some(Err(TheirError::Noise(_))) => refused += 1,
                    Some(Err(e)) => panic!("{role:?}: byte {at}: not a handshake error: {e:?}"),
                    // a longer length prefix: they wait for bytes that never come
                    None => assert!(at < start + 2, "{role:?}: byte {at} left them waiting"),
                }
            }
        }
        // every body flip is refused (checked above); only length flips may leave them waiting
        assert!(
            refused >= 2 * (at_list.len() - 2),
            "{role:?}: only {refused} refusals"
        );
    }
}

#[test]
fn their_tampered_bytes_give_our_named_errors() {
    let ours = our_identity(KeyType::Ed25519, &[]);
    for role in [Role::Initiator, Role::Responder] {
        let machine = || match role {
            Role::Initiator => Machine::initiator(&ours.config, None, 7),
            Role::Responder => Machine::responder(&ours.config, 7),
        };
        // libp2p-noise's bytes differ every run (its keys are random), but the lengths do not
        let (_, _, cfg) = their_identity(KeyType::Ed25519);
        let clean = exchange(
            role,
            machine(),
            cfg.clone(),
            vec![vec![1; 10]],
            vec![vec![2; 1000]],
            None,
            None,
        );
        assert_eq!(clean.ours.error, None);
        let msgs = split_messages(&clean.theirs_to_ours);
        // as initiator: their message 2 (our first input) is checked; as responder their
        // message 1 is just a key (any 32 bytes are one), so their message 3 is
        let (which, number) = match role {
            Role::Initiator => (0, 2u8),
            Role::Responder => (1, 3u8),
        };
        let (start, len) = message_span(&clean.theirs_to_ours, which);
        for at in positions(start, len, 3) {
            let m = exchange(
                role,
                machine(),
                cfg.clone(),
                vec![vec![1; 10]],
                vec![vec![2; 1000]],
                None,
                Some((at, 0x04)),
            );
            match &m.ours.error {
                Some(Error::Handshake { message, .. }) => assert_eq!(*message, number),
                // a shorter length prefix
                Some(Error::BadMessageLength { message, .. }) if at < start + 2 => {
                    assert_eq!(*message, number)
                }
                // a longer length prefix: we wait for the rest, then see their stream end
                None if at < start + 2 => assert!(!m.peer.is_established()),
                other => panic!("{role:?}: their byte {at} flipped: {other:?}"),
            }
        }
        // their first transport frame, after the handshake
        let frame_start: usize = msgs[..=which].iter().map(Vec::len).sum();
        for at in [
            frame_start,
            frame_start + 1,
            frame_start + 2,
            frame_start + 500,
            frame_start + 2 + 1000 + 15,
        ] {
            let m = exchange(
                role,
                machine(),
                cfg.clone(),
                vec![vec![1; 10]],
                vec![vec![2; 1000]],
                None,
                Some((at, 0x04)),
            );
            assert!(m.peer.is_established());
            match &m.ours.error {
                Some(Error::Decrypt | Error::FrameTooShort { .. }) => {}
                None if at < frame_start + 2 => assert!(m.ours.received.is_empty()),
                other => panic!("{role:?}: their frame byte {at} flipped: {other:?}"),
            }
            assert!(m.ours.received.is_empty(), "tampered plaintext delivered");
        }
    }
}

#[test]
fn prologue_must_match_in_both_roles() {
    let prologue = b"libp2p-webrtc-noise:test".to_vec();
    let ours = our_identity(KeyType::Ed25519, &[]);
    for role in [Role::Initiator, Role::Responder] {
        for (our_prologue, matching) in [(prologue.clone(), true), (b"other".to_vec(), false)] {
            let config = ours.config.clone().with_prologue(&our_prologue);
            let machine = match role {
                Role::Initiator => Machine::initiator(&config, None, 7),
                Role::Responder => Machine::responder(&config, 7),
            };
            let (_, _, cfg) = their_identity(KeyType::Ed25519);
            let cfg = cfg.with_prologue(prologue.clone());
            let m = exchange(
                role,
                machine,
                cfg,
                vec![b"a".to_vec()],
                vec![b"b".to_vec()],
                None,
                None,
            );
            if matching {
                assert_eq!(m.ours.error, None);
                assert_eq!(m.ours.received, b"b");
                assert_eq!(m.theirs.unwrap().unwrap().1, b"a");
                continue;
            }
            assert!(m.theirs.expect("their side finished").is_err());
            assert!(!m.peer.is_established());
            if role == Role::Initiator {
                // we are the first to authenticate something under the other prologue
                assert!(
                    matches!(m.ours.error, Some(Error::Handshake { message: 2, .. })),
                    "{:?}",
                    m.ours.error
                );
            }
        }
    }
}

#[test]
fn our_muxer_list_is_ignored_by_them() {
    // libp2p-noise neither sends nor reads `stream_muxers`: with only our list, no muxer
    let ours = our_identity(KeyType::Ed25519, &["/yamux/1.0.0", "/mplex/6.7.0"]);
    for role in [Role::Initiator, Role::Responder] {
        let machine = match role {
            Role::Initiator => Machine::initiator(&ours.config, None, 7),
            Role::Responder => Machine::responder(&ours.config, 7),
        };
        let (_, _, cfg) = their_identity(KeyType::Ed25519);
        let m = exchange(
            role,
            machine,
            cfg,
            vec![b"a".to_vec()],
            vec![b"b".to_vec()],
            None,
            None,
        );
        assert_eq!(m.ours.error, None);
        assert_eq!(m.ours.muxer, None);
        assert!(m.theirs.unwrap().is_ok());
    }
}

fn sha256_multihash(seed: u8) -> Multihash<64> {
    Multihash::wrap(0x12, &[seed; 32]).unwrap()
}

#[test]
fn webtransport_certhashes_both_ways() {
    let hashes: HashSet<Multihash<64>> = [sha256_multihash(1), sha256_multihash(2)].into();
    let mut sorted: Vec<Vec<u8>> = hashes.iter().map(|h| h.to_bytes()).collect();
    sorted.sort();

    // their responder (the WebTransport server) sends its hashes; our initiator sees them
    let ours = our_identity(KeyType::Ed25519, &[]);
    let (_, _, cfg) = their_identity(KeyType::Ed25519);
    let cfg = cfg.with_webtransport_certhashes(hashes.clone());
    let m = exchange(
        Role::Initiator,
        Machine::initiator(&ours.config, None, 7),
        cfg,
        vec![b"a".to_vec()],
        vec![b"b".to_vec()],
        None,
        None,
    );
    assert_eq!(m.ours.error, None);
    let mut got = m.ours.remote_certhashes.clone();
    got.sort();
    assert_eq!(got, sorted);

    // our responder sends hashes; their initiator requires its expected set to be a subset
    let config = ours
        .config
        .clone()
        .with_webtransport_certhashes(sorted.clone());
    for (expected, accepted) in [
        (HashSet::from([sha256_multihash(2)]), true),
        (hashes.clone(), true),
        (HashSet::from([sha256_multihash(3)]), false),
    ] {
        let (_, _, cfg) = their_identity(KeyType::Ed25519);
        let cfg = cfg.with_webtransport_certhashes(expected);
        let m = exchange(
            Role::Responder,
            Machine::responder(&config, 7),
            cfg,
            vec![b"a".to_vec()],
            vec![b"b".to_vec()],
            None,
            None,
        );
        match m.theirs.expect("their side finished") {
            Ok(_) => assert!(accepted),
            Err(TheirError::Noise(libp2p_noise::Error::UnknownWebTransportCerthashes(..))) => {
                assert!(!accepted)
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}
