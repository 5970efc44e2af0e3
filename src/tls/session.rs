//! An established libp2p TLS session: TLS 1.3 application-data records in both
//! directions, sealed and opened with the crypto backend (aws-lc-rs or ring) under the
//! application traffic keys the handshake's rustls connection hands over (the rustls
//! folder, `Engine::into_traffic`). The keys and the protection of one record are
//! `record.rs`'s; this file is the machine around them.
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
//! Rust cannot hand an uninitialized one to the AEAD). TLS 1.3 record protection (RFC 8446
//! §5.2, §5.3; `record.rs`): nonce = IV XOR the 64-bit sequence number (big-endian,
//! left-padded), AAD = the record header, the inner content type after the content, zero
//! padding accepted on receive.
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
use alloc::vec::Vec;

use super::certificate::Verified;
use super::error::Error;
use super::record::{
    decode_error, next_record, unexpected, Failure, Keys, Record, ALERT_CLOSE_NOTIFY,
    ALERT_DECODE_ERROR, ALERT_FATAL, ALERT_UNEXPECTED_MESSAGE, ALERT_WARNING, CONTENT_ALERT,
    CONTENT_APPLICATION_DATA, CONTENT_HANDSHAKE, MAX_INNER_PLAINTEXT, MAX_RECORD_BODY_LEN,
    MAX_RECORD_CONTENT, RECORD_HEADER_LEN, TAG_LEN,
};
use super::rustls::Engine;
use super::ALPN_LIBP2P;
use crate::buffers::Outgoing;
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

/// The received-plaintext buffer: the readable bound plus one opened record.
const PLAINTEXT_BUFFER_LEN: usize = MAX_BUFFERED_PLAINTEXT + MAX_INNER_PLAINTEXT;

/// The largest post-handshake message buffered while its records arrive: the 4-byte
/// handshake header and a 64 KiB body, rustls's own bound on handshake messages (a
/// NewSessionTicket's ticket alone may take 2^16 - 1 bytes, RFC 8446 §4.6.1).
const MAX_POST_HANDSHAKE_MESSAGE: usize = 4 + 0xffff;

/// Records we seal under one key before we update it: 2^23, half of the 2^24.5 full-size
/// records RFC 8446 §5.5 allows under one AES-GCM key (applied to every suite alike).
pub(crate) const KEY_UPDATE_INTERVAL: u64 = 1 << 23;

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

const HANDSHAKE_NEW_SESSION_TICKET: u8 = 4;
const HANDSHAKE_KEY_UPDATE: u8 = 24;

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
    out: Outgoing,
    /// Opened plaintext: `plain[start..end]` waits for `read`. Grown as records need it,
    /// up to [`PLAINTEXT_BUFFER_LEN`]; given back by `shrink_buffers` once read.
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
            out: Outgoing::from_vec(out),
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
        if self.error.is_none() {
            // after a fatal error nothing but its alert goes out: records sealed before
            // it and still unsent are dropped, and an owed KeyUpdate is no longer owed
            self.out.clear();
            self.key_update_owed = false;
        }
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
        if self.end + inner_len > self.plain.len() {
            self.plain.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end + inner_len > self.plain.len() {
            // grown as records need it (at most PLAINTEXT_BUFFER_LEN: what waits is below
            // MAX_BUFFERED_PLAINTEXT when a record is opened), not allocated whole up front
            let grown = (self.plain.len() * 2)
                .max(self.end + inner_len)
                .min(PLAINTEXT_BUFFER_LEN);
            self.plain.resize(grown.max(self.end + inner_len), 0);
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
        let (content_type, len) = self.rx.open(record, out)?;
        let content = out.get(..len).unwrap_or_default();
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

    /// Appends one sealed record of `content` (at most [`MAX_RECORD_CONTENT`] bytes).
    fn seal_record(&mut self, content_type: u8, content: &[u8]) -> Result<(), Error> {
        self.tx.seal(content_type, content, self.out.fill_end())
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
        let waiting = self.buffered_plaintext();
        let n = buf.len().min(waiting.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), waiting.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume_plaintext(n);
        Ok(n)
    }

    /// Received plaintext waiting for [`Session::read`].
    pub fn readable(&self) -> usize {
        self.end - self.start
    }

    /// The plaintext waiting for `read`, to look at without taking it (the upgrade feeds
    /// the muxer negotiation from it).
    pub(crate) fn buffered_plaintext(&self) -> &[u8] {
        self.plain.get(self.start..self.end).unwrap_or_default()
    }

    /// Drops the first `n` bytes of the plaintext waiting for `read`.
    pub(crate) fn consume_plaintext(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
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
        let _ = self.prepare_transmit();
        self.out.poll_transmit(out)
    }

    /// Ciphertext waiting for [`Session::poll_transmit`], in bytes (without a KeyUpdate
    /// answer still owed: the next `poll_transmit` or `poll_transmit_into` seals it).
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// Seals the KeyUpdate answer we owe, if any, so the queue holds everything
    /// `poll_transmit` would hand out; returns its length.
    pub(in crate::tls) fn prepare_transmit(&mut self) -> usize {
        if self.error.is_none() && !self.closed {
            if let Err(e) = self.answer_key_update() {
                self.fail((e, None));
            }
        }
        self.out.len()
    }

    /// [`Session::poll_transmit`] into the start of `buf`; returns the length. It first
    /// seals an owed KeyUpdate answer. If the output does not fit, nothing is taken and
    /// `buf` is untouched: the error says how large it must be (call again with that).
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        let _ = self.prepare_transmit();
        self.out.poll_transmit_into(buf)
    }

    /// Puts `earlier` (output of the layer before, sent before this session's) ahead of
    /// what waits for `poll_transmit`.
    pub(crate) fn prepend_transmit(&mut self, earlier: Vec<u8>) {
        self.out.prepend(earlier);
    }

    /// Tests and fuzzing: seals one record as this side would send it, whatever it holds
    /// (a KeyUpdate message of its own rolls our sending keys after it), so a peer can be
    /// made to send what no honest one does.
    #[cfg(any(test, feature = "fuzzing"))]
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

    /// The bytes the record that starts with `head` takes in all (its 5-byte header
    /// included), or the header's 5 while `head` is shorter: a driver sizes its read room
    /// by it instead of reading into a fixed 64 KiB.
    pub fn frame_len(head: &[u8]) -> usize {
        match *head {
            [_, _, _, hi, lo, ..] => RECORD_HEADER_LEN + usize::from(u16::from_be_bytes([hi, lo])),
            _ => RECORD_HEADER_LEN,
        }
    }

    /// Gives back the allocations of buffers that hold nothing (read plaintext, sent
    /// records, a finished post-handshake message): call it when the connection goes idle,
    /// so an idle session holds no room.
    pub fn shrink_buffers(&mut self) {
        if self.readable() == 0 {
            self.plain = Vec::new();
            self.start = 0;
            self.end = 0;
        }
        if self.handshake.is_empty() {
            self.handshake = Vec::new();
        }
        self.out.release();
    }

    /// The bytes the session's buffers have allocated (what a burst left behind until
    /// [`Session::shrink_buffers`]).
    pub fn buffer_capacity(&self) -> usize {
        self.plain.capacity() + self.handshake.capacity() + self.out.capacity()
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

mod post_handshake;
#[cfg(test)]
mod tests;
