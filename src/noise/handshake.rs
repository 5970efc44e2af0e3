//! The XX handshake machines. [`Initiator`] and [`Responder`] are thin role wrappers over
//! one `Core` (their verbs forward to it), since the steps differ only in order:
//!
//! | msg | direction | tokens | payload |
//! |---|---|---|---|
//! | 1 | initiator → responder | `e` | empty |
//! | 2 | responder → initiator | `e, ee, s, es` | responder's identity, muxers, certhashes |
//! | 3 | initiator → responder | `s, se` | initiator's identity, muxers |
//!
//! Each side verifies the peer's payload before it sends anything more: the initiator
//! checks message 2 before writing message 3 (as go-libp2p does; rust-libp2p checks only
//! after sending it).
//!
//! The Noise state itself (`xx.rs` over `symmetric.rs`) sits in a `Box`: moving the machine
//! (into an enum, out of an `Option`, into `into_session`) then copies a pointer, and the
//! chaining key stays in the one place that is wiped when the machine drops.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::crypto::DH_LEN;
use super::payload::Payload;
use super::session::Session;
use super::symmetric::{Refusal, SplitKeys};
use super::transport::{RecvHalf, SendHalf};
use super::xx::{self, HandshakeState};
use super::{Config, Error, MAX_FRAME_LEN, STATIC_KEY_DOMAIN};
use crate::identity::{PeerId, PublicKey};
use crate::machine::Incomplete;

mod roles;
pub use roles::{Initiator, Responder};

/// What a handshake reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The remote's identity signature verified (and matched the expected PeerId).
    /// Initiator: from message 2, before message 3 is queued. Responder: from message 3.
    RemoteIdentified {
        /// Who the remote proved to be.
        peer_id: PeerId,
    },
    /// The handshake is complete: take the session with `into_session`. For the initiator
    /// this comes with message 3 queued in `poll_transmit`; the caller may send transport
    /// frames right after it.
    Complete,
}

/// Handshake messages up to this length are decrypted into a stack buffer, longer ones
/// (many muxers or certificate hashes) into a `Vec`: an Ed25519 payload with two muxers
/// is about 130 bytes.
const STACK_PAYLOAD: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Initiator: message 1 queued, awaiting message 2. Responder: awaiting message 1.
    First,
    /// Responder: message 2 queued, awaiting message 3.
    Second,
    Done,
}

struct Remote {
    public_key: PublicKey,
    peer_id: PeerId,
    stream_muxers: Vec<String>,
    webtransport_certhashes: Vec<Vec<u8>>,
}

struct Core {
    config: Config,
    hs: Box<HandshakeState>,
    initiator: bool,
    expected_peer: Option<PeerId>,
    step: Step,
    remote: Option<Remote>,
    out: Vec<u8>,
    events: VecDeque<Event>,
    error: Option<Error>,
}

impl Core {
    fn new(
        config: &Config,
        initiator: bool,
        expected_peer: Option<PeerId>,
        ephemeral_secret: Zeroizing<[u8; DH_LEN]>,
    ) -> Result<Self, Error> {
        let hs = HandshakeState::new(
            initiator,
            &config.inner.prologue,
            config.inner.static_key.clone(),
            ephemeral_secret,
        )
        .ok_or(Error::ApiMisuse(
            "the X25519 backend refused the ephemeral key",
        ))?;
        let mut core = Self {
            config: config.clone(),
            hs: Box::new(hs),
            initiator,
            expected_peer,
            step: Step::First,
            remote: None,
            out: Vec::new(),
            events: VecDeque::new(),
            error: None,
        };
        if initiator {
            core.write(&[], 1)?;
        }
        Ok(core)
    }

    /// Writes one handshake message with its 2-byte length into `out` (in place, straight
    /// behind the length prefix).
    fn write(&mut self, payload: &[u8], message: u8) -> Result<(), Error> {
        let len = xx::message_len(message, payload.len());
        let Some(len16) = u16::try_from(len).ok().filter(|_| len <= MAX_FRAME_LEN) else {
            return Err(Error::ApiMisuse("payload too large for a Noise message"));
        };
        let start = self.out.len();
        self.out.resize(start + 2 + len, 0);
        let written = match self.out.get_mut(start..) {
            Some([hi, lo, body @ ..]) => {
                [*hi, *lo] = len16.to_be_bytes();
                self.hs.write_message(payload, body)
            }
            _ => Err(Refusal::Length),
        };
        match written {
            Ok(n) if n == len => Ok(()),
            other => {
                self.out.truncate(start);
                Err(handshake_error(
                    message,
                    other.err().unwrap_or(Refusal::Length),
                ))
            }
        }
    }

    /// Writes message 2 or 3 with our payload (encoded once per configuration).
    fn write_payload(&mut self, message: u8) -> Result<(), Error> {
        let config = self.config.inner.clone();
        self.write(config.payload(self.initiator), message)
    }

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut consumed = 0;
        // one message per step; stop at completion (what follows is transport data)
        while self.step != Step::Done {
            let rest = bytes.get(consumed..).unwrap_or_default();
            let [hi, lo, body @ ..] = rest else { break };
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            let Some(message) = body.get(..len) else {
                break;
            };
            if let Err(e) = self.process(message) {
                self.out.clear();
                self.events.clear();
                self.hs.wipe();
                self.error = Some(e.clone());
                return Err(e);
            }
            consumed += 2 + len;
        }
        Ok(consumed)
    }

    fn process(&mut self, message: &[u8]) -> Result<(), Error> {
        let number = match (self.initiator, self.step) {
            (false, Step::First) => 1,
            (true, Step::First) => 2,
            (false, Step::Second) => 3,
            _ => return Err(Error::ApiMisuse("no handshake message expected")),
        };
        // XX sizes: msg1 = e (32); msg2 = e (32) + s (32+16) + payload+16; msg3 = s (48) + payload+16
        if message.len() < xx::message_len(number, 0) {
            return Err(Error::BadMessageLength {
                message: number,
                len: message.len(),
                expected: match number {
                    1 => "at least 32",
                    2 => "at least 96",
                    _ => "at least 64",
                },
            });
        }
        // the decrypted payload: on the stack for the usual sizes (an identity, a few muxers)
        let mut stack = [0u8; STACK_PAYLOAD];
        let mut heap = Vec::new();
        let buf = match stack.get_mut(..message.len()) {
            Some(b) => b,
            None => {
                heap.resize(message.len(), 0);
                &mut heap[..]
            }
        };
        let n = self
            .hs
            .read_message(message, buf)
            .map_err(|e| handshake_error(number, e))?;
        let payload = buf.get(..n).unwrap_or_default();
        match number {
            1 => {
                if !payload.is_empty() {
                    return Err(Error::PayloadInFirstMessage { len: payload.len() });
                }
                self.write_payload(2)?;
                self.step = Step::Second;
            }
            2 => {
                self.verify(payload, 2)?;
                self.write_payload(3)?;
                self.step = Step::Done;
                self.events.push_back(Event::Complete);
            }
            _ => {
                self.verify(payload, 3)?;
                self.step = Step::Done;
                self.events.push_back(Event::Complete);
            }
        }
        Ok(())
    }

    /// Checks the peer's payload: identity key, signature over the static key it just
    /// proved in this handshake, expected PeerId, muxer overlap.
    fn verify(&mut self, payload: &[u8], message: u8) -> Result<(), Error> {
        let p = Payload::decode(payload).map_err(|source| Error::Payload { message, source })?;
        if p.identity_key.is_empty() {
            return Err(Error::MissingIdentity {
                field: "identity_key",
            });
        }
        if p.identity_sig.is_empty() {
            return Err(Error::MissingIdentity {
                field: "identity_sig",
            });
        }
        let public_key =
            PublicKey::try_decode_protobuf_with(&p.identity_key, self.config.key_policy())
                .map_err(Error::IdentityKey)?;
        let remote_static = self
            .hs
            .remote_static()
            .ok_or(Error::ApiMisuse("no remote static key after its message"))?;
        let mut signed = [0u8; STATIC_KEY_DOMAIN.len() + DH_LEN];
        let (domain, key) = signed.split_at_mut(STATIC_KEY_DOMAIN.len());
        domain.copy_from_slice(STATIC_KEY_DOMAIN);
        key.copy_from_slice(remote_static);
        if !public_key.verify(&signed, &p.identity_sig) {
            return Err(Error::BadSignature);
        }
        let peer_id = public_key.to_peer_id();
        if let Some(expected) = self.expected_peer {
            if expected != peer_id {
                return Err(Error::UnexpectedPeer {
                    expected,
                    got: peer_id,
                });
            }
        }
        let ours = &self.config.inner.stream_muxers;
        if !ours.is_empty()
            && !p.stream_muxers.is_empty()
            && self.select_muxer(&p.stream_muxers).is_none()
        {
            return Err(Error::no_common_muxer(ours, &p.stream_muxers));
        }
        self.events.push_back(Event::RemoteIdentified { peer_id });
        self.remote = Some(Remote {
            public_key,
            peer_id,
            stream_muxers: p.stream_muxers,
            webtransport_certhashes: p.webtransport_certhashes,
        });
        Ok(())
    }

    /// The spec's rule: the first entry of the initiator's list the responder supports.
    fn select_muxer(&self, theirs: &[String]) -> Option<String> {
        let ours = &self.config.inner.stream_muxers;
        let (initiator_list, responder_list) = if self.initiator {
            (ours.as_slice(), theirs)
        } else {
            (theirs, ours.as_slice())
        };
        initiator_list
            .iter()
            .find(|m| responder_list.contains(m))
            .cloned()
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        out.append(&mut self.out);
        n
    }

    fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        crate::machine::take_into(&mut self.out, buf)
    }

    fn is_complete(&self) -> bool {
        self.step == Step::Done && self.error.is_none()
    }

    fn remote_peer_id(&self) -> Option<PeerId> {
        self.remote.as_ref().map(|r| r.peer_id)
    }

    /// The session; on refusal the core comes back unchanged, with the reason.
    // the machine comes back by value; the `Ok` session is about as large, and this runs
    // once per handshake, so a box would save nothing
    #[allow(clippy::result_large_err)]
    fn into_session(mut self) -> Result<Session, (Self, Error)> {
        if let Some(e) = &self.error {
            let e = e.clone();
            return Err((self, e));
        }
        if self.step != Step::Done || !self.out.is_empty() {
            return Err((
                self,
                Error::ApiMisuse("into_session before Complete and before draining poll_transmit"),
            ));
        }
        let mut keys = SplitKeys::default();
        let Some(handshake_hash) = self.hs.split(&mut keys) else {
            return Err((self, Error::ApiMisuse("handshake state not finished")));
        };
        let Some(remote) = self.remote.take() else {
            return Err((
                self,
                Error::ApiMisuse("handshake finished without a remote"),
            ));
        };
        let muxer = self.select_muxer(&remote.stream_muxers);
        // c1 carries initiator -> responder, c2 the other way (Noise Split())
        let (send, recv) = if self.initiator {
            (&keys.c1, &keys.c2)
        } else {
            (&keys.c2, &keys.c1)
        };
        Ok(Session::new(
            (SendHalf::new(send), RecvHalf::new(recv)),
            remote.peer_id,
            remote.public_key,
            muxer,
            remote.webtransport_certhashes,
            handshake_hash,
        ))
    }

    fn debug(&self, f: &mut core::fmt::Formatter<'_>, name: &str) -> core::fmt::Result {
        f.debug_struct(name)
            .field("step", &self.step)
            .field("remote", &self.remote_peer_id())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// [`Error::Handshake`] for a refusal while reading or writing message `message`.
fn handshake_error(message: u8, refusal: Refusal) -> Error {
    Error::Handshake {
        message,
        reason: refusal.reason().to_string(),
    }
}

/// A fresh ephemeral X25519 secret from the caller's RNG.
fn draw_secret<R: CryptoRng + ?Sized>(rng: &mut R) -> Zeroizing<[u8; DH_LEN]> {
    let mut secret = Zeroizing::new([0u8; DH_LEN]);
    rng.fill_bytes(&mut secret[..]);
    secret
}
