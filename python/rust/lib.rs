//! `p2psec._native`: the Python classes over p2psec's sans-IO machines (PyO3, abi3).
//!
//! Thin on purpose: every class holds one Rust value and forwards to it. The Python
//! package beside this crate (`python/p2psec/`) re-exports these classes and defines
//! what is plain Python: the event dataclasses, the exception hierarchy, the socket
//! drivers and the py-libp2p transport. This module creates its events and exceptions
//! from those Python definitions (imported on first use), so both halves agree on one
//! set of types.
//!
//! Time and randomness come from the caller, as in Rust: every constructor that draws
//! keys or looks at the clock takes `now` (Unix seconds) and `seed` (32 bytes), and
//! falls back to the system clock and the OS RNG only when they are not given.

use pyo3::prelude::*;

mod bench;
mod channel;
mod config;
mod data;
mod errors;
mod keys;
mod upgrade;

/// Inputs at least this long are sealed or opened with the GIL released: below it the
/// release costs more than the crypto.
pub(crate) const RELEASE_GIL_FROM: usize = 4096;

/// The module: its classes and functions.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<keys::Keypair>()?;
    m.add_class::<keys::PeerId>()?;
    m.add_class::<config::UpgradeConfig>()?;
    m.add_class::<upgrade::Dialer>()?;
    m.add_class::<upgrade::Listener>()?;
    m.add_class::<channel::SecureChannel>()?;
    m.add_function(wrap_pyfunction!(keys::parse_multiaddr, m)?)?;
    m.add_function(wrap_pyfunction!(keys::tcp_multiaddr, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_class_name, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_rust_upgrade_loop, m)?)?;
    m.add("SECURITY_PROTOCOLS", upgrade::security_protocols())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
