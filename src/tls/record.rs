//! The TLS 1.3 record layer's pieces (RFC 8446 §5, §7): framing a record by its header,
//! the traffic keys of one direction and their updates, and sealing and opening one
//! protected record with the crypto backend (`backend.rs`: aws-lc-rs or ring).
//!
//! - Framing ([`next_record`]): the 5-byte header and its length field, refused above
//!   [`MAX_RECORD_BODY_LEN`] before the body is waited for. The handshake machines
//!   (`handshake.rs`) frame what they hand rustls with it, the session what it opens.
//! - Keys: `key` and `iv` by HKDF-Expand-Label from the application traffic secret
//!   (§7.3), checked once against the ones rustls derived; the next secret on a KeyUpdate
//!   (§7.2); the per-record nonce, the IV XOR the 64-bit sequence number (§5.3).
//! - Protection (§5.2): AAD = the record header, the inner content type after the content,
//!   zero padding accepted on receive (§5.4). A record that fails comes with the alert
//!   RFC 8446 §6.2 names for it.
//!
//! Not here: what the records carry and the session's rules (post-handshake messages,
//! alerts, floods, buffers: `session.rs`), and where the first secrets come from (rustls,
//! through the rustls folder: it fills the [`Direction`]s this file derives keys from).

use alloc::vec;
use alloc::vec::Vec;

use zeroize::{Zeroize, Zeroizing};

use super::backend::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use super::backend::{self, hkdf, RecordKey};
use super::error::Error;

/// The TLS record header: content type (1), legacy version (2), length (2) (RFC 8446
/// §5.1).
pub const RECORD_HEADER_LEN: usize = 5;

/// The largest record body accepted: `TLSCiphertext.length` MUST NOT exceed 2^14 + 256
/// (RFC 8446 §5.2); plaintext records are smaller still (2^14). A longer length field is
/// refused as soon as its header arrives, before its body is waited for.
pub const MAX_RECORD_BODY_LEN: usize = (1 << 14) + 256;

/// The most content one record carries: 2^14 bytes (RFC 8446 §5.1).
pub(super) const MAX_RECORD_CONTENT: usize = 1 << 14;

/// The largest inner plaintext (content, content type and padding) a record may open to:
/// 2^14 + 1 bytes (RFC 8446 §5.4); more is a record_overflow.
pub(super) const MAX_INNER_PLAINTEXT: usize = MAX_RECORD_CONTENT + 1;

/// The AEAD tag of all three suites.
pub(super) const TAG_LEN: usize = 16;

// Content types (RFC 8446 §5.1) and alerts (§6).
pub(super) const CONTENT_ALERT: u8 = 21;
pub(super) const CONTENT_HANDSHAKE: u8 = 22;
pub(super) const CONTENT_APPLICATION_DATA: u8 = 23;

pub(super) const ALERT_WARNING: u8 = 1;
pub(super) const ALERT_FATAL: u8 = 2;
pub(super) const ALERT_CLOSE_NOTIFY: u8 = 0;
pub(super) const ALERT_UNEXPECTED_MESSAGE: u8 = 10;
pub(super) const ALERT_BAD_RECORD_MAC: u8 = 20;
pub(super) const ALERT_RECORD_OVERFLOW: u8 = 22;
pub(super) const ALERT_DECODE_ERROR: u8 = 50;
pub(super) const ALERT_ILLEGAL_PARAMETER: u8 = 47;
pub(super) const ALERT_USER_CANCELED: u8 = 90;

/// A failure and the alert that tells the peer (none when the peer's alert caused it).
pub(super) type Failure = (Error, Option<u8>);

pub(super) fn unexpected(reason: &str) -> Failure {
    (
        Error::PeerMisbehaved {
            reason: reason.into(),
        },
        Some(ALERT_UNEXPECTED_MESSAGE),
    )
}

pub(super) fn decode_error(reason: &str) -> Failure {
    (
        Error::InvalidMessage {
            reason: reason.into(),
        },
        Some(ALERT_DECODE_ERROR),
    )
}

pub(super) fn internal(reason: &str) -> Error {
    Error::Tls {
        reason: reason.into(),
    }
}

// ---- framing ----

/// What the start of a byte stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Record {
    /// Not yet a whole record.
    Incomplete,
    /// A whole record of this many bytes, header included.
    Whole(usize),
    /// A header whose length field exceeds [`MAX_RECORD_BODY_LEN`].
    TooLarge {
        /// The length field.
        len: usize,
    },
}

/// Frames the next record at the start of `bytes` by its header alone; the content is
/// for rustls (handshake) or [`Keys::open`] (session) to judge.
pub(super) fn next_record(bytes: &[u8]) -> Record {
    let Some([_, _, _, hi, lo]) = bytes.get(..RECORD_HEADER_LEN) else {
        return Record::Incomplete;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if len > MAX_RECORD_BODY_LEN {
        return Record::TooLarge { len };
    }
    if bytes.len() < RECORD_HEADER_LEN + len {
        Record::Incomplete
    } else {
        Record::Whole(RECORD_HEADER_LEN + len)
    }
}

// ---- keys ----

/// A traffic secret (or key), wiped when dropped.
pub(super) type Secret = Zeroizing<Vec<u8>>;

/// The AEAD of the negotiated TLS 1.3 cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Aead {
    /// TLS13_AES_128_GCM_SHA256.
    Aes128Gcm,
    /// TLS13_AES_256_GCM_SHA384.
    Aes256Gcm,
    /// TLS13_CHACHA20_POLY1305_SHA256.
    Chacha20Poly1305,
}

/// One direction's application traffic state when the handshake ended, as the rustls
/// folder takes it out of rustls.
pub(super) struct Direction {
    /// The current application traffic secret.
    pub(super) secret: Secret,
    /// rustls's write (or read) key for it: [`Keys`] checks its own derivation.
    pub(super) key: Secret,
    /// rustls's IV for it.
    pub(super) iv: Zeroizing<[u8; 12]>,
    /// The next record's sequence number.
    pub(super) seq: u64,
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
pub(super) struct Keys {
    aead: Aead,
    key: RecordKey,
    iv: [u8; 12],
    /// The next record's sequence number.
    pub(super) seq: u64,
    secret: Secret,
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
        secret: Secret,
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

    /// The keys of one direction as the handshake left it.
    pub(super) fn from_handshake(aead: Aead, d: Direction) -> Result<Self, Error> {
        Self::derive(aead, d.secret, d.seq, Some((&d.key, &*d.iv)))
    }

    /// The keys after a KeyUpdate (RFC 8446 §7.2): the next secret, sequence 0.
    pub(super) fn next(&self) -> Result<Self, Error> {
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

    /// Appends one record of `content` (at most [`MAX_RECORD_CONTENT`] bytes) to `out`,
    /// sealed under these keys; `out` is left as it was if sealing fails.
    pub(super) fn seal(
        &mut self,
        content_type: u8,
        content: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let body = content.len() + 1 + TAG_LEN;
        let [hi, lo] = u16::try_from(body)
            .map_err(|_| internal("record too large"))?
            .to_be_bytes();
        let header = [CONTENT_APPLICATION_DATA, 3, 3, hi, lo];
        let nonce = self.nonce()?;
        let at = out.len();
        // sealed from `content` into the outgoing buffer (out of place on aws-lc-rs)
        out.resize(at + RECORD_HEADER_LEN + body, 0);
        let sealed = out
            .get_mut(at..)
            .and_then(|record| record.split_at_mut_checked(RECORD_HEADER_LEN))
            .and_then(|(head, rest)| {
                head.copy_from_slice(&header);
                backend::seal_into(
                    &self.key,
                    nonce,
                    Aad::from(header),
                    content,
                    content_type,
                    rest,
                )
                .ok()
            });
        if sealed.is_none() {
            out.truncate(at);
            return Err(internal("sealing failed"));
        }
        Ok(())
    }

    /// Opens one whole record (from [`next_record`]) into `out`, which must hold its inner
    /// plaintext; returns the inner content type and the content's length (at the start
    /// of `out`, padding stripped).
    pub(super) fn open(&mut self, record: &[u8], out: &mut [u8]) -> Result<(u8, usize), Failure> {
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
        let nonce = self.nonce().map_err(|e| (e, None))?;
        let mut aad = [0u8; RECORD_HEADER_LEN];
        aad.copy_from_slice(header);
        backend::open_into(&self.key, nonce, Aad::from(aad), ciphertext, tag, inner)
            .map_err(|_| (Error::RecordAuthentication, Some(ALERT_BAD_RECORD_MAC)))?;
        // the content type is the last non-zero byte; zeros after it are padding
        let Some(len) = inner.iter().rposition(|b| *b != 0) else {
            return Err(unexpected("record without a content type"));
        };
        let content_type = inner.get(len).copied().unwrap_or_default();
        Ok((content_type, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_framed_by_their_header() {
        assert_eq!(next_record(&[]), Record::Incomplete);
        assert_eq!(next_record(&[22, 3, 1, 0]), Record::Incomplete);
        assert_eq!(next_record(&[22, 3, 1, 0, 2, 9]), Record::Incomplete);
        assert_eq!(next_record(&[22, 3, 1, 0, 2, 9, 9, 1]), Record::Whole(7));
        assert_eq!(next_record(&[23, 3, 3, 0, 0]), Record::Whole(5));
        let max = u16::try_from(MAX_RECORD_BODY_LEN).unwrap_or(u16::MAX);
        let [hi, lo] = max.to_be_bytes();
        assert_eq!(next_record(&[23, 3, 3, hi, lo]), Record::Incomplete);
        let [hi, lo] = (max + 1).to_be_bytes();
        assert_eq!(
            next_record(&[23, 3, 3, hi, lo]),
            Record::TooLarge {
                len: MAX_RECORD_BODY_LEN + 1
            }
        );
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
