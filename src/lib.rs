//! # p2psec
//!
//! Sans-IO security for libp2p connections. Every protocol layer is a plain state machine
//! that takes bytes from the peer and hands back bytes to send; none of them touches a
//! socket, a clock or a runtime. Thin adapters (behind features) drive them over real
//! sockets.
//!
//! | module | what it does | feature |
//! |---|---|---|
//! | [`identity`] | key pairs, the protobuf key encoding, [`PeerId`] | always |
//! | [`machine`] | the [`Machine`] trait: the verbs every state machine shares | always |
//! | [`multistream`] | multistream-select 1.0 dialer and listener | always |
//! | [`multiaddr`] | the text multiaddr, its `/p2p/` PeerId and TCP address | always |
//! | [`noise`] | `/noise`: the XX handshake with the libp2p payload, the transport | `noise` |
//! | [`tls`] | `/tls/1.0.0`: the TLS 1.3 handshake with the libp2p certificate, the session | `tls` |
//! | `secio` | `/secio/1.0.0`: the deprecated legacy channel, opt-in, for peers that speak nothing else | `secio` |
//! | `mplex` | `/mplex/6.7.0`: the legacy stream muxer those peers speak | `mplex` |
//! | [`upgrade`] | the connection upgrade: security negotiation, handshake, muxer | `noise` or `tls` |
//! | [`adapters`] | the upgrade over std, tokio and futures-io streams, multistream-select on a stream, a tokio mplex driver | `std`, `tokio`, `async-std` |
//! | [`error`] | the [`Fault`] groups and the stable error codes of every layer, for bindings | always |
//!
//! Every machine follows one pattern (see `STYLE.md` in the project's shared notes):
//! `handle_input(&[u8]) -> Result<usize, Error>` consumes what it can use and returns
//! how many bytes it took (the rest stays in the caller's buffer and, after completion,
//! belongs to the next layer), `poll_transmit(&mut Vec<u8>) -> usize` appends what must go
//! to the peer, and `poll_event()` reports what happened. After an error a machine is
//! poisoned: every later call returns the same error.
//!
//! ```
//! use p2psec::multistream::{Dialer, Event, Listener, Version};
//!
//! let mut dialer = Dialer::new(["/tls/1.0.0", "/noise"], Version::V1)?;
//! let mut listener = Listener::new(["/noise"])?;
//! let (mut to_listener, mut to_dialer) = (Vec::new(), Vec::new());
//! while !(dialer.is_done() && listener.is_done()) {
//!     let _ = dialer.poll_transmit(&mut to_listener);
//!     let used = listener.handle_input(&to_listener)?;
//!     to_listener.drain(..used); // unconsumed bytes belong to the next layer
//!     let _ = listener.poll_transmit(&mut to_dialer);
//!     let used = dialer.handle_input(&to_dialer)?;
//!     to_dialer.drain(..used);
//! }
//! assert_eq!(dialer.negotiated(), Some("/noise"));
//! assert_eq!(
//!     listener.poll_event(),
//!     Some(Event::Negotiated { protocol: "/noise".into() })
//! );
//! # Ok::<(), p2psec::multistream::Error>(())
//! ```
//!
//! With the default `std` feature off the core (identity, multistream) builds as
//! `no_std` + `alloc`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(all(feature = "std", any(feature = "noise", feature = "tls")))]
pub mod adapters;
#[cfg(any(feature = "noise", feature = "tls", feature = "secio"))]
mod buffers;
pub mod error;
pub mod identity;
#[cfg(feature = "libp2p")]
pub mod libp2p;
pub mod machine;
pub mod multiaddr;
// `/mplex/6.7.0`, the legacy stream muxer (a plain comment: an outer doc comment would make
// rustdoc resolve the module's own doc links from the crate root).
#[cfg(feature = "mplex")]
pub mod mplex;
pub mod multistream;
#[cfg(feature = "noise")]
pub mod noise;
#[cfg(feature = "pnet")]
pub mod pnet;
#[cfg(feature = "secio")]
pub mod secio;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(any(feature = "noise", feature = "tls"))]
pub mod upgrade;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use error::{fault_of_code, layer_of_code, Fault, Layer};
pub use identity::{KeyType, Keypair, PeerId, PublicKey};
pub use machine::{Incomplete, InsufficientSize, Machine};
