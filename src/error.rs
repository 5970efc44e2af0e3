//! Fault groups and error codes shared by every layer, so C and Python bindings map an
//! error by number instead of matching its text.
//!
//! Every layer's `Error` answers `fault()` (whose fault it is, in the groups rustls uses)
//! and `code()`, a number of four decimal digits `LGNN`: the layer `L`, the [`Fault`]
//! group `G`, then an index `NN` from 01. Each variant's doc ends with its code, so the
//! full list is in the rustdoc of each enum.
//!
//! | `L` | layer | error types |
//! |---|---|---|
//! | 1 | [`Layer::Identity`] | [`identity::Error`](crate::identity::Error) |
//! | 2 | [`Layer::Multistream`] | [`multistream::Error`](crate::multistream::Error) |
//! | 3 | [`Layer::Noise`] | `noise::Error` (feature `noise`) |
//! | 4 | [`Layer::Tls`] | `tls::Error` (feature `tls`) |
//! | 5 | [`Layer::Secio`] | `secio::Error` (feature `secio`) |
//! | 6 | [`Layer::Mplex`] | `mplex::Error`, `mplex::StreamError` (feature `mplex`) |
//! | 7 | [`Layer::Upgrade`] | `upgrade::Error`'s own variants (feature `noise` or `tls`) |
//! | 8 | [`Layer::Pnet`] | `pnet::Error` (feature `pnet`) |
//!
//! | `G` | [`Fault`] | meaning |
//! |---|---|---|
//! | 1 | [`Fault::InvalidMessage`] | the peer's bytes do not parse |
//! | 2 | [`Fault::PeerMisbehaved`] | well-formed bytes, illegal here (a forged signature, a message out of place) |
//! | 3 | [`Fault::PeerIncompatible`] | both sides followed the protocol but share no option |
//! | 4 | [`Fault::ApiMisuse`] | a caller bug: a call out of order, a bad setting |
//! | 5 | [`Fault::Local`] | a local failure: the crypto backend, randomness, a bug of ours |
//!
//! Rules a binding can rely on:
//! - A code is never renumbered or reused: a variant keeps its code for good, a removed
//!   variant's code stays retired, and a new variant takes the next free index of its group.
//! - A variant that wraps another layer's error (`upgrade::Error::Noise`, `noise::Error`'s
//!   `IdentityKey`, `tls::Error`'s `HostKey`, ...) answers the wrapped error's code and
//!   fault, so the code names the root cause; `upgrade::Error::layer` still names the
//!   machine that failed.
//! - [`fault_of_code`] and [`layer_of_code`] read the digits only, so a binding built
//!   against an older p2psec still classifies a code added later.
//! - Identity errors do not know where their bytes came from: their fault assumes the
//!   peer sent them (a key file the caller parsed reports `InvalidMessage` too).

/// Whose fault an error is, in the groups rustls uses; adapters map these to
/// `io::ErrorKind`s. The discriminant is the group digit of [error codes](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Fault {
    /// The peer's bytes do not parse.
    InvalidMessage = 1,
    /// Well-formed bytes, illegal at this point.
    PeerMisbehaved = 2,
    /// Both sides followed the protocol but share no protocol or option.
    PeerIncompatible = 3,
    /// The caller used the API wrongly.
    ApiMisuse = 4,
    /// Something failed on our side: the crypto backend, randomness, an internal rule.
    Local = 5,
}

impl Fault {
    /// The group digit `G` in a code `LGNN` (1 to 5).
    pub const fn digit(self) -> u16 {
        self as u16
    }
}

/// The layer an error code belongs to. The discriminant is the thousands digit of
/// [error codes](self). Every layer is listed whatever features are compiled in, so codes
/// mean the same in every build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Layer {
    /// Keys, signatures, PeerIds, multiaddrs.
    Identity = 1,
    /// multistream-select.
    Multistream = 2,
    /// `/noise`.
    Noise = 3,
    /// `/tls/1.0.0`.
    Tls = 4,
    /// `/secio/1.0.0`.
    Secio = 5,
    /// `/mplex/6.7.0`.
    Mplex = 6,
    /// The connection upgrade around the layers.
    Upgrade = 7,
    /// Private networks (pnet).
    Pnet = 8,
}

impl Layer {
    /// The layer digit `L` in a code `LGNN` (1 to 8).
    pub const fn digit(self) -> u16 {
        self as u16
    }
}

/// The fault group of an error code, or `None` if `code` is not of the form `LGNN`
/// described in the [module docs](self). Reads the digits only: the code need not be
/// assigned in this version.
pub const fn fault_of_code(code: u16) -> Option<Fault> {
    if layer_digit(code).is_none() || code % 100 == 0 {
        return None;
    }
    match code / 100 % 10 {
        1 => Some(Fault::InvalidMessage),
        2 => Some(Fault::PeerMisbehaved),
        3 => Some(Fault::PeerIncompatible),
        4 => Some(Fault::ApiMisuse),
        5 => Some(Fault::Local),
        _ => None,
    }
}

/// The layer of an error code, or `None` if `code` is not of the form `LGNN` described in
/// the [module docs](self). Reads the digits only: the code need not be assigned in this
/// version.
pub const fn layer_of_code(code: u16) -> Option<Layer> {
    if fault_of_code(code).is_none() {
        return None;
    }
    layer_digit(code)
}

/// The layer named by the thousands digit, without checking the rest of the code.
const fn layer_digit(code: u16) -> Option<Layer> {
    match code / 1000 {
        1 => Some(Layer::Identity),
        2 => Some(Layer::Multistream),
        3 => Some(Layer::Noise),
        4 => Some(Layer::Tls),
        5 => Some(Layer::Secio),
        6 => Some(Layer::Mplex),
        7 => Some(Layer::Upgrade),
        8 => Some(Layer::Pnet),
        _ => None,
    }
}

/// Checks one layer's own codes (not its wrapping variants): each lies in `layer`, its
/// group digit is its fault's, none repeats, and they are exactly the codes the doc
/// comments of `source` (the layer's error file) announce as `Code NNNN.`, so a variant
/// without a test value or with a stale doc fails.
#[cfg(test)]
pub(crate) fn check_layer(layer: Layer, source: &str, own: &[(u16, Fault)]) {
    use alloc::vec::Vec;

    let mut codes: Vec<u16> = own.iter().map(|&(code, _)| code).collect();
    for &(code, fault) in own {
        assert_eq!(code / 1000, layer.digit(), "{code} outside {layer:?}");
        assert_eq!(
            code / 100 % 10,
            fault.digit(),
            "{code} is not in {fault:?}'s group"
        );
        assert_eq!(layer_of_code(code), Some(layer), "{code}");
        assert_eq!(fault_of_code(code), Some(fault), "{code}");
    }
    codes.sort_unstable();
    let len = codes.len();
    codes.dedup();
    assert_eq!(codes.len(), len, "{layer:?} repeats a code");
    let mut documented = documented_codes(source);
    documented.sort_unstable();
    assert_eq!(
        documented, codes,
        "{layer:?}: the `Code NNNN.` docs and the tested variants differ"
    );
}

/// Every `Code NNNN.` in the doc comments of `source`.
#[cfg(test)]
fn documented_codes(source: &str) -> alloc::vec::Vec<u16> {
    let mut found = alloc::vec::Vec::new();
    for line in source.lines().filter(|l| l.trim_start().starts_with("///")) {
        let mut rest = line;
        while let Some(at) = rest.find("Code ") {
            rest = &rest[at + "Code ".len()..];
            let digits = rest
                .as_bytes()
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits == 4 && rest.as_bytes().get(4) == Some(&b'.') {
                found.push(rest[..4].parse().unwrap());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn digits_classify_codes() {
        assert_eq!(fault_of_code(3101), Some(Fault::InvalidMessage));
        assert_eq!(layer_of_code(3101), Some(Layer::Noise));
        assert_eq!(fault_of_code(7599), Some(Fault::Local));
        assert_eq!(layer_of_code(1201), Some(Layer::Identity));
        // not of the form LGNN
        for code in [0, 999, 1000, 1100, 1601, 2001, 9101, u16::MAX] {
            assert_eq!(fault_of_code(code), None, "{code}");
            assert_eq!(layer_of_code(code), None, "{code}");
        }
        assert_eq!(Fault::ApiMisuse.digit(), 4);
        assert_eq!(Layer::Upgrade.digit(), 7);
        assert_eq!(layer_of_code(8301), Some(Layer::Pnet));
    }

    #[test]
    fn documented_codes_are_read_from_doc_comments_only() {
        let source =
            "/// A thing. Code 3101.\n// Code 3102.\n    /// Code 31. Code 31023. Code 3103.\n";
        assert_eq!(documented_codes(source), [3101, 3103]);
    }

    /// Every layer checks its own codes; this checks them against each other.
    #[test]
    fn codes_are_unique_across_the_crate() {
        let mut codes: Vec<u16> = Vec::new();
        codes.extend(
            crate::identity::Error::own_variants()
                .iter()
                .map(|e| e.code()),
        );
        codes.extend(
            crate::multistream::Error::own_variants()
                .iter()
                .map(|e| e.code()),
        );
        #[cfg(feature = "noise")]
        codes.extend(crate::noise::Error::own_variants().iter().map(|e| e.code()));
        #[cfg(feature = "tls")]
        codes.extend(crate::tls::Error::own_variants().iter().map(|e| e.code()));
        #[cfg(feature = "secio")]
        codes.extend(crate::secio::Error::own_variants().iter().map(|e| e.code()));
        #[cfg(feature = "mplex")]
        {
            codes.extend(crate::mplex::Error::own_variants().iter().map(|e| e.code()));
            codes.extend(
                crate::mplex::StreamError::own_variants()
                    .iter()
                    .map(|e| e.code()),
            );
        }
        #[cfg(any(feature = "noise", feature = "tls"))]
        codes.extend(
            crate::upgrade::Error::own_variants()
                .iter()
                .map(|e| e.code()),
        );
        let len = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), len, "two variants share a code");
        assert!(codes.iter().all(|&c| fault_of_code(c).is_some()));
    }
}
