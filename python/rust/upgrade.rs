//! The upgrade machines, dialer and listener, with the same verbs (h11's names): bytes in
//! with `receive_data`, bytes out with `data_to_send`, events from `next_event`, and the
//! secured channel from `into_channel` once `is_complete`.

use crate::data::Data;
use p2psec::upgrade::{self, Event, SecurityProtocol, Upgraded};
use p2psec::Machine;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

use crate::channel::SecureChannel;
use crate::config::{machine_seed, now_or_system, security_protocol, UnixTime, UpgradeConfig};
use crate::errors::{misuse, upgrade_error};
use crate::keys::PeerId;

/// The security protocols this build has, as protocol ids (SECIO among them: opt-in, it
/// is not in `UpgradeConfig`'s default list).
pub(crate) fn security_protocols() -> Vec<&'static str> {
    SecurityProtocol::KNOWN
        .iter()
        .map(|p| p.protocol_id())
        .collect()
}

/// The two machines, as the classes finish them.
pub(crate) trait Upgrade: Machine<Event = Event, Error = upgrade::Error> + Send {
    fn into_upgraded(self) -> Result<Upgraded, upgrade::Error>;
}

impl Upgrade for upgrade::Dialer {
    fn into_upgraded(self) -> Result<Upgraded, upgrade::Error> {
        upgrade::Dialer::into_upgraded(self)
    }
}

impl Upgrade for upgrade::Listener {
    fn into_upgraded(self) -> Result<Upgraded, upgrade::Error> {
        upgrade::Listener::into_upgraded(self)
    }
}

/// A machine and its first error, which every later call raises again. `machine` is
/// `None` once `into_channel` took it.
pub(crate) struct Handle<M> {
    machine: Option<M>,
    error: Option<upgrade::Error>,
}

static EVENTS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// An event as its `p2psec.events` dataclass; `None` for kinds Python does not see.
fn event_object(py: Python<'_>, event: Event) -> PyResult<Option<Py<PyAny>>> {
    let module = EVENTS
        .get_or_try_init(py, || py.import("p2psec.events").map(|m| m.unbind()))?
        .bind(py);
    let object = match event {
        Event::SecurityAgreed(p) => module
            .getattr("SecurityAgreed")?
            .call1((p.protocol_id(),))?,
        Event::RemoteIdentified { peer_id } => module
            .getattr("RemoteIdentified")?
            .call1((PeerId(peer_id),))?,
        Event::Complete => module.getattr("UpgradeComplete")?.call0()?,
        #[allow(unreachable_patterns)]
        _ => return Ok(None),
    };
    Ok(Some(object.unbind()))
}

impl<M: Upgrade> Handle<M> {
    fn new(machine: M) -> Self {
        Self {
            machine: Some(machine),
            error: None,
        }
    }

    /// The machine, unless it failed (that error again) or was finished.
    fn live(&mut self, py: Python<'_>) -> PyResult<&mut M> {
        if let Some(e) = &self.error {
            return Err(upgrade_error(py, e));
        }
        self.machine
            .as_mut()
            .ok_or_else(|| misuse(py, "the upgrade was finished: into_channel() took it"))
    }

    fn fail(&mut self, py: Python<'_>, e: upgrade::Error) -> PyErr {
        upgrade_error(py, self.error.get_or_insert(e))
    }

    fn receive_data(&mut self, py: Python<'_>, data: Data) -> PyResult<usize> {
        let machine = self.live(py)?;
        // the handshake's signatures and key agreements run without the GIL
        let result = py.detach(|| machine.handle_input(&data));
        result.map_err(|e| self.fail(py, e))
    }

    fn receive_eof(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.live(py)?.is_complete() {
            return Ok(());
        }
        Err(self.fail(py, upgrade::Error::UnexpectedEof))
    }

    fn data_to_send<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        // a failed machine may still have its last message (an alert, `na`) to send
        let mut out = Vec::new();
        if let Some(m) = self.machine.as_mut() {
            let _ = m.poll_transmit(&mut out);
        }
        PyBytes::new(py, &out)
    }

    fn next_event(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let machine = self.live(py)?;
        while let Some(event) = machine.poll_event() {
            if let Some(object) = event_object(py, event)? {
                return Ok(Some(object));
            }
        }
        Ok(None)
    }

    fn is_complete(&self) -> bool {
        self.error.is_none() && self.machine.as_ref().is_some_and(|m| m.is_complete())
    }

    fn take_channel(&mut self, py: Python<'_>) -> PyResult<SecureChannel> {
        if !self.live(py)?.is_complete() {
            return Err(misuse(py, "the upgrade is not complete"));
        }
        let machine = self
            .machine
            .take()
            .ok_or_else(|| misuse(py, "the upgrade was finished"))?;
        match machine.into_upgraded() {
            Ok(upgraded) => Ok(SecureChannel::new(upgraded)),
            Err(e) => Err(self.fail(py, e)),
        }
    }
}

/// The verbs both classes have, written once.
macro_rules! upgrade_methods {
    ($class:ident { $($own:tt)* }) => {
        #[pymethods]
        impl $class {
            $($own)*

            /// Feeds bytes from the peer; returns how many were consumed. Bytes past the
            /// end of the upgrade are not consumed: they are the channel's first input
            /// (give them to `SecureChannel.receive_data`). Raises the library's error,
            /// and the same error again on every later call.
            fn receive_data(&mut self, py: Python<'_>, data: Data) -> PyResult<usize> {
                self.0.receive_data(py, data)
            }

            /// The peer closed the connection: raises `ConnectionClosed` (and poisons the
            /// machine) unless the upgrade is complete.
            fn receive_eof(&mut self, py: Python<'_>) -> PyResult<()> {
                self.0.receive_eof(py)
            }

            /// The bytes to send to the peer now (empty when there are none).
            fn data_to_send<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
                self.0.data_to_send(py)
            }

            /// The next event (`SecurityAgreed`, `RemoteIdentified`, `UpgradeComplete`),
            /// or `None` when none is waiting.
            fn next_event(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
                self.0.next_event(py)
            }

            /// Whether the upgrade is complete: `into_channel()` may be called.
            #[getter]
            fn is_complete(&self) -> bool {
                self.0.is_complete()
            }

            /// The secured channel of a complete upgrade (the machine is used up).
            #[pyo3(name = "into_channel")]
            fn take_channel(&mut self, py: Python<'_>) -> PyResult<SecureChannel> {
                self.0.take_channel(py)
            }
        }
    };
}

/// The dialer's side of an upgrade: proposes the security protocols, runs the handshake,
/// checks the remote's PeerId against `expected_peer` when one is given, and selects the
/// muxer. `now`: Unix seconds, int or float (certificate checks); `seed`: 32 bytes for
/// the handshake's ephemeral keys (default: OS randomness), so a seeded Noise or SECIO run replays byte
/// for byte (TLS's ClientHello random and key shares are drawn inside rustls).
#[pyclass(module = "p2psec._native")]
pub struct Dialer(Handle<upgrade::Dialer>);

upgrade_methods!(Dialer {
    #[new]
    #[pyo3(signature = (config, expected_peer = None, *, now = None, seed = None))]
    fn new(
        py: Python<'_>,
        config: &UpgradeConfig,
        expected_peer: Option<&PeerId>,
        now: Option<UnixTime>,
        seed: Option<&[u8]>,
    ) -> PyResult<Self> {
        let seed = machine_seed(py, seed)?;
        let expected = expected_peer.map(|p| p.0);
        upgrade::Dialer::with_seed(&config.config, expected, now_or_system(now), seed)
            .map(|d| Self(Handle::new(d)))
            .map_err(|e| upgrade_error(py, &e))
    }

    /// A dialer whose security protocol was agreed elsewhere (py-libp2p and other hosts
    /// run multistream-select themselves): it starts with the handshake of `security`.
    #[staticmethod]
    #[pyo3(signature = (config, security, expected_peer = None, *, now = None, seed = None))]
    fn with_agreed_security(
        py: Python<'_>,
        config: &UpgradeConfig,
        security: &str,
        expected_peer: Option<&PeerId>,
        now: Option<UnixTime>,
        seed: Option<&[u8]>,
    ) -> PyResult<Self> {
        let protocol = security_protocol(py, security)?;
        let seed = machine_seed(py, seed)?;
        let expected = expected_peer.map(|p| p.0);
        upgrade::Dialer::with_agreed_security(
            &config.config,
            protocol,
            expected,
            now_or_system(now),
            seed,
        )
        .map(|d| Self(Handle::new(d)))
        .map_err(|e| upgrade_error(py, &e))
    }
});

/// The listener's side of an upgrade: answers the dialer's proposal, runs the handshake
/// and learns (proves) the remote's PeerId, and answers the muxer selection. `now` and
/// `seed` as for `Dialer`.
#[pyclass(module = "p2psec._native")]
pub struct Listener(Handle<upgrade::Listener>);

upgrade_methods!(Listener {
    #[new]
    #[pyo3(signature = (config, *, now = None, seed = None))]
    fn new(
        py: Python<'_>,
        config: &UpgradeConfig,
        now: Option<UnixTime>,
        seed: Option<&[u8]>,
    ) -> PyResult<Self> {
        let seed = machine_seed(py, seed)?;
        upgrade::Listener::with_seed(&config.config, now_or_system(now), seed)
            .map(|l| Self(Handle::new(l)))
            .map_err(|e| upgrade_error(py, &e))
    }

    /// A listener whose security protocol was agreed elsewhere (see
    /// `Dialer.with_agreed_security`); `expected_peer`, if given, must be who the
    /// remote proves to be.
    #[staticmethod]
    #[pyo3(signature = (config, security, expected_peer = None, *, now = None, seed = None))]
    fn with_agreed_security(
        py: Python<'_>,
        config: &UpgradeConfig,
        security: &str,
        expected_peer: Option<&PeerId>,
        now: Option<UnixTime>,
        seed: Option<&[u8]>,
    ) -> PyResult<Self> {
        let protocol = security_protocol(py, security)?;
        let seed = machine_seed(py, seed)?;
        let expected = expected_peer.map(|p| p.0);
        upgrade::Listener::with_agreed_security(
            &config.config,
            protocol,
            expected,
            now_or_system(now),
            seed,
        )
            .map(|l| Self(Handle::new(l)))
            .map_err(|e| upgrade_error(py, &e))
    }
});
