//! Fuzz body for an established TLS session. The input is a script: the peer's session
//! seals the records it names (KeyUpdates, empty records, alerts, handshake fragments,
//! data, raw garbage), our session writes and transmits now and then, and the peer's bytes
//! reach ours in chunks of the script's choosing.
//!
//! Invariants checked: nothing panics; input never queues output (only the one alert of a
//! failure); what waits for `poll_transmit` stays within what `write` lets in plus one owed
//! KeyUpdate and the alert; after an error every verb returns the same error and only that
//! alert goes out.

use alloc::vec;
use alloc::vec::Vec;

use super::drive::exchange;
use super::tls::{fixtures, new_client, new_server};
use crate::tls::{Error, Session, MAX_PENDING_CIPHERTEXT, RECORD_HEADER_LEN};

const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;
const TAG_LEN: usize = 16;
/// A sealed record of `content` bytes.
const fn record(content: usize) -> usize {
    RECORD_HEADER_LEN + content + 1 + TAG_LEN
}
/// Input may add the failure's alert to our queue, nothing more.
const ALERT_RECORD: usize = record(2);
/// `write` stops once the queue reaches [`MAX_PENDING_CIPHERTEXT`], after at most one full
/// record; an owed KeyUpdate and the alert may follow.
const MAX_QUEUE: usize = MAX_PENDING_CIPHERTEXT + record(1 << 14) + record(5) + ALERT_RECORD;

/// A client and a server session after a real handshake with the fixtures' identities.
fn established() -> (Session, Session) {
    let f = fixtures();
    let (mut c, mut s) = (new_client(f), new_server(f));
    let _: [_; 8] = exchange(&mut c, &mut s);
    let client = c.into_session().unwrap_or_else(|e| panic!("fixture: {e}"));
    let server = s.into_session().unwrap_or_else(|e| panic!("fixture: {e}"));
    (client, server)
}

/// Our side under test, with what it has told us so far.
struct Ours {
    session: Session,
    failed: Option<Error>,
}

impl Ours {
    /// Records the outcome of a call; after a failure every call must repeat it.
    fn check<T>(&mut self, r: Result<T, Error>) -> Option<T> {
        match (r, &self.failed) {
            (Ok(v), None) => Some(v),
            (Ok(_), Some(e)) => panic!("a call succeeded after {e}"),
            (Err(e), Some(f)) => {
                assert_eq!(&e, f, "a different error after a failure");
                None
            }
            (Err(e), None) => {
                self.failed = Some(e);
                None
            }
        }
    }

    /// Feeds `wire[*fed..]` in chunks of `chunk` bytes, reading as it goes.
    fn feed(&mut self, wire: &mut Vec<u8>, chunk: usize, into: bool) {
        let mut end = 0;
        let mut buf = vec![0u8; 4096];
        loop {
            end = (end + chunk).min(wire.len());
            let before = self.session.pending_transmit();
            let offered = wire.get(..end).unwrap_or_default();
            let consumed = if into {
                let r = self.session.handle_input_into(offered, &mut buf);
                self.check(r).map(|(n, _)| n)
            } else {
                let r = self.session.handle_input(offered);
                let n = self.check(r);
                loop {
                    let r = self.session.read(&mut buf);
                    if self.check(r).unwrap_or(0) == 0 {
                        break;
                    }
                }
                n
            };
            let grown = self.session.pending_transmit().saturating_sub(before);
            let allowed = if self.failed.is_some() {
                ALERT_RECORD
            } else {
                0
            };
            assert!(grown <= allowed, "input queued {grown} bytes of output");
            let Some(consumed) = consumed else { return };
            wire.drain(..consumed);
            end -= consumed;
            if end == wire.len() && consumed == 0 {
                return;
            }
        }
    }
}

/// Fuzz body: an established TLS server session fed records its peer seals from a script
/// (see the module doc).
pub fn tls_session(data: &[u8]) {
    let _ = run(data);
}

/// Runs the script; returns the error our session ended with, if any.
fn run(data: &[u8]) -> Option<Error> {
    let (mut peer, session) = established();
    let mut ours = Ours {
        session,
        failed: None,
    };
    let mut wire = Vec::new();
    let mut script = data.iter().copied();
    while let Some(op) = script.next() {
        let arg = script.next().unwrap_or(0);
        // the peer may fail to seal (a sequence number exhausted): then it just sends less
        let _ = match op % 10 {
            0 => peer.seal_raw(CONTENT_HANDSHAKE, &[24, 0, 0, 1, arg % 3]),
            1 => peer.seal_raw(CONTENT_APPLICATION_DATA, &[]),
            2 => peer.seal_raw(CONTENT_ALERT, &[1, 90]),
            3 => peer.seal_raw(CONTENT_ALERT, &[arg, script.next().unwrap_or(0)]),
            4 => peer.seal_raw(CONTENT_APPLICATION_DATA, &vec![arg; usize::from(arg) * 8]),
            5 => {
                let content: Vec<u8> = script.by_ref().take(usize::from(arg % 16)).collect();
                peer.seal_raw(CONTENT_HANDSHAKE, &content)
            }
            6 => {
                let inner: Vec<u8> = script.by_ref().take(usize::from(arg % 16)).collect();
                peer.seal_raw(script.next().unwrap_or(0), &inner)
            }
            7 => {
                wire.extend(script.by_ref().take(usize::from(arg % 32)));
                Ok(())
            }
            8 => {
                let _ = peer.poll_transmit(&mut wire);
                let chunk = usize::from(arg & 0x7f) + 1;
                ours.feed(&mut wire, chunk, arg & 0x80 != 0);
                Ok(())
            }
            _ => {
                if arg & 1 == 0 {
                    let data = vec![0x5a; usize::from(arg) * 512];
                    let r = ours.session.write(&data);
                    let _ = ours.check(r);
                } else {
                    let mut sent = Vec::new();
                    let n = ours.session.poll_transmit(&mut sent);
                    assert_eq!(n, sent.len(), "poll_transmit miscounted");
                    if ours.failed.is_some() {
                        assert!(n <= ALERT_RECORD, "{n} bytes sent after a failure");
                    }
                }
                Ok(())
            }
        };
        assert!(
            ours.session.pending_transmit() <= MAX_QUEUE,
            "{} bytes queued",
            ours.session.pending_transmit()
        );
    }
    let _ = peer.poll_transmit(&mut wire);
    let all = wire.len().max(1);
    ours.feed(&mut wire, all, false);
    ours.failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{
        MAX_CONSECUTIVE_EMPTY_RECORDS, MAX_CONSECUTIVE_KEY_UPDATES, MAX_WARNING_ALERTS,
    };

    #[test]
    fn scripted_floods_end_in_their_errors() {
        // 40 KeyUpdate requests, delivered in 7-byte chunks
        let mut script = [0, 1].repeat(40);
        script.extend([8, 6]);
        let max = MAX_CONSECUTIVE_KEY_UPDATES;
        assert_eq!(run(&script), Some(Error::TooManyKeyUpdates { max }));
        // empty records with data between them, while we write and transmit: no error
        let script = [1, 0, 4, 3, 9, 200, 9, 1, 8, 0x85].repeat(40);
        assert_eq!(run(&script), None);
        // 40 empty records in a row, through handle_input_into
        let mut script = [1, 0].repeat(40);
        script.extend([8, 0x85]);
        let max = MAX_CONSECUTIVE_EMPTY_RECORDS;
        assert_eq!(run(&script), Some(Error::TooManyEmptyRecords { max }));
        let mut script = [2, 0].repeat(5);
        script.extend([8, 0]);
        let max = MAX_WARNING_ALERTS;
        assert_eq!(run(&script), Some(Error::TooManyWarningAlerts { max }));
        // a garbage header after an alert, and our writes after the failure
        let script = [2, 0, 7, 5, 23, 3, 3, 0xff, 0xff, 8, 3, 9, 4, 9, 1];
        assert!(matches!(run(&script), Some(Error::RecordTooLarge { .. })));
        assert_eq!(run(&[]), None);
    }
}
