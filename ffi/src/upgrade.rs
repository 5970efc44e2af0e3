//! The upgrade machines: dialer and listener, with the same verbs. The extern functions
//! are thin: each calls the one generic body in [`Handle`].

use core::ffi::c_char;

use p2psec::upgrade::{self, Dialer, Event, Listener, SecurityProtocol, Upgraded};
use p2psec::Machine;

use crate::abi::{self, guard, guard_quiet, guard_value, Failure};
use crate::channel::p2psec_channel;
use crate::config::{self, p2psec_config};
use crate::keys::p2psec_peer_id;
use crate::status::*;

/// Room for a PeerId's base58 text and its NUL (the longest, an inlined key, is 62 bytes).
pub const P2PSEC_PEER_ID_TEXT_MAX: usize = 128;

/// A security protocol.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2psec_security {
    /// None yet (an event that does not carry one).
    P2PSEC_SECURITY_NONE = 0,
    /// `/noise`.
    P2PSEC_SECURITY_NOISE = 1,
    /// `/tls/1.0.0`.
    P2PSEC_SECURITY_TLS = 2,
    /// `/secio/1.0.0` (deprecated; only in builds with it).
    P2PSEC_SECURITY_SECIO = 3,
}

impl From<SecurityProtocol> for p2psec_security {
    fn from(p: SecurityProtocol) -> Self {
        match p.name() {
            "noise" => Self::P2PSEC_SECURITY_NOISE,
            "tls" => Self::P2PSEC_SECURITY_TLS,
            "secio" => Self::P2PSEC_SECURITY_SECIO,
            _ => Self::P2PSEC_SECURITY_NONE,
        }
    }
}

/// What an upgrade reports.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2psec_event_kind {
    /// multistream-select agreed on `security`.
    P2PSEC_EVENT_SECURITY_AGREED = 1,
    /// The remote proved the identity `peer_id`.
    P2PSEC_EVENT_REMOTE_IDENTIFIED = 2,
    /// The upgrade is complete: take the channel with `_into_channel`.
    P2PSEC_EVENT_COMPLETE = 3,
}

/// An event: `kind` says which fields mean something.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct p2psec_event {
    /// Which event.
    pub kind: p2psec_event_kind,
    /// P2PSEC_EVENT_SECURITY_AGREED: the protocol agreed (otherwise NONE).
    pub security: p2psec_security,
    /// P2PSEC_EVENT_REMOTE_IDENTIFIED: the remote's PeerId as base58 text, NUL-terminated
    /// (otherwise the empty string).
    pub peer_id: [c_char; P2PSEC_PEER_ID_TEXT_MAX],
}

impl p2psec_event {
    fn new(kind: p2psec_event_kind) -> Self {
        Self {
            kind,
            security: p2psec_security::P2PSEC_SECURITY_NONE,
            peer_id: [0; P2PSEC_PEER_ID_TEXT_MAX],
        }
    }

    /// The C form of an event; `None` for events this ABI does not carry yet.
    fn from_event(event: Event) -> Option<Self> {
        match event {
            Event::SecurityAgreed(p) => {
                let mut e = Self::new(p2psec_event_kind::P2PSEC_EVENT_SECURITY_AGREED);
                e.security = p.into();
                Some(e)
            }
            Event::RemoteIdentified { peer_id } => {
                let mut e = Self::new(p2psec_event_kind::P2PSEC_EVENT_REMOTE_IDENTIFIED);
                let text = peer_id.to_base58();
                // PeerId text is at most 62 bytes: the bound leaves room for the NUL
                for (dst, src) in e
                    .peer_id
                    .iter_mut()
                    .zip(text.bytes().take(P2PSEC_PEER_ID_TEXT_MAX - 1))
                {
                    *dst = src as c_char;
                }
                Some(e)
            }
            Event::Complete => Some(Self::new(p2psec_event_kind::P2PSEC_EVENT_COMPLETE)),
            _ => None,
        }
    }
}

/// An upgrade in progress as dialer (opaque). Poisoned by its first error, which every
/// later call returns again.
pub struct p2psec_dialer(Handle<Dialer>);

/// An upgrade in progress as listener (opaque). Poisoned by its first error.
pub struct p2psec_listener(Handle<Listener>);

/// The two machines, as the handles finish them.
trait Upgrade: Machine<Event = Event, Error = upgrade::Error> {
    fn into_upgraded(self) -> Result<Upgraded, upgrade::Error>;
}

impl Upgrade for Dialer {
    fn into_upgraded(self) -> Result<Upgraded, upgrade::Error> {
        Dialer::into_upgraded(self)
    }
}

impl Upgrade for Listener {
    fn into_upgraded(self) -> Result<Upgraded, upgrade::Error> {
        Listener::into_upgraded(self)
    }
}

/// A machine and its first error. `machine` is `None` only after a failed
/// `into_upgraded`, whose error is then in `error`.
struct Handle<M> {
    machine: Option<M>,
    error: Option<Failure>,
}

impl<M: Upgrade> Handle<M> {
    fn new(machine: M) -> Self {
        Self {
            machine: Some(machine),
            error: None,
        }
    }

    /// The machine, unless a failure is recorded (then that failure, again).
    fn live(&mut self) -> Result<&mut M, Failure> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.machine
            .as_mut()
            .ok_or_else(|| Failure::new(P2PSEC_API_MISUSE, "the upgrade was already finished"))
    }

    fn fail(&mut self, failure: Failure) -> Failure {
        self.error.get_or_insert(failure).clone()
    }

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Failure> {
        let result = self.live()?.handle_input(bytes);
        result.map_err(|e| self.fail(e.into()))
    }

    fn pending_transmit(&mut self) -> usize {
        self.machine.as_mut().map_or(0, |m| m.pending_transmit())
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, p2psec::InsufficientSize> {
        // a failed machine may still have its final message (an alert, `na`) to send
        self.machine
            .as_mut()
            .map_or(Ok(0), |m| m.poll_transmit_into(buf))
    }

    fn poll_event(&mut self) -> Result<p2psec_event, Failure> {
        let machine = self.live()?;
        loop {
            let Some(event) = machine.poll_event() else {
                return Err(Failure::new(P2PSEC_WOULD_BLOCK, "no event waiting"));
            };
            if let Some(e) = p2psec_event::from_event(event) {
                return Ok(e);
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.error.is_none() && self.machine.as_ref().is_some_and(|m| m.is_complete())
    }

    /// The channel, if complete; the handle stays the caller's otherwise.
    fn finish(&mut self) -> Result<p2psec_channel, Failure> {
        let machine = self.live()?;
        if !machine.is_complete() {
            return Err(Failure::new(
                P2PSEC_NOT_COMPLETE,
                "the upgrade is not complete",
            ));
        }
        let machine = self
            .machine
            .take()
            .ok_or_else(|| Failure::new(P2PSEC_API_MISUSE, "no machine"))?;
        match machine.into_upgraded() {
            Ok(upgraded) => Ok(p2psec_channel::new(upgraded)),
            Err(e) => Err(self.fail(e.into())),
        }
    }

    fn error_code(&self) -> u16 {
        self.error.as_ref().map_or(0, |e| e.code)
    }
}

/// The expected PeerId behind an optional handle.
///
/// # Safety
/// `expected` must be NULL or live.
unsafe fn expected_peer(expected: *const p2psec_peer_id) -> Option<p2psec::PeerId> {
    // SAFETY: forwarded contract
    unsafe { expected.as_ref() }.map(|id| id.0)
}

/// The seed for a machine: the caller's 32 bytes, or fresh ones from the OS.
fn machine_seed(seed: Option<zeroize::Zeroizing<[u8; 32]>>) -> zeroize::Zeroizing<[u8; 32]> {
    seed.unwrap_or_else(|| {
        let mut s = zeroize::Zeroizing::new([0u8; 32]);
        config::rng(None).fill_bytes(&mut s[..]);
        s
    })
}

/// Starts an upgrade as dialer at `now_unix` (Unix seconds, for certificate validity).
/// `expected` (the `/p2p/` part of the address dialed, or NULL) makes the upgrade fail
/// with P2PSEC_PEER_ID_MISMATCH if the listener proves another identity. The 32 bytes at
/// `seed` become the handshake's ephemeral secret (never reuse them); NULL draws them
/// from the OS.
///
/// # Safety
/// `config` and `expected` must be NULL or live; `seed` NULL or readable for 32 bytes;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_new(
    config: *const p2psec_config,
    expected: *const p2psec_peer_id,
    now_unix: u64,
    seed: *const u8,
    out: *mut *mut p2psec_dialer,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let (c, expected, seed) = unsafe {
            (
                abi::handle(config, "config")?,
                expected_peer(expected),
                abi::seed(seed),
            )
        };
        let dialer = Dialer::with_seed(&c.config, expected, now_unix, machine_seed(seed))?;
        let handle = p2psec_dialer(Handle::new(dialer));
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(handle), "out") }
    })
}

/// Starts an upgrade as listener at `now_unix`; `seed` as for p2psec_dialer_new.
///
/// # Safety
/// `config` must be NULL or live; `seed` NULL or readable for 32 bytes; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_new(
    config: *const p2psec_config,
    now_unix: u64,
    seed: *const u8,
    out: *mut *mut p2psec_listener,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let (c, seed) = unsafe { (abi::handle(config, "config")?, abi::seed(seed)) };
        let listener = Listener::with_seed(&c.config, now_unix, machine_seed(seed))?;
        let handle = p2psec_listener(Handle::new(listener));
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(handle), "out") }
    })
}

// The bodies both roles share; the extern functions below only pick the role.

/// # Safety
/// `h` NULL or live; `ptr` NULL or readable for `len`; `consumed` NULL or writable.
unsafe fn handle_input<M: Upgrade>(
    h: Option<&mut Handle<M>>,
    ptr: *const u8,
    len: usize,
    consumed: *mut usize,
) -> p2psec_status {
    guard(|| {
        abi::require(consumed, "consumed")?;
        let h = h.ok_or_else(|| Failure::invalid("the handle is NULL"))?;
        // SAFETY: forwarded contract
        let bytes = unsafe { abi::input(ptr, len, "ptr") }?;
        let n = h.handle_input(bytes)?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(consumed, n, "consumed") }
    })
}

fn pending_transmit<M: Upgrade>(h: Option<&mut Handle<M>>) -> usize {
    guard_value(0, || h.map_or(0, |h| h.pending_transmit()))
}

/// # Safety
/// `out` NULL or writable for `cap`; `written` NULL or writable.
unsafe fn poll_transmit<M: Upgrade>(
    h: Option<&mut Handle<M>>,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard(|| {
        let h = h.ok_or_else(|| Failure::invalid("the handle is NULL"))?;
        // SAFETY: forwarded contract
        unsafe { abi::transmit(out, cap, written, |buf| h.poll_transmit_into(buf)) }
    })
}

/// # Safety
/// `event` NULL or writable.
unsafe fn poll_event<M: Upgrade>(
    h: Option<&mut Handle<M>>,
    event: *mut p2psec_event,
) -> p2psec_status {
    guard(|| {
        abi::require(event, "event")?;
        let h = h.ok_or_else(|| Failure::invalid("the handle is NULL"))?;
        let e = h.poll_event()?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(event, e, "event") }
    })
}

/// # Safety
/// `slot` NULL or readable (holding NULL or a live handle `H` wrapping `Handle<M>`);
/// `out` NULL or writable.
unsafe fn into_channel<M: Upgrade, H>(
    slot: *mut *mut H,
    inner: impl FnOnce(&mut H) -> &mut Handle<M>,
    out: *mut *mut p2psec_channel,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        abi::require(slot, "h")?;
        // SAFETY: checked non-null; the caller promises a readable slot and a live handle
        let handle = unsafe { abi::handle_mut(*slot, "*h") }?;
        let channel = inner(handle).finish()?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(channel), "out")? };
        // SAFETY: the slot holds a live handle (checked above), made by into_handle
        unsafe { abi::free(slot) };
        Ok(())
    })
}

/// # Safety
/// `buf` NULL or writable for `cap`; `written` NULL or writable.
unsafe fn last_error<M: Upgrade>(
    h: Option<&Handle<M>>,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard_quiet(|| {
        let h = h.ok_or_else(|| Failure::invalid("the handle is NULL"))?;
        let text = h.error.as_ref().map_or("", |e| e.message.as_str());
        // SAFETY: forwarded contract
        unsafe { abi::write_text(text, buf, cap, written) }
    })
}

// ---- the dialer's functions ----

/// Feeds `len` (> 0) bytes from the peer to the dialer; `*consumed` gets how many it
/// took (never past the end of the upgrade: the rest belongs to the channel). After an
/// error the dialer is poisoned and returns that error again.
///
/// # Safety
/// `h` must be NULL or live; `ptr` NULL or readable for `len`; `consumed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_handle_input(
    h: *mut p2psec_dialer,
    ptr: *const u8,
    len: usize,
    consumed: *mut usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { handle_input(h.as_mut().map(|h| &mut h.0), ptr, len, consumed) }
}

/// The bytes the dialer has to send now (0 for NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_pending_transmit(h: *mut p2psec_dialer) -> usize {
    // SAFETY: forwarded contract
    pending_transmit(unsafe { h.as_mut() }.map(|h| &mut h.0))
}

/// Copies the bytes the dialer has to send into `out` (`cap` bytes) and sets `*written`
/// (0: nothing to send). If they do not fit, nothing is taken and
/// P2PSEC_BUFFER_TOO_SMALL sets `*written` to the size needed. A failed dialer still
/// hands out its last message (a TLS alert, a multistream refusal).
///
/// # Safety
/// `h` must be NULL or live; `out` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_poll_transmit(
    h: *mut p2psec_dialer,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { poll_transmit(h.as_mut().map(|h| &mut h.0), out, cap, written) }
}

/// The dialer's next event into `*event`: P2PSEC_OK, or P2PSEC_WOULD_BLOCK when none is
/// waiting.
///
/// # Safety
/// `h` must be NULL or live; `event` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_poll_event(
    h: *mut p2psec_dialer,
    event: *mut p2psec_event,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { poll_event(h.as_mut().map(|h| &mut h.0), event) }
}

/// Whether the dialer's upgrade is complete (false for NULL or a failed one).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_is_complete(h: *const p2psec_dialer) -> bool {
    // SAFETY: forwarded contract
    guard_value(false, || {
        unsafe { h.as_ref() }.is_some_and(|h| h.0.is_complete())
    })
}

/// Ends a complete upgrade: `*out` gets the secured channel, and the dialer `*h` is freed
/// and set to NULL. Unsent output and plaintext that arrived early move into the channel.
/// Otherwise (P2PSEC_NOT_COMPLETE, an error) `*h` stays the caller's.
///
/// # Safety
/// `h` must be NULL or point to NULL or to a live dialer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_into_channel(
    h: *mut *mut p2psec_dialer,
    out: *mut *mut p2psec_channel,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { into_channel(h, |h: &mut p2psec_dialer| &mut h.0, out) }
}

/// The text of the dialer's error (the library's own, naming what was wrong),
/// NUL-terminated into `buf`; the empty string if it has none.
///
/// # Safety
/// `h` must be NULL or live; `buf` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_last_error(
    h: *const p2psec_dialer,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { last_error(h.as_ref().map(|h| &h.0), buf, cap, written) }
}

/// The library's stable code (`LGNN`) of the dialer's error; 0 if none (or NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_error_code(h: *const p2psec_dialer) -> u16 {
    // SAFETY: forwarded contract
    guard_value(0, || unsafe { h.as_ref() }.map_or(0, |h| h.0.error_code()))
}

/// Frees the dialer `*h` and sets `*h` to NULL.
///
/// # Safety
/// `h` must be NULL, or point to NULL or to a live dialer.
#[no_mangle]
pub unsafe extern "C" fn p2psec_dialer_free(h: *mut *mut p2psec_dialer) {
    // SAFETY: forwarded contract
    guard_value((), || unsafe { abi::free(h) })
}

// ---- the listener's functions ----

/// Feeds `len` (> 0) bytes from the peer to the listener; `*consumed` gets how many it
/// took (never past the end of the upgrade: the rest belongs to the channel). After an
/// error the listener is poisoned and returns that error again.
///
/// # Safety
/// `h` must be NULL or live; `ptr` NULL or readable for `len`; `consumed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_handle_input(
    h: *mut p2psec_listener,
    ptr: *const u8,
    len: usize,
    consumed: *mut usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { handle_input(h.as_mut().map(|h| &mut h.0), ptr, len, consumed) }
}

/// The bytes the listener has to send now (0 for NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_pending_transmit(h: *mut p2psec_listener) -> usize {
    // SAFETY: forwarded contract
    pending_transmit(unsafe { h.as_mut() }.map(|h| &mut h.0))
}

/// Copies the bytes the listener has to send into `out` (`cap` bytes) and sets `*written`
/// (0: nothing to send). If they do not fit, nothing is taken and
/// P2PSEC_BUFFER_TOO_SMALL sets `*written` to the size needed. A failed listener still
/// hands out its last message (a TLS alert, a multistream refusal).
///
/// # Safety
/// `h` must be NULL or live; `out` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_poll_transmit(
    h: *mut p2psec_listener,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { poll_transmit(h.as_mut().map(|h| &mut h.0), out, cap, written) }
}

/// The listener's next event into `*event`: P2PSEC_OK, or P2PSEC_WOULD_BLOCK when none is
/// waiting.
///
/// # Safety
/// `h` must be NULL or live; `event` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_poll_event(
    h: *mut p2psec_listener,
    event: *mut p2psec_event,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { poll_event(h.as_mut().map(|h| &mut h.0), event) }
}

/// Whether the listener's upgrade is complete (false for NULL or a failed one).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_is_complete(h: *const p2psec_listener) -> bool {
    // SAFETY: forwarded contract
    guard_value(false, || {
        unsafe { h.as_ref() }.is_some_and(|h| h.0.is_complete())
    })
}

/// Ends a complete upgrade: `*out` gets the secured channel, and the listener `*h` is freed
/// and set to NULL. Unsent output and plaintext that arrived early move into the channel.
/// Otherwise (P2PSEC_NOT_COMPLETE, an error) `*h` stays the caller's.
///
/// # Safety
/// `h` must be NULL or point to NULL or to a live listener; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_into_channel(
    h: *mut *mut p2psec_listener,
    out: *mut *mut p2psec_channel,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { into_channel(h, |h: &mut p2psec_listener| &mut h.0, out) }
}

/// The text of the listener's error (the library's own, naming what was wrong),
/// NUL-terminated into `buf`; the empty string if it has none.
///
/// # Safety
/// `h` must be NULL or live; `buf` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_last_error(
    h: *const p2psec_listener,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe { last_error(h.as_ref().map(|h| &h.0), buf, cap, written) }
}

/// The library's stable code (`LGNN`) of the listener's error; 0 if none (or NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_error_code(h: *const p2psec_listener) -> u16 {
    // SAFETY: forwarded contract
    guard_value(0, || unsafe { h.as_ref() }.map_or(0, |h| h.0.error_code()))
}

/// Frees the listener `*h` and sets `*h` to NULL.
///
/// # Safety
/// `h` must be NULL, or point to NULL or to a live listener.
#[no_mangle]
pub unsafe extern "C" fn p2psec_listener_free(h: *mut *mut p2psec_listener) {
    // SAFETY: forwarded contract
    guard_value((), || unsafe { abi::free(h) })
}

/// The text of the last failure on the calling thread (any function), NUL-terminated
/// into `buf`; the empty string if none. The one piece of global state: thread-local.
///
/// # Safety
/// `buf` must be NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_last_error(
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    guard_quiet(|| unsafe { abi::last_error(buf, cap, written) })
}

/// The library's stable code of the last failure on the calling thread; 0 if none or if
/// the failure was the boundary's own (a NULL pointer, a bad length).
#[no_mangle]
pub extern "C" fn p2psec_last_error_code() -> u16 {
    guard_value(0, abi::last_error_code)
}
