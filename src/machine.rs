//! The one shape of every p2psec state machine (STYLE.md): bytes from the peer in, bytes
//! for the peer and events out, no I/O, no clock, no hidden randomness.
//!
//! Each machine also has these verbs as inherent methods (callers need not import the
//! trait); the trait lets one driver, one fuzz loop or one binding serve them all.
//!
//! # Call contract (the same for every machine)
//! 1. Feed every byte from the peer to [`Machine::handle_input`]; it consumes what it can
//!    use and returns how many bytes. Keep the rest and hand it over again with the next
//!    bytes: unconsumed bytes after completion belong to the next layer.
//! 2. Send what [`Machine::poll_transmit`] appends, and drain [`Machine::poll_event`],
//!    after every call that may have produced either (construction included).
//! 3. After an error the machine is poisoned: `handle_input` returns the same error again;
//!    `poll_transmit` may still hand out the one final message the protocol requires (a
//!    TLS alert, a multistream `na`), then nothing; no event follows the error.
//! 4. A handshake ends in a consuming call that yields the session (`into_session`): it
//!    never drops the machine. Called too early, or after an error, it hands the machine
//!    back inside an [`Incomplete`] with the reason.

use alloc::vec::Vec;

/// A sans-IO protocol machine.
pub trait Machine {
    /// What the machine reports: a negotiated protocol, a verified peer, completion.
    type Event;
    /// Why the machine failed: its layer's error enum.
    type Error;

    /// Bytes from the peer; returns how many were consumed (the rest stays with the
    /// caller).
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Self::Error>;

    /// Appends the bytes to send to the peer now; returns how many were appended.
    #[must_use]
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;

    /// The bytes [`Machine::poll_transmit`] would append now. It may prepare them (a
    /// machine that gathers output from an inner one moves it into its own queue here),
    /// so it takes `&mut self`; nothing is taken.
    fn pending_transmit(&mut self) -> usize;

    /// Copies everything [`Machine::poll_transmit`] would append into the start of `buf`
    /// and returns its length (the bindings' form: the caller's buffer, no `Vec`). If it
    /// does not fit, nothing is taken, `buf` is untouched, and the error says how many
    /// bytes are needed: call again with a buffer that large.
    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, InsufficientSize>;

    /// The next event, if any.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// Whether the machine has finished its job, successfully.
    fn is_complete(&self) -> bool;
}

/// An output buffer too small for what a machine has to send: nothing was taken and the
/// buffer is untouched; a buffer of `required` bytes takes it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsufficientSize {
    /// The bytes waiting to be sent: the smallest buffer that takes them.
    pub required: usize,
}

impl core::fmt::Display for InsufficientSize {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "output buffer too small: {} bytes wait to be sent",
            self.required
        )
    }
}

impl core::error::Error for InsufficientSize {}

/// The machines' `poll_transmit_into`: moves all of `queue` into the start of `buf`, or,
/// if it does not fit, leaves both alone and says how large `buf` must be.
pub(crate) fn take_into(queue: &mut Vec<u8>, buf: &mut [u8]) -> Result<usize, InsufficientSize> {
    let required = queue.len();
    let Some(dst) = buf.get_mut(..required) else {
        return Err(InsufficientSize { required });
    };
    dst.copy_from_slice(queue);
    queue.clear();
    Ok(required)
}

/// A consuming completion call (`into_session`) that could not complete: the machine
/// comes back whole, with the reason, so nothing it holds is lost (its unsent output,
/// its final alert) and the caller may go on driving it. `error` is the layer's own:
/// its `ApiMisuse` when the call came too early (the machine is unchanged and usable), or
/// the error the machine failed with earlier (it stays poisoned).
pub struct Incomplete<M: Machine> {
    /// The machine, as it was before the call.
    pub machine: M,
    /// Why it could not complete.
    pub error: M::Error,
}

impl<M: Machine> Incomplete<M> {
    /// Drops the machine and keeps the reason.
    pub fn into_error(self) -> M::Error {
        self.error
    }
}

impl<M: Machine + core::fmt::Debug> core::fmt::Debug for Incomplete<M>
where
    M::Error: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Incomplete")
            .field("machine", &self.machine)
            .field("error", &self.error)
            .finish()
    }
}

impl<M: Machine> core::fmt::Display for Incomplete<M>
where
    M::Error: core::fmt::Display,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.error.fmt(f)
    }
}

impl<M: Machine + core::fmt::Debug> core::error::Error for Incomplete<M>
where
    M::Error: core::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.error.source()
    }
}

#[cfg(test)]
mod tests;
