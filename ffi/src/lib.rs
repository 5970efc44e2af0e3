//! The C ABI of p2psec: every `extern "C"` function and every `unsafe` block of the
//! project lives in this crate; the library itself keeps `forbid(unsafe_code)`.
//!
//! The surface mirrors the machines and nothing more: opaque handles for a key pair, a
//! PeerId, an upgrade configuration, the upgrade dialer and listener, and the secured
//! channel they end in. Bytes go in with `handle_input`, come out with `poll_transmit`
//! into a caller buffer (or [`p2psec_status::P2PSEC_BUFFER_TOO_SMALL`] with the size
//! needed), events come out as a plain tagged struct. Time and randomness are injected:
//! the caller passes Unix seconds, and either 32 seed bytes or `NULL` (the OS RNG).
//!
//! Safety contract for every function (the header repeats it): pointers are either
//! `NULL` (refused with `P2PSEC_INVALID_ARGUMENT` where a value is required) or valid for
//! the length given; handles come from this library and are used from one thread at a
//! time. Every entry point catches panics and returns `P2PSEC_PANIC` instead of
//! unwinding into C.
#![allow(non_camel_case_types)]
#![warn(unreachable_pub)]

mod abi;

#[doc(hidden)]
pub use abi::panic_probe;
mod channel;
mod config;
mod keys;
mod status;
mod upgrade;

pub use channel::*;
pub use config::*;
pub use keys::*;
pub use status::*;
pub use upgrade::*;
