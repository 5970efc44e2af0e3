//! The private-network errors.

use crate::error::Fault;

/// Why a key file was refused or a private-network connection failed. After a failure the
/// [`Pnet`](super::Pnet) layer is poisoned: every `open` returns it again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key file that is not `/key/swarm/psk/1.0.0/`, an encoding line, then the key in
    /// that encoding. Code 8101.
    #[error("invalid pre-shared key file: {reason}")]
    InvalidKeyFile {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key decodes to other than 32 bytes. Code 8102.
    #[error("pre-shared key of {len} bytes; it must be 32")]
    KeyLength {
        /// The decoded length.
        len: usize,
    },
    /// The first bytes after the peer's nonce do not decrypt to the multistream header
    /// that libp2p sends first: the peer holds another pre-shared key, or none. Code 8301.
    #[error(
        "the peer's byte {offset} after its nonce decrypts to {got:#04x}, not {expected:#04x} of the multistream header: the peer uses another pre-shared key (or none)"
    )]
    WrongKey {
        /// Which byte of the header (0 is its length prefix).
        offset: usize,
        /// What it decrypted to.
        got: u8,
        /// What the header has there.
        expected: u8,
    },
    /// The peer closed or reset the connection before its first bytes decrypted to the
    /// multistream header: a peer holding another key typically notices first and hangs
    /// up. Code 8302.
    #[error(
        "the peer closed the connection before its bytes decrypted to the multistream header: it holds another pre-shared key (or none)"
    )]
    ClosedBeforeProof,
    /// The handshake deadline passed before the peer's bytes decrypted to the multistream
    /// header: a listener that waits for the dialer's header before sending its own
    /// (rust-libp2p's does) stays silent when the dialer's bytes decrypt to noise, so the
    /// dialer learns nothing sooner. The peer likely holds another key. Code 8303.
    #[error(
        "the handshake deadline passed before the peer's bytes decrypted to the multistream header: it likely holds another pre-shared key (or none)"
    )]
    TimedOutBeforeProof,
}

impl Error {
    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            Error::InvalidKeyFile { .. } | Error::KeyLength { .. } => Fault::InvalidMessage,
            Error::WrongKey { .. } | Error::ClosedBeforeProof | Error::TimedOutBeforeProof => {
                Fault::PeerIncompatible
            }
        }
    }

    /// A stable number for this variant, `8GNN` ([`crate::error`]).
    pub fn code(&self) -> u16 {
        match self {
            Error::InvalidKeyFile { .. } => 8101,
            Error::KeyLength { .. } => 8102,
            Error::WrongKey { .. } => 8301,
            Error::ClosedBeforeProof => 8302,
            Error::TimedOutBeforeProof => 8303,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{check_layer, Layer};

    #[test]
    fn codes_follow_the_scheme() {
        let all = [
            Error::InvalidKeyFile { reason: "x" },
            Error::KeyLength { len: 31 },
            Error::WrongKey {
                offset: 0,
                got: 1,
                expected: 0x13,
            },
            Error::ClosedBeforeProof,
            Error::TimedOutBeforeProof,
        ];
        let own: alloc::vec::Vec<_> = all.iter().map(|e| (e.code(), e.fault())).collect();
        check_layer(Layer::Pnet, include_str!("error.rs"), &own);
    }
}
