//! A dialer/listener exchange has the same outcome however each direction's byte stream is
//! cut into chunks, and the next layer's first bytes (sent right after agreement, or right
//! after the optimistic proposal with V1Lazy) arrive intact, once, and nowhere else.

use std::collections::VecDeque;

use p2psec::multistream::{Dialer, Error, Event, Listener, Version};
use proptest::prelude::*;

/// The verbs both machines share, so one driver moves bytes for either.
trait Machine {
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
    fn poll_event(&mut self) -> Option<Event>;
    fn negotiated(&self) -> Option<&str>;
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
            fn negotiated(&self) -> Option<&str> {
                <$t>::negotiated(self)
            }
        }
    };
}
machine!(Dialer);
machine!(Listener);

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Pending,
    Negotiated(String),
    Failed(Error),
}

/// Everything one side ends up with.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    status: Status,
    events: Vec<Event>,
    /// Bytes handed to the next layer: the unconsumed tail at agreement plus all later input.
    app_received: Vec<u8>,
    /// Input the machine still holds unconsumed (only while pending; after an error it
    /// depends on how much had arrived, so it is not compared).
    unconsumed: Vec<u8>,
}

/// One side as a real driver runs it: keeps unconsumed bytes, appends each chunk, calls
/// `handle_input` with the whole tail, sends its next-layer bytes once committed.
struct End<M> {
    machine: M,
    inbox: Vec<u8>,
    app_to_send: Vec<u8>,
    app_sent: bool,
    out: Outcome,
}

impl<M: Machine> End<M> {
    fn new(machine: M, app_to_send: Vec<u8>) -> Self {
        End {
            machine,
            inbox: Vec::new(),
            app_to_send,
            app_sent: false,
            out: Outcome {
                status: Status::Pending,
                events: Vec::new(),
                app_received: Vec::new(),
                unconsumed: Vec::new(),
            },
        }
    }

    /// Moves the machine's output onto the wire, then the next layer's bytes once allowed.
    fn pump(&mut self, wire: &mut VecDeque<u8>) {
        let mut buf = Vec::new();
        let n = self.machine.poll_transmit(&mut buf);
        assert_eq!(n, buf.len());
        wire.extend(buf);
        while let Some(ev) = self.machine.poll_event() {
            if let Event::Optimistic { .. } | Event::Negotiated { .. } = ev {
                if !self.app_sent {
                    self.app_sent = true;
                    wire.extend(self.app_to_send.iter().copied());
                }
            }
            self.out.events.push(ev);
        }
    }

    fn deliver(&mut self, chunk: &[u8]) {
        match self.out.status {
            Status::Negotiated(_) => return self.out.app_received.extend_from_slice(chunk),
            Status::Failed(_) => return,
            Status::Pending => {}
        }
        self.inbox.extend_from_slice(chunk);
        match self.machine.handle_input(&self.inbox) {
            Ok(n) => {
                assert!(n <= self.inbox.len());
                self.inbox.drain(..n);
                if let Some(p) = self.machine.negotiated() {
                    self.out.status = Status::Negotiated(p.to_owned());
                    self.out.app_received.append(&mut self.inbox);
                }
            }
            Err(e) => {
                // Poisoned: the same error again, nothing more to send.
                assert_eq!(self.machine.handle_input(&self.inbox), Err(e.clone()));
                self.out.status = Status::Failed(e);
            }
        }
    }

    fn finish(mut self) -> Outcome {
        if self.out.status == Status::Pending {
            self.out.unconsumed = self.inbox;
        }
        self.out
    }
}

/// Takes the next chunk off `wire`, its size cycling through `sizes`.
fn take(wire: &mut VecDeque<u8>, sizes: &[usize], turn: &mut usize) -> Vec<u8> {
    let size = sizes[*turn % sizes.len()];
    *turn += 1;
    let n = size.min(wire.len());
    wire.drain(..n).collect()
}

#[derive(Debug, Clone)]
struct Scenario {
    version: Version,
    dialer_protocols: Vec<String>,
    listener_protocols: Vec<String>,
    dialer_app: Vec<u8>,
    listener_app: Vec<u8>,
}

fn run(s: &Scenario, d_sizes: &[usize], l_sizes: &[usize]) -> (Outcome, Outcome) {
    let dialer = Dialer::new(s.dialer_protocols.clone(), s.version).unwrap();
    let listener = Listener::new(s.listener_protocols.clone()).unwrap();
    let mut d = End::new(dialer, s.dialer_app.clone());
    let mut l = End::new(listener, s.listener_app.clone());
    let (mut d2l, mut l2d) = (VecDeque::new(), VecDeque::new());
    let (mut d_turn, mut l_turn) = (0, 0);
    loop {
        d.pump(&mut d2l);
        l.pump(&mut l2d);
        if d2l.is_empty() && l2d.is_empty() {
            break;
        }
        if !d2l.is_empty() {
            let chunk = take(&mut d2l, d_sizes, &mut d_turn);
            l.deliver(&chunk);
        }
        if !l2d.is_empty() {
            let chunk = take(&mut l2d, l_sizes, &mut l_turn);
            d.deliver(&chunk);
        }
    }
    (d.finish(), l.finish())
}

/// What the protocol lists alone say must happen.
fn check_expected(s: &Scenario, d: &Outcome, l: &Outcome) {
    let agreed = s
        .dialer_protocols
        .iter()
        .find(|p| s.listener_protocols.contains(p));
    let last = s.dialer_protocols.last().unwrap();
    let lazy = s.version == Version::V1Lazy;
    let optimistic = Event::Optimistic {
        protocol: last.clone(),
    };
    match agreed {
        Some(p) => {
            assert_eq!(d.status, Status::Negotiated(p.clone()));
            assert_eq!(l.status, Status::Negotiated(p.clone()));
            let negotiated = Event::Negotiated {
                protocol: p.clone(),
            };
            let d_events = if lazy && p == last {
                vec![optimistic, negotiated.clone()]
            } else {
                vec![negotiated.clone()]
            };
            assert_eq!(d.events, d_events);
            assert_eq!(l.events, vec![negotiated]);
            // The next layer's bytes, intact and exactly once.
            assert_eq!(l.app_received, s.dialer_app);
            assert_eq!(d.app_received, s.listener_app);
            assert!(d.unconsumed.is_empty() && l.unconsumed.is_empty());
        }
        None => {
            assert_eq!(
                d.status,
                Status::Failed(Error::NoProtocolAgreed {
                    tried: s.dialer_protocols.clone()
                })
            );
            assert_eq!(d.events, if lazy { vec![optimistic] } else { vec![] });
            assert!(d.app_received.is_empty());
            assert!(l.events.is_empty());
            assert!(l.app_received.is_empty());
            if lazy {
                // The listener got the dialer's next-layer bytes after its `na`: it may wait
                // for more (they looked like the start of a message) or fail, never accept.
                assert!(!matches!(l.status, Status::Negotiated(_)), "{:?}", l.status);
                if let Status::Failed(e) = &l.status {
                    assert!(
                        matches!(e, Error::DataAfterRejection { .. }),
                        "{e:?} after a lazy rejection"
                    );
                }
            } else {
                // A V1 dialer just stops: the listener waits (the driver sees EOF).
                assert_eq!(l.status, Status::Pending);
                assert!(l.unconsumed.is_empty());
            }
        }
    }
}

fn protocol_pool() -> Vec<String> {
    let mut pool: Vec<String> = ["/a", "/b/1.0.0", "/noise", "/yamux/1.0.0", "/tls/1.0.0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Long enough that its length prefix takes two bytes.
    pool.push(format!("/long/{}", "x".repeat(200)));
    pool
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let pool = protocol_pool();
    (
        prop_oneof![Just(Version::V1), Just(Version::V1Lazy)],
        prop::sample::subsequence(pool.clone(), 1..=4).prop_shuffle(),
        prop::sample::subsequence(pool, 1..=3).prop_shuffle(),
        prop::collection::vec(any::<u8>(), 0..48),
        prop::collection::vec(any::<u8>(), 0..48),
    )
        .prop_map(|(version, dp, lp, da, la)| Scenario {
            version,
            dialer_protocols: dp,
            listener_protocols: lp,
            dialer_app: da,
            listener_app: la,
        })
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=24, 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn same_outcome_for_any_chunking(s in scenario(), d_sizes in sizes(), l_sizes in sizes()) {
        let whole = run(&s, &[usize::MAX], &[usize::MAX]);
        check_expected(&s, &whole.0, &whole.1);
        let chunked = run(&s, &d_sizes, &l_sizes);
        check_expected(&s, &chunked.0, &chunked.1);
        prop_assert_eq!(&chunked, &whole);
        let bytewise = run(&s, &[1], &[1]);
        prop_assert_eq!(&bytewise, &whole);
    }
}

/// A lazy dialer whose only protocol is rejected, with next-layer bytes that start like a
/// Noise message (2-byte big-endian length, so a 0x00 first): the listener must name the
/// failure, whatever the chunking.
#[test]
fn lazy_rejection_with_noise_like_data() {
    let s = Scenario {
        version: Version::V1Lazy,
        dialer_protocols: vec!["/noise".into()],
        listener_protocols: vec!["/tls/1.0.0".into()],
        dialer_app: vec![0x00, 0x20, 7, 7, 7],
        listener_app: vec![],
    };
    for size in 1..40 {
        let (d, l) = run(&s, &[size], &[size]);
        check_expected(&s, &d, &l);
        assert!(
            matches!(&l.status, Status::Failed(Error::DataAfterRejection { rejected, cause })
                if rejected == "/noise" && **cause == Error::EmptyMessage),
            "{:?}",
            l.status
        );
    }
}
