//! Handshakes per second through the C API against the Rust API, in the same run.
//!
//! Each round runs a batch of complete upgrades (multistream-select, the handshake, the
//! muxer agreed early) in memory between a dialer and a listener, once through the raw
//! `extern "C"` functions (caller buffers, `poll_transmit` into a fixed array, handles
//! made and freed as a C program would) and once through `p2psec::upgrade` directly
//! (`Vec` output), alternating so that both see the same machine load. Keys and
//! configurations are made once; each upgrade draws its ephemeral secrets from the OS in
//! both forms. Rounds' ratios are reduced to their median.
//!
//! Last lines: `ratio ffi_handshakes_per_sec_vs_rust_noise V` and `..._tls V`
//! (C API / Rust API; 1.0 means no cost). `P2PSEC_BENCH_QUICK=1` gives a short run.

use std::hint::black_box;
use std::ptr;
use std::time::Instant;

use p2psec::upgrade::{Config, Dialer, Listener, SecurityProtocol};
use p2psec::{Keypair, Machine};
use p2psec_ffi::*;

const NOW: u64 = 1_780_000_000;

struct CSide {
    dialer_config: *mut p2psec_config,
    listener_config: *mut p2psec_config,
    expected: *mut p2psec_peer_id,
}

fn check(status: p2psec_status, what: &str) {
    assert_eq!(status, p2psec_status::P2PSEC_OK, "{what}");
}

impl CSide {
    fn new(security: &str) -> Self {
        let list = std::ffi::CString::new(security).unwrap();
        let mut side = CSide {
            dialer_config: ptr::null_mut(),
            listener_config: ptr::null_mut(),
            expected: ptr::null_mut(),
        };
        // SAFETY: every pointer is a live handle or a local out slot
        unsafe {
            for (config, seed) in [
                (&mut side.dialer_config, 1u8),
                (&mut side.listener_config, 2),
            ] {
                let mut key = ptr::null_mut();
                check(
                    p2psec_keypair_from_seed(1, [seed; 32].as_ptr(), &mut key),
                    "key",
                );
                check(p2psec_config_new(key, NOW, ptr::null(), config), "config");
                check(
                    p2psec_config_set_security(*config, list.as_ptr()),
                    "security",
                );
                p2psec_keypair_free(&mut key);
            }
            check(
                p2psec_config_local_peer_id(side.listener_config, &mut side.expected),
                "peer id",
            );
        }
        side
    }

    /// One upgrade through the C functions, both roles.
    fn upgrade(&self, buf: &mut [u8]) {
        // SAFETY: the handles are live; `buf` is ours
        unsafe {
            let mut d = ptr::null_mut();
            let mut l = ptr::null_mut();
            check(
                p2psec_dialer_new(self.dialer_config, self.expected, NOW, ptr::null(), &mut d),
                "dialer",
            );
            check(
                p2psec_listener_new(self.listener_config, NOW, ptr::null(), &mut l),
                "listener",
            );
            while !(p2psec_dialer_is_complete(d) && p2psec_listener_is_complete(l)) {
                let mut n = 0;
                check(
                    p2psec_dialer_poll_transmit(d, buf.as_mut_ptr(), buf.len(), &mut n),
                    "d tx",
                );
                feed(buf, n, |p, len, used| {
                    p2psec_listener_handle_input(l, p, len, used)
                });
                check(
                    p2psec_listener_poll_transmit(l, buf.as_mut_ptr(), buf.len(), &mut n),
                    "l tx",
                );
                feed(buf, n, |p, len, used| {
                    p2psec_dialer_handle_input(d, p, len, used)
                });
            }
            let mut ev = std::mem::MaybeUninit::<p2psec_event>::uninit();
            while p2psec_dialer_poll_event(d, ev.as_mut_ptr()) == p2psec_status::P2PSEC_OK {}
            while p2psec_listener_poll_event(l, ev.as_mut_ptr()) == p2psec_status::P2PSEC_OK {}
            let (mut cd, mut cl) = (ptr::null_mut(), ptr::null_mut());
            check(p2psec_dialer_into_channel(&mut d, &mut cd), "d channel");
            check(p2psec_listener_into_channel(&mut l, &mut cl), "l channel");
            // what a dialer still owes (TLS: the client's Finished) goes out before data
            let mut n = 0;
            check(
                p2psec_channel_poll_transmit(cd, buf.as_mut_ptr(), buf.len(), &mut n),
                "cd tx",
            );
            feed(buf, n, |p, len, used| {
                p2psec_channel_handle_input(cl, p, len, used)
            });
            black_box((cd, cl));
            p2psec_channel_free(&mut cd);
            p2psec_channel_free(&mut cl);
        }
    }
}

/// Hands `buf[..n]` to `handle_input` until it is all taken.
fn feed(
    buf: &[u8],
    n: usize,
    mut handle_input: impl FnMut(*const u8, usize, *mut usize) -> p2psec_status,
) {
    let mut at = 0;
    while at < n {
        let mut used = 0;
        check(
            handle_input(buf[at..].as_ptr(), n - at, &mut used),
            "handle_input",
        );
        assert!(used > 0, "no progress");
        at += used;
    }
}

impl Drop for CSide {
    fn drop(&mut self) {
        // SAFETY: live handles, freed once
        unsafe {
            p2psec_config_free(&mut self.dialer_config);
            p2psec_config_free(&mut self.listener_config);
            p2psec_peer_id_free(&mut self.expected);
        }
    }
}

struct RustSide {
    dialer: Config,
    listener: Config,
}

impl RustSide {
    fn new(security: SecurityProtocol) -> Self {
        let mut rng = p2psec::adapters::os_rng();
        let make = |seed: u8, rng: &mut dyn rand_core::CryptoRng| {
            let mut s = [seed; 32];
            let key = Keypair::Ed25519(p2psec::identity::ed25519::Keypair::from_seed(&mut s));
            Config::new(&key, NOW, rng)
                .unwrap()
                .with_security([security])
                .unwrap()
        };
        RustSide {
            dialer: make(1, &mut rng),
            listener: make(2, &mut rng),
        }
    }

    /// One upgrade through the Rust API, both roles.
    fn upgrade(&self) {
        let mut rng = p2psec::adapters::os_rng();
        let expected = self.listener.local_peer_id();
        let mut d = Dialer::new(&self.dialer, Some(expected), NOW, &mut rng).unwrap();
        let mut l = Listener::new(&self.listener, NOW, &mut rng).unwrap();
        let mut buf = Vec::with_capacity(16 * 1024);
        while !(d.is_complete() && l.is_complete()) {
            buf.clear();
            let _ = d.poll_transmit(&mut buf);
            feed_rust(&buf, |b| Machine::handle_input(&mut l, b).unwrap());
            buf.clear();
            let _ = l.poll_transmit(&mut buf);
            feed_rust(&buf, |b| Machine::handle_input(&mut d, b).unwrap());
        }
        while d.poll_event().is_some() {}
        while l.poll_event().is_some() {}
        let mut cd = d.into_upgraded().unwrap().channel;
        let mut cl = l.into_upgraded().unwrap().channel;
        buf.clear();
        let _ = cd.poll_transmit(&mut buf);
        feed_rust(&buf, |b| cl.handle_input(b).unwrap());
        black_box((cd, cl));
    }
}

fn feed_rust(buf: &[u8], mut handle_input: impl FnMut(&[u8]) -> usize) {
    let mut at = 0;
    while at < buf.len() {
        let used = handle_input(&buf[at..]);
        assert!(used > 0, "no progress");
        at += used;
    }
}

fn per_sec(batch: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    batch as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::var_os("P2PSEC_BENCH_QUICK").is_some();
    let (rounds, batch) = if quick { (7, 100) } else { (21, 400) };
    let mut buf = vec![0u8; 64 * 1024];
    for (name, list, protocol) in [
        ("noise", "noise", SecurityProtocol::Noise),
        ("tls", "tls", SecurityProtocol::Tls),
    ] {
        let c = CSide::new(list);
        let r = RustSide::new(protocol);
        // warm up both (TLS: the crypto backend's first-use setup)
        per_sec(batch / 10 + 1, || c.upgrade(&mut buf));
        per_sec(batch / 10 + 1, || r.upgrade());
        let (mut ratios, mut cs, mut rs) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // alternate which goes first, so drift in machine load hits both alike
            let (cv, rv) = if round % 2 == 0 {
                let cv = per_sec(batch, || c.upgrade(&mut buf));
                (cv, per_sec(batch, || r.upgrade()))
            } else {
                let rv = per_sec(batch, || r.upgrade());
                (per_sec(batch, || c.upgrade(&mut buf)), rv)
            };
            ratios.push(cv / rv);
            cs.push(cv);
            rs.push(rv);
        }
        println!(
            "{name}: C API {:.0} upgrades/s, Rust API {:.0} upgrades/s (medians of {rounds} rounds of {batch}; both roles per upgrade)",
            median(cs),
            median(rs)
        );
        println!(
            "ratio ffi_handshakes_per_sec_vs_rust_{name} {:.3}",
            median(ratios)
        );
    }
}
