//! The libp2p `PublicKey` / `PrivateKey` protobuf messages.
//!
//! Encoding uses prost's derive. Decoding is a strict walk of the two fields with prost's
//! own wire helpers: libp2p requires one deterministic encoding (fields in tag order, every
//! field present, minimal varints, nothing else), because PeerIds and signatures are
//! computed over these bytes. prost's generic decoder would skip unknown fields and accept
//! duplicates, so each departure from the canonical form gets its own [`Error`] here.

use alloc::vec::Vec;
use prost::bytes::Buf;
use prost::encoding::{decode_key, decode_varint, WireType};
use prost::Message;

use super::{Error, KeyType};

/// Both key messages share this shape (spec: peer-ids.md, "Keys").
#[derive(Clone, PartialEq, prost::Message)]
struct KeyMessage {
    #[prost(enumeration = "ProtoKeyType", required, tag = "1")]
    r#type: i32,
    #[prost(bytes = "vec", required, tag = "2")]
    data: Vec<u8>,
}

/// The KeyType enum as prost sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
enum ProtoKeyType {
    Rsa = 0,
    Ed25519 = 1,
    Secp256k1 = 2,
    Ecdsa = 3,
}

impl From<KeyType> for ProtoKeyType {
    fn from(k: KeyType) -> Self {
        match k {
            KeyType::Rsa => Self::Rsa,
            KeyType::Ed25519 => Self::Ed25519,
            KeyType::Secp256k1 => Self::Secp256k1,
            KeyType::Ecdsa => Self::Ecdsa,
        }
    }
}

/// Encodes `08 <type> 12 <len> <data>`. Deterministic: prost writes required fields in tag
/// order with minimal varints, and writes RSA's type 0 because the field is `required`.
pub(crate) fn encode(key_type: KeyType, data: &[u8]) -> Vec<u8> {
    let msg = KeyMessage {
        r#type: ProtoKeyType::from(key_type) as i32,
        data: data.to_vec(),
    };
    msg.encode_to_vec()
}

/// Decodes a key message strictly; returns the key type and a borrow of `Data`.
pub(crate) fn decode(bytes: &[u8]) -> Result<(KeyType, &[u8]), Error> {
    let mut buf = bytes;
    if buf.is_empty() {
        return Err(Error::MissingField { field: "Type" });
    }
    let (tag, wire_type) = read_key(&mut buf)?;
    if tag == 2 && wire_type == WireType::LengthDelimited {
        return Err(Error::MissingField { field: "Type" });
    }
    expect_field(tag, wire_type, 1, WireType::Varint)?;
    let raw_type = decode_varint(&mut buf).map_err(|_| varint_error(buf))?;
    let key_type = KeyType::from_u64(raw_type).ok_or(Error::UnknownKeyType(raw_type))?;

    if buf.is_empty() {
        return Err(Error::MissingField { field: "Data" });
    }
    let (tag, wire_type) = read_key(&mut buf)?;
    expect_field(tag, wire_type, 2, WireType::LengthDelimited)?;
    let len = decode_varint(&mut buf).map_err(|_| varint_error(buf))?;
    let len = usize::try_from(len).map_err(|_| Error::Truncated { what: "Data" })?;
    if len > buf.remaining() {
        return Err(Error::Truncated { what: "Data" });
    }
    let (data, rest) = buf.split_at(len);
    if !rest.is_empty() {
        return Err(Error::TrailingBytes { len: rest.len() });
    }
    // Every field was where it must be; what remains is varint minimality.
    let header_len = bytes.len() - len;
    if header_len != canonical_header_len(raw_type, len) {
        return Err(Error::NonCanonicalEncoding);
    }
    Ok((key_type, data))
}

fn read_key(buf: &mut &[u8]) -> Result<(u64, WireType), Error> {
    match decode_key(buf) {
        Ok((tag, wt)) => Ok((u64::from(tag), wt)),
        // prost rejects wire types 6/7 and tag 0 here too; all are fields we do not have
        Err(_) if buf.is_empty() => Err(Error::Truncated { what: "field key" }),
        Err(_) => Err(Error::UnexpectedField {
            tag: 0,
            wire_type: buf.first().map_or(0, |b| b & 7),
        }),
    }
}

fn expect_field(tag: u64, wt: WireType, want_tag: u64, want_wt: WireType) -> Result<(), Error> {
    if tag == want_tag && wt == want_wt {
        Ok(())
    } else {
        Err(Error::UnexpectedField {
            tag,
            wire_type: wt as u8,
        })
    }
}

/// prost reports both "ran out" and "too long" as one error; tell them apart.
fn varint_error(rest: &[u8]) -> Error {
    if rest.len() < 10 && rest.iter().all(|b| b & 0x80 != 0) {
        Error::Truncated { what: "varint" }
    } else {
        Error::InvalidVarint
    }
}

fn canonical_header_len(raw_type: u64, data_len: usize) -> usize {
    // tag bytes 0x08 and 0x12, plus the two minimal varints
    2 + prost::encoding::encoded_len_varint(raw_type)
        + prost::encoding::encoded_len_varint(data_len as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_and_rsa_type_zero_is_written() {
        let enc = encode(KeyType::Rsa, &[1, 2, 3]);
        assert_eq!(enc, vec![0x08, 0x00, 0x12, 0x03, 1, 2, 3]);
        assert_eq!(decode(&enc), Ok((KeyType::Rsa, &[1u8, 2, 3][..])));
    }

    #[test]
    fn each_malformation_has_its_error() {
        let cases: &[(&[u8], Error)] = &[
            (&[], Error::MissingField { field: "Type" }),
            (&[0x12, 0x01, 0xaa], Error::MissingField { field: "Type" }),
            (&[0x08, 0x01], Error::MissingField { field: "Data" }),
            (&[0x08, 0x07, 0x12, 0x00], Error::UnknownKeyType(7)),
            (&[0x08], Error::Truncated { what: "varint" }),
            (
                &[0x08, 0x01, 0x12, 0x05, 1, 2],
                Error::Truncated { what: "Data" },
            ),
            (
                &[0x08, 0x01, 0x12, 0x01, 1, 0xff],
                Error::TrailingBytes { len: 1 },
            ),
            (
                &[0x08, 0x01, 0x1a, 0x00],
                Error::UnexpectedField {
                    tag: 3,
                    wire_type: 2,
                },
            ),
            (
                &[0x10, 0x01],
                Error::UnexpectedField {
                    tag: 2,
                    wire_type: 0,
                },
            ),
            (&[0x08, 0x81, 0x00, 0x12, 0x00], Error::NonCanonicalEncoding),
            (&[0x08, 0x01, 0x12, 0x80, 0x00], Error::NonCanonicalEncoding),
            (
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
                Error::InvalidVarint,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(bytes).err().as_ref(), Some(want), "{bytes:02x?}");
        }
    }
}
