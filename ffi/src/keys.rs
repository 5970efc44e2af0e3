//! Key pairs and PeerIds.

use core::ffi::c_char;

use p2psec::identity::{ecdsa, ed25519, secp256k1, KeyType, Keypair, PeerId};

use crate::abi::{self, guard, guard_value, Failure};
use crate::status::p2psec_status;

/// The key types, numbered as in the libp2p key protobuf.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2psec_key_type {
    /// Ed25519 (the default for new identities).
    P2PSEC_KEY_ED25519 = 1,
    /// Secp256k1.
    P2PSEC_KEY_SECP256K1 = 2,
    /// ECDSA on P-256.
    P2PSEC_KEY_ECDSA_P256 = 3,
}

/// A libp2p identity key pair (opaque). The secret is wiped when freed.
pub struct p2psec_keypair(pub(crate) Keypair);

/// A PeerId (opaque).
pub struct p2psec_peer_id(pub(crate) PeerId);

/// The key type for a `p2psec_key_type` value passed as an integer (C may pass any).
fn key_type(value: u32) -> Result<KeyType, Failure> {
    match value {
        1 => Ok(KeyType::Ed25519),
        2 => Ok(KeyType::Secp256k1),
        3 => Ok(KeyType::Ecdsa),
        other => Err(Failure::invalid(format!(
            "key type {other} is not a p2psec_key_type (RSA keys are never generated)"
        ))),
    }
}

/// A fresh key pair of `key_type` (a `p2psec_key_type`) from the operating system's RNG.
///
/// # Safety
/// `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_keypair_generate(
    key_type_value: u32,
    out: *mut *mut p2psec_keypair,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        let keypair = Keypair::generate_with_os_rng(key_type(key_type_value)?)?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(p2psec_keypair(keypair)), "out") }
    })
}

/// The key pair whose secret is the 32 bytes at `seed`: the Ed25519 seed (RFC 8032), or
/// the secp256k1 / P-256 scalar (refused with P2PSEC_INVALID_ARGUMENT if out of range).
/// For tests and replays; a real identity comes from p2psec_keypair_generate or storage.
///
/// # Safety
/// `seed` must be NULL or readable for 32 bytes; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_keypair_from_seed(
    key_type_value: u32,
    seed: *const u8,
    out: *mut *mut p2psec_keypair,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        let kind = key_type(key_type_value)?;
        // SAFETY: the caller promises 32 readable bytes or NULL
        let mut secret =
            unsafe { abi::seed(seed) }.ok_or_else(|| Failure::invalid("seed is NULL"))?;
        let keypair = match kind {
            KeyType::Ed25519 => Keypair::Ed25519(ed25519::Keypair::from_seed(&mut secret)),
            KeyType::Secp256k1 => Keypair::Secp256k1(
                secp256k1::Keypair::try_from_scalar(&secret[..]).map_err(bad_scalar)?,
            ),
            _ => Keypair::Ecdsa(ecdsa::Keypair::try_from_scalar(&secret[..]).map_err(bad_scalar)?),
        };
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(p2psec_keypair(keypair)), "out") }
    })
}

fn bad_scalar(e: p2psec::identity::Error) -> Failure {
    Failure {
        status: crate::status::P2PSEC_INVALID_ARGUMENT,
        code: e.code(),
        message: format!("seed is not a valid secret scalar: {e}"),
    }
}

/// Loads a key pair from its `PrivateKey` protobuf (the libp2p storage format), strictly.
///
/// # Safety
/// `ptr` must be NULL or readable for `len` bytes; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_keypair_from_protobuf(
    ptr: *const u8,
    len: usize,
    out: *mut *mut p2psec_keypair,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let bytes = unsafe { abi::input(ptr, len, "ptr") }?;
        let keypair = Keypair::try_decode_protobuf(bytes)?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(p2psec_keypair(keypair)), "out") }
    })
}

/// Writes the key pair's `PrivateKey` protobuf into `out` (`cap` bytes); `*written` gets
/// its length, or the size needed with P2PSEC_BUFFER_TOO_SMALL. The caller should wipe
/// the buffer when done: it holds the secret key.
///
/// # Safety
/// `keypair` must be NULL or live; `out` NULL or writable for `cap`; `written` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_keypair_to_protobuf(
    keypair: *const p2psec_keypair,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        let keypair = unsafe { abi::handle(keypair, "keypair") }?;
        let encoded = keypair.0.encode_protobuf();
        // SAFETY: forwarded contract
        unsafe { abi::copy_out(out, cap, written, &encoded) }
    })
}

/// The key pair's PeerId, as a new handle.
///
/// # Safety
/// `keypair` must be NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_keypair_peer_id(
    keypair: *const p2psec_keypair,
    out: *mut *mut p2psec_peer_id,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let keypair = unsafe { abi::handle(keypair, "keypair") }?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe {
            abi::put(
                out,
                abi::into_handle(p2psec_peer_id(keypair.0.peer_id())),
                "out",
            )
        }
    })
}

/// Frees `*keypair` (wiping the secret) and sets it to NULL.
///
/// # Safety
/// `keypair` must be NULL, or point to NULL or to a live key pair handle.
#[no_mangle]
pub unsafe extern "C" fn p2psec_keypair_free(keypair: *mut *mut p2psec_keypair) {
    // SAFETY: forwarded contract
    guard_value((), || unsafe { abi::free(keypair) })
}

/// Parses a PeerId from its text: base58btc (`12D3KooW...`, `Qm...`) or a CIDv1.
///
/// # Safety
/// `text` must be NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_peer_id_from_string(
    text: *const c_char,
    out: *mut *mut p2psec_peer_id,
) -> p2psec_status {
    guard(|| {
        abi::require(out, "out")?;
        // SAFETY: forwarded contract
        let text = unsafe { abi::text(text, "text") }?;
        // text from the caller: unparseable is a bad argument, whatever the identity
        // layer's fault group says
        let id: PeerId = text.parse().map_err(|e: p2psec::identity::Error| Failure {
            status: crate::status::P2PSEC_INVALID_ARGUMENT,
            code: e.code(),
            message: format!("text is not a PeerId: {e}"),
        })?;
        // SAFETY: checked non-null; the caller promises it is writable
        unsafe { abi::put(out, abi::into_handle(p2psec_peer_id(id)), "out") }
    })
}

/// Writes the PeerId's base58btc text, NUL-terminated, into `buf`.
///
/// # Safety
/// `id` must be NULL or live; `buf` NULL or writable for `cap`; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn p2psec_peer_id_to_string(
    id: *const p2psec_peer_id,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> p2psec_status {
    guard(|| {
        // SAFETY: forwarded contract
        let id = unsafe { abi::handle(id, "id") }?;
        // SAFETY: forwarded contract
        unsafe { abi::write_text(&id.0.to_base58(), buf, cap, written) }
    })
}

/// Whether two PeerIds are the same (false if either is NULL).
///
/// # Safety
/// `a` and `b` must each be NULL or live.
#[no_mangle]
pub unsafe extern "C" fn p2psec_peer_id_equal(
    a: *const p2psec_peer_id,
    b: *const p2psec_peer_id,
) -> bool {
    guard_value(false, || {
        // SAFETY: forwarded contract
        match unsafe { (a.as_ref(), b.as_ref()) } {
            (Some(a), Some(b)) => a.0 == b.0,
            _ => false,
        }
    })
}

/// Frees `*id` and sets it to NULL.
///
/// # Safety
/// `id` must be NULL, or point to NULL or to a live PeerId handle.
#[no_mangle]
pub unsafe extern "C" fn p2psec_peer_id_free(id: *mut *mut p2psec_peer_id) {
    // SAFETY: forwarded contract
    guard_value((), || unsafe { abi::free(id) })
}
