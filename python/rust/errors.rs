//! The library's errors as Python exceptions of `p2psec.errors`.
//!
//! The class is chosen from the error's stable code, its fault group and its layer (the
//! same grouping as the C ABI's statuses); the message is the library's own text. The
//! classes are Python's (`p2psec/errors.py`), looked up once.

use p2psec::{Fault, Layer};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Codes whose cause is an identity other than the one expected.
const PEER_ID_MISMATCH: [u16; 3] = [3204, 4212, 5201];
/// Codes whose cause is that the peers share no protocol.
const NO_COMMON_PROTOCOL: [u16; 6] = [2301, 2302, 3301, 4304, 4305, 5301];
/// Codes whose cause is a failed cryptographic check (signature, certificate, AEAD).
const CRYPTO: [u16; 9] = [3102, 3203, 3205, 4210, 4211, 4213, 4214, 5203, 5205];
/// The peer closed the connection during the upgrade.
const CLOSED: u16 = 7201;
/// The peer refused a remembered protocol.
const STALE_MEMORY: u16 = 7301;

/// The name of the `p2psec.errors` class for an error with `code`, `fault` and `layer`.
fn class_for(code: u16, fault: Fault, layer: Layer) -> &'static str {
    if PEER_ID_MISMATCH.contains(&code) {
        return "PeerIdMismatch";
    }
    if code == CLOSED {
        return "ConnectionClosed";
    }
    if CRYPTO.contains(&code) {
        return "HandshakeError";
    }
    if NO_COMMON_PROTOCOL.contains(&code) || code == STALE_MEMORY {
        return "NegotiationError";
    }
    match fault {
        Fault::InvalidMessage | Fault::PeerMisbehaved => "ProtocolViolation",
        Fault::PeerIncompatible => match layer {
            Layer::Multistream | Layer::Upgrade => "NegotiationError",
            _ => "HandshakeError",
        },
        Fault::ApiMisuse => "UsageError",
        _ => "LocalError",
    }
}

fn fault_name(fault: Fault) -> &'static str {
    match fault {
        Fault::InvalidMessage => "invalid_message",
        Fault::PeerMisbehaved => "peer_misbehaved",
        Fault::PeerIncompatible => "peer_incompatible",
        Fault::ApiMisuse => "api_misuse",
        _ => "local",
    }
}

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Identity => "identity",
        Layer::Multistream => "multistream",
        Layer::Noise => "noise",
        Layer::Tls => "tls",
        Layer::Secio => "secio",
        Layer::Mplex => "mplex",
        Layer::Pnet => "pnet",
        _ => "upgrade",
    }
}

/// The class name `p2psec.errors` uses for a library error code (tests check the
/// mapping from Python; unknown codes give `P2psecError`).
#[pyfunction]
pub(crate) fn error_class_name(code: u16) -> &'static str {
    match (p2psec::fault_of_code(code), p2psec::layer_of_code(code)) {
        (Some(fault), Some(layer)) => class_for(code, fault, layer),
        _ => "P2psecError",
    }
}

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// An instance of `p2psec.errors.<class>(message, code, fault, layer)`.
fn make(
    py: Python<'_>,
    class: &str,
    message: String,
    code: u16,
    fault: &str,
    layer: &str,
) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let module =
            ERRORS.get_or_try_init(py, || py.import("p2psec.errors").map(|m| m.unbind()))?;
        let cls = module.bind(py).getattr(class)?;
        let cls = cls.cast_into::<PyType>()?;
        let value = cls.call1((message, code, fault, layer))?;
        Ok(PyErr::from_value(value))
    })();
    built.unwrap_or_else(|e| e)
}

/// An upgrade or channel error as its Python exception. The layer named is the machine
/// that failed (a Noise handshake that refused an identity key says `noise`).
pub(crate) fn upgrade_error(py: Python<'_>, e: &p2psec::upgrade::Error) -> PyErr {
    let code = e.code();
    let class = if e.is_unexpected_peer() {
        "PeerIdMismatch"
    } else {
        class_for(code, e.fault(), e.layer())
    };
    make(
        py,
        class,
        e.to_string(),
        code,
        fault_name(e.fault()),
        layer_name(e.layer()),
    )
}

/// Bad data from the caller (a key, a PeerId's text, a multiaddr): `InvalidInput`, a
/// `ValueError`, with the library's message behind `what`.
pub(crate) fn invalid_input(py: Python<'_>, what: &str, e: &p2psec::identity::Error) -> PyErr {
    make(
        py,
        "InvalidInput",
        format!("{what}: {e}"),
        e.code(),
        fault_name(e.fault()),
        "identity",
    )
}

/// A bad argument that has no library error behind it.
pub(crate) fn bad_argument(py: Python<'_>, message: impl Into<String>) -> PyErr {
    make(
        py,
        "InvalidInput",
        message.into(),
        0,
        "api_misuse",
        "upgrade",
    )
}

/// A call out of order (the machine is finished, the upgrade not complete).
pub(crate) fn misuse(py: Python<'_>, message: impl Into<String>) -> PyErr {
    make(
        py,
        "UsageError",
        message.into(),
        7402,
        "api_misuse",
        "upgrade",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_is_a_library_code() {
        for code in PEER_ID_MISMATCH
            .iter()
            .chain(&NO_COMMON_PROTOCOL)
            .chain(&CRYPTO)
            .chain(&[CLOSED, STALE_MEMORY])
        {
            assert!(p2psec::fault_of_code(*code).is_some(), "{code}");
        }
    }
}
