//! The session's unit tests: data both ways, key updates, the flood limits, tickets,
//! padding, close_notify and opening straight into the read buffer.

use alloc::vec;

use super::*;
use crate::identity::{KeyType, Keypair};
use crate::tls::record::ALERT_USER_CANCELED;
use crate::tls::{Client, Config, Server};

use crate::fuzzing::TestRng;

const NOW: u64 = 1_750_000_000;

/// A client and a server session after a complete handshake.
fn pair() -> (Session, Session) {
    let mut rng = TestRng(5);
    let cid = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let sid = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let cc = Config::new(&cid, NOW, &mut rng).unwrap();
    let sc = Config::new(&sid, NOW, &mut rng).unwrap();
    let mut c = Client::new(&cc, Some(sc.local_peer_id()), NOW).unwrap();
    let mut s = Server::new(&sc, NOW).unwrap();
    let (mut to_s, mut to_c) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        let _ = c.poll_transmit(&mut to_s);
        let n = s.handle_input(&to_s).unwrap();
        to_s.drain(..n);
        let _ = s.poll_transmit(&mut to_c);
        let n = c.handle_input(&to_c).unwrap();
        to_c.drain(..n);
    }
    let mut client = c.into_session().unwrap();
    let mut server = s.into_session().unwrap();
    let _ = client.poll_transmit(&mut to_s);
    assert_eq!(server.handle_input(&to_s), Ok(to_s.len()));
    (client, server)
}

/// Moves everything `from` has to send into `to`; returns what `to` can read.
fn deliver(from: &mut Session, to: &mut Session) -> Result<Vec<u8>, Error> {
    let mut wire = Vec::new();
    let _ = from.poll_transmit(&mut wire);
    let mut got = Vec::new();
    let mut at = 0;
    loop {
        at += to.handle_input(wire.get(at..).unwrap_or_default())?;
        let mut buf = vec![0u8; 4096];
        let n = to.read(&mut buf)?;
        got.extend_from_slice(&buf[..n]);
        if n == 0 && at == wire.len() {
            return Ok(got);
        }
    }
}

#[test]
fn data_crosses_both_ways_in_records_of_at_most_16_kib() {
    let (mut c, mut s) = pair();
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    while sent < data.len() {
        sent += c.write(&data[sent..]).unwrap();
        got.extend(deliver(&mut c, &mut s).unwrap());
    }
    assert_eq!(got, data);
    assert_eq!(s.write(b"back").unwrap(), 4);
    assert_eq!(deliver(&mut s, &mut c).unwrap(), b"back");
    assert_eq!(c.cipher_suite(), Some("TLS13_AES_128_GCM_SHA256"));
}

#[test]
fn key_updates_roll_both_directions() {
    let (mut c, mut s) = pair();
    // our own, unrequested: the peer follows
    c.update_tx().unwrap();
    c.write(b"after").unwrap();
    assert_eq!(deliver(&mut c, &mut s).unwrap(), b"after");
    // requested: the peer answers with its own and rolls its sending keys
    c.seal_record(CONTENT_HANDSHAKE, &[HANDSHAKE_KEY_UPDATE, 0, 0, 1, 1])
        .unwrap();
    c.tx = c.tx.next().unwrap();
    c.write(b"again").unwrap();
    assert_eq!(deliver(&mut c, &mut s).unwrap(), b"again");
    s.write(b"answer").unwrap();
    assert_eq!(deliver(&mut s, &mut c).unwrap(), b"answer");
    // past the interval, write rolls by itself
    c.tx.seq = KEY_UPDATE_INTERVAL;
    s.rx.seq = KEY_UPDATE_INTERVAL;
    c.write(b"rolled").unwrap();
    assert_eq!(c.tx.seq, 1);
    assert_eq!(deliver(&mut c, &mut s).unwrap(), b"rolled");
}

/// A KeyUpdate record of AES-128-GCM: header, the 5-byte message, type, tag.
const KEY_UPDATE_RECORD: usize = RECORD_HEADER_LEN + 5 + 1 + TAG_LEN;
/// A fatal alert record.
const ALERT_RECORD: usize = RECORD_HEADER_LEN + 2 + 1 + TAG_LEN;

fn key_update(from: &mut Session, request: u8) {
    from.seal_raw(CONTENT_HANDSHAKE, &[HANDSHAKE_KEY_UPDATE, 0, 0, 1, request])
        .unwrap();
}

/// Delivers `from`'s records to `to`, checking that reading queued no output at `to`
/// unless it failed (then one alert at most).
fn deliver_checked(from: &mut Session, to: &mut Session) -> Result<Vec<u8>, Error> {
    let before = to.pending_transmit();
    let got = deliver(from, to);
    let grown = to.pending_transmit() - before;
    match got {
        Ok(_) => assert_eq!(grown, 0, "input queued output"),
        Err(_) => assert!(grown <= ALERT_RECORD, "{grown} bytes after an error"),
    }
    got
}

#[test]
fn key_update_requests_queue_no_output_and_share_one_answer() {
    let (mut c, mut s) = pair();
    // 2,000 requests, each followed by data so the flood counter never trips
    for i in 0..2_000u32 {
        key_update(&mut c, 1);
        c.write(&i.to_be_bytes()).unwrap();
        assert_eq!(deliver_checked(&mut c, &mut s).unwrap(), i.to_be_bytes());
    }
    // one answer at the next transmit, and the client follows it
    let mut wire = Vec::new();
    assert_eq!(s.poll_transmit(&mut wire), KEY_UPDATE_RECORD);
    assert_eq!(c.handle_input(&wire), Ok(wire.len()));
    let mut wire = Vec::new();
    assert_eq!(s.poll_transmit(&mut wire), 0, "a second answer");
    s.write(b"reply").unwrap();
    assert_eq!(deliver(&mut s, &mut c).unwrap(), b"reply");
    // an answer owed when the application writes goes ahead of its data
    key_update(&mut c, 1);
    assert_eq!(deliver_checked(&mut c, &mut s).unwrap(), b"");
    s.write(b"x").unwrap();
    assert_eq!(
        s.pending_transmit(),
        KEY_UPDATE_RECORD + RECORD_HEADER_LEN + 2 + TAG_LEN
    );
    assert_eq!(deliver(&mut s, &mut c).unwrap(), b"x");
}

#[test]
fn a_key_update_flood_is_cut_after_the_limit() {
    let (mut c, mut s) = pair();
    for _ in 0..MAX_CONSECUTIVE_KEY_UPDATES {
        key_update(&mut c, 1);
    }
    assert_eq!(deliver_checked(&mut c, &mut s).unwrap(), b"");
    // data resets the count
    c.write(b"d").unwrap();
    for _ in 0..MAX_CONSECUTIVE_KEY_UPDATES {
        key_update(&mut c, 0);
    }
    assert_eq!(deliver_checked(&mut c, &mut s).unwrap(), b"d");
    key_update(&mut c, 1);
    let flood = Error::TooManyKeyUpdates {
        max: MAX_CONSECUTIVE_KEY_UPDATES,
    };
    assert_eq!(deliver_checked(&mut c, &mut s), Err(flood.clone()));
    // poisoned: the same error, the alert and nothing else
    assert_eq!(s.handle_input(&[]), Err(flood.clone()));
    assert_eq!(s.write(b"x"), Err(flood));
    let mut wire = Vec::new();
    assert_eq!(s.poll_transmit(&mut wire), ALERT_RECORD);
    assert_eq!(s.poll_transmit(&mut wire), 0);
    assert_eq!(
        c.handle_input(&wire),
        Err(Error::AlertReceived {
            description: "UnexpectedMessage".into()
        })
    );
}

#[test]
fn an_empty_record_flood_is_cut_after_the_limit() {
    let (mut c, mut s) = pair();
    for _ in 0..MAX_CONSECUTIVE_EMPTY_RECORDS {
        c.seal_raw(CONTENT_APPLICATION_DATA, b"").unwrap();
    }
    c.write(b"data").unwrap();
    for _ in 0..MAX_CONSECUTIVE_EMPTY_RECORDS {
        c.seal_raw(CONTENT_APPLICATION_DATA, b"").unwrap();
    }
    assert_eq!(deliver_checked(&mut c, &mut s).unwrap(), b"data");
    c.seal_raw(CONTENT_APPLICATION_DATA, b"").unwrap();
    let flood = Error::TooManyEmptyRecords {
        max: MAX_CONSECUTIVE_EMPTY_RECORDS,
    };
    assert_eq!(deliver_checked(&mut c, &mut s), Err(flood.clone()));
    assert_eq!(s.read(&mut [0; 8]), Err(flood));
}

#[test]
fn a_warning_alert_flood_is_cut_after_the_limit() {
    let (mut c, mut s) = pair();
    for _ in 0..MAX_WARNING_ALERTS {
        c.seal_raw(CONTENT_ALERT, &[ALERT_WARNING, ALERT_USER_CANCELED])
            .unwrap();
        // data does not reset this one
        c.write(b"d").unwrap();
    }
    assert_eq!(deliver_checked(&mut c, &mut s).unwrap(), b"dddd");
    c.seal_raw(CONTENT_ALERT, &[ALERT_WARNING, ALERT_USER_CANCELED])
        .unwrap();
    let flood = Error::TooManyWarningAlerts {
        max: MAX_WARNING_ALERTS,
    };
    assert_eq!(deliver_checked(&mut c, &mut s), Err(flood.clone()));
    assert_eq!(s.handle_input(&[]), Err(flood));
}

#[test]
fn tickets_are_ignored_by_a_client_and_refused_by_a_server() {
    let (mut c, mut s) = pair();
    // a NewSessionTicket split over two records
    let ticket = [HANDSHAKE_NEW_SESSION_TICKET, 0, 0, 3, 1, 2, 3];
    s.seal_record(CONTENT_HANDSHAKE, &ticket[..2]).unwrap();
    s.seal_record(CONTENT_HANDSHAKE, &ticket[2..]).unwrap();
    s.write(b"x").unwrap();
    assert_eq!(deliver(&mut s, &mut c).unwrap(), b"x");
    c.seal_record(CONTENT_HANDSHAKE, &ticket).unwrap();
    assert!(matches!(
        deliver(&mut c, &mut s),
        Err(Error::PeerMisbehaved { .. })
    ));
    // the unexpected_message alert reaches the client
    assert_eq!(
        deliver(&mut s, &mut c),
        Err(Error::AlertReceived {
            description: "UnexpectedMessage".into()
        })
    );
}

#[test]
fn padding_is_stripped_and_a_record_without_type_refused() {
    let (mut c, mut s) = pair();
    // content type 0 appended last: "pad", type 23, then zero padding
    c.seal_record(0, b"pad\x17\0\0").unwrap();
    assert_eq!(deliver(&mut c, &mut s).unwrap(), b"pad");
    c.seal_record(0, &[0, 0]).unwrap();
    assert!(matches!(
        deliver(&mut c, &mut s),
        Err(Error::PeerMisbehaved { .. })
    ));
}

#[test]
fn close_notify_ends_one_direction() {
    let (mut c, mut s) = pair();
    c.write(b"last").unwrap();
    c.close();
    assert_eq!(c.write(b"more"), Err(Error::ApiMisuse("write after close")));
    assert_eq!(deliver(&mut c, &mut s).unwrap(), b"last");
    assert!(s.is_peer_closed());
    // nothing is consumed after close_notify
    c.seal_record(CONTENT_APPLICATION_DATA, b"late").unwrap();
    let mut wire = Vec::new();
    let _ = c.poll_transmit(&mut wire);
    assert_eq!(s.handle_input(&wire), Ok(0));
    // the other direction still works
    s.write(b"reply").unwrap();
    assert_eq!(deliver(&mut s, &mut c).unwrap(), b"reply");
}

#[test]
fn input_opens_straight_into_the_read_buffer() {
    let (mut c, mut s) = pair();
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.write(&data).unwrap(), data.len());
    let mut wire = Vec::new();
    let _ = c.poll_transmit(&mut wire);
    // room for the first two records only: the third goes through the session's buffer
    let mut buf = vec![0u8; 20_000];
    let (n, m) = s.handle_input_into(&wire, &mut buf).unwrap();
    let mut got = buf[..m].to_vec();
    assert!(m > 16 * 1024 && n < wire.len());
    let mut at = n;
    while at < wire.len() || s.readable() > 0 {
        let (n, m) = s.handle_input_into(&wire[at..], &mut buf).unwrap();
        got.extend_from_slice(&buf[..m]);
        at += n;
    }
    assert_eq!(got, data);
    // a tampered record poisons as with handle_input
    c.write(b"x").unwrap();
    let mut wire = Vec::new();
    let _ = c.poll_transmit(&mut wire);
    let last = wire.len() - 1;
    wire[last] ^= 1;
    assert_eq!(
        s.handle_input_into(&wire, &mut buf),
        Err(Error::RecordAuthentication)
    );
    assert_eq!(s.handle_input(&wire), Err(Error::RecordAuthentication));
}

#[test]
fn transmit_into_seals_an_owed_key_update_first() {
    let (mut c, mut s) = pair();
    key_update(&mut c, 1);
    assert_eq!(deliver_checked(&mut c, &mut s).unwrap(), b"");
    // owed, not sealed yet: a short buffer seals it, is refused untouched, loses nothing
    assert_eq!(s.pending_transmit(), 0);
    let mut short = [0xa5u8; 8];
    assert_eq!(
        s.poll_transmit_into(&mut short),
        Err(crate::InsufficientSize {
            required: KEY_UPDATE_RECORD
        })
    );
    assert_eq!(short, [0xa5u8; 8]);
    assert_eq!(s.pending_transmit(), KEY_UPDATE_RECORD);
    let mut buf = vec![0u8; KEY_UPDATE_RECORD];
    assert_eq!(s.poll_transmit_into(&mut buf), Ok(KEY_UPDATE_RECORD));
    assert_eq!(s.poll_transmit_into(&mut []), Ok(0));
    assert_eq!(c.handle_input(&buf), Ok(buf.len()));
    s.write(b"after").unwrap();
    assert_eq!(deliver(&mut s, &mut c).unwrap(), b"after");
}

/// A fatal error drops what was sealed before it and still waits: only the alert goes out
/// (found by the `tls_session` fuzz target: 49 KB of earlier writes followed the alert).
#[test]
fn after_a_fatal_error_only_the_alert_goes_out() {
    let (mut c, mut s) = pair();
    assert_eq!(s.write(&[0x5a; 40_000]), Ok(40_000));
    assert!(s.pending_transmit() > 40_000);
    // a record the server cannot open: one flipped byte of the client's ciphertext
    c.write(b"data").unwrap();
    let mut wire = Vec::new();
    let _ = c.poll_transmit(&mut wire);
    if let Some(b) = wire.last_mut() {
        *b ^= 1;
    }
    let e = s.handle_input(&wire).unwrap_err();
    let mut out = Vec::new();
    let n = s.poll_transmit(&mut out);
    // one encrypted alert: 5-byte header, 2 bytes, the content type, the 16-byte tag
    assert_eq!(n, 24, "{e:?}");
    assert_eq!(s.poll_transmit(&mut out), 0);
    assert_eq!(s.handle_input(&wire), Err(e));
}
