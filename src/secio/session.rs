//! The SECIO session after the handshake, with the transport verbs of STYLE.md (the same
//! as the TLS and Noise sessions have): ciphertext in with [`Session::handle_input`],
//! plaintext out with [`Session::read`], plaintext in with [`Session::write`], ciphertext
//! out with [`Session::poll_transmit`]. Under it the two halves ([`SendHalf`],
//! [`RecvHalf`]) stay the low-level frame API ([`Session::split`]).
//!
//! Unlike Noise and TLS, `handle_input` also takes partial frames: SECIO frames may be up
//! to the configured frame limit (4 MiB by default; js-libp2p sends hundreds of KiB), so
//! the receiving half gathers a partial frame itself rather than leave it in the caller's
//! buffer ([`Session::buffered_input`] says how much it holds). Received data waits for
//! the peer's echo of our nonce: the receiving half checks and strips it before it
//! releases any plaintext.
//!
//! Buffers are bounded: at most [`MAX_BUFFERED_PLAINTEXT`] plus one frame of received
//! plaintext waits for `read` (beyond that `handle_input` consumes nothing until the
//! caller reads), at most one partial frame up to the frame limit is gathered, and at most
//! about [`MAX_PENDING_CIPHERTEXT`] of sealed frames waits for `poll_transmit` (beyond
//! that `write` takes nothing).
//!
//! SECIO has no closing message: [`Session::close`] only stops our writing; the peer
//! learns of it from the transport's end of stream.

use alloc::vec::Vec;

use super::algorithms::{Cipher, Hash, KeyExchange};
use super::transport::{RecvHalf, SendHalf, MAX_PLAINTEXT_LEN};
use super::Error;
use crate::buffers::{Outgoing, Plaintext};
use crate::identity::{PeerId, PublicKey};

/// Received plaintext held for [`Session::read`] before [`Session::handle_input`] stops
/// consuming: 64 KiB, one frame as we send them ([`MAX_PLAINTEXT_LEN`]), so a caller that
/// reads after each `handle_input` never stalls the input; one more frame (of up to the
/// frame limit) can arrive on top of it.
pub const MAX_BUFFERED_PLAINTEXT: usize = 64 * 1024;

/// Sealed frames held for [`Session::poll_transmit`] before [`Session::write`] takes
/// nothing more: 128 KiB, two full frames, so one 64 KiB write always fits after a
/// transmit.
pub const MAX_PENDING_CIPHERTEXT: usize = 128 * 1024;

/// An established SECIO session: what the handshake proved and agreed, the two halves,
/// and the buffers of the transport verbs.
///
/// # Call contract
/// Feed every byte from the peer to `handle_input` (keep what it does not consume and
/// hand it over again with the next bytes), then `read` the plaintext; `write` plaintext,
/// then send what `poll_transmit` appends. `handle_input` consumes nothing while
/// [`MAX_BUFFERED_PLAINTEXT`] waits for `read`; `write` takes less than offered while
/// about [`MAX_PENDING_CIPHERTEXT`] waits for `poll_transmit`. When the peer's stream
/// ends, [`Session::end_of_stream`] says whether it cut a frame (or the echo) short.
///
/// A frame that fails its MAC, length or echo check poisons the session: `handle_input`,
/// `read` and `write` return the error from then on, and no plaintext of the failing
/// call is released. Frames sealed before the error still go out with `poll_transmit`.
pub struct Session {
    send: SendHalf,
    recv: RecvHalf,
    remote_peer_id: PeerId,
    remote_public_key: PublicKey,
    algorithms: (KeyExchange, Cipher, Hash),
    /// Opened plaintext waiting for `read`.
    plain: Plaintext,
    /// Sealed frames for `poll_transmit`.
    out: Outgoing,
    closed: bool,
    error: Option<Error>,
}

impl Session {
    /// The session of a finished handshake.
    pub(super) fn new(
        (send, recv): (SendHalf, RecvHalf),
        remote_peer_id: PeerId,
        remote_public_key: PublicKey,
        algorithms: (KeyExchange, Cipher, Hash),
    ) -> Self {
        Self {
            send,
            recv,
            remote_peer_id,
            remote_public_key,
            algorithms,
            plain: Plaintext::default(),
            out: Outgoing::default(),
            closed: false,
            error: None,
        }
    }

    /// The PeerId the remote proved.
    pub fn remote_peer_id(&self) -> PeerId {
        self.remote_peer_id
    }

    /// The remote identity key.
    pub fn remote_public_key(&self) -> &PublicKey {
        &self.remote_public_key
    }

    /// The agreed key exchange, cipher and hash.
    pub fn algorithms(&self) -> (KeyExchange, Cipher, Hash) {
        self.algorithms
    }

    /// The agreed cipher and MAC hash by name: `AES-256-CTR/HMAC-SHA256`, ...
    pub fn cipher_suite(&self) -> &'static str {
        match self.algorithms {
            (_, Cipher::Aes128, Hash::Sha256) => "AES-128-CTR/HMAC-SHA256",
            (_, Cipher::Aes128, Hash::Sha512) => "AES-128-CTR/HMAC-SHA512",
            (_, Cipher::Aes256, Hash::Sha256) => "AES-256-CTR/HMAC-SHA256",
            (_, Cipher::Aes256, Hash::Sha512) => "AES-256-CTR/HMAC-SHA512",
            (_, Cipher::TwofishCtr, Hash::Sha256) => "Twofish-CTR/HMAC-SHA256",
            (_, Cipher::TwofishCtr, Hash::Sha512) => "Twofish-CTR/HMAC-SHA512",
        }
    }

    /// The sending half, for the low-level frame API (frames sealed through it bypass
    /// the session's outgoing buffer: send what `poll_transmit` holds first).
    pub fn send(&mut self) -> &mut SendHalf {
        &mut self.send
    }

    /// The receiving half, for the low-level frame API (frames opened through it bypass
    /// the session's plaintext buffer).
    pub fn recv(&mut self) -> &mut RecvHalf {
        &mut self.recv
    }

    /// The receiving half, to inspect.
    pub fn recv_ref(&self) -> &RecvHalf {
        &self.recv
    }

    /// Both halves, to be owned separately. What the session still buffered (unread
    /// plaintext, unsent frames) is dropped: take it with `read` and `poll_transmit` first.
    pub fn split(self) -> (SendHalf, RecvHalf) {
        (self.send, self.recv)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e.clone());
        e
    }

    /// Feeds ciphertext from the peer, in any chunking; returns how many bytes were
    /// consumed: all of them (a partial frame is gathered inside) unless
    /// [`MAX_BUFFERED_PLAINTEXT`] waits for [`Session::read`].
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut consumed = 0;
        while self.readable() < MAX_BUFFERED_PLAINTEXT && consumed < bytes.len() {
            let rest = bytes.get(consumed..).unwrap_or_default();
            match self.recv.open_next(rest, self.plain.fill_end()) {
                Ok((0, _)) => break,
                Ok((used, _)) => consumed += used,
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(consumed)
    }

    /// Ciphertext of a partly received frame held inside (up to the frame limit). Above
    /// 0 when the peer's stream ends: a truncated frame.
    pub fn buffered_input(&self) -> usize {
        self.recv.buffered()
    }

    /// The peer's byte stream ended: an error (and poison) if it cut a frame short or if
    /// the nonce echo never arrived whole.
    pub fn end_of_stream(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.recv.end_of_stream().map_err(|e| self.fail(e))
    }

    /// Gives back the allocations of buffers that hold nothing (read plaintext, sent
    /// frames, no partial frame): call it when the connection goes idle.
    pub fn shrink_buffers(&mut self) {
        self.plain.release();
        self.out.release();
        self.recv.release();
    }

    /// The bytes the session's buffers have allocated (the partial frame gathered inside
    /// included).
    pub fn buffer_capacity(&self) -> usize {
        self.plain.capacity() + self.out.capacity() + self.recv.buffered_capacity()
    }

    /// Copies received plaintext into `buf`; returns how many bytes (0: nothing waiting).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        Ok(self.plain.read(buf))
    }

    /// Received plaintext waiting for [`Session::read`].
    pub fn readable(&self) -> usize {
        self.plain.readable()
    }

    /// The plaintext waiting for `read`, to look at without taking it (the upgrade feeds
    /// the muxer negotiation from it).
    pub(crate) fn buffered_plaintext(&self) -> &[u8] {
        self.plain.peek()
    }

    /// Drops the first `n` bytes of the plaintext waiting for `read`.
    pub(crate) fn consume_plaintext(&mut self, n: usize) {
        self.plain.consume(n);
    }

    /// Seals plaintext into frames of at most [`MAX_PLAINTEXT_LEN`] for
    /// [`Session::poll_transmit`]; returns how many bytes were taken, fewer than offered
    /// (possibly 0) while about [`MAX_PENDING_CIPHERTEXT`] waits to be sent. After
    /// [`Session::close`]: [`Error::ApiMisuse`].
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.closed {
            return Err(Error::ApiMisuse("write after close"));
        }
        let mut taken = 0;
        while self.out.len() < MAX_PENDING_CIPHERTEXT && taken < data.len() {
            let rest = data.get(taken..).unwrap_or_default();
            let chunk = rest.get(..MAX_PLAINTEXT_LEN).unwrap_or(rest);
            if let Err(e) = self.send.encrypt_to_vec(chunk, self.out.fill_end()) {
                return Err(self.fail(e));
            }
            taken += chunk.len();
        }
        Ok(taken)
    }

    /// Appends the ciphertext to send now; returns how many bytes.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.out.poll_transmit(out)
    }

    /// Ciphertext waiting for [`Session::poll_transmit`], in bytes.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// [`Session::poll_transmit`] into the start of `buf`; returns the length. If it does
    /// not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be ([`Session::pending_transmit`]).
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        self.out.poll_transmit_into(buf)
    }

    /// Puts `earlier` (output of the layer before, sent before this session's) ahead of
    /// what waits for `poll_transmit`.
    pub(crate) fn prepend_transmit(&mut self, earlier: Vec<u8>) {
        self.out.prepend(earlier);
    }

    /// We send nothing more: later `write`s are refused. SECIO has no closing message, so
    /// nothing is queued; the transport's end of stream tells the peer.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Whether we closed (see [`Session::close`]).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (exchange, cipher, hash) = self.algorithms;
        f.debug_struct("secio::Session")
            .field("remote_peer_id", &self.remote_peer_id)
            .field("exchange", &exchange)
            .field("cipher", &cipher)
            .field("hash", &hash)
            .field("readable", &self.readable())
            .field("closed", &self.closed)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
