//! The SECIO handshake as one symmetric machine (the protocol has no roles; whose lists
//! win comes from the ordering hashes). Three phases, each sent as soon as the peer's
//! message of the previous phase is in, so neither side waits for the other's message of
//! the same phase (go-libp2p-secio writes and reads each phase concurrently too):
//!
//! | phase | we send | after we read |
//! |---|---|---|
//! | 1 | `Propose { rand, pubkey, exchanges, ciphers, hashes }` | nothing (queued at construction) |
//! | 2 | `Exchange { epubkey, signature }` | the peer's Propose |
//! | 3 | the peer's nonce, as our first encrypted frame | the peer's Exchange, verified |
//!
//! The handshake completes once our echo is queued: like rust-libp2p 0.26 we may send
//! data right behind it, which saves a round trip and is safe because the keys come from
//! an ephemeral point the peer signed together with our nonce. What we *receive* waits
//! for the proof: the session's [`RecvHalf`] checks that the peer's first decrypted bytes
//! (possibly spread over frames) are our nonce before it hands out any plaintext.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cmp::Ordering;
use prost::Message;
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::algorithms::{self, Cipher, Hash, KeyExchange};
use super::crypto::{self, DirectionCipher, EphemeralSecret};
use super::proto;
use super::session::Session;
use super::transport::{RecvHalf, SendHalf, LEN_PREFIX};
use super::{Config, Error, MAX_HANDSHAKE_MESSAGE, NONCE_LEN};
use crate::identity::{PeerId, PublicKey};
use crate::machine::Incomplete;

/// What a handshake reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's Exchange signature verified under the key of its Propose (and that key
    /// is the expected PeerId's).
    RemoteIdentified {
        /// Who the remote proved to be.
        peer_id: PeerId,
    },
    /// Keys agreed and our echo queued in `poll_transmit`: take the session with
    /// [`Handshake::into_session`]. The session checks the peer's echo before it releases
    /// any received plaintext.
    Complete,
}

pub(super) enum Step {
    /// Our Propose is queued; awaiting theirs.
    AwaitPropose,
    /// Our Exchange is queued; awaiting theirs.
    AwaitExchange(Box<Agreed>),
    /// Complete: our echo of their nonce is queued (or poisoned, with `error` set).
    Done(Option<Box<Keyed>>),
}

use alloc::boxed::Box;

/// What phase 1 settled.
pub(super) struct Agreed {
    remote_propose: Vec<u8>,
    remote_nonce: Vec<u8>,
    remote_key: PublicKey,
    remote_peer_id: PeerId,
    order: Ordering,
    exchange: KeyExchange,
    cipher: Cipher,
    hash: Hash,
    ephemeral: EphemeralSecret,
}

/// What phase 2 settled: the session keys.
pub(super) struct Keyed {
    pub(super) send: SendHalf,
    recv: RecvHalf,
    remote_key: PublicKey,
    remote_peer_id: PeerId,
    exchange: KeyExchange,
    cipher: Cipher,
    hash: Hash,
}

/// A SECIO handshake (either side of the connection).
///
/// Contract: construct (our Propose is queued), then loop: `poll_transmit` and send what
/// it appends; feed the peer's bytes to `handle_input` (it returns how many it consumed;
/// keep the rest); drain `poll_event`. After [`Event::Complete`], send what
/// `poll_transmit` still holds and call [`Handshake::into_session`]; bytes `handle_input`
/// did not consume belong to the session's `handle_input`. After an error the machine is
/// poisoned: `poll_transmit` appends nothing (not even a Propose or Exchange queued before
/// the error), `poll_event` returns `None`, and `handle_input` and `into_session` return
/// the same error again.
pub struct Handshake {
    config: Config,
    expected_peer: Option<PeerId>,
    seed: Zeroizing<[u8; 32]>,
    nonce: [u8; NONCE_LEN],
    local_propose: Vec<u8>,
    pub(super) step: Step,
    out: Vec<u8>,
    events: VecDeque<Event>,
    error: Option<Error>,
}

impl Handshake {
    /// A handshake drawing its nonce and ephemeral key from `rng`. A dialer passes the
    /// PeerId it dialed as `expected_peer`.
    pub fn new<R: CryptoRng + ?Sized>(
        config: &Config,
        expected_peer: Option<PeerId>,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut seed[..]);
        Self::with_seed(config, expected_peer, seed)
    }

    /// A handshake whose nonce and ephemeral key are derived from `seed` (HMAC-SHA512 with
    /// distinct labels), so a recorded transcript replays byte for byte.
    pub fn with_seed(
        config: &Config,
        expected_peer: Option<PeerId>,
        seed: Zeroizing<[u8; 32]>,
    ) -> Result<Self, Error> {
        let nonce = crypto::nonce_from_seed(&seed)?;
        let propose = proto::Propose {
            rand: Some(nonce.to_vec()),
            pubkey: Some(config.inner.pubkey.clone()),
            exchanges: Some(config.inner.exchanges.clone()),
            ciphers: Some(config.inner.ciphers.clone()),
            hashes: Some(config.inner.hashes.clone()),
        };
        let local_propose = propose.encode_to_vec();
        let mut hs = Self {
            config: config.clone(),
            expected_peer,
            seed,
            nonce,
            local_propose,
            step: Step::AwaitPropose,
            out: Vec::new(),
            events: VecDeque::new(),
            error: None,
        };
        push_plain_frame(&mut hs.out, &hs.local_propose);
        Ok(hs)
    }

    /// Our nonce (16 bytes), as proposed.
    pub fn local_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// Bytes from the peer. Consumes whole handshake messages (the Propose, then the
    /// Exchange) and returns how many; encrypted frames after them are the session's.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut used = 0;
        loop {
            let rest = bytes.get(used..).unwrap_or_default();
            let step = core::mem::replace(&mut self.step, Step::Done(None));
            let (n, next) = match self.advance(step, rest) {
                Ok(v) => v,
                Err(e) => return Err(self.fail(e)),
            };
            self.step = next;
            used += n;
            if n == 0 || matches!(self.step, Step::Done(_)) {
                return Ok(used);
            }
        }
    }

    /// Poisons the machine: what was queued and not yet taken (our Propose, our Exchange,
    /// the events) is dropped, so nothing more leaves it (SECIO has no closing message),
    /// and every later call returns `e` again. The step's secrets went with the step.
    fn fail(&mut self, e: Error) -> Error {
        self.out = Vec::new();
        self.events.clear();
        self.seed.zeroize();
        self.step = Step::Done(None);
        self.error = Some(e.clone());
        e
    }

    /// One move: returns the bytes consumed (0 when more are needed) and the next step.
    fn advance(&mut self, step: Step, rest: &[u8]) -> Result<(usize, Step), Error> {
        match step {
            Step::AwaitPropose => match plain_frame(rest)? {
                None => Ok((0, Step::AwaitPropose)),
                Some((n, body)) => {
                    let agreed = self.on_propose(body)?;
                    Ok((n, Step::AwaitExchange(Box::new(agreed))))
                }
            },
            Step::AwaitExchange(agreed) => match plain_frame(rest)? {
                None => Ok((0, Step::AwaitExchange(agreed))),
                Some((n, body)) => {
                    let keyed = self.on_exchange(*agreed, body)?;
                    self.events.push_back(Event::Complete);
                    Ok((n, Step::Done(Some(Box::new(keyed)))))
                }
            },
            // what follows the Exchange is the session's
            Step::Done(keyed) => Ok((0, Step::Done(keyed))),
        }
    }

    /// Phase 1 in: check the peer's Propose, order, choose, answer with our Exchange.
    fn on_propose(&mut self, body: &[u8]) -> Result<Agreed, Error> {
        const M: &str = "Propose";
        let propose = proto::Propose::decode(body).map_err(|_| Error::Malformed { message: M })?;
        let missing = |field| Error::MissingField { message: M, field };
        let remote_nonce = propose.rand.ok_or(missing("rand"))?;
        if remote_nonce.len() != NONCE_LEN {
            return Err(Error::BadNonceLength {
                len: remote_nonce.len(),
            });
        }
        let pubkey = propose.pubkey.ok_or(missing("pubkey"))?;
        let exchanges = propose.exchanges.ok_or(missing("exchanges"))?;
        let ciphers = propose.ciphers.ok_or(missing("ciphers"))?;
        let hashes = propose.hashes.ok_or(missing("hashes"))?;
        let remote_key = PublicKey::try_decode_protobuf_with(&pubkey, self.config.inner.key_policy)
            .map_err(Error::RemoteKey)?;
        let remote_peer_id = remote_key.to_peer_id();
        if let Some(expected) = self.expected_peer {
            if expected != remote_peer_id {
                return Err(Error::UnexpectedPeer {
                    expected,
                    got: remote_peer_id,
                });
            }
        }
        let inner = &self.config.inner;
        let order = algorithms::ordering(&inner.pubkey, &self.nonce, &pubkey, &remote_nonce);
        if order == Ordering::Equal {
            return Err(Error::TalkingToSelf);
        }
        let exchange = algorithms::select::<KeyExchange>(&inner.exchanges, &exchanges, order)?;
        let cipher = algorithms::select::<Cipher>(&inner.ciphers, &ciphers, order)?;
        let hash = algorithms::select::<Hash>(&inner.hashes, &hashes, order)?;

        let ephemeral = EphemeralSecret::from_seed(exchange, &self.seed)?;
        // the seed has served: the nonce is drawn and the scalar too
        self.seed.zeroize();
        let epubkey = ephemeral.public_point();
        // corpus = our Propose || their Propose || our ephemeral point
        let mut corpus = Vec::with_capacity(self.local_propose.len() + body.len() + epubkey.len());
        corpus.extend_from_slice(&self.local_propose);
        corpus.extend_from_slice(body);
        corpus.extend_from_slice(&epubkey);
        let signature = inner.identity.sign(&corpus).map_err(Error::Signing)?;
        let exchange_msg = proto::Exchange {
            epubkey: Some(epubkey),
            signature: Some(signature),
        };
        push_plain_frame(&mut self.out, &exchange_msg.encode_to_vec());
        Ok(Agreed {
            remote_propose: body.to_vec(),
            remote_nonce,
            remote_key,
            remote_peer_id,
            order,
            exchange,
            cipher,
            hash,
            ephemeral,
        })
    }

    /// Phase 2 in: verify the peer's Exchange, derive the keys, queue our echo.
    fn on_exchange(&mut self, agreed: Agreed, body: &[u8]) -> Result<Keyed, Error> {
        const M: &str = "Exchange";
        let exchange =
            proto::Exchange::decode(body).map_err(|_| Error::Malformed { message: M })?;
        let missing = |field| Error::MissingField { message: M, field };
        let epubkey = exchange.epubkey.ok_or(missing("epubkey"))?;
        let signature = exchange.signature.ok_or(missing("signature"))?;
        // their corpus = their Propose || our Propose || their ephemeral point
        let mut corpus = Vec::with_capacity(
            agreed.remote_propose.len() + self.local_propose.len() + epubkey.len(),
        );
        corpus.extend_from_slice(&agreed.remote_propose);
        corpus.extend_from_slice(&self.local_propose);
        corpus.extend_from_slice(&epubkey);
        if !agreed.remote_key.verify(&corpus, &signature) {
            return Err(Error::BadSignature);
        }
        let secret = agreed.ephemeral.agree(agreed.exchange, &epubkey)?;
        let (k1, k2) = crypto::stretch(agreed.hash, agreed.cipher, &secret);
        // the side whose lists won takes the first half for sending
        let (local, remote) = if agreed.order == Ordering::Greater {
            (k1, k2)
        } else {
            (k2, k1)
        };
        let mut send = SendHalf::new(DirectionCipher::new(agreed.cipher, agreed.hash, &local)?);
        let recv = RecvHalf::new(
            DirectionCipher::new(agreed.cipher, agreed.hash, &remote)?,
            self.config.inner.max_frame_len,
            self.nonce,
        );
        // the echo is its own frame: go-libp2p expects a frame holding exactly the nonce
        send.encrypt_to_vec(&agreed.remote_nonce, &mut self.out)?;
        self.events.push_back(Event::RemoteIdentified {
            peer_id: agreed.remote_peer_id,
        });
        Ok(Keyed {
            send,
            recv,
            remote_key: agreed.remote_key,
            remote_peer_id: agreed.remote_peer_id,
            exchange: agreed.exchange,
            cipher: agreed.cipher,
            hash: agreed.hash,
        })
    }

    /// Appends what must go to the peer now; returns how many bytes. Nothing after an
    /// error, even what was queued before it.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        if self.error.is_some() {
            return 0;
        }
        let n = self.out.len();
        if out.is_empty() {
            core::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
        }
        n
    }

    /// The bytes [`Handshake::poll_transmit`] would append now (none after an error).
    pub fn pending_transmit(&self) -> usize {
        if self.error.is_some() {
            return 0;
        }
        self.out.len()
    }

    /// [`Handshake::poll_transmit`] into the start of `buf`; returns the length. If it
    /// does not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        if self.error.is_some() {
            return Ok(0);
        }
        crate::machine::take_into(&mut self.out, buf)
    }

    /// The next event, if any; none after an error.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.error.is_some() {
            return None;
        }
        self.events.pop_front()
    }

    /// Whether the keys are agreed and the session can be taken.
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && matches!(self.step, Step::Done(Some(_)))
    }

    /// The session, once complete. Take `poll_transmit`'s output first (it holds our
    /// echo). Before that, or after an error, the handshake comes back inside the
    /// [`Incomplete`] with the reason (`ApiMisuse`, or the handshake's error).
    // the machine comes back by value; the `Ok` session is about as large, and this runs
    // once per handshake, so a box would save nothing
    #[allow(clippy::result_large_err)]
    pub fn into_session(self) -> Result<Session, Incomplete<Self>> {
        if let Some(e) = &self.error {
            let error = e.clone();
            return Err(Incomplete {
                machine: self,
                error,
            });
        }
        let refusal = if !matches!(self.step, Step::Done(Some(_))) {
            "the SECIO handshake is not complete"
        } else if !self.out.is_empty() {
            "take the handshake's output with poll_transmit before into_session"
        } else {
            ""
        };
        match self.step {
            Step::Done(Some(keyed)) if refusal.is_empty() => {
                let keyed = *keyed;
                Ok(Session::new(
                    (keyed.send, keyed.recv),
                    keyed.remote_peer_id,
                    keyed.remote_key,
                    (keyed.exchange, keyed.cipher, keyed.hash),
                ))
            }
            step => Err(Incomplete {
                machine: Self { step, ..self },
                error: Error::ApiMisuse(refusal),
            }),
        }
    }
}

impl crate::Machine for Handshake {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Handshake::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Handshake::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Handshake::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Handshake::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Handshake::poll_event(self)
    }

    fn is_complete(&self) -> bool {
        Handshake::is_complete(self)
    }
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("secio::Handshake")
            .field("expected_peer", &self.expected_peer)
            .field("complete", &self.is_complete())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Appends `u32 BE length || body`.
fn push_plain_frame(out: &mut Vec<u8>, body: &[u8]) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
}

/// A whole plaintext handshake frame at the start of `bytes`: (bytes taken, body).
fn plain_frame(bytes: &[u8]) -> Result<Option<(usize, &[u8])>, Error> {
    let [a, b, c, d, ..] = *bytes else {
        return Ok(None);
    };
    let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
    if len > MAX_HANDSHAKE_MESSAGE {
        return Err(Error::FrameTooLarge {
            len,
            max: MAX_HANDSHAKE_MESSAGE,
        });
    }
    Ok(bytes
        .get(LEN_PREFIX..LEN_PREFIX + len)
        .map(|body| (LEN_PREFIX + len, body)))
}
