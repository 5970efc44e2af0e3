//! A Noise exchange (handshake, then transport frames both ways) has the same outcome
//! however each direction's byte stream is cut into deliveries: same handshake hash, PeerIds,
//! muxer, events and decrypted data. And one byte changed anywhere in either stream, in the
//! handshake or in a transport frame, never yields success: some side names an error, or
//! (a length prefix grown past the data) waits for bytes that never come; no side ever
//! delivers plaintext that was not sent.
#![cfg(feature = "noise")]

#[path = "common/noise_pair.rs"]
mod noise_pair;

use std::sync::OnceLock;

use noise_pair::{identity, split_messages, Identity, Link, Machine, Peer, Summary, TestRng};
use p2psec::identity::KeyType;
use p2psec::noise::MAX_PLAINTEXT_LEN;
use proptest::prelude::*;

/// Three pairs of identities (made once: signing in a debug build is not free): the key
/// types and muxer lists vary.
fn pairs() -> &'static [(Identity, Identity)] {
    static PAIRS: OnceLock<Vec<(Identity, Identity)>> = OnceLock::new();
    PAIRS.get_or_init(|| {
        vec![
            (
                identity(KeyType::Ed25519, 1, &["/yamux/1.0.0", "/mplex/6.7.0"]),
                identity(KeyType::Ed25519, 2, &["/mplex/6.7.0", "/yamux/1.0.0"]),
            ),
            (
                identity(KeyType::Secp256k1, 3, &[]),
                identity(KeyType::Ed25519, 4, &["/yamux/1.0.0"]),
            ),
            (
                identity(KeyType::Ed25519, 5, &["/mplex/6.7.0"]),
                identity(KeyType::Ecdsa, 6, &[]),
            ),
        ]
    })
}

#[derive(Debug, Clone)]
struct Scenario {
    pair: usize,
    /// Application writes of the initiator and of the responder, as sizes.
    i_writes: Vec<usize>,
    r_writes: Vec<usize>,
}

fn write_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..2000,
        1 => Just(MAX_PLAINTEXT_LEN),
        1 => (MAX_PLAINTEXT_LEN + 1)..(MAX_PLAINTEXT_LEN + 3000),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0..pairs().len(),
        prop::collection::vec(write_size(), 1..4),
        prop::collection::vec(write_size(), 1..4),
    )
        .prop_map(|(pair, i_writes, r_writes)| Scenario {
            pair,
            i_writes,
            r_writes,
        })
}

/// Delivery sizes: mostly small (every boundary gets hit), sometimes large.
fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![6 => 1usize..40, 2 => 40usize..400, 1 => 400usize..70_000],
        1..8,
    )
}

fn data(sizes: &[usize], seed: u64) -> Vec<Vec<u8>> {
    let mut rng = TestRng(seed);
    sizes.iter().map(|&n| rng.bytes(n)).collect()
}

struct Run {
    i: Summary,
    r: Summary,
    i_pending: usize,
    r_pending: usize,
    i_stream: Vec<u8>,
    r_stream: Vec<u8>,
}

fn run(s: &Scenario, i_to_r: Link, r_to_i: Link) -> Run {
    let (iid, rid) = &pairs()[s.pair];
    let i = Peer::new(
        Machine::initiator(&iid.config, Some(rid.keypair.peer_id()), 11),
        data(&s.i_writes, 1),
    );
    let r = Peer::new(Machine::responder(&rid.config, 12), data(&s.r_writes, 2));
    let (i, r, a, b) = noise_pair::run(i, r, i_to_r, r_to_i);
    Run {
        i: i.summary().clone(),
        r: r.summary().clone(),
        i_pending: i.unconsumed(),
        r_pending: r.unconsumed(),
        i_stream: a.log,
        r_stream: b.log,
    }
}

/// A clean handshake of each pair without application data (made once): what every
/// successful run must reproduce, and the handshake bytes of each direction.
struct Clean {
    i: Summary,
    r: Summary,
    i_stream: Vec<u8>,
    r_stream: Vec<u8>,
}

fn clean(pair: usize) -> &'static Clean {
    static CLEAN: OnceLock<Vec<Clean>> = OnceLock::new();
    &CLEAN.get_or_init(|| {
        (0..pairs().len())
            .map(|pair| {
                let s = Scenario {
                    pair,
                    i_writes: Vec::new(),
                    r_writes: Vec::new(),
                };
                let c = run(&s, Link::default(), Link::default());
                assert_eq!((&c.i.error, &c.r.error), (&None, &None));
                assert!(c.i.handshake_hash.is_some() && c.i.handshake_hash == c.r.handshake_hash);
                assert_eq!(c.i.muxer, c.r.muxer);
                assert_eq!((c.i_pending, c.r_pending), (0, 0));
                assert_eq!(split_messages(&c.i_stream).len(), 2);
                assert_eq!(split_messages(&c.r_stream).len(), 1);
                Clean {
                    i: c.i,
                    r: c.r,
                    i_stream: c.i_stream,
                    r_stream: c.r_stream,
                }
            })
            .collect()
    })[pair]
}

/// The message lengths on the wire of one direction: its handshake messages, then one
/// frame per write (writes over a frame's plaintext limit are split).
fn layout(handshake: &[u8], writes: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = split_messages(handshake).iter().map(Vec::len).collect();
    for &w in writes {
        let mut rest = w;
        loop {
            let n = rest.min(MAX_PLAINTEXT_LEN);
            v.push(2 + n + 16);
            rest -= n;
            if rest == 0 {
                break;
            }
        }
    }
    v
}

/// Offsets of the length prefixes, given the message lengths.
fn prefix_offsets(lengths: &[usize]) -> Vec<usize> {
    let mut at = 0;
    let mut v = Vec::new();
    for len in lengths {
        v.extend([at, at + 1]);
        at += len;
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn same_outcome_for_any_chunking(s in scenario(), a in chunking(), b in chunking()) {
        let reference = clean(s.pair);
        let chunked = run(&s, Link::chunked(a), Link::chunked(b));
        let expect_i = Summary { received: data(&s.r_writes, 2).concat(), ..reference.i.clone() };
        let expect_r = Summary { received: data(&s.i_writes, 1).concat(), ..reference.r.clone() };
        prop_assert_eq!(&chunked.i, &expect_i);
        prop_assert_eq!(&chunked.r, &expect_r);
        prop_assert_eq!((chunked.i_pending, chunked.r_pending), (0, 0));
        // the same handshake bytes on the wire (our side is deterministic), then the frames
        prop_assert!(chunked.i_stream.starts_with(&reference.i_stream));
        prop_assert!(chunked.r_stream.starts_with(&reference.r_stream));
        prop_assert_eq!(chunked.i_stream.len(), layout(&reference.i_stream, &s.i_writes).iter().sum::<usize>());
        prop_assert_eq!(chunked.r_stream.len(), layout(&reference.r_stream, &s.r_writes).iter().sum::<usize>());
    }

    #[test]
    fn one_changed_byte_never_succeeds(
        s in scenario(),
        to_responder in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        a in chunking(),
        b in chunking(),
    ) {
        let reference = clean(s.pair);
        let lengths = if to_responder {
            layout(&reference.i_stream, &s.i_writes)
        } else {
            layout(&reference.r_stream, &s.r_writes)
        };
        let at = pick.index(lengths.iter().sum());
        let (mut ia, mut rb) = (Link::chunked(a), Link::chunked(b));
        if to_responder {
            ia.tamper = Some((at, mask));
        } else {
            rb.tamper = Some((at, mask));
        }
        let t = run(&s, ia, rb);
        // no plaintext that was not sent
        let (i_sent, r_sent) = (data(&s.i_writes, 1).concat(), data(&s.r_writes, 2).concat());
        prop_assert!(r_sent.starts_with(&t.i.received), "initiator got altered data");
        prop_assert!(i_sent.starts_with(&t.r.received), "responder got altered data");
        let failed = t.i.error.is_some() || t.r.error.is_some();
        let complete = t.i.received == r_sent
            && t.r.received == i_sent
            && t.i.handshake_hash.is_some()
            && t.r.handshake_hash.is_some();
        prop_assert!(failed || !complete, "byte {} ^ {:#x} went unnoticed", at, mask);
        if !prefix_offsets(&lengths).contains(&at) {
            // only a grown length prefix can leave a side waiting; anything else is named
            prop_assert!(failed, "byte {} ^ {:#x}: no error: {:?} {:?}", at, mask, t.i, t.r);
        } else if !failed {
            prop_assert!(t.i_pending + t.r_pending > 0, "stalled without pending bytes");
        }
        // the handshake itself is never completed with a changed handshake byte
        let handshake_len = if to_responder {
            reference.i_stream.len()
        } else {
            reference.r_stream.len()
        };
        if at < handshake_len {
            prop_assert!(
                t.i.handshake_hash.is_none() || t.r.handshake_hash.is_none(),
                "a changed handshake byte at {} completed both sides", at
            );
        }
    }
}
