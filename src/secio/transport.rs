//! The SECIO frames after the handshake: `u32 BE length || ciphertext || MAC`, the MAC
//! (HMAC over the ciphertext) checked in constant time before anything is decrypted, the
//! CTR key stream continuing across frames. [`SendHalf`] and [`RecvHalf`] are the
//! low-level frame API under [`Session`]: independent, so two threads or tasks can each
//! own one.
//!
//! [`Session`]: super::Session
//!
//! There is no sequence number under the MAC (the spec binds order only through the key
//! stream) and no rekeying: a legacy design, kept only for reach.

use alloc::vec::Vec;

use super::crypto::DirectionCipher;
use super::{Error, NONCE_LEN};

/// The length prefix: 4 bytes, big-endian.
pub const LEN_PREFIX: usize = 4;
/// The ceiling for the frame limit (length prefix value, MAC included): 8 MiB, the limit
/// go and rust-libp2p enforce (`> 0x800000` is refused, so exactly 8 MiB passes) and
/// js-libp2p-secio's `MAX_DATA_LENGTH`. [`Config::with_max_frame_len`] may raise the limit
/// up to this, never beyond.
///
/// [`Config::with_max_frame_len`]: super::Config::with_max_frame_len
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;
/// The frame limit a [`Config`](super::Config) starts with: 4 MiB, half the legacy
/// ceiling, which is also the most a [`RecvHalf`] then holds for one partial frame.
///
/// Why not lower: what the legacy peers put in one frame, read from their sources (the
/// versions `tests/interop/` runs) and measured against them over loopback:
/// - rust-libp2p 0.26 seals each `poll_write` as one frame (`RwStreamSink`). Over mplex
///   0.26 that is futures_codec 0.4's write buffer, flushed once it reaches 128 KiB, so
///   below 128 KiB + one 8 KiB mplex frame: 131,186 bytes at most, measured with a
///   16 MiB echo. Over yamux 0.8 a data frame's body is one write, bounded by the stream
///   credit the receiver grants (256 KiB at first; yamux 0.13 auto-tunes it upward).
/// - js-libp2p 0.29 seals each chunk its muxer yields as one frame, and mplex 0.10.7
///   yields every message queued since the last pull as one chunk (`it-pushable` with
///   `writev`): a write queued whole while the socket waits to drain becomes one frame.
///   Measured: a 1 MiB echo, 196,652 bytes at most; a write of `n` MiB from 5 to 16, a
///   frame of about `n - 4.1` MiB (what the loopback socket took before its first drain
///   wait: on a slower path more of the write lands in that one frame). A write above
///   about 12 MiB thus breaks even go's and rust's 8 MiB limit.
///
/// So 1 MiB would refuse one full js mplex message (1 MiB + its header + the MAC) and
/// js writes of more than about 5 MiB; 4 MiB takes rust-libp2p's frames with a wide
/// margin and js writes up to about 8 MiB on loopback. Peers known to send bigger bursts
/// need [`Config::with_max_frame_len`] up to [`MAX_FRAME_LEN`], what go and rust accept.
///
/// [`Config::with_max_frame_len`]: super::Config::with_max_frame_len
pub const DEFAULT_MAX_FRAME_LEN: usize = 4 * 1024 * 1024;
/// Largest plaintext we put in one frame. Peers accept far more; 64 KiB keeps the
/// receiver's buffering small, as the other channels' frames do.
pub const MAX_PLAINTEXT_LEN: usize = 64 * 1024;

/// Seals outgoing frames.
///
/// A refused call (plaintext too long, buffer too small) changes nothing and may be
/// retried. An error after the key stream moved past bytes that were not handed out
/// poisons the half: the peer's key stream could no longer follow, so every later call
/// returns that error.
pub struct SendHalf {
    cipher: DirectionCipher,
    error: Option<Error>,
}

impl SendHalf {
    pub(crate) fn new(cipher: DirectionCipher) -> Self {
        Self {
            cipher,
            error: None,
        }
    }

    /// Bytes on the wire for `plaintext_len` bytes of plaintext in one frame.
    pub fn frame_len(&self, plaintext_len: usize) -> usize {
        LEN_PREFIX + plaintext_len + self.cipher.mac_len()
    }

    /// Seals the plaintext already at `frame[4..4 + plaintext_len]` in place, writing the
    /// length prefix and the MAC around it. Returns the frame length.
    pub fn seal_in_place(
        &mut self,
        frame: &mut [u8],
        plaintext_len: usize,
    ) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(Error::PlaintextTooLong {
                len: plaintext_len,
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let total = self.frame_len(plaintext_len);
        let Some(frame) = frame.get_mut(..total) else {
            return Err(Error::BufferTooSmall { required: total });
        };
        let (head, rest) = frame.split_at_mut(LEN_PREFIX);
        let (body, tag) = rest.split_at_mut(plaintext_len);
        // on an error nothing moved (checked before the key stream runs)
        self.cipher.seal(body, tag)?;
        let len = u32::try_from(total - LEN_PREFIX).unwrap_or(u32::MAX);
        head.copy_from_slice(&len.to_be_bytes());
        Ok(total)
    }

    /// Seals `plaintext` (at most [`MAX_PLAINTEXT_LEN`]) into `out` as one frame; returns
    /// its length. `out` is untouched when it is too small.
    pub fn encrypt(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let total = self.frame_len(plaintext.len());
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::PlaintextTooLong {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        if out.len() < total {
            return Err(Error::BufferTooSmall { required: total });
        }
        if let Some(body) = out.get_mut(LEN_PREFIX..LEN_PREFIX + plaintext.len()) {
            body.copy_from_slice(plaintext);
        }
        self.seal_in_place(out, plaintext.len())
    }

    /// Appends `data` to `out` as frames of at most [`MAX_PLAINTEXT_LEN`]; returns the
    /// bytes appended. On an error `out` is as it was.
    pub fn encrypt_to_vec(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let start = out.len();
        for (i, chunk) in data.chunks(MAX_PLAINTEXT_LEN).enumerate() {
            let at = out.len();
            out.resize(at + self.frame_len(chunk.len()), 0);
            let frame = out.get_mut(at..).unwrap_or_default();
            if let Some(body) = frame.get_mut(LEN_PREFIX..LEN_PREFIX + chunk.len()) {
                body.copy_from_slice(chunk);
            }
            if let Err(e) = self.seal_in_place(frame, chunk.len()) {
                out.truncate(start);
                if i > 0 {
                    // the frames sealed before are dropped with `out`'s tail, but the key
                    // stream ran over them: the peer could not decrypt what follows
                    self.error = Some(e.clone());
                }
                return Err(e);
            }
        }
        Ok(out.len() - start)
    }
}

/// A frame opened in the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened<'a> {
    /// Bytes of the buffer the frame took (prefix, ciphertext, MAC).
    pub consumed: usize,
    /// The decrypted plaintext, inside the buffer.
    pub plaintext: &'a [u8],
}

/// Checks and opens incoming frames, from whole frames in the caller's buffer
/// ([`RecvHalf::decrypt_in_place`]) or from a byte stream in any chunking
/// ([`RecvHalf::handle_input`], which holds at most one partial frame, never more than
/// the configured frame limit plus its length prefix, allocation included).
///
/// After an error (a bad MAC, length or echo) the half is poisoned: a failing call hands
/// out no plaintext, and every later call returns the same error.
pub struct RecvHalf {
    cipher: DirectionCipher,
    max_frame_len: usize,
    partial: Vec<u8>,
    /// Our nonce, which the peer's first plaintext bytes must repeat, and how much of it
    /// has matched so far (it may span frames: rust-libp2p splits it).
    echo: [u8; NONCE_LEN],
    echo_matched: usize,
    error: Option<Error>,
}

impl RecvHalf {
    pub(crate) fn new(
        cipher: DirectionCipher,
        max_frame_len: usize,
        echo: [u8; NONCE_LEN],
    ) -> Self {
        Self {
            cipher,
            max_frame_len: max_frame_len.min(MAX_FRAME_LEN),
            partial: Vec::new(),
            echo,
            echo_matched: 0,
            error: None,
        }
    }

    /// Whether the peer's echo of our nonce has arrived whole (and matched).
    pub fn echo_verified(&self) -> bool {
        self.echo_matched == NONCE_LEN
    }

    /// Checks the front of freshly decrypted `plain` against the rest of the echo; returns
    /// how many bytes of it are echo (to strip).
    fn check_echo(&mut self, plain: &[u8]) -> Result<usize, Error> {
        let want = self.echo.get(self.echo_matched..).unwrap_or_default();
        let n = want.len().min(plain.len());
        if plain.get(..n) != want.get(..n) {
            return Err(self.fail(Error::NonceMismatch));
        }
        self.echo_matched += n;
        Ok(n)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.partial = Vec::new();
        self.error = Some(e.clone());
        e
    }

    /// The frame length announced by a 4-byte prefix, checked against the limits.
    fn frame_len(&mut self, prefix: [u8; 4]) -> Result<usize, Error> {
        let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
        if len > self.max_frame_len {
            return Err(self.fail(Error::FrameTooLarge {
                len,
                max: self.max_frame_len,
            }));
        }
        if len < self.cipher.mac_len() {
            return Err(self.fail(Error::FrameTooShort {
                len,
                mac_len: self.cipher.mac_len(),
            }));
        }
        Ok(len)
    }

    /// Opens the whole frame at the start of `buf` in place. `Ok(None)`: the frame is not
    /// complete yet (nothing consumed).
    pub fn decrypt_in_place<'a>(&mut self, buf: &'a mut [u8]) -> Result<Option<Opened<'a>>, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let [a, b, c, d, ..] = *buf else {
            return Ok(None);
        };
        let len = self.frame_len([a, b, c, d])?;
        let Some(frame) = buf.get_mut(LEN_PREFIX..LEN_PREFIX + len) else {
            return Ok(None);
        };
        let (body, tag) = frame.split_at_mut(len - self.cipher.mac_len());
        if !self.cipher.verify(body, tag) {
            return Err(self.fail(Error::MacMismatch));
        }
        self.cipher.decrypt(body);
        let echo = self.check_echo(body)?;
        Ok(Some(Opened {
            consumed: LEN_PREFIX + len,
            plaintext: body.get(echo..).unwrap_or_default(),
        }))
    }

    /// Takes stream bytes in any chunking and appends the plaintext of every frame they
    /// complete to `plain`. Consumes all of `input` (a partial frame is held inside). On an
    /// error `plain` is as it was: the plaintext of frames opened earlier in the same call
    /// is taken back too.
    pub fn handle_input(&mut self, input: &[u8], plain: &mut Vec<u8>) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let start = plain.len();
        let mut used = 0;
        while used < input.len() {
            match self.open_next(input.get(used..).unwrap_or_default(), plain) {
                Ok((n, _)) => used += n,
                Err(e) => {
                    plain.truncate(start);
                    return Err(e);
                }
            }
        }
        Ok(used)
    }

    /// Appends `bytes` to the partial frame of `total` bytes, growing the allocation
    /// geometrically but never past `total` (a `Vec` left to itself may double to almost
    /// twice the frame).
    fn gather(&mut self, bytes: &[u8], total: usize) {
        let need = self.partial.len() + bytes.len();
        if need > self.partial.capacity() {
            let want = self
                .partial
                .capacity()
                .saturating_mul(2)
                .max(need)
                .min(total);
            self.partial
                .reserve_exact(want.saturating_sub(self.partial.len()));
        }
        self.partial.extend_from_slice(bytes);
    }

    /// Consumes bytes up to the end of at most one frame; says whether a frame was opened.
    pub(crate) fn open_next(
        &mut self,
        input: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(usize, bool), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.partial.is_empty() {
            // fast path: a whole frame in the input is checked there and decrypted straight
            // into `plain`
            if let [a, b, c, d, ..] = *input {
                let len = self.frame_len([a, b, c, d])?;
                if let Some(frame) = input.get(LEN_PREFIX..LEN_PREFIX + len) {
                    let (body, tag) = frame.split_at(len - self.cipher.mac_len());
                    if !self.cipher.verify(body, tag) {
                        return Err(self.fail(Error::MacMismatch));
                    }
                    let at = plain.len();
                    plain.extend_from_slice(body);
                    self.cipher.decrypt(plain.get_mut(at..).unwrap_or_default());
                    if self.echo_matched < NONCE_LEN {
                        match self.check_echo(plain.get(at..).unwrap_or_default()) {
                            Ok(echo) => drop(plain.drain(at..at + echo)),
                            Err(e) => {
                                plain.truncate(at);
                                return Err(e);
                            }
                        }
                    }
                    return Ok((LEN_PREFIX + len, true));
                }
            }
        }
        // slow path: gather the frame (it grows only with bytes that arrived, never to
        // the announced length up front)
        let mut used = 0;
        if self.partial.len() < LEN_PREFIX {
            let take = (LEN_PREFIX - self.partial.len()).min(input.len());
            self.gather(input.get(..take).unwrap_or_default(), LEN_PREFIX);
            used = take;
            let [a, b, c, d] = *self.partial.as_slice() else {
                return Ok((used, false));
            };
            self.frame_len([a, b, c, d])?;
        }
        let [a, b, c, d, ..] = *self.partial.as_slice() else {
            return Ok((used, false));
        };
        let total = LEN_PREFIX + self.frame_len([a, b, c, d])?;
        let rest = input.get(used..).unwrap_or_default();
        let take = total.saturating_sub(self.partial.len()).min(rest.len());
        self.gather(rest.get(..take).unwrap_or_default(), total);
        used += take;
        if self.partial.len() < total {
            return Ok((used, false));
        }
        let mut frame = core::mem::take(&mut self.partial);
        match self.decrypt_in_place(&mut frame)? {
            Some(opened) => plain.extend_from_slice(opened.plaintext),
            None => return Err(self.fail(Error::Internal("partial frame lost its length"))),
        }
        // keep the allocation for the next partial frame when it is small
        frame.clear();
        if frame.capacity() <= MAX_PLAINTEXT_LEN + 2 * LEN_PREFIX + 64 {
            self.partial = frame;
        }
        Ok((used, true))
    }

    /// Bytes of a partial frame held inside.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// The allocation behind the partial frame.
    pub(crate) fn buffered_capacity(&self) -> usize {
        self.partial.capacity()
    }

    /// Gives the partial frame's allocation back when no frame is partly received.
    pub(crate) fn release(&mut self) {
        if self.partial.is_empty() {
            self.partial = Vec::new();
        }
    }

    /// The peer's byte stream ended: an error (and poison) if it cut a frame short or if
    /// the nonce echo never arrived whole.
    pub fn end_of_stream(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !self.partial.is_empty() {
            let have = self.partial.len();
            return Err(self.fail(Error::TruncatedFrame { have }));
        }
        if self.echo_matched > 0 && self.echo_matched < NONCE_LEN {
            return Err(self.fail(Error::TruncatedFrame {
                have: self.echo_matched,
            }));
        }
        Ok(())
    }
}
