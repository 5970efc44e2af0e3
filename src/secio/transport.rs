//! The SECIO session after the handshake: `u32 BE length || ciphertext || MAC`, the MAC
//! (HMAC over the ciphertext) checked in constant time before anything is decrypted, the
//! CTR key stream continuing across frames. [`SendHalf`] and [`RecvHalf`] are
//! independent, so two threads or tasks can each own one.
//!
//! There is no sequence number under the MAC (the spec binds order only through the key
//! stream) and no rekeying: a legacy design, kept only for reach.

use alloc::vec::Vec;

use super::algorithms::{Cipher, Hash, KeyExchange};
use super::crypto::DirectionCipher;
use super::{Error, NONCE_LEN};
use crate::identity::{PeerId, PublicKey};

/// The length prefix: 4 bytes, big-endian.
pub const LEN_PREFIX: usize = 4;
/// Largest frame accepted (length prefix value, MAC included): 8 MiB, the limit go and
/// rust-libp2p enforce (`> 0x800000` is refused, so exactly 8 MiB passes).
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;
/// Largest plaintext we put in one frame. Peers accept far more; 64 KiB keeps the
/// receiver's buffering small, as the other channels' frames do.
pub const MAX_PLAINTEXT_LEN: usize = 64 * 1024;

/// An established SECIO session. Its [`RecvHalf`] first checks the peer's echo of our
/// nonce and strips it; only then does it release plaintext.
pub struct Session {
    pub(crate) send: SendHalf,
    pub(crate) recv: RecvHalf,
    pub(crate) remote_peer_id: PeerId,
    pub(crate) remote_public_key: PublicKey,
    pub(crate) exchange: KeyExchange,
    pub(crate) cipher: Cipher,
    pub(crate) hash: Hash,
}

impl Session {
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
        (self.exchange, self.cipher, self.hash)
    }

    /// The sending half.
    pub fn send(&mut self) -> &mut SendHalf {
        &mut self.send
    }

    /// The receiving half.
    pub fn recv(&mut self) -> &mut RecvHalf {
        &mut self.recv
    }

    /// The receiving half, to inspect.
    pub fn recv_ref(&self) -> &RecvHalf {
        &self.recv
    }

    /// Both halves, to be owned separately.
    pub fn split(self) -> (SendHalf, RecvHalf) {
        (self.send, self.recv)
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("secio::Session")
            .field("remote_peer_id", &self.remote_peer_id)
            .field("exchange", &self.exchange)
            .field("cipher", &self.cipher)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// Seals outgoing frames.
pub struct SendHalf {
    cipher: DirectionCipher,
}

impl SendHalf {
    pub(crate) fn new(cipher: DirectionCipher) -> Self {
        Self { cipher }
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
        self.cipher.seal(body, tag);
        let len = u32::try_from(total - LEN_PREFIX).unwrap_or(u32::MAX);
        head.copy_from_slice(&len.to_be_bytes());
        Ok(total)
    }

    /// Seals `plaintext` (at most [`MAX_PLAINTEXT_LEN`]) into `out` as one frame; returns
    /// its length. `out` is untouched when it is too small.
    pub fn encrypt(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
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
    /// bytes appended.
    pub fn encrypt_to_vec(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        let start = out.len();
        for chunk in data.chunks(MAX_PLAINTEXT_LEN) {
            let at = out.len();
            out.resize(at + self.frame_len(chunk.len()), 0);
            let frame = out.get_mut(at..).unwrap_or_default();
            if let Some(body) = frame.get_mut(LEN_PREFIX..LEN_PREFIX + chunk.len()) {
                body.copy_from_slice(chunk);
            }
            if let Err(e) = self.seal_in_place(frame, chunk.len()) {
                out.truncate(start);
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
/// ([`RecvHalf::handle_input`], which holds at most one partial frame).
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
            max_frame_len,
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
    /// complete to `plain`. Consumes all of `input` (a partial frame is held inside).
    pub fn handle_input(&mut self, input: &[u8], plain: &mut Vec<u8>) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut used = 0;
        while used < input.len() {
            let (n, _) = self.open_next(input.get(used..).unwrap_or_default(), plain)?;
            used += n;
        }
        Ok(used)
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
            self.partial
                .extend_from_slice(input.get(..take).unwrap_or_default());
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
        let take = (total - self.partial.len()).min(rest.len());
        self.partial
            .extend_from_slice(rest.get(..take).unwrap_or_default());
        used += take;
        if self.partial.len() < total {
            return Ok((used, false));
        }
        let mut frame = core::mem::take(&mut self.partial);
        match self.decrypt_in_place(&mut frame)? {
            Some(opened) => plain.extend_from_slice(opened.plaintext),
            None => return Err(self.fail(Error::ApiMisuse("partial frame lost its length"))),
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
