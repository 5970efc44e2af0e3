//! multistream-select 1.0: agreeing on the protocol that runs next on a connection or stream.
//!
//! Follows the protocol negotiation section of libp2p's `connections/README.md` and the
//! protocol's own spec (`multiformats/multistream-select`, README). The dialer proposes
//! protocol ids one at a time; the listener answers each with its echo (accepted) or `na`
//! (rejected). After the echo the stream belongs to the agreed protocol, so every byte the
//! machines did not consume is the next layer's.
//!
//! - [`codec`]: the framing (`uvarint(len) || text || '\n'`) and the `ls` reply format.
//! - [`Dialer`]: pipelines the header with its first proposal ([`Version::V1`]), or settles
//!   optimistically on its last candidate ([`Version::V1Lazy`], rust-libp2p's name; go calls it
//!   `NewMSSelect`, js `optimisticSelect`).
//! - [`Listener`]: sends its header at once (as go-multistream does), answers proposals and
//!   `ls`, and stops consuming at the proposal it accepts.
//!
//! Both follow the crate's machine pattern (`handle_input` / `poll_transmit` / `poll_event`)
//! and build without `std`.
//!
//! What this layer does *not* do:
//! - Simultaneous open (`/libp2p/simultaneous-connect`, `connections/simopen.md`): the spec is
//!   deprecated, go-multistream removed it and rust-libp2p never had it; hole punching
//!   (DCUtR) assigns the dialer role explicitly instead. A listener answers it `na` like any
//!   unknown id.
//! - Custom protocol matchers (go's `AddHandlerWithFunc`): ids match byte for byte.
//! - Sending `ls`: the listener answers it, but support is optional (go-multistream dropped
//!   it), so the dialer never relies on it.
//! - End of stream: the machines have no EOF verb. A driver that sees the peer close before
//!   [`Event::Negotiated`] reports a failed negotiation itself (rust-libp2p treats that EOF
//!   as a clean failure too).

use alloc::string::String;

pub mod codec;
mod dialer;
mod error;
mod listener;

pub use dialer::Dialer;
pub use error::{Error, Fault, ProtocolIdError};
pub use listener::Listener;

/// The header line both sides send first (without its newline).
pub const HEADER: &str = "/multistream/1.0.0";

/// Largest message this layer sends or accepts: the value of the length prefix, which counts
/// the trailing newline.
///
/// The spec sets no limit. go-multistream rejects messages longer than 1024 bytes;
/// rust-libp2p limits the length varint to 2 bytes, so its frames reach 16383 bytes. The
/// smaller of the two is the one every peer accepts, so we never send more, and a peer that
/// sends more would be refused by go as well.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// Longest length prefix accepted, in bytes.
///
/// Two 7-bit groups hold every length up to 16383, which covers [`MAX_MESSAGE_LEN`]; a third
/// continuation byte can only announce an oversize message, so it is refused at once
/// (rust-libp2p applies the same 2-byte cap).
pub const MAX_LENGTH_PREFIX_LEN: usize = 2;

/// How many proposals (and `ls` requests) the [`Listener`] answers without accepting before
/// it gives up with [`Error::TooManyProposals`].
///
/// Neither the spec nor go/rust set a limit. A dialer proposes one id per round trip and real
/// dialers offer a handful (two security protocols, two muxers), so 32 leaves ample room for
/// long version lists while bounding what one stream can make the listener do: at most 32
/// answers of at most [`MAX_MESSAGE_LEN`] bytes each. `ls` counts too because its reply is
/// the one answer larger than the request.
pub const MAX_REJECTED_PROPOSALS: usize = 32;

/// Which flavour of multistream-select 1.0 the [`Dialer`] speaks. Both are the same bytes on
/// the wire; only the dialer's timing differs, so the [`Listener`] needs no version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// Wait for the listener's answer to every proposal before sending anything else.
    #[default]
    V1,
    /// Settle on the last remaining candidate without waiting for its echo, so the next
    /// layer's first bytes travel with the proposal (0-RTT). rust-libp2p's name; go and js
    /// do the same when they know the listener supports the protocol.
    ///
    /// There is no fallback: if the listener rejects that proposal, the negotiation fails
    /// (and the listener sees the next layer's bytes as garbage). Nest lazy negotiations only
    /// if the listener is known to support every intermediate protocol *and* no intermediate
    /// protocol's payload can be mistaken for a multistream message (go-multistream issue
    /// #20, rust-libp2p PR #1212).
    V1Lazy,
}

/// What a machine reports through `poll_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// [`Version::V1Lazy`] dialer only: committed to `protocol` before the listener confirmed
    /// it. Once the caller has sent what `poll_transmit` returned, it may send the next
    /// layer's bytes. It must keep feeding input to the dialer until [`Event::Negotiated`]
    /// (the listener's header and echo arrive as a prefix of the inbound stream and the dialer
    /// strips them); an `na` then surfaces as [`Error::NoProtocolAgreed`].
    Optimistic {
        /// The protocol the dialer settled on.
        protocol: String,
    },
    /// Agreed. Input the machine did not consume belongs to the next layer.
    Negotiated {
        /// The agreed protocol id.
        protocol: String,
    },
}

/// Checks that `id` is a protocol id this layer can send: non-empty, starting with `/`
/// (rust-libp2p refuses anything else), no newline inside (it would end the message early),
/// not the multistream header itself, and short enough that its message (id plus newline)
/// fits [`MAX_MESSAGE_LEN`].
pub fn validate_protocol(id: &str) -> Result<(), ProtocolIdError> {
    if id.is_empty() {
        return Err(ProtocolIdError::Empty);
    }
    if !id.starts_with('/') {
        return Err(ProtocolIdError::NoLeadingSlash);
    }
    if id.contains('\n') {
        return Err(ProtocolIdError::ContainsNewline);
    }
    if id == HEADER {
        return Err(ProtocolIdError::Reserved);
    }
    let len = id.len().saturating_add(1);
    if len > MAX_MESSAGE_LEN {
        return Err(ProtocolIdError::TooLong {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(())
}

/// Validates and collects the caller's protocol list (shared by both constructors).
fn local_protocols<I, S>(protocols: I) -> Result<alloc::vec::Vec<String>, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut list = alloc::vec::Vec::new();
    for p in protocols {
        let p: String = p.into();
        if let Err(reason) = validate_protocol(&p) {
            return Err(Error::InvalidLocalProtocol {
                protocol: error::truncated(&p),
                reason,
            });
        }
        list.push(p);
    }
    if list.is_empty() {
        return Err(Error::NoProtocols);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn validation_rules() {
        assert_eq!(validate_protocol("/noise"), Ok(()));
        assert_eq!(validate_protocol(""), Err(ProtocolIdError::Empty));
        assert_eq!(
            validate_protocol("noise"),
            Err(ProtocolIdError::NoLeadingSlash)
        );
        assert_eq!(
            validate_protocol("/a\nb"),
            Err(ProtocolIdError::ContainsNewline)
        );
        assert_eq!(validate_protocol(HEADER), Err(ProtocolIdError::Reserved));
        let longest = "/".repeat(MAX_MESSAGE_LEN - 1);
        assert_eq!(validate_protocol(&longest), Ok(()));
        let too_long = "/".repeat(MAX_MESSAGE_LEN);
        assert_eq!(
            validate_protocol(&too_long),
            Err(ProtocolIdError::TooLong {
                len: MAX_MESSAGE_LEN + 1,
                max: MAX_MESSAGE_LEN
            })
        );
    }

    #[test]
    fn local_list_errors() {
        assert_eq!(
            local_protocols(core::iter::empty::<String>()),
            Err(Error::NoProtocols)
        );
        assert_eq!(
            local_protocols(["/ok", "bad"]),
            Err(Error::InvalidLocalProtocol {
                protocol: "bad".to_string(),
                reason: ProtocolIdError::NoLeadingSlash
            })
        );
        assert_eq!(
            local_protocols(["/ok", "bad"]).map_err(|e| e.fault()),
            Err(Fault::ApiMisuse)
        );
    }

    #[test]
    fn version_default_is_v1() {
        assert_eq!(Version::default(), Version::V1);
    }
}
