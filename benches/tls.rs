//! TLS, side by side in one run on one core: p2psec's machines and rust-libp2p's
//! libp2p-tls (both rustls 0.23 with their default key-exchange group; p2psec on its
//! crypto backend, aws-lc-rs or with `tls-ring` alone ring, libp2p-tls on its own
//! provider), and the raw AEAD of the suite p2psec negotiates, from the same backend.
//!
//! Figures: a complete handshake, both sides, Ed25519 identities, with fresh certificates
//! per connection on both sides (a new config each, p2psec and libp2p-tls:
//! `handshake_vs_libp2p`) and with each config's cached certificate on both sides
//! (`handshake_cached_cert_vs_libp2p`: p2psec then also remembers the peer certificates
//! it verified; `handshake_cached_cert_no_verified_cache_vs_libp2p` without that cache);
//! the cost of making a certificate; one-way
//! throughput with 64 KiB writes; heap held by an established session. Ratios are medians
//! over rounds measured back to back. Last lines: `ratio <name> <value>`, `bytes <name> <value>`.
//! `P2PSEC_BENCH_QUICK=1` gives a short run.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use libp2p_core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};
use p2psec::identity::{KeyType, Keypair};
use p2psec::tls::{self, certificate::Certificate, Client, Server, Session};
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

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------- p2psec

fn p2psec_handshake(cc: &tls::Config, sc: &tls::Config, now: u64) -> (Session, Session) {
    let mut c = Client::new(cc, Some(sc.local_peer_id()), now).expect("client");
    let mut s = Server::new(sc, now).expect("server");
    let (mut to_s, mut to_c) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
    for _ in 0..8 {
        let _ = c.poll_transmit(&mut to_s);
        let n = s.handle_input(&to_s).expect("server input");
        to_s.drain(..n);
        let _ = s.poll_transmit(&mut to_c);
        let n = c.handle_input(&to_c).expect("client input");
        to_c.drain(..n);
        if c.is_complete() && s.is_complete() {
            break;
        }
    }
    let _ = c.poll_transmit(&mut to_s);
    let mut client = c.into_session().expect("client session");
    let mut server = s.into_session().expect("server session");
    // whatever followed the handshake belongs to the sessions
    let n = server.handle_input(&to_s).expect("leftover");
    assert_eq!(n, to_s.len());
    let n = client.handle_input(&to_c).expect("leftover");
    assert_eq!(n, to_c.len());
    (client, server)
}

/// One 64 KiB write from `tx` read in full at `rx` (`handle_input_into`: no copy between
/// opening a record and reading it).
fn p2psec_transfer(
    tx: &mut Session,
    rx: &mut Session,
    data: &[u8],
    wire: &mut Vec<u8>,
    buf: &mut [u8],
) {
    let mut sent = 0;
    let mut got = 0;
    while got < data.len() {
        if sent < data.len() {
            sent += tx.write(&data[sent..]).expect("write");
        }
        wire.clear();
        let _ = tx.poll_transmit(wire);
        let mut at = 0;
        while at < wire.len() {
            // records opened straight into the read buffer, then whatever waits in the session
            let (n, m) = rx
                .handle_input_into(&wire[at..], &mut buf[..])
                .expect("input");
            at += n;
            got += m;
            loop {
                let n = rx.read(&mut buf[..]).expect("read");
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
    }
    black_box(&buf);
}

// ---------------------------------------------------------------- libp2p-tls

type LibStream = futures_rustls::TlsStream<pipe::End>;

fn libp2p_key(rng: &mut BenchRng) -> libp2p_identity::Keypair {
    let ours = Keypair::generate(KeyType::Ed25519, rng).expect("key");
    libp2p_identity::Keypair::from_protobuf_encoding(&ours.encode_protobuf()).expect("libp2p key")
}

fn libp2p_handshake(cc: &libp2p_tls::Config, sc: &libp2p_tls::Config) -> (LibStream, LibStream) {
    libp2p_handshake_on(cc, sc, pipe::pair())
}

fn libp2p_handshake_on(
    cc: &libp2p_tls::Config,
    sc: &libp2p_tls::Config,
    (a, b): (pipe::End, pipe::End),
) -> (LibStream, LibStream) {
    let (c, s) = futures::executor::block_on(futures::future::join(
        cc.clone().upgrade_outbound(a, "/tls/1.0.0"),
        sc.clone().upgrade_inbound(b, "/tls/1.0.0"),
    ));
    (c.expect("libp2p client").1, s.expect("libp2p server").1)
}

fn libp2p_transfer(tx: &mut LibStream, rx: &mut LibStream, data: &[u8], buf: &mut [u8]) {
    futures::executor::block_on(async {
        tx.write_all(data).await.expect("write");
        tx.flush().await.expect("flush");
        rx.read_exact(buf).await.expect("read");
    });
    black_box(&buf);
}

// ---------------------------------------------------------------- raw AEAD

/// Seal + open of the four 16 KiB records a 64 KiB write becomes, with `suite`'s AEAD.
fn raw_aead(suite: &str) -> impl FnMut() {
    #[cfg(feature = "aws-lc-rs")]
    use aws_lc_rs::aead;
    #[cfg(not(feature = "aws-lc-rs"))]
    use ring::aead;
    let alg = if suite.contains("AES_128_GCM") {
        &aead::AES_128_GCM
    } else if suite.contains("AES_256_GCM") {
        &aead::AES_256_GCM
    } else {
        &aead::CHACHA20_POLY1305
    };
    let key =
        aead::LessSafeKey::new(aead::UnboundKey::new(alg, &vec![7u8; alg.key_len()]).expect("key"));
    let mut buf = vec![0u8; 16 * 1024 + 16];
    let mut counter = 0u64;
    move || {
        for _ in 0..4 {
            counter += 1;
            let mut n = [0u8; 12];
            n[4..].copy_from_slice(&counter.to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(n),
                    aead::Aad::from([23u8, 3, 3, 64, 17]),
                    &mut buf[..16 * 1024],
                )
                .expect("seal");
            buf[16 * 1024..].copy_from_slice(tag.as_ref());
            key.open_in_place(
                aead::Nonce::assume_unique_for_key(n),
                aead::Aad::from([23u8, 3, 3, 64, 17]),
                &mut buf[..],
            )
            .expect("open");
        }
    }
}

// ---------------------------------------------------------------- heap

fn held(region: &Region<std::alloc::System>) -> f64 {
    let c = region.change();
    c.bytes_allocated as f64 - c.bytes_deallocated as f64
}

fn heap_p2psec(cc: &tls::Config, sc: &tls::Config, now: u64) -> (f64, f64) {
    let region = Region::new(GLOBAL);
    let (mut a, mut b) = p2psec_handshake(cc, sc, now);
    let idle = held(&region) / 2.0;
    let data = vec![1u8; WRITE];
    let (mut wire, mut buf) = (Vec::new(), vec![0u8; WRITE]);
    for _ in 0..16 {
        p2psec_transfer(&mut a, &mut b, &data, &mut wire, &mut buf);
        p2psec_transfer(&mut b, &mut a, &data, &mut wire, &mut buf);
    }
    drop((data, wire, buf)); // the caller's buffers
    let after = held(&region) / 2.0;
    drop((a, b));
    (idle, after)
}

// ---------------------------------------------------------------- main

struct Round {
    hs: Vec<f64>,
    tp: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `P2PSEC_BENCH_PROFILE=<case>` runs one case in a loop (`P2PSEC_BENCH_ITERS` times,
/// default 2000) and prints nothing else: a steady target for `perf record` or
/// `valgrind --tool=callgrind`. Cases: `cert`, `config`, `fresh`, `cached`, `cached_full`
/// (no verified-certificate cache), `libp2p_config`, `libp2p_fresh`, `libp2p_cached`.
fn profile(case: &str) {
    let iters: usize = std::env::var("P2PSEC_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let now = now();
    let mut rng = BenchRng(1);
    let client_id = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let server_id = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let cc = tls::Config::new(&client_id, now, &mut rng).expect("config");
    let sc = tls::Config::new(&server_id, now, &mut rng).expect("config");
    let (lck, lsk) = (libp2p_key(&mut rng), libp2p_key(&mut rng));
    let lcc = libp2p_tls::Config::new(&lck).expect("libp2p config");
    let lsc = libp2p_tls::Config::new(&lsk).expect("libp2p config");
    let mut one: Box<dyn FnMut()> = match case {
        "cert" => Box::new(|| {
            black_box(Certificate::generate(&client_id, now, &mut rng).expect("cert"));
        }),
        "config" => Box::new(|| {
            black_box(tls::Config::new(&client_id, now, &mut rng).expect("config"));
        }),
        "fresh" => Box::new(|| {
            let c = tls::Config::new(&client_id, now, &mut rng).expect("config");
            let s = tls::Config::new(&server_id, now, &mut rng).expect("config");
            black_box(p2psec_handshake(&c, &s, now));
        }),
        "cached" => Box::new(|| {
            black_box(p2psec_handshake(&cc, &sc, now));
        }),
        "cached_full" => {
            let (c, s) = (
                cc.clone().with_verified_certificate_cache(0),
                sc.clone().with_verified_certificate_cache(0),
            );
            Box::new(move || {
                black_box(p2psec_handshake(&c, &s, now));
            })
        }
        "libp2p_config" => Box::new(|| {
            black_box(libp2p_tls::Config::new(&lck).expect("libp2p config"));
        }),
        "libp2p_fresh" => Box::new(|| {
            let c = libp2p_tls::Config::new(&lck).expect("libp2p config");
            let s = libp2p_tls::Config::new(&lsk).expect("libp2p config");
            black_box(libp2p_handshake(&c, &s));
        }),
        "libp2p_cached" => Box::new(|| {
            black_box(libp2p_handshake(&lcc, &lsc));
        }),
        other => panic!("unknown P2PSEC_BENCH_PROFILE case {other}"),
    };
    let start = std::time::Instant::now();
    for _ in 0..iters {
        one();
    }
    eprintln!(
        "{case}: {:.1} us per call",
        start.elapsed().as_nanos() as f64 / iters as f64 / 1e3
    );
}

fn main() {
    if let Ok(case) = std::env::var("P2PSEC_BENCH_PROFILE") {
        return profile(&case);
    }
    let quick = timing::quick();
    let (rounds, samples) = if quick { (3, 5) } else { (7, 11) };
    let now = now();
    let mut rng = BenchRng(1);
    println!(
        "== TLS benchmark ({} run: {rounds} rounds of {samples} samples), p2psec on {}",
        if quick { "quick" } else { "full" },
        if cfg!(feature = "aws-lc-rs") {
            "aws-lc-rs"
        } else {
            "ring"
        }
    );

    let client_id = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let server_id = Keypair::generate(KeyType::Ed25519, &mut rng).expect("key");
    let cc = tls::Config::new(&client_id, now, &mut rng).expect("config");
    let sc = tls::Config::new(&server_id, now, &mut rng).expect("config");
    let (lck, lsk) = (libp2p_key(&mut rng), libp2p_key(&mut rng));
    let lcc = libp2p_tls::Config::new(&lck).expect("libp2p config");
    let lsc = libp2p_tls::Config::new(&lsk).expect("libp2p config");
    let cc_full = cc.clone().with_verified_certificate_cache(0);
    let sc_full = sc.clone().with_verified_certificate_cache(0);

    let (mut a, mut b) = p2psec_handshake(&cc, &sc, now);
    let suite = a.cipher_suite().unwrap_or("unknown").to_string();
    let (mut la, mut lb) = libp2p_handshake(&lcc, &lsc);
    let lib_suite = la
        .get_ref()
        .1
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let data = vec![0x5au8; WRITE];
    let (mut wire, mut buf) = (Vec::with_capacity(2 * WRITE), vec![0u8; WRITE]);
    let mut rbuf = vec![0u8; WRITE];
    let mut raw = raw_aead(&suite);

    let mut cert_rng = BenchRng(3);
    let mut all = Vec::new();
    for _ in 0..rounds {
        let hs = timing::per_call(
            samples,
            if quick { 10 } else { 20 },
            &mut [
                // fresh certificate per connection: what a config without caching would cost
                &mut || {
                    let fresh_c = tls::Config::new(&client_id, now, &mut rng).expect("config");
                    let fresh_s = tls::Config::new(&server_id, now, &mut rng).expect("config");
                    black_box(p2psec_handshake(&fresh_c, &fresh_s, now));
                },
                &mut || {
                    black_box(p2psec_handshake(&cc, &sc, now));
                },
                &mut || {
                    black_box(libp2p_handshake(&lcc, &lsc));
                },
                &mut || {
                    black_box(Certificate::generate(&client_id, now, &mut cert_rng).expect("cert"));
                },
                // libp2p-tls makes its certificate in Config::new: a config per connection
                &mut || {
                    let c = libp2p_tls::Config::new(&lck).expect("libp2p config");
                    let s = libp2p_tls::Config::new(&lsk).expect("libp2p config");
                    black_box(libp2p_handshake(&c, &s));
                },
                // cached certificates, but every peer certificate verified in full
                &mut || {
                    black_box(p2psec_handshake(&cc_full, &sc_full, now));
                },
            ],
        );
        let tp = timing::per_call(
            samples,
            if quick { 32 } else { 96 },
            &mut [
                &mut || p2psec_transfer(&mut a, &mut b, &data, &mut wire, &mut buf),
                &mut || libp2p_transfer(&mut la, &mut lb, &data, &mut rbuf),
                &mut raw,
            ],
        );
        all.push(Round { hs, tp });
    }
    let med = |f: &dyn Fn(&Round) -> f64| median(all.iter().map(f).collect());
    let gbps = |ns: f64| WRITE as f64 / ns;
    println!(
        "handshake  fresh certificates: p2psec {:>8.1} us  libp2p-tls {:>8.1} us;  cached: p2psec {:>8.1} us (no verified-certificate cache {:.1} us)  libp2p-tls {:>8.1} us;  one p2psec certificate {:.1} us",
        med(&|r| r.hs[0]) / 1e3, med(&|r| r.hs[4]) / 1e3, med(&|r| r.hs[1]) / 1e3, med(&|r| r.hs[5]) / 1e3, med(&|r| r.hs[2]) / 1e3, med(&|r| r.hs[3]) / 1e3
    );
    println!(
        "throughput one way, 64 KiB writes: p2psec {:.2} GB/s ({suite})   libp2p-tls {:.2} GB/s ({lib_suite})   raw AEAD {:.2} GB/s",
        gbps(med(&|r| r.tp[0])), gbps(med(&|r| r.tp[1])), gbps(med(&|r| r.tp[2]))
    );
    let (idle, after) = heap_p2psec(&cc, &sc, now);
    println!("heap per session: p2psec idle {idle:.0} B, after traffic {after:.0} B");

    // like against like: both make their certificates anew for every connection
    println!(
        "ratio handshake_vs_libp2p {:.3}",
        med(&|r| r.hs[0] / r.hs[4])
    );
    // p2psec's fresh certificates against libp2p-tls's cached ones (the ratio this bench
    // printed as `handshake_vs_libp2p` before session 3): for reference only
    println!(
        "ratio handshake_fresh_vs_libp2p_cached {:.3}",
        med(&|r| r.hs[0] / r.hs[2])
    );
    println!(
        "ratio handshake_cached_cert_vs_libp2p {:.3}",
        med(&|r| r.hs[1] / r.hs[2])
    );
    // the same with every peer certificate verified in full, as libp2p-tls does
    println!(
        "ratio handshake_cached_cert_no_verified_cache_vs_libp2p {:.3}",
        med(&|r| r.hs[5] / r.hs[2])
    );
    println!(
        "ratio throughput_vs_libp2p {:.3}",
        med(&|r| r.tp[1] / r.tp[0])
    );
    println!(
        "ratio throughput_vs_raw_aead {:.3}",
        med(&|r| r.tp[2] / r.tp[0])
    );
    println!("bytes session_heap {:.0}", idle.max(after));
}
