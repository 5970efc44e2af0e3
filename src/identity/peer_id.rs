//! [`PeerId`]: the multihash of a public key's protobuf, and its two text forms.
//!
//! Spec: peer-ids.md ("Peer Ids", "String representation") and RFC 0001 (PeerIds as CIDs).
//! A key whose protobuf is at most 42 bytes (Ed25519, Secp256k1) is embedded with the
//! identity multihash; larger ones (ECDSA, RSA) are hashed with sha2-256.

use alloc::string::String;
use alloc::vec::Vec;
use core::{fmt, str::FromStr};
use sha2::{Digest, Sha256};

use super::{Error, PublicKey};

/// Keys whose protobuf is at most this long are embedded (identity multihash).
pub const MAX_INLINE_KEY_LENGTH: usize = 42;
/// Multihash code of the identity "hash".
const IDENTITY: u64 = 0x00;
/// Multihash code of sha2-256.
const SHA2_256: u64 = 0x12;
/// Multicodec of `libp2p-key`, the CID codec of PeerIds.
const LIBP2P_KEY: u64 = 0x72;
/// Longest PeerId: identity code, one-byte length, 42 bytes of key.
const MAX_LEN: usize = 2 + MAX_INLINE_KEY_LENGTH;
/// Longest PeerId text we decode. A CID in base2 would be the longest legal form (~370
/// characters); the bound keeps decoding work small whatever the peer sends.
const MAX_TEXT_LEN: usize = 512;

/// A libp2p peer identity: the multihash of its public key.
///
/// Stored inline (at most 44 bytes), so it is `Copy` and needs no allocation.
/// `Display` writes base58btc (the form the spec says to display for now); [`FromStr`]
/// accepts base58btc and CIDv1 multibase text, as the spec requires of parsers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl PeerId {
    /// The PeerId of `key`.
    pub fn from_public_key(key: &PublicKey) -> Self {
        let encoded = key.encode_protobuf();
        let mut id = Self {
            len: 0,
            bytes: [0; MAX_LEN],
        };
        if encoded.len() <= MAX_INLINE_KEY_LENGTH {
            id.bytes[0] = IDENTITY as u8;
            id.bytes[1] = encoded.len() as u8;
            id.bytes[2..2 + encoded.len()].copy_from_slice(&encoded);
            id.len = (2 + encoded.len()) as u8;
        } else {
            id.bytes[0] = SHA2_256 as u8;
            id.bytes[1] = 32;
            id.bytes[2..34].copy_from_slice(&Sha256::digest(&encoded));
            id.len = 34;
        }
        id
    }

    /// Parses the binary form (a multihash). Accepts only sha2-256 with a 32-byte digest,
    /// or identity with at most 42 bytes, as rust-libp2p does (go accepts any multihash).
    pub fn try_from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidMultihash { reason };
        let (code, rest) =
            unsigned_varint::decode::u64(bytes).map_err(|_| invalid("bad code varint"))?;
        let (len, digest) =
            unsigned_varint::decode::usize(rest).map_err(|_| invalid("bad length varint"))?;
        if digest.len() != len {
            return Err(invalid("digest length does not match its prefix"));
        }
        match code {
            SHA2_256 if len == 32 => {}
            SHA2_256 => return Err(invalid("sha2-256 digest is not 32 bytes")),
            IDENTITY if len <= MAX_INLINE_KEY_LENGTH => {}
            IDENTITY => return Err(invalid("identity multihash longer than 42 bytes")),
            _ => return Err(invalid("hash function is neither identity nor sha2-256")),
        }
        let mut id = Self {
            len: bytes.len() as u8,
            bytes: [0; MAX_LEN],
        };
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(id)
    }

    /// The binary form (multihash bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The binary form as an owned vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// Base58btc of the multihash (`12D3KooW…`, `16Uiu2…`, `Qm…`).
    pub fn to_base58(&self) -> String {
        bs58::encode(self.as_bytes()).into_string()
    }

    /// CIDv1 text: multibase base32 (`b…`), version 1, codec libp2p-key, the multihash.
    pub fn to_cid_string(&self) -> String {
        let mut cid = Vec::with_capacity(2 + MAX_LEN);
        cid.push(0x01);
        cid.push(LIBP2P_KEY as u8);
        cid.extend_from_slice(self.as_bytes());
        let mut text = String::from("b");
        text.push_str(
            &data_encoding::BASE32_NOPAD
                .encode(&cid)
                .to_ascii_lowercase(),
        );
        text
    }

    /// The public key embedded in an identity-multihash PeerId (Ed25519, Secp256k1).
    pub fn public_key(&self) -> Result<PublicKey, Error> {
        match self.as_bytes() {
            [0x00, _, key @ ..] => PublicKey::try_decode_protobuf(key),
            _ => Err(Error::NoEmbeddedKey),
        }
    }

    /// Whether `key` is the key this PeerId names.
    pub fn matches(&self, key: &PublicKey) -> bool {
        *self == key.to_peer_id()
    }

    fn from_cid_bytes(cid: &[u8]) -> Result<Self, Error> {
        let text_err = |reason| Error::InvalidPeerIdText { reason };
        let (version, rest) =
            unsigned_varint::decode::u64(cid).map_err(|_| text_err("bad CID version varint"))?;
        if version != 1 {
            return Err(text_err("CID version is not 1"));
        }
        let (codec, mh) =
            unsigned_varint::decode::u64(rest).map_err(|_| text_err("bad CID codec varint"))?;
        if codec != LIBP2P_KEY {
            return Err(Error::WrongCidCodec { codec });
        }
        Self::try_from_bytes(mh)
    }
}

impl FromStr for PeerId {
    type Err = Error;

    /// The spec's decision rule: text starting with `1` or `Qm` is a base58btc multihash;
    /// anything else is a multibase CID whose codec must be libp2p-key.
    fn from_str(s: &str) -> Result<Self, Error> {
        let text_err = |reason| Error::InvalidPeerIdText { reason };
        if s.len() > MAX_TEXT_LEN {
            return Err(text_err("longer than any PeerId"));
        }
        if s.starts_with('1') || s.starts_with("Qm") {
            let bytes = bs58::decode(s)
                .into_vec()
                .map_err(|_| text_err("not base58btc"))?;
            return Self::try_from_bytes(&bytes);
        }
        let mut chars = s.chars();
        let prefix = chars.next().ok_or(text_err("empty"))?;
        let body = chars.as_str();
        let cid = match prefix {
            'b' if !body.bytes().any(|b| b.is_ascii_uppercase()) => {
                data_encoding::BASE32_NOPAD_NOCASE.decode(body.as_bytes())
            }
            'B' if !body.bytes().any(|b| b.is_ascii_lowercase()) => {
                data_encoding::BASE32_NOPAD.decode(body.as_bytes())
            }
            'f' if !body.bytes().any(|b| b.is_ascii_uppercase()) => {
                data_encoding::HEXLOWER.decode(body.as_bytes())
            }
            'F' => data_encoding::HEXUPPER.decode(body.as_bytes()),
            'z' => bs58::decode(body)
                .into_vec()
                .map_err(|_| data_encoding::DecodeError {
                    position: 0,
                    kind: data_encoding::DecodeKind::Symbol,
                }),
            'm' => data_encoding::BASE64_NOPAD.decode(body.as_bytes()),
            'u' => data_encoding::BASE64URL_NOPAD.decode(body.as_bytes()),
            _ => return Err(text_err("unknown or unsupported multibase prefix")),
        }
        .map_err(|_| text_err("invalid characters for its multibase"))?;
        Self::from_cid_bytes(&cid)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PeerId").field(&self.to_base58()).finish()
    }
}

impl TryFrom<&[u8]> for PeerId {
    type Error = Error;
    fn try_from(bytes: &[u8]) -> Result<Self, Error> {
        Self::try_from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_multihashes() {
        for (bytes, reason) in [
            (&[0x12, 0x20][..], "digest length does not match its prefix"),
            (&[0x12, 0x01, 0xaa][..], "sha2-256 digest is not 32 bytes"),
            (
                &[0x13, 0x01, 0xaa][..],
                "hash function is neither identity nor sha2-256",
            ),
            (&[0x80][..], "bad code varint"),
        ] {
            assert_eq!(
                PeerId::try_from_bytes(bytes),
                Err(Error::InvalidMultihash { reason })
            );
        }
        let mut long = alloc::vec![0x00, 43];
        long.extend_from_slice(&[0u8; 43]);
        assert_eq!(
            PeerId::try_from_bytes(&long),
            Err(Error::InvalidMultihash {
                reason: "identity multihash longer than 42 bytes"
            })
        );
    }

    #[test]
    fn rejects_bad_text() {
        assert!(matches!(
            "".parse::<PeerId>(),
            Err(Error::InvalidPeerIdText { .. })
        ));
        assert!(matches!(
            "12D3KooW0OIl".parse::<PeerId>(),
            Err(Error::InvalidPeerIdText { .. })
        ));
        assert!(matches!(
            "xyz".parse::<PeerId>(),
            Err(Error::InvalidPeerIdText { .. })
        ));
        // a dag-pb CID (codec 0x70) is not a PeerId
        assert_eq!(
            "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".parse::<PeerId>(),
            Err(Error::WrongCidCodec { codec: 0x70 })
        );
        // 'b' is lowercase base32 only
        assert!(
            "bAFZBEIE5745RPV2M6TJYUUGYWY4D5EWRQGQQHFNF445HE3OMZPJBX5XQXE"
                .parse::<PeerId>()
                .is_err()
        );
    }
}
