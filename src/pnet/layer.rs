//! The private-network layer: a nonce each way, then XSalsa20 over everything.

use rand_core::CryptoRng;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use salsa20::XSalsa20;

use super::{Error, PreSharedKey};

/// The nonce each side sends first: 24 bytes, XSalsa20's.
pub const NONCE_LEN: usize = 24;

/// What libp2p sends first above the layer, from both sides: multistream-select's header
/// (its length, 19, then `/multistream/1.0.0\n`). The peer's first plaintext bytes must
/// be these, or it holds another key.
const MULTISTREAM_HEADER: &[u8; 20] = b"\x13/multistream/1.0.0\n";

/// One connection's private-network layer, sans-IO: it transforms the caller's buffers in
/// place and keeps no bytes of its own.
///
/// # Call contract
/// 1. Send [`Pnet::nonce`] before anything else, as it is.
/// 2. [`Pnet::seal`] every byte sent after it, in order, exactly once.
/// 3. [`Pnet::open`] every byte received, in order, exactly once, in pieces of any size;
///    the bytes of the peer's nonce are not plaintext: `open` says where the plaintext of
///    each piece begins.
///
/// After [`Error::WrongKey`] the layer is poisoned: `open` returns it again.
pub struct Pnet {
    ours: [u8; NONCE_LEN],
    tx: XSalsa20,
    key: PreSharedKey,
    rx: Receive,
    /// Header bytes still to check in the peer's plaintext (0: checked, or not asked).
    header_left: usize,
    error: Option<Error>,
}

/// The receiving side: gathering the peer's nonce, then deciphering.
enum Receive {
    Nonce { got: [u8; NONCE_LEN], len: usize },
    // boxed: the cipher state is only needed once the nonce is in
    Stream(alloc::boxed::Box<XSalsa20>),
}

impl Pnet {
    /// The layer for `key` with our `nonce` (24 random bytes: the caller supplies them, so
    /// a transcript replays). The peer's first plaintext must be the multistream header.
    pub fn new(key: &PreSharedKey, nonce: [u8; NONCE_LEN]) -> Self {
        Self {
            ours: nonce,
            tx: XSalsa20::new(&(*key.as_bytes()).into(), &nonce.into()),
            key: key.clone(),
            rx: Receive::Nonce {
                got: [0; NONCE_LEN],
                len: 0,
            },
            header_left: MULTISTREAM_HEADER.len(),
            error: None,
        }
    }

    /// [`Pnet::new`] with the nonce drawn from `rng`.
    pub fn with_rng<R: CryptoRng + ?Sized>(key: &PreSharedKey, rng: &mut R) -> Self {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        Self::new(key, nonce)
    }

    /// Skips the check of the peer's first bytes against the multistream header, for a
    /// protocol other than libp2p's above the layer. A wrong key then goes unnoticed here
    /// (the layer above sees noise).
    pub fn without_header_check(mut self) -> Self {
        self.header_left = 0;
        self
    }

    /// Whether the peer's first bytes decrypted to the multistream header (it holds our
    /// key), or the check is off. A connection that ends before this holds
    /// [`Error::ClosedBeforeProof`].
    pub fn peer_proved_key(&self) -> bool {
        self.header_left == 0 && self.error.is_none()
    }

    /// Our nonce: the first bytes to send, unencrypted.
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        self.ours
    }

    /// Encrypts bytes to send (after the nonce), in place.
    pub fn seal(&mut self, data: &mut [u8]) {
        self.tx.apply_keystream(data);
    }

    /// Takes bytes from the peer, in place: the first [`NONCE_LEN`] of the stream are its
    /// nonce; everything after is decrypted. Returns where the plaintext begins in `data`
    /// (`data[start..]`; `data.len()` while the nonce is still arriving). Fails with
    /// [`Error::WrongKey`] at the first byte that is not the multistream header.
    pub fn open(&mut self, data: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut start = 0;
        if let Receive::Nonce { got, len } = &mut self.rx {
            let take = (NONCE_LEN - *len).min(data.len());
            if let (Some(to), Some(from)) = (got.get_mut(*len..*len + take), data.get(..take)) {
                to.copy_from_slice(from);
            }
            *len += take;
            start = take;
            if *len < NONCE_LEN {
                return Ok(data.len());
            }
            let cipher = XSalsa20::new(&(*self.key.as_bytes()).into(), &(*got).into());
            self.rx = Receive::Stream(alloc::boxed::Box::new(cipher));
        }
        let plain = data.get_mut(start..).unwrap_or_default();
        if let Receive::Stream(cipher) = &mut self.rx {
            cipher.apply_keystream(plain);
        }
        self.check_header(plain)?;
        Ok(start)
    }

    /// Compares the peer's first plaintext with the multistream header.
    fn check_header(&mut self, plain: &[u8]) -> Result<(), Error> {
        let done = MULTISTREAM_HEADER.len() - self.header_left;
        for (i, &got) in plain.iter().take(self.header_left).enumerate() {
            let offset = done + i;
            let expected = MULTISTREAM_HEADER.get(offset).copied().unwrap_or_default();
            if got != expected {
                let e = Error::WrongKey {
                    offset,
                    got,
                    expected,
                };
                self.error = Some(e.clone());
                return Err(e);
            }
        }
        self.header_left -= plain.len().min(self.header_left);
        Ok(())
    }
}

impl core::fmt::Debug for Pnet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pnet")
            .field("fingerprint", &self.key.fingerprint())
            .field("nonce_in", &matches!(self.rx, Receive::Stream(_)))
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn key(b: u8) -> PreSharedKey {
        PreSharedKey::new([b; 32])
    }

    /// What one side sends: its nonce, then `plain` sealed.
    fn wire(p: &mut Pnet, plain: &[u8]) -> Vec<u8> {
        let mut out = p.nonce().to_vec();
        let mut body = plain.to_vec();
        p.seal(&mut body);
        out.extend_from_slice(&body);
        out
    }

    /// The plaintext `p` gets from `bytes` fed in pieces of `step`.
    fn receive(p: &mut Pnet, bytes: &[u8], step: usize) -> Result<Vec<u8>, Error> {
        let mut plain = Vec::new();
        for piece in bytes.chunks(step.max(1)) {
            let mut piece = piece.to_vec();
            let start = p.open(&mut piece)?;
            plain.extend_from_slice(&piece[start..]);
        }
        Ok(plain)
    }

    fn message() -> Vec<u8> {
        let mut m = MULTISTREAM_HEADER.to_vec();
        m.extend_from_slice(b"\x07/noise\nand then the handshake");
        m
    }

    #[test]
    fn the_same_key_carries_the_bytes_in_any_chunking() {
        let sent = wire(&mut Pnet::new(&key(1), [7; NONCE_LEN]), &message());
        assert_ne!(
            &sent[NONCE_LEN..],
            &message()[..],
            "nothing is sent in the clear"
        );
        for step in [1, 2, 23, 24, 25, 40, sent.len()] {
            let mut rx = Pnet::new(&key(1), [9; NONCE_LEN]);
            assert_eq!(receive(&mut rx, &sent, step), Ok(message()), "step {step}");
        }
    }

    #[test]
    fn another_key_fails_at_the_first_header_byte() {
        let sent = wire(&mut Pnet::new(&key(1), [7; NONCE_LEN]), &message());
        let mut rx = Pnet::new(&key(2), [9; NONCE_LEN]);
        let e = receive(&mut rx, &sent, sent.len()).unwrap_err();
        assert!(matches!(e, Error::WrongKey { expected: 0x13, .. }), "{e:?}");
        // poisoned: the same error again
        assert_eq!(rx.open(&mut [0u8; 4]), Err(e));
    }

    #[test]
    fn a_peer_without_the_layer_fails_at_once() {
        // a node without a key sends the multistream header in the clear: its first 24
        // bytes read as our nonce, the rest as noise
        let mut rx = Pnet::new(&key(1), [9; NONCE_LEN]);
        let mut clear = message();
        assert!(rx.open(&mut clear).is_err());
    }

    #[test]
    fn without_the_header_check_any_bytes_pass() {
        let sent = wire(&mut Pnet::new(&key(1), [7; NONCE_LEN]), b"not libp2p");
        let mut rx = Pnet::new(&key(1), [9; NONCE_LEN]).without_header_check();
        assert_eq!(receive(&mut rx, &sent, 3), Ok(b"not libp2p".to_vec()));
    }
}
