//! The upgrade configuration, and the clock and randomness behind `now` and `seed`.

use p2psec::upgrade::{Config, SecurityProtocol};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
use rand_core::{CryptoRng, SeedableRng};
use zeroize::Zeroizing;

use crate::errors::{bad_argument, upgrade_error};
use crate::keys::{seed32, Keypair, PeerId};

/// A `now` argument: Unix seconds as an `int`, or a `float` such as `time.time()` (its
/// fraction dropped). A negative, non-finite or too large value is `InvalidInput`;
/// another type (a `bool` too) is a `TypeError`; both name the argument.
pub(crate) struct UnixTime(u64);

impl<'a, 'py> FromPyObject<'a, 'py> for UnixTime {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let out_of_range = || {
            bad_argument(
                obj.py(),
                format!("now: Unix seconds from 0 to 2**64 - 1, not {}", &*obj),
            )
        };
        if obj.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(
                "now: expected Unix seconds (int or float), not bool",
            ));
        }
        if obj.is_instance_of::<PyInt>() {
            return obj.extract::<u64>().map(Self).map_err(|_| out_of_range());
        }
        if let Ok(float) = obj.cast::<PyFloat>() {
            let seconds = float.value();
            // 2**64 as f64 is exact: anything below it truncates into a u64
            if !(seconds.is_finite() && (0.0..18_446_744_073_709_551_616.0).contains(&seconds)) {
                return Err(out_of_range());
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return Ok(Self(seconds as u64));
        }
        Err(PyTypeError::new_err(format!(
            "now: expected Unix seconds (int or float), not {}",
            obj.get_type().name()?
        )))
    }
}

/// The caller's clock, or the system's.
pub(crate) fn now_or_system(now: Option<UnixTime>) -> u64 {
    now.map_or_else(
        || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        },
        |t| t.0,
    )
}

/// The RNG for an optional 32-byte seed: ChaCha20 keyed by the seed (wiped on drop), or
/// the operating system's.
pub(crate) fn rng(py: Python<'_>, seed: Option<&[u8]>) -> PyResult<Box<dyn CryptoRng>> {
    Ok(match seed {
        Some(seed) => Box::new(chacha20::ChaCha20Rng::from_seed(*seed32(py, "seed", seed)?)),
        None => Box::new(p2psec::adapters::os_rng()),
    })
}

/// A machine's 32-byte seed: the caller's, or drawn from the OS RNG.
pub(crate) fn machine_seed(py: Python<'_>, seed: Option<&[u8]>) -> PyResult<Zeroizing<[u8; 32]>> {
    match seed {
        Some(seed) => seed32(py, "seed", seed),
        None => {
            let mut s = Zeroizing::new([0u8; 32]);
            rand_core::Rng::fill_bytes(&mut p2psec::adapters::os_rng(), &mut s[..]);
            Ok(s)
        }
    }
}

/// A security protocol by its short name ("noise", "tls", "secio") or protocol id
/// ("/noise", "/tls/1.0.0", "/secio/1.0.0").
pub(crate) fn security_protocol(py: Python<'_>, name: &str) -> PyResult<SecurityProtocol> {
    SecurityProtocol::KNOWN
        .iter()
        .copied()
        .find(|p| p.name() == name || p.protocol_id() == name)
        .ok_or_else(|| {
            bad_argument(
                py,
                format!(
                    "unknown security protocol {name:?}: expected \"noise\", \"tls\" or \"secio\""
                ),
            )
        })
}

/// The certificate hashes a listener advertises, refused here when a peer would refuse
/// them: more than the payload's bound, or one empty or longer than a payload item.
fn certhashes(py: Python<'_>, hashes: Vec<Vec<u8>>) -> PyResult<Vec<Vec<u8>>> {
    let max = p2psec::noise::payload::MAX_CERTHASHES;
    if hashes.len() > max {
        return Err(bad_argument(
            py,
            format!(
                "noise_webtransport_certhashes: {} hashes, at most {max}",
                hashes.len()
            ),
        ));
    }
    let longest = p2psec::noise::payload::MAX_ITEM_LEN;
    if let Some(bad) = hashes.iter().find(|h| h.is_empty() || h.len() > longest) {
        return Err(bad_argument(
            py,
            format!(
                "noise_webtransport_certhashes: a hash of {} bytes (1 to {longest})",
                bad.len()
            ),
        ));
    }
    Ok(hashes)
}

/// What every upgrade of one identity shares: the identity, the Noise static key, the
/// TLS certificate (valid for a year from `now`), the security protocols in preference
/// order, the muxers, and the early-muxer and optimistic switches. Build one per
/// identity and reuse it for every connection.
///
/// `security`: short names or protocol ids, preferred first ("secio" only last, opt-in).
/// `muxers`: protocol ids, preferred first (empty: the upgrade ends after the handshake,
/// as py-libp2p and rust-libp2p's Swarm need). `early_muxer`: offer the muxers inside the
/// handshake (Noise extensions, TLS ALPN). `optimistic`: the dialer sends its first
/// handshake message with its proposal when it proposes one protocol. `noise_static_key`:
/// a fixed X25519 secret (replaying vectors). `noise_prologue`: bytes both sides mix into
/// the Noise handshake hash (WebRTC's). `noise_webtransport_certhashes`: the certificate
/// hashes (multihashes) a WebTransport listener advertises in Noise message 2, at most
/// 32. `now`: Unix seconds, an int or a float such as `time.time()` (default: the system
/// clock). `seed`: 32 bytes behind the static key and the certificate key (default: OS
/// randomness).
#[pyclass(module = "p2psec._native", frozen)]
pub struct UpgradeConfig {
    pub(crate) config: Config,
}

#[pymethods]
impl UpgradeConfig {
    #[new]
    #[pyo3(signature = (
        keypair, *, security = vec!["noise".to_owned(), "tls".to_owned()],
        muxers = vec![p2psec::upgrade::YAMUX.to_owned()], early_muxer = true, optimistic = true,
        noise_static_key = None, noise_prologue = None, noise_webtransport_certhashes = None,
        now = None, seed = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        keypair: &Keypair,
        security: Vec<String>,
        muxers: Vec<String>,
        early_muxer: bool,
        optimistic: bool,
        noise_static_key: Option<&[u8]>,
        noise_prologue: Option<&[u8]>,
        noise_webtransport_certhashes: Option<Vec<Vec<u8>>>,
        now: Option<UnixTime>,
        seed: Option<&[u8]>,
    ) -> PyResult<Self> {
        let fail = |e: p2psec::upgrade::Error| upgrade_error(py, &e);
        let mut rng = rng(py, seed)?;
        let mut config = Config::new(&keypair.0, now_or_system(now), &mut *rng).map_err(fail)?;
        let protocols = security
            .iter()
            .map(|s| security_protocol(py, s))
            .collect::<PyResult<Vec<_>>>()?;
        config = config.with_security(protocols).map_err(fail)?;
        if noise_static_key.is_some()
            || noise_prologue.is_some()
            || noise_webtransport_certhashes.is_some()
        {
            // the static key `Config::new` drew, unless the caller fixes one
            let mut noise = match noise_static_key {
                Some(secret) => p2psec::noise::Config::with_static_secret(
                    &keypair.0,
                    seed32(py, "noise_static_key", secret)?,
                )
                .map_err(|e| fail(p2psec::upgrade::Error::Noise(e)))?,
                None => config.noise().clone(),
            };
            if let Some(prologue) = noise_prologue {
                noise = noise.with_prologue(prologue);
            }
            if let Some(hashes) = noise_webtransport_certhashes {
                noise = noise.with_webtransport_certhashes(certhashes(py, hashes)?);
            }
            config = config.with_noise(noise);
        }
        config = config
            .with_muxers(muxers)
            .map_err(fail)?
            .with_early_muxer_negotiation(early_muxer)
            .with_optimistic_negotiation(optimistic);
        Ok(Self { config })
    }

    /// Our PeerId.
    #[getter]
    fn local_peer_id(&self) -> PeerId {
        PeerId(self.config.local_peer_id())
    }

    /// The security protocol ids, preferred first.
    #[getter]
    fn security(&self) -> Vec<&'static str> {
        self.config
            .security()
            .iter()
            .map(|p| p.protocol_id())
            .collect()
    }

    /// The muxer protocol ids, preferred first.
    #[getter]
    fn muxers(&self) -> Vec<String> {
        self.config.muxers().to_vec()
    }

    fn __repr__(&self) -> String {
        format!(
            "UpgradeConfig(peer_id={}, security={:?}, muxers={:?})",
            self.config.local_peer_id(),
            self.security(),
            self.muxers()
        )
    }
}
