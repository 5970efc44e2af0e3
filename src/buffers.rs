//! The two buffers every transport session keeps (Noise, SECIO, TLS): the received
//! plaintext that waits for `read`, and the sealed output that waits for `poll_transmit`.
//! One implementation, so the sessions differ only in how they open and seal frames.

use alloc::vec::Vec;

use crate::machine::InsufficientSize;

/// Opened plaintext: `buf[start..]` waits for `read`. Frames are opened onto its end.
/// (TLS keeps its own: it opens records straight into the caller's read buffer.)
#[cfg(any(feature = "noise", feature = "secio"))]
#[derive(Default)]
pub(crate) struct Plaintext {
    buf: Vec<u8>,
    start: usize,
}

#[cfg(any(feature = "noise", feature = "secio"))]
impl Plaintext {
    /// The buffer to open frames onto (appended at its end); emptied first once all of it
    /// was read, so it does not grow while the reader keeps up.
    pub(crate) fn fill_end(&mut self) -> &mut Vec<u8> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        &mut self.buf
    }

    /// Bytes waiting for `read`.
    pub(crate) fn readable(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The bytes waiting for `read`, without taking them.
    pub(crate) fn peek(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Drops the first `n` waiting bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Gives the allocation back when nothing waits (an idle connection keeps no room).
    pub(crate) fn release(&mut self) {
        if self.readable() == 0 {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    /// The bytes allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Copies waiting bytes into `out`; returns how many.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let waiting = self.peek();
        let n = waiting.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), waiting.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume(n);
        n
    }
}

/// Sealed bytes waiting for `poll_transmit`.
#[derive(Default)]
pub(crate) struct Outgoing(Vec<u8>);

impl Outgoing {
    /// A queue that starts with `bytes`.
    #[cfg(feature = "tls")]
    pub(crate) fn from_vec(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The queue, to seal onto its end.
    pub(crate) fn fill_end(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }

    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Gives the allocation back when nothing waits.
    pub(crate) fn release(&mut self) {
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
    }

    /// The bytes allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Appends everything waiting to `out`; returns how many bytes. An empty `out` gets
    /// our buffer instead of a copy (the caller's becomes ours).
    pub(crate) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.0.len();
        if out.is_empty() {
            core::mem::swap(out, &mut self.0);
        } else {
            out.append(&mut self.0);
        }
        n
    }

    /// Everything waiting into the start of `buf`, or nothing and the size needed.
    pub(crate) fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, InsufficientSize> {
        crate::machine::take_into(&mut self.0, buf)
    }

    /// Drops everything waiting (a failed session sends its alert and nothing else).
    #[cfg(feature = "tls")]
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Puts `earlier` (the layer before's output) ahead of what waits.
    pub(crate) fn prepend(&mut self, mut earlier: Vec<u8>) {
        if !earlier.is_empty() {
            earlier.append(&mut self.0);
            self.0 = earlier;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(feature = "noise", feature = "secio"))]
    #[test]
    fn plaintext_reads_in_order_and_empties_itself() {
        let mut p = Plaintext::default();
        p.fill_end().extend_from_slice(b"hello world");
        let mut buf = [0u8; 5];
        assert_eq!(p.read(&mut buf), 5);
        assert_eq!(&buf, b"hello");
        assert_eq!(p.peek(), b" world");
        p.consume(6);
        assert_eq!(p.readable(), 0);
        p.fill_end().extend_from_slice(b"x");
        assert_eq!(p.peek(), b"x");
        p.release();
        assert_eq!(p.peek(), b"x", "waiting bytes are kept");
        p.consume(1);
        p.release();
        assert_eq!(p.capacity(), 0);
    }

    #[test]
    fn outgoing_keeps_order_and_reports_its_size() {
        let mut o = Outgoing::default();
        o.fill_end().extend_from_slice(b"b");
        o.prepend(b"a".to_vec());
        o.fill_end().extend_from_slice(b"c");
        let mut small = [0u8; 2];
        assert_eq!(
            o.poll_transmit_into(&mut small),
            Err(InsufficientSize { required: 3 })
        );
        let mut out = b">".to_vec();
        assert_eq!(o.poll_transmit(&mut out), 3);
        assert_eq!(out, b">abc");
        assert_eq!(o.len(), 0);
        o.fill_end().reserve(100);
        o.release();
        assert_eq!(o.capacity(), 0);
    }
}
