//! The upgrade configuration, and the randomness behind `seed` arguments.

use core::ffi::c_char;

use p2psec::identity::Keypair;
use p2psec::upgrade::{Config, SecurityProtocol};
use rand_core::{CryptoRng, SeedableRng};
use zeroize::Zeroizing;

use crate::abi::{self, guard, guard_value, Failure};
use crate::keys::{p2psec_keypair, p2psec_peer_id};
use crate::status::p2psec_status;

/// What every upgrade of one identity shares (opaque): the identity, the Noise static key,
/// the TLS certificate, the security and muxer lists, the early-muxer and optimistic
/// switches. It holds no deadline: the caller owns time.
pub struct p2psec_config {
    pub(crate) config: Config,
    /// The identity again, for settings that re-sign (the Noise static key).
    #[cfg_attr(not(feature = "noise"), allow(dead_code))]
    identity: Keypair,
    /// The Noise prologue and certificate hashes set here, applied again when a new
    /// static key replaces the Noise configuration (so the setters' order does not matter).
    #[cfg_attr(not(feature = "noise"), allow(dead_code))]
    noise_extras: NoiseExtras,
}

/// What the Noise setters keep beside the configuration.
#[derive(Default)]
#[cfg_attr(not(feature = "noise"), allow(dead_code))]
struct NoiseExtras {
    prologue: Vec<u8>,
    webtransport_certhashes: Vec<Vec<u8>>,
}

/// The RNG for an optional 32-byte seed: ChaCha20 keyed by the seed (wiped on drop), or
/// the operating system's.
pub(crate) fn rng(seed: Option<Zeroizing<[u8; 32]>>) -> Box<dyn CryptoRng> {
    match seed {
        Some(seed) => Box::new(chacha20::ChaCha20Rng::from_seed(*seed)),
        None => Box::new(p2psec::adapters::os_rng()),
    }
}

/// A configuration for `keypair` at `now_unix` (Unix seconds: the TLS certificate is
/// valid from then for a year). The Noise static key and the certificate key are drawn
/// from the 32 bytes at `seed` (a ChaCha20 stream keyed by them), or from the OS RNG when
/// `seed` is NULL. Defaults: every security protocol built in, the muxer `/yamux/1.0.0`,
/// early muxer negotiation and optimistic negotiation on.
///
/// # Safety
/// `keypair` must be NULL or live; `seed` NULL or readable for 32 bytes; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_new(
    keypair: *const p2psec_keypair,
    now_unix: u64,
    seed: *const u8,
    out: *mut *mut p2psec_config,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let keypair = unsafe { abi::handle(keypair, "keypair") }?;
        // SAFETY: forwarded contract
        let mut rng = rng(unsafe { abi::seed(seed) });
        let config = Config::new(&keypair.0, now_unix, &mut *rng)?;
        let handle = p2psec_config {
            config,
            identity: keypair.0.clone(),
            noise_extras: NoiseExtras::default(),
        };
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(handle), "out") }
    })
}

/// Applies `f` to the configuration behind `config`.
///
/// # Safety
/// `config` must be NULL or live and unaliased.
unsafe fn edit(
    config: *mut p2psec_config,
    f: impl FnOnce(&mut p2psec_config) -> Result<(), Failure>,
) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        f(unsafe { abi::handle_mut(config, "config") }?)
    })
}

/// The items of a comma-separated list, trimmed; empty text is an empty list.
fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Sets the security protocols, in the dialer's preference order, from a comma-separated
/// list of names or protocol ids: `"noise,tls"`, `"/tls/1.0.0"`; `secio` only if the
/// library was built with it, and only last. An unknown or unbuilt name, a repeated one or
/// an empty list is P2PSEC_API_MISUSE (a configuration mistake); the configuration is then
/// unchanged.
///
/// # Safety
/// `config` must be NULL or live and unaliased; `list` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_set_security(
    config: *mut p2psec_config,
    list: *const c_char,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe {
        edit(config, |c| {
            let list = abi::text(list, "list")?;
            let mut protocols = Vec::new();
            for item in items(list) {
                let p = SecurityProtocol::from_protocol_id(item)
                    .map(Ok)
                    .unwrap_or_else(|| item.parse::<SecurityProtocol>())?;
                protocols.push(p);
            }
            c.config = c.config.clone().with_security(protocols)?;
            Ok(())
        })
    }
}

/// Sets the stream muxers, in preference order, from a comma-separated list of protocol
/// ids (`"/yamux/1.0.0,/mplex/6.7.0"`); `""` for none (the channel carries one stream).
///
/// # Safety
/// `config` must be NULL or live and unaliased; `list` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_set_muxers(
    config: *mut p2psec_config,
    list: *const c_char,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe {
        edit(config, |c| {
            let list = abi::text(list, "list")?;
            c.config = c.config.clone().with_muxers(items(list))?;
            Ok(())
        })
    }
}

/// Whether to offer the muxers inside the handshake (Noise extensions, TLS ALPN).
///
/// # Safety
/// `config` must be NULL or live and unaliased.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_set_early_muxer(
    config: *mut p2psec_config,
    on: bool,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe {
        edit(config, |c| {
            c.config = c.config.clone().with_early_muxer_negotiation(on);
            Ok(())
        })
    }
}

/// Whether the dialer negotiates optimistically (multistream-select V1Lazy).
///
/// # Safety
/// `config` must be NULL or live and unaliased.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_set_optimistic(
    config: *mut p2psec_config,
    on: bool,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe {
        edit(config, |c| {
            c.config = c.config.clone().with_optimistic_negotiation(on);
            Ok(())
        })
    }
}

/// Replaces the Noise static X25519 secret with the 32 bytes at `secret` (re-signed by the
/// identity): for replaying recorded transcripts. Set it before the muxer list, the
/// prologue or the certificate hashes, or after: either order gives the same
/// configuration.
///
/// # Safety
/// `config` must be NULL or live and unaliased; `secret` NULL or readable for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_set_noise_static_key(
    config: *mut p2psec_config,
    secret: *const u8,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe {
        edit(config, |c| {
            let secret = abi::seed(secret).ok_or_else(|| Failure::invalid("secret is NULL"))?;
            set_noise_static_key(c, secret)
        })
    }
}

#[cfg(feature = "noise")]
fn set_noise_static_key(c: &mut p2psec_config, secret: Zeroizing<[u8; 32]>) -> Result<(), Failure> {
    let noise = p2psec::noise::Config::with_static_secret(&c.identity, secret)
        .map_err(p2psec::upgrade::Error::Noise)?;
    c.config = c
        .config
        .clone()
        .with_noise(c.noise_extras.applied_to(noise));
    Ok(())
}

#[cfg(not(feature = "noise"))]
fn set_noise_static_key(c: &mut p2psec_config, secret: Zeroizing<[u8; 32]>) -> Result<(), Failure> {
    let _ = (c, secret);
    Err(no_noise())
}

#[cfg(not(feature = "noise"))]
fn no_noise() -> Failure {
    Failure::new(crate::status::P2PSEC_API_MISUSE, "this build has no Noise")
}

#[cfg(feature = "noise")]
impl NoiseExtras {
    /// `noise` with this prologue and these certificate hashes.
    fn applied_to(&self, noise: p2psec::noise::Config) -> p2psec::noise::Config {
        noise
            .with_prologue(&self.prologue)
            .with_webtransport_certhashes(self.webtransport_certhashes.clone())
    }
}

/// Changes the kept Noise settings by `f` and applies them to the Noise configuration.
#[cfg(feature = "noise")]
fn edit_noise_extras(
    c: &mut p2psec_config,
    f: impl FnOnce(&mut NoiseExtras),
) -> Result<(), Failure> {
    f(&mut c.noise_extras);
    let noise = c.noise_extras.applied_to(c.config.noise().clone());
    c.config = c.config.clone().with_noise(noise);
    Ok(())
}

#[cfg(not(feature = "noise"))]
fn edit_noise_extras(
    c: &mut p2psec_config,
    f: impl FnOnce(&mut NoiseExtras),
) -> Result<(), Failure> {
    let _ = (c, f);
    Err(no_noise())
}

/// Sets the Noise prologue, the `len` bytes at `prologue`, which both sides mix into the
/// handshake hash (WebRTC-direct's; empty by default). `len` 0 clears it, and
/// `prologue` may then be NULL. A peer with another prologue fails the handshake.
///
/// # Safety
/// `config` must be NULL or live and unaliased; `prologue` NULL or readable for `len`.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_set_noise_prologue(
    config: *mut p2psec_config,
    prologue: *const u8,
    len: usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe {
        edit(config, |c| {
            let prologue = if len == 0 {
                Vec::new()
            } else {
                abi::input(prologue, len, "prologue")?.to_vec()
            };
            edit_noise_extras(c, |e| e.prologue = prologue)
        })
    }
}

/// Sets the WebTransport certificate hashes (multihashes) that a Noise responder
/// advertises in message 2: `count` hashes, hash `i` being the `lens[i]` bytes at
/// `hashes[i]`. `count` 0 clears them, and the arrays may then be NULL. At most
/// P2PSEC_MAX_CERTHASHES hashes, each 1 to P2PSEC_MAX_CERTHASH_LEN bytes: anything else is
/// P2PSEC_INVALID_ARGUMENT, and the configuration is then unchanged.
///
/// # Safety
/// `config` must be NULL or live and unaliased; `hashes` and `lens` NULL or readable for
/// `count` entries; each `hashes[i]` NULL or readable for `lens[i]` bytes.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_set_noise_webtransport_certhashes(
    config: *mut p2psec_config,
    hashes: *const *const u8,
    lens: *const usize,
    count: usize,
) -> p2psec_status {
    // SAFETY: forwarded contract
    unsafe {
        edit(config, |c| {
            let hashes = certhashes(hashes, lens, count)?;
            edit_noise_extras(c, |e| e.webtransport_certhashes = hashes)
        })
    }
}

/// The most certificate hashes a configuration takes (the payload parser's own limit).
pub const P2PSEC_MAX_CERTHASHES: usize = 32;
/// The longest certificate hash a configuration takes, in bytes.
pub const P2PSEC_MAX_CERTHASH_LEN: usize = 1024;

// cbindgen needs the literals: they must stay the library's
#[cfg(feature = "noise")]
const _: () = assert!(
    P2PSEC_MAX_CERTHASHES == p2psec::noise::payload::MAX_CERTHASHES
        && P2PSEC_MAX_CERTHASH_LEN == p2psec::noise::payload::MAX_ITEM_LEN
);

/// The hashes of [`p2psec_config_set_noise_webtransport_certhashes`], copied and checked.
///
/// # Safety
/// As that function's contract for `hashes`, `lens` and `count`.
unsafe fn certhashes(
    hashes: *const *const u8,
    lens: *const usize,
    count: usize,
) -> Result<Vec<Vec<u8>>, Failure> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if count > P2PSEC_MAX_CERTHASHES {
        return Err(Failure::invalid(format!(
            "{count} certificate hashes, at most {P2PSEC_MAX_CERTHASHES}"
        )));
    }
    if hashes.is_null() || lens.is_null() {
        return Err(Failure::invalid("hashes or lens is NULL"));
    }
    // SAFETY: non-null, and the caller promises `count` readable entries in each array
    let (hashes, lens) = unsafe {
        (
            core::slice::from_raw_parts(hashes, count),
            core::slice::from_raw_parts(lens, count),
        )
    };
    let mut out = Vec::with_capacity(count);
    for (i, (&hash, &len)) in hashes.iter().zip(lens).enumerate() {
        if len > P2PSEC_MAX_CERTHASH_LEN {
            return Err(Failure::invalid(format!(
                "certificate hash {i} has {len} bytes, at most {P2PSEC_MAX_CERTHASH_LEN}"
            )));
        }
        // SAFETY: the caller promises `hashes[i]` readable for `lens[i]` bytes
        let hash = unsafe { abi::input(hash, len, &format!("certificate hash {i}")) }?;
        out.push(hash.to_vec());
    }
    Ok(out)
}

/// Our PeerId, as a new handle.
///
/// # Safety
/// `config` must be NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_local_peer_id(
    config: *const p2psec_config,
    out: *mut *mut p2psec_peer_id,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let c = unsafe { abi::handle(config, "config") }?;
        let id = p2psec_peer_id(c.config.local_peer_id());
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(id), "out") }
    })
}

/// Frees `*config` and sets it to NULL. Dialers and listeners made from it keep working.
///
/// # Safety
/// `config` must be NULL, or point to NULL or to a live configuration handle.
#[no_mangle]
pub unsafe extern "C" fn p2psec_config_free(config: *mut *mut p2psec_config) {
    // SAFETY: forwarded contract
    guard_value((), || unsafe { abi::free(config) })
}
