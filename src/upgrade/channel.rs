//! The secured channel an upgrade ends with: one interface over the three transport
//! sessions (`noise::Session`, `tls::Session` and, with feature `secio`,
//! `secio::Session`). Each session owns its framing, its buffers and their
//! bounds; the channel dispatches to it and adds only what the upgrade may leave behind:
//! a lazy (optimistic) muxer negotiation still waiting for the listener's answer, which
//! it strips from the front of the plaintext, and the error of a muxer the listener
//! refused.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Error, SecurityProtocol};
use crate::identity::{PeerId, PublicKey};
use crate::multistream;

enum Inner {
    #[cfg(feature = "noise")]
    Noise(crate::noise::Session),
    #[cfg(feature = "tls")]
    Tls(crate::tls::Session),
    /// Boxed: its cipher and MAC states make it several times larger than the others.
    #[cfg(feature = "secio")]
    Secio(alloc::boxed::Box<crate::secio::Session>),
}

/// An authenticated, encrypted byte stream: the muxer's bytes in and out.
///
/// # Call contract
/// Feed every byte from the peer to [`SecureChannel::handle_input`] (keep what it did not
/// consume and hand it over again with the next bytes), then [`SecureChannel::read`] the
/// plaintext; [`SecureChannel::write`] plaintext and send what
/// [`SecureChannel::poll_transmit`] appends. The session's bounds apply:
/// `handle_input` consumes nothing while its received plaintext waits for `read` (64 KiB
/// for Noise and SECIO, 16 KiB for TLS: each module's `MAX_BUFFERED_PLAINTEXT`); `write`
/// takes less than offered while its output waits for `poll_transmit` (each module's
/// `MAX_PENDING_CIPHERTEXT`).
///
/// A frame or record that fails authentication (or a muxer the listener refused after an
/// optimistic proposal) poisons the channel: `handle_input`, `read` and `write` return the
/// error from then on.
pub struct SecureChannel {
    inner: Inner,
    /// An optimistic muxer proposal whose echo has not arrived: it strips the listener's
    /// multistream answer from the front of the plaintext.
    pending_muxer: Option<multistream::Dialer>,
    /// Whether that proposal came from a peer memory: its refusal is then
    /// [`Error::RememberedProtocolRefused`] (redial), not a plain negotiation failure.
    pending_muxer_remembered: bool,
    /// Why the pending muxer negotiation failed (the session's own errors stay in it).
    error: Option<Error>,
}

impl SecureChannel {
    #[cfg(feature = "noise")]
    pub(super) fn noise(session: crate::noise::Session) -> (Self, Option<String>) {
        let muxer = session.muxer().map(String::from);
        (Self::with(Inner::Noise(session)), muxer)
    }

    #[cfg(feature = "tls")]
    pub(super) fn tls(session: crate::tls::Session) -> (Self, Option<String>) {
        let muxer = session.muxer().map(String::from);
        (Self::with(Inner::Tls(session)), muxer)
    }

    /// SECIO negotiates no muxer inside its handshake.
    #[cfg(feature = "secio")]
    pub(super) fn secio(session: crate::secio::Session) -> (Self, Option<String>) {
        let inner = Inner::Secio(alloc::boxed::Box::new(session));
        (Self::with(inner), None)
    }

    fn with(inner: Inner) -> Self {
        Self {
            inner,
            pending_muxer: None,
            pending_muxer_remembered: false,
            error: None,
        }
    }

    /// The remote's proven PeerId.
    pub fn remote_peer_id(&self) -> PeerId {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.remote_peer_id(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.remote_peer_id(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.remote_peer_id(),
        }
    }

    /// The remote's identity public key, the one its handshake signature was checked
    /// against (for RSA and ECDSA peers the PeerId holds only its hash).
    pub fn remote_public_key(&self) -> &PublicKey {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.remote_public_key(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.remote_public_key(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.remote_public_key(),
        }
    }

    /// The security protocol that secures this channel.
    pub fn security(&self) -> SecurityProtocol {
        match self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(_) => SecurityProtocol::Noise,
            #[cfg(feature = "tls")]
            Inner::Tls(_) => SecurityProtocol::Tls,
            #[cfg(feature = "secio")]
            Inner::Secio(_) => SecurityProtocol::Secio,
        }
    }

    /// What protects the data: the TLS cipher suite's IANA name, Noise's `ChaChaPoly`, or
    /// SECIO's cipher and HMAC hash (`AES-256-CTR/HMAC-SHA256`, ...).
    pub fn cipher(&self) -> &'static str {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(_) => "ChaChaPoly",
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.cipher_suite().unwrap_or("TLS 1.3"),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.cipher_suite(),
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e.clone());
        e
    }

    /// Feeds ciphertext from the peer; returns how many bytes were consumed (whole frames
    /// or records only; SECIO gathers partial frames itself).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let consumed = match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.handle_input(bytes).map_err(Error::Noise)?,
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.handle_input(bytes).map_err(Error::Tls)?,
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.handle_input(bytes).map_err(Error::Secio)?,
        };
        if self.pending_muxer.is_some() {
            self.strip_muxer_answer()?;
        }
        Ok(consumed)
    }

    /// Feeds the plaintext that arrived to the optimistic muxer proposal until its echo.
    fn strip_muxer_answer(&mut self) -> Result<(), Error> {
        let Some(mut dialer) = self.pending_muxer.take() else {
            return Ok(());
        };
        let done = self
            .feed_plaintext(|bytes| dialer.handle_input(bytes).map_err(Error::MuxerNegotiation));
        if let Err(e) = done {
            let e = match e {
                Error::MuxerNegotiation(multistream::Error::NoProtocolAgreed { tried })
                    if self.pending_muxer_remembered =>
                {
                    Error::RememberedProtocolRefused {
                        protocol: tried.into_iter().next().unwrap_or_default(),
                    }
                }
                e => e,
            };
            return Err(self.fail(e));
        }
        if !dialer.is_done() {
            self.pending_muxer = Some(dialer);
        }
        Ok(())
    }

    /// Hands the plaintext waiting in the session to `f`, which returns how much of it it
    /// used; that much is dropped, the rest stays for `read`.
    pub(super) fn feed_plaintext(
        &mut self,
        f: impl FnOnce(&[u8]) -> Result<usize, Error>,
    ) -> Result<(), Error> {
        let used = match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => f(s.buffered_plaintext())?,
            #[cfg(feature = "tls")]
            Inner::Tls(s) => f(s.buffered_plaintext())?,
            #[cfg(feature = "secio")]
            Inner::Secio(s) => f(s.buffered_plaintext())?,
        };
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.consume_plaintext(used),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.consume_plaintext(used),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.consume_plaintext(used),
        }
        Ok(())
    }

    /// Copies received plaintext into `buf`; returns how many bytes (0: nothing waiting).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.pending_muxer.is_some() {
            // the listener's answer to our optimistic proposal is not complete yet
            return Ok(0);
        }
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.read(buf).map_err(Error::Noise),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.read(buf).map_err(Error::Tls),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.read(buf).map_err(Error::Secio),
        }
    }

    /// Plaintext waiting for [`SecureChannel::read`].
    pub fn readable(&self) -> usize {
        if self.pending_muxer.is_some() {
            return 0;
        }
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.readable(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.readable(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.readable(),
        }
    }

    /// Encrypts plaintext for [`SecureChannel::poll_transmit`]; returns how many bytes
    /// were taken (fewer than offered, possibly 0, while output waits to be sent).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.is_closed() {
            return Err(Error::ApiMisuse("write after close"));
        }
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.write(data).map_err(Error::Noise),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.write(data).map_err(Error::Tls),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.write(data).map_err(Error::Secio),
        }
    }

    /// Appends the ciphertext to send now; returns how many bytes.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.poll_transmit(out),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.poll_transmit(out),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.poll_transmit(out),
        }
    }

    /// The ciphertext waiting for [`SecureChannel::poll_transmit`], in bytes (TLS: without
    /// a KeyUpdate answer still owed, which the next transmit seals first).
    pub fn pending_transmit(&self) -> usize {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.pending_transmit(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.pending_transmit(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.pending_transmit(),
        }
    }

    /// [`SecureChannel::poll_transmit`] into the start of `buf`; returns the length. If it
    /// does not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be (call again with that).
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.poll_transmit_into(buf),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.poll_transmit_into(buf),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.poll_transmit_into(buf),
        }
    }

    /// We send nothing more: TLS queues its close_notify; Noise and SECIO have no closing
    /// message (the transport's end of stream says it).
    pub fn close(&mut self) {
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.close(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.close(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.close(),
        }
    }

    fn is_closed(&self) -> bool {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.is_closed(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.is_closed(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.is_closed(),
        }
    }

    /// Whether the peer closed its side inside the channel (TLS close_notify). With Noise
    /// and SECIO the end of the transport's stream is the only signal.
    pub fn is_peer_closed(&self) -> bool {
        match &self.inner {
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.is_peer_closed(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Ciphertext of a partly received frame held inside the channel (SECIO gathers its
    /// frames itself, up to its frame limit, 4 MiB by default; Noise and TLS leave partial
    /// frames in the caller's buffer). A driver that sees the end of the stream with this
    /// above 0 has a truncated frame.
    pub fn buffered_input(&self) -> usize {
        match &self.inner {
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.buffered_input(),
            #[allow(unreachable_patterns)]
            _ => 0,
        }
    }

    /// The ciphertext bytes the frame (Noise) or record (TLS) that starts with `head`
    /// takes in all, header included, or the header's length while `head` is shorter:
    /// what a driver holding a partial frame must read next, so its read room is sized by
    /// the frame instead of a fixed 64 KiB. `None` for SECIO, which gathers partial frames
    /// itself (its `handle_input` consumes everything).
    pub fn frame_len(&self, head: &[u8]) -> Option<usize> {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(_) => Some(crate::noise::Session::frame_len(head)),
            #[cfg(feature = "tls")]
            Inner::Tls(_) => Some(crate::tls::Session::frame_len(head)),
            #[cfg(feature = "secio")]
            Inner::Secio(_) => None,
        }
    }

    /// Gives back the allocations of the session's buffers that hold nothing (plaintext
    /// all read, output all taken): drivers call it when the connection goes idle, so a
    /// burst's buffers do not stay with an idle connection.
    pub fn shrink_buffers(&mut self) {
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.shrink_buffers(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.shrink_buffers(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.shrink_buffers(),
        }
    }

    /// The bytes the session's buffers have allocated (received plaintext, sealed output,
    /// SECIO's partial frame): what [`SecureChannel::shrink_buffers`] can give back once
    /// they are empty.
    pub fn buffer_capacity(&self) -> usize {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.buffer_capacity(),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.buffer_capacity(),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.buffer_capacity(),
        }
    }

    /// Puts the upgrade's unsent output ahead of the session's own.
    pub(super) fn prepend_transmit(&mut self, earlier: Vec<u8>) {
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(s) => s.prepend_transmit(earlier),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => s.prepend_transmit(earlier),
            #[cfg(feature = "secio")]
            Inner::Secio(s) => s.prepend_transmit(earlier),
        }
    }

    /// Leaves an optimistic muxer proposal to finish inside the channel.
    pub(super) fn set_pending_muxer(
        &mut self,
        dialer: multistream::Dialer,
        remembered: bool,
    ) -> Result<(), Error> {
        self.pending_muxer = Some(dialer);
        self.pending_muxer_remembered = remembered;
        // its answer may be here already
        self.strip_muxer_answer()
    }
}

impl core::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecureChannel")
            .field("security", &self.security())
            .field("remote_peer_id", &self.remote_peer_id())
            .field("readable", &self.readable())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
