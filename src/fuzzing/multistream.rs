//! Fuzz bodies for the multistream-select dialer and listener: the peer's bytes in chunks,
//! driven by [`Run`]; what must hold besides the call contract: at most one `Optimistic`
//! and one `Negotiated`, in that order, for a protocol of ours, and nothing consumed
//! after agreement.

use super::drive::{chunks, Rules, Run};
use crate::multistream::{
    Dialer, Error, Event, Listener, Version, MAX_MESSAGE_LEN, MAX_REJECTED_PROPOSALS,
};
use crate::Machine;

/// Fuzz body: a multistream-select dialer fed `data` as the listener's bytes, in chunks.
/// The first byte picks the version (bit 7), whether it has one or two protocols
/// (bit 6) and whether it asks `ls` first (bit 5), and seeds the chunking.
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
    let dialer = if flags & 0x20 != 0 {
        Dialer::listing_first(protocols.iter().copied(), version)
    } else {
        Dialer::new(protocols.iter().copied(), version)
    };
    let Ok(dialer) = dialer else {
        panic!("valid protocols refused: {dialer:?}");
    };
    let rules = Negotiation {
        protocols,
        // header, `ls`, one proposal per protocol
        max_out: (protocols.len() + 2) * (MAX_MESSAGE_LEN + 2),
        negotiated: Dialer::negotiated,
        is_done: Dialer::is_done,
        optimistic: 0,
        agreed: 0,
    };
    drive(dialer, rules, data);
}

/// Fuzz body: a multistream-select listener fed `data` as the dialer's bytes, in chunks.
pub fn multistream_listener(data: &[u8]) {
    let protocols: &[&str] = &["/a", "/noise", "/yamux/1.0.0"];
    let listener = Listener::new(protocols.iter().copied());
    let Ok(listener) = listener else {
        panic!("valid protocols refused: {listener:?}");
    };
    let rules = Negotiation {
        protocols,
        // header, every answer (`na` or an `ls` reply) within the limit, the final `na`,
        // the echo
        max_out: (MAX_REJECTED_PROPOSALS + 3) * (MAX_MESSAGE_LEN + 2),
        negotiated: Listener::negotiated,
        is_done: Listener::is_done,
        optimistic: 0,
        agreed: 0,
    };
    drive(listener, rules, data);
}

/// The multistream rules, over the two accessors both machines have.
struct Negotiation<'a, M> {
    protocols: &'a [&'a str],
    max_out: usize,
    negotiated: fn(&M) -> Option<&str>,
    /// Agreed or failed.
    is_done: fn(&M) -> bool,
    optimistic: usize,
    agreed: usize,
}

impl<M: Machine<Event = Event, Error = Error>> Rules<M> for Negotiation<'_, M> {
    fn max_output(&self) -> usize {
        self.max_out
    }

    fn consumed(&mut self, m: &M, _: &[u8], _: &[u8]) {
        if (self.negotiated)(m).is_none() {
            assert!(!(self.is_done)(m), "done without agreement or error");
        }
    }

    fn failed(&mut self, m: &M, _: &Error) {
        assert!((self.is_done)(m), "failed but not done");
    }

    fn poisoned(&mut self, m: &M) {
        assert!((self.is_done)(m));
        assert_eq!((self.negotiated)(m), None);
    }

    fn event(&mut self, m: &M, event: Event) {
        match event {
            Event::Optimistic { protocol } => {
                assert!(self.protocols.contains(&protocol.as_str()));
                assert_eq!(self.agreed, 0, "Optimistic after Negotiated");
                self.optimistic += 1;
            }
            Event::Negotiated { protocol } => {
                assert_eq!((self.negotiated)(m), Some(protocol.as_str()));
                self.agreed += 1;
            }
        }
        assert!(self.optimistic <= 1 && self.agreed <= 1, "repeated events");
    }
}

fn drive<M: Machine<Event = Event, Error = Error>>(
    machine: M,
    mut rules: Negotiation<'_, M>,
    data: &[u8],
) {
    let mut run = Run::new(machine);
    let mut pieces = chunks(data);
    run.feed(&mut rules, &mut pieces);
    if let Some(p) = (rules.negotiated)(&run.machine) {
        assert!(rules.protocols.contains(&p));
        assert!((rules.is_done)(&run.machine));
        run.rest_is_next_layers(pieces);
    }
}

#[cfg(test)]
mod tests {
    use super::super::drive::holds;
    use super::*;
    use crate::fuzzing::Xorshift;
    use crate::multistream::codec::{encode, Message};
    use alloc::vec::Vec;

    /// Deterministic inputs built from multistream pieces and noise, so the bodies reach
    /// every state, not just the header check.
    fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
        let mut rng = Xorshift(seed | 1);
        (0..count).map(move |_| {
            let mut data = Vec::new();
            data.push(rng.next() as u8);
            let pieces = rng.next() % 12;
            for _ in 0..pieces {
                match rng.next() % 10 {
                    0..=2 => encode(&Message::Header, &mut data),
                    3 => encode(&Message::Na, &mut data),
                    4 => encode(&Message::Ls, &mut data),
                    5 => encode(&Message::Protocol("/noise"), &mut data),
                    6 => encode(&Message::Protocol("/a"), &mut data),
                    7 => encode(&Message::Protocol("/x"), &mut data),
                    _ => {
                        for _ in 0..rng.next() % 6 {
                            data.push(rng.next() as u8);
                        }
                    }
                }
            }
            data
        })
    }

    #[test]
    fn dialer_body_holds_on_pseudo_random_inputs() {
        holds(
            multistream_dialer,
            &[&[]],
            inputs(4000, 0x9e37_79b9_7f4a_7c15),
        );
    }

    #[test]
    fn listener_body_holds_on_pseudo_random_inputs() {
        // past the proposal limit
        let mut data = alloc::vec![0u8];
        encode(&Message::Header, &mut data);
        for _ in 0..=MAX_REJECTED_PROPOSALS + 1 {
            encode(&Message::Protocol("/x"), &mut data);
        }
        let generated = inputs(4000, 0x2545_f491_4f6c_dd1d).chain([data]);
        holds(multistream_listener, &[&[]], generated);
    }
}
