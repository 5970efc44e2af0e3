//! The Rust side of the bindings' benchmark (python/benches/sansio.py): the same
//! in-memory upgrade loop the benchmark runs through the Python API, run here through
//! the Rust API in the same process and build, so the two are compared side by side.

use p2psec::upgrade::{self, Dialer, Listener};
use pyo3::prelude::*;

use crate::config::{machine_seed, now_or_system, UpgradeConfig};
use crate::errors::{misuse, upgrade_error};

/// One upgrade between a dialer and a listener in memory, bytes handed over whole.
fn one_upgrade(dialer: &mut Dialer, listener: &mut Listener) -> Result<bool, upgrade::Error> {
    let mut buf = Vec::new();
    for _ in 0..16 {
        buf.clear();
        let _ = dialer.poll_transmit(&mut buf);
        if !buf.is_empty() {
            listener.handle_input(&buf)?;
        }
        buf.clear();
        let _ = listener.poll_transmit(&mut buf);
        if !buf.is_empty() {
            dialer.handle_input(&buf)?;
        }
        while dialer.poll_event().is_some() {}
        while listener.poll_event().is_some() {}
        if dialer.is_complete() && listener.is_complete() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Runs `n` in-memory upgrades of `dialer_config` against `listener_config` through the
/// Rust API (the GIL released) and returns the seconds they took. Not an API: for the
/// benchmark only.
#[pyfunction]
pub(crate) fn _rust_upgrade_loop(
    py: Python<'_>,
    dialer_config: &UpgradeConfig,
    listener_config: &UpgradeConfig,
    n: usize,
) -> PyResult<f64> {
    let now = now_or_system(None);
    let expected = Some(listener_config.config.local_peer_id());
    let (d, l) = (&dialer_config.config, &listener_config.config);
    let mut seeds = Vec::with_capacity(2 * n);
    for _ in 0..2 * n {
        seeds.push(machine_seed(py, None)?);
    }
    let result = py.detach(move || -> Result<Option<f64>, upgrade::Error> {
        let start = std::time::Instant::now();
        let mut seeds = seeds.into_iter();
        while let (Some(a), Some(b)) = (seeds.next(), seeds.next()) {
            let mut dialer = Dialer::with_seed(d, expected, now, a)?;
            let mut listener = Listener::with_seed(l, now, b)?;
            if !one_upgrade(&mut dialer, &mut listener)? {
                return Ok(None);
            }
            let _ = (dialer.into_upgraded()?, listener.into_upgraded()?);
        }
        Ok(Some(start.elapsed().as_secs_f64()))
    });
    match result {
        Ok(Some(seconds)) => Ok(seconds),
        Ok(None) => Err(misuse(py, "an upgrade did not complete in 16 rounds")),
        Err(e) => Err(upgrade_error(py, &e)),
    }
}
