//! The stable status codes and the mapping from the library's errors onto them.

use p2psec::Fault;

/// What a call did. The values are stable: never renumbered, new ones only appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2psec_status {
    /// Success.
    P2PSEC_OK = 0,
    /// Nothing now: no event waiting, no plaintext to read. Feed more input.
    P2PSEC_WOULD_BLOCK = 1,
    /// The output buffer is too small; nothing was taken, `*written` holds the size needed.
    P2PSEC_BUFFER_TOO_SMALL = 2,
    /// The remote proved an identity other than the PeerId expected.
    P2PSEC_PEER_ID_MISMATCH = 3,
    /// No protocol in common: security protocol, muxer, or a handshake's algorithms.
    P2PSEC_NO_COMMON_PROTOCOL = 4,
    /// The peer sent something malformed or out of order.
    P2PSEC_PROTOCOL_VIOLATION = 5,
    /// A signature, MAC or AEAD tag did not verify.
    P2PSEC_CRYPTO = 6,
    /// The peer closed its side of the channel (TLS close_notify) and nothing is left to
    /// read. (An end of stream on the socket is the caller's to see: the machines never
    /// read one.)
    P2PSEC_CLOSED = 7,
    /// A NULL pointer, a zero or oversized length, text that is not UTF-8 or not parseable.
    P2PSEC_INVALID_ARGUMENT = 8,
    /// A panic inside the library was caught at the boundary (a bug: please report it).
    /// The handle it happened on is poisoned.
    P2PSEC_PANIC = 9,
    /// The peer is well-behaved but cannot be served (an unsupported key type, a TLS
    /// alert, a version we do not speak).
    P2PSEC_INCOMPATIBLE = 10,
    /// `_into_channel` before the upgrade completed; the handle is still the caller's.
    P2PSEC_NOT_COMPLETE = 11,
    /// A call out of order or a contradictory configuration (a bug in the caller).
    P2PSEC_API_MISUSE = 12,
    /// A local failure: the OS RNG, certificate generation, an exhausted nonce.
    P2PSEC_LOCAL = 13,
}

pub(crate) use p2psec_status::*;

impl p2psec_status {
    /// The constant's own name, as a NUL-terminated static string.
    fn name(self) -> &'static [u8] {
        match self {
            P2PSEC_OK => b"P2PSEC_OK\0",
            P2PSEC_WOULD_BLOCK => b"P2PSEC_WOULD_BLOCK\0",
            P2PSEC_BUFFER_TOO_SMALL => b"P2PSEC_BUFFER_TOO_SMALL\0",
            P2PSEC_PEER_ID_MISMATCH => b"P2PSEC_PEER_ID_MISMATCH\0",
            P2PSEC_NO_COMMON_PROTOCOL => b"P2PSEC_NO_COMMON_PROTOCOL\0",
            P2PSEC_PROTOCOL_VIOLATION => b"P2PSEC_PROTOCOL_VIOLATION\0",
            P2PSEC_CRYPTO => b"P2PSEC_CRYPTO\0",
            P2PSEC_CLOSED => b"P2PSEC_CLOSED\0",
            P2PSEC_INVALID_ARGUMENT => b"P2PSEC_INVALID_ARGUMENT\0",
            P2PSEC_PANIC => b"P2PSEC_PANIC\0",
            P2PSEC_INCOMPATIBLE => b"P2PSEC_INCOMPATIBLE\0",
            P2PSEC_NOT_COMPLETE => b"P2PSEC_NOT_COMPLETE\0",
            P2PSEC_API_MISUSE => b"P2PSEC_API_MISUSE\0",
            P2PSEC_LOCAL => b"P2PSEC_LOCAL\0",
        }
    }
}

/// The name of a status (`"P2PSEC_OK"`, ...): a static NUL-terminated string, never NULL;
/// `"P2PSEC_UNKNOWN"` for a value this library does not define.
#[no_mangle]
pub extern "C" fn p2psec_status_name(status: i32) -> *const core::ffi::c_char {
    let name: &'static [u8] = match status_from_i32(status) {
        Some(s) => s.name(),
        None => b"P2PSEC_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

fn status_from_i32(v: i32) -> Option<p2psec_status> {
    const ALL: [p2psec_status; 14] = [
        P2PSEC_OK,
        P2PSEC_WOULD_BLOCK,
        P2PSEC_BUFFER_TOO_SMALL,
        P2PSEC_PEER_ID_MISMATCH,
        P2PSEC_NO_COMMON_PROTOCOL,
        P2PSEC_PROTOCOL_VIOLATION,
        P2PSEC_CRYPTO,
        P2PSEC_CLOSED,
        P2PSEC_INVALID_ARGUMENT,
        P2PSEC_PANIC,
        P2PSEC_INCOMPATIBLE,
        P2PSEC_NOT_COMPLETE,
        P2PSEC_API_MISUSE,
        P2PSEC_LOCAL,
    ];
    ALL.into_iter().find(|s| *s as i32 == v)
}

/// Library error codes (`LGNN`, see p2psec's `error` module) that are more specific than
/// their fault group.
const PEER_ID_MISMATCH: [u16; 3] = [3204, 4212, 5201];
/// (2302: the listener's side of a refused optimistic proposal; 4304: no common TLS
/// parameters.)
const NO_COMMON_PROTOCOL: [u16; 6] = [2301, 2302, 3301, 4304, 4305, 5301];
/// Signatures, MACs and AEAD tags that failed to verify.
const CRYPTO: [u16; 9] = [3102, 3203, 3205, 4210, 4211, 4213, 4214, 5203, 5205];
/// End of stream during the upgrade.
const CLOSED: [u16; 1] = [7201];

/// The status for a library error, from its stable code and fault group.
pub(crate) fn status_of(code: u16, fault: Fault) -> p2psec_status {
    if PEER_ID_MISMATCH.contains(&code) {
        return P2PSEC_PEER_ID_MISMATCH;
    }
    if NO_COMMON_PROTOCOL.contains(&code) {
        return P2PSEC_NO_COMMON_PROTOCOL;
    }
    if CRYPTO.contains(&code) {
        return P2PSEC_CRYPTO;
    }
    if CLOSED.contains(&code) {
        return P2PSEC_CLOSED;
    }
    match fault {
        Fault::InvalidMessage | Fault::PeerMisbehaved => P2PSEC_PROTOCOL_VIOLATION,
        Fault::PeerIncompatible => P2PSEC_INCOMPATIBLE,
        Fault::ApiMisuse => P2PSEC_API_MISUSE,
        Fault::Local => P2PSEC_LOCAL,
        _ => P2PSEC_LOCAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_is_a_library_code_of_the_expected_layer() {
        for code in PEER_ID_MISMATCH
            .iter()
            .chain(&NO_COMMON_PROTOCOL)
            .chain(&CRYPTO)
            .chain(&CLOSED)
        {
            assert!(
                p2psec::fault_of_code(*code).is_some(),
                "{code} is not a code"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for v in 0..14 {
            let s = status_from_i32(v).unwrap();
            assert_eq!(s as i32, v);
            assert!(s.name().ends_with(b"\0"));
        }
        assert!(status_from_i32(14).is_none());
    }
}
