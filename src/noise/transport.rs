//! The transport after the handshake: frames of `u16 big-endian length || ciphertext ||
//! 16-byte tag`, ChaCha20-Poly1305 with an implicit 64-bit counter nonce and empty
//! associated data (spec "Noise Transport Messages").
//!
//! [`SendHalf`] and [`RecvHalf`] are the low-level frame API under [`Session`]: they are
//! independent (each owns its key and counter), so two threads or tasks can each own one.
//! Both work in the caller's buffers: sealing and opening happen in place, with no copy
//! of the payload and no allocation per frame.
//!
//! [`Session`]: super::Session

use alloc::vec::Vec;

use super::crypto::TransportCipher;
use super::{Error, MAX_FRAME_LEN, MAX_PLAINTEXT_LEN, TAG_LEN};

/// The 2-byte length prefix.
pub(crate) const LEN_PREFIX: usize = 2;

/// The encrypting half. Its key is zeroized on drop.
pub struct SendHalf {
    cipher: TransportCipher,
    nonce: u64,
    exhausted: bool,
}

impl SendHalf {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: TransportCipher::new(key),
            nonce: 0,
            exhausted: false,
        }
    }

    /// Bytes on the wire for a plaintext of `len` bytes (one frame).
    pub const fn frame_len(len: usize) -> usize {
        LEN_PREFIX + len + TAG_LEN
    }

    /// Seals one frame in place. `frame[2..2 + plaintext_len]` holds the plaintext and
    /// `frame` must have room for the tag after it; the length prefix and tag are written.
    /// Returns the frame's length on the wire.
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
        let total = Self::frame_len(plaintext_len);
        let Some(frame) = frame.get_mut(..total) else {
            return Err(Error::BufferTooSmall { required: total });
        };
        if self.exhausted {
            return Err(Error::NonceExhausted);
        }
        let (head, rest) = frame.split_at_mut(LEN_PREFIX);
        let (body, tag_out) = rest.split_at_mut(plaintext_len);
        let tag = self
            .cipher
            .seal(self.nonce, body)
            .ok_or(Error::PlaintextTooLong {
                len: plaintext_len,
                max: MAX_PLAINTEXT_LEN,
            })?;
        tag_out.copy_from_slice(&tag);
        // plaintext_len + TAG_LEN <= MAX_FRAME_LEN = u16::MAX, checked above
        head.copy_from_slice(&((plaintext_len + TAG_LEN) as u16).to_be_bytes());
        self.advance();
        Ok(total)
    }

    /// Encrypts one frame from `plaintext` into `out` (one copy, into the caller's
    /// buffer). `out` too small: [`Error::BufferTooSmall`], nothing written.
    pub fn encrypt(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::PlaintextTooLong {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let total = Self::frame_len(plaintext.len());
        if out.len() < total {
            return Err(Error::BufferTooSmall { required: total });
        }
        if let Some(body) = out.get_mut(LEN_PREFIX..LEN_PREFIX + plaintext.len()) {
            body.copy_from_slice(plaintext);
        }
        self.seal_in_place(out, plaintext.len())
    }

    /// Appends `data` to `out` as as many full frames as it takes (an empty `data`: one
    /// empty frame); returns the bytes appended. A convenience over
    /// [`SendHalf::seal_in_place`].
    pub fn encrypt_to_vec(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        let start = out.len();
        // an empty write is one empty frame, as with `encrypt`
        let empty = data.is_empty().then_some(&[][..]);
        for chunk in data.chunks(MAX_PLAINTEXT_LEN).chain(empty) {
            let at = out.len();
            out.resize(at + Self::frame_len(chunk.len()), 0);
            if let Some(body) = out.get_mut(at + LEN_PREFIX..at + LEN_PREFIX + chunk.len()) {
                body.copy_from_slice(chunk);
            }
            if let Err(e) = self.seal_in_place(out.get_mut(at..).unwrap_or_default(), chunk.len()) {
                out.truncate(start);
                return Err(e);
            }
        }
        Ok(out.len() - start)
    }

    fn advance(&mut self) {
        // 2^64 - 1 is reserved by Noise: stop before using it
        self.nonce += 1;
        if self.nonce == u64::MAX {
            self.exhausted = true;
        }
    }

    #[cfg(test)]
    pub(crate) fn set_nonce(&mut self, n: u64) {
        self.nonce = n;
    }
}

/// The decrypting half: takes the byte stream in any chunking. Its key is zeroized on
/// drop. After an error it is poisoned.
pub struct RecvHalf {
    cipher: TransportCipher,
    nonce: u64,
    error: Option<Error>,
}

/// One frame opened by [`RecvHalf::decrypt_in_place`].
#[derive(Debug, PartialEq, Eq)]
pub struct Opened<'a> {
    /// Bytes of the input the frame occupied: drop them from the buffer.
    pub consumed: usize,
    /// The plaintext, decrypted in place inside the input buffer.
    pub plaintext: &'a [u8],
}

impl RecvHalf {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: TransportCipher::new(key),
            nonce: 0,
            error: None,
        }
    }

    /// Opens the first frame of `buf` in place. `Ok(None)`: the frame is not complete yet
    /// (keep the bytes, append more, call again). A frame that fails authentication is
    /// [`Error::Decrypt`] and poisons the half.
    pub fn decrypt_in_place<'a>(&mut self, buf: &'a mut [u8]) -> Result<Option<Opened<'a>>, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let [hi, lo, ..] = *buf else { return Ok(None) };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < TAG_LEN {
            return Err(self.fail(Error::FrameTooShort { len }));
        }
        let Some(frame) = buf.get_mut(LEN_PREFIX..LEN_PREFIX + len) else {
            return Ok(None);
        };
        if self.nonce == u64::MAX {
            return Err(self.fail(Error::NonceExhausted));
        }
        if !self.cipher.open(self.nonce, frame) {
            return Err(self.fail(Error::Decrypt));
        }
        self.nonce += 1;
        let plaintext = frame.get(..len - TAG_LEN).unwrap_or_default();
        Ok(Some(Opened {
            consumed: LEN_PREFIX + len,
            plaintext,
        }))
    }

    /// Opens the first frame of `input` into `out` (for read-only input). Returns
    /// `(consumed, written)`, or `None` if the frame is incomplete.
    pub fn decrypt(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Option<(usize, usize)>, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let [hi, lo, ..] = *input else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(frame) = input.get(..LEN_PREFIX + len) else {
            return Ok(None);
        };
        let plain_len = len.saturating_sub(TAG_LEN);
        let Some(scratch) = out.get_mut(..LEN_PREFIX + len) else {
            return Err(Error::BufferTooSmall {
                required: LEN_PREFIX + len,
            });
        };
        scratch.copy_from_slice(frame);
        match self.decrypt_in_place(scratch)? {
            Some(opened) => {
                let consumed = opened.consumed;
                out.copy_within(LEN_PREFIX..LEN_PREFIX + plain_len, 0);
                Ok(Some((consumed, plain_len)))
            }
            None => Ok(None),
        }
    }

    /// Opens the first frame of `input` and appends its plaintext to `plain`, decrypting
    /// straight from `input` (no copy of the ciphertext where the backend allows). Returns
    /// the bytes consumed, or `None` if the frame is incomplete; on an error `plain` is as
    /// it was.
    pub(crate) fn open_to_vec(
        &mut self,
        input: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<Option<usize>, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let [hi, lo, ..] = *input else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        // a short frame is refused once it is whole, as `decrypt` does
        let Some(frame) = input.get(LEN_PREFIX..LEN_PREFIX + len) else {
            return Ok(None);
        };
        if len < TAG_LEN {
            return Err(self.fail(Error::FrameTooShort { len }));
        }
        if self.nonce == u64::MAX {
            return Err(self.fail(Error::NonceExhausted));
        }
        let (body, tag) = frame.split_at(len - TAG_LEN);
        let at = plain.len();
        plain.resize(at + body.len(), 0);
        let out = plain.get_mut(at..).unwrap_or_default();
        if !self.cipher.open_to(self.nonce, body, tag, out) {
            plain.truncate(at);
            return Err(self.fail(Error::Decrypt));
        }
        self.nonce += 1;
        Ok(Some(LEN_PREFIX + len))
    }

    /// Length of the frame at the start of `buf` on the wire, once its prefix has arrived.
    pub fn next_frame_len(buf: &[u8]) -> Option<usize> {
        let [hi, lo, ..] = *buf else { return None };
        Some(LEN_PREFIX + usize::from(u16::from_be_bytes([hi, lo])))
    }

    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e.clone());
        e
    }

    #[cfg(test)]
    pub(crate) fn set_nonce(&mut self, n: u64) {
        self.nonce = n;
    }
}

/// Largest buffer a reader needs to hold one frame.
pub const MAX_WIRE_FRAME: usize = LEN_PREFIX + MAX_FRAME_LEN;
