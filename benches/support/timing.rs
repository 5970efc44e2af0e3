//! Interleaved timing: competitors run in alternation, sample after sample, so load from
//! the shared machine hits them alike; the median sample is the figure.

use std::hint::black_box;
use std::time::Instant;

/// Whether `P2PSEC_BENCH_QUICK=1` asks for the short run.
pub(crate) fn quick() -> bool {
    std::env::var("P2PSEC_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// Nanoseconds per call of each closure: `samples` rounds, each running every closure
/// `iters` times; the median per closure.
pub(crate) fn per_call(samples: usize, iters: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    for f in fs.iter_mut() {
        for _ in 0..iters.min(16) {
            f(); // warm up
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(samples); fs.len()];
    for _ in 0..samples {
        for (f, t) in fs.iter_mut().zip(times.iter_mut()) {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.push(start.elapsed().as_nanos() as f64 / iters as f64);
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            black_box(t[t.len() / 2])
        })
        .collect()
}
