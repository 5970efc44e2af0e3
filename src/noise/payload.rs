//! The libp2p Noise handshake payload (spec noise/README.md, "The libp2p Handshake
//! Payload"):
//!
//! ```text
//! NoiseHandshakePayload { 1: bytes identity_key; 2: bytes identity_sig; 4: NoiseExtensions extensions }
//! NoiseExtensions       { 1: repeated bytes webtransport_certhashes; 2: repeated string stream_muxers }
//! ```
//!
//! Encoding uses prost's derive. Decoding walks the fields with prost's wire helpers so each
//! departure gets its own [`PayloadError`]: a field twice, the removed field 3 (`data`), a
//! wrong wire type, an unknown field. Extension fields above 1024 are skipped: the spec
//! leaves that range free for experiments, so a peer may send them.

use alloc::string::String;
use alloc::vec::Vec;
use prost::encoding::{decode_key, decode_varint, WireType};
use prost::Message;

/// At most this many muxer ids: go-libp2p ignores longer lists; we refuse them.
pub const MAX_MUXERS: usize = 100;
/// At most this many certificate hashes: a server advertises its current, future and
/// recently expired certificates, a handful in practice.
pub const MAX_CERTHASHES: usize = 32;
/// Longest muxer id or certificate hash accepted.
pub const MAX_ITEM_LEN: usize = 1024;
/// Extension field numbers above this are free for experiments (spec) and skipped.
const EXPERIMENTAL_FIELDS_ABOVE: u32 = 1024;

/// What the payload says, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload {
    /// The identity `PublicKey` protobuf.
    pub identity_key: Vec<u8>,
    /// Signature of `"noise-libp2p-static-key:" || static key`.
    pub identity_sig: Vec<u8>,
    /// Multihashes of WebTransport certificates (from a responder).
    pub webtransport_certhashes: Vec<Vec<u8>>,
    /// Stream muxer ids in preference order.
    pub stream_muxers: Vec<String>,
    /// Whether an `extensions` field was present at all.
    pub has_extensions: bool,
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The protobuf is cut short or has an invalid varint or length.
    #[error("payload protobuf is truncated or malformed ({what})")]
    Malformed {
        /// Which part.
        what: &'static str,
    },
    /// A field number the payload does not have.
    #[error("payload has unknown field {tag} in {message}")]
    UnknownField {
        /// Which message.
        message: &'static str,
        /// The field number.
        tag: u32,
    },
    /// Field 3 (`data`, opaque early data) was removed from the spec in revision 4.
    #[error("payload uses the removed early-data field 3")]
    RemovedEarlyData,
    /// A known field with the wrong wire type.
    #[error("payload field {tag} of {message} has the wrong wire type")]
    WrongWireType {
        /// Which message.
        message: &'static str,
        /// The field number.
        tag: u32,
    },
    /// A singular field appears twice.
    #[error("payload field {tag} of {message} appears twice")]
    DuplicateField {
        /// Which message.
        message: &'static str,
        /// The field number.
        tag: u32,
    },
    /// A muxer id that is not UTF-8.
    #[error("stream muxer id is not UTF-8")]
    MuxerNotUtf8,
    /// A list or item over its bound.
    #[error("payload {what} over its limit of {max}")]
    TooLarge {
        /// Which list or item.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoPayload {
    #[prost(bytes = "vec", optional, tag = "1")]
    identity_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    identity_sig: Option<Vec<u8>>,
    #[prost(message, optional, tag = "4")]
    extensions: Option<ProtoExtensions>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoExtensions {
    #[prost(bytes = "vec", repeated, tag = "1")]
    webtransport_certhashes: Vec<Vec<u8>>,
    #[prost(string, repeated, tag = "2")]
    stream_muxers: Vec<String>,
}

impl Payload {
    /// The protobuf; extensions are written only when there is something in them.
    pub fn encode(&self) -> Vec<u8> {
        let extensions = (!self.webtransport_certhashes.is_empty()
            || !self.stream_muxers.is_empty())
        .then(|| ProtoExtensions {
            webtransport_certhashes: self.webtransport_certhashes.clone(),
            stream_muxers: self.stream_muxers.clone(),
        });
        ProtoPayload {
            identity_key: Some(self.identity_key.clone()),
            identity_sig: Some(self.identity_sig.clone()),
            extensions,
        }
        .encode_to_vec()
    }

    /// Decodes strictly (see the module docs). Missing fields decode as empty; the
    /// handshake decides whether it needed them.
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        const MSG: &str = "NoiseHandshakePayload";
        let mut p = Payload::default();
        let (mut seen_key, mut seen_sig) = (false, false);
        let mut buf = bytes;
        while !buf.is_empty() {
            let (tag, wt) = key(&mut buf)?;
            match tag {
                1 | 2 | 4 if wt != WireType::LengthDelimited => {
                    return Err(PayloadError::WrongWireType { message: MSG, tag })
                }
                1 => {
                    once(&mut seen_key, MSG, tag)?;
                    p.identity_key = field(&mut buf)?.to_vec();
                }
                2 => {
                    once(&mut seen_sig, MSG, tag)?;
                    p.identity_sig = field(&mut buf)?.to_vec();
                }
                3 => return Err(PayloadError::RemovedEarlyData),
                4 => {
                    once(&mut p.has_extensions, MSG, tag)?;
                    decode_extensions(field(&mut buf)?, &mut p)?;
                }
                _ => return Err(PayloadError::UnknownField { message: MSG, tag }),
            }
        }
        Ok(p)
    }
}

fn decode_extensions(mut buf: &[u8], p: &mut Payload) -> Result<(), PayloadError> {
    const MSG: &str = "NoiseExtensions";
    while !buf.is_empty() {
        let (tag, wt) = key(&mut buf)?;
        match tag {
            1 | 2 if wt != WireType::LengthDelimited => {
                return Err(PayloadError::WrongWireType { message: MSG, tag })
            }
            1 => {
                let hash = item(&mut buf, "certificate hash")?;
                push_bounded(
                    &mut p.webtransport_certhashes,
                    hash.to_vec(),
                    "certhash list",
                    MAX_CERTHASHES,
                )?;
            }
            2 => {
                let id = item(&mut buf, "muxer id")?;
                let id = core::str::from_utf8(id).map_err(|_| PayloadError::MuxerNotUtf8)?;
                push_bounded(&mut p.stream_muxers, id.into(), "muxer list", MAX_MUXERS)?;
            }
            t if t > EXPERIMENTAL_FIELDS_ABOVE => skip(&mut buf, wt)?,
            _ => return Err(PayloadError::UnknownField { message: MSG, tag }),
        }
    }
    Ok(())
}

fn key(buf: &mut &[u8]) -> Result<(u32, WireType), PayloadError> {
    decode_key(buf).map_err(|_| PayloadError::Malformed { what: "field key" })
}

fn once(seen: &mut bool, message: &'static str, tag: u32) -> Result<(), PayloadError> {
    if core::mem::replace(seen, true) {
        return Err(PayloadError::DuplicateField { message, tag });
    }
    Ok(())
}

/// A length-delimited field's bytes, advancing `buf` past them.
fn field<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], PayloadError> {
    let len = decode_varint(buf).map_err(|_| PayloadError::Malformed { what: "length" })?;
    let len = usize::try_from(len).map_err(|_| PayloadError::Malformed { what: "length" })?;
    let (head, tail) = buf.split_at_checked(len).ok_or(PayloadError::Malformed {
        what: "field shorter than its length",
    })?;
    *buf = tail;
    Ok(head)
}

fn item<'a>(buf: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], PayloadError> {
    let bytes = field(buf)?;
    if bytes.len() > MAX_ITEM_LEN {
        return Err(PayloadError::TooLarge {
            what,
            max: MAX_ITEM_LEN,
        });
    }
    Ok(bytes)
}

fn push_bounded<T>(
    list: &mut Vec<T>,
    v: T,
    what: &'static str,
    max: usize,
) -> Result<(), PayloadError> {
    if list.len() >= max {
        return Err(PayloadError::TooLarge { what, max });
    }
    list.push(v);
    Ok(())
}

/// Skips an experimental extension field of any wire type.
fn skip(buf: &mut &[u8], wt: WireType) -> Result<(), PayloadError> {
    let malformed = PayloadError::Malformed {
        what: "experimental field",
    };
    match wt {
        WireType::Varint => decode_varint(buf).map(drop).map_err(|_| malformed),
        WireType::LengthDelimited => field(buf).map(drop),
        WireType::SixtyFourBit => advance(buf, 8).ok_or(malformed),
        WireType::ThirtyTwoBit => advance(buf, 4).ok_or(malformed),
        // groups are deprecated and never used by libp2p
        WireType::StartGroup | WireType::EndGroup => Err(malformed),
    }
}

fn advance(buf: &mut &[u8], n: usize) -> Option<()> {
    *buf = buf.get(n..)?;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> Payload {
        Payload {
            identity_key: vec![8, 1, 18, 32, 7],
            identity_sig: vec![1, 2, 3],
            webtransport_certhashes: vec![vec![0x12, 0x20, 1]],
            stream_muxers: vec!["/yamux/1.0.0".into(), "/mplex/6.7.0".into()],
            has_extensions: true,
        }
    }

    #[test]
    fn round_trips() {
        let p = sample();
        assert_eq!(Payload::decode(&p.encode()), Ok(p));
        let bare = Payload {
            identity_key: vec![1],
            identity_sig: vec![2],
            ..Payload::default()
        };
        assert_eq!(Payload::decode(&bare.encode()), Ok(bare));
        assert_eq!(Payload::decode(&[]), Ok(Payload::default()));
    }

    #[test]
    fn each_violation_is_named() {
        let mut dup = sample().encode();
        dup.extend_from_slice(&[0x0a, 0x01, 0x00]);
        let cases: &[(&[u8], PayloadError)] = &[
            (&[0x1a, 0x00], PayloadError::RemovedEarlyData),
            (
                &[0x2a, 0x00],
                PayloadError::UnknownField {
                    message: "NoiseHandshakePayload",
                    tag: 5,
                },
            ),
            (
                &[0x08, 0x01],
                PayloadError::WrongWireType {
                    message: "NoiseHandshakePayload",
                    tag: 1,
                },
            ),
            (
                &[0x0a, 0x05, 0x00],
                PayloadError::Malformed {
                    what: "field shorter than its length",
                },
            ),
            (
                &[0x22, 0x02, 0x1a, 0x00],
                PayloadError::UnknownField {
                    message: "NoiseExtensions",
                    tag: 3,
                },
            ),
            (&[0x22, 0x03, 0x12, 0x01, 0xff], PayloadError::MuxerNotUtf8),
            (&[0x0a], PayloadError::Malformed { what: "length" }),
        ];
        for (bytes, want) in cases {
            assert_eq!(Payload::decode(bytes).as_ref(), Err(want), "{bytes:02x?}");
        }
        assert_eq!(
            Payload::decode(&dup),
            Err(PayloadError::DuplicateField {
                message: "NoiseHandshakePayload",
                tag: 1
            })
        );
    }

    #[test]
    fn experimental_extensions_are_skipped_and_lists_bounded() {
        // field 2000, varint: key = (2000 << 3) | 0
        let mut ext = vec![];
        prost::encoding::encode_key(2000, WireType::Varint, &mut ext);
        ext.push(0x05);
        let mut bytes = vec![0x22, ext.len() as u8];
        bytes.extend_from_slice(&ext);
        assert!(Payload::decode(&bytes).unwrap().has_extensions);

        let many = Payload {
            stream_muxers: (0..=MAX_MUXERS).map(|i| alloc::format!("/m/{i}")).collect(),
            ..Payload::default()
        };
        assert_eq!(
            Payload::decode(&many.encode()),
            Err(PayloadError::TooLarge {
                what: "muxer list",
                max: MAX_MUXERS
            })
        );
    }
}
