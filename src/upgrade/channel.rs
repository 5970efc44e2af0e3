//! The secured channel an upgrade ends with: one interface over the Noise transport, the
//! TLS session and (feature `secio`) the SECIO session, plus what the upgrade may leave in it (plaintext that arrived with the
//! muxer negotiation, and a lazy muxer negotiation still waiting for its echo).

use alloc::string::String;
use alloc::vec::Vec;

use super::{Error, SecurityProtocol};
use crate::identity::PeerId;
use crate::multistream;

/// Received plaintext the channel holds for [`SecureChannel::read`] before
/// [`SecureChannel::handle_input`] stops consuming: 64 KiB, one full Noise frame (or four
/// TLS records), so a reader that reads after each input never stalls the stream.
pub const MAX_BUFFERED_PLAINTEXT: usize = 64 * 1024;

/// Sealed Noise or SECIO frames held for [`SecureChannel::poll_transmit`] before
/// [`SecureChannel::write`] takes nothing more: 128 KiB, two full frames, so one 64 KiB
/// write always fits after a transmit (TLS applies its own bound,
/// [`crate::tls::MAX_PENDING_CIPHERTEXT`]).
#[cfg(any(feature = "noise", feature = "secio"))]
const MAX_PENDING_FRAMES: usize = 128 * 1024;

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
/// [`SecureChannel::poll_transmit`] appends. `handle_input` consumes nothing while
/// [`MAX_BUFFERED_PLAINTEXT`] waits for `read`; `write` takes less than offered while
/// output waits for `poll_transmit`.
///
/// A frame or record that fails authentication (or a muxer the listener refused after an
/// optimistic proposal) poisons the channel: `handle_input`, `read` and `write` return the
/// error from then on.
pub struct SecureChannel {
    inner: Inner,
    remote_peer_id: PeerId,
    /// Plaintext waiting for `read`: `plain[start..]` (for TLS only what the upgrade or
    /// the lazy muxer negotiation left; the rest waits in the session).
    plain: Vec<u8>,
    start: usize,
    /// An optimistic muxer proposal whose echo has not arrived: it strips the listener's
    /// multistream answer from the front of the plaintext.
    pending_muxer: Option<multistream::Dialer>,
    /// Output for `poll_transmit` ahead of the session's own.
    out: Vec<u8>,
    closed: bool,
    error: Option<Error>,
}

impl SecureChannel {
    #[cfg(feature = "noise")]
    pub(super) fn noise(session: crate::noise::Session) -> (Self, Option<String>) {
        let muxer = session.muxer().map(String::from);
        let remote_peer_id = session.remote_peer_id();
        (Self::with(Inner::Noise(session), remote_peer_id), muxer)
    }

    #[cfg(feature = "tls")]
    pub(super) fn tls(session: crate::tls::Session) -> (Self, Option<String>) {
        let muxer = session.muxer().map(String::from);
        let remote_peer_id = session.remote_peer_id();
        (Self::with(Inner::Tls(session), remote_peer_id), muxer)
    }

    /// SECIO negotiates no muxer inside its handshake.
    #[cfg(feature = "secio")]
    pub(super) fn secio(session: crate::secio::Session) -> (Self, Option<String>) {
        let remote_peer_id = session.remote_peer_id();
        let inner = Inner::Secio(alloc::boxed::Box::new(session));
        (Self::with(inner, remote_peer_id), None)
    }

    fn with(inner: Inner, remote_peer_id: PeerId) -> Self {
        Self {
            inner,
            remote_peer_id,
            plain: Vec::new(),
            start: 0,
            pending_muxer: None,
            out: Vec::new(),
            closed: false,
            error: None,
        }
    }

    /// The remote's proven PeerId.
    pub fn remote_peer_id(&self) -> PeerId {
        self.remote_peer_id
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
            Inner::Secio(s) => secio_cipher_name(s),
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e.clone());
        e
    }

    /// Feeds ciphertext from the peer; returns how many bytes were consumed (whole frames
    /// or records only).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let consumed = match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(session) => {
                let r = open_noise(session, bytes, &mut self.plain, &mut self.start);
                r.map_err(Error::Noise)
            }
            #[cfg(feature = "tls")]
            Inner::Tls(session) => session.handle_input(bytes).map_err(Error::Tls),
            #[cfg(feature = "secio")]
            Inner::Secio(session) => {
                let r = open_secio(session, bytes, &mut self.plain, &mut self.start);
                r.map_err(Error::Secio)
            }
        };
        let consumed = match consumed {
            Ok(n) => n,
            Err(e) => return Err(self.fail(e)),
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
        let done = self.feed_plaintext(|bytes| {
            let used = dialer
                .handle_input(bytes)
                .map_err(Error::MuxerNegotiation)?;
            Ok(used)
        });
        if let Err(e) = done {
            return Err(self.fail(e));
        }
        if !dialer.is_done() {
            self.pending_muxer = Some(dialer);
        }
        Ok(())
    }

    /// Hands the waiting plaintext to `f`, which returns how much of it it used; that
    /// much is dropped. TLS plaintext is first moved out of the session.
    pub(super) fn feed_plaintext(
        &mut self,
        mut f: impl FnMut(&[u8]) -> Result<usize, Error>,
    ) -> Result<(), Error> {
        // irrefutable in a TLS-only build
        #[cfg(feature = "tls")]
        #[allow(irrefutable_let_patterns)]
        if let Inner::Tls(session) = &mut self.inner {
            let waiting = session.readable();
            if waiting > 0 {
                let at = self.plain.len();
                self.plain.resize(at + waiting, 0);
                let n = session
                    .read(self.plain.get_mut(at..).unwrap_or_default())
                    .map_err(Error::Tls)?;
                self.plain.truncate(at + n);
            }
        }
        let used = f(self.plain.get(self.start..).unwrap_or_default())?;
        self.advance(used);
        Ok(())
    }

    fn advance(&mut self, n: usize) {
        self.start = (self.start + n).min(self.plain.len());
        if self.start == self.plain.len() {
            self.plain.clear();
            self.start = 0;
        }
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
        let waiting = self.plain.get(self.start..).unwrap_or_default();
        let n = waiting.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), waiting.get(..n)) {
            to.copy_from_slice(from);
        }
        self.advance(n);
        match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(_) => Ok(n),
            #[cfg(feature = "secio")]
            Inner::Secio(_) => Ok(n),
            #[cfg(feature = "tls")]
            Inner::Tls(session) => {
                let rest = buf.get_mut(n..).unwrap_or_default();
                match session.read(rest) {
                    Ok(m) => Ok(n + m),
                    Err(e) => Err(self.fail(Error::Tls(e))),
                }
            }
        }
    }

    /// Plaintext waiting for [`SecureChannel::read`].
    pub fn readable(&self) -> usize {
        if self.pending_muxer.is_some() {
            return 0;
        }
        let own = self.plain.len() - self.start;
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(_) => own,
            #[cfg(feature = "secio")]
            Inner::Secio(_) => own,
            #[cfg(feature = "tls")]
            Inner::Tls(session) => own + session.readable(),
        }
    }

    /// Encrypts plaintext for [`SecureChannel::poll_transmit`]; returns how many bytes
    /// were taken (fewer than offered, possibly 0, while output waits to be sent).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.closed {
            return Err(Error::ApiMisuse("write after close"));
        }
        let taken = match &mut self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(session) => {
                let mut taken = 0;
                while self.out.len() < MAX_PENDING_FRAMES && taken < data.len() {
                    let rest = data.get(taken..).unwrap_or_default();
                    let chunk = rest.get(..crate::noise::MAX_PLAINTEXT_LEN).unwrap_or(rest);
                    if let Err(e) = session.send().encrypt_to_vec(chunk, &mut self.out) {
                        return Err(self.fail(Error::Noise(e)));
                    }
                    taken += chunk.len();
                }
                Ok(taken)
            }
            #[cfg(feature = "tls")]
            Inner::Tls(session) => session.write(data).map_err(Error::Tls),
            #[cfg(feature = "secio")]
            Inner::Secio(session) => {
                let mut taken = 0;
                while self.out.len() < MAX_PENDING_FRAMES && taken < data.len() {
                    let rest = data.get(taken..).unwrap_or_default();
                    let chunk = rest.get(..crate::secio::MAX_PLAINTEXT_LEN).unwrap_or(rest);
                    if let Err(e) = session.send().encrypt_to_vec(chunk, &mut self.out) {
                        return Err(self.fail(Error::Secio(e)));
                    }
                    taken += chunk.len();
                }
                Ok(taken)
            }
        };
        taken.map_err(|e| self.fail(e))
    }

    /// Appends the ciphertext to send now; returns how many bytes.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut n = self.out.len();
        if out.is_empty() {
            // hand over our buffer instead of copying it
            core::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
        }
        // irrefutable in a TLS-only build
        #[cfg(feature = "tls")]
        #[allow(irrefutable_let_patterns)]
        if let Inner::Tls(session) = &mut self.inner {
            n += session.poll_transmit(out);
        }
        n
    }

    /// We send nothing more: TLS queues its close_notify; Noise and SECIO have no closing
    /// message (the transport's end of stream says it).
    pub fn close(&mut self) {
        self.closed = true;
        // irrefutable in a TLS-only build
        #[cfg(feature = "tls")]
        #[allow(irrefutable_let_patterns)]
        if let Inner::Tls(session) = &mut self.inner {
            session.close();
        }
    }

    /// Whether the peer closed its side inside the channel (TLS close_notify). With Noise
    /// the end of the transport's stream is the only signal.
    pub fn is_peer_closed(&self) -> bool {
        match &self.inner {
            #[cfg(feature = "noise")]
            Inner::Noise(_) => false,
            #[cfg(feature = "secio")]
            Inner::Secio(_) => false,
            #[cfg(feature = "tls")]
            Inner::Tls(session) => session.is_peer_closed(),
        }
    }

    /// Ciphertext of a partly received frame held inside the channel (SECIO gathers its
    /// frames itself, up to its frame limit, 4 MiB by default; Noise and TLS leave partial
    /// frames in the caller's buffer). A driver that sees the end of the stream with this
    /// above 0 has a truncated frame.
    pub fn buffered_input(&self) -> usize {
        match &self.inner {
            #[cfg(feature = "secio")]
            Inner::Secio(session) => session.recv_ref().buffered(),
            #[allow(unreachable_patterns)]
            _ => 0,
        }
    }

    /// Puts the upgrade's unsent output ahead of the channel's own.
    pub(super) fn prepend_output(&mut self, mut earlier: Vec<u8>) {
        if !earlier.is_empty() {
            earlier.append(&mut self.out);
            self.out = earlier;
        }
    }

    /// Leaves an optimistic muxer proposal to finish inside the channel.
    pub(super) fn set_pending_muxer(&mut self, dialer: multistream::Dialer) -> Result<(), Error> {
        self.pending_muxer = Some(dialer);
        // its answer may be here already
        self.strip_muxer_answer()
    }
}

/// Opens whole Noise frames from `bytes` into `plain` while it holds less than
/// [`MAX_BUFFERED_PLAINTEXT`]; returns the bytes consumed.
#[cfg(feature = "noise")]
fn open_noise(
    session: &mut crate::noise::Session,
    bytes: &[u8],
    plain: &mut Vec<u8>,
    start: &mut usize,
) -> Result<usize, crate::noise::Error> {
    use crate::noise::RecvHalf;
    if *start > 0 && *start == plain.len() {
        plain.clear();
        *start = 0;
    }
    let mut consumed = 0;
    while plain.len() - *start < MAX_BUFFERED_PLAINTEXT {
        let rest = bytes.get(consumed..).unwrap_or_default();
        let Some(len) = RecvHalf::next_frame_len(rest) else {
            break;
        };
        if rest.len() < len {
            break;
        }
        let at = plain.len();
        plain.resize(at + len, 0);
        let opened = session
            .recv()
            .decrypt(rest, plain.get_mut(at..).unwrap_or_default());
        match opened {
            Ok(Some((used, written))) => {
                plain.truncate(at + written);
                consumed += used;
            }
            Ok(None) => {
                plain.truncate(at);
                break;
            }
            Err(e) => {
                plain.truncate(at);
                return Err(e);
            }
        }
    }
    Ok(consumed)
}

/// Opens SECIO frames from `bytes` into `plain` while it holds less than
/// [`MAX_BUFFERED_PLAINTEXT`]; returns the bytes consumed. SECIO frames may be up to
/// 4 MiB by default (js-libp2p sends hundreds of KiB), so a partial frame is gathered
/// inside the session rather than left in the caller's buffer.
#[cfg(feature = "secio")]
fn open_secio(
    session: &mut crate::secio::Session,
    bytes: &[u8],
    plain: &mut Vec<u8>,
    start: &mut usize,
) -> Result<usize, crate::secio::Error> {
    if *start > 0 && *start == plain.len() {
        plain.clear();
        *start = 0;
    }
    let mut consumed = 0;
    while plain.len() - *start < MAX_BUFFERED_PLAINTEXT && consumed < bytes.len() {
        let rest = bytes.get(consumed..).unwrap_or_default();
        let (used, _) = session.recv().open_next(rest, plain)?;
        if used == 0 {
            break;
        }
        consumed += used;
    }
    Ok(consumed)
}

#[cfg(feature = "secio")]
fn secio_cipher_name(session: &crate::secio::Session) -> &'static str {
    use crate::secio::{Cipher, Hash};
    match session.algorithms() {
        (_, Cipher::Aes128, Hash::Sha256) => "AES-128-CTR/HMAC-SHA256",
        (_, Cipher::Aes128, Hash::Sha512) => "AES-128-CTR/HMAC-SHA512",
        (_, Cipher::Aes256, Hash::Sha256) => "AES-256-CTR/HMAC-SHA256",
        (_, Cipher::Aes256, Hash::Sha512) => "AES-256-CTR/HMAC-SHA512",
        (_, Cipher::TwofishCtr, Hash::Sha256) => "Twofish-CTR/HMAC-SHA256",
        (_, Cipher::TwofishCtr, Hash::Sha512) => "Twofish-CTR/HMAC-SHA512",
    }
}

impl core::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecureChannel")
            .field("security", &self.security())
            .field("remote_peer_id", &self.remote_peer_id)
            .field("readable", &self.readable())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
