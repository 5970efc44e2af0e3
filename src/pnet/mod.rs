//! Private networks (feature `pnet`; libp2p specs `pnet/Private-Networks-PSK-V1.md`): a
//! pre-shared 256-bit key that every member of a network holds, and an XSalsa20 layer
//! beneath everything else on the connection, so nodes of different networks (or a node
//! without the key) exchange nothing but random-looking bytes.
//!
//! - [`PreSharedKey`]: the key, its file format (`/key/swarm/psk/1.0.0/`, then `/base16/`,
//!   `/base64/` or `/bin/`, then the key) and the fingerprint go-libp2p and rust-libp2p
//!   print, so two operators can compare keys without showing them.
//! - [`Pnet`]: the sans-IO layer. Each side sends a random 24-byte nonce first, then
//!   everything it sends is XORed with XSalsa20(key, its nonce); the peer's bytes are
//!   XORed with XSalsa20(key, the peer's nonce). It transforms the caller's buffers in
//!   place; no handshake waits for the other side.
//!
//! The spec gives the layer no way to tell a wrong key: the bytes just decrypt to noise.
//! Since libp2p always runs multistream-select right above it, [`Pnet::open`] checks the
//! first plaintext bytes against the multistream header (`/multistream/1.0.0`, which both
//! sides send first) and fails with [`Error::WrongKey`] at the first byte that differs,
//! instead of letting the layer above wait for a length that noise announced.
//!
//! The upgrade takes the key in its configuration
//! ([`upgrade::Config::with_psk`](crate::upgrade::Config::with_psk)); the adapters run the
//! layer beneath the upgrade and the channel when it is set. A driver of its own sends
//! [`Pnet::nonce`] before its first byte, [`Pnet::seal`]s everything after it and
//! [`Pnet::open`]s everything it receives before the machines see it.

mod error;
mod key;
mod layer;

pub use error::Error;
pub use key::{Fingerprint, PreSharedKey, KEY_LEN};
pub use layer::{Pnet, NONCE_LEN};
