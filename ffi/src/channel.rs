//! The secured channel an upgrade ends in: ciphertext in and out, plaintext for the muxer.

use core::ffi::c_char;

use p2psec::upgrade::{SecureChannel, Upgraded};

use crate::abi::{self, guard, guard_quiet, guard_value, Failure};
use crate::keys::p2psec_peer_id;
use crate::status::*;
use crate::upgrade::p2psec_security;

/// An established, secured channel (opaque). Poisoned by its first error, which every
/// later call returns again.
pub struct p2psec_channel {
    channel: SecureChannel,
    /// The muxer agreed (empty: none).
    muxer: String,
    error: Option<Failure>,
}

impl p2psec_channel {
    pub(crate) fn new(upgraded: Upgraded) -> Self {
        Self {
            channel: upgraded.channel,
            muxer: upgraded.muxer.unwrap_or_default(),
            error: None,
        }
    }

    /// The channel, unless it failed (then that failure, again).
    fn live(&mut self) -> Result<&mut SecureChannel, Failure> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(&mut self.channel),
        }
    }

    /// Runs `f` on the channel; its error poisons the handle, except a call out of order
    /// (a write after close), on which the library does not poison either.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut SecureChannel) -> Result<T, p2psec::upgrade::Error>,
    ) -> Result<T, Failure> {
        let result = f(self.live()?);
        result.map_err(|e| {
            if e.fault() == p2psec::Fault::ApiMisuse {
                return e.into();
            }
            self.error.get_or_insert_with(|| e.into()).clone()
        })
    }
}

/// The channel behind `h`, NULL refused.
///
/// # Safety
/// `h` must be NULL or live and unaliased.
unsafe fn channel<'a>(h: *mut p2psec_channel) -> Result<&'a mut p2psec_channel, Failure> {
    // SAFETY: forwarded contract
    unsafe { abi::handle_mut(h, "channel") }
}

/// Feeds `len` (> 0) bytes of ciphertext from the peer; `*consumed` gets how many were
/// taken (whole frames or records; keep the rest and offer it again with more).
///
/// # Safety
/// `h` must be NULL or live; `ptr` NULL or readable for `len`; `consumed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_handle_input(
    h: *mut p2psec_channel,
    ptr: *const u8,
    len: usize,
    consumed: *mut usize,
) -> p2psec_status {
    guard(|| {
        abi::require(consumed, "consumed")?;
        // SAFETY: forwarded contract
        let (c, bytes) = unsafe { (channel(h)?, abi::input(ptr, len, "ptr")?) };
        let n = c.run(|ch| ch.handle_input(bytes))?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(consumed, n, "consumed") }
    })
}

/// Copies received plaintext into `buf` (`cap` > 0 bytes); `*read` gets how many bytes.
/// P2PSEC_WOULD_BLOCK: nothing waiting (feed more input); P2PSEC_CLOSED: the peer closed
/// its side (TLS close_notify) and nothing is left.
///
/// # Safety
/// `h` must be NULL or live; `buf` NULL or writable for `cap`; `read` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_read(
    h: *mut p2psec_channel,
    buf: *mut u8,
    cap: usize,
    read: *mut usize,
) -> p2psec_status {
    guard(|| {
        abi::require(read, "read")?;
        // SAFETY: forwarded contract
        let (c, out) = unsafe { (channel(h)?, abi::output(buf, cap, "buf")?) };
        if out.is_empty() {
            return Err(Failure::invalid("buf has capacity 0"));
        }
        let n = c.run(|ch| ch.read(out))?;
        if n == 0 {
            return Err(if c.channel.is_peer_closed() {
                Failure::new(P2PSEC_CLOSED, "the peer closed the channel")
            } else {
                Failure::new(P2PSEC_WOULD_BLOCK, "no plaintext waiting")
            });
        }
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(read, n, "read") }
    })
}

/// Plaintext waiting for p2psec_channel_read, in bytes (0 for NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_readable(h: *const p2psec_channel) -> usize {
    // SAFETY: forwarded contract
    guard_value(0, || {
        unsafe { h.as_ref() }.map_or(0, |c| c.channel.readable())
    })
}

/// Encrypts `len` (> 0) bytes of plaintext for p2psec_channel_poll_transmit; `*accepted`
/// gets how many were taken (fewer, possibly 0, while earlier output waits to be sent:
/// send it and offer the rest again).
///
/// # Safety
/// `h` must be NULL or live; `ptr` NULL or readable for `len`; `accepted` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_write(
    h: *mut p2psec_channel,
    ptr: *const u8,
    len: usize,
    accepted: *mut usize,
) -> p2psec_status {
    guard(|| {
        abi::require(accepted, "accepted")?;
        // SAFETY: forwarded contract
        let (c, bytes) = unsafe { (channel(h)?, abi::input(ptr, len, "ptr")?) };
        let n = c.run(|ch| ch.write(bytes))?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(accepted, n, "accepted") }
    })
}

/// The ciphertext waiting for p2psec_channel_poll_transmit, in bytes (0 for NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_pending_transmit(h: *const p2psec_channel) -> usize {
    // SAFETY: forwarded contract
    guard_value(0, || {
        unsafe { h.as_ref() }.map_or(0, |c| c.channel.pending_transmit())
    })
}

/// Copies the ciphertext to send into `out` (`cap` bytes) and sets `*written` (0: nothing
/// to send); P2PSEC_BUFFER_TOO_SMALL sets `*written` to the size needed and takes
/// nothing. A failed channel still hands out its final alert.
///
/// # Safety
/// `h` must be NULL or live; `out` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_poll_transmit(
    h: *mut p2psec_channel,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        let c = unsafe { channel(h) }?;
        // SAFETY: forwarded contract
        unsafe { abi::transmit(out, cap, written, |buf| c.channel.poll_transmit_into(buf)) }
    })
}

/// We send nothing more: TLS queues its close_notify (take it with poll_transmit), Noise
/// and SECIO have no closing message (close the socket's write side).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_close(h: *mut p2psec_channel) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        unsafe { channel(h) }?.channel.close();
        Ok(())
    })
}

/// Whether the peer closed its side inside the channel (TLS close_notify; Noise and
/// SECIO: only the socket's end of stream says it).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_is_peer_closed(h: *const p2psec_channel) -> bool {
    // SAFETY: forwarded contract
    guard_value(false, || {
        unsafe { h.as_ref() }.is_some_and(|c| c.channel.is_peer_closed())
    })
}

/// The remote's proven PeerId, as a new handle.
///
/// # Safety
/// `h` must be NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_remote_peer_id(
    h: *const p2psec_channel,
    out: *mut *mut p2psec_peer_id,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let c = unsafe { abi::handle(h, "channel") }?;
        let id = p2psec_peer_id(c.channel.remote_peer_id());
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(id), "out") }
    })
}

/// Writes the remote's identity public key, in libp2p's protobuf encoding (`PublicKey`),
/// into `out` (`cap` bytes); `*written` gets its length, or the size needed with
/// P2PSEC_BUFFER_TOO_SMALL. It is the key the handshake's signature was checked against:
/// for RSA and ECDSA peers the PeerId holds only its hash.
///
/// # Safety
/// `h` must be NULL or live; `out` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_remote_public_key(
    h: *const p2psec_channel,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        let c = unsafe { abi::handle(h, "channel") }?;
        let encoded = c.channel.remote_public_key().encode_protobuf();
        // SAFETY: forwarded contract
        unsafe { abi::copy_out(out, cap, written, &encoded) }
    })
}

/// The security protocol of the channel (NONE for NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_security(h: *const p2psec_channel) -> p2psec_security {
    guard_value(p2psec_security::P2PSEC_SECURITY_NONE, || {
        // SAFETY: forwarded contract
        unsafe { h.as_ref() }.map_or(p2psec_security::P2PSEC_SECURITY_NONE, |c| {
            c.channel.security().into()
        })
    })
}

/// The muxer agreed during the upgrade (`/yamux/1.0.0`, ...), NUL-terminated into `buf`;
/// the empty string if no muxer was configured.
///
/// # Safety
/// `h` must be NULL or live; `buf` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_muxer(
    h: *const p2psec_channel,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        let c = unsafe { abi::handle(h, "channel") }?;
        // SAFETY: forwarded contract
        unsafe { abi::write_text(&c.muxer, buf, cap, written) }
    })
}

/// What protects the data (`TLS13_AES_128_GCM_SHA256`, `ChaChaPoly`, ...),
/// NUL-terminated into `buf`.
///
/// # Safety
/// `h` must be NULL or live; `buf` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_cipher(
    h: *const p2psec_channel,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        let c = unsafe { abi::handle(h, "channel") }?;
        // SAFETY: forwarded contract
        unsafe { abi::write_text(c.channel.cipher(), buf, cap, written) }
    })
}

/// The text of the channel's error, NUL-terminated into `buf`; empty if none.
///
/// # Safety
/// `h` must be NULL or live; `buf` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_last_error(
    h: *const p2psec_channel,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard_quiet(|| {
        // SAFETY: forwarded contract
        let c = unsafe { abi::handle(h, "channel") }?;
        let text = c.error.as_ref().map_or("", |e| e.message.as_str());
        // SAFETY: forwarded contract
        unsafe { abi::write_text(text, buf, cap, written) }
    })
}

/// The library's stable code of the channel's error; 0 if none (or NULL).
///
/// # Safety
/// `h` must be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_error_code(h: *const p2psec_channel) -> u16 {
    // SAFETY: forwarded contract
    guard_value(0, || {
        unsafe { h.as_ref() }
            .and_then(|c| c.error.as_ref())
            .map_or(0, |e| e.code)
    })
}

/// Frees the channel `*h` (wiping its keys) and sets `*h` to NULL.
///
/// # Safety
/// `h` must be NULL, or point to NULL or to a live channel.
#[no_mangle]
pub unsafe extern "C" fn p2psec_channel_free(h: *mut *mut p2psec_channel) {
    // SAFETY: forwarded contract
    guard_value((), || unsafe { abi::free(h) })
}
