//! `poll_transmit_into` on every layer: a short buffer is refused untouched with the size
//! it needs and nothing lost, a buffer that large gets exactly the `Vec` form's bytes, and
//! an empty queue gives `Ok(0)`.

use alloc::vec;
use alloc::vec::Vec;

use super::{InsufficientSize, Machine};
#[cfg(any(feature = "noise", feature = "tls", feature = "secio"))]
use crate::fuzzing::TestRng;
#[cfg(any(feature = "noise", feature = "tls", feature = "secio"))]
use crate::identity::{KeyType, Keypair};

#[cfg(any(feature = "noise", feature = "tls"))]
const NOW: u64 = 1_750_000_000;

/// What a refused call must leave in the caller's buffer.
const FILL: u8 = 0xa5;

/// The transmit verbs, on the machines and on the sessions (which are no `Machine`).
trait Transmit {
    fn pending(&mut self) -> usize;
    fn take_into(&mut self, buf: &mut [u8]) -> Result<usize, InsufficientSize>;
    fn take_vec(&mut self, out: &mut Vec<u8>) -> usize;
}

impl<M: Machine> Transmit for M {
    fn pending(&mut self) -> usize {
        self.pending_transmit()
    }
    fn take_into(&mut self, buf: &mut [u8]) -> Result<usize, InsufficientSize> {
        self.poll_transmit_into(buf)
    }
    fn take_vec(&mut self, out: &mut Vec<u8>) -> usize {
        self.poll_transmit(out)
    }
}

macro_rules! session_transmit {
    ($t:ty) => {
        impl Transmit for $t {
            fn pending(&mut self) -> usize {
                self.pending_transmit()
            }
            fn take_into(&mut self, buf: &mut [u8]) -> Result<usize, InsufficientSize> {
                self.poll_transmit_into(buf)
            }
            fn take_vec(&mut self, out: &mut Vec<u8>) -> usize {
                self.poll_transmit(out)
            }
        }
    };
}

#[cfg(feature = "noise")]
session_transmit!(crate::noise::Session);
#[cfg(feature = "tls")]
session_transmit!(crate::tls::Session);
#[cfg(feature = "secio")]
session_transmit!(crate::secio::Session);
#[cfg(any(feature = "noise", feature = "tls"))]
session_transmit!(crate::upgrade::SecureChannel);

/// Takes `m`'s output with `poll_transmit_into`, checking the contract on the way.
fn take_checked<M: Transmit>(m: &mut M) -> Vec<u8> {
    let required = m.pending();
    assert_eq!(m.pending(), required, "pending_transmit is not stable");
    if required > 0 {
        for short in [0, required / 2, required - 1] {
            let mut buf = vec![FILL; short];
            assert_eq!(m.take_into(&mut buf), Err(InsufficientSize { required }));
            assert!(buf.iter().all(|&b| b == FILL), "a refused call wrote");
            assert_eq!(m.pending(), required, "a refused call took bytes");
        }
    }
    let mut buf = vec![FILL; required + 5];
    assert_eq!(m.take_into(&mut buf), Ok(required));
    assert!(buf.get(required..).unwrap().iter().all(|&b| b == FILL));
    buf.truncate(required);
    assert_eq!(m.pending(), 0);
    assert_eq!(m.take_into(&mut []), Ok(0));
    assert_eq!(m.take_vec(&mut Vec::new()), 0, "the Vec form found more");
    buf
}

/// The `Vec` form's bytes.
fn take_vec<M: Transmit>(m: &mut M) -> Vec<u8> {
    let mut out = Vec::new();
    let n = m.take_vec(&mut out);
    assert_eq!(n, out.len());
    out
}

#[test]
fn the_error_names_the_size_needed() {
    let e = InsufficientSize { required: 42 };
    assert!(alloc::format!("{e}").contains("42"));
}

#[test]
fn multistream_dialer_and_listener() {
    use crate::multistream::{Dialer, Listener, Version};
    let new = || Dialer::new(["/noise", "/tls/1.0.0"], Version::V1).unwrap();
    let (mut d, mut twin) = (new(), new());
    let hello = take_checked(&mut d);
    assert!(!hello.is_empty());
    assert_eq!(hello, take_vec(&mut twin));
    let mut l = Listener::new(["/tls/1.0.0"]).unwrap();
    let mut l_twin = Listener::new(["/tls/1.0.0"]).unwrap();
    assert_eq!(l.handle_input(&hello), Ok(hello.len()));
    assert_eq!(l_twin.handle_input(&hello), Ok(hello.len()));
    let answer = take_checked(&mut l);
    assert!(!answer.is_empty());
    assert_eq!(answer, take_vec(&mut l_twin));
    assert_eq!(d.handle_input(&answer), Ok(answer.len()));
    assert_eq!(twin.handle_input(&answer), Ok(answer.len()));
    assert_eq!(take_checked(&mut d), take_vec(&mut twin));
}

#[cfg(feature = "noise")]
fn noise_config(seed: u64) -> crate::noise::Config {
    let mut rng = TestRng(seed);
    let id = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    crate::noise::Config::new(&id, &mut rng).unwrap()
}

/// A Noise handshake driven by `poll_transmit_into` alone, every message checked against
/// a twin pair driven by `poll_transmit`; then a session write, checked the same way.
#[cfg(feature = "noise")]
#[test]
fn noise_handshake_and_session() {
    use crate::noise::{Initiator, Responder};
    let (ci, cr) = (noise_config(1), noise_config(2));
    let mut i = Initiator::new(&ci, None, &mut TestRng(10)).unwrap();
    let mut r = Responder::new(&cr, &mut TestRng(20)).unwrap();
    let mut i2 = Initiator::new(&ci, None, &mut TestRng(10)).unwrap();
    let mut r2 = Responder::new(&cr, &mut TestRng(20)).unwrap();
    assert_eq!(take_checked(&mut r), Vec::<u8>::new());
    let m1 = take_checked(&mut i);
    assert!(!m1.is_empty());
    assert_eq!(m1, take_vec(&mut i2));
    assert_eq!(r.handle_input(&m1), Ok(m1.len()));
    assert_eq!(r2.handle_input(&m1), Ok(m1.len()));
    let m2 = take_checked(&mut r);
    assert_eq!(m2, take_vec(&mut r2));
    assert_eq!(i.handle_input(&m2), Ok(m2.len()));
    assert_eq!(i2.handle_input(&m2), Ok(m2.len()));
    let m3 = take_checked(&mut i);
    assert_eq!(m3, take_vec(&mut i2));
    assert_eq!(r.handle_input(&m3), Ok(m3.len()));
    let (mut a, mut b) = (i.into_session().unwrap(), r.into_session().unwrap());
    let mut a2 = i2.into_session().unwrap();
    assert_eq!(take_checked(&mut a), Vec::<u8>::new());
    assert_eq!(a.write(b"ping"), Ok(4));
    assert_eq!(a2.write(b"ping"), Ok(4));
    let frame = take_checked(&mut a);
    assert_eq!(frame, take_vec(&mut a2));
    assert_eq!(b.handle_input(&frame), Ok(frame.len()));
    let mut got = [0u8; 8];
    assert_eq!(b.read(&mut got), Ok(4));
    assert_eq!(got.get(..4), Some(&b"ping"[..]));
}

#[cfg(feature = "tls")]
fn tls_configs() -> (crate::tls::Config, crate::tls::Config) {
    let mut rng = TestRng(5);
    let cid = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let sid = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let cc = crate::tls::Config::new(&cid, NOW, &mut rng).unwrap();
    let sc = crate::tls::Config::new(&sid, NOW, &mut rng).unwrap();
    (cc, sc)
}

/// A TLS handshake driven by `poll_transmit_into` alone. rustls draws its own randoms,
/// so a twin's ClientHello differs: the lengths must agree and the server must take it.
#[cfg(feature = "tls")]
#[test]
fn tls_handshake_and_session() {
    use crate::tls::{Client, Server};
    let (cc, sc) = tls_configs();
    let mut c = Client::new(&cc, Some(sc.local_peer_id()), NOW).unwrap();
    let mut twin = Client::new(&cc, Some(sc.local_peer_id()), NOW).unwrap();
    let mut s = Server::new(&sc, NOW).unwrap();
    let hello = take_checked(&mut c);
    assert_eq!(hello.len(), take_vec(&mut twin).len());
    // a handshake record
    assert_eq!(hello.first(), Some(&22));
    let (mut to_s, mut to_c) = (hello, Vec::new());
    for _ in 0..8 {
        let n = s.handle_input(&to_s).unwrap();
        to_s.drain(..n);
        to_c.extend(take_checked(&mut s));
        let n = c.handle_input(&to_c).unwrap();
        to_c.drain(..n);
        to_s.extend(take_checked(&mut c));
    }
    assert!(c.is_complete() && s.is_complete());
    let mut client = c.into_session().unwrap();
    let mut server = s.into_session().unwrap();
    to_s.extend(take_checked(&mut client));
    assert_eq!(server.handle_input(&to_s), Ok(to_s.len()));
    assert_eq!(client.write(b"ping"), Ok(4));
    let record = take_checked(&mut client);
    assert!(!record.is_empty());
    assert_eq!(server.handle_input(&record), Ok(record.len()));
    let mut got = [0u8; 8];
    assert_eq!(server.read(&mut got), Ok(4));
    assert_eq!(got.get(..4), Some(&b"ping"[..]));
}

/// The upgrade's first flight against a twin's, then a whole upgrade (whichever security
/// protocol the default configuration picks) driven by `poll_transmit_into` alone, and
/// the channel's first write.
#[cfg(any(feature = "noise", feature = "tls"))]
#[test]
fn upgrade_dialer_and_listener() {
    use crate::upgrade::{Config, Dialer, Listener};
    use zeroize::Zeroizing;
    let mut rng = TestRng(7);
    let did = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let lid = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let dc = Config::new(&did, NOW, &mut rng).unwrap();
    let lc = Config::new(&lid, NOW, &mut rng).unwrap();
    let seed = || Zeroizing::new([7u8; 32]);
    let mut d = Dialer::with_seed(&dc, None, NOW, seed()).unwrap();
    let mut twin = Dialer::with_seed(&dc, None, NOW, seed()).unwrap();
    let mut l = Listener::with_seed(&lc, NOW, Zeroizing::new([9u8; 32])).unwrap();
    let first = take_checked(&mut d);
    assert!(!first.is_empty());
    assert_eq!(first, take_vec(&mut twin));
    let (mut to_l, mut to_d) = (first, Vec::new());
    for _ in 0..16 {
        if !l.is_complete() {
            let n = l.handle_input(&to_l).unwrap();
            to_l.drain(..n);
            to_d.extend(take_checked(&mut l));
        }
        if !d.is_complete() {
            let n = d.handle_input(&to_d).unwrap();
            to_d.drain(..n);
            to_l.extend(take_checked(&mut d));
        }
    }
    assert!(d.is_complete() && l.is_complete());
    let mut dc = d.into_upgraded().unwrap().channel;
    let mut lc = l.into_upgraded().unwrap().channel;
    to_l.extend(take_checked(&mut dc));
    to_d.extend(take_checked(&mut lc));
    assert_eq!(dc.write(b"ping"), Ok(4));
    to_l.extend(take_checked(&mut dc));
    assert_eq!(lc.handle_input(&to_l), Ok(to_l.len()));
    let mut got = [0u8; 8];
    assert_eq!(lc.read(&mut got), Ok(4));
    assert_eq!(got.get(..4), Some(&b"ping"[..]));
}

#[cfg(feature = "mplex")]
#[test]
fn mplex_connection() {
    use crate::mplex::Connection;
    let (mut a, mut twin) = (Connection::new(), Connection::new());
    assert_eq!(take_checked(&mut a), Vec::<u8>::new());
    for m in [&mut a, &mut twin] {
        let id = m.open_stream().unwrap();
        assert_eq!(m.write(id, b"ping"), Ok(4));
    }
    let frames = take_checked(&mut a);
    assert!(!frames.is_empty());
    assert_eq!(frames, take_vec(&mut twin));
}

/// SECIO's proposals against a twin's (same seeds), then the whole handshake driven by
/// `poll_transmit_into` alone, and the session's first write.
#[cfg(feature = "secio")]
#[test]
fn secio_handshake_and_session() {
    use crate::secio::{Config, Handshake};
    use zeroize::Zeroizing;
    let mut rng = TestRng(3);
    let aid = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let bid = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
    let (ac, bc) = (Config::new(&aid), Config::new(&bid));
    let mut a = Handshake::with_seed(&ac, None, Zeroizing::new([1u8; 32])).unwrap();
    let mut twin = Handshake::with_seed(&ac, None, Zeroizing::new([1u8; 32])).unwrap();
    let mut b = Handshake::with_seed(&bc, None, Zeroizing::new([2u8; 32])).unwrap();
    let first = take_checked(&mut a);
    assert!(!first.is_empty());
    assert_eq!(first, take_vec(&mut twin));
    let (mut to_b, mut to_a) = (first, take_checked(&mut b));
    for _ in 0..8 {
        let n = b.handle_input(&to_b).unwrap();
        to_b.drain(..n);
        to_a.extend(take_checked(&mut b));
        let n = a.handle_input(&to_a).unwrap();
        to_a.drain(..n);
        to_b.extend(take_checked(&mut a));
    }
    assert!(a.is_complete() && b.is_complete());
    let mut sa = a.into_session().unwrap();
    let mut sb = b.into_session().unwrap();
    assert_eq!(sa.write(b"ping"), Ok(4));
    to_b.extend(take_checked(&mut sa));
    assert_eq!(sb.handle_input(&to_b), Ok(to_b.len()));
    let mut got = [0u8; 8];
    assert_eq!(sb.read(&mut got), Ok(4));
    assert_eq!(got.get(..4), Some(&b"ping"[..]));
}
