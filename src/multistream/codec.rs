//! Framing only: one message to bytes and back, no state.
//!
//! Every message is `uvarint(len) || text || '\n'`, where `len` counts the newline and the
//! uvarint is the multiformats unsigned-varint (minimal encoding). The `ls` reply is the one
//! message whose text is itself structured: a sequence of entries `uvarint(len(id) + 1) id '\n'`
//! and one final `'\n'`, all inside a single outer frame (the "ls example in detail" of the
//! multistream-select README; its "Listing" recommendation showing plain lines contradicts
//! it, and rust-libp2p encodes the framed form).
//!
//! Limits (see [`MAX_MESSAGE_LEN`] and [`MAX_LENGTH_PREFIX_LEN`]) are enforced as soon as the
//! length prefix is readable, before any of the body has arrived.

use alloc::{string::String, vec::Vec};
use core::str;

use super::{
    error::{truncated, MAX_CONTEXT_LEN},
    validate_protocol, Error, ProtocolIdError, HEADER, MAX_LENGTH_PREFIX_LEN, MAX_MESSAGE_LEN,
};

/// The text of the rejection message.
const NA: &[u8] = b"na";
/// The text of the list request.
const LS: &[u8] = b"ls";

/// One multistream-select message, borrowing its text from the decoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// `/multistream/1.0.0`, the first message of each side.
    Header,
    /// A protocol id: a proposal (dialer) or its echo (listener).
    Protocol(&'a str),
    /// `na`: the proposal is not available.
    Na,
    /// `ls`: a request for the listener's protocols.
    Ls,
    /// The answer to `ls`: the listener's protocol ids.
    LsReply(Vec<&'a str>),
}

impl Message<'_> {
    /// A short description for error messages, with peer-chosen text truncated.
    pub(crate) fn describe(&self) -> String {
        match self {
            Message::Header => String::from("the /multistream/1.0.0 header"),
            Message::Protocol(p) => alloc::format!("protocol {:?}", truncated(p)),
            Message::Na => String::from("na"),
            Message::Ls => String::from("ls"),
            Message::LsReply(ids) => alloc::format!("an ls reply of {} ids", ids.len()),
        }
    }
}

/// Appends `msg` to `out`.
///
/// Does not validate: the machines only encode ids that passed
/// [`validate_protocol`] (and tests may build invalid messages on
/// purpose). An [`Message::LsReply`] is written whole; use it with lists that fit
/// [`MAX_MESSAGE_LEN`].
pub fn encode(msg: &Message<'_>, out: &mut Vec<u8>) {
    match msg {
        Message::Header => line(HEADER.as_bytes(), out),
        Message::Protocol(p) => line(p.as_bytes(), out),
        Message::Na => line(NA, out),
        Message::Ls => line(LS, out),
        Message::LsReply(ids) => {
            let body_len = ids
                .iter()
                .map(|id| entry_len(id))
                .fold(1usize, usize::saturating_add);
            push_len(body_len, out);
            for id in ids {
                line(id.as_bytes(), out);
            }
            out.push(b'\n');
        }
    }
}

/// Reads one message from the start of `bytes`.
///
/// Returns `Ok(None)` while the message is incomplete (call again with more bytes appended),
/// or the message and how many bytes it took. Errors as soon as the bytes present prove the
/// message malformed: an over-long or oversize length prefix fails before its body arrives.
pub fn decode(bytes: &[u8]) -> Result<Option<(Message<'_>, usize)>, Error> {
    match split_frame(bytes)? {
        None => Ok(None),
        Some((body, used)) => Ok(Some((parse_body(body)?, used))),
    }
}

/// The [`Message::LsReply`] for `ids`: as many of them, in order, as fit one message of
/// [`MAX_MESSAGE_LEN`] bytes. `ls` is informational only, so a listener with a longer list
/// answers with its first ids rather than with a message some peers would refuse.
pub(crate) fn ls_reply_fitting(ids: &[String]) -> Message<'_> {
    let mut body_len = 1usize; // the final newline
    let mut listed = Vec::new();
    for id in ids {
        body_len = body_len.saturating_add(entry_len(id));
        if body_len > MAX_MESSAGE_LEN {
            break;
        }
        listed.push(id.as_str());
    }
    Message::LsReply(listed)
}

/// `uvarint(len) || text || '\n'`.
fn line(text: &[u8], out: &mut Vec<u8>) {
    push_len(text.len().saturating_add(1), out);
    out.extend_from_slice(text);
    out.push(b'\n');
}

fn push_len(len: usize, out: &mut Vec<u8>) {
    let mut buf = unsigned_varint::encode::usize_buffer();
    out.extend_from_slice(unsigned_varint::encode::usize(len, &mut buf));
}

/// Encoded size of one `ls` reply entry.
fn entry_len(id: &str) -> usize {
    let len = id.len().saturating_add(1);
    let mut buf = unsigned_varint::encode::usize_buffer();
    unsigned_varint::encode::usize(len, &mut buf)
        .len()
        .saturating_add(len)
}

/// Splits the first frame off `bytes`: its body (newline included) and the bytes it spans.
fn split_frame(bytes: &[u8]) -> Result<Option<(&[u8], usize)>, Error> {
    let Some((len, prefix)) = read_length(bytes)? else {
        return Ok(None);
    };
    if len == 0 {
        return Err(Error::EmptyMessage);
    }
    if len > MAX_MESSAGE_LEN {
        return Err(Error::MessageTooLong {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    // Cannot overflow: prefix <= MAX_LENGTH_PREFIX_LEN and len <= MAX_MESSAGE_LEN.
    let end = prefix + len;
    Ok(bytes.get(prefix..end).map(|body| (body, end)))
}

/// The length prefix at the start of `bytes` and its size, `None` while incomplete.
fn read_length(bytes: &[u8]) -> Result<Option<(usize, usize)>, Error> {
    let window = bytes.get(..MAX_LENGTH_PREFIX_LEN).unwrap_or(bytes);
    let Some(last) = window.iter().position(|b| b & 0x80 == 0) else {
        if window.len() == MAX_LENGTH_PREFIX_LEN {
            return Err(Error::LengthPrefixTooLong {
                max_bytes: MAX_LENGTH_PREFIX_LEN,
            });
        }
        return Ok(None);
    };
    let prefix = window.get(..=last).unwrap_or(window);
    match unsigned_varint::decode::usize(prefix) {
        Ok((len, _)) => Ok(Some((len, prefix.len()))),
        Err(unsigned_varint::decode::Error::NotMinimal) => Err(Error::NonMinimalLengthPrefix),
        // Unreachable with a 2-byte window ending in a final byte; kept total.
        Err(_) => Err(Error::LengthPrefixTooLong {
            max_bytes: MAX_LENGTH_PREFIX_LEN,
        }),
    }
}

/// Interprets a complete frame body.
fn parse_body(body: &[u8]) -> Result<Message<'_>, Error> {
    let Some((&b'\n', text)) = body.split_last() else {
        return Err(if body.is_empty() {
            Error::EmptyMessage
        } else {
            Error::MissingNewline
        });
    };
    if text == HEADER.as_bytes() {
        return Ok(Message::Header);
    }
    if text == NA {
        return Ok(Message::Na);
    }
    if text == LS {
        return Ok(Message::Ls);
    }
    // A single non-empty line is a protocol id (the spec allows any string; we, like
    // rust-libp2p, require the leading '/'). Anything else can only be an `ls` reply, whose
    // entries always leave a newline inside (an empty reply is the bare "\n").
    if !text.is_empty() && !text.contains(&b'\n') {
        let id = str::from_utf8(text).map_err(|_| Error::NotUtf8)?;
        if !id.starts_with('/') {
            return Err(Error::InvalidProtocol {
                got: truncated(id),
                reason: ProtocolIdError::NoLeadingSlash,
            });
        }
        return Ok(Message::Protocol(id));
    }
    match parse_ls_entries(text) {
        Some(ids) => Ok(Message::LsReply(ids)),
        None if text.first() == Some(&b'/') => Err(Error::InvalidProtocol {
            got: lossy_excerpt(text),
            reason: ProtocolIdError::ContainsNewline,
        }),
        None => Err(Error::InvalidLsReply),
    }
}

/// The entries of an `ls` reply (its text without the final newline); `None` if any entry is
/// malformed. At most `text.len() / 3` entries, so the allocation is bounded by the message.
fn parse_ls_entries(text: &[u8]) -> Option<Vec<&str>> {
    let mut ids = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (body, used) = split_frame(rest).ok()??;
        let (&b'\n', id) = body.split_last()? else {
            return None;
        };
        let id = str::from_utf8(id).ok()?;
        validate_protocol(id).ok()?;
        ids.push(id);
        rest = rest.get(used..)?;
    }
    Some(ids)
}

/// The first bytes of `text` as a string, invalid UTF-8 replaced, for an error message.
fn lossy_excerpt(text: &[u8]) -> String {
    let head = text.get(..MAX_CONTEXT_LEN).unwrap_or(text);
    truncated(&String::from_utf8_lossy(head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{string::ToString, vec};

    fn enc(msg: &Message<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(msg, &mut out);
        out
    }

    /// A frame with an arbitrary body, for malformed cases.
    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_len(body.len(), &mut out);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn round_trip_every_kind() {
        for msg in [
            Message::Header,
            Message::Na,
            Message::Ls,
            Message::Protocol("/noise"),
            Message::LsReply(vec!["/noise", "/yamux/1.0.0"]),
            Message::LsReply(vec![]),
        ] {
            let bytes = enc(&msg);
            assert_eq!(decode(&bytes), Ok(Some((msg.clone(), bytes.len()))));
        }
    }

    #[test]
    fn known_bytes() {
        assert_eq!(enc(&Message::Na), b"\x03na\n");
        assert_eq!(enc(&Message::Ls), b"\x03ls\n");
        assert_eq!(enc(&Message::LsReply(vec![])), b"\x01\n");
    }

    #[test]
    fn incomplete_needs_more() {
        let bytes = enc(&Message::Protocol("/noise"));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        // An incomplete two-byte prefix is also just incomplete.
        assert_eq!(decode(&[0x80]), Ok(None));
    }

    #[test]
    fn stops_at_the_first_message() {
        let mut bytes = enc(&Message::Header);
        let first = bytes.len();
        bytes.extend_from_slice(b"\x00trailing");
        assert_eq!(decode(&bytes), Ok(Some((Message::Header, first))));
    }

    #[test]
    fn length_prefix_too_long_is_known_early() {
        // Two continuation bytes: the third would be needed, so fail now.
        assert_eq!(
            decode(&[0x80, 0x80]),
            Err(Error::LengthPrefixTooLong { max_bytes: 2 })
        );
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(Error::LengthPrefixTooLong { max_bytes: 2 })
        );
    }

    #[test]
    fn oversize_fails_before_the_body() {
        // 1025 = 0x81 0x08
        assert_eq!(
            decode(&[0x81, 0x08]),
            Err(Error::MessageTooLong {
                len: 1025,
                max: MAX_MESSAGE_LEN
            })
        );
        // 1024 is allowed and waits for its body.
        assert_eq!(decode(&[0x80, 0x08]), Ok(None));
        let id = alloc::format!("/{}", "a".repeat(MAX_MESSAGE_LEN - 2));
        let bytes = enc(&Message::Protocol(&id));
        assert_eq!(
            decode(&bytes),
            Ok(Some((Message::Protocol(&id), bytes.len())))
        );
    }

    #[test]
    fn non_minimal_prefix() {
        assert_eq!(decode(&[0x83, 0x00]), Err(Error::NonMinimalLengthPrefix));
    }

    #[test]
    fn zero_length() {
        assert_eq!(decode(&[0x00]), Err(Error::EmptyMessage));
    }

    #[test]
    fn missing_newline() {
        assert_eq!(decode(&frame(b"/noise")), Err(Error::MissingNewline));
        assert_eq!(decode(&frame(b"na")), Err(Error::MissingNewline));
    }

    #[test]
    fn not_utf8() {
        assert_eq!(decode(&frame(b"/\xff\xfe\n")), Err(Error::NotUtf8));
    }

    #[test]
    fn invalid_protocol() {
        assert_eq!(
            decode(&frame(b"noise\n")),
            Err(Error::InvalidProtocol {
                got: "noise".to_string(),
                reason: ProtocolIdError::NoLeadingSlash
            })
        );
        assert_eq!(
            decode(&frame(b"/a\n/b\n")),
            Err(Error::InvalidProtocol {
                got: "/a\n/b".to_string(),
                reason: ProtocolIdError::ContainsNewline
            })
        );
        let long = alloc::format!("{}\n", "x".repeat(500));
        match decode(&frame(long.as_bytes())) {
            Err(Error::InvalidProtocol { got, .. }) => assert!(got.len() <= MAX_CONTEXT_LEN + 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_ls_reply() {
        // Entry claims 5 bytes but only 2 follow.
        assert_eq!(decode(&frame(b"\x05/a\n\n")), Err(Error::InvalidLsReply));
        // Entry that is not a valid id.
        assert_eq!(decode(&frame(b"\x02a\n\n")), Err(Error::InvalidLsReply));
        // Entry with a zero length.
        assert_eq!(decode(&frame(b"\x00\n\n")), Err(Error::InvalidLsReply));
    }

    #[test]
    fn ls_reply_fits_the_limit() {
        let ids: Vec<String> = (0..200).map(|i| alloc::format!("/proto/{i:04}")).collect();
        let msg = ls_reply_fitting(&ids);
        let Message::LsReply(listed) = &msg else {
            panic!()
        };
        assert!(!listed.is_empty() && listed.len() < ids.len());
        let bytes = enc(&msg);
        let (len, prefix) = read_length(&bytes).unwrap().unwrap();
        assert!(len <= MAX_MESSAGE_LEN);
        assert_eq!(prefix + len, bytes.len());
        assert_eq!(decode(&bytes), Ok(Some((msg.clone(), bytes.len()))));
    }

    #[test]
    fn describe_is_bounded() {
        let long = alloc::format!("/{}", "a".repeat(900));
        assert!(Message::Protocol(&long).describe().len() < 100);
    }
}
