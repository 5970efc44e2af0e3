//! An established libp2p TLS session: TLS 1.3 application-data records in both
//! directions, sealed and opened here with the crypto backend (aws-lc-rs or ring) under
//! the application traffic keys the handshake's rustls connection hands over
//! (`rustls_glue.rs`, `Engine::into_traffic`).
//!
//! [`Session`] keeps the machine verbs of STYLE.md: ciphertext in with
//! [`Session::handle_input`] (whole records only), plaintext out with [`Session::read`],
//! plaintext in with [`Session::write`], ciphertext out with [`Session::poll_transmit`].
//! [`Session::handle_input_into`] does `handle_input` and `read` in one step, opening
//! records straight into the caller's read buffer.
//! Buffers are bounded: at most [`MAX_BUFFERED_PLAINTEXT`] plus one record of received
//! plaintext waits for `read` (beyond that `handle_input` consumes nothing until the
//! caller reads), and at most about [`MAX_PENDING_CIPHERTEXT`] of sealed records waits for
//! `poll_transmit` (beyond that `write` takes nothing).
//!
//! Why our own record layer: rustls's buffered connection copies every byte twice more
//! than needed in each direction (into and out of its queues), which halved the
//! throughput against the bare AEAD. Here a record is opened straight from the caller's
//! input into the caller's read buffer (`handle_input_into`, no copy) or into the
//! plaintext buffer `read` copies from (`handle_input`, one copy), and sealed out of place
//! from the caller's plaintext into the outgoing buffer, which `poll_transmit` hands over
//! whole when the caller's `Vec` is empty (no copy; the buffer is zeroed first, as safe
//! Rust cannot hand an uninitialized one to the AEAD). TLS 1.3 record protection (RFC 8446 §5.2, §5.3): nonce = IV
//! XOR the 64-bit sequence number (big-endian, left-padded), AAD = the record header, the
//! inner content type after the content, zero padding accepted on receive.
//!
//! Post-handshake messages (RFC 8446 §4.6): a peer's KeyUpdate rolls our receiving keys
//! (and, when it asks, ours after answering with our own KeyUpdate); we roll our sending
//! keys by ourselves every [`KEY_UPDATE_INTERVAL`] records; a server's NewSessionTicket is
//! ignored (resumption is disabled); any other handshake message is refused.
//!
//! Floods are cut as rustls and BoringSSL cut them: at most
//! [`MAX_CONSECUTIVE_KEY_UPDATES`] KeyUpdates and [`MAX_CONSECUTIVE_EMPTY_RECORDS`] empty
//! records between two records with data, at most [`MAX_WARNING_ALERTS`] warning alerts
//! per session; each excess is its own error. Input never queues output: the answer to a
//! requested KeyUpdate is sealed by the next `poll_transmit` (or ahead of our next record),
//! so however the peer sends, the outgoing queue holds only what `write` let in, one
//! owed KeyUpdate and the final alert.
//!
//! Closing follows TLS 1.3 (RFC 8446 §6.1): [`Session::close`] queues our close_notify
//! and ends our writing; the peer's close_notify shows as [`Session::is_peer_closed`], after
//! which everything the peer sent has been received and no further record is consumed.
//! Each direction closes on its own (a half-close, as TCP's). A failure (a record that
//! does not authenticate, a malformed record, a fatal alert from the peer) sends the alert
//! RFC 8446 §6.2 names, unless the peer's alert caused it.
//!
//! Not here: the handshake (`handshake.rs`), an end-of-stream from the transport (the
//! caller's to handle: a stream that ends without close_notify may have been truncated).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use zeroize::{Zeroize, Zeroizing};

use super::backend::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use super::backend::{self, hkdf, RecordKey};
use super::certificate::Verified;
use super::rustls_glue::{
    alert_name, next_record, Aead, Direction, Engine, Record, MAX_RECORD_BODY_LEN,
    RECORD_HEADER_LEN,
};
use super::{Error, ALPN_LIBP2P};
use crate::identity::{PeerId, PublicKey};

/// Received plaintext held for [`Session::read`] before [`Session::handle_input`] stops
/// consuming records: 16 KiB, one full record (RFC 8446 §5.1), so a caller that reads
/// after each `handle_input` never stalls the input; one more record's worth can arrive on
/// top of it.
pub const MAX_BUFFERED_PLAINTEXT: usize = 16 * 1024;

/// Sealed records held for [`Session::poll_transmit`] before [`Session::write`] takes
/// nothing more: 64 KiB, four full records (the limit rustls 0.23 uses for its own
/// outgoing queue), enough for one 64 KiB write to go out in one transmit.
pub const MAX_PENDING_CIPHERTEXT: usize = 64 * 1024;

/// The most content one record carries: 2^14 bytes (RFC 8446 §5.1).
const MAX_RECORD_CONTENT: usize = 1 << 14;

/// The largest inner plaintext (content, content type and padding) a record may open to:
/// 2^14 + 1 bytes (RFC 8446 §5.4); more is a record_overflow.
const MAX_INNER_PLAINTEXT: usize = MAX_RECORD_CONTENT + 1;

/// The received-plaintext buffer: the readable bound plus one opened record.
const PLAINTEXT_BUFFER_LEN: usize = MAX_BUFFERED_PLAINTEXT + MAX_INNER_PLAINTEXT;

/// The largest post-handshake message buffered while its records arrive: the 4-byte
/// handshake header and a 64 KiB body, rustls's own bound on handshake messages (a
/// NewSessionTicket's ticket alone may take 2^16 - 1 bytes, RFC 8446 §4.6.1).
const MAX_POST_HANDSHAKE_MESSAGE: usize = 4 + 0xffff;

/// Records we seal under one key before we update it: 2^23, half of the 2^24.5 full-size
/// records RFC 8446 §5.5 allows under one AES-GCM key (applied to every suite alike).
pub(crate) const KEY_UPDATE_INTERVAL: u64 = 1 << 23;

/// The AEAD tag of all three suites.
const TAG_LEN: usize = 16;

/// KeyUpdate messages accepted in a row, with no application data between them: 32, the
/// limit of rustls and BoringSSL. Each one costs key derivations; a peer that sends more
/// is flooding ([`Error::TooManyKeyUpdates`]).
pub const MAX_CONSECUTIVE_KEY_UPDATES: usize = 32;

/// Empty application-data records accepted in a row: 32, the limit of rustls and
/// BoringSSL. Each costs an AEAD open and carries nothing ([`Error::TooManyEmptyRecords`]).
pub const MAX_CONSECUTIVE_EMPTY_RECORDS: usize = 32;

/// Warning alerts (`user_canceled`, the only one TLS 1.3 leaves) accepted in one session:
/// 4, the limit of rustls and BoringSSL ([`Error::TooManyWarningAlerts`]).
pub const MAX_WARNING_ALERTS: usize = 4;

const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

const HANDSHAKE_NEW_SESSION_TICKET: u8 = 4;
const HANDSHAKE_KEY_UPDATE: u8 = 24;

const ALERT_WARNING: u8 = 1;
const ALERT_FATAL: u8 = 2;
const ALERT_CLOSE_NOTIFY: u8 = 0;
const ALERT_UNEXPECTED_MESSAGE: u8 = 10;
const ALERT_BAD_RECORD_MAC: u8 = 20;
const ALERT_RECORD_OVERFLOW: u8 = 22;
const ALERT_DECODE_ERROR: u8 = 50;
const ALERT_ILLEGAL_PARAMETER: u8 = 47;
const ALERT_USER_CANCELED: u8 = 90;

/// A failure and the alert that tells the peer (none when the peer's alert caused it).
type Failure = (Error, Option<u8>);

fn unexpected(reason: &str) -> Failure {
    (
        Error::PeerMisbehaved {
            reason: reason.into(),
        },
        Some(ALERT_UNEXPECTED_MESSAGE),
    )
}

fn decode_error(reason: &str) -> Failure {
    (
        Error::InvalidMessage {
            reason: reason.into(),
        },
        Some(ALERT_DECODE_ERROR),
    )
}

fn internal(reason: &str) -> Error {
    Error::Tls {
        reason: reason.into(),
    }
}

/// The AEAD algorithm, HKDF hash and hash length of a suite.
fn suite(aead: Aead) -> (&'static aead::Algorithm, hkdf::Algorithm, usize) {
    match aead {
        Aead::Aes128Gcm => (&aead::AES_128_GCM, hkdf::HKDF_SHA256, 32),
        Aead::Aes256Gcm => (&aead::AES_256_GCM, hkdf::HKDF_SHA384, 48),
        Aead::Chacha20Poly1305 => (&aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256, 32),
    }
}

/// An output length for the backend's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 §7.1).
fn expand_label(hash: hkdf::Algorithm, secret: &[u8], label: &[u8], out: &mut [u8]) -> bool {
    let (Ok(len), Ok(label_len)) = (
        u16::try_from(out.len()),
        u8::try_from(b"tls13 ".len() + label.len()),
    ) else {
        return false;
    };
    let prk = hkdf::Prk::new_less_safe(hash, secret);
    let len = len.to_be_bytes();
    let info: [&[u8]; 5] = [&len, &[label_len], b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .is_ok()
}

/// One direction's record protection: key, IV, sequence number, and the traffic secret
/// the next key update derives from. The secret is wiped by its type, the IV on drop; the
/// AEAD key is the backend's (see `backend.rs` for what each backend wipes).
struct Keys {
    aead: Aead,
    key: RecordKey,
    iv: [u8; 12],
    seq: u64,
    secret: Zeroizing<Vec<u8>>,
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl Keys {
    /// Keys for `secret` (RFC 8446 §7.3); with `expect`, they must equal rustls's.
    fn derive(
        aead: Aead,
        secret: Zeroizing<Vec<u8>>,
        seq: u64,
        expect: Option<(&[u8], &[u8; 12])>,
    ) -> Result<Self, Error> {
        let (alg, hash, _) = suite(aead);
        let mut key = Zeroizing::new(vec![0u8; alg.key_len()]);
        let mut iv = [0u8; 12];
        if !expand_label(hash, &secret, b"key", &mut key)
            || !expand_label(hash, &secret, b"iv", &mut iv)
        {
            return Err(internal("traffic key derivation failed"));
        }
        if let Some((k, i)) = expect {
            if k != key.as_slice() || i != &iv {
                return Err(internal("traffic keys differ from rustls's"));
            }
        }
        let key = UnboundKey::new(alg, &key).map_err(|_| internal("traffic key refused"))?;
        Ok(Self {
            aead,
            key: RecordKey::from(LessSafeKey::new(key)),
            iv,
            seq,
            secret,
        })
    }

    fn from_handshake(aead: Aead, d: Direction) -> Result<Self, Error> {
        Self::derive(aead, d.secret, d.seq, Some((&d.key, &*d.iv)))
    }

    /// The keys after a KeyUpdate (RFC 8446 §7.2): the next secret, sequence 0.
    fn next(&self) -> Result<Self, Error> {
        let (_, hash, hash_len) = suite(self.aead);
        let mut secret = Zeroizing::new(vec![0u8; hash_len]);
        if !expand_label(hash, &self.secret, b"traffic upd", &mut secret) {
            return Err(internal("traffic secret update failed"));
        }
        Self::derive(self.aead, secret, 0, None)
    }

    /// This record's nonce; the sequence number moves on (RFC 8446 §5.3). A sequence
    /// number must not wrap: the connection ends first.
    fn nonce(&mut self) -> Result<Nonce, Error> {
        let mut nonce = self.iv;
        for (n, s) in nonce.iter_mut().skip(4).zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or_else(|| internal("sequence number exhausted"))?;
        Ok(Nonce::assume_unique_for_key(nonce))
    }
}

/// An established TLS session: what the handshake proved, and the record layer.
///
/// # Call contract
/// Feed every byte from the peer to `handle_input` (keep what it does not consume and
/// hand it over again with the next bytes), then `read` the plaintext (or do both with
/// `handle_input_into`, then `read` what did not fit); `write` plaintext,
/// then send what `poll_transmit` appends. `handle_input` consumes nothing while
/// unread plaintext exceeds [`MAX_BUFFERED_PLAINTEXT`]: read first.
///
/// A record that fails authentication (or any other TLS failure) poisons the session:
/// `handle_input`, `read` and `write` return the error from then on; `poll_transmit`
/// still hands out the alert that tells the peer, then nothing.
pub struct Session {
    remote: Verified,
    muxer: Option<String>,
    cipher_suite: Option<&'static str>,
    is_client: bool,
    tx: Keys,
    rx: Keys,
    /// Sealed records for `poll_transmit`.
    out: Vec<u8>,
    /// Opened plaintext: `plain[start..end]` waits for `read`. Allocated at
    /// [`PLAINTEXT_BUFFER_LEN`] with the first record, then never resized.
    plain: Vec<u8>,
    start: usize,
    end: usize,
    /// The start of a post-handshake message whose rest is in later records.
    handshake: Vec<u8>,
    /// The peer asked for a KeyUpdate we have not sent yet. Sealed by the next
    /// `poll_transmit` or before our next record, never from `handle_input`: the read path
    /// queues no output, so a peer cannot grow `out` by sending requests (RFC 8446 §4.6.3
    /// asks for the answer only before our next application data; requests that arrive
    /// before it is sent share one answer).
    key_update_owed: bool,
    /// KeyUpdates and empty records received since the last record with data.
    key_updates: usize,
    empty_records: usize,
    /// Warning alerts received in this session.
    warning_alerts: usize,
    closed: bool,
    peer_closed: bool,
    error: Option<Error>,
}

impl Session {
    /// Takes the record layer over from the completed handshake's rustls connection; what
    /// it still had to send goes out first through [`Session::poll_transmit`].
    pub(super) fn new(engine: Engine, remote: Verified) -> Result<Self, Error> {
        let mut out = Vec::new();
        let traffic = engine.into_traffic(&mut out)?;
        // a muxer id is one of ours (rustls only agrees on an offered/supported value);
        // `libp2p` means: negotiate the muxer with multistream-select over the session
        let muxer = traffic
            .alpn
            .as_deref()
            .filter(|alpn| *alpn != ALPN_LIBP2P)
            .and_then(|alpn| core::str::from_utf8(alpn).ok())
            .map(String::from);
        Ok(Self {
            remote,
            muxer,
            cipher_suite: traffic.cipher_suite,
            is_client: traffic.is_client,
            tx: Keys::from_handshake(traffic.aead, traffic.tx)?,
            rx: Keys::from_handshake(traffic.aead, traffic.rx)?,
            out,
            plain: Vec::new(),
            start: 0,
            end: 0,
            handshake: Vec::new(),
            key_update_owed: false,
            key_updates: 0,
            empty_records: 0,
            warning_alerts: 0,
            closed: false,
            peer_closed: false,
            error: None,
        })
    }

    /// The remote's verified PeerId.
    pub fn remote_peer_id(&self) -> PeerId {
        self.remote.peer_id
    }

    /// The remote's verified identity key.
    pub fn remote_public_key(&self) -> &PublicKey {
        &self.remote.public_key
    }

    /// The muxer agreed through ALPN, or `None` when ALPN agreed `libp2p` (or nothing):
    /// negotiate the muxer with multistream-select over the session.
    pub fn muxer(&self) -> Option<&str> {
        self.muxer.as_deref()
    }

    /// The negotiated cipher suite's IANA name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub fn cipher_suite(&self) -> Option<&'static str> {
        self.cipher_suite
    }

    /// Poisons the session; queues `alert` for the peer unless we closed already.
    fn fail(&mut self, (e, alert): Failure) -> Error {
        if let (Some(description), false, None) = (alert, self.closed, &self.error) {
            // best effort: the error is reported either way
            let _ = self.seal_record(CONTENT_ALERT, &[ALERT_FATAL, description]);
        }
        self.error = Some(e.clone());
        e
    }

    /// Feeds ciphertext from the peer; returns how many bytes were consumed (whole records
    /// only). Stops early while more than [`MAX_BUFFERED_PLAINTEXT`] waits for `read`, and
    /// after the peer's close_notify (TLS allows nothing after it).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut consumed = 0;
        while !self.peer_closed && self.readable() <= MAX_BUFFERED_PLAINTEXT {
            let rest = bytes.get(consumed..).unwrap_or_default();
            let Some(len) = self.frame(rest)? else {
                break;
            };
            if let Err(failure) = self.open_record(rest.get(..len).unwrap_or_default()) {
                return Err(self.fail(failure));
            }
            consumed += len;
        }
        Ok(consumed)
    }

    /// Like [`Session::handle_input`] followed by [`Session::read`], without the copy
    /// between them: plaintext already waiting is read into `buf` first, then the
    /// application data of each whole record that fits in the rest of `buf` is opened
    /// straight into it. A record that does not fit goes through the session's buffer, as
    /// with `handle_input`, and ends the call (`read` takes its rest). Returns the bytes
    /// consumed from `bytes` and the plaintext bytes written to `buf`; only `buf[..written]`
    /// is meaningful afterwards (the rest may have been overwritten).
    pub fn handle_input_into(
        &mut self,
        bytes: &[u8],
        buf: &mut [u8],
    ) -> Result<(usize, usize), Error> {
        let mut written = self.read(buf)?;
        let mut consumed = 0;
        while !self.peer_closed && self.readable() == 0 {
            let rest = bytes.get(consumed..).unwrap_or_default();
            let Some(len) = self.frame(rest)? else {
                break;
            };
            let record = rest.get(..len).unwrap_or_default();
            let room = buf.get_mut(written..).unwrap_or_default();
            let fits = len - RECORD_HEADER_LEN <= room.len() + TAG_LEN;
            let opened = if fits {
                self.open_into(record, room)
            } else {
                self.open_record(record)
            };
            match opened {
                Ok(n) => written += n,
                Err(failure) => return Err(self.fail(failure)),
            }
            consumed += len;
            if !fits {
                let room = buf.get_mut(written..).unwrap_or_default();
                written += self.read(room)?;
                break;
            }
        }
        Ok((consumed, written))
    }

    /// The length of the whole record at the start of `rest`, `None` for an incomplete one;
    /// an oversized header poisons the session.
    fn frame(&mut self, rest: &[u8]) -> Result<Option<usize>, Error> {
        match next_record(rest) {
            Record::Incomplete => Ok(None),
            Record::Whole(len) => Ok(Some(len)),
            Record::TooLarge { len } => {
                let e = Error::RecordTooLarge {
                    len,
                    max: MAX_RECORD_BODY_LEN,
                };
                Err(self.fail((e, Some(ALERT_DECODE_ERROR))))
            }
        }
    }

    /// Opens one whole record (from [`next_record`]) into the plaintext buffer and acts on
    /// its content type; returns 0 (its data waits for `read`).
    fn open_record(&mut self, record: &[u8]) -> Result<usize, Failure> {
        let inner_len = record.len().saturating_sub(RECORD_HEADER_LEN + TAG_LEN);
        if self.plain.is_empty() {
            self.plain = vec![0u8; PLAINTEXT_BUFFER_LEN];
        }
        if self.end + inner_len > self.plain.len() {
            self.plain.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let mut plain = core::mem::take(&mut self.plain);
        let room = plain.get_mut(self.end..).unwrap_or_default();
        let result = self.open_into(record, room);
        self.plain = plain;
        let len = result?;
        self.end += len;
        Ok(0)
    }

    /// Opens one whole record into `out` and acts on its content type; returns how many
    /// bytes of application data it put at the start of `out`.
    fn open_into(&mut self, record: &[u8], out: &mut [u8]) -> Result<usize, Failure> {
        let (Some(header), Some(body)) = (
            record.get(..RECORD_HEADER_LEN),
            record.get(RECORD_HEADER_LEN..),
        ) else {
            return Err(decode_error("short record"));
        };
        // after the handshake every record is protected (RFC 8446 §5)
        if header.first() != Some(&CONTENT_APPLICATION_DATA) {
            return Err(unexpected("unprotected record after the handshake"));
        }
        let Some(inner_len) = body.len().checked_sub(TAG_LEN) else {
            return Err((Error::RecordAuthentication, Some(ALERT_BAD_RECORD_MAC)));
        };
        if inner_len > MAX_INNER_PLAINTEXT {
            let e = Error::InvalidMessage {
                reason: "record plaintext too large".into(),
            };
            return Err((e, Some(ALERT_RECORD_OVERFLOW)));
        }
        let (ciphertext, tag) = body.split_at(inner_len);
        let Some(inner) = out.get_mut(..inner_len) else {
            return Err((internal("plaintext buffer full"), None));
        };
        let nonce = self.rx.nonce().map_err(|e| (e, None))?;
        let mut aad = [0u8; RECORD_HEADER_LEN];
        aad.copy_from_slice(header);
        backend::open_into(&self.rx.key, nonce, Aad::from(aad), ciphertext, tag, inner)
            .map_err(|_| (Error::RecordAuthentication, Some(ALERT_BAD_RECORD_MAC)))?;
        // the content type is the last non-zero byte; zeros after it are padding
        let Some(len) = inner.iter().rposition(|b| *b != 0) else {
            return Err(unexpected("record without a content type"));
        };
        let content_type = inner.get(len).copied().unwrap_or_default();
        let content = inner.get(..len).unwrap_or_default();
        match content_type {
            CONTENT_APPLICATION_DATA => {
                // no other record inside a fragmented handshake message (RFC 8446 §5.1)
                if !self.handshake.is_empty() {
                    return Err(unexpected("data inside a handshake message"));
                }
                if len == 0 {
                    self.empty_records += 1;
                    if self.empty_records > MAX_CONSECUTIVE_EMPTY_RECORDS {
                        let e = Error::TooManyEmptyRecords {
                            max: MAX_CONSECUTIVE_EMPTY_RECORDS,
                        };
                        return Err((e, Some(ALERT_UNEXPECTED_MESSAGE)));
                    }
                } else {
                    self.empty_records = 0;
                    self.key_updates = 0;
                }
                Ok(len)
            }
            CONTENT_ALERT => {
                let alert: [u8; 2] = content
                    .try_into()
                    .map_err(|_| decode_error("malformed alert"))?;
                self.on_alert(alert).map(|()| 0)
            }
            CONTENT_HANDSHAKE => {
                if content.is_empty() {
                    return Err(unexpected("empty handshake record"));
                }
                if self.handshake.len() + content.len() > MAX_POST_HANDSHAKE_MESSAGE {
                    return Err(decode_error("post-handshake message too large"));
                }
                self.handshake.extend_from_slice(content);
                self.on_handshake().map(|()| 0)
            }
            _ => Err(unexpected("unexpected content type after the handshake")),
        }
    }

    /// An alert record: exactly one alert (RFC 8446 §5.1, §6).
    fn on_alert(&mut self, alert: [u8; 2]) -> Result<(), Failure> {
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
    fn on_handshake(&mut self) -> Result<(), Failure> {
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
    fn answer_key_update(&mut self) -> Result<(), Error> {
        if core::mem::take(&mut self.key_update_owed) {
            self.update_tx()?;
        }
        Ok(())
    }

    /// Sends our KeyUpdate (update_not_requested) and rolls our sending keys.
    fn update_tx(&mut self) -> Result<(), Error> {
        self.seal_record(CONTENT_HANDSHAKE, &[HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0])?;
        self.tx = self.tx.next()?;
        Ok(())
    }

    /// Appends one sealed record of `content` (at most [`MAX_RECORD_CONTENT`] bytes).
    fn seal_record(&mut self, content_type: u8, content: &[u8]) -> Result<(), Error> {
        let body = content.len() + 1 + TAG_LEN;
        let [hi, lo] = u16::try_from(body)
            .map_err(|_| internal("record too large"))?
            .to_be_bytes();
        let header = [CONTENT_APPLICATION_DATA, 3, 3, hi, lo];
        let nonce = self.tx.nonce()?;
        let at = self.out.len();
        // sealed from `content` into the outgoing buffer (out of place on aws-lc-rs)
        self.out.resize(at + RECORD_HEADER_LEN + body, 0);
        let sealed = self
            .out
            .get_mut(at..)
            .and_then(|record| record.split_at_mut_checked(RECORD_HEADER_LEN))
            .and_then(|(head, rest)| {
                head.copy_from_slice(&header);
                backend::seal_into(
                    &self.tx.key,
                    nonce,
                    Aad::from(header),
                    content,
                    content_type,
                    rest,
                )
                .ok()
            });
        if sealed.is_none() {
            self.out.truncate(at);
            return Err(internal("sealing failed"));
        }
        Ok(())
    }

    /// Seals a record, first rolling our keys when they have sealed
    /// [`KEY_UPDATE_INTERVAL`] records.
    fn seal(&mut self, content_type: u8, content: &[u8]) -> Result<(), Error> {
        self.answer_key_update()?;
        if self.tx.seq >= KEY_UPDATE_INTERVAL {
            self.update_tx()?;
        }
        self.seal_record(content_type, content)
    }

    /// Copies received plaintext into `buf`; returns how many bytes (0: nothing waiting;
    /// see [`Session::is_peer_closed`] for the end of the peer's data).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let n = buf.len().min(self.readable());
        if let (Some(to), Some(from)) =
            (buf.get_mut(..n), self.plain.get(self.start..self.start + n))
        {
            to.copy_from_slice(from);
        }
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(n)
    }

    /// Received plaintext waiting for [`Session::read`].
    pub fn readable(&self) -> usize {
        self.end - self.start
    }

    /// Seals plaintext into records for [`Session::poll_transmit`]; returns how many bytes
    /// were taken, fewer than offered (possibly 0) while about [`MAX_PENDING_CIPHERTEXT`]
    /// waits to be sent. After [`Session::close`]: [`Error::ApiMisuse`].
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.closed {
            return Err(Error::ApiMisuse("write after close"));
        }
        let mut taken = 0;
        while self.out.len() < MAX_PENDING_CIPHERTEXT {
            let rest = data.get(taken..).unwrap_or_default();
            let chunk = rest.get(..MAX_RECORD_CONTENT).unwrap_or(rest);
            if chunk.is_empty() {
                break;
            }
            if let Err(e) = self.seal(CONTENT_APPLICATION_DATA, chunk) {
                return Err(self.fail((e, None)));
            }
            taken += chunk.len();
        }
        Ok(taken)
    }

    /// Appends the ciphertext to send now; returns how many bytes.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        if self.error.is_none() && !self.closed {
            if let Err(e) = self.answer_key_update() {
                self.fail((e, None));
            }
        }
        let n = self.out.len();
        if out.is_empty() {
            // hand over our buffer instead of copying it; the caller's becomes ours
            core::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
        }
        n
    }

    /// Ciphertext waiting for [`Session::poll_transmit`], in bytes.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// Tests and fuzzing: seals one record as this side would send it, whatever it holds
    /// (a KeyUpdate message of its own rolls our sending keys after it), so a peer can be
    /// made to send what no honest one does.
    pub(crate) fn seal_raw(&mut self, content_type: u8, content: &[u8]) -> Result<(), Error> {
        self.seal_record(content_type, content)?;
        if content_type == CONTENT_HANDSHAKE
            && content.len() == 5
            && content.first() == Some(&HANDSHAKE_KEY_UPDATE)
        {
            self.tx = self.tx.next()?;
        }
        Ok(())
    }

    /// Queues our close_notify (after any data already written): we send nothing more.
    /// The peer may go on sending until its own close_notify.
    pub fn close(&mut self) {
        if !self.closed && self.error.is_none() {
            if let Err(e) = self.seal(CONTENT_ALERT, &[ALERT_WARNING, ALERT_CLOSE_NOTIFY]) {
                self.error = Some(e);
            }
            self.closed = true;
        }
    }

    /// Whether we closed (see [`Session::close`]).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the peer sent close_notify: once [`Session::read`] has drained the
    /// plaintext, the peer's data is complete.
    pub fn is_peer_closed(&self) -> bool {
        self.peer_closed
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("tls::Session")
            .field("remote_peer_id", &self.remote.peer_id)
            .field("muxer", &self.muxer)
            .field("closed", &self.closed)
            .field("peer_closed", &self.peer_closed)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::identity::{KeyType, Keypair};
    use crate::tls::{Client, Config, Server};

    /// Deterministic RNG (splitmix64), as in the other unit tests.
    struct TestRng(u64);

    impl rand_core::TryRng for TestRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for TestRng {}

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
    fn hkdf_expand_label_matches_rfc_8448() {
        // RFC 8448 §3, server application traffic secret 0 -> key and IV
        let secret = [
            0xa1, 0x1a, 0xf9, 0xf0, 0x55, 0x31, 0xf8, 0x56, 0xad, 0x47, 0x11, 0x6b, 0x45, 0xa9,
            0x50, 0x32, 0x82, 0x04, 0xb4, 0xf4, 0x4b, 0xfb, 0x6b, 0x3a, 0x4b, 0x4f, 0x1f, 0x3f,
            0xcb, 0x63, 0x16, 0x43,
        ];
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        assert!(expand_label(hkdf::HKDF_SHA256, &secret, b"key", &mut key));
        assert!(expand_label(hkdf::HKDF_SHA256, &secret, b"iv", &mut iv));
        assert_eq!(
            key,
            [
                0x9f, 0x02, 0x28, 0x3b, 0x6c, 0x9c, 0x07, 0xef, 0xc2, 0x6b, 0xb9, 0xf2, 0xac, 0x92,
                0xe3, 0x56
            ]
        );
        assert_eq!(
            iv,
            [0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83, 0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x84]
        );
    }
}
