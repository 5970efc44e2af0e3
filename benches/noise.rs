//! Noise, side by side in one run on one core: p2psec, rust-libp2p's libp2p-noise, and the
//! raw primitives (ring, aws-lc-rs, RustCrypto/dalek; the fastest of each counts).
//!
//! Figures: a complete XX handshake (both sides, Ed25519 identities, static key and its
//! signature made once per config as both libraries do); one-way transport throughput with
//! 64 KiB writes (seal and open); heap held by an established session (excluding caller
//! buffers), idle and after traffic. The last lines are machine-readable:
//! `ratio <name> <value>` and `bytes <name> <value>`.
//!
//! `P2PSEC_BENCH_QUICK=1` gives a short run (under a minute); otherwise criterion also
//! reports its own statistics for the main figures.

use std::hint::black_box;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use libp2p_core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};
use p2psec::identity::{KeyType, Keypair};
use p2psec::noise::{self, Initiator, Responder, Session};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[path = "support/pipe.rs"]
mod pipe;
#[path = "support/timing.rs"]
mod timing;

/// Not a CSPRNG: a fast deterministic source so RNG cost does not blur the figures.
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::TestRng as BenchRng;

const WRITE: usize = 64 * 1024;

// ---------------------------------------------------------------- p2psec

fn p2psec_configs(rng: &mut BenchRng) -> (noise::Config, noise::Config) {
    let a = Keypair::generate(KeyType::Ed25519, rng).expect("key");
    let b = Keypair::generate(KeyType::Ed25519, rng).expect("key");
    (
        noise::Config::new(&a, rng).expect("config"),
        noise::Config::new(&b, rng).expect("config"),
    )
}

fn p2psec_handshake(
    ic: &noise::Config,
    rc: &noise::Config,
    rng: &mut BenchRng,
) -> (Session, Session) {
    let mut i = Initiator::new(ic, None, rng).expect("initiator");
    let mut r = Responder::new(rc, rng).expect("responder");
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

/// One 64 KiB write sealed into `wire` and opened in place at the other end.
fn p2psec_transfer(tx: &mut Session, rx: &mut Session, data: &[u8], wire: &mut Vec<u8>) {
    wire.clear();
    tx.send().encrypt_to_vec(data, wire).expect("seal");
    let mut at = 0;
    while let Some(opened) = rx.recv().decrypt_in_place(&mut wire[at..]).expect("open") {
        black_box(opened.plaintext);
        at += opened.consumed;
    }
}

/// The zero-copy path: the application's 64 KiB sits in the frame buffer (two frames),
/// is sealed in place and opened in place at the other end.
fn p2psec_transfer_in_place(tx: &mut Session, rx: &mut Session, frames: &mut [u8]) {
    let first = noise::MAX_PLAINTEXT_LEN;
    let second = WRITE - first;
    let split = noise::SendHalf::frame_len(first);
    let (a, b) = frames.split_at_mut(split);
    tx.send().seal_in_place(a, first).expect("seal");
    tx.send().seal_in_place(b, second).expect("seal");
    for f in [a, b] {
        let opened = rx
            .recv()
            .decrypt_in_place(f)
            .expect("open")
            .expect("whole frame");
        black_box(opened.plaintext);
    }
}

/// Bytes for the two frames of one 64 KiB write.
fn frame_buffer() -> Vec<u8> {
    vec![
        0x5a;
        noise::SendHalf::frame_len(noise::MAX_PLAINTEXT_LEN)
            + noise::SendHalf::frame_len(WRITE - noise::MAX_PLAINTEXT_LEN)
    ]
}

// ---------------------------------------------------------------- libp2p-noise

fn libp2p_configs(rng: &mut BenchRng) -> (libp2p_noise::Config, libp2p_noise::Config) {
    let key = |rng: &mut BenchRng| {
        let ours = Keypair::generate(KeyType::Ed25519, rng).expect("key");
        libp2p_identity::Keypair::from_protobuf_encoding(&ours.encode_protobuf())
            .expect("libp2p key")
    };
    let (a, b) = (key(rng), key(rng));
    (
        libp2p_noise::Config::new(&a).expect("config"),
        libp2p_noise::Config::new(&b).expect("config"),
    )
}

type LibOutput = libp2p_noise::Output<pipe::End>;

fn libp2p_handshake(
    ic: &libp2p_noise::Config,
    rc: &libp2p_noise::Config,
) -> (LibOutput, LibOutput) {
    libp2p_handshake_on(ic, rc, pipe::pair())
}

fn libp2p_handshake_on(
    ic: &libp2p_noise::Config,
    rc: &libp2p_noise::Config,
    (a, b): (pipe::End, pipe::End),
) -> (LibOutput, LibOutput) {
    let (i, r) = futures::executor::block_on(futures::future::join(
        ic.clone().upgrade_outbound(a, "/noise"),
        rc.clone().upgrade_inbound(b, "/noise"),
    ));
    (
        i.expect("libp2p initiator").1,
        r.expect("libp2p responder").1,
    )
}

fn libp2p_transfer(tx: &mut LibOutput, rx: &mut LibOutput, data: &[u8], buf: &mut [u8]) {
    futures::executor::block_on(async {
        tx.write_all(data).await.expect("write");
        tx.flush().await.expect("flush");
        rx.read_exact(buf).await.expect("read");
    });
    black_box(&buf);
}

// ---------------------------------------------------------------- primitives

struct Primitives {
    keygen: f64,
    dh: f64,
    sign: f64,
    verify: f64,
    names: [&'static str; 4],
}

fn fastest(names: &[&'static str], times: &[f64]) -> (f64, &'static str) {
    names
        .iter()
        .zip(times)
        .map(|(n, t)| (*t, *n))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((f64::NAN, "none"))
}

fn primitives(samples: usize, rng: &mut BenchRng, print: bool) -> Primitives {
    use aws_lc_rs as aws;
    let iters = 200;
    let ring_rng = ring::rand::SystemRandom::new();
    let mut seed = [0u8; 32];
    rand_core::Rng::fill_bytes(rng, &mut seed);
    let peer_pub = curve25519_dalek::MontgomeryPoint::mul_base_clamped([9u8; 32]).to_bytes();

    // X25519 key generation
    let kg = timing::per_call(
        samples,
        iters,
        &mut [
            &mut || {
                black_box(curve25519_dalek::MontgomeryPoint::mul_base_clamped(
                    black_box(seed),
                ));
            },
            &mut || {
                let k = ring::agreement::EphemeralPrivateKey::generate(
                    &ring::agreement::X25519,
                    &ring_rng,
                )
                .expect("ring");
                black_box(k.compute_public_key().expect("ring"));
            },
            &mut || {
                let k = aws::agreement::PrivateKey::generate(&aws::agreement::X25519).expect("aws");
                black_box(k.compute_public_key().expect("aws"));
            },
        ],
    );
    // X25519 DH. ring only offers single-use ephemeral keys (one DH, then the key is
    // consumed), which XX cannot use: each side's ephemeral key does two DHs and its static
    // key one. So ring's figure is key generation + one DH, printed for reference, and the
    // DH that counts is the fastest of the implementations that can run XX.
    let aws_static =
        aws::agreement::PrivateKey::from_private_key(&aws::agreement::X25519, &seed).expect("aws");
    let dh = timing::per_call(
        samples,
        iters,
        &mut [
            &mut || {
                black_box(curve25519_dalek::MontgomeryPoint(peer_pub).mul_clamped(black_box(seed)));
            },
            &mut || {
                let k = ring::agreement::EphemeralPrivateKey::generate(
                    &ring::agreement::X25519,
                    &ring_rng,
                )
                .expect("ring");
                let p =
                    ring::agreement::UnparsedPublicKey::new(&ring::agreement::X25519, &peer_pub);
                black_box(ring::agreement::agree_ephemeral(k, &p, |s| s[0]).expect("ring"));
            },
            &mut || {
                let p = aws::agreement::UnparsedPublicKey::new(&aws::agreement::X25519, &peer_pub);
                black_box(aws::agreement::agree(&aws_static, p, (), |s| Ok(s[0])).expect("aws"));
            },
        ],
    );

    // Ed25519
    let msg = [7u8; 56]; // "noise-libp2p-static-key:" + 32-byte key
    let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
    let dalek_pub = dalek.verifying_key();
    let _ = &dalek_pub;
    let ring_kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("ring");
    let aws_kp = aws::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("aws");
    let sig = ed25519_dalek::Signer::sign(&dalek, &msg);
    let sig_bytes = sig.to_bytes();
    let pk_bytes = dalek_pub.to_bytes();
    let sign = timing::per_call(
        samples,
        iters,
        &mut [
            &mut || {
                black_box(ed25519_dalek::Signer::sign(&dalek, black_box(&msg)));
            },
            &mut || {
                black_box(ring_kp.sign(black_box(&msg)));
            },
            &mut || {
                black_box(aws_kp.sign(black_box(&msg)));
            },
        ],
    );
    let verify = timing::per_call(
        samples,
        iters,
        &mut [
            // parse the key too, as ring's and aws-lc's verify do (a handshake gets raw bytes)
            &mut || {
                let k = ed25519_dalek::VerifyingKey::from_bytes(black_box(&pk_bytes)).expect("key");
                black_box(k.verify_strict(black_box(&msg), &sig).is_ok());
            },
            &mut || {
                let k =
                    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &pk_bytes);
                black_box(k.verify(black_box(&msg), &sig_bytes).is_ok());
            },
            &mut || {
                let k = aws::signature::UnparsedPublicKey::new(&aws::signature::ED25519, &pk_bytes);
                black_box(k.verify(black_box(&msg), &sig_bytes).is_ok());
            },
        ],
    );
    // ChaCha20-Poly1305 seal + open of the frames one 64 KiB write becomes
    let mut raw = RawAead::new();
    let aead = timing::per_call(
        samples,
        20,
        &mut [&mut || raw.rc.run(), &mut || raw.ring.run(), &mut || {
            raw.aws.run()
        }],
    );
    let names = ["dalek/RustCrypto", "ring", "aws-lc-rs"];
    if print {
        for (what, t) in [
            ("x25519 keygen", &kg),
            ("ed25519 sign", &sign),
            ("ed25519 verify", &verify),
            ("chacha20poly1305 64KiB", &aead),
        ] {
            println!("primitive {what:<24} dalek/RustCrypto {:>9.1} us  ring {:>9.1} us  aws-lc-rs {:>9.1} us", t[0] / 1e3, t[1] / 1e3, t[2] / 1e3);
        }
        println!(
        "primitive {:<24} dalek/RustCrypto {:>9.1} us  ring n/a (keygen+dh {:.1} us)  aws-lc-rs {:>9.1} us",
        "x25519 dh", dh[0] / 1e3, dh[1] / 1e3, dh[2] / 1e3
    );
    }
    let (keygen, kn) = fastest(&names, &kg);
    let (dh_t, dn) = fastest(&names, &[dh[0], f64::INFINITY, dh[2]]);
    let (sign_t, sn) = fastest(&names, &sign);
    let (verify_t, vn) = fastest(&names, &verify);
    Primitives {
        keygen,
        dh: dh_t,
        sign: sign_t,
        verify: verify_t,
        names: [kn, dn, sn, vn],
    }
}

/// Raw ChaCha20-Poly1305 over the frames of one 64 KiB write (65519 + 17 bytes), sealed
/// and opened in place with the tag apart, one buffer per implementation, nonces counting
/// up: what p2psec's transport does, minus the framing.
struct RawAead {
    rc: RawOne<chacha20poly1305::ChaCha20Poly1305>,
    ring: RawOne<ring::aead::LessSafeKey>,
    aws: RawOne<aws_lc_rs::aead::LessSafeKey>,
}

struct RawOne<K> {
    key: K,
    buf: Vec<u8>,
    nonce: u64,
}

const RAW_FRAMES: [usize; 2] = [noise::MAX_PLAINTEXT_LEN, WRITE - noise::MAX_PLAINTEXT_LEN];

impl<K> RawOne<K> {
    fn new(key: K) -> Self {
        Self {
            key,
            buf: vec![0u8; noise::MAX_PLAINTEXT_LEN + 16],
            nonce: 0,
        }
    }

    fn next_nonce(&mut self) -> [u8; 12] {
        self.nonce += 1;
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&self.nonce.to_le_bytes());
        n
    }
}

impl RawAead {
    fn new() -> Self {
        use aws_lc_rs as aws;
        use chacha20poly1305::KeyInit;
        let key = [3u8; 32];
        Self {
            rc: RawOne::new(chacha20poly1305::ChaCha20Poly1305::new(&key.into())),
            ring: RawOne::new(ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key).expect("ring"),
            )),
            aws: RawOne::new(aws::aead::LessSafeKey::new(
                aws::aead::UnboundKey::new(&aws::aead::CHACHA20_POLY1305, &key).expect("aws"),
            )),
        }
    }
}

impl RawOne<chacha20poly1305::ChaCha20Poly1305> {
    fn run(&mut self) {
        use chacha20poly1305::aead::inout::InOutBuf;
        use chacha20poly1305::AeadInOut;
        for len in RAW_FRAMES {
            let n = self.next_nonce().into();
            let tag = self
                .key
                .encrypt_inout_detached(&n, &[], InOutBuf::from(&mut self.buf[..len]))
                .expect("seal");
            self.key
                .decrypt_inout_detached(&n, &[], InOutBuf::from(&mut self.buf[..len]), &tag)
                .expect("open");
        }
    }
}

impl RawOne<ring::aead::LessSafeKey> {
    fn run(&mut self) {
        use ring::aead::{Aad, Nonce};
        for len in RAW_FRAMES {
            let n = self.next_nonce();
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(n),
                    Aad::empty(),
                    &mut self.buf[..len],
                )
                .expect("seal");
            self.buf[len..len + 16].copy_from_slice(tag.as_ref());
            // ring's open_in_place takes the tag at the end, no extra pass over the data
            self.key
                .open_in_place(
                    Nonce::assume_unique_for_key(n),
                    Aad::empty(),
                    &mut self.buf[..len + 16],
                )
                .expect("open");
        }
    }
}

impl RawOne<aws_lc_rs::aead::LessSafeKey> {
    fn run(&mut self) {
        use aws_lc_rs::aead::{Aad, Nonce};
        for len in RAW_FRAMES {
            let n = self.next_nonce();
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(n),
                    Aad::empty(),
                    &mut self.buf[..len],
                )
                .expect("seal");
            self.buf[len..len + 16].copy_from_slice(tag.as_ref());
            // aws-lc's fastest in-place open, the one p2psec uses (its open_in_place goes
            // through open_within, which adds a copy_within pass)
            let (body, tag) = self.buf[..len + 16].split_at_mut(len);
            self.key
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(n),
                    Aad::empty(),
                    tag,
                    body,
                )
                .expect("open");
        }
    }
}

// ---------------------------------------------------------------- heap

fn heap_p2psec(rng: &mut BenchRng) -> (f64, f64) {
    let (ic, rc) = p2psec_configs(rng);
    let region = Region::new(GLOBAL);
    let (mut a, mut b) = p2psec_handshake(&ic, &rc, rng);
    let idle = region.change();
    let idle = (idle.bytes_allocated as f64 - idle.bytes_deallocated as f64) / 2.0;
    let data = vec![1u8; WRITE];
    let mut wire = Vec::new();
    for _ in 0..64 {
        p2psec_transfer(&mut a, &mut b, &data, &mut wire);
        p2psec_transfer(&mut b, &mut a, &data, &mut wire);
    }
    drop((data, wire)); // the caller's buffers
    let after = region.change();
    let after = (after.bytes_allocated as f64 - after.bytes_deallocated as f64) / 2.0;
    drop((a, b));
    (idle, after)
}

fn heap_libp2p(rng: &mut BenchRng) -> (f64, f64) {
    let (ic, rc) = libp2p_configs(rng);
    let region = Region::new(GLOBAL);
    let ends = pipe::pair();
    let pipes = ends.0.shrinker();
    let (mut a, mut b) = libp2p_handshake_on(&ic, &rc, ends);
    let held = |region: &Region<std::alloc::System>| {
        let c = region.change();
        (c.bytes_allocated as f64 - c.bytes_deallocated as f64) / 2.0
    };
    // the pipe's queues are the "socket", not the session: release their spare capacity
    pipes.shrink();
    let idle = held(&region);
    let data = vec![1u8; WRITE];
    let mut buf = vec![0u8; WRITE];
    for _ in 0..64 {
        libp2p_transfer(&mut a, &mut b, &data, &mut buf);
        libp2p_transfer(&mut b, &mut a, &data, &mut buf);
    }
    drop((data, buf));
    pipes.shrink();
    let after = held(&region);
    drop((a, b));
    (idle, after)
}

// ---------------------------------------------------------------- main

/// One round's figures, all measured close together in time.
struct Round {
    prim: Primitives,
    prim_cached: f64,
    prim_uncached: f64,
    hs: Vec<f64>,
    tp: Vec<f64>,
}

impl Round {
    /// The fastest raw AEAD of this round's throughput loop, and its name.
    fn raw_aead(&self) -> (f64, &'static str) {
        fastest(
            &["dalek/RustCrypto", "ring", "aws-lc-rs"],
            self.tp.get(3..6).unwrap_or(&[]),
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `P2PSEC_BENCH_PROFILE=handshake|transport` (`P2PSEC_BENCH_PROFILE_ITERS=n`, default 50):
/// only that loop, for a profiler (callgrind's
/// instruction counts are stable where wall time on a shared machine is not).
fn profile(what: &str) {
    let mut rng = BenchRng(1);
    let (ic, rc) = p2psec_configs(&mut rng);
    let n: usize = std::env::var("P2PSEC_BENCH_PROFILE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    match what {
        "handshake" => {
            for _ in 0..n {
                black_box(p2psec_handshake(&ic, &rc, &mut rng));
            }
        }
        _ => {
            let (mut a, mut b) = p2psec_handshake(&ic, &rc, &mut rng);
            let mut frames = frame_buffer();
            for _ in 0..n {
                p2psec_transfer_in_place(&mut a, &mut b, &mut frames);
            }
        }
    }
}

fn main() {
    if let Ok(what) = std::env::var("P2PSEC_BENCH_PROFILE") {
        return profile(&what);
    }
    let quick = timing::quick();
    // Rounds of (primitives, handshakes, throughput) back to back; every ratio is the
    // median over rounds of that round's own ratio, so a load change on the shared machine
    // between phases cannot skew a ratio.
    let (rounds, samples) = if quick { (3, 5) } else { (7, 11) };
    let mut rng = BenchRng(1);
    println!(
        "== Noise benchmark ({} run: {rounds} rounds of {samples} samples)",
        if quick { "quick" } else { "full" }
    );

    let (ic, rc) = p2psec_configs(&mut rng);
    let (lic, lrc) = libp2p_configs(&mut rng);
    let mut rng2 = BenchRng(2);
    let (mut a, mut b) = p2psec_handshake(&ic, &rc, &mut rng2);
    let (mut a2, mut b2) = p2psec_handshake(&ic, &rc, &mut rng2);
    let (mut la, mut lb) = libp2p_handshake(&lic, &lrc);
    let data = vec![0x5au8; WRITE];
    let mut wire = Vec::with_capacity(2 * WRITE);
    let mut rbuf = vec![0u8; WRITE];
    let mut frames = frame_buffer();
    let mut raw = RawAead::new();

    let mut all = Vec::new();
    for round in 0..rounds {
        let prim = primitives(samples, &mut rng, round + 1 == rounds);
        // both sides, static key and signature cached: ephemeral keygen + 3 DH + 1 verify each
        let prim_cached = 2.0 * (prim.keygen + 3.0 * prim.dh + prim.verify);
        let prim_uncached = prim_cached + 2.0 * (prim.keygen + prim.sign);
        let hs = timing::per_call(
            samples,
            if quick { 20 } else { 40 },
            &mut [
                &mut || {
                    black_box(p2psec_handshake(&ic, &rc, &mut rng));
                },
                &mut || {
                    black_box(libp2p_handshake(&lic, &lrc));
                },
            ],
        );
        // The raw AEAD runs in the same interleaved loop as p2psec's transport (same
        // iterations, same moments), so load on the shared machine cannot land on one
        // side of `throughput_vs_raw_aead` only, as it could when the raw figure came from
        // the primitives phase.
        let tp = timing::per_call(
            samples,
            if quick { 48 } else { 128 },
            &mut [
                &mut || p2psec_transfer_in_place(&mut a, &mut b, &mut frames),
                &mut || libp2p_transfer(&mut la, &mut lb, &data, &mut rbuf),
                &mut || p2psec_transfer(&mut a2, &mut b2, &data, &mut wire),
                &mut || raw.rc.run(),
                &mut || raw.ring.run(),
                &mut || raw.aws.run(),
            ],
        );
        all.push(Round {
            prim,
            prim_cached,
            prim_uncached,
            hs,
            tp,
        });
    }
    let med = |f: &dyn Fn(&Round) -> f64| median(all.iter().map(f).collect());
    let gbps = |ns: f64| WRITE as f64 / ns; // bytes per ns = GB/s
    let last = all.last().map(|r| r.prim.names).unwrap_or(["?"; 4]);
    let raw_name = all.last().map_or("?", |r| r.raw_aead().1);
    println!(
        "primitive sum per handshake (both sides): cached static key {:.1} us, with static keygen + sign {:.1} us  [keygen {}, dh {}, sign {}, verify {}]",
        med(&|r| r.prim_cached) / 1e3, med(&|r| r.prim_uncached) / 1e3, last[0], last[1], last[2], last[3]
    );
    println!(
        "handshake  p2psec {:>8.1} us   libp2p-noise {:>8.1} us",
        med(&|r| r.hs[0]) / 1e3,
        med(&|r| r.hs[1]) / 1e3
    );
    println!(
        "throughput one way, 64 KiB writes: p2psec {:.2} GB/s (in place; {:.2} GB/s with encrypt_to_vec's copy)   libp2p-noise {:.2} GB/s   raw AEAD ({}) {:.2} GB/s",
        gbps(med(&|r| r.tp[0])), gbps(med(&|r| r.tp[2])), gbps(med(&|r| r.tp[1])), raw_name, gbps(med(&|r| r.raw_aead().0))
    );

    let (heap_idle, heap_after) = heap_p2psec(&mut rng);
    let (lheap_idle, lheap_after) = heap_libp2p(&mut rng);
    println!("heap per session: p2psec idle {heap_idle:.0} B, after traffic {heap_after:.0} B;  libp2p-noise idle {lheap_idle:.0} B, after traffic {lheap_after:.0} B");

    if !quick {
        let mut c = criterion::Criterion::default().configure_from_args();
        c.bench_function("noise handshake p2psec", |bch| {
            bch.iter(|| p2psec_handshake(&ic, &rc, &mut rng))
        });
        c.bench_function("noise handshake libp2p-noise", |bch| {
            bch.iter(|| libp2p_handshake(&lic, &lrc))
        });
        c.bench_function("noise 64KiB p2psec", |bch| {
            bch.iter(|| p2psec_transfer_in_place(&mut a, &mut b, &mut frames))
        });
        c.bench_function("noise 64KiB libp2p-noise", |bch| {
            bch.iter(|| libp2p_transfer(&mut la, &mut lb, &data, &mut rbuf))
        });
        c.final_summary();
    }

    println!(
        "ratio handshake_vs_libp2p {:.3}",
        med(&|r| r.hs[0] / r.hs[1])
    );
    println!(
        "ratio handshake_vs_primitives {:.3}",
        med(&|r| r.hs[0] / r.prim_cached)
    );
    println!(
        "ratio throughput_vs_libp2p {:.3}",
        med(&|r| r.tp[1] / r.tp[0])
    );
    println!(
        "ratio throughput_vs_raw_aead {:.3}",
        med(&|r| r.raw_aead().0 / r.tp[0])
    );
    println!("bytes session_heap {:.0}", heap_idle.max(heap_after));
    println!(
        "bytes session_heap_libp2p {:.0}",
        lheap_idle.max(lheap_after)
    );
}
