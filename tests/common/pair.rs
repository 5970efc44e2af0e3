//! The one two-peer driver of the tests (STYLE.md: "all driven by one shared two-peer
//! driver"), over [`p2psec::Machine`]: the handshake step every peer takes ([`step`]),
//! either role's machine in one type ([`Role`]), and the wire between two [`Peer`]s: a
//! [`Link`] per direction (bytes in flight, one byte flipped on the way, a log of all it
//! carried) and the loops that move bytes over them, one [`flight`] at a time or until
//! nothing moves ([`run`]). The layer drivers build on it and add what follows the
//! handshake: `noise_pair.rs` (transport frames), `tls_pair.rs` (the TLS session) and
//! `upgrade_pair.rs` (the upgraded channel, flight by flight).
//!
//! Included by them with `#[path = "pair.rs"] mod pair;`.
#![allow(dead_code)]

use std::collections::VecDeque;

#[cfg(any(feature = "noise", feature = "tls"))]
use p2psec::machine::Incomplete;
use p2psec::Machine;

/// A handshake: a machine whose completion hands over the next stage (a session, an
/// upgraded channel), or the reason it could not (the drivers drop the machine then).
pub(crate) trait Handshake: Machine + Sized {
    type Done;
    /// The next stage, once complete.
    fn finish(self) -> Result<Self::Done, Self::Error>;
}

// what each layer's handshake hands over
#[cfg(feature = "noise")]
impl Handshake for p2psec::noise::Initiator {
    type Done = p2psec::noise::Session;
    fn finish(self) -> Result<Self::Done, Self::Error> {
        self.into_session().map_err(Incomplete::into_error)
    }
}
#[cfg(feature = "noise")]
impl Handshake for p2psec::noise::Responder {
    type Done = p2psec::noise::Session;
    fn finish(self) -> Result<Self::Done, Self::Error> {
        self.into_session().map_err(Incomplete::into_error)
    }
}
#[cfg(feature = "tls")]
impl Handshake for p2psec::tls::Client {
    type Done = p2psec::tls::Session;
    fn finish(self) -> Result<Self::Done, Self::Error> {
        self.into_session().map_err(Incomplete::into_error)
    }
}
#[cfg(feature = "tls")]
impl Handshake for p2psec::tls::Server {
    type Done = p2psec::tls::Session;
    fn finish(self) -> Result<Self::Done, Self::Error> {
        self.into_session().map_err(Incomplete::into_error)
    }
}
#[cfg(any(feature = "noise", feature = "tls"))]
impl Handshake for p2psec::upgrade::Dialer {
    type Done = p2psec::upgrade::Upgraded;
    fn finish(self) -> Result<Self::Done, Self::Error> {
        self.into_upgraded()
    }
}
#[cfg(any(feature = "noise", feature = "tls"))]
impl Handshake for p2psec::upgrade::Listener {
    type Done = p2psec::upgrade::Upgraded;
    fn finish(self) -> Result<Self::Done, Self::Error> {
        self.into_upgraded()
    }
}

/// Either role's machine, so one peer type runs both.
pub(crate) enum Role<D, L> {
    Dialer(D),
    Listener(L),
}

impl<D, L> Machine for Role<D, L>
where
    D: Machine,
    L: Machine<Event = D::Event, Error = D::Error>,
{
    type Event = D::Event;
    type Error = D::Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, D::Error> {
        match self {
            Role::Dialer(m) => m.handle_input(bytes),
            Role::Listener(m) => m.handle_input(bytes),
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        match self {
            Role::Dialer(m) => m.poll_transmit(out),
            Role::Listener(m) => m.poll_transmit(out),
        }
    }

    fn pending_transmit(&mut self) -> usize {
        match self {
            Role::Dialer(m) => m.pending_transmit(),
            Role::Listener(m) => m.pending_transmit(),
        }
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, p2psec::InsufficientSize> {
        match self {
            Role::Dialer(m) => m.poll_transmit_into(buf),
            Role::Listener(m) => m.poll_transmit_into(buf),
        }
    }

    fn poll_event(&mut self) -> Option<D::Event> {
        match self {
            Role::Dialer(m) => m.poll_event(),
            Role::Listener(m) => m.poll_event(),
        }
    }

    fn is_complete(&self) -> bool {
        match self {
            Role::Dialer(m) => m.is_complete(),
            Role::Listener(m) => m.is_complete(),
        }
    }
}

impl<D, L> Handshake for Role<D, L>
where
    D: Handshake,
    L: Handshake<Event = D::Event, Error = D::Error, Done = D::Done>,
{
    type Done = D::Done;

    fn finish(self) -> Result<D::Done, D::Error> {
        match self {
            Role::Dialer(m) => m.finish(),
            Role::Listener(m) => m.finish(),
        }
    }
}

/// The step every peer's driver takes: the whole inbox to `handle_input`, the consumed
/// bytes dropped from it, the events appended to `events`. Returns how many bytes were
/// consumed; after an error the machine is left as it failed (it may still owe the peer
/// its last words) and its events stay queued.
pub(crate) fn step<M: Machine>(
    machine: &mut M,
    inbox: &mut Vec<u8>,
    events: &mut Vec<M::Event>,
) -> Result<usize, M::Error> {
    let n = machine.handle_input(inbox)?;
    assert!(n <= inbox.len(), "consumed {n} of {}", inbox.len());
    inbox.drain(..n);
    events.extend(std::iter::from_fn(|| machine.poll_event()));
    Ok(n)
}

/// One of two peers, as the wire sees it.
pub(crate) trait Peer {
    /// Bytes from the other peer.
    fn input(&mut self, bytes: &[u8]);
    /// What must go to the other peer now.
    fn output(&mut self) -> Vec<u8>;
}

/// One direction of the wire: the bytes in flight, a byte to flip on the way
/// (`(offset in this direction's stream, xor mask)`) and everything carried (after the
/// flip).
#[derive(Default, Clone)]
pub(crate) struct Link {
    pub(crate) tamper: Option<(usize, u8)>,
    pub(crate) log: Vec<u8>,
    in_flight: VecDeque<u8>,
}

impl Link {
    /// A link that flips the byte `tamper` names, if any.
    pub(crate) fn new(tamper: Option<(usize, u8)>) -> Self {
        Link {
            tamper,
            ..Link::default()
        }
    }

    /// Puts `flight` in flight, flipped where the tamper points and logged.
    pub(crate) fn send(&mut self, mut flight: Vec<u8>) {
        let start = self.log.len();
        if let Some((at, mask)) = self.tamper {
            if (start..start + flight.len()).contains(&at) {
                flight[at - start] ^= mask;
            }
        }
        self.log.extend_from_slice(&flight);
        self.in_flight.extend(flight);
    }

    /// Whether bytes are in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The next delivery: `n` bytes of those in flight (at least one, at most all).
    pub(crate) fn deliver(&mut self, n: usize) -> Vec<u8> {
        let n = n.clamp(1, self.in_flight.len().max(1));
        self.in_flight
            .drain(..n.min(self.in_flight.len()))
            .collect()
    }
}

/// How much of what is in flight one turn delivers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Turn {
    /// Everything, in pieces.
    Everything,
    /// The next piece only; the rest waits for the next turn.
    OnePiece,
}

/// Which way bytes go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Way {
    AToB,
    BToA,
}

/// One flight: what `from` has to send goes on `link`, and `to` gets what is in flight
/// (as `turn` says) in pieces of the sizes `cut` gives (asked once per piece). Returns
/// whether a byte moved.
pub(crate) fn flight(
    from: &mut dyn Peer,
    to: &mut dyn Peer,
    link: &mut Link,
    cut: &mut dyn FnMut() -> usize,
    turn: Turn,
) -> bool {
    let out = from.output();
    let mut moved = !out.is_empty();
    link.send(out);
    while !link.is_empty() {
        to.input(&link.deliver(cut()));
        moved = true;
        if turn == Turn::OnePiece {
            break;
        }
    }
    moved
}

/// Moves bytes between `a` and `b` (a flight from `a`, then one from `b`) until no byte
/// moves any more; panics after `max_rounds` rounds.
pub(crate) fn run(
    a: &mut dyn Peer,
    b: &mut dyn Peer,
    a_to_b: &mut Link,
    b_to_a: &mut Link,
    cut: &mut dyn FnMut(Way) -> usize,
    turn: Turn,
    max_rounds: usize,
) {
    for _ in 0..max_rounds {
        let there = flight(a, b, a_to_b, &mut || cut(Way::AToB), turn);
        let back = flight(b, a, b_to_a, &mut || cut(Way::BToA), turn);
        if !there && !back {
            return;
        }
    }
    panic!("the exchange never settled");
}
