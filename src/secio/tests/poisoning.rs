//! After an error nothing leaves the handshake or the halves: no byte, no event.

use super::*;

/// The peer's Propose, for feeding to one of our handshakes.
fn propose_of(hs: &mut Handshake) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = hs.poll_transmit(&mut out);
    out
}

/// After an error nothing leaves the machine: not the Propose or Exchange queued
/// before it, no event; and the error repeats.
fn assert_poisoned(hs: &mut Handshake, e: &Error) {
    let mut out = vec![0xaa];
    assert_eq!(hs.poll_transmit(&mut out), 0);
    assert_eq!(out, [0xaa], "poll_transmit appended nothing");
    assert_eq!(hs.poll_event(), None);
    assert!(!hs.is_complete());
    assert_eq!(hs.handle_input(&[]).as_ref(), Err(e));
    assert_eq!(hs.handle_input(&[0, 0, 0, 1, 0]).as_ref(), Err(e));
    let mut out = Vec::new();
    assert_eq!(hs.poll_transmit(&mut out), 0);
    assert!(out.is_empty());
}

#[test]
fn an_error_drops_the_queued_propose() {
    let kb = keypair(KeyType::Ed25519, 2);
    // our Propose is queued at construction and not yet polled
    let mut b = Handshake::with_seed(&Config::new(&kb), None, seed(2)).unwrap();
    let e = b.handle_input(&[0, 0, 0, 2, 0xff, 0xff]).unwrap_err();
    assert_eq!(e, Error::Malformed { message: "Propose" });
    assert_poisoned(&mut b, &e);
    assert_eq!(b.into_session().err().map(|i| i.error), Some(e));
}

#[test]
fn an_error_drops_the_queued_exchange() {
    let (ka, kb) = (keypair(KeyType::Ed25519, 1), keypair(KeyType::Ed25519, 2));
    // a takes b's Propose in one call (queuing its Exchange behind its unpolled Propose),
    // then a malformed Exchange in the next
    let (mut a, mut b) = pair(&ka, &kb);
    let b_propose = propose_of(&mut b);
    assert_eq!(a.handle_input(&b_propose), Ok(b_propose.len()));
    let e = a.handle_input(&[0, 0, 0, 3, 0xff, 0xff, 0xff]).unwrap_err();
    assert_eq!(
        e,
        Error::Malformed {
            message: "Exchange"
        }
    );
    assert_poisoned(&mut a, &e);

    // b's Propose and a well-formed Exchange with a bad signature in one read; b answers
    // a twin of a (same identity and seed, so the same Propose), leaving a's own Propose
    // and Exchange both queued and unpolled when the error comes
    let (mut a, mut b) = pair(&ka, &kb);
    let (mut twin, _) = pair(&ka, &kb);
    let mut wire = propose_of(&mut b);
    let twin_propose = propose_of(&mut twin);
    assert_eq!(b.handle_input(&twin_propose), Ok(twin_propose.len()));
    let mut exchange = Vec::new();
    let _ = b.poll_transmit(&mut exchange);
    let last = exchange.len() - 1;
    exchange[last] ^= 1; // inside the signature
    wire.extend_from_slice(&exchange);
    assert_eq!(a.handle_input(&wire), Err(Error::BadSignature));
    assert_poisoned(&mut a, &Error::BadSignature);

    // and untampered, the twin's Exchange is the one a accepts: the case above failed
    // on the signature alone
    let (mut a, mut b) = pair(&ka, &kb);
    let (mut twin, _) = pair(&ka, &kb);
    let mut wire = propose_of(&mut b);
    b.handle_input(&propose_of(&mut twin)).unwrap();
    let _ = b.poll_transmit(&mut wire);
    assert_eq!(a.handle_input(&wire), Ok(wire.len()));
    assert!(a.is_complete());
}

#[test]
fn a_failing_read_hands_out_no_plaintext() {
    let nonce = [9u8; 16];
    let (mut tx, mut rx) = halves(nonce);
    let mut wire = Vec::new();
    tx.encrypt_to_vec(&nonce, &mut wire).unwrap();
    tx.encrypt_to_vec(b"good frame", &mut wire).unwrap();
    let good = wire.len();
    tx.encrypt_to_vec(b"bad frame", &mut wire).unwrap();
    wire[good + 6] ^= 1;
    let mut plain = b"earlier".to_vec();
    assert_eq!(rx.handle_input(&wire, &mut plain), Err(Error::MacMismatch));
    assert_eq!(
        plain, b"earlier",
        "the good frame of the failing call is taken back"
    );
    // poisoned: every way in gives the same error, and nothing
    assert_eq!(
        rx.handle_input(&wire[..good], &mut plain),
        Err(Error::MacMismatch)
    );
    let mut copy = wire.clone();
    assert_eq!(rx.decrypt_in_place(&mut copy), Err(Error::MacMismatch));
    assert_eq!(rx.end_of_stream(), Err(Error::MacMismatch));
    assert_eq!(plain, b"earlier");
}
