//! SECIO next to p2psec's Noise, in one run on one core, in memory: a complete handshake
//! (both sides, Ed25519 identities, the algorithms two p2psec nodes agree on: P-256,
//! AES-256-CTR, HMAC-SHA256) and one-way throughput with 64 KiB writes (sealed, then
//! checked and opened in place). Also: the handshake per key exchange (P-256, P-384,
//! P-521) and throughput per cipher/hash pair, and heap per established session.
//!
//! SECIO is deprecated; these figures say what reaching a legacy peer costs, not a
//! reason to pick it. Last lines: `ratio secio_handshake_vs_noise V` (SECIO's time over
//! Noise's) and `ratio secio_throughput_vs_noise V` (SECIO's bytes/s over Noise's).
//! `P2PSEC_BENCH_QUICK=1` gives a short run.

use std::hint::black_box;

use p2psec::identity::{KeyType, Keypair};
use p2psec::noise;
use p2psec::secio::{self, Cipher, Hash, KeyExchange};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[path = "support/timing.rs"]
mod timing;

/// Not a CSPRNG: a fast deterministic source so RNG cost does not blur the figures.
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::TestRng as BenchRng;

const WRITE: usize = 64 * 1024;

fn secio_handshake(
    a: &secio::Config,
    b: &secio::Config,
    rng: &mut BenchRng,
) -> (secio::Session, secio::Session) {
    let mut x = secio::Handshake::new(a, None, rng).expect("handshake");
    let mut y = secio::Handshake::new(b, None, rng).expect("handshake");
    let (mut xy, mut yx) = (Vec::with_capacity(512), Vec::with_capacity(512));
    while !(x.is_complete() && y.is_complete()) {
        let _ = x.poll_transmit(&mut xy);
        let _ = y.poll_transmit(&mut yx);
        let n = y.handle_input(&xy).expect("input");
        xy.drain(..n);
        let n = x.handle_input(&yx).expect("input");
        yx.drain(..n);
    }
    let _ = x.poll_transmit(&mut xy);
    let _ = y.poll_transmit(&mut yx);
    let (mut sx, mut sy) = (
        x.into_session().expect("session"),
        y.into_session().expect("session"),
    );
    // the echoes: the handshake is proven only once each side has read the other's
    let mut plain = Vec::new();
    sy.recv().handle_input(&xy, &mut plain).expect("echo");
    sx.recv().handle_input(&yx, &mut plain).expect("echo");
    (sx, sy)
}

fn noise_handshake(
    ic: &noise::Config,
    rc: &noise::Config,
    rng: &mut BenchRng,
) -> (noise::Session, noise::Session) {
    let mut i = noise::Initiator::new(ic, None, rng).expect("initiator");
    let mut r = noise::Responder::new(rc, rng).expect("responder");
    let (mut to_r, mut to_i) = (Vec::with_capacity(256), Vec::with_capacity(256));
    while !(i.is_complete() && r.is_complete()) {
        let _ = i.poll_transmit(&mut to_r);
        let n = r.handle_input(&to_r).expect("responder input");
        to_r.drain(..n);
        let _ = r.poll_transmit(&mut to_i);
        let n = i.handle_input(&to_i).expect("initiator input");
        to_i.drain(..n);
    }
    let _ = i.poll_transmit(&mut to_r);
    (
        i.into_session().expect("session"),
        r.into_session().expect("session"),
    )
}

/// One 64 KiB write: SECIO fits it in one frame, sealed and opened in place.
fn secio_transfer(tx: &mut secio::Session, rx: &mut secio::Session, frame: &mut [u8]) {
    let n = tx.send().seal_in_place(frame, WRITE).expect("seal");
    let opened = rx
        .recv()
        .decrypt_in_place(&mut frame[..n])
        .expect("open")
        .expect("whole frame");
    black_box(opened.plaintext);
}

/// The same for Noise: two frames (65519 + 17 bytes), in place.
fn noise_transfer(tx: &mut noise::Session, rx: &mut noise::Session, frames: &mut [u8]) {
    let first = noise::MAX_PLAINTEXT_LEN;
    let split = noise::SendHalf::frame_len(first);
    let (a, b) = frames.split_at_mut(split);
    tx.send().seal_in_place(a, first).expect("seal");
    tx.send().seal_in_place(b, WRITE - first).expect("seal");
    for f in [a, b] {
        let opened = rx.recv().decrypt_in_place(f).expect("open").expect("frame");
        black_box(opened.plaintext);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn config(key: &Keypair, ex: KeyExchange, c: Cipher, h: Hash) -> secio::Config {
    secio::Config::new(key)
        .with_exchanges(&[ex])
        .and_then(|x| x.with_ciphers(&[c]))
        .and_then(|x| x.with_hashes(&[h]))
        .expect("config")
}

/// Heap held by one established session (both halves), idle and after traffic.
fn heap(a: &secio::Config, b: &secio::Config, rng: &mut BenchRng) -> (isize, isize) {
    let region = Region::new(GLOBAL);
    let (mut x, mut y) = secio_handshake(a, b, rng);
    let idle =
        region.change().bytes_allocated as isize - region.change().bytes_deallocated as isize;
    let region2 = Region::new(GLOBAL);
    let mut frame = vec![0u8; x.send().frame_len(WRITE)];
    for _ in 0..8 {
        secio_transfer(&mut x, &mut y, &mut frame);
    }
    // the streaming decoder too, with a frame cut in two reads
    let mut wire = Vec::new();
    x.send()
        .encrypt_to_vec(&[1u8; 1000], &mut wire)
        .expect("seal");
    let mut plain = Vec::new();
    y.recv()
        .handle_input(&wire[..500], &mut plain)
        .expect("open");
    y.recv()
        .handle_input(&wire[500..], &mut plain)
        .expect("open");
    drop((wire, plain, frame));
    let after =
        region2.change().bytes_allocated as isize - region2.change().bytes_deallocated as isize;
    drop((x, y));
    (idle / 2, (idle + after) / 2)
}

fn main() {
    let quick = timing::quick();
    let (rounds, samples) = if quick { (3, 5) } else { (7, 11) };
    println!(
        "== SECIO benchmark ({} run: {rounds} rounds of {samples} samples)",
        if quick { "quick" } else { "full" }
    );
    let mut rng = BenchRng(7);
    let ka = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let kb = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let (sa, sb) = (secio::Config::new(&ka), secio::Config::new(&kb));
    let ic = noise::Config::new(&ka, &mut rng).expect("noise config");
    let rc = noise::Config::new(&kb, &mut rng).expect("noise config");
    let (mut x, mut y) = secio_handshake(&sa, &sb, &mut rng);
    println!("two p2psec nodes agree on {:?}", x.algorithms());
    let (mut ni, mut nr) = noise_handshake(&ic, &rc, &mut rng);
    let mut sframe = vec![0x5au8; x.send().frame_len(WRITE)];
    let mut nframes = vec![
        0x5au8;
        noise::SendHalf::frame_len(noise::MAX_PLAINTEXT_LEN)
            + noise::SendHalf::frame_len(WRITE - noise::MAX_PLAINTEXT_LEN)
    ];

    let mut rng2 = BenchRng(8);
    let mut hs_ratio = Vec::new();
    let mut tp_ratio = Vec::new();
    let (mut hs_s, mut hs_n, mut tp_s, mut tp_n) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let hs = timing::per_call(
            samples,
            if quick { 10 } else { 30 },
            &mut [
                &mut || {
                    black_box(secio_handshake(&sa, &sb, &mut rng));
                },
                &mut || {
                    black_box(noise_handshake(&ic, &rc, &mut rng2));
                },
            ],
        );
        let tp = timing::per_call(
            samples,
            if quick { 32 } else { 96 },
            &mut [
                &mut || secio_transfer(&mut x, &mut y, &mut sframe),
                &mut || noise_transfer(&mut ni, &mut nr, &mut nframes),
            ],
        );
        hs_ratio.push(hs[0] / hs[1]);
        tp_ratio.push(tp[1] / tp[0]);
        hs_s.push(hs[0]);
        hs_n.push(hs[1]);
        tp_s.push(tp[0]);
        tp_n.push(tp[1]);
    }
    let gbps = |ns: f64| WRITE as f64 / ns;
    println!(
        "handshake  secio {:>8.1} us   noise {:>8.1} us",
        median(hs_s) / 1e3,
        median(hs_n) / 1e3
    );
    println!(
        "throughput one way, 64 KiB writes: secio {:.2} GB/s   noise {:.2} GB/s",
        gbps(median(tp_s)),
        gbps(median(tp_n))
    );

    // every curve, and every cipher/hash pair, once each (no ratio: informational)
    for ex in [KeyExchange::P256, KeyExchange::P384, KeyExchange::P521] {
        let (a, b) = (
            config(&ka, ex, Cipher::Aes256, Hash::Sha256),
            config(&kb, ex, Cipher::Aes256, Hash::Sha256),
        );
        let t = timing::per_call(
            samples,
            if quick { 5 } else { 20 },
            &mut [&mut || {
                black_box(secio_handshake(&a, &b, &mut rng));
            }],
        );
        println!("handshake  secio {ex:?}: {:.1} us", t[0] / 1e3);
    }
    for c in [Cipher::Aes128, Cipher::Aes256, Cipher::TwofishCtr] {
        for h in [Hash::Sha256, Hash::Sha512] {
            let (a, b) = (
                config(&ka, KeyExchange::P256, c, h),
                config(&kb, KeyExchange::P256, c, h),
            );
            let (mut p, mut q) = secio_handshake(&a, &b, &mut rng);
            let mut frame = vec![0u8; p.send().frame_len(WRITE)];
            let t = timing::per_call(
                samples,
                if quick { 16 } else { 64 },
                &mut [&mut || secio_transfer(&mut p, &mut q, &mut frame)],
            );
            println!("throughput secio {c:?}/{h:?}: {:.1} MB/s", gbps(t[0]) * 1e3);
        }
    }
    let (idle, after) = heap(&sa, &sb, &mut rng);
    println!("heap per session: secio idle {idle} B, after traffic {after} B");

    println!("ratio secio_handshake_vs_noise {:.3}", median(hs_ratio));
    println!("ratio secio_throughput_vs_noise {:.3}", median(tp_ratio));
}
