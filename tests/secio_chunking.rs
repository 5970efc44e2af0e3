//! SECIO under arbitrary chunking and corruption (proptest):
//! - the peer's bytes (Propose, Exchange, its nonce echo, data frames) split anywhere give
//!   the same output bytes, the same session and the same plaintext;
//! - any single corrupted byte of them ends in a named error (or, for a data frame's
//!   length prefix, a session still waiting for bytes), never in a panic and never in
//!   released plaintext.
#![cfg(feature = "secio")]

use p2psec::identity::{KeyType, Keypair};
use p2psec::secio::{Config, Error, Handshake};
use p2psec::PeerId;
use proptest::prelude::*;
use zeroize::Zeroizing;

fn keypair(seed: u8) -> Keypair {
    let mut rng = Rng(seed as u64);
    Keypair::generate(KeyType::Ed25519, &mut rng).expect("key")
}

#[path = "common/rng.rs"]
mod rng;
use rng::TestRng as Rng;

const DATA: &[u8] = b"the first muxed bytes, right behind the nonce echo";

/// One clean session: what b sent to a, in order (handshake, echo, one data frame).
fn b_bytes(ka: &Keypair, kb: &Keypair) -> Vec<u8> {
    let mut a = Handshake::with_seed(&Config::new(ka), Some(kb.peer_id()), seed(1)).unwrap();
    let mut b = Handshake::with_seed(&Config::new(kb), None, seed(2)).unwrap();
    let (mut ab, mut ba, mut all_ba) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..4 {
        let _ = a.poll_transmit(&mut ab);
        let n = b.poll_transmit(&mut ba);
        all_ba.extend_from_slice(&ba[ba.len() - n..]);
        let used = b.handle_input(&ab).unwrap();
        ab.drain(..used);
        let used = a.handle_input(&ba).unwrap();
        ba.drain(..used);
    }
    let mut before = Vec::new();
    let n = b.poll_transmit(&mut before);
    all_ba.extend_from_slice(&before[..n]);
    let mut sb = b.into_session().unwrap();
    sb.send().encrypt_to_vec(DATA, &mut all_ba).unwrap();
    all_ba
}

fn seed(b: u8) -> Zeroizing<[u8; 32]> {
    Zeroizing::new([b; 32])
}

/// What a fresh `a` does with `input` cut at `cuts`: (its output, the remote PeerId,
/// the plaintext, or the error).
fn feed(
    ka: &Keypair,
    kb: &Keypair,
    input: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, PeerId, Vec<u8>), Error> {
    let mut a = Handshake::with_seed(&Config::new(ka), Some(kb.peer_id()), seed(1))?;
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut session = None;
    let mut plain = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut at = 0;
    for end in bounds {
        pending.extend_from_slice(&input[at..end]);
        at = end;
        if session.is_none() {
            let n = a.handle_input(&pending)?;
            pending.drain(..n);
            let _ = a.poll_transmit(&mut out);
            if a.is_complete() {
                let hs = std::mem::replace(
                    &mut a,
                    Handshake::with_seed(&Config::new(ka), None, seed(9))?,
                );
                session = Some(hs.into_session().map_err(|i| i.error)?);
            }
        }
        if let Some(s) = session.as_mut() {
            let n = s.recv().handle_input(&pending, &mut plain)?;
            pending.drain(..n);
        }
    }
    match session {
        Some(mut s) => {
            if s.recv().echo_verified() {
                Ok((out, s.remote_peer_id(), plain))
            } else {
                Err(Error::ApiMisuse("unfinished"))
            }
        }
        None => Err(Error::ApiMisuse("unfinished")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_chunking_gives_the_same_session(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        let (ka, kb) = (keypair(1), keypair(2));
        let input = b_bytes(&ka, &kb);
        let whole = feed(&ka, &kb, &input, &[]).expect("clean run");
        prop_assert_eq!(&whole.2[..], DATA);
        let split = feed(&ka, &kb, &input, &cuts).expect("chunked run");
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn any_corrupted_byte_is_refused(pos in any::<usize>(), flip in 1u8..=255, cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let (ka, kb) = (keypair(1), keypair(2));
        let mut input = b_bytes(&ka, &kb);
        let pos = pos % input.len();
        input[pos] ^= flip;
        match feed(&ka, &kb, &input, &cuts) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            // a corrupted length prefix of the data frame leaves the session waiting for
            // more bytes: nothing of it may have been released
            Ok((_, _, plain)) => prop_assert!(plain.is_empty(), "accepted corrupted input at {}: {:?}", pos, plain),
        }
    }
}
