//! Key pairs, PeerIds and the text multiaddrs the drivers take.

use p2psec::identity::{ecdsa, ed25519, secp256k1, KeyType};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use zeroize::Zeroizing;

use crate::errors::{bad_argument, invalid_input};

fn key_type(py: Python<'_>, name: &str) -> PyResult<KeyType> {
    match name {
        "ed25519" => Ok(KeyType::Ed25519),
        "secp256k1" => Ok(KeyType::Secp256k1),
        "ecdsa" | "ecdsa-p256" => Ok(KeyType::Ecdsa),
        other => Err(bad_argument(
            py,
            format!("key type {other:?}: expected \"ed25519\", \"secp256k1\" or \"ecdsa\" (RSA keys are loaded, never generated)"),
        )),
    }
}

fn key_type_name(t: KeyType) -> &'static str {
    match t {
        KeyType::Rsa => "rsa",
        KeyType::Ed25519 => "ed25519",
        KeyType::Secp256k1 => "secp256k1",
        KeyType::Ecdsa => "ecdsa",
    }
}

/// 32 secret bytes from the caller, copied into memory that is wiped on drop.
pub(crate) fn seed32(py: Python<'_>, what: &str, bytes: &[u8]) -> PyResult<Zeroizing<[u8; 32]>> {
    let mut seed = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(bad_argument(
            py,
            format!("{what} must be 32 bytes, not {}", bytes.len()),
        ));
    }
    seed.copy_from_slice(bytes);
    Ok(seed)
}

/// A libp2p identity key pair: Ed25519, Secp256k1 or ECDSA P-256 (RSA when loaded from
/// its protobuf encoding). The secret is wiped when the object is freed.
#[pyclass(module = "p2psec._native", frozen)]
pub struct Keypair(pub(crate) p2psec::Keypair);

#[pymethods]
impl Keypair {
    /// A fresh key pair from the OS RNG; `key_type` is "ed25519", "secp256k1" or "ecdsa".
    #[staticmethod]
    #[pyo3(signature = (key_type = "ed25519"))]
    fn generate(py: Python<'_>, key_type: &str) -> PyResult<Self> {
        let kind = self::key_type(py, key_type)?;
        p2psec::Keypair::generate_with_os_rng(kind)
            .map(Self)
            .map_err(|e| invalid_input(py, "key generation", &e))
    }

    /// The key pair whose secret is the 32 bytes `seed` (Ed25519's seed, or the secret
    /// scalar of Secp256k1 and ECDSA): the same seed always gives the same key.
    #[staticmethod]
    #[pyo3(signature = (seed, key_type = "ed25519"))]
    fn from_seed(py: Python<'_>, seed: &[u8], key_type: &str) -> PyResult<Self> {
        let kind = self::key_type(py, key_type)?;
        let mut secret = seed32(py, "seed", seed)?;
        let bad = |e: p2psec::identity::Error| invalid_input(py, "seed is not a secret scalar", &e);
        let keypair = match kind {
            KeyType::Ed25519 => p2psec::Keypair::Ed25519(ed25519::Keypair::from_seed(&mut secret)),
            KeyType::Secp256k1 => p2psec::Keypair::Secp256k1(
                secp256k1::Keypair::try_from_scalar(&secret[..]).map_err(bad)?,
            ),
            _ => p2psec::Keypair::Ecdsa(ecdsa::Keypair::try_from_scalar(&secret[..]).map_err(bad)?),
        };
        Ok(Self(keypair))
    }

    /// The key pair in libp2p's protobuf encoding of a private key (what go-libp2p,
    /// rust-libp2p, js-libp2p and py-libp2p write).
    #[staticmethod]
    fn from_protobuf(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        p2psec::Keypair::try_decode_protobuf(data)
            .map(Self)
            .map_err(|e| invalid_input(py, "not a private key", &e))
    }

    /// The private key in libp2p's protobuf encoding (secret: store it with care).
    fn to_protobuf<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.encode_protobuf())
    }

    /// The public key in libp2p's protobuf encoding.
    fn public_key_protobuf<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.public().encode_protobuf())
    }

    /// "ed25519", "secp256k1", "ecdsa" or "rsa".
    #[getter]
    fn key_type(&self) -> &'static str {
        key_type_name(self.0.key_type())
    }

    /// The PeerId of this identity.
    #[getter]
    fn peer_id(&self) -> PeerId {
        PeerId(self.0.peer_id())
    }

    fn __repr__(&self) -> String {
        format!("Keypair({}, peer_id={})", self.key_type(), self.0.peer_id())
    }
}

/// A libp2p PeerId: the multihash of a public key (inlined for keys up to 42 bytes).
/// Immutable, hashable, compared by value; `str()` gives its base58btc text.
#[pyclass(module = "p2psec._native", frozen)]
#[derive(Clone)]
pub struct PeerId(pub(crate) p2psec::PeerId);

#[pymethods]
impl PeerId {
    /// Parses base58btc text (`12D3Koo…`, `Qm…`) or CIDv1 text (`bafz…`).
    #[new]
    fn new(py: Python<'_>, text: &str) -> PyResult<Self> {
        text.parse()
            .map(Self)
            .map_err(|e| invalid_input(py, "not a PeerId", &e))
    }

    /// A PeerId from its binary multihash.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        p2psec::PeerId::try_from_bytes(data)
            .map(Self)
            .map_err(|e| invalid_input(py, "not a PeerId", &e))
    }

    /// The PeerId of a public key given in libp2p's protobuf encoding.
    #[staticmethod]
    fn from_public_key(py: Python<'_>, public_key_protobuf: &[u8]) -> PyResult<Self> {
        p2psec::PublicKey::try_decode_protobuf(public_key_protobuf)
            .map(|k| Self(k.to_peer_id()))
            .map_err(|e| invalid_input(py, "not a public key", &e))
    }

    /// The binary multihash.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.as_bytes())
    }

    /// The base58btc text (what `str()` gives).
    fn to_base58(&self) -> String {
        self.0.to_base58()
    }

    /// The CIDv1 text (multibase base32, codec libp2p-key).
    fn to_cid(&self) -> String {
        self.0.to_cid_string()
    }

    /// The public key inlined in an identity-multihash PeerId (protobuf encoding), or
    /// `None` for a sha2-256 PeerId (an RSA key).
    fn public_key_protobuf<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.0
            .public_key()
            .ok()
            .map(|k| PyBytes::new(py, &k.encode_protobuf()))
    }

    /// Whether `public_key_protobuf` is the key this PeerId names.
    fn matches(&self, public_key_protobuf: &[u8]) -> bool {
        p2psec::PublicKey::try_decode_protobuf(public_key_protobuf)
            .is_ok_and(|k| self.0.matches(&k))
    }

    fn __str__(&self) -> String {
        self.0.to_base58()
    }

    fn __repr__(&self) -> String {
        format!("PeerId('{}')", self.0.to_base58())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.0.as_bytes().hash(&mut h);
        h.finish()
    }

    /// Pickling and copying go through the text form.
    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, (String,))> {
        let class = py.get_type::<PeerId>().into_any().unbind();
        Ok((class, (self.0.to_base58(),)))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PeerId>().is_ok_and(|o| o.get().0 == self.0)
    }
}

/// A TCP multiaddr's host, port and `/p2p/` PeerId: `"/ip4/127.0.0.1/tcp/4001/p2p/12D3…"`
/// gives `("127.0.0.1", 4001, PeerId(…))`; the PeerId is `None` when the address has
/// none. `/ip6/` hosts come back without brackets.
#[pyfunction]
pub(crate) fn parse_multiaddr(
    py: Python<'_>,
    text: &str,
) -> PyResult<(String, u16, Option<PeerId>)> {
    let addr: p2psec::multiaddr::Multiaddr = text
        .parse()
        .map_err(|e| bad_argument(py, format!("not a multiaddr {text:?}: {e}")))?;
    // a plain TCP address: nothing after the port but the peer's /p2p/ (a /ws, /tls or
    // /p2p-circuit address would be dialed as something it is not)
    let extra = addr.components().get(2..).unwrap_or_default();
    let plain = match extra {
        [] => true,
        [last] => matches!(last.protocol, "p2p" | "ipfs"),
        _ => false,
    };
    if !plain {
        return Err(bad_argument(
            py,
            format!("{text:?} is not a plain TCP address: only /p2p/<PeerId> may follow the port"),
        ));
    }
    let socket = addr.tcp_socket_addr().ok_or_else(|| {
        bad_argument(
            py,
            format!("{text:?} is not a TCP address (/ip4|ip6/…/tcp/…)"),
        )
    })?;
    let peer = addr
        .peer_id()
        .map_err(|e| invalid_input(py, "the /p2p/ part is not a PeerId", &e))?
        .map(PeerId);
    Ok((socket.ip().to_string(), socket.port(), peer))
}

/// The text multiaddr of a TCP address, with `/p2p/<peer_id>` when one is given.
#[pyfunction]
#[pyo3(signature = (host, port, peer_id = None))]
pub(crate) fn tcp_multiaddr(
    py: Python<'_>,
    host: &str,
    port: u16,
    peer_id: Option<&PeerId>,
) -> PyResult<String> {
    let ip: std::net::IpAddr = host
        .parse()
        .map_err(|_| bad_argument(py, format!("{host:?} is not an IP address")))?;
    let addr = p2psec::multiaddr::Multiaddr::from_tcp_socket_addr((ip, port).into());
    let addr = match peer_id {
        Some(id) => addr.with_peer_id(&id.0),
        None => addr,
    };
    Ok(addr.to_string())
}
