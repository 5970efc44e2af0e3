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
