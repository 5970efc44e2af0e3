//! The XX pattern's HandshakeState (Noise spec rev. 34, §5.3 and §7.5) over
//! [`SymmetricState`]: `-> e`, `<- e, ee, s, es`, `-> s, se`, with the prologue mixed into
//! `h` first. Only what XX needs: no pre-messages, no PSK, one fixed suite.
//!
//! Both keys are held as parsed X25519 keys: the static key shared through the
//! [`Config`](super::Config), the ephemeral one parsed from the 32 bytes drawn by the
//! caller. A DH output lives in a `Zeroizing` buffer until MixKey has absorbed it. An
//! all-zero DH result (the peer sent a low-order point) is refused, as go-libp2p's X25519
//! does: it keeps the handshake contributory and costs no interop.
//!
//! This is the message layer only; lengths, payload rules and events are `handshake.rs`'s.

use alloc::sync::Arc;
use zeroize::Zeroizing;

use super::crypto::{StaticKey, X25519Key, DH_LEN, HASH_LEN, TAG_LEN};
use super::symmetric::{Refusal, SplitKeys, SymmetricState};
use super::PROTOCOL_NAME;

/// A token of a message pattern (spec §7.1).
#[derive(Clone, Copy)]
enum Token {
    E,
    S,
    Ee,
    Es,
    Se,
}

/// XX's three messages, in order; the initiator writes 1 and 3.
const MESSAGES: [&[Token]; 3] = [
    &[Token::E],
    &[Token::E, Token::Ee, Token::S, Token::Es],
    &[Token::S, Token::Se],
];

/// An encrypted static key: the key and its tag.
const ENCRYPTED_S: usize = DH_LEN + TAG_LEN;

/// Bytes of message `number` (1, 2 or 3) carrying a payload of `payload_len` bytes: msg1 =
/// e + payload (no key yet); msg2 = e + s + tag + payload + tag; msg3 = s + tag + payload +
/// tag.
pub(crate) fn message_len(number: u8, payload_len: usize) -> usize {
    payload_len
        + match number {
            1 => DH_LEN,
            2 => DH_LEN + ENCRYPTED_S + TAG_LEN,
            _ => ENCRYPTED_S + TAG_LEN,
        }
}

/// The XX handshake state of one side.
pub(crate) struct HandshakeState {
    symmetric: SymmetricState,
    s: Arc<StaticKey>,
    e: X25519Key,
    re: Option<[u8; DH_LEN]>,
    rs: Option<[u8; DH_LEN]>,
    initiator: bool,
    /// Index into [`MESSAGES`] of the next message; 3 once all are done.
    next: usize,
}

impl HandshakeState {
    /// Initialize(): InitializeSymmetric(protocol_name), MixHash(prologue) (spec §5.3;
    /// always, an empty prologue too). `None` if the backend refuses the ephemeral secret.
    pub(crate) fn new(
        initiator: bool,
        prologue: &[u8],
        s: Arc<StaticKey>,
        ephemeral_secret: Zeroizing<[u8; DH_LEN]>,
    ) -> Option<Self> {
        let e = X25519Key::new(&ephemeral_secret)?;
        let mut symmetric = SymmetricState::new(PROTOCOL_NAME.as_bytes());
        symmetric.mix_hash(prologue);
        Some(Self {
            symmetric,
            s,
            e,
            re: None,
            rs: None,
            initiator,
            next: 0,
        })
    }

    /// The tokens of the next message if this side is the one to write (`writing`) or
    /// read it.
    fn next_tokens(&self, writing: bool) -> Result<&'static [Token], Refusal> {
        let ours = (self.next % 2 == 0) == self.initiator;
        match MESSAGES.get(self.next) {
            Some(tokens) if ours == writing => Ok(tokens),
            _ => Err(Refusal::OutOfOrder),
        }
    }

    /// WriteMessage(payload): the next message into the start of `out`, which must hold
    /// [`message_len`] bytes. Returns its length.
    pub(crate) fn write_message(
        &mut self,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Refusal> {
        let mut at = 0;
        for &token in self.next_tokens(true)? {
            let rest = out.get_mut(at..).ok_or(Refusal::Length)?;
            at += match token {
                Token::E => {
                    let (e, _) = rest
                        .split_first_chunk_mut::<DH_LEN>()
                        .ok_or(Refusal::Length)?;
                    *e = self.e.public;
                    self.symmetric.mix_hash(e);
                    DH_LEN
                }
                Token::S => self.symmetric.encrypt_and_hash(&self.s.public(), rest)?,
                dh => {
                    self.mix_dh(dh)?;
                    0
                }
            };
        }
        let rest = out.get_mut(at..).ok_or(Refusal::Length)?;
        at += self.symmetric.encrypt_and_hash(payload, rest)?;
        self.next += 1;
        Ok(at)
    }

    /// ReadMessage(message): the payload into the start of `out` (at least as long as
    /// `message`). Returns the payload's length.
    pub(crate) fn read_message(
        &mut self,
        message: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Refusal> {
        let mut rest = message;
        for &token in self.next_tokens(false)? {
            match token {
                Token::E => {
                    let (re, tail) = rest.split_first_chunk::<DH_LEN>().ok_or(Refusal::Length)?;
                    self.symmetric.mix_hash(re);
                    self.re = Some(*re);
                    rest = tail;
                }
                Token::S => {
                    let (encrypted, tail) =
                        rest.split_at_checked(ENCRYPTED_S).ok_or(Refusal::Length)?;
                    let mut rs = [0u8; DH_LEN];
                    self.symmetric.decrypt_and_hash(encrypted, &mut rs)?;
                    self.rs = Some(rs);
                    rest = tail;
                }
                dh => self.mix_dh(dh)?,
            }
        }
        let n = self.symmetric.decrypt_and_hash(rest, out)?;
        self.next += 1;
        Ok(n)
    }

    /// `ee`, `es`, `se`: MixKey(DH(ours, theirs)). The first letter is the initiator's key,
    /// the second the responder's (spec §7.1).
    fn mix_dh(&mut self, token: Token) -> Result<(), Refusal> {
        let (initiator_static, responder_static) = match token {
            Token::Es => (false, true),
            Token::Se => (true, false),
            _ => (false, false),
        };
        let (local_static, remote_static) = if self.initiator {
            (initiator_static, responder_static)
        } else {
            (responder_static, initiator_static)
        };
        let local = if local_static { self.s.key() } else { &self.e };
        let remote = if remote_static { self.rs } else { self.re };
        let remote = remote.ok_or(Refusal::OutOfOrder)?;
        let mut shared = Zeroizing::new([0u8; DH_LEN]);
        local.dh(&remote, &mut shared).ok_or(Refusal::LowOrderKey)?;
        self.symmetric.mix_key(&shared[..]);
        Ok(())
    }

    /// The remote's static key, once its `s` token has been read.
    pub(crate) fn remote_static(&self) -> Option<&[u8; DH_LEN]> {
        self.rs.as_ref()
    }

    /// Whether all three messages are written and read.
    pub(crate) fn is_finished(&self) -> bool {
        self.next == MESSAGES.len()
    }

    /// After the last message: the handshake hash, and Split()'s keys into `keys`.
    pub(crate) fn split(&self, keys: &mut SplitKeys) -> Option<[u8; HASH_LEN]> {
        if !self.is_finished() {
            return None;
        }
        self.symmetric.split(keys);
        Some(*self.symmetric.handshake_hash())
    }

    /// Wipes the symmetric state now (a failed handshake keeps nothing usable until it is
    /// dropped).
    pub(crate) fn wipe(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.symmetric);
        self.next = MESSAGES.len() + 1;
    }

    #[cfg(test)]
    pub(crate) fn symmetric(&self) -> &SymmetricState {
        &self.symmetric
    }
}
