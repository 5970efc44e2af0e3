//! An established libp2p TLS session: TLS 1.3 application-data records in both
//! directions, through the rustls connection the handshake made (`rustls_glue.rs`).
//!
//! [`Session`] keeps the machine verbs of STYLE.md: ciphertext in with
//! [`Session::handle_input`] (whole records only), plaintext out with [`Session::read`],
//! plaintext in with [`Session::write`], ciphertext out with [`Session::poll_transmit`].
//! Buffers are bounded: at most [`MAX_BUFFERED_PLAINTEXT`] plus one record of received
//! plaintext waits for `read` (beyond that `handle_input` consumes nothing until the
//! caller reads), and at most about [`MAX_PENDING_CIPHERTEXT`] of sealed records waits for
//! `poll_transmit` (beyond that `write` takes nothing).
//!
//! Closing follows TLS 1.3 (RFC 8446 §6.1): [`Session::close`] queues our close_notify
//! and ends our writing; the peer's close_notify shows as [`Session::is_peer_closed`], after
//! which everything the peer sent has been received and no further record is consumed.
//! Each direction closes on its own (a half-close, as TCP's).
//!
//! Not here: the handshake (`handshake.rs`), key updates initiated by us (rustls answers
//! the peer's), an end-of-stream from the transport (the caller's to handle: a stream that
//! ends without close_notify may have been truncated).

use alloc::string::String;
use alloc::vec::Vec;

use super::certificate::Verified;
use super::rustls_glue::{next_record, Engine, Record, MAX_RECORD_BODY_LEN, RECORD_HEADER_LEN};
use super::{Error, ALPN_LIBP2P};
use crate::identity::{PeerId, PublicKey};

/// Received plaintext held for [`Session::read`] before [`Session::handle_input`] stops
/// consuming records: 16 KiB, rustls 0.23's own limit on its received-plaintext queue
/// (feeding more would make rustls refuse the bytes). One more record's worth (16 KiB,
/// RFC 8446 §5.1) can arrive on top of it.
pub const MAX_BUFFERED_PLAINTEXT: usize = 16 * 1024;

/// Sealed records held for [`Session::poll_transmit`] before [`Session::write`] takes
/// nothing more: 64 KiB, rustls 0.23's default limit on its outgoing queue.
pub const MAX_PENDING_CIPHERTEXT: usize = 64 * 1024;

/// An established TLS session: what the handshake proved, and the record layer.
///
/// # Call contract
/// Feed every byte from the peer to `handle_input` (keep what it does not consume and
/// hand it over again with the next bytes), then `read` the plaintext; `write` plaintext,
/// then send what `poll_transmit` appends. `handle_input` consumes nothing while
/// unread plaintext exceeds [`MAX_BUFFERED_PLAINTEXT`]: read first.
///
/// A record that fails authentication (or any other TLS failure) poisons the session:
/// `handle_input`, `read` and `write` return the error from then on; `poll_transmit`
/// still hands out the alert that tells the peer, then nothing.
pub struct Session {
    engine: Engine,
    remote: Verified,
    muxer: Option<String>,
    closed: bool,
    error: Option<Error>,
}

impl Session {
    pub(super) fn new(engine: Engine, remote: Verified) -> Self {
        // a muxer id is one of ours (rustls only agrees on an offered/supported value);
        // `libp2p` means: negotiate the muxer with multistream-select over the session
        let muxer = engine
            .alpn()
            .filter(|alpn| *alpn != ALPN_LIBP2P)
            .and_then(|alpn| core::str::from_utf8(alpn).ok())
            .map(String::from);
        Self {
            engine,
            remote,
            muxer,
            closed: false,
            error: None,
        }
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
        self.engine.cipher_suite()
    }

    fn fail(&mut self, e: Error) -> Error {
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
        while !self.engine.peer_closed()
            && self.engine.plaintext_pending() <= MAX_BUFFERED_PLAINTEXT
        {
            let rest = bytes.get(consumed..).unwrap_or_default();
            let len = match next_record(rest) {
                Record::Incomplete => break,
                Record::Whole(len) => len,
                Record::TooLarge { len } => {
                    self.engine
                        .refuse_oversized(rest.get(..RECORD_HEADER_LEN).unwrap_or_default());
                    return Err(self.fail(Error::RecordTooLarge {
                        len,
                        max: MAX_RECORD_BODY_LEN,
                    }));
                }
            };
            if let Err(e) = self.engine.feed_record(rest.get(..len).unwrap_or_default()) {
                return Err(self.fail(e));
            }
            consumed += len;
        }
        Ok(consumed)
    }

    /// Copies received plaintext into `buf`; returns how many bytes (0: nothing waiting;
    /// see [`Session::is_peer_closed`] for the end of the peer's data).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        Ok(self.engine.read(buf))
    }

    /// Received plaintext waiting for [`Session::read`].
    pub fn readable(&self) -> usize {
        self.engine.plaintext_pending()
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
        match self.engine.write(data) {
            Ok(n) => Ok(n),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Appends the ciphertext to send now; returns how many bytes.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.engine.poll_transmit(out)
    }

    /// Queues our close_notify (after any data already written): we send nothing more.
    /// The peer may go on sending until its own close_notify.
    pub fn close(&mut self) {
        if !self.closed && self.error.is_none() {
            self.closed = true;
            self.engine.close();
        }
    }

    /// Whether we closed (see [`Session::close`]).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the peer sent close_notify: once [`Session::read`] has drained the
    /// plaintext, the peer's data is complete.
    pub fn is_peer_closed(&self) -> bool {
        self.engine.peer_closed()
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("tls::Session")
            .field("remote_peer_id", &self.remote.peer_id)
            .field("muxer", &self.muxer)
            .field("closed", &self.closed)
            .field("peer_closed", &self.engine.peer_closed())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
