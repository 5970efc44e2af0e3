//! Fuzz bodies, compiled inside the crate so they stay in step with the code and are
//! checked by clippy and the unit tests; `fuzz/fuzz_targets/` only calls them.
//! Not part of the public API.

/// Splits `data` into a sequence of chunks whose sizes come from the data itself, so a
/// fuzzer explores every way the same bytes can arrive.
/// The first byte seeds the chunk sizes; the rest is the payload.
pub fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (seed, mut rest) = match data.split_first() {
        Some((s, r)) => (*s, r),
        None => (0, data),
    };
    let mut state = u32::from(seed) | 1;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // xorshift: cheap, deterministic chunk sizes between 1 and 64
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = ((state % 64) as usize + 1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

// ---- multistream-select ----

use crate::multistream::{
    Dialer, Error as MultistreamError, Event as MultistreamEvent, Listener, Version,
    MAX_MESSAGE_LEN, MAX_REJECTED_PROPOSALS,
};
use alloc::vec::Vec;

/// The verbs both multistream machines share, so one driver checks both.
trait MultistreamMachine {
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, MultistreamError>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
    fn poll_event(&mut self) -> Option<MultistreamEvent>;
    fn negotiated(&self) -> Option<&str>;
    fn is_done(&self) -> bool;
}

macro_rules! multistream_machine {
    ($t:ty) => {
        impl MultistreamMachine for $t {
            fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, MultistreamError> {
                <$t>::handle_input(self, bytes)
            }
            fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
                <$t>::poll_transmit(self, out)
            }
            fn poll_event(&mut self) -> Option<MultistreamEvent> {
                <$t>::poll_event(self)
            }
            fn negotiated(&self) -> Option<&str> {
                <$t>::negotiated(self)
            }
            fn is_done(&self) -> bool {
                <$t>::is_done(self)
            }
        }
    };
}
multistream_machine!(Dialer);
multistream_machine!(Listener);

/// Fuzz body: a multistream-select dialer fed `data` as the listener's bytes, in chunks.
/// The first byte picks the version (bit 7) and whether it has one or two protocols
/// (bit 6), and seeds the chunking.
pub fn multistream_dialer(data: &[u8]) {
    let flags = data.first().copied().unwrap_or(0);
    let version = if flags & 0x80 != 0 {
        Version::V1Lazy
    } else {
        Version::V1
    };
    let protocols: &[&str] = if flags & 0x40 != 0 {
        &["/a", "/noise"]
    } else {
        &["/noise"]
    };
    let dialer = Dialer::new(protocols.iter().copied(), version);
    let Ok(dialer) = dialer else {
        panic!("valid protocols refused: {dialer:?}");
    };
    // Header plus one proposal per protocol.
    let max_out = (protocols.len() + 1) * (MAX_MESSAGE_LEN + 2);
    drive_multistream(dialer, protocols, data, max_out);
}

/// Fuzz body: a multistream-select listener fed `data` as the dialer's bytes, in chunks.
pub fn multistream_listener(data: &[u8]) {
    let protocols: &[&str] = &["/a", "/noise", "/yamux/1.0.0"];
    let listener = Listener::new(protocols.iter().copied());
    let Ok(listener) = listener else {
        panic!("valid protocols refused: {listener:?}");
    };
    // Header, every answer (`na` or an `ls` reply) within the limit, the final `na`, the echo.
    let max_out = (MAX_REJECTED_PROPOSALS + 3) * (MAX_MESSAGE_LEN + 2);
    drive_multistream(listener, protocols, data, max_out);
}

/// Feeds the chunks of `data` as a real driver would (keep the unconsumed bytes, append the
/// new chunk, hand over the whole tail, drain output and events) and checks the invariants.
fn drive_multistream<M: MultistreamMachine>(
    mut machine: M,
    protocols: &[&str],
    data: &[u8],
    max_out: usize,
) {
    let mut inbox: Vec<u8> = Vec::new();
    let mut sent = 0usize;
    let mut optimistic = 0usize;
    let mut negotiated = 0usize;
    let mut failed: Option<MultistreamError> = None;
    let drain = |m: &mut M, sent: &mut usize| {
        let mut out = Vec::new();
        let n = m.poll_transmit(&mut out);
        assert_eq!(n, out.len(), "poll_transmit miscounted");
        *sent += n;
        assert!(*sent <= max_out, "unbounded output: {sent} bytes");
        let mut events = Vec::new();
        while let Some(ev) = m.poll_event() {
            events.push(ev);
        }
        events
    };
    for chunk in chunks(data) {
        for ev in drain(&mut machine, &mut sent) {
            match ev {
                MultistreamEvent::Optimistic { protocol } => {
                    assert!(protocols.contains(&protocol.as_str()));
                    assert_eq!(negotiated, 0, "Optimistic after Negotiated");
                    optimistic += 1;
                }
                MultistreamEvent::Negotiated { protocol } => {
                    assert_eq!(machine.negotiated(), Some(protocol.as_str()));
                    negotiated += 1;
                }
            }
        }
        assert!(optimistic <= 1 && negotiated <= 1, "repeated events");
        if let Some(e) = &failed {
            // Poisoned: the same error, nothing more.
            assert_eq!(machine.handle_input(chunk).as_ref(), Err(e));
            assert_eq!(machine.handle_input(&inbox).as_ref(), Err(e));
            assert!(machine.is_done());
            assert_eq!(machine.negotiated(), None);
            assert!(drain(&mut machine, &mut sent).is_empty());
            let mut out = Vec::new();
            assert_eq!(machine.poll_transmit(&mut out), 0, "output after an error");
            continue;
        }
        if let Some(p) = machine.negotiated() {
            // Everything after agreement is the next layer's.
            assert!(protocols.contains(&p));
            assert!(machine.is_done());
            assert_eq!(machine.handle_input(chunk), Ok(0));
            continue;
        }
        inbox.extend_from_slice(chunk);
        match machine.handle_input(&inbox) {
            Ok(n) => {
                assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                inbox.drain(..n);
                if machine.negotiated().is_none() {
                    assert!(!machine.is_done());
                }
            }
            Err(e) => {
                assert!(machine.is_done());
                assert_eq!(machine.handle_input(&inbox).as_ref(), Err(&e));
                failed = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod multistream_tests {
    use super::*;
    use crate::multistream::codec::{encode, Message};

    /// Deterministic inputs built from multistream pieces and noise, so the bodies reach
    /// every state, not just the header check.
    fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count).map(move |_| {
            let mut data = Vec::new();
            data.push(next() as u8);
            let pieces = next() % 12;
            for _ in 0..pieces {
                match next() % 10 {
                    0..=2 => encode(&Message::Header, &mut data),
                    3 => encode(&Message::Na, &mut data),
                    4 => encode(&Message::Ls, &mut data),
                    5 => encode(&Message::Protocol("/noise"), &mut data),
                    6 => encode(&Message::Protocol("/a"), &mut data),
                    7 => encode(&Message::Protocol("/x"), &mut data),
                    _ => {
                        for _ in 0..next() % 6 {
                            data.push(next() as u8);
                        }
                    }
                }
            }
            data
        })
    }

    #[test]
    fn dialer_body_holds_on_pseudo_random_inputs() {
        multistream_dialer(&[]);
        for data in inputs(4000, 0x9e37_79b9_7f4a_7c15) {
            multistream_dialer(&data);
        }
    }

    #[test]
    fn listener_body_holds_on_pseudo_random_inputs() {
        multistream_listener(&[]);
        for data in inputs(4000, 0x2545_f491_4f6c_dd1d) {
            multistream_listener(&data);
        }
        // Past the proposal limit.
        let mut data = alloc::vec![0u8];
        encode(&Message::Header, &mut data);
        for _ in 0..=MAX_REJECTED_PROPOSALS + 1 {
            encode(&Message::Protocol("/x"), &mut data);
        }
        multistream_listener(&data);
    }
}

// ---- identity ----

/// A `PublicKey` protobuf from the peer: decoding never panics, and whatever decodes
/// re-encodes to exactly the same bytes (strictness), with a PeerId that parses back.
pub fn identity_public_key(data: &[u8]) {
    use crate::identity::{PeerId, PublicKey};
    if let Ok(key) = PublicKey::try_decode_protobuf(data) {
        assert_eq!(key.encode_protobuf(), data, "accepted a non-canonical key");
        let id = key.to_peer_id();
        assert_eq!(PeerId::try_from_bytes(id.as_bytes()), Ok(id));
        assert!(id.matches(&key));
        assert!(
            !key.verify(b"fuzz", data),
            "a key's own bytes verified as a signature"
        );
    }
}

/// A `PrivateKey` protobuf (a key file): decoding never panics and round-trips.
pub fn identity_private_key(data: &[u8]) {
    if let Ok(pair) = crate::identity::Keypair::try_decode_protobuf(data) {
        assert_eq!(
            &pair.encode_protobuf()[..],
            data,
            "accepted a non-canonical key"
        );
        if let Ok(sig) = pair.sign(b"fuzz") {
            assert!(pair.public().verify(b"fuzz", &sig));
        }
    }
}

/// PeerId text (base58btc or multibase CID) and binary forms.
pub fn peer_id_text(data: &[u8]) {
    use crate::identity::PeerId;
    let _ = PeerId::try_from_bytes(data);
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(id) = text.parse::<PeerId>() {
            assert_eq!(id.to_base58().parse::<PeerId>(), Ok(id));
            assert_eq!(id.to_cid_string().parse::<PeerId>(), Ok(id));
            let _ = id.public_key();
        }
    }
}

/// Multiaddr text: parses or names its error; what parses prints back the same way.
pub fn multiaddr_text(data: &[u8]) {
    use crate::multiaddr::Multiaddr;
    use alloc::string::ToString;
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(addr) = text.parse::<Multiaddr>() {
            let again: Multiaddr = match addr.to_string().parse() {
                Ok(a) => a,
                Err(e) => panic!("{addr} does not re-parse: {e}"),
            };
            assert_eq!(again, addr);
            let _ = addr.peer_id();
            let _ = addr.tcp_socket_addr();
        }
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;

    #[test]
    fn identity_bodies_survive_mutated_vectors() {
        let seeds: [&[u8]; 4] = [
            &[
                0x08, 0x01, 0x12, 0x20, 0x1e, 0xd1, 0xe8, 0xfa, 0xe2, 0xc4, 0xa1, 0x44, 0xb8, 0xbe,
                0x8f, 0xd4, 0xb4, 0x7b, 0xf3, 0xd3, 0xb3, 0x4b, 0x87, 0x1c, 0x3c, 0xac, 0xf6, 0x01,
                0x0f, 0x0e, 0x42, 0xd4, 0x74, 0xfc, 0xe2, 0x7e,
            ],
            b"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
            b"bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",
            b"/ip4/127.0.0.1/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for seed in seeds {
            for _ in 0..500 {
                let mut v = seed.to_vec();
                for _ in 0..(state % 4) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let i = (state as usize) % v.len();
                    match state % 3 {
                        0 => v[i] ^= 1 << (state % 8),
                        1 => v.truncate(i),
                        _ => v.insert(i, state as u8),
                    }
                    if v.is_empty() {
                        v.push(0);
                    }
                }
                identity_public_key(&v);
                identity_private_key(&v);
                peer_id_text(&v);
                multiaddr_text(&v);
            }
        }
    }
}

// ---- noise ----

#[cfg(feature = "noise")]
pub use noise_bodies::{noise_initiator, noise_responder, noise_transport};

/// Fuzz bodies for the Noise machines: fixed identities, static keys and ephemeral seeds,
/// so an input always replays the same way.
#[cfg(feature = "noise")]
mod noise_bodies {
    use super::chunks;
    use crate::identity::{KeyType, Keypair, PeerId};
    use crate::noise::{
        Config, Error, Event, Initiator, RecvHalf, Responder, SendHalf, Session, MAX_WIRE_FRAME,
        TAG_LEN,
    };
    use alloc::vec;
    use alloc::vec::Vec;
    use zeroize::Zeroizing;

    /// splitmix64: the keys of the fixtures and every ephemeral key come from fixed seeds.
    struct FixedRng(u64);

    impl rand_core::TryRng for FixedRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or_default());
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for FixedRng {}

    const INITIATOR_EPHEMERAL_SEED: u64 = 3;
    const RESPONDER_EPHEMERAL_SEED: u64 = 4;
    /// No handshake ever sends more: message 1 (34 bytes) and 3, or message 2, each a few
    /// hundred bytes with the fixtures' payloads.
    const MAX_HANDSHAKE_OUTPUT: usize = 1024;

    /// Both configurations and a valid transcript between them (messages with their
    /// length prefix).
    #[derive(Clone)]
    struct Fixtures {
        initiator: Config,
        responder: Config,
        responder_id: PeerId,
        initiator_id: PeerId,
        msg1: Vec<u8>,
        msg2: Vec<u8>,
        msg3: Vec<u8>,
    }

    fn config(seed: u64, muxers: &[&str]) -> (Config, PeerId) {
        let mut rng = FixedRng(seed);
        // secp256k1: the cheapest signature to verify in unoptimized builds
        let id = match Keypair::generate(KeyType::Secp256k1, &mut rng) {
            Ok(id) => id,
            Err(e) => panic!("fixture identity: {e:?}"),
        };
        let mut secret = Zeroizing::new([0u8; 32]);
        rand_core::Rng::fill_bytes(&mut rng, &mut secret[..]);
        match Config::with_static_secret(&id, secret) {
            Ok(c) => (c.with_stream_muxers(muxers.iter().copied()), id.peer_id()),
            Err(e) => panic!("fixture config: {e:?}"),
        }
    }

    fn transmit(out: usize, buf: Vec<u8>) -> Vec<u8> {
        assert_eq!(out, buf.len(), "poll_transmit miscounted");
        buf
    }

    fn make_fixtures() -> Fixtures {
        let (initiator, initiator_id) = config(0x1001, &["/yamux/1.0.0"]);
        let (responder, responder_id) = config(0x1002, &["/mplex/6.7.0", "/yamux/1.0.0"]);
        let (mut i, mut r) = new_pair(&initiator, &responder);
        let mut buf = Vec::new();
        let msg1 = transmit(i.poll_transmit(&mut buf), buf);
        assert_eq!(r.handle_input(&msg1), Ok(msg1.len()));
        let mut buf = Vec::new();
        let msg2 = transmit(r.poll_transmit(&mut buf), buf);
        assert_eq!(i.handle_input(&msg2), Ok(msg2.len()));
        let mut buf = Vec::new();
        let msg3 = transmit(i.poll_transmit(&mut buf), buf);
        assert_eq!(r.handle_input(&msg3), Ok(msg3.len()));
        assert!(i.is_complete() && r.is_complete());
        Fixtures {
            initiator,
            responder,
            responder_id,
            initiator_id,
            msg1,
            msg2,
            msg3,
        }
    }

    fn new_pair(initiator: &Config, responder: &Config) -> (Initiator, Responder) {
        let i = Initiator::new(initiator, None, &mut FixedRng(INITIATOR_EPHEMERAL_SEED));
        let r = Responder::new(responder, &mut FixedRng(RESPONDER_EPHEMERAL_SEED));
        match (i, r) {
            (Ok(i), Ok(r)) => (i, r),
            (i, r) => panic!("fixture machines: {:?} {:?}", i.err(), r.err()),
        }
    }

    // the unit tests always have std, whatever the features
    #[cfg(all(test, not(feature = "std")))]
    extern crate std;

    /// Made once per process with std (signing and key generation are the slow part);
    /// rebuilt every time without it.
    fn fixtures() -> Fixtures {
        #[cfg(any(feature = "std", test))]
        {
            static FIXTURES: std::sync::OnceLock<Fixtures> = std::sync::OnceLock::new();
            FIXTURES.get_or_init(make_fixtures).clone()
        }
        #[cfg(not(any(feature = "std", test)))]
        make_fixtures()
    }

    /// The verbs both handshake machines share, so one driver checks both.
    trait Handshake: Sized {
        fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
        fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
        fn poll_event(&mut self) -> Option<Event>;
        fn is_complete(&self) -> bool;
        fn remote_peer_id(&self) -> Option<PeerId>;
        fn into_session(self) -> Result<Session, Error>;
    }

    macro_rules! handshake {
        ($t:ty) => {
            impl Handshake for $t {
                fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
                    <$t>::handle_input(self, bytes)
                }
                fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
                    <$t>::poll_transmit(self, out)
                }
                fn poll_event(&mut self) -> Option<Event> {
                    <$t>::poll_event(self)
                }
                fn is_complete(&self) -> bool {
                    <$t>::is_complete(self)
                }
                fn remote_peer_id(&self) -> Option<PeerId> {
                    <$t>::remote_peer_id(self)
                }
                fn into_session(self) -> Result<Session, Error> {
                    <$t>::into_session(self)
                }
            }
        };
    }
    handshake!(Initiator);
    handshake!(Responder);

    /// Whether `bytes` starts with a whole `u16 length || body` message.
    fn has_whole_message(bytes: &[u8]) -> bool {
        match bytes {
            [hi, lo, rest @ ..] => rest.len() >= usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => false,
        }
    }

    /// A caller's mistake, which no input from the peer may cause.
    fn is_caller_error(e: &Error) -> bool {
        matches!(
            e,
            Error::ApiMisuse(_) | Error::BufferTooSmall { .. } | Error::PlaintextTooLong { .. }
        )
    }

    /// Feeds `prefix` (valid messages) and then the chunks of `data` as a real driver would
    /// (keep the unconsumed bytes, append the new chunk, hand over the whole tail, drain
    /// output and events) and checks the invariants of the call contract.
    fn drive<M: Handshake>(mut m: M, prefix: &[u8], data: &[u8], expected_remote: PeerId) {
        let mut inbox: Vec<u8> = Vec::new();
        let mut sent = 0usize;
        let (mut identified, mut completed) = (0usize, 0usize);
        let mut failed: Option<Error> = None;
        let pieces = core::iter::once(prefix)
            .filter(|p| !p.is_empty())
            .chain(chunks(data));
        for chunk in pieces {
            if let Some(e) = &failed {
                // poisoned: the same error, nothing more
                assert_eq!(m.handle_input(chunk).as_ref(), Err(e));
                assert_eq!(m.handle_input(&inbox).as_ref(), Err(e));
                let mut out = Vec::new();
                assert_eq!(m.poll_transmit(&mut out), 0, "output after an error");
                assert_eq!(m.poll_event(), None, "event after an error");
                assert!(!m.is_complete());
                continue;
            }
            if m.is_complete() {
                // never consumed past the end of the handshake: the rest is transport data
                assert_eq!(m.handle_input(chunk), Ok(0));
                inbox.extend_from_slice(chunk);
                continue;
            }
            inbox.extend_from_slice(chunk);
            match m.handle_input(&inbox) {
                Ok(n) => {
                    assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                    inbox.drain(..n);
                    if !m.is_complete() {
                        assert!(!has_whole_message(&inbox), "a whole message left unread");
                    }
                }
                Err(e) => {
                    assert!(!is_caller_error(&e), "a peer caused a caller error: {e:?}");
                    assert_eq!(m.handle_input(&inbox).as_ref(), Err(&e));
                    assert!(!m.is_complete());
                    failed = Some(e);
                }
            }
            let mut out = Vec::new();
            sent += transmit(m.poll_transmit(&mut out), out).len();
            assert!(
                sent <= MAX_HANDSHAKE_OUTPUT,
                "unbounded output: {sent} bytes"
            );
            while let Some(ev) = m.poll_event() {
                match ev {
                    Event::RemoteIdentified { peer_id } => {
                        assert_eq!(peer_id, expected_remote, "only the fixture can sign");
                        assert_eq!(m.remote_peer_id(), Some(peer_id));
                        identified += 1;
                    }
                    Event::Complete => {
                        assert_eq!(identified, 1, "Complete before RemoteIdentified");
                        assert!(m.is_complete());
                        completed += 1;
                    }
                }
            }
            assert!(identified <= 1 && completed <= 1, "repeated events");
        }
        let mut out = Vec::new();
        let _ = transmit(m.poll_transmit(&mut out), out);
        let complete = m.is_complete();
        match (m.into_session(), failed) {
            (Ok(session), None) => {
                assert!(complete);
                assert_eq!(session.remote_peer_id(), expected_remote);
            }
            (Err(e), Some(f)) => assert_eq!(e, f, "into_session after an error"),
            (Err(Error::ApiMisuse(_)), None) => assert!(!complete, "a complete machine refused"),
            (r, f) => panic!(
                "into_session: {:?} after {f:?}",
                r.map(|s| s.remote_peer_id())
            ),
        }
    }

    /// Fuzz body: our Noise initiator fed `data` as the responder's bytes, in chunks. Bit 7
    /// of the first byte first feeds the fixture's valid message 2, so the rest arrives
    /// after completion (and must stay unconsumed).
    pub fn noise_initiator(data: &[u8]) {
        let f = fixtures();
        let flags = data.first().copied().unwrap_or(0);
        let (i, _) = new_pair(&f.initiator, &f.responder);
        let prefix: &[u8] = if flags & 0x80 != 0 { &f.msg2 } else { &[] };
        drive(i, prefix, data, f.responder_id);
    }

    /// Fuzz body: our Noise responder fed `data` as the initiator's bytes, in chunks. Bit 7
    /// of the first byte first feeds the fixture's message 1 (so the fuzzer starts at
    /// message 3), bit 6 also its valid message 3 (the rest arrives after completion).
    pub fn noise_responder(data: &[u8]) {
        let f = fixtures();
        let flags = data.first().copied().unwrap_or(0);
        let (_, r) = new_pair(&f.initiator, &f.responder);
        let mut prefix = Vec::new();
        if flags & 0x80 != 0 {
            prefix.extend_from_slice(&f.msg1);
            if flags & 0x40 != 0 {
                prefix.extend_from_slice(&f.msg3);
            }
        }
        drive(r, &prefix, data, f.initiator_id);
    }

    /// The fixture's handshake run to the end: (initiator's session, responder's session).
    fn sessions(f: &Fixtures) -> (Session, Session) {
        let (mut i, mut r) = new_pair(&f.initiator, &f.responder);
        let mut out = Vec::new();
        let _ = i.poll_transmit(&mut out);
        assert_eq!(out, f.msg1, "the fixture handshake is not deterministic");
        let both = [f.msg1.as_slice(), &f.msg3].concat();
        assert_eq!(i.handle_input(&f.msg2), Ok(f.msg2.len()));
        assert_eq!(r.handle_input(&both), Ok(both.len()));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let _ = (i.poll_transmit(&mut a), r.poll_transmit(&mut b));
        assert_eq!((a, b), (f.msg3.clone(), f.msg2.clone()));
        match (i.into_session(), r.into_session()) {
            (Ok(i), Ok(r)) => (i, r),
            (i, r) => panic!("fixture sessions: {:?} {:?}", i.err(), r.err()),
        }
    }

    /// Opens the first frame of `inbox` with one of the two opening APIs.
    fn open(
        recv: &mut RecvHalf,
        inbox: &mut [u8],
        copy: bool,
        scratch: &mut [u8],
    ) -> Result<Option<(usize, Vec<u8>)>, Error> {
        if copy {
            Ok(recv
                .decrypt(inbox, scratch)?
                .map(|(consumed, n)| (consumed, scratch.get(..n).unwrap_or_default().to_vec())))
        } else {
            Ok(recv
                .decrypt_in_place(inbox)?
                .map(|o| (o.consumed, o.plaintext.to_vec())))
        }
    }

    /// Fuzz body: a session established in memory from the fixtures; `data` (after its
    /// first byte) is the peer's transport byte stream, in chunks. First byte: bit 0 picks
    /// the receiving side, bit 3 the opening API (`decrypt` or `decrypt_in_place`); bit 1
    /// makes the rest plaintext instead, sealed by the peer, which must open to the same
    /// bytes; otherwise bit 2 puts one valid frame before the fuzz bytes.
    pub fn noise_transport(data: &[u8]) {
        let f = fixtures();
        let flags = data.first().copied().unwrap_or(0);
        let rest = data.get(1..).unwrap_or_default();
        let (i, r) = sessions(&f);
        let ((i_send, i_recv), (r_send, r_recv)) = (i.split(), r.split());
        let (mut send, mut recv): (SendHalf, RecvHalf) = if flags & 1 == 0 {
            (i_send, r_recv)
        } else {
            (r_send, i_recv)
        };
        let roundtrip = flags & 2 != 0;
        let copy = flags & 8 != 0;
        // the stream the receiver sees, after a seed byte for `chunks`
        let mut stream = vec![flags];
        let mut sealed: Vec<u8> = Vec::new();
        if roundtrip {
            let n = match send.encrypt_to_vec(rest, &mut stream) {
                Ok(n) => n,
                Err(e) => panic!("sealing {} bytes: {e:?}", rest.len()),
            };
            assert_eq!(n, stream.len() - 1);
            sealed.extend_from_slice(rest);
        } else {
            if flags & 4 != 0 {
                let valid = b"one valid frame";
                if let Err(e) = send.encrypt_to_vec(valid, &mut stream) {
                    panic!("sealing: {e:?}");
                }
                sealed.extend_from_slice(valid);
            }
            stream.extend_from_slice(rest);
        }
        let mut scratch = vec![0u8; MAX_WIRE_FRAME];
        let mut inbox: Vec<u8> = Vec::new();
        let mut opened: Vec<u8> = Vec::new();
        let mut failed: Option<Error> = None;
        for chunk in chunks(&stream) {
            if let Some(e) = &failed {
                inbox.extend_from_slice(chunk);
                assert_eq!(
                    open(&mut recv, &mut inbox, copy, &mut scratch).as_ref(),
                    Err(e)
                );
                continue;
            }
            inbox.extend_from_slice(chunk);
            let mut at = 0;
            loop {
                let tail = inbox.get_mut(at..).unwrap_or_default();
                let declared = RecvHalf::next_frame_len(tail);
                match open(&mut recv, tail, copy, &mut scratch) {
                    Ok(Some((consumed, plaintext))) => {
                        assert_eq!(Some(consumed), declared);
                        assert_eq!(plaintext.len() + 2 + TAG_LEN, consumed);
                        opened.extend_from_slice(&plaintext);
                        assert!(sealed.starts_with(&opened), "a frame nobody sealed opened");
                        at += consumed;
                    }
                    Ok(None) => {
                        assert!(declared.is_none_or(|len| len > tail.len()));
                        break;
                    }
                    Err(e) => {
                        assert!(
                            matches!(e, Error::Decrypt | Error::FrameTooShort { .. }),
                            "unexpected transport error: {e:?}"
                        );
                        assert_eq!(
                            open(
                                &mut recv,
                                inbox.get_mut(at..).unwrap_or_default(),
                                copy,
                                &mut scratch
                            )
                            .as_ref(),
                            Err(&e)
                        );
                        failed = Some(e);
                        break;
                    }
                }
            }
            inbox.drain(..at);
        }
        if roundtrip {
            assert_eq!(failed, None);
            assert_eq!(opened, sealed, "sealed data did not open to itself");
            assert!(inbox.is_empty());
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Deterministic inputs: fragments of the fixture transcript and of valid frames,
        /// flipped bytes, length prefixes and noise, so the bodies reach every state.
        fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
            let f = fixtures();
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            (0..count).map(move |_| {
                let mut data = vec![next() as u8];
                for _ in 0..next() % 6 {
                    let piece: Vec<u8> = match next() % 8 {
                        0 => f.msg1.clone(),
                        1 => f.msg2.clone(),
                        2 => f.msg3.clone(),
                        3 => {
                            let len = (next() % 300) as u16;
                            len.to_be_bytes().to_vec()
                        }
                        _ => (0..next() % 80).map(|_| next() as u8).collect(),
                    };
                    data.extend_from_slice(&piece);
                }
                if data.len() > 1 && next() % 3 == 0 {
                    let at = 1 + (next() as usize) % (data.len() - 1);
                    data[at] ^= 1 << (next() % 8);
                }
                if next() % 4 == 0 {
                    data.truncate((next() as usize) % (data.len() + 1));
                }
                data
            })
        }

        #[test]
        fn initiator_body_holds_on_pseudo_random_inputs() {
            noise_initiator(&[]);
            noise_initiator(&[0x80]);
            for data in inputs(2000, 0x9e37_79b9_7f4a_7c15) {
                noise_initiator(&data);
            }
        }

        #[test]
        fn responder_body_holds_on_pseudo_random_inputs() {
            noise_responder(&[]);
            noise_responder(&[0xc0]);
            for data in inputs(2000, 0x2545_f491_4f6c_dd1d) {
                noise_responder(&data);
            }
        }

        #[test]
        fn transport_body_holds_on_pseudo_random_inputs() {
            // each input costs a whole handshake (two signature checks, slow in a debug
            // build), hence fewer inputs than the handshake bodies get
            noise_transport(&[]);
            for data in inputs(1000, 0x5851_f42d_4c95_7f2d) {
                noise_transport(&data);
            }
        }

        #[test]
        fn valid_prefixes_complete() {
            // the bodies' prefixes are what a real peer sends: the machines complete on them
            let f = fixtures();
            let (mut i, mut r) = new_pair(&f.initiator, &f.responder);
            assert_eq!(i.handle_input(&f.msg2), Ok(f.msg2.len()));
            assert!(i.is_complete());
            let both = [f.msg1.as_slice(), &f.msg3].concat();
            assert_eq!(r.handle_input(&both), Ok(both.len()));
            assert!(r.is_complete());
            let (mut a, mut b) = sessions(&f);
            assert_eq!(a.handshake_hash(), b.handshake_hash());
            assert_eq!(a.muxer(), Some("/yamux/1.0.0"));
            let mut wire = Vec::new();
            let _ = a.send().encrypt_to_vec(b"x", &mut wire);
            assert!(b
                .recv()
                .decrypt_in_place(&mut wire)
                .is_ok_and(|o| o.is_some()));
        }
    }
}

// ---- TLS certificates ----

/// A TLS certificate: any bytes are verified at a fixed time without panicking; one that
/// passes proves the PeerId of the host key it carries, and its key checks handshake
/// signatures without panicking either.
#[cfg(feature = "tls")]
pub fn tls_certificate(data: &[u8]) {
    use crate::tls::certificate;
    // 2025-06-15: inside the spec vectors' window (1975..4096)
    const NOW: u64 = 1_750_000_000;
    if let Ok(verified) = certificate::verify(data, NOW) {
        assert_eq!(verified.public_key.to_peer_id(), verified.peer_id);
        if let Some(scheme) = verified.signature_algorithm.tls13_scheme() {
            let _ = certificate::verify_tls13_signature(&verified, scheme, data, data);
        }
    }
    assert!(certificate::verify_chain(&[data, data], NOW, None).is_err());
}

#[cfg(all(test, feature = "tls"))]
mod tls_tests {
    use super::*;
    use crate::identity::{KeyType, Keypair};
    use crate::tls::certificate::Certificate;

    struct Counter(u64);
    impl rand_core::TryRng for Counter {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            Ok(self.0 ^ (self.0 >> 33))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Counter {}

    #[test]
    fn tls_body_survives_mutated_certificates() {
        let mut rng = Counter(9);
        let id = Keypair::generate(KeyType::Secp256k1, &mut rng).unwrap();
        let cert = Certificate::generate(&id, 1_750_000_000, &mut rng).unwrap();
        tls_certificate(cert.der());
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..300 {
            let mut v = cert.der().to_vec();
            for _ in 0..(state % 4) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state as usize) % v.len();
                match state % 3 {
                    0 => v[i] ^= 1 << (state % 8),
                    1 => v.truncate(i),
                    _ => v.insert(i, state as u8),
                }
                if v.is_empty() {
                    v.push(0);
                }
            }
            tls_certificate(&v);
        }
    }
}

// ---- tls handshake ----

#[cfg(feature = "tls")]
pub use tls_bodies::{tls_client, tls_server};

#[cfg(feature = "tls")]
mod tls_session;
#[cfg(feature = "tls")]
pub use tls_session::tls_session;

/// Fuzz bodies for the TLS handshake machines: fixed identities, certificates and time, so
/// everything p2psec decides replays. rustls draws its own randoms and key shares, so the
/// recorded flights the bodies can start from are realistic records, not a replayable
/// conversation: the first encrypted record after them never opens.
#[cfg(feature = "tls")]
mod tls_bodies {
    use super::chunks;
    use crate::identity::{KeyType, Keypair, PeerId};
    use crate::tls::{
        Client, Config, Error, Event, Server, Session, MAX_RECORD_BODY_LEN, RECORD_HEADER_LEN,
    };
    use alloc::vec::Vec;
    use std::sync::OnceLock;

    /// The fixtures' clock: 2025-06-15 (Unix seconds).
    const NOW: u64 = 1_750_000_000;
    /// TLS content type `application_data` (RFC 8446 §5.1): every record after the
    /// ServerHello is encrypted under it.
    const APPLICATION_DATA: u8 = 23;
    /// No handshake sends more. Measured: a ClientHello with the hybrid X25519MLKEM768 key
    /// share is 1440 bytes, the server's flight 1867 (its ServerHello alone 1215); a
    /// HelloRetryRequest makes the client send a second ClientHello; then one alert.
    const MAX_HANDSHAKE_OUTPUT: usize = 8 * 1024;

    /// splitmix64: the fixtures' identities and certificates come from fixed seeds.
    struct FixedRng(u64);

    impl rand_core::TryRng for FixedRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or_default());
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for FixedRng {}

    /// Both configurations and the flights of one real handshake between them.
    pub(super) struct Fixtures {
        client: Config,
        server: Config,
        server_id: PeerId,
        /// The client's first flight: its ClientHello.
        client_hello: Vec<u8>,
        /// The server's answer: ServerHello and ChangeCipherSpec in the clear, then the
        /// encrypted EncryptedExtensions .. Finished.
        server_flight: Vec<u8>,
        /// The client's second flight: ChangeCipherSpec, then its encrypted Certificate,
        /// CertificateVerify and Finished.
        client_finish: Vec<u8>,
    }

    fn config(seed: u64, key_type: KeyType) -> (Config, PeerId) {
        let mut rng = FixedRng(seed);
        let id = match Keypair::generate(key_type, &mut rng) {
            Ok(id) => id,
            Err(e) => panic!("fixture identity: {e:?}"),
        };
        match Config::new(&id, NOW, &mut rng) {
            Ok(c) => (c.with_stream_muxers(["/yamux/1.0.0"]), id.peer_id()),
            Err(e) => panic!("fixture config: {e:?}"),
        }
    }

    pub(super) fn new_client(f: &Fixtures) -> Client {
        match Client::new(&f.client, Some(f.server_id), NOW) {
            Ok(c) => c,
            Err(e) => panic!("fixture client: {e:?}"),
        }
    }

    pub(super) fn new_server(f: &Fixtures) -> Server {
        match Server::new(&f.server, NOW) {
            Ok(s) => s,
            Err(e) => panic!("fixture server: {e:?}"),
        }
    }

    fn transmit(out: usize, buf: Vec<u8>) -> Vec<u8> {
        assert_eq!(out, buf.len(), "poll_transmit miscounted");
        buf
    }

    fn make_fixtures() -> Fixtures {
        let (client, _) = config(0x3001, KeyType::Ed25519);
        let (server, server_id) = config(0x3002, KeyType::Secp256k1);
        let mut f = Fixtures {
            client,
            server,
            server_id,
            client_hello: Vec::new(),
            server_flight: Vec::new(),
            client_finish: Vec::new(),
        };
        let (mut c, mut s) = (new_client(&f), new_server(&f));
        let mut buf = Vec::new();
        f.client_hello = transmit(c.poll_transmit(&mut buf), buf);
        assert_eq!(s.handle_input(&f.client_hello), Ok(f.client_hello.len()));
        let mut buf = Vec::new();
        f.server_flight = transmit(s.poll_transmit(&mut buf), buf);
        assert_eq!(c.handle_input(&f.server_flight), Ok(f.server_flight.len()));
        let mut buf = Vec::new();
        f.client_finish = transmit(c.poll_transmit(&mut buf), buf);
        assert_eq!(s.handle_input(&f.client_finish), Ok(f.client_finish.len()));
        assert!(c.is_complete() && s.is_complete());
        f
    }

    /// Made once per process: certificates cost signatures, the flights a handshake.
    pub(super) fn fixtures() -> &'static Fixtures {
        static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
        FIXTURES.get_or_init(make_fixtures)
    }

    /// The length (header included) of the whole record at the start of `bytes`, if one is
    /// there.
    fn whole_record(bytes: &[u8]) -> Option<usize> {
        let &[_, _, _, hi, lo] = bytes.get(..RECORD_HEADER_LEN)? else {
            return None;
        };
        let len = RECORD_HEADER_LEN + usize::from(u16::from_be_bytes([hi, lo]));
        (len <= bytes.len()).then_some(len)
    }

    /// The records of `flight` before its first encrypted one (what a peer can still act
    /// on in a handshake whose keys differ).
    fn cleartext_head(flight: &[u8]) -> &[u8] {
        let mut at = 0;
        while let Some(rest) = flight.get(at..) {
            match (rest.first(), whole_record(rest)) {
                (Some(&ty), Some(len)) if ty != APPLICATION_DATA => at += len,
                _ => break,
            }
        }
        flight.get(..at).unwrap_or_default()
    }

    /// The verbs both handshake machines share, so one driver checks both.
    trait Handshake: Sized {
        fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
        fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
        fn poll_event(&mut self) -> Option<Event>;
        fn is_complete(&self) -> bool;
        fn remote_peer_id(&self) -> Option<PeerId>;
        fn into_session(self) -> Result<Session, Error>;
    }

    macro_rules! handshake {
        ($t:ty) => {
            impl Handshake for $t {
                fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
                    <$t>::handle_input(self, bytes)
                }
                fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
                    <$t>::poll_transmit(self, out)
                }
                fn poll_event(&mut self) -> Option<Event> {
                    <$t>::poll_event(self)
                }
                fn is_complete(&self) -> bool {
                    <$t>::is_complete(self)
                }
                fn remote_peer_id(&self) -> Option<PeerId> {
                    <$t>::remote_peer_id(self)
                }
                fn into_session(self) -> Result<Session, Error> {
                    <$t>::into_session(self)
                }
            }
        };
    }
    handshake!(Client);
    handshake!(Server);

    /// A failure of our own side, which no input from the peer may cause.
    fn is_local_error(e: &Error) -> bool {
        matches!(
            e,
            Error::ApiMisuse(_)
                | Error::LocalCertificateOutdated { .. }
                | Error::CertificateGeneration { .. }
                | Error::Signing(_)
        )
    }

    /// Feeds `prefix` (recorded records) and then the chunks of `data` as a real driver
    /// would (keep the unconsumed bytes, append the new chunk, hand over the whole tail,
    /// drain output and events) and checks the invariants of the call contract.
    ///
    /// No input can complete the handshake or identify the peer: both need records keyed
    /// by this handshake's fresh key exchange, and a Finished and a CertificateVerify over
    /// its fresh randoms, which no fixed input can know. One that did would be a forgery.
    fn drive<M: Handshake>(mut m: M, prefix: &[u8], data: &[u8]) {
        let mut inbox: Vec<u8> = Vec::new();
        let mut sent = 0usize;
        let mut failed: Option<Error> = None;
        let pieces = core::iter::once(prefix)
            .filter(|p| !p.is_empty())
            .chain(chunks(data));
        for chunk in pieces {
            if let Some(e) = &failed {
                // poisoned: the same error, nothing more (the alert went out already)
                assert_eq!(m.handle_input(chunk).as_ref(), Err(e));
                assert_eq!(m.handle_input(&inbox).as_ref(), Err(e));
                let mut out = Vec::new();
                assert_eq!(m.poll_transmit(&mut out), 0, "output after the alert");
                assert_eq!(m.poll_event(), None, "event after an error");
                assert!(!m.is_complete());
                continue;
            }
            inbox.extend_from_slice(chunk);
            match m.handle_input(&inbox) {
                Ok(n) => {
                    assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                    // whole records only
                    let mut at = 0;
                    while at < n {
                        match whole_record(inbox.get(at..).unwrap_or_default()) {
                            Some(len) if len <= RECORD_HEADER_LEN + MAX_RECORD_BODY_LEN => {
                                at += len;
                            }
                            other => panic!("consumed past a record boundary: {other:?}"),
                        }
                    }
                    assert_eq!(at, n, "consumed part of a record");
                    inbox.drain(..n);
                    assert!(!m.is_complete(), "completed on unkeyed bytes");
                    assert_eq!(whole_record(&inbox), None, "a whole record left unread");
                }
                Err(e) => {
                    assert!(!is_local_error(&e), "a peer caused a local error: {e:?}");
                    assert_eq!(m.handle_input(&inbox).as_ref(), Err(&e));
                    assert_eq!(m.handle_input(&[]).as_ref(), Err(&e));
                    assert!(!m.is_complete());
                    failed = Some(e);
                }
            }
            let mut out = Vec::new();
            sent += transmit(m.poll_transmit(&mut out), out).len();
            assert!(
                sent <= MAX_HANDSHAKE_OUTPUT,
                "unbounded output: {sent} bytes"
            );
            assert_eq!(m.poll_event(), None, "an event from unkeyed bytes");
            assert_eq!(m.remote_peer_id(), None, "identified from unkeyed bytes");
        }
        let mut out = Vec::new();
        sent += transmit(m.poll_transmit(&mut out), out).len();
        assert!(
            sent <= MAX_HANDSHAKE_OUTPUT,
            "unbounded output: {sent} bytes"
        );
        match (m.into_session(), failed) {
            (Err(e), Some(f)) => assert_eq!(e, f, "into_session after an error"),
            (Err(Error::ApiMisuse(_)), None) => {}
            (r, f) => panic!(
                "into_session: {:?} after {f:?}",
                r.map(|s| s.remote_peer_id())
            ),
        }
    }

    /// Fuzz body: our TLS client fed `data` as the server's bytes, in chunks. Bit 7 of the
    /// first byte first feeds the cleartext head of a real server flight (its ServerHello
    /// and ChangeCipherSpec, answering another ClientHello of the same client
    /// configuration), so the rest arrives where the encrypted records are due.
    pub fn tls_client(data: &[u8]) {
        let f = fixtures();
        let flags = data.first().copied().unwrap_or(0);
        let prefix: &[u8] = if flags & 0x80 != 0 {
            cleartext_head(&f.server_flight)
        } else {
            &[]
        };
        drive(new_client(f), prefix, data);
    }

    /// Fuzz body: our TLS server fed `data` as the client's bytes, in chunks. Bit 7 of the
    /// first byte first feeds a real ClientHello (made by our client at the same time), so
    /// the rest arrives where the client's second flight is due; bit 6 then also the
    /// cleartext head of that flight (its ChangeCipherSpec).
    pub fn tls_server(data: &[u8]) {
        let f = fixtures();
        let flags = data.first().copied().unwrap_or(0);
        let mut prefix = Vec::new();
        if flags & 0x80 != 0 {
            prefix.extend_from_slice(&f.client_hello);
            if flags & 0x40 != 0 {
                prefix.extend_from_slice(cleartext_head(&f.client_finish));
            }
        }
        drive(new_server(f), &prefix, data);
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use alloc::vec;

        fn records(flight: &[u8]) -> Vec<&[u8]> {
            let mut out = Vec::new();
            let mut rest = flight;
            while let Some(len) = whole_record(rest) {
                let (head, tail) = rest.split_at(len);
                out.push(head);
                rest = tail;
            }
            assert!(rest.is_empty(), "a flight of whole records");
            out
        }

        struct Xorshift(u64);
        impl Xorshift {
            fn next(&mut self) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0
            }
        }

        /// Deterministic inputs: the fixture flights and their records, record headers
        /// of every content type, flipped bytes and noise.
        fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
            let f = fixtures();
            let mut pool: Vec<&[u8]> = vec![&f.client_hello, &f.server_flight, &f.client_finish];
            for flight in [&f.client_hello, &f.server_flight, &f.client_finish] {
                pool.extend(records(flight));
            }
            let mut rng = Xorshift(seed | 1);
            (0..count).map(move |_| {
                let mut data = vec![rng.next() as u8];
                for _ in 0..rng.next() % 5 {
                    // change_cipher_spec, alert, handshake, application data, or any type
                    let ty = [20u8, 21, 22, 23, rng.next() as u8][(rng.next() % 5) as usize];
                    match rng.next() % 7 {
                        0 | 1 => {
                            let i = (rng.next() as usize) % pool.len();
                            data.extend_from_slice(pool.get(i).copied().unwrap_or_default());
                        }
                        2 | 3 => {
                            // a well-framed record with a random body
                            let len = (rng.next() % 80) as u16;
                            data.extend_from_slice(&[ty, 3, 3]);
                            data.extend_from_slice(&len.to_be_bytes());
                            data.extend((0..len).map(|_| rng.next() as u8));
                        }
                        4 => {
                            // a header alone, up to just past the size limit
                            let len = (rng.next() % 0x4200) as u16;
                            data.extend_from_slice(&[ty, 3, 3]);
                            data.extend_from_slice(&len.to_be_bytes());
                        }
                        _ => data.extend((0..rng.next() % 60).map(|_| rng.next() as u8)),
                    }
                }
                mutate(&mut data, &mut rng, 1);
                data
            })
        }

        /// Up to three random edits (bit flips, truncations, insertions) after `keep`.
        fn mutate(data: &mut Vec<u8>, rng: &mut Xorshift, keep: usize) {
            for _ in 0..rng.next() % 4 {
                if data.len() <= keep {
                    data.push(rng.next() as u8);
                }
                let at = keep + (rng.next() as usize) % (data.len() - keep);
                match rng.next() % 4 {
                    0 | 1 => data[at] ^= 1 << (rng.next() % 8),
                    2 => data.truncate(at + 1),
                    _ => data.insert(at, rng.next() as u8),
                }
            }
        }

        /// `flight` as a body's input without a prefix, after a flag byte, with edits.
        fn mutated_flights<'a>(
            flight: &'a [u8],
            count: usize,
            seed: u64,
        ) -> impl Iterator<Item = Vec<u8>> + 'a {
            let mut rng = Xorshift(seed | 1);
            (0..count).map(move |_| {
                let mut data = vec![(rng.next() as u8) & 0x3f];
                data.extend_from_slice(flight);
                mutate(&mut data, &mut rng, 1);
                data
            })
        }

        #[test]
        fn client_body_holds_on_pseudo_random_inputs() {
            tls_client(&[]);
            tls_client(&[0x80]);
            for data in inputs(300, 0x9e37_79b9_7f4a_7c15) {
                tls_client(&data);
            }
            let head = cleartext_head(&fixtures().server_flight);
            for data in mutated_flights(head, 150, 0x5851_f42d_4c95_7f2d) {
                tls_client(&data);
            }
        }

        #[test]
        fn server_body_holds_on_pseudo_random_inputs() {
            tls_server(&[]);
            tls_server(&[0x80]);
            tls_server(&[0xc0]);
            for data in inputs(300, 0x2545_f491_4f6c_dd1d) {
                tls_server(&data);
            }
            for data in mutated_flights(&fixtures().client_hello, 150, 0x1405_7b7e_f767_814f) {
                tls_server(&data);
            }
        }

        #[test]
        fn recorded_flights_steer_the_machines() {
            // the prefixes are what a real peer sends: the server answers the ClientHello
            // with a whole flight; a new client takes the ServerHello and then refuses the
            // first encrypted record, which another key exchange keyed
            let f = fixtures();
            let mut s = new_server(f);
            assert_eq!(s.handle_input(&f.client_hello), Ok(f.client_hello.len()));
            let mut out = Vec::new();
            assert!(s.poll_transmit(&mut out) > RECORD_HEADER_LEN);
            assert_eq!(out.first(), Some(&22), "a handshake record first");
            let head = cleartext_head(&f.server_flight);
            assert!(!head.is_empty() && head.len() < f.server_flight.len());
            let mut c = new_client(f);
            assert_eq!(c.handle_input(head), Ok(head.len()));
            assert_eq!(
                c.handle_input(&f.server_flight[head.len()..]),
                Err(Error::RecordAuthentication)
            );
            let head = cleartext_head(&f.client_finish);
            assert!(head.len() < f.client_finish.len());
            let both = [f.client_hello.as_slice(), &f.client_finish].concat();
            assert_eq!(
                new_server(f).handle_input(&both),
                Err(Error::RecordAuthentication)
            );
        }
    }
}

// ---- the connection upgrade ----

#[cfg(all(feature = "noise", feature = "tls"))]
pub use upgrade_bodies::{upgrade_dialer, upgrade_listener};

/// Fuzz bodies for the upgrade machines: fixed identities, certificates, time and
/// ephemeral seeds. Our side of a Noise upgrade then replays byte for byte, so a recorded
/// Noise conversation takes a fresh machine to completion and the fuzzer can start behind
/// it, in the channel; rustls draws its own randoms, so with TLS only the dialer's first
/// flight is a realistic prefix (for the listener).
#[cfg(all(feature = "noise", feature = "tls"))]
mod upgrade_bodies {
    use super::chunks;
    use crate::identity::{KeyType, Keypair, PeerId};
    use crate::upgrade::{Config, Dialer, Error, Event, Listener, SecurityProtocol, Upgraded};
    use alloc::vec::Vec;
    use std::sync::OnceLock;

    /// The fixtures' clock: 2025-06-15 (Unix seconds).
    const NOW: u64 = 1_750_000_000;
    const DIALER_EPHEMERAL_SEED: u64 = 5;
    const LISTENER_EPHEMERAL_SEED: u64 = 6;
    /// No upgrade sends more before it completes: the multistream messages (a few dozen
    /// bytes each), a TLS handshake (at most 8 KiB, see the TLS bodies) or a Noise one (a
    /// few hundred bytes), the muxer proposal or answer.
    const MAX_UPGRADE_OUTPUT: usize = 16 * 1024;
    /// The muxers the configurations offer (bit 4 of the flags adds mplex first).
    const YAMUX: &str = "/yamux/1.0.0";
    const MPLEX: &str = "/mplex/6.7.0";

    /// splitmix64: the fixtures' identities and every ephemeral key come from fixed seeds.
    struct FixedRng(u64);

    impl rand_core::TryRng for FixedRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or_default());
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for FixedRng {}

    /// Both configurations, and what each side sent in a recorded upgrade.
    struct Fixtures {
        dialer: Config,
        listener: Config,
        dialer_id: PeerId,
        listener_id: PeerId,
        /// The recorded Noise upgrade's configurations: `/noise` only, optimistic, early
        /// muxer.
        noise_dialer: Config,
        noise_listener: Config,
        /// What the dialer sent in it: header, proposal and message 1, then message 3.
        noise_dialer_stream: Vec<u8>,
        /// What the listener sent: header, echo and message 2.
        noise_listener_stream: Vec<u8>,
        /// A `/tls/1.0.0`-only optimistic dialer's first flight: header, proposal,
        /// ClientHello.
        tls_first_flight: Vec<u8>,
    }

    fn config(seed: u64) -> (Config, PeerId) {
        let mut rng = FixedRng(seed);
        // secp256k1: the cheapest signature to verify in unoptimized builds
        let id = match Keypair::generate(KeyType::Secp256k1, &mut rng) {
            Ok(id) => id,
            Err(e) => panic!("fixture identity: {e:?}"),
        };
        match Config::new(&id, NOW, &mut rng) {
            Ok(c) => (c, id.peer_id()),
            Err(e) => panic!("fixture config: {e:?}"),
        }
    }

    /// The configuration the flag bits pick: bits 0-1 the security list, bit 2 optimistic
    /// negotiation, bit 3 early muxer negotiation, bit 4 a second muxer.
    fn variant(base: &Config, flags: u8) -> Config {
        let security: &[SecurityProtocol] = match flags & 3 {
            0 => &[SecurityProtocol::Noise],
            1 => &[SecurityProtocol::Tls],
            2 => &[SecurityProtocol::Noise, SecurityProtocol::Tls],
            _ => &[SecurityProtocol::Tls, SecurityProtocol::Noise],
        };
        let muxers: &[&str] = if flags & 0x10 != 0 {
            &[MPLEX, YAMUX]
        } else {
            &[YAMUX]
        };
        let config = base
            .clone()
            .with_security(security.iter().copied())
            .and_then(|c| c.with_muxers(muxers.iter().copied()));
        match config {
            Ok(c) => c
                .with_optimistic_negotiation(flags & 4 != 0)
                .with_early_muxer_negotiation(flags & 8 != 0),
            Err(e) => panic!("fixture variant: {e:?}"),
        }
    }

    fn new_dialer(config: &Config, expected: Option<PeerId>) -> Dialer {
        match Dialer::new(config, expected, NOW, &mut FixedRng(DIALER_EPHEMERAL_SEED)) {
            Ok(d) => d,
            Err(e) => panic!("fixture dialer: {e:?}"),
        }
    }

    fn new_listener(config: &Config) -> Listener {
        match Listener::new(config, NOW, &mut FixedRng(LISTENER_EPHEMERAL_SEED)) {
            Ok(l) => l,
            Err(e) => panic!("fixture listener: {e:?}"),
        }
    }

    fn transmit(out: usize, buf: Vec<u8>) -> Vec<u8> {
        assert_eq!(out, buf.len(), "poll_transmit miscounted");
        buf
    }

    fn make_fixtures() -> Fixtures {
        let (dialer, dialer_id) = config(0x5001);
        let (listener, listener_id) = config(0x5002);
        let noise = |c: &Config| variant(c, 0x0c);
        let (noise_dialer, noise_listener) = (noise(&dialer), noise(&listener));
        // the recorded upgrade, flight by flight
        let mut d = new_dialer(&noise_dialer, Some(listener_id));
        let mut l = new_listener(&noise_listener);
        let (mut noise_dialer_stream, mut noise_listener_stream) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            let mut buf = Vec::new();
            let flight = transmit(d.poll_transmit(&mut buf), buf);
            assert_eq!(l.handle_input(&flight), Ok(flight.len()));
            noise_dialer_stream.extend_from_slice(&flight);
            let mut buf = Vec::new();
            let flight = transmit(l.poll_transmit(&mut buf), buf);
            assert_eq!(d.handle_input(&flight), Ok(flight.len()));
            noise_listener_stream.extend_from_slice(&flight);
        }
        assert!(d.is_complete() && l.is_complete(), "the fixture upgrade");
        let tls = variant(&dialer, 0x05);
        let mut buf = Vec::new();
        let tls_first_flight = transmit(new_dialer(&tls, None).poll_transmit(&mut buf), buf);
        Fixtures {
            dialer,
            listener,
            dialer_id,
            listener_id,
            noise_dialer,
            noise_listener,
            noise_dialer_stream,
            noise_listener_stream,
            tls_first_flight,
        }
    }

    /// Made once per process: identities, certificates and a recorded upgrade.
    fn fixtures() -> &'static Fixtures {
        static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
        FIXTURES.get_or_init(make_fixtures)
    }

    /// The verbs both upgrade machines share, so one driver checks both.
    trait Machine: Sized {
        fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
        fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
        fn poll_event(&mut self) -> Option<Event>;
        fn is_complete(&self) -> bool;
        fn into_upgraded(self) -> Result<Upgraded, Error>;
    }

    macro_rules! machine {
        ($t:ty) => {
            impl Machine for $t {
                fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
                    <$t>::handle_input(self, bytes)
                }
                fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
                    <$t>::poll_transmit(self, out)
                }
                fn poll_event(&mut self) -> Option<Event> {
                    <$t>::poll_event(self)
                }
                fn is_complete(&self) -> bool {
                    <$t>::is_complete(self)
                }
                fn into_upgraded(self) -> Result<Upgraded, Error> {
                    <$t>::into_upgraded(self)
                }
            }
        };
    }
    machine!(Dialer);
    machine!(Listener);

    /// A caller's mistake, which no input from the peer may cause.
    fn is_caller_error(e: &Error) -> bool {
        matches!(
            e,
            Error::ApiMisuse(_)
                | Error::Noise(crate::noise::Error::ApiMisuse(_))
                | Error::Tls(crate::tls::Error::ApiMisuse(_))
        )
    }

    /// Feeds `prefix` and then the chunks of `data` as a real driver would (keep the
    /// unconsumed bytes, append the new chunk, hand over the whole tail, drain output and
    /// events) and checks the call contract; after completion the rest goes to the
    /// channel. `replay` says the prefix is a whole recorded upgrade: it must complete.
    fn drive<M: Machine>(mut m: M, prefix: &[u8], data: &[u8], remote: PeerId, replay: bool) {
        let mut pieces = core::iter::once(prefix)
            .filter(|p| !p.is_empty())
            .chain(chunks(data));
        let mut inbox: Vec<u8> = Vec::new();
        let mut sent = 0usize;
        let (mut agreed, mut identified, mut completed) = (0usize, 0usize, 0usize);
        let mut failed: Option<Error> = None;
        let mut first = true;
        for piece in pieces.by_ref() {
            if let Some(e) = &failed {
                // poisoned: the same error, whatever comes
                assert_eq!(m.handle_input(piece).as_ref(), Err(e));
                assert_eq!(m.handle_input(&inbox).as_ref(), Err(e));
                assert!(!m.is_complete());
                continue;
            }
            inbox.extend_from_slice(piece);
            match m.handle_input(&inbox) {
                Ok(n) => {
                    assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                    inbox.drain(..n);
                }
                Err(e) => {
                    assert!(!is_caller_error(&e), "a peer caused a caller error: {e:?}");
                    assert_eq!(m.handle_input(&inbox).as_ref(), Err(&e));
                    assert_eq!(m.handle_input(&[]).as_ref(), Err(&e));
                    assert!(!m.is_complete());
                    failed = Some(e);
                }
            }
            let mut out = Vec::new();
            sent += transmit(m.poll_transmit(&mut out), out).len();
            assert!(sent <= MAX_UPGRADE_OUTPUT, "unbounded output: {sent} bytes");
            while let Some(ev) = m.poll_event() {
                match ev {
                    Event::SecurityAgreed(_) => agreed += 1,
                    Event::RemoteIdentified { peer_id } => {
                        assert_eq!(peer_id, remote, "only the fixture can sign");
                        identified += 1;
                    }
                    Event::Complete => {
                        assert_eq!(identified, 1, "Complete before RemoteIdentified");
                        assert!(m.is_complete());
                        completed += 1;
                    }
                }
            }
            assert!(
                agreed <= 1 && identified <= 1 && completed <= 1,
                "repeated events"
            );
            if replay && first {
                assert!(m.is_complete(), "the recorded upgrade did not complete");
            }
            first = false;
            if m.is_complete() {
                break;
            }
        }
        let complete = m.is_complete();
        assert_eq!(
            complete,
            completed == 1,
            "Complete and is_complete disagree"
        );
        let upgraded = match (m.into_upgraded(), failed) {
            (Ok(upgraded), None) => upgraded,
            (Err(e), Some(f)) => {
                assert_eq!(e, f, "into_upgraded after an error");
                return;
            }
            (Err(Error::ApiMisuse(_)), None) => {
                assert!(!complete, "a complete machine refused");
                return;
            }
            (r, f) => panic!(
                "into_upgraded: {:?} after {f:?}",
                r.map(|u| u.remote_peer_id)
            ),
        };
        assert!(complete);
        assert_eq!(upgraded.remote_peer_id, remote);
        assert_eq!(upgraded.channel.remote_peer_id(), remote);
        // the rest is the channel's: frames or records, a lazy muxer answer
        let mut channel = upgraded.channel;
        let mut plain = [0u8; 4096];
        let mut failed: Option<Error> = None;
        for piece in pieces {
            if let Some(e) = &failed {
                assert_eq!(channel.handle_input(piece).as_ref(), Err(e));
                assert_eq!(channel.read(&mut plain).as_ref(), Err(e));
                continue;
            }
            inbox.extend_from_slice(piece);
            loop {
                let used = match channel.handle_input(&inbox) {
                    Ok(n) => n,
                    Err(e) => {
                        assert_eq!(channel.handle_input(&inbox).as_ref(), Err(&e));
                        failed = Some(e);
                        break;
                    }
                };
                assert!(used <= inbox.len(), "consumed {used} of {}", inbox.len());
                inbox.drain(..used);
                let mut read = 0;
                loop {
                    match channel.read(&mut plain) {
                        Ok(0) => break,
                        Ok(n) => read += n,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                if failed.is_some() || (used == 0 && read == 0) {
                    break;
                }
            }
            let mut out = Vec::new();
            let _ = channel.poll_transmit(&mut out);
        }
    }

    /// Fuzz body: an upgrade dialer fed `data` as the listener's bytes, in chunks. The
    /// first byte picks the configuration (`variant`'s bits, bit 5: expect the fixture
    /// listener's PeerId); bit 7 instead first feeds the listener's side of the recorded
    /// Noise upgrade, so the rest arrives in the channel.
    pub fn upgrade_dialer(data: &[u8]) {
        let f = fixtures();
        let flags = data.first().copied().unwrap_or(0);
        if flags & 0x80 != 0 {
            let d = new_dialer(&f.noise_dialer, Some(f.listener_id));
            drive(d, &f.noise_listener_stream, data, f.listener_id, true);
        } else {
            let expected = (flags & 0x20 != 0).then_some(f.listener_id);
            let d = new_dialer(&variant(&f.dialer, flags), expected);
            drive(d, &[], data, f.listener_id, false);
        }
    }

    /// Fuzz body: an upgrade listener fed `data` as the dialer's bytes, in chunks. The
    /// first byte picks the configuration (`variant`'s bits); bit 7 instead first feeds
    /// the dialer's side of the recorded Noise upgrade (the rest arrives in the channel),
    /// bit 6 a TLS dialer's first flight (the rest arrives where its Finished is due).
    pub fn upgrade_listener(data: &[u8]) {
        let f = fixtures();
        let flags = data.first().copied().unwrap_or(0);
        if flags & 0x80 != 0 {
            let l = new_listener(&f.noise_listener);
            drive(l, &f.noise_dialer_stream, data, f.dialer_id, true);
        } else if flags & 0x40 != 0 {
            let l = new_listener(&variant(&f.listener, flags));
            drive(l, &f.tls_first_flight, data, f.dialer_id, false);
        } else {
            let l = new_listener(&variant(&f.listener, flags));
            drive(l, &[], data, f.dialer_id, false);
        }
    }
}

// ---- mplex ----

#[cfg(feature = "mplex")]
pub use mplex_bodies::mplex_connection;

/// The fuzz body for the mplex machine: the peer's bytes in chunks, our verbs in between.
#[cfg(feature = "mplex")]
mod mplex_bodies {
    use super::chunks;
    use crate::mplex::{Connection, Error, Event, StreamError, StreamId, MAX_BUFFERED};
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    /// What a passive receiver ends with (data read only at the end, so the reads cannot
    /// depend on the chunking).
    #[derive(Debug, PartialEq)]
    struct Outcome {
        events: Vec<Event>,
        data: BTreeMap<StreamId, Vec<u8>>,
        error: Option<Error>,
        consumed: usize,
    }

    /// Fuzz body: an mplex connection fed `data` as the peer's bytes. The first byte seeds
    /// the chunking. Checks that the chunks and the whole input end alike (events, data,
    /// error), that nothing panics, that buffering stays bounded and that an error
    /// poisons the machine; then replays the chunks with our verbs (open, write, read,
    /// close, reset) interleaved, picked by each chunk's first byte.
    pub fn mplex_connection(data: &[u8]) {
        let payload = data.get(1..).unwrap_or_default();
        let whole = passive(core::iter::once(payload));
        let chunked = passive(chunks(data));
        match (&whole.error, &chunked.error) {
            (None, None) => assert_eq!(whole, chunked, "chunking changed the outcome"),
            (a, b) => assert_eq!(a, b, "chunking changed the error"),
        }
        active(data);
    }

    fn passive<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Outcome {
        let mut c = Connection::new();
        let mut inbox = Vec::new();
        let mut events = Vec::new();
        let mut consumed = 0;
        let mut error = None;
        'feed: for piece in pieces {
            inbox.extend_from_slice(piece);
            loop {
                match c.handle_input(&inbox) {
                    Ok(n) => {
                        assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                        inbox.drain(..n);
                        consumed += n;
                        let before = events.len();
                        events.extend(core::iter::from_fn(|| c.poll_event()));
                        let mut out = Vec::new();
                        let sent = c.poll_transmit(&mut out);
                        assert_eq!(sent, out.len(), "poll_transmit miscounted");
                        assert!(c.buffered() <= MAX_BUFFERED, "unbounded buffering");
                        // again only while something moved (a full event queue or reply
                        // queue stops the machine until they are taken)
                        if n == 0 && events.len() == before && sent == 0 {
                            break;
                        }
                    }
                    Err(e) => {
                        assert_eq!(c.handle_input(&inbox).as_ref(), Err(&e));
                        assert_eq!(c.poll_event(), None);
                        assert_eq!(c.poll_transmit(&mut Vec::new()), 0);
                        assert_eq!(c.open_stream(), Err(StreamError::Connection(e.clone())));
                        error = Some(e);
                        break 'feed;
                    }
                }
            }
        }
        let mut data = BTreeMap::new();
        if error.is_none() {
            for ev in &events {
                if let Event::Readable { id } = ev {
                    let mut all = Vec::new();
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = c.read(*id, &mut buf) {
                        if n == 0 {
                            break;
                        }
                        all.extend_from_slice(buf.get(..n).unwrap_or_default());
                    }
                    data.entry(*id).or_insert(all);
                }
            }
        }
        Outcome {
            events,
            data,
            error,
            consumed,
        }
    }

    /// The chunks again, as an application would meet them: answering new streams,
    /// reading what arrives, closing after the peer's close, opening and writing and
    /// resetting streams of its own.
    fn active(data: &[u8]) {
        let mut c = Connection::new();
        let mut inbox = Vec::new();
        let mut mine: Vec<StreamId> = Vec::new();
        let mut buf = [0u8; 512];
        for piece in chunks(data) {
            let pick = piece.first().copied().unwrap_or(0);
            let ours = mine
                .get(usize::from(pick >> 3) % mine.len().max(1))
                .copied();
            match (pick % 8, ours) {
                (0, _) => {
                    if let Ok(id) = c.open_stream() {
                        mine.push(id);
                    }
                }
                (1, Some(id)) => {
                    let _ = c.write(id, piece);
                }
                (2, Some(id)) => {
                    let _ = c.close(id);
                }
                (3, Some(id)) => {
                    let _ = c.reset(id);
                }
                (4, Some(id)) => {
                    let _ = c.release(id);
                }
                _ => {}
            }
            inbox.extend_from_slice(piece);
            match c.handle_input(&inbox) {
                Ok(n) => {
                    inbox.drain(..n);
                }
                Err(e) => {
                    let id = StreamId::inbound(0);
                    let poisoned = Err(StreamError::Connection(e.clone()));
                    assert_eq!(c.write(id, b"x"), poisoned);
                    assert_eq!(c.read(id, &mut buf), poisoned);
                    assert_eq!(c.close(id), poisoned.map(|_| ()));
                    assert_eq!(c.error(), Some(&e));
                    return;
                }
            }
            while let Some(ev) = c.poll_event() {
                match ev {
                    Event::InboundStream { id } => {
                        let _ = c.write(id, b"hello");
                    }
                    Event::Readable { id } | Event::RemoteClosed { id } => {
                        while let Ok(n) = c.read(id, &mut buf) {
                            if n == 0 {
                                let _ = c.close(id);
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            assert!(c.buffered() <= MAX_BUFFERED, "unbounded buffering");
            let mut out = Vec::new();
            let sent = c.poll_transmit(&mut out);
            assert_eq!(sent, out.len(), "poll_transmit miscounted");
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Appends one frame (flag as on the wire).
        fn frame(num: u64, flag: u64, payload: &[u8], out: &mut Vec<u8>) {
            let mut buf = unsigned_varint::encode::u64_buffer();
            out.extend_from_slice(unsigned_varint::encode::u64((num << 3) | flag, &mut buf));
            let mut buf = unsigned_varint::encode::usize_buffer();
            out.extend_from_slice(unsigned_varint::encode::usize(payload.len(), &mut buf));
            out.extend_from_slice(payload);
        }

        /// Deterministic inputs built from mplex frames and noise, so the body reaches
        /// every state, not just the header check.
        fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            (0..count).map(move |_| {
                let mut data = alloc::vec![next() as u8];
                for _ in 0..next() % 16 {
                    let num = next() % 4;
                    match next() % 12 {
                        0..=9 => {
                            let len = (next() % 40) as usize;
                            let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                            // mostly the peer's own streams (initiator flags), which stay legal
                            let flag = [0, 0, 2, 2, 2, 4, 6, 1, 3, 5][(next() % 10) as usize];
                            frame(num, flag, &payload, &mut data);
                        }
                        10 => frame(num, 7, b"", &mut data),
                        _ => {
                            for _ in 0..next() % 6 {
                                data.push(next() as u8);
                            }
                        }
                    }
                }
                data
            })
        }

        #[test]
        fn body_holds_on_pseudo_random_inputs() {
            mplex_connection(&[]);
            for data in inputs(4000, 0x9e37_79b9_7f4a_7c15) {
                mplex_connection(&data);
            }
        }
    }
}

// ---- SECIO ----

#[cfg(feature = "secio")]
mod secio;
#[cfg(feature = "secio")]
pub use secio::{secio_handshake, secio_transport};

#[cfg(all(test, feature = "secio"))]
mod secio_tests {
    use super::{secio_handshake, secio_transport};

    /// The bodies on a spread of inputs: they must not panic (their own assertions
    /// included).
    #[test]
    fn bodies_hold_on_sample_inputs() {
        let mut x: u32 = 0x9e37_79b9;
        for len in 0..300usize {
            let data: alloc::vec::Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            secio_handshake(&data);
            secio_transport(&data);
            let mut sealed = data.clone();
            if let Some(b) = sealed.first_mut() {
                *b |= 8; // the sealed-frames mode
            }
            secio_transport(&sealed);
        }
        // a plausible Propose frame, so the body gets past the framing
        let mut frame = alloc::vec![0u8, 0, 0, 0, 0x40];
        frame.extend_from_slice(&[0x0a, 0x10]);
        frame.extend_from_slice(&[1u8; 16]);
        frame.extend_from_slice(&[0u8; 46]);
        secio_handshake(&frame);
    }
}
