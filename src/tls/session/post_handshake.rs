//! The records of the TLS session that are not application data (RFC 8446 §4.6, §6):
//! alerts, and the post-handshake messages (KeyUpdate in both directions, a server's
//! NewSessionTicket, ignored). Split from `session.rs` by concern; the limits are there.

use super::super::error::Error;
use super::super::record::{
    decode_error, unexpected, Failure, ALERT_CLOSE_NOTIFY, ALERT_ILLEGAL_PARAMETER,
    ALERT_UNEXPECTED_MESSAGE, ALERT_USER_CANCELED, CONTENT_HANDSHAKE,
};
use super::super::rustls::alert_name;
use super::{
    Session, HANDSHAKE_KEY_UPDATE, HANDSHAKE_NEW_SESSION_TICKET, MAX_CONSECUTIVE_KEY_UPDATES,
    MAX_POST_HANDSHAKE_MESSAGE, MAX_WARNING_ALERTS,
};

impl Session {
    /// An alert record: exactly one alert (RFC 8446 §5.1, §6).
    pub(super) fn on_alert(&mut self, alert: [u8; 2]) -> Result<(), Failure> {
        if !self.handshake.is_empty() {
            return Err(unexpected("alert inside a handshake message"));
        }
        match alert {
            [_, ALERT_CLOSE_NOTIFY] => {
                self.peer_closed = true;
                Ok(())
            }
            // a warning before close_notify (RFC 8446 §6.1): nothing to do, a few times
            [_, ALERT_USER_CANCELED] => {
                self.warning_alerts += 1;
                if self.warning_alerts > MAX_WARNING_ALERTS {
                    let e = Error::TooManyWarningAlerts {
                        max: MAX_WARNING_ALERTS,
                    };
                    return Err((e, Some(ALERT_UNEXPECTED_MESSAGE)));
                }
                Ok(())
            }
            [_, description] => Err((
                Error::AlertReceived {
                    description: alert_name(description),
                },
                None,
            )),
        }
    }

    /// Handles the whole post-handshake messages buffered so far.
    pub(super) fn on_handshake(&mut self) -> Result<(), Failure> {
        loop {
            let Some(&[kind, a, b, c]) = self.handshake.get(..4) else {
                return Ok(());
            };
            let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if 4 + len > MAX_POST_HANDSHAKE_MESSAGE {
                return Err(decode_error("post-handshake message too large"));
            }
            let Some(body) = self.handshake.get(4..4 + len) else {
                return Ok(());
            };
            match (kind, body) {
                (HANDSHAKE_NEW_SESSION_TICKET, _) if self.is_client => {}
                (HANDSHAKE_KEY_UPDATE, &[request]) => {
                    // a key change ends the record (RFC 8446 §5.1)
                    if self.handshake.len() != 4 + len {
                        return Err(unexpected("data after KeyUpdate in its record"));
                    }
                    self.handshake.clear();
                    return self.on_key_update(request);
                }
                (HANDSHAKE_KEY_UPDATE, _) => return Err(decode_error("malformed KeyUpdate")),
                _ => return Err(unexpected("unexpected post-handshake message")),
            }
            self.handshake.drain(..4 + len);
        }
    }

    /// The peer's KeyUpdate (RFC 8446 §4.6.3): its next records use the next secret; when
    /// it asks, we owe it our own KeyUpdate (sent by [`Session::answer_key_update`]).
    fn on_key_update(&mut self, request: u8) -> Result<(), Failure> {
        if request > 1 {
            let e = Error::InvalidMessage {
                reason: "KeyUpdate request out of range".into(),
            };
            return Err((e, Some(ALERT_ILLEGAL_PARAMETER)));
        }
        self.key_updates += 1;
        if self.key_updates > MAX_CONSECUTIVE_KEY_UPDATES {
            let e = Error::TooManyKeyUpdates {
                max: MAX_CONSECUTIVE_KEY_UPDATES,
            };
            return Err((e, Some(ALERT_UNEXPECTED_MESSAGE)));
        }
        self.rx = self.rx.next().map_err(|e| (e, None))?;
        if request == 1 && !self.closed {
            self.key_update_owed = true;
        }
        Ok(())
    }

    /// Sends the KeyUpdate the peer asked for, if one is owed, and rolls our keys.
    pub(super) fn answer_key_update(&mut self) -> Result<(), Error> {
        if core::mem::take(&mut self.key_update_owed) {
            self.update_tx()?;
        }
        Ok(())
    }

    /// Sends our KeyUpdate (update_not_requested) and rolls our sending keys.
    pub(super) fn update_tx(&mut self) -> Result<(), Error> {
        self.seal_record(CONTENT_HANDSHAKE, &[HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0])?;
        self.tx = self.tx.next()?;
        Ok(())
    }
}
