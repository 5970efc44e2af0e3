//! The boundary: pointer checks, panic catching, error records and text output. Every
//! `unsafe` dereference of a caller pointer goes through one of these functions.

use core::ffi::{c_char, CStr};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::*;

/// Longest text input taken (a PeerId, a protocol list): anything longer is refused before
/// it is scanned further.
const MAX_TEXT_IN: usize = 4096;

/// A failure as C sees it: the status, the library's stable code (0 for failures of the
/// boundary itself) and the library's own error text.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) status: p2psec_status,
    pub(crate) code: u16,
    pub(crate) message: String,
}

impl Failure {
    /// A failure of the boundary: a bad argument or a call out of order.
    pub(crate) fn new(status: p2psec_status, message: impl Into<String>) -> Self {
        Self {
            status,
            code: 0,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(P2PSEC_INVALID_ARGUMENT, message)
    }
}

/// A library error, with its code, fault and text.
pub(crate) trait LibraryError: core::fmt::Display {
    fn code(&self) -> u16;
    fn fault(&self) -> p2psec::Fault;
}

macro_rules! library_error {
    ($($t:ty),*) => {$(
        impl LibraryError for $t {
            fn code(&self) -> u16 { <$t>::code(self) }
            fn fault(&self) -> p2psec::Fault { <$t>::fault(self) }
        }
    )*};
}
library_error!(p2psec::upgrade::Error, p2psec::identity::Error);

impl<E: LibraryError> From<E> for Failure {
    fn from(e: E) -> Self {
        Self {
            status: status_of(e.code(), e.fault()),
            code: e.code(),
            message: e.to_string(),
        }
    }
}

thread_local! {
    /// The last failure on this thread, for p2psec_last_error (documented global state).
    static LAST: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

fn remember(failure: &Failure) {
    LAST.with(|l| *l.borrow_mut() = Some(failure.clone()));
}

/// Runs `body` at the boundary: a failure is remembered for p2psec_last_error and turned
/// into its status, a panic into P2PSEC_PANIC.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> p2psec_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => P2PSEC_OK,
        Ok(Err(f)) => {
            // these are answers, not failures: the failure remembered stays the last one
            if !matches!(
                f.status,
                P2PSEC_WOULD_BLOCK | P2PSEC_NOT_COMPLETE | P2PSEC_BUFFER_TOO_SMALL
            ) {
                remember(&f);
            }
            f.status
        }
        Err(_) => {
            remember(&Failure::new(
                P2PSEC_PANIC,
                "a panic inside p2psec was caught at the C boundary",
            ));
            P2PSEC_PANIC
        }
    }
}

/// [`guard`] without remembering the failure: for the functions that report failures, so
/// that asking for an error text with too small a buffer does not replace that text.
pub(crate) fn guard_quiet(body: impl FnOnce() -> Result<(), Failure>) -> p2psec_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => P2PSEC_OK,
        Ok(Err(f)) => f.status,
        Err(_) => P2PSEC_PANIC,
    }
}

/// [`guard`] for functions that answer a value instead of a status (`fallback` on panic).
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The bytes at `ptr`; NULL or a zero length is refused (`what` names the argument).
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes for the returned lifetime.
pub(crate) unsafe fn input<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    if len == 0 {
        return Err(Failure::invalid(format!("{what} has length 0")));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "{what} is longer than isize::MAX"
        )));
    }
    // SAFETY: non-null, and the caller promises `len` readable bytes
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// A caller's output buffer; NULL is allowed only with `cap == 0` (a size query).
///
/// # Safety
/// `ptr` must be NULL or valid for writes of `cap` bytes for the returned lifetime.
pub(crate) unsafe fn output<'a>(
    ptr: *mut u8,
    cap: usize,
    what: &str,
) -> Result<&'a mut [u8], Failure> {
    if ptr.is_null() {
        return if cap == 0 {
            Ok(&mut [])
        } else {
            Err(Failure::invalid(format!(
                "{what} is NULL with capacity {cap}"
            )))
        };
    }
    if cap > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "{what}'s capacity is above isize::MAX"
        )));
    }
    // SAFETY: non-null, and the caller promises `cap` writable bytes
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, cap) })
}

/// Exactly 32 bytes at `ptr`, or `None` for NULL (the argument is optional).
///
/// # Safety
/// `ptr` must be NULL or valid for reads of 32 bytes.
pub(crate) unsafe fn seed(ptr: *const u8) -> Option<zeroize::Zeroizing<[u8; 32]>> {
    if ptr.is_null() {
        return None;
    }
    let mut s = zeroize::Zeroizing::new([0u8; 32]);
    // SAFETY: non-null, and the caller promises 32 readable bytes
    s.copy_from_slice(unsafe { core::slice::from_raw_parts(ptr, 32) });
    Some(s)
}

/// NUL-terminated UTF-8 text at `ptr`, at most [`MAX_TEXT_IN`] bytes.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string (or at least MAX_TEXT_IN + 1
/// readable bytes).
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // bounded scan for the NUL, so an unterminated buffer is refused, not overrun
    let mut len = 0;
    // SAFETY: each byte read is at or before the NUL (or the bound), which the caller
    // promises is readable
    while len <= MAX_TEXT_IN && unsafe { *ptr.add(len) } != 0 {
        len += 1;
    }
    if len > MAX_TEXT_IN {
        return Err(Failure::invalid(format!(
            "{what} is longer than {MAX_TEXT_IN} bytes"
        )));
    }
    // SAFETY: `len` bytes followed by a NUL were just read
    let cstr = unsafe {
        CStr::from_bytes_with_nul_unchecked(core::slice::from_raw_parts(ptr.cast(), len + 1))
    };
    cstr.to_str()
        .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}

/// A shared reference to a handle; NULL is refused.
///
/// # Safety
/// `ptr` must be NULL or a live handle of this type from this library.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller promises a live handle or NULL
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// An exclusive reference to a handle; NULL is refused.
///
/// # Safety
/// `ptr` must be NULL or a live handle of this type, not used elsewhere meanwhile.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller promises a live, unaliased handle or NULL
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// Writes `value` through an out pointer; NULL is refused.
///
/// # Safety
/// `ptr` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(ptr: *mut T, value: T, what: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-null, and the caller promises it is writable
    unsafe { ptr.write(value) };
    Ok(())
}

/// Checks an out pointer before any work is done, so a NULL one costs nothing.
pub(crate) fn require<T>(ptr: *mut T, what: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        Err(Failure::invalid(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// Moves `value` into a new handle for C.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees the handle `*slot` points to and sets `*slot` to NULL.
///
/// # Safety
/// `slot` must be NULL or point to NULL or to a live handle of this type from this library.
pub(crate) unsafe fn free<T>(slot: *mut *mut T) {
    if slot.is_null() {
        return;
    }
    // SAFETY: the caller promises a readable slot
    let ptr = unsafe { slot.replace(core::ptr::null_mut()) };
    if !ptr.is_null() {
        // SAFETY: made by `into_handle` (Box::into_raw) and not freed since: its slot
        // still held it
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Copies `text` and a NUL into `buf`; `*written` gets its length, or on
/// BUFFER_TOO_SMALL the capacity needed (length + 1).
///
/// # Safety
/// As [`output`] for `buf`/`cap`; `written` must be NULL or writable.
pub(crate) unsafe fn write_text(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> Result<(), Failure> {
    require(written, "written")?;
    let needed = text.len() + 1;
    // SAFETY: forwarded contract
    let out = unsafe { output(buf.cast(), cap, "buf") }?;
    if out.len() < needed {
        // SAFETY: checked non-null above
        unsafe { written.write(needed) };
        return Err(Failure::new(
            P2PSEC_BUFFER_TOO_SMALL,
            format!("the text needs {needed} bytes, the buffer has {cap}"),
        ));
    }
    out[..text.len()].copy_from_slice(text.as_bytes());
    out[text.len()] = 0;
    // SAFETY: checked non-null above
    unsafe { written.write(text.len()) };
    Ok(())
}

/// Fills `buf` by `fill` (a machine's `poll_transmit_into`), or reports the size needed.
///
/// # Safety
/// As [`output`] for `out`/`cap`; `written` must be NULL or writable.
pub(crate) unsafe fn transmit(
    out: *mut u8,
    cap: usize,
    written: *mut usize,
    fill: impl FnOnce(&mut [u8]) -> Result<usize, p2psec::InsufficientSize>,
) -> Result<(), Failure> {
    require(written, "written")?;
    // SAFETY: forwarded contract
    let buf = unsafe { output(out, cap, "out") }?;
    match fill(buf) {
        Ok(n) => {
            // SAFETY: checked non-null above
            unsafe { written.write(n) };
            Ok(())
        }
        Err(p2psec::InsufficientSize { required }) => {
            // SAFETY: checked non-null above
            unsafe { written.write(required) };
            Err(Failure::new(
                P2PSEC_BUFFER_TOO_SMALL,
                format!("the output needs {required} bytes, the buffer has {cap}"),
            ))
        }
    }
}

/// Copies `bytes` into the caller's buffer, or reports the size needed.
///
/// # Safety
/// As [`transmit`].
pub(crate) unsafe fn copy_out(
    out: *mut u8,
    cap: usize,
    written: *mut usize,
    bytes: &[u8],
) -> Result<(), Failure> {
    // SAFETY: forwarded contract
    unsafe {
        transmit(out, cap, written, |buf| match buf.get_mut(..bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                Ok(bytes.len())
            }
            None => Err(p2psec::InsufficientSize {
                required: bytes.len(),
            }),
        })
    }
}

/// p2psec_last_error: the text of the last failure on the calling thread.
///
/// # Safety
/// As [`write_text`].
pub(crate) unsafe fn last_error(
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> Result<(), Failure> {
    let message = LAST.with(|l| l.borrow().as_ref().map(|f| f.message.clone()));
    // SAFETY: forwarded contract
    unsafe { write_text(message.as_deref().unwrap_or(""), buf, cap, written) }
}

/// p2psec_last_error_code: the library code of the last failure on the calling thread.
pub(crate) fn last_error_code() -> u16 {
    LAST.with(|l| l.borrow().as_ref().map_or(0, |f| f.code))
}

/// Runs a panicking body through [`guard`]: lets the tests reach P2PSEC_PANIC, which no
/// input can (a panic in the library would be a bug). Not part of the C ABI.
#[doc(hidden)]
pub fn panic_probe() -> p2psec_status {
    guard(|| panic!("the test probe panics on purpose"))
}
