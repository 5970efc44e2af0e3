//! Fuzz bodies for SECIO: the handshake fed arbitrary peer bytes in arbitrary chunks, and
//! the frame decoder fed arbitrary bytes or sealed frames with a corrupted byte.

use alloc::vec::Vec;
use zeroize::Zeroizing;

use super::{chunks, TestRng};
use crate::identity::{KeyType, Keypair, PeerId};
use crate::secio::crypto::{stretch, DirectionCipher};
use crate::secio::{Cipher, Config, Error, Handshake, Hash, RecvHalf, SendHalf, MAX_FRAME_LEN};

/// A fixed, cheap identity (the fuzzer cannot forge signatures anyway).
fn identity(seed: u8) -> Keypair {
    let mut rng = TestRng(u64::from(seed) + 1);
    match Keypair::generate(KeyType::Ed25519, &mut rng) {
        Ok(k) => k,
        Err(_) => unreachable!("Ed25519 key generation cannot fail"),
    }
}

#[derive(Debug, PartialEq)]
struct Outcome {
    out: Vec<u8>,
    complete: bool,
    peer: Option<PeerId>,
    plain: Vec<u8>,
    error: Option<Error>,
}

fn handshake_run<'a>(
    config: &Config,
    expected: Option<PeerId>,
    input: impl Iterator<Item = &'a [u8]>,
) -> Outcome {
    let mut outcome = Outcome {
        out: Vec::new(),
        complete: false,
        peer: None,
        plain: Vec::new(),
        error: None,
    };
    let Ok(mut hs) = Handshake::with_seed(config, expected, Zeroizing::new([7u8; 32])) else {
        return outcome;
    };
    let _ = hs.poll_transmit(&mut outcome.out);
    let mut session = None;
    let mut pending = Vec::new();
    for chunk in input {
        pending.extend_from_slice(chunk);
        if session.is_none() {
            match hs.handle_input(&pending) {
                Ok(n) => drop(pending.drain(..n.min(pending.len()))),
                Err(e) => {
                    // poisoned: the same error again, and nothing more out
                    assert_eq!(hs.handle_input(&[]), Err(e.clone()));
                    assert_eq!(hs.poll_transmit(&mut outcome.out), 0, "bytes after {e}");
                    assert_eq!(hs.poll_event(), None, "an event after {e}");
                    outcome.error = Some(e);
                    break;
                }
            }
            let _ = hs.poll_transmit(&mut outcome.out);
            while let Some(ev) = hs.poll_event() {
                if let crate::secio::Event::RemoteIdentified { peer_id } = ev {
                    outcome.peer = Some(peer_id);
                }
            }
            if hs.is_complete() {
                outcome.complete = true;
                let done = core::mem::replace(
                    &mut hs,
                    match Handshake::with_seed(config, None, Zeroizing::new([8u8; 32])) {
                        Ok(h) => h,
                        Err(_) => return outcome,
                    },
                );
                session = done.into_session().ok();
            }
        }
        if let Some(s) = session.as_mut() {
            match s.recv().handle_input(&pending, &mut outcome.plain) {
                Ok(n) => drop(pending.drain(..n.min(pending.len()))),
                Err(e) => {
                    outcome.error = Some(e);
                    break;
                }
            }
        }
    }
    outcome
}

/// Fuzz body: one SECIO handshake fed `data` as the peer's bytes (first byte: the
/// chunking seed; its low bit: whether a PeerId is expected). The whole input and the
/// chunked input must end alike; nothing may panic; an error poisons the machine.
pub fn secio_handshake(data: &[u8]) {
    let config = Config::new(&identity(1));
    let expected = match data.first() {
        Some(b) if b & 1 == 1 => Some(identity(2).peer_id()),
        _ => None,
    };
    let payload = data.get(1..).unwrap_or_default();
    let mut whole = handshake_run(&config, expected, core::iter::once(payload));
    let mut chunked = handshake_run(&config, expected, chunks(data));
    if whole.error.is_some() {
        // A failure drops what the machine had not handed out yet, so a run whose bytes
        // came in pieces may have sent (and received) more before the same error: the
        // shorter must be the start of the longer.
        for (a, b) in [
            (&mut whole.out, &mut chunked.out),
            (&mut whole.plain, &mut chunked.plain),
        ] {
            let n = a.len().min(b.len());
            assert_eq!(a.get(..n), b.get(..n), "chunking changed what went out");
            a.truncate(n);
            b.truncate(n);
        }
    }
    assert_eq!(whole, chunked, "chunking changed the outcome");
}

fn halves(selector: u8) -> Option<(SendHalf, RecvHalf)> {
    let cipher = match selector % 3 {
        0 => Cipher::Aes128,
        1 => Cipher::Aes256,
        _ => Cipher::TwofishCtr,
    };
    let hash = if selector & 4 == 0 {
        Hash::Sha256
    } else {
        Hash::Sha512
    };
    let (keys, _) = stretch(hash, cipher, b"fuzz secret");
    let tx = DirectionCipher::new(cipher, hash, &keys).ok()?;
    let rx = DirectionCipher::new(cipher, hash, &keys).ok()?;
    let nonce = [0x42u8; 16];
    Some((SendHalf::new(tx), RecvHalf::new(rx, MAX_FRAME_LEN, nonce)))
}

fn decode<'a>(
    rx: &mut RecvHalf,
    input: impl Iterator<Item = &'a [u8]>,
) -> (Vec<u8>, Option<Error>) {
    let mut plain = Vec::new();
    for chunk in input {
        if let Err(e) = rx.handle_input(chunk, &mut plain) {
            assert_eq!(
                rx.handle_input(&[], &mut plain),
                Err(e.clone()),
                "not poisoned"
            );
            return (plain, Some(e));
        }
    }
    (plain, None)
}

/// Fuzz body: the SECIO frame decoder. First byte: cipher/hash selector and mode.
/// Mode 0: `data` as raw frames (the same outcome whole or chunked; a MAC cannot be
/// forged, so nothing but errors or waiting). Mode 1: `data` sealed as frames behind the
/// nonce echo, one byte flipped at a position taken from `data`; the decoder may release
/// only a prefix of what was sealed, never other bytes.
pub fn secio_transport(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 8 == 0 {
        let (Some((_, mut rx1)), Some((_, mut rx2))) = (halves(selector), halves(selector)) else {
            return;
        };
        let whole = decode(&mut rx1, core::iter::once(rest));
        let chunked = decode(&mut rx2, chunks(data));
        assert_eq!(whole, chunked, "chunking changed the outcome");
        assert!(whole.0.is_empty(), "plaintext from frames nobody sealed");
        return;
    }
    let Some((mut tx, mut rx)) = halves(selector) else {
        return;
    };
    let mut sealed = Vec::new();
    let mut sent = Vec::new();
    let _ = tx.encrypt_to_vec(&[0x42u8; 16], &mut sealed);
    for piece in chunks(rest) {
        if tx.encrypt_to_vec(piece, &mut sealed).is_ok() {
            sent.extend_from_slice(piece);
        }
    }
    let at = rest.first().map_or(0, |b| usize::from(*b)) * 7;
    let flip = rest.get(1).copied().unwrap_or(1) | 1;
    let len = sealed.len().max(1);
    if let Some(byte) = sealed.get_mut(at % len) {
        *byte ^= flip;
    }
    let (plain, _) = decode(&mut rx, chunks(&sealed));
    assert!(
        sent.starts_with(&plain),
        "released plaintext that was never sealed"
    );
}

#[cfg(test)]
mod tests {
    use super::{secio_handshake, secio_transport};

    /// The bodies on a spread of inputs: they must not panic (their own assertions
    /// included).
    #[test]
    fn bodies_hold_on_sample_inputs() {
        let mut x: u32 = 0x9e37_79b9;
        for len in 0..300usize {
            let data: alloc::vec::Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            secio_handshake(&data);
            secio_transport(&data);
            let mut sealed = data.clone();
            if let Some(b) = sealed.first_mut() {
                *b |= 8; // the sealed-frames mode
            }
            secio_transport(&sealed);
        }
        // a plausible Propose frame, so the body gets past the framing
        let mut frame = alloc::vec![0u8, 0, 0, 0, 0x40];
        frame.extend_from_slice(&[0x0a, 0x10]);
        frame.extend_from_slice(&[1u8; 16]);
        frame.extend_from_slice(&[0u8; 46]);
        secio_handshake(&frame);
    }
}
