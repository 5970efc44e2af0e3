//! The two handshake messages (proto2, package `spipe.pb`). Every field is optional on
//! the wire; [`super::handshake`] names each one that is missing.

use alloc::string::String;
use alloc::vec::Vec;

/// The first message: a nonce, the identity key and the three preference lists.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Propose {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) rand: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) pubkey: Option<Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    pub(crate) exchanges: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub(crate) ciphers: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub(crate) hashes: Option<String>,
}

/// The second message: the ephemeral public point and the identity signature over the
/// handshake corpus.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Exchange {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) epubkey: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub(crate) signature: Option<Vec<u8>>,
}
