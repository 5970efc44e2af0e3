//! The algorithm names SECIO negotiates, the ordering rule that decides whose preference
//! wins, and the choice itself (spec secio/README.md, "Proposal" and "Ordering").

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;
use sha2::{Digest, Sha256};

use super::Error;

/// An ephemeral key exchange: ECDH over a NIST curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyExchange {
    /// `P-256`.
    P256,
    /// `P-384`.
    P384,
    /// `P-521`.
    P521,
}

/// A stream cipher in CTR mode; the IV is the initial 128-bit big-endian counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// `AES-128`.
    Aes128,
    /// `AES-256`.
    Aes256,
    /// `TwofishCTR` (rust-libp2p's extra; 256-bit key).
    TwofishCtr,
}

/// The HMAC hash; the MAC is its full output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// `SHA256`: 32-byte MAC.
    Sha256,
    /// `SHA512`: 64-byte MAC.
    Sha512,
}

/// One list of the proposal: names on the wire, parsed and printed.
pub trait Algorithm: Copy + Eq + 'static {
    /// Every value, in p2psec's default preference order.
    const ALL: &'static [Self];
    /// Which list this is (for errors): `exchange`, `cipher`, `hash`.
    const LIST: &'static str;
    /// The exact, case-sensitive name in a Propose.
    fn name(self) -> &'static str;
    /// The value with this exact name.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }
}

impl Algorithm for KeyExchange {
    const ALL: &'static [Self] = &[Self::P256, Self::P384, Self::P521];
    const LIST: &'static str = "exchange";
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }
}

impl Algorithm for Cipher {
    // The spec's AES-256 first (go and js do the same); Twofish last.
    const ALL: &'static [Self] = &[Self::Aes256, Self::Aes128, Self::TwofishCtr];
    const LIST: &'static str = "cipher";
    fn name(self) -> &'static str {
        match self {
            Self::Aes128 => "AES-128",
            Self::Aes256 => "AES-256",
            Self::TwofishCtr => "TwofishCTR",
        }
    }
}

impl Algorithm for Hash {
    const ALL: &'static [Self] = &[Self::Sha256, Self::Sha512];
    const LIST: &'static str = "hash";
    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

impl KeyExchange {
    /// Bytes of an uncompressed point `04 || X || Y`.
    pub fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }

    /// Bytes of a coordinate (and of the shared secret, its fixed-width X).
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

impl Cipher {
    /// What [`super::Config`] proposes by default: the spec's two AES ciphers. Twofish is
    /// implemented but not proposed: the `twofish` crate moves about 1 MB/s here
    /// (benches/secio.rs), and no known peer offers Twofish without AES.
    pub const DEFAULT: &'static [Self] = &[Self::Aes256, Self::Aes128];

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 | Self::TwofishCtr => 32,
        }
    }
}

impl Hash {
    /// MAC (and digest) length in bytes.
    pub fn mac_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// A comma-separated list as proposed.
pub(crate) fn join<A: Algorithm>(list: &[A]) -> String {
    let names: Vec<&str> = list.iter().map(|a| a.name()).collect();
    names.join(",")
}

/// Whose preference lists win: the spec's two hashes compared as unsigned bytes.
/// `oh1 = SHA-256(remote pubkey || local nonce)`, `oh2 = SHA-256(local pubkey || remote
/// nonce)`; `Greater` means ours win, `Equal` means the peer is ourselves.
pub(crate) fn ordering(
    local_pubkey: &[u8],
    local_nonce: &[u8],
    remote_pubkey: &[u8],
    remote_nonce: &[u8],
) -> Ordering {
    let oh1 = Sha256::new()
        .chain_update(remote_pubkey)
        .chain_update(local_nonce)
        .finalize();
    let oh2 = Sha256::new()
        .chain_update(local_pubkey)
        .chain_update(remote_nonce)
        .finalize();
    oh1.as_slice().cmp(oh2.as_slice())
}

/// The first entry of the preferred side's list that the other side also lists. Names we
/// do not implement are skipped, as rust-libp2p does.
pub(crate) fn select<A: Algorithm>(local: &str, remote: &str, order: Ordering) -> Result<A, Error> {
    let (first, second) = if order == Ordering::Less {
        (remote, local)
    } else {
        (local, remote)
    };
    first
        .split(',')
        .filter(|name| second.split(',').any(|other| other == *name))
        .find_map(A::from_name)
        .ok_or_else(|| Error::NoCommonAlgorithm {
            list: A::LIST,
            local: local.to_string(),
            remote: remote.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in KeyExchange::ALL {
            assert_eq!(KeyExchange::from_name(e.name()), Some(*e));
        }
        assert_eq!(
            Cipher::from_name("aes-128"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(join(Cipher::ALL), "AES-256,AES-128,TwofishCTR");
        assert_eq!(join(Cipher::DEFAULT), "AES-256,AES-128");
    }

    #[test]
    fn preferred_side_wins() {
        let ours = "P-256,P-384";
        let theirs = "P-384,P-256";
        assert_eq!(
            select::<KeyExchange>(ours, theirs, Ordering::Greater),
            Ok(KeyExchange::P256)
        );
        assert_eq!(
            select::<KeyExchange>(ours, theirs, Ordering::Less),
            Ok(KeyExchange::P384)
        );
    }

    #[test]
    fn unknown_common_names_are_skipped() {
        // both list Blowfish (old go), which we do not implement
        let c = select::<Cipher>("Blowfish,AES-128", "Blowfish,AES-128", Ordering::Greater);
        assert_eq!(c, Ok(Cipher::Aes128));
    }

    #[test]
    fn no_overlap_is_named() {
        let e = select::<Hash>("SHA256", "SHA1", Ordering::Greater).unwrap_err();
        assert!(matches!(e, Error::NoCommonAlgorithm { list: "hash", .. }));
    }

    #[test]
    fn ordering_is_antisymmetric() {
        let (a, na, b, nb) = (
            b"key a".as_slice(),
            [1u8; 16],
            b"key b".as_slice(),
            [2u8; 16],
        );
        let ours = ordering(a, &na, b, &nb);
        let theirs = ordering(b, &nb, a, &na);
        assert_eq!(ours, theirs.reverse());
        assert_eq!(ordering(a, &na, a, &na), Ordering::Equal);
    }
}
