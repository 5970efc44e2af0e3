//! What the fuzz bodies share: [`chunks`] cuts an input the way a network might, [`Run`]
//! feeds any [`Machine`] as a real driver does and checks the call contract of
//! `src/machine.rs` on the way (each layer adds its own [`Rules`]), [`finish`] checks what
//! a handshake hands over when it ends, and [`exchange`] plays two fixture machines
//! against each other to record a conversation.

use alloc::vec::Vec;
use core::fmt::Debug;

#[cfg(any(feature = "noise", feature = "tls"))]
use crate::identity::PeerId;
use crate::Machine;

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

/// `prefix` (recorded bytes a body starts from, if any) as one piece, then the chunks of
/// `data`.
#[cfg(any(feature = "noise", feature = "tls"))]
pub(super) fn pieces<'a>(prefix: &'a [u8], data: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    core::iter::once(prefix)
        .filter(|p| !p.is_empty())
        .chain(chunks(data))
}

/// What a layer checks beyond the call contract, at the points [`Run::feed`] reaches.
pub(super) trait Rules<M: Machine> {
    /// The most the machine may send in all while it is fed.
    fn max_output(&self) -> usize;

    /// After `handle_input` took `consumed`, leaving `rest` with the caller.
    fn consumed(&mut self, _machine: &M, _consumed: &[u8], _rest: &[u8]) {}

    /// The error the peer's bytes just caused.
    fn failed(&mut self, _machine: &M, _error: &M::Error) {}

    /// Each later piece after the error (the contract's checks have passed).
    fn poisoned(&mut self, _machine: &M) {}

    /// Each event, in order.
    fn event(&mut self, machine: &M, event: M::Event);
}

/// The rule every handshake that can complete keeps: only the fixture peer is
/// identified, once, and `Complete` follows that, once.
#[cfg(any(feature = "noise", feature = "tls"))]
pub(super) struct Identification {
    remote: PeerId,
    identified: usize,
    pub(super) completed: usize,
}

#[cfg(any(feature = "noise", feature = "tls"))]
impl Identification {
    pub(super) fn new(remote: PeerId) -> Self {
        Identification {
            remote,
            identified: 0,
            completed: 0,
        }
    }

    /// A `RemoteIdentified { peer_id }` event.
    pub(super) fn identified(&mut self, peer_id: PeerId) {
        assert_eq!(peer_id, self.remote, "only the fixture can sign");
        self.identified += 1;
        assert!(self.identified <= 1, "identified twice");
    }

    /// A `Complete` event, from a machine that says it is `complete`.
    pub(super) fn completed(&mut self, complete: bool) {
        assert_eq!(self.identified, 1, "Complete before RemoteIdentified");
        assert!(complete, "Complete from a machine that is not");
        self.completed += 1;
        assert!(self.completed <= 1, "completed twice");
    }
}

/// A machine fed as a real driver feeds it: keep the unconsumed bytes, append each new
/// piece, hand over the whole tail, drain output and events after every call.
pub(super) struct Run<M: Machine> {
    pub(super) machine: M,
    /// Bytes received and not consumed (after completion: the next layer's).
    pub(super) inbox: Vec<u8>,
    /// Bytes sent so far.
    sent: usize,
    /// The error the machine failed with.
    pub(super) failed: Option<M::Error>,
}

impl<M: Machine> Run<M>
where
    M::Error: PartialEq + Debug,
{
    pub(super) fn new(machine: M) -> Self {
        Run {
            machine,
            inbox: Vec::new(),
            sent: 0,
            failed: None,
        }
    }

    /// Hands over `pieces` until the machine completes (the rest stays in `pieces`) or
    /// they run out, checking the contract and `rules`: never more consumed than given,
    /// `poll_transmit` counts right and stays within `rules.max_output()`; an error repeats
    /// for every later call, after which nothing more goes out and no event follows.
    pub(super) fn feed<'a, R: Rules<M>>(
        &mut self,
        rules: &mut R,
        pieces: &mut impl Iterator<Item = &'a [u8]>,
    ) {
        let Run {
            machine: m,
            inbox,
            sent,
            failed,
        } = self;
        if m.is_complete() {
            return;
        }
        for piece in pieces.by_ref() {
            if let Some(e) = failed.as_ref() {
                // poisoned: the same error, whatever comes, and nothing more
                assert_eq!(m.handle_input(piece).as_ref(), Err(e));
                assert_eq!(m.handle_input(inbox).as_ref(), Err(e));
                assert_eq!(m.handle_input(&[]).as_ref(), Err(e));
                let mut out = Vec::new();
                assert_eq!(m.poll_transmit(&mut out), 0, "output after an error");
                assert!(m.poll_event().is_none(), "an event after an error");
                assert!(!m.is_complete(), "complete after an error");
                rules.poisoned(m);
                continue;
            }
            inbox.extend_from_slice(piece);
            match m.handle_input(inbox) {
                Ok(n) => {
                    assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
                    let (used, rest) = inbox.split_at(n);
                    rules.consumed(m, used, rest);
                    inbox.drain(..n);
                }
                Err(e) => {
                    rules.failed(m, &e);
                    assert_eq!(m.handle_input(inbox).as_ref(), Err(&e));
                    assert_eq!(m.handle_input(&[]).as_ref(), Err(&e));
                    assert!(!m.is_complete(), "complete after an error");
                    *failed = Some(e);
                }
            }
            *sent += transmit(m, &mut Vec::new());
            assert!(
                *sent <= rules.max_output(),
                "unbounded output: {sent} bytes"
            );
            while let Some(event) = m.poll_event() {
                rules.event(m, event);
            }
            if m.is_complete() {
                break;
            }
        }
        // whatever is still queued (nothing, if the machine keeps the contract)
        *sent += transmit(m, &mut Vec::new());
        assert!(
            *sent <= rules.max_output(),
            "unbounded output: {sent} bytes"
        );
    }

    /// After completion every further piece is the next layer's: none is consumed.
    pub(super) fn rest_is_next_layers<'a>(&mut self, pieces: impl Iterator<Item = &'a [u8]>) {
        for piece in pieces {
            assert_eq!(
                self.machine.handle_input(piece),
                Ok(0),
                "consumed past the end"
            );
        }
    }
}

/// `poll_transmit` into `out`, checked to count what it appended.
pub(super) fn transmit<M: Machine>(machine: &mut M, out: &mut Vec<u8>) -> usize {
    let before = out.len();
    let n = machine.poll_transmit(out);
    assert_eq!(n, out.len() - before, "poll_transmit miscounted");
    n
}

/// Checks what a finished machine hands over (`result`: its session or upgraded channel)
/// against how the run went: the next stage exactly when it completed without an error,
/// the run's error again after a failure, a caller error (`is_misuse`) before completion.
/// Returns the next stage, if any.
#[cfg(any(feature = "noise", feature = "tls"))]
pub(super) fn finish<S, E: PartialEq + Debug>(
    result: Result<S, E>,
    failed: Option<E>,
    complete: bool,
    is_misuse: impl Fn(&E) -> bool,
) -> Option<S> {
    match (result, failed) {
        (Ok(next), None) => {
            assert!(complete, "handed over without completing");
            Some(next)
        }
        (Err(e), Some(f)) => {
            assert_eq!(e, f, "handed over another error than the run's");
            None
        }
        (Err(e), None) if is_misuse(&e) => {
            assert!(!complete, "a complete machine refused to hand over");
            None
        }
        (r, f) => panic!("handing over: {:?} after {f:?}", r.err()),
    }
}

/// Plays two fixture machines against each other for `N` flights (`a` sends the first,
/// then they alternate), each taken whole by its receiver; returns them in order.
#[cfg(any(feature = "noise", feature = "tls"))]
pub(super) fn exchange<A: Machine, B: Machine, const N: usize>(a: &mut A, b: &mut B) -> [Vec<u8>; N]
where
    A::Error: Debug,
    B::Error: Debug,
{
    fn flight<F: Machine, T: Machine>(from: &mut F, to: &mut T) -> Vec<u8>
    where
        T::Error: Debug,
    {
        let mut out = Vec::new();
        transmit(from, &mut out);
        match to.handle_input(&out) {
            Ok(n) => assert_eq!(n, out.len(), "a fixture flight not taken whole"),
            Err(e) => panic!("fixture flight: {e:?}"),
        }
        out
    }
    core::array::from_fn(|k| {
        if k % 2 == 0 {
            flight(a, b)
        } else {
            flight(b, a)
        }
    })
}

/// A body on a few fixed inputs, then on generated ones: it must hold (not panic) on all.
#[cfg(test)]
pub(super) fn holds(
    body: fn(&[u8]),
    fixed: &[&[u8]],
    generated: impl IntoIterator<Item = Vec<u8>>,
) {
    for data in fixed {
        body(data);
    }
    for data in generated {
        body(&data);
    }
}
