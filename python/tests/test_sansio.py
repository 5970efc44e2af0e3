"""Unit tests of the sans-IO API: every public name of ``p2psec``.

Keys and PeerIds (with the spec's identity vectors), the upgrade configuration, in-memory
upgrades Dialer <-> Listener over Noise, TLS and SECIO (with and without the muxer inside
the handshake, and with the security protocol agreed elsewhere), the secured channel, the
exception classes with their codes (and the poisoning rule: a machine that raised raises
the same error again), the multiaddr helpers, and the determinism of seeded runs.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

import p2psec
import p2psec.errors
from p2psec import (
    MPLEX,
    SECURITY_PROTOCOLS,
    YAMUX,
    ConnectionClosed,
    Dialer,
    HandshakeError,
    HandshakeTimeout,
    InvalidInput,
    Keypair,
    Listener,
    LocalError,
    NegotiationError,
    P2psecError,
    PeerId,
    PeerIdMismatch,
    ProtocolViolation,
    RemoteIdentified,
    SecureChannel,
    SecurityAgreed,
    UpgradeComplete,
    UpgradeConfig,
    UsageError,
    parse_multiaddr,
    tcp_multiaddr,
)
from p2psec._native import error_class_name

REPO = Path(__file__).resolve().parents[2]
IDENTITY = REPO / "vectors" / "identity"
ERRORS_RS = REPO / "python" / "rust" / "errors.rs"

NOW = 1_700_000_000
HEADER = b"\x13/multistream/1.0.0\n"
NOISE_ID, TLS_ID, SECIO_ID = "/noise", "/tls/1.0.0", "/secio/1.0.0"
MiB = 1 << 20


def seed(n: int) -> bytes:
    return bytes([n]) * 32


def key(n: int, key_type: str = "ed25519") -> Keypair:
    return Keypair.from_seed(seed(n), key_type)


# ---- an in-memory connection ----


class Side:
    """One end of an in-memory connection: the upgrade machine until it completes, then
    its channel. Keeps the bytes the machine did not consume (they go to the channel once
    the upgrade is complete), the events, and everything this end sent."""

    def __init__(self, machine: Dialer | Listener) -> None:
        self.machine = machine
        self.channel: SecureChannel | None = None
        self.inbox = b""
        self.sent = bytearray()
        self.events: list[p2psec.Event] = []
        self.channel_sent = 0

    def pull(self) -> bytes:
        out = (self.channel or self.machine).data_to_send()
        self.sent += out
        if self.channel is not None:
            self.channel_sent += len(out)
        return out

    def push(self, data: bytes) -> None:
        self.inbox += data
        if self.channel is None:
            used = self.machine.receive_data(self.inbox)
            assert 0 <= used <= len(self.inbox)
            self.inbox = self.inbox[used:]
            while (event := self.machine.next_event()) is not None:
                self.events.append(event)
            if self.machine.is_complete:
                # output still waiting in the machine moves to the channel
                self.channel = self.machine.into_channel()
        if self.channel is not None and self.inbox:
            used = self.channel.receive_data(self.inbox)
            self.inbox = self.inbox[used:]

    @property
    def done(self) -> bool:
        return self.channel is not None


def connect(dialer: Dialer, listener: Listener, rounds: int = 10, first: bytes = b"") -> tuple[Side, Side]:
    """Shuttles bytes both ways until both upgrades are complete and nothing moves;
    ``first``: what the dialer's ``data_to_send`` already returned."""
    d, ls = Side(dialer), Side(listener)
    if first:
        d.sent += first
        ls.push(first)
    for _ in range(rounds):
        to_l, to_d = d.pull(), b""
        if to_l:
            ls.push(to_l)
        to_d = ls.pull()
        if to_d:
            d.push(to_d)
        if d.done and ls.done and not to_l and not to_d:
            break
    assert d.done and ls.done, "the upgrade did not complete"
    assert not d.inbox and not ls.inbox
    return d, ls


def configs(
    security: str | list[str], muxers: list[str] | None = None, **kw: Any
) -> tuple[Keypair, Keypair, UpgradeConfig, UpgradeConfig]:
    sec = [security] if isinstance(security, str) else security
    mux = [YAMUX] if muxers is None else muxers
    kd, kl = key(1), key(2)
    cd = UpgradeConfig(kd, security=sec, muxers=mux, now=NOW, seed=seed(11), **kw)
    cl = UpgradeConfig(kl, security=sec, muxers=mux, now=NOW, seed=seed(12), **kw)
    return kd, kl, cd, cl


def channels(security: str, **kw: Any) -> tuple[SecureChannel, SecureChannel]:
    kd, kl, cd, cl = configs(security, [MPLEX] if security == "secio" else None, **kw)
    d, ls = connect(Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW))
    assert d.channel is not None and ls.channel is not None
    return d.channel, ls.channel


def transfer(src: SecureChannel, dst: SecureChannel, data: bytes) -> bytes:
    """Sends ``data`` from ``src`` to ``dst`` (write may take less than offered, receive
    may stop while plaintext waits); returns what ``dst`` read."""
    received = bytearray()
    offset, wire = 0, b""
    for _ in range(10_000):
        if offset < len(data):
            offset += src.write(data[offset : offset + 256 * 1024])
        wire += src.data_to_send()
        used = dst.receive_data(wire)
        if used < len(wire):
            assert dst.readable > 0, "input is refused only while plaintext waits"
        wire = wire[used:]
        while chunk := dst.read():
            received += chunk
        if offset == len(data) and not wire and len(received) >= len(data):
            break
    assert src.data_to_send() == b""
    return bytes(received)


def raises(f: Callable[[], object]) -> P2psecError:
    with pytest.raises(P2psecError) as info:
        f()
    e = info.value
    # a machine's error has the class error_class_name names for its code (a bad argument
    # is InvalidInput whatever the code of the library's reason)
    if not isinstance(e, InvalidInput) and e.code:
        assert type(e).__name__ == error_class_name(e.code), (type(e), e.code)
    return e


def same_error(a: P2psecError, b: P2psecError) -> None:
    assert type(a) is type(b)
    assert str(a) == str(b)
    assert (a.code, a.fault, a.layer) == (b.code, b.fault, b.layer)


# ---- the package ----


def test_every_public_name_is_there() -> None:
    for name in p2psec.__all__:
        assert hasattr(p2psec, name), name
    classes = [Dialer, Keypair, Listener, PeerId, SecureChannel, UpgradeConfig]
    assert all(isinstance(c, type) for c in classes)
    errors = [getattr(p2psec, n) for n in p2psec.errors.__all__]
    assert all(issubclass(c, P2psecError) for c in errors)
    assert set(p2psec.errors.__all__) <= set(p2psec.__all__)
    assert YAMUX == "/yamux/1.0.0" and MPLEX == "/mplex/6.7.0"


def test_version_is_the_packages() -> None:
    cargo = (REPO / "python" / "Cargo.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', cargo, re.M)
    assert match is not None
    assert p2psec.__version__ == match.group(1)
    assert p2psec.__version__ == importlib.metadata.version("p2psec")


def test_security_protocols() -> None:
    assert SECURITY_PROTOCOLS == [NOISE_ID, TLS_ID, "/secio/1.0.0"]
    # the default configuration offers them in this order
    assert UpgradeConfig(key(1)).security == [NOISE_ID, TLS_ID]


def test_the_exception_hierarchy() -> None:
    assert issubclass(PeerIdMismatch, HandshakeError)
    assert issubclass(InvalidInput, ValueError) and issubclass(InvalidInput, P2psecError)
    assert issubclass(HandshakeTimeout, TimeoutError)
    for cls in (NegotiationError, ProtocolViolation, ConnectionClosed, UsageError, LocalError):
        assert issubclass(cls, P2psecError) and not issubclass(cls, HandshakeError)
    e = LocalError("boom")
    assert (str(e), e.code, e.fault, e.layer) == ("boom", 0, "local", "upgrade")
    assert repr(e) == "LocalError('boom', code=0)"
    t = HandshakeTimeout("late", 0)
    assert t.fault == "peer_misbehaved"
    c = ConnectionClosed("gone", 7201, "peer_misbehaved", "upgrade")
    assert c.code == 7201 and c.message == "gone"


# ---- Keypair ----


@pytest.mark.parametrize("key_type", ["ed25519", "secp256k1", "ecdsa"])
def test_keypair_generate(key_type: str) -> None:
    a, b = Keypair.generate(key_type), Keypair.generate(key_type)
    assert a.key_type == key_type
    assert a.peer_id != b.peer_id, "fresh keys"
    pb = a.to_protobuf()
    back = Keypair.from_protobuf(pb)
    assert back.to_protobuf() == pb
    assert back.peer_id == a.peer_id
    public = a.public_key_protobuf()
    assert public != pb
    assert PeerId.from_public_key(public) == a.peer_id
    assert a.peer_id.matches(public) and not b.peer_id.matches(public)
    assert key_type in repr(a) and str(a.peer_id) in repr(a)


def test_keypair_default_type_and_aliases() -> None:
    assert Keypair.generate().key_type == "ed25519"
    assert Keypair.generate("ecdsa-p256").key_type == "ecdsa"
    assert str(Keypair.generate().peer_id).startswith("12D3KooW")
    assert str(Keypair.generate("secp256k1").peer_id).startswith("16Uiu2HA")
    assert str(Keypair.generate("ecdsa").peer_id).startswith("Qm")


@pytest.mark.parametrize("key_type", ["ed25519", "secp256k1", "ecdsa"])
def test_keypair_from_seed_is_deterministic(key_type: str) -> None:
    a, b = key(7, key_type), key(7, key_type)
    assert a.key_type == key_type
    assert a.to_protobuf() == b.to_protobuf()
    assert a.peer_id == b.peer_id
    assert key(8, key_type).peer_id != a.peer_id


@pytest.mark.parametrize("bad", ["rsa", "ED25519", "", "dsa"])
def test_keypair_bad_key_type(bad: str) -> None:
    calls: list[Callable[[], Keypair]] = [lambda: Keypair.generate(bad), lambda: Keypair.from_seed(seed(1), bad)]
    for f in calls:
        with pytest.raises(ValueError) as info:
            f()
        assert isinstance(info.value, InvalidInput)
        assert repr(bad) in str(info.value) or f'"{bad}"' in str(info.value)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_keypair_bad_seed_length(length: int) -> None:
    e = raises(lambda: Keypair.from_seed(b"\x01" * length))
    assert isinstance(e, InvalidInput) and isinstance(e, ValueError)
    assert f"not {length}" in str(e)


@pytest.mark.parametrize("key_type", ["secp256k1", "ecdsa"])
def test_keypair_seed_out_of_range(key_type: str) -> None:
    # not a secret scalar: zero, or above the group order
    for bad in (bytes(32), b"\xff" * 32):
        e = raises(lambda: Keypair.from_seed(bad, key_type))
        assert isinstance(e, InvalidInput)
        assert e.code > 0 and e.layer == "identity"


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x08\x01\x12\x03abc", bytes(100)])
def test_keypair_bad_protobuf(data: bytes) -> None:
    e = raises(lambda: Keypair.from_protobuf(data))
    assert isinstance(e, InvalidInput) and e.code > 0


# ---- the identity vectors ----


def load(name: str) -> Any:
    return json.loads((IDENTITY / name).read_text())


KEY_VECTORS = load("keys.json")


@pytest.mark.parametrize("v", KEY_VECTORS, ids=[v["name"] for v in KEY_VECTORS])
def test_key_vectors(v: dict[str, Any]) -> None:
    pb = bytes.fromhex(v["private_key_protobuf_hex"])
    public = bytes.fromhex(v["public_key_protobuf_hex"])
    derived = v["derived_not_in_spec"]
    # the per-key files hold the same bytes
    name = v["name"]
    assert (IDENTITY / f"{name}-private.pb.hex.txt").read_text().strip() == pb.hex()
    assert (IDENTITY / f"{name}-public.pb.hex.txt").read_text().strip() == public.hex()
    assert pb[1] == v["key_type"]

    k = Keypair.from_protobuf(pb)
    assert k.key_type == name
    assert k.to_protobuf() == pb, "encodes back to the same bytes"
    assert k.public_key_protobuf() == public, "the derived public key is the recorded one"
    assert len(public) == v["public_key_protobuf_len"]
    pid = k.peer_id
    assert str(pid) == derived["peer_id_base58btc"]
    assert pid.to_base58() == derived["peer_id_base58btc"]
    assert pid.to_bytes().hex() == derived["peer_id_multihash_hex"]
    assert pid.to_cid() == derived["peer_id_cidv1_base32"]
    assert PeerId(derived["peer_id_cidv1_base32"]) == pid
    assert PeerId.from_public_key(public) == pid
    assert pid.matches(public)
    if derived["multihash"].startswith("identity"):
        assert pid.public_key_protobuf() == public, "inlined in the PeerId"
    else:
        assert pid.public_key_protobuf() is None, "a sha2-256 PeerId has no key inside"

    # the seed APIs give the same key from its 32 secret bytes
    if name in ("ed25519", "secp256k1"):
        # Data starts with the 32 secret bytes (08 <type> 12 <len> <Data>)
        assert Keypair.from_seed(pb[4:36], name).peer_id == pid
        assert Keypair.from_seed(pb[4:36], name).to_protobuf() == pb
    elif name == "ecdsa":
        # SEC1 ECPrivateKey: 30 77 02 01 01 04 20 <32-byte scalar> ...
        assert pb[4:11] == bytes.fromhex("30770201010420")
        assert Keypair.from_seed(pb[11:43], "ecdsa").peer_id == pid


PEER_ID_STRINGS = load("peer-id-strings.json")


def test_peer_id_text_round_trips_with_the_spec_vectors() -> None:
    ids = []
    for v in PEER_ID_STRINGS:
        derived = v["derived_not_in_spec"]
        pid = PeerId(v["string"])
        assert str(pid) == derived["base58btc"]
        assert PeerId(str(pid)) == pid
        assert pid.to_bytes().hex() == derived["multihash_hex"]
        assert pid.to_cid() == derived["cidv1_base32"]
        assert PeerId.from_bytes(pid.to_bytes()) == pid
        embedded = derived.get("embedded_public_key_protobuf_hex")
        if embedded:
            assert pid.public_key_protobuf() == bytes.fromhex(embedded)
            assert PeerId.from_public_key(bytes.fromhex(embedded)) == pid
        else:
            assert pid.public_key_protobuf() is None
        ids.append(pid)
    assert ids[0] == ids[1], "the CID and Qm... forms agree"
    assert ids[0] != ids[2]
    assert len({ids[0], ids[1], ids[2]}) == 2


# ---- PeerId ----


def test_peer_id_round_trips() -> None:
    k = key(3)
    pid = k.peer_id
    text = str(pid)
    assert PeerId(text) == pid
    assert pid.to_base58() == text
    assert repr(pid) == f"PeerId('{text}')"
    assert PeerId.from_bytes(pid.to_bytes()) == pid
    assert pid.to_bytes()[:2] == b"\x00\x24", "an identity multihash of 36 bytes"
    cid = pid.to_cid()
    assert cid.startswith("bafz") and PeerId(cid) == pid
    assert pid.public_key_protobuf() == k.public_key_protobuf()
    assert PeerId.from_public_key(k.public_key_protobuf()) == pid


def test_peer_id_equality_hash_and_sets() -> None:
    a, a2, b = key(3).peer_id, PeerId(str(key(3).peer_id)), key(4).peer_id
    assert a == a2 and a is not a2
    assert hash(a) == hash(a2)
    assert a != b
    assert a != str(a), "compared by value with PeerIds only"
    assert {a, a2, b} == {a, b}
    assert a2 in {a: 1}
    assert {a: "x"}[a2] == "x"


def test_peer_id_matches() -> None:
    k, other = key(5), key(6, "secp256k1")
    assert k.peer_id.matches(k.public_key_protobuf())
    assert not k.peer_id.matches(other.public_key_protobuf())
    assert not k.peer_id.matches(b"not a key")


@pytest.mark.parametrize(
    "text",
    ["", "hello", "12D3KooW", "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pX0", "bafz", " 12D3"],
)
def test_peer_id_bad_text(text: str) -> None:
    e = raises(lambda: PeerId(text))
    assert isinstance(e, InvalidInput) and isinstance(e, ValueError)
    assert e.code > 0
    assert e.layer == "identity"
    assert str(e).startswith("not a PeerId")


def test_peer_id_bad_bytes_and_keys() -> None:
    for data in (b"", b"\x00\x01", b"\x12\x20" + bytes(5)):
        e = raises(lambda: PeerId.from_bytes(data))
        assert isinstance(e, InvalidInput) and e.code > 0
    e = raises(lambda: PeerId.from_public_key(b"zz"))
    assert isinstance(e, InvalidInput) and e.code > 0


# ---- UpgradeConfig ----


def test_config_defaults() -> None:
    k = key(1)
    c = UpgradeConfig(k)
    assert c.security == [NOISE_ID, TLS_ID]
    assert c.muxers == [YAMUX]
    assert c.local_peer_id == k.peer_id
    assert str(k.peer_id) in repr(c)


def test_config_security_by_name_and_id() -> None:
    k = key(1)
    assert UpgradeConfig(k, security=["tls", "noise"]).security == [TLS_ID, NOISE_ID]
    assert UpgradeConfig(k, security=[TLS_ID, NOISE_ID]).security == [TLS_ID, NOISE_ID]
    assert UpgradeConfig(k, security=("noise",)).security == [NOISE_ID]
    assert UpgradeConfig(k, security=["noise", "tls", "secio"]).security == [NOISE_ID, TLS_ID, SECIO_ID]
    assert UpgradeConfig(k, security=["secio"]).security == [SECIO_ID]


@pytest.mark.parametrize("bad", ["plaintext", "/plaintext/2.0.0", "Noise", "quic", ""])
def test_config_unknown_security(bad: str) -> None:
    e = raises(lambda: UpgradeConfig(key(1), security=["noise", bad]))
    assert isinstance(e, InvalidInput) and isinstance(e, ValueError)
    assert "unknown security protocol" in str(e)


def test_config_secio_only_last() -> None:
    e = raises(lambda: UpgradeConfig(key(1), security=["secio", "noise"]))
    assert isinstance(e, UsageError) and e.code == 7402
    assert "last" in str(e)
    assert UpgradeConfig(key(1), security=["tls", "secio"]).security == [TLS_ID, SECIO_ID]


@pytest.mark.parametrize("security", [[], ["noise", "noise"], ["noise", "/noise"]])
def test_config_bad_security_lists(security: list[str]) -> None:
    e = raises(lambda: UpgradeConfig(key(1), security=security))
    assert isinstance(e, UsageError) and e.code == 7402


def test_config_muxers() -> None:
    k = key(1)
    assert UpgradeConfig(k, muxers=[]).muxers == []
    assert UpgradeConfig(k, muxers=[MPLEX, YAMUX]).muxers == [MPLEX, YAMUX]
    assert UpgradeConfig(k, muxers=["/my/muxer/1"]).muxers == ["/my/muxer/1"]
    for bad in ("", "no slash", "/line\n", "/" + "x" * 70_000):
        e = raises(lambda: UpgradeConfig(k, muxers=[bad]))
        assert isinstance(e, UsageError)


def test_config_bad_lengths() -> None:
    k = key(1)
    bad: list[Callable[[], UpgradeConfig]] = [
        lambda: UpgradeConfig(k, seed=b"x" * 31),
        lambda: UpgradeConfig(k, noise_static_key=b"x" * 33),
        lambda: UpgradeConfig(k, seed=b""),
    ]
    for f in bad:
        e = raises(f)
        assert isinstance(e, InvalidInput) and "must be 32 bytes" in str(e)


def test_config_optimistic_switch() -> None:
    k = key(1)

    def msg1(data: bytes) -> bytes:
        return data[len(HEADER) + 8 :]  # after the header and /noise

    # one security protocol, optimistic: Noise's message 1 goes with the proposal
    first = Dialer(UpgradeConfig(k, security=["noise"], optimistic=True)).data_to_send()
    assert first.startswith(HEADER + b"\x07/noise\n")
    assert msg1(first)[:2] == b"\x00\x20" and len(msg1(first)) == 34
    # not optimistic: the proposal alone
    first = Dialer(UpgradeConfig(k, security=["noise"], optimistic=False)).data_to_send()
    assert first == HEADER + b"\x07/noise\n"
    # optimistic with two candidates: the proposal alone
    first = Dialer(UpgradeConfig(k, security=["noise", "tls"])).data_to_send()
    assert first == HEADER + b"\x07/noise\n"


@pytest.mark.parametrize("security", ["noise", "tls"])
def test_config_early_muxer_switch(security: str) -> None:
    """With the muxer inside the handshake, the listener has nothing more to send once it
    is complete; without, it answers the dialer's muxer proposal over the channel (which
    the dialer's channel absorbs: no plaintext for the caller)."""
    for early in (True, False):
        kd, kl, cd, cl = configs(security, early_muxer=early)
        d, ls = connect(Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW))
        assert d.channel is not None and ls.channel is not None
        assert d.channel.muxer == ls.channel.muxer == YAMUX
        assert d.channel.readable == ls.channel.readable == 0
        if early:
            assert ls.channel_sent == 0
        else:
            assert ls.channel_sent > 0, "the muxer answer, after the handshake"
        # the connection works either way
        assert transfer(d.channel, ls.channel, b"x" * 100) == b"x" * 100
        assert transfer(ls.channel, d.channel, b"y" * 100) == b"y" * 100


# ---- upgrades ----

UPGRADES = [
    pytest.param("noise", True, id="noise-early"),
    pytest.param("noise", False, id="noise-late"),
    pytest.param("tls", True, id="tls-early"),
    pytest.param("tls", False, id="tls-late"),
    pytest.param("secio", True, id="secio"),
]


def upgrade_pair(security: str, early: bool) -> tuple[Keypair, Keypair, Dialer, Listener, str, str]:
    kd, kl = key(1), key(2, "secp256k1")
    if security == "secio":
        # SECIO is opt-in and last; the SECIO era's muxer
        dsec, lsec, mux, proto = ["secio"], ["noise", "secio"], [MPLEX], SECIO_ID
    else:
        dsec = lsec = [security]
        mux, proto = [YAMUX], NOISE_ID if security == "noise" else TLS_ID
    cd = UpgradeConfig(kd, security=dsec, muxers=mux, early_muxer=early, now=NOW)
    cl = UpgradeConfig(kl, security=lsec, muxers=mux, early_muxer=early, now=NOW)
    return kd, kl, Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW), proto, mux[0]


@pytest.mark.parametrize(("security", "early"), UPGRADES)
def test_upgrade(security: str, early: bool) -> None:
    kd, kl, dialer, listener, proto, muxer = upgrade_pair(security, early)
    assert not dialer.is_complete and not listener.is_complete
    assert dialer.next_event() is None and listener.next_event() is None
    d, ls = connect(dialer, listener)
    assert d.events == [SecurityAgreed(proto), RemoteIdentified(kl.peer_id), UpgradeComplete()]
    assert ls.events == [SecurityAgreed(proto), RemoteIdentified(kd.peer_id), UpgradeComplete()]
    assert isinstance(d.events[1], RemoteIdentified) and d.events[1].peer_id == kl.peer_id
    assert d.channel is not None and ls.channel is not None
    for ch, remote in ((d.channel, kl), (ls.channel, kd)):
        assert ch.remote_peer_id == remote.peer_id
        assert ch.remote_public_key_protobuf == remote.public_key_protobuf()
        assert ch.security == proto
        assert ch.muxer == muxer
        assert ch.readable == 0 and ch.buffered_input == 0
        assert not ch.peer_closed
        assert str(remote.peer_id) in repr(ch)
    if security == "noise":
        assert d.channel.cipher == ls.channel.cipher == "ChaChaPoly"
    elif security == "tls":
        assert d.channel.cipher == ls.channel.cipher
        assert d.channel.cipher.startswith("TLS13_")
    else:
        assert d.channel.cipher == ls.channel.cipher and d.channel.cipher
    assert transfer(d.channel, ls.channel, b"ping") == b"ping"
    assert transfer(ls.channel, d.channel, b"pong") == b"pong"


def vector_keypair(name: str) -> Keypair:
    """The identity vectors' private key of this type (the only RSA key the API loads:
    it generates none)."""
    (v,) = [v for v in KEY_VECTORS if v["name"] == name]
    return Keypair.from_protobuf(bytes.fromhex(v["private_key_protobuf_hex"]))


@pytest.mark.parametrize("security", ["noise", "tls", "secio"])
@pytest.mark.parametrize("key_type", ["rsa", "ecdsa", "secp256k1", "ed25519"])
def test_the_channel_hands_out_the_remote_public_key(security: str, key_type: str) -> None:
    """Whatever the key type, and also where the PeerId is only the key's hash (RSA,
    ECDSA), the channel gives the public key the handshake proved."""
    kd, kl = key(5), vector_keypair(key_type)
    mux = [MPLEX] if security == "secio" else [YAMUX]
    cd = UpgradeConfig(kd, security=[security], muxers=mux, now=NOW)
    cl = UpgradeConfig(kl, security=[security], muxers=mux, now=NOW)
    d, ls = connect(Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW))
    assert d.channel is not None and ls.channel is not None
    public = d.channel.remote_public_key_protobuf
    assert public == kl.public_key_protobuf()
    assert kl.peer_id.matches(public)
    assert (kl.peer_id.public_key_protobuf() is None) == (key_type in ("rsa", "ecdsa"))
    assert ls.channel.remote_public_key_protobuf == kd.public_key_protobuf()


@pytest.mark.parametrize("security", ["noise", "tls", "secio"])
def test_one_mib_both_ways(security: str) -> None:
    a, b = channels(security)
    data = bytes(range(256)) * (MiB // 256)
    assert transfer(a, b, data) == data
    back = data[::-1]
    assert transfer(b, a, back) == back


@pytest.mark.parametrize("security", ["noise", "tls"])
def test_write_takes_what_fits(security: str) -> None:
    a, b = channels(security)
    data = b"z" * MiB
    taken = a.write(data)
    assert 0 < taken < len(data), "a write takes at most what the channel holds"
    wire = a.data_to_send()
    assert len(wire) > taken
    # reading makes room: everything arrives
    used = b.receive_data(wire)
    got = bytearray()
    while True:
        while chunk := b.read(10_000):
            assert len(chunk) <= 10_000
            got += chunk
        if used == len(wire):
            break
        wire = wire[used:]
        used = b.receive_data(wire)
    assert bytes(got) == data[:taken]


def test_tls_close() -> None:
    a, b = channels("tls")
    assert a.write(b"bye") == 3
    a.close()
    wire = a.data_to_send()
    assert len(wire) > 3 + 16 + 5, "the data record and the close_notify"
    assert not b.peer_closed
    assert b.receive_data(wire) == len(wire)
    assert b.peer_closed
    assert b.read() == b"bye"
    assert b.read() == b""
    # writing after close is the caller's bug, and poisons nothing
    e = raises(lambda: a.write(b"more"))
    assert isinstance(e, UsageError)
    same_error(e, raises(lambda: a.write(b"more")))
    # half-close: the other side still writes, and we still read
    assert transfer(b, a, b"still here") == b"still here"
    assert not a.peer_closed


def test_noise_close_sends_nothing() -> None:
    a, b = channels("noise")
    a.write(b"bye")
    wire = a.data_to_send()
    a.close()
    assert a.data_to_send() == b"", "Noise has no closing message"
    b.receive_data(wire)
    assert b.read() == b"bye" and not b.peer_closed
    assert isinstance(raises(lambda: a.write(b"x")), UsageError)


def test_channel_read_arguments() -> None:
    a, b = channels("noise")
    e = raises(lambda: b.read(0))
    assert isinstance(e, InvalidInput)
    assert b.read() == b""
    assert transfer(a, b, b"") == b""
    a.write(b"abcdef")
    b.receive_data(a.data_to_send())
    assert b.readable == 6
    assert b.read(2) == b"ab" and b.readable == 4
    assert b.read(100) == b"cdef"


def test_channel_takes_bytearray() -> None:
    a, b = channels("noise")
    assert a.write(bytearray(b"ab")) == 2
    assert b.receive_data(bytearray(a.data_to_send())) > 0
    assert b.read() == b"ab"


def test_channel_and_machines_take_memoryview() -> None:
    """A memoryview (a slice of a receive buffer, as ``recv_into`` fills it) is taken,
    strided ones too; both the upgrade machines and the channel read it."""
    _, kl, cd, cl = configs("noise")
    d, ls = Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW)
    for _ in range(4):
        out = d.data_to_send()
        if out:
            buf = bytearray(out) + b"junk"
            assert ls.receive_data(memoryview(buf)[: len(out)]) == len(out)
        back = ls.data_to_send()
        if back:
            assert d.receive_data(memoryview(back)) == len(back)
    assert d.is_complete and ls.is_complete
    a, b = d.into_channel(), ls.into_channel()
    assert a.write(memoryview(b"0a1b2c")[::2]) == 3
    assert b.receive_data(memoryview(a.data_to_send())) > 0
    assert b.read() == b"012"


@pytest.mark.parametrize("bad", ["text", 5, [1, 2], None])
def test_channel_refuses_what_is_not_bytes(bad: Any) -> None:
    a, _ = channels("noise")
    with pytest.raises(TypeError, match="bytes, bytearray or memoryview"):
        a.write(bad)
    with pytest.raises(TypeError, match="bytes, bytearray or memoryview"):
        a.receive_data(bad)


def test_channel_keeps_a_partial_frame() -> None:
    a, b = channels("noise")
    a.write(b"q" * 1000)
    wire = a.data_to_send()
    assert b.receive_data(wire[:10]) == 10
    assert b.buffered_input == 10 and b.readable == 0
    assert b.receive_data(wire[10:]) == len(wire) - 10
    assert b.buffered_input == 0
    assert b.read() == b"q" * 1000


@pytest.mark.parametrize("security", ["noise", "tls", "secio"])
@pytest.mark.parametrize("muxers", [[], [YAMUX]])
def test_with_agreed_security(security: str, muxers: list[str]) -> None:
    kd, kl = key(1), key(2)
    cd = UpgradeConfig(kd, security=["noise", "tls", "secio"], muxers=muxers, now=NOW)
    cl = UpgradeConfig(kl, security=["noise", "tls", "secio"], muxers=muxers, now=NOW)
    dialer = Dialer.with_agreed_security(cd, security, kl.peer_id, now=NOW, seed=seed(1))
    listener = Listener.with_agreed_security(cl, security, kd.peer_id, now=NOW, seed=seed(2))
    first = dialer.data_to_send()
    assert not first.startswith(HEADER), "no multistream-select for the security protocol"
    if security == "noise":
        assert first[:2] == b"\x00\x20"
    elif security == "tls":
        assert first[0] == 0x16, "a TLS handshake record"
    d, ls = connect(dialer, listener, first=first)
    proto = {"noise": NOISE_ID, "tls": TLS_ID, "secio": SECIO_ID}[security]
    assert d.events == [SecurityAgreed(proto), RemoteIdentified(kl.peer_id), UpgradeComplete()]
    assert ls.events == [SecurityAgreed(proto), RemoteIdentified(kd.peer_id), UpgradeComplete()]
    assert d.channel is not None and ls.channel is not None
    expected_muxer = muxers[0] if muxers else None
    assert d.channel.muxer == ls.channel.muxer == expected_muxer
    assert d.channel.security == ls.channel.security == proto
    assert transfer(d.channel, ls.channel, b"hello") == b"hello"
    assert transfer(ls.channel, d.channel, b"world") == b"world"


def test_with_agreed_security_by_protocol_id_and_unknown() -> None:
    kd = key(1)
    cd = UpgradeConfig(kd, security=["noise"], now=NOW)
    assert Dialer.with_agreed_security(cd, NOISE_ID).data_to_send()[:2] == b"\x00\x20"
    e = raises(lambda: Dialer.with_agreed_security(cd, "quic"))
    assert isinstance(e, InvalidInput)
    e = raises(lambda: Listener.with_agreed_security(cd, "bogus"))
    assert isinstance(e, InvalidInput)
    # a protocol the configuration does not offer
    e = raises(lambda: Dialer.with_agreed_security(cd, "tls"))
    assert isinstance(e, UsageError) and e.code == 7401


def test_listener_with_agreed_security_checks_the_expected_peer() -> None:
    kd, kl, kx = key(1), key(2), key(3)
    cd = UpgradeConfig(kd, security=["noise"], now=NOW)
    cl = UpgradeConfig(kl, security=["noise"], now=NOW)
    d = Dialer.with_agreed_security(cd, "noise")
    ls = Listener.with_agreed_security(cl, "noise", kx.peer_id)
    ls.receive_data(d.data_to_send())
    d.receive_data(ls.data_to_send())
    e = raises(lambda: ls.receive_data(d.data_to_send()))
    assert isinstance(e, PeerIdMismatch)
    assert str(kd.peer_id) in str(e) and str(kx.peer_id) in str(e)


def test_bad_machine_seed() -> None:
    cd = UpgradeConfig(key(1))
    for f in (lambda: Dialer(cd, seed=b"123"), lambda: Listener(cd, seed=bytes(33))):
        assert isinstance(raises(f), InvalidInput)


# ---- errors ----


def run_until_error(dialer: Dialer, listener: Listener) -> tuple[str, P2psecError]:
    """Shuttles bytes until one side raises; returns which side and the error."""
    d, ls = Side(dialer), Side(listener)
    for _ in range(10):
        for name, src, dst in (("listener", d, ls), ("dialer", ls, d)):
            data = src.pull()
            try:
                dst.push(data)
            except P2psecError as e:
                return name, e
    raise AssertionError("no error")


def check_poisoned(machine: Dialer | Listener, first: P2psecError) -> None:
    """Every later call raises the same error again."""
    assert not machine.is_complete
    for call in (lambda: machine.receive_data(b"more"), machine.next_event, machine.into_channel):
        same_error(first, raises(call))


@pytest.mark.parametrize(("security", "code"), [("noise", 3204), ("tls", 4212), ("secio", 5201)])
def test_peer_id_mismatch(security: str, code: int) -> None:
    kd, kl, wrong = key(1), key(2), key(3)
    mux = [MPLEX] if security == "secio" else [YAMUX]
    cd = UpgradeConfig(kd, security=[security], muxers=mux, now=NOW)
    cl = UpgradeConfig(kl, security=[security], muxers=mux, now=NOW)
    dialer = Dialer(cd, wrong.peer_id, now=NOW)
    side, e = run_until_error(dialer, Listener(cl, now=NOW))
    assert side == "dialer"
    assert isinstance(e, PeerIdMismatch) and isinstance(e, HandshakeError)
    assert e.code == code and e.layer == security
    assert error_class_name(code) == "PeerIdMismatch"
    assert str(kl.peer_id) in str(e) and str(wrong.peer_id) in str(e)
    check_poisoned(dialer, e)


def test_no_common_security_protocol() -> None:
    kd, kl = key(1), key(2)
    dialer = Dialer(UpgradeConfig(kd, security=["noise"], now=NOW), now=NOW)
    listener = Listener(UpgradeConfig(kl, security=["tls"], now=NOW), now=NOW)
    side, e = run_until_error(dialer, listener)
    assert isinstance(e, NegotiationError)
    assert e.layer == "multistream" and e.fault == "peer_incompatible"
    assert e.code in (2301, 2302)
    assert "/noise" in str(e)
    check_poisoned(listener if side == "listener" else dialer, e)
    # the dialer learns it too, from the listener's `na`
    d = Dialer(UpgradeConfig(kd, security=["noise"], now=NOW), now=NOW)
    ls = Listener(UpgradeConfig(kl, security=["tls"], now=NOW), now=NOW)
    with pytest.raises(NegotiationError):
        ls.receive_data(d.data_to_send())
    answer = ls.data_to_send()
    assert b"na\n" in answer, "a failed machine still hands out its last message"
    e = raises(lambda: d.receive_data(answer))
    assert isinstance(e, NegotiationError) and e.code == 2301
    check_poisoned(d, e)


def test_no_common_muxer() -> None:
    kd, kl = key(1), key(2)
    dialer = Dialer(UpgradeConfig(kd, security=["noise"], muxers=[MPLEX], now=NOW), now=NOW)
    listener = Listener(UpgradeConfig(kl, security=["noise"], muxers=[YAMUX], now=NOW), now=NOW)
    _, e = run_until_error(dialer, listener)
    assert isinstance(e, NegotiationError) and e.code == 3301
    assert MPLEX in str(e) and YAMUX in str(e)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n" * 4, None),
        (b"\x13/multistream/9.9.9\n", 2201),
        (b"\x13/multistream/1.0.0X", None),
        (b"\xff" * 20, 2101),
    ],
)
def test_garbage_instead_of_the_header(data: bytes, code: int | None) -> None:
    for machine in (Listener(UpgradeConfig(key(2))), Dialer(UpgradeConfig(key(1)))):
        e = raises(lambda: machine.receive_data(data))
        assert isinstance(e, ProtocolViolation)
        assert e.layer == "multistream" and e.code > 0
        if code is not None:
            assert e.code == code
        check_poisoned(machine, e)


def test_a_partial_message_is_not_consumed() -> None:
    """The upgrade machines consume whole messages only: the caller keeps the rest."""
    d, ls = Dialer(UpgradeConfig(key(1))), Listener(UpgradeConfig(key(2)))
    flight = d.data_to_send()
    assert ls.receive_data(flight[:5]) == 0
    used = ls.receive_data(flight[:-1])
    assert used == len(HEADER), "the header, not the proposal cut short"
    assert ls.receive_data(flight[used:]) == len(flight) - used


def test_empty_input_is_not_end_of_stream() -> None:
    """``receive_data(b"")`` is a no-op; the end of the stream is ``receive_eof()``."""
    kd, kl, cd, cl = configs("noise")
    dialer, listener = Dialer(cd, kl.peer_id), Listener(cl)
    listener.receive_data(dialer.data_to_send())
    assert dialer.receive_data(b"") == 0
    assert not dialer.is_complete
    d, ls = connect(dialer, listener)
    assert d.events[-1] == UpgradeComplete()
    assert error_class_name(7201) == "ConnectionClosed"


@pytest.mark.parametrize("security", ["noise", "tls"])
def test_end_of_stream_during_the_upgrade(security: str) -> None:
    """``receive_eof()`` before the upgrade is complete raises ConnectionClosed (7201) and
    poisons the machine; after it, it is a no-op."""
    kd, kl, cd, cl = configs(security)
    dialer, listener = Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW)
    listener.receive_data(dialer.data_to_send())
    e = raises(lambda: listener.receive_eof())
    assert type(e) is ConnectionClosed and e.code == 7201 and e.layer == "upgrade"
    check_poisoned(listener, e)
    d2, l2 = Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW)
    for _ in range(10):
        l2.receive_data(d2.data_to_send())
        d2.receive_data(l2.data_to_send())
    assert d2.is_complete and l2.is_complete
    d2.receive_eof()
    l2.receive_eof()
    d2.into_channel(), l2.into_channel()
    assert isinstance(raises(lambda: d2.receive_eof()), UsageError)


@pytest.mark.parametrize(("security", "code"), [("noise", 3102), ("tls", 4214)])
def test_corrupted_handshake_message(security: str, code: int) -> None:
    """A flipped byte inside the listener's encrypted handshake message (Noise message 2's
    encrypted payload; TLS's encrypted flight) fails decryption: HandshakeError."""
    kd, kl, cd, cl = configs(security)
    dialer, listener = Dialer(cd, kl.peer_id, now=NOW), Listener(cl, now=NOW)
    listener.receive_data(dialer.data_to_send())
    answer = bytearray(listener.data_to_send())
    answer[-20] ^= 0x01  # well inside the last (encrypted) message
    e = raises(lambda: dialer.receive_data(bytes(answer)))
    assert type(e) is HandshakeError
    assert e.code == code and e.layer == security
    assert error_class_name(code) == "HandshakeError"
    check_poisoned(dialer, e)


@pytest.mark.parametrize(("security", "code"), [("noise", 3205), ("tls", 4214)])
def test_corrupted_transport_frame(security: str, code: int) -> None:
    a, b = channels(security)
    a.write(b"secret message")
    wire = bytearray(a.data_to_send())
    wire[-3] ^= 0x40
    e = raises(lambda: b.receive_data(bytes(wire)))
    assert type(e) is HandshakeError and e.code == code
    assert "authentication" in str(e)
    # the channel keeps its error: every later call raises it again
    same_error(e, raises(lambda: b.read()))
    same_error(e, raises(lambda: b.receive_data(b"x")))
    same_error(e, raises(lambda: b.write(b"reply")))


def test_into_channel_before_complete_is_usage_and_harmless() -> None:
    kd, kl, cd, cl = configs("noise")
    dialer, listener = Dialer(cd, kl.peer_id), Listener(cl)
    for m in (dialer, listener):
        e = raises(m.into_channel)
        assert isinstance(e, UsageError) and e.code == 7402 and e.fault == "api_misuse"
    # a caller's bug poisons nothing: the upgrade goes on
    d, ls = connect(dialer, listener)
    assert d.events[-1] == ls.events[-1] == UpgradeComplete()


def test_a_finished_machine_is_usage() -> None:
    kd, kl, cd, cl = configs("noise")
    dialer = Dialer(cd, kl.peer_id)
    d, _ = connect(dialer, Listener(cl))
    assert not dialer.is_complete, "into_channel took it"
    assert dialer.data_to_send() == b""
    for call in (lambda: dialer.receive_data(b"x"), dialer.next_event, dialer.into_channel):
        e = raises(call)
        assert isinstance(e, UsageError) and "into_channel" in str(e)


def _errors_rs_list(name: str) -> list[int]:
    match = re.search(rf"const {name}: \[u16; \d+\] = \[([^\]]*)\]", ERRORS_RS.read_text())
    assert match is not None, name
    return [int(x) for x in match.group(1).split(",")]


def _errors_rs_const(name: str) -> int:
    match = re.search(rf"const {name}: u16 = (\d+);", ERRORS_RS.read_text())
    assert match is not None, name
    return int(match.group(1))


def test_error_class_name_follows_errors_rs() -> None:
    for code in _errors_rs_list("PEER_ID_MISMATCH"):
        assert error_class_name(code) == "PeerIdMismatch", code
    for code in _errors_rs_list("CRYPTO"):
        assert error_class_name(code) == "HandshakeError", code
    for code in _errors_rs_list("NO_COMMON_PROTOCOL"):
        assert error_class_name(code) == "NegotiationError", code
    assert error_class_name(_errors_rs_const("CLOSED")) == "ConnectionClosed"
    assert error_class_name(_errors_rs_const("STALE_MEMORY")) == "NegotiationError"
    # by fault group: malformed input, API misuse; unknown codes are the base class
    assert error_class_name(2101) == "ProtocolViolation"
    assert error_class_name(2201) == "ProtocolViolation"
    assert error_class_name(4215) == "ProtocolViolation"
    assert error_class_name(7402) == "UsageError"
    assert error_class_name(7401) == "UsageError"
    assert error_class_name(4303) == "HandshakeError", "peer incompatible in a handshake"
    for unknown in (0, 1, 999, 9999, 65535):
        assert error_class_name(unknown) == "P2psecError"
    for code in (1104, 1110, 1115, 2108, 3102, 3205, 4106, 5203, 7201, 7301):
        assert hasattr(p2psec.errors, error_class_name(code))


# ---- multiaddrs ----


def test_parse_multiaddr() -> None:
    pid = key(9).peer_id
    assert parse_multiaddr("/ip4/127.0.0.1/tcp/4001") == ("127.0.0.1", 4001, None)
    assert parse_multiaddr(f"/ip4/10.0.0.1/tcp/1/p2p/{pid}") == ("10.0.0.1", 1, pid)
    assert parse_multiaddr("/ip6/::1/tcp/65535") == ("::1", 65535, None)
    host, port, peer = parse_multiaddr(f"/ip6/2001:db8::1/tcp/4001/p2p/{pid}")
    assert (host, port, peer) == ("2001:db8::1", 4001, pid)
    assert parse_multiaddr(f"/ip4/1.2.3.4/tcp/5/p2p/{pid.to_cid()}")[2] == pid
    assert parse_multiaddr(f"/ip4/1.2.3.4/tcp/5/ipfs/{pid}")[2] == pid


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ip4/1.2.3.4/tcp/1",
        "/ip4/1.2.3.4/udp/1",
        "/ip4/999.1.1.1/tcp/1",
        "/ip4/1.2.3.4/tcp/70000",
        "/ip4/1.2.3.4/tcp/x",
        "/dns4/example.com/tcp/1",
        "/ip4/1.2.3.4/tcp/1/p2p/notapeerid",
        "/ip6/1.2.3.4/tcp/1",
        "/ip4/1.2.3.4/tcp/443/tls/ws",
        "/ip4/1.2.3.4/tcp/443/ws/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        "/ip4/1.2.3.4/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA/p2p-circuit/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
    ],
)
def test_parse_multiaddr_bad(text: str) -> None:
    e = raises(lambda: parse_multiaddr(text))
    assert isinstance(e, InvalidInput) and isinstance(e, ValueError)


def test_tcp_multiaddr() -> None:
    pid = key(9).peer_id
    assert tcp_multiaddr("127.0.0.1", 4001) == "/ip4/127.0.0.1/tcp/4001"
    assert tcp_multiaddr("::1", 1, pid) == f"/ip6/::1/tcp/1/p2p/{pid}"
    assert tcp_multiaddr("2001:db8::1", 0) == "/ip6/2001:db8::1/tcp/0"
    for host, port, peer in [("127.0.0.1", 80, None), ("::1", 9, pid), ("fe80::1", 443, pid)]:
        assert parse_multiaddr(tcp_multiaddr(host, port, peer)) == (host, port, peer)
    for bad in ("localhost", "[::1]", "1.2.3", ""):
        assert isinstance(raises(lambda: tcp_multiaddr(bad, 1)), InvalidInput)
    with pytest.raises(OverflowError):
        tcp_multiaddr("127.0.0.1", 70000)


# ---- determinism ----


def transcript(security: str, config_seeds: tuple[int, int], machine_seeds: tuple[int, int]) -> tuple[bytes, bytes]:
    """Everything each side sent: the whole upgrade, then a message each way."""
    kd, kl = key(1), key(2)
    mux = [MPLEX] if security == "secio" else [YAMUX]
    cd = UpgradeConfig(kd, security=[security], muxers=mux, now=NOW, seed=seed(config_seeds[0]))
    cl = UpgradeConfig(kl, security=[security], muxers=mux, now=NOW, seed=seed(config_seeds[1]))
    dialer = Dialer(cd, kl.peer_id, now=NOW, seed=seed(machine_seeds[0]))
    listener = Listener(cl, now=NOW, seed=seed(machine_seeds[1]))
    d, ls = connect(dialer, listener)
    assert d.channel is not None and ls.channel is not None
    assert transfer(d.channel, ls.channel, b"ping") == b"ping"
    assert transfer(ls.channel, d.channel, b"pong") == b"pong"
    d.sent += d.pull()
    return bytes(d.sent), bytes(ls.sent)


@pytest.mark.parametrize("security", ["noise", "secio"])
def test_seeded_runs_replay_byte_for_byte(security: str) -> None:
    first = transcript(security, (21, 22), (31, 32))
    assert transcript(security, (21, 22), (31, 32)) == first
    # another machine seed: another ephemeral key, other bytes from the first message on
    other = transcript(security, (21, 22), (33, 32))
    assert other[0] != first[0] and other[1] != first[1]
    other = transcript(security, (21, 22), (31, 34))
    assert other[1] != first[1]


def test_seeded_noise_config_fixes_the_static_key() -> None:
    first = transcript("noise", (21, 22), (31, 32))
    # the dialer's first message (its ephemeral key) is the same, the rest is not
    other = transcript("noise", (23, 22), (31, 32))
    assert other[0][:62] == first[0][:62]
    assert other[0] != first[0]


def test_tls_randomness_is_not_seeded() -> None:
    """rustls draws the ClientHello random and the ECDHE keys itself (src/tls/mod.rs):
    seeded TLS runs agree on the multistream-select part only."""
    a = transcript("tls", (21, 22), (31, 32))
    b = transcript("tls", (21, 22), (31, 32))
    prefix = HEADER + b"\x0b/tls/1.0.0\n"
    assert a[0].startswith(prefix) and b[0].startswith(prefix)
    random_at = len(prefix) + 5 + 4 + 2  # record header, handshake header, legacy_version
    assert a[0][:random_at] == b[0][:random_at]
    assert a[0][random_at : random_at + 32] != b[0][random_at : random_at + 32]


def test_events_are_dataclasses() -> None:
    pid = key(1).peer_id
    assert SecurityAgreed("/noise") == SecurityAgreed("/noise") != SecurityAgreed("/tls/1.0.0")
    assert RemoteIdentified(pid) == RemoteIdentified(PeerId(str(pid)))
    assert UpgradeComplete() == UpgradeComplete()
    with pytest.raises(dataclasses.FrozenInstanceError):
        SecurityAgreed("/noise").security = "x"  # type: ignore[misc]


def test_peer_id_pickles_and_copies() -> None:
    import copy
    import pickle

    pid = key(9).peer_id
    assert pickle.loads(pickle.dumps(pid)) == pid
    assert copy.copy(pid) == pid and copy.deepcopy(pid) == pid


# ---- now: Unix seconds, int or float ----


def test_now_takes_a_float_like_time_time() -> None:
    """``time.time()`` is what a Python caller has at hand: a float, its fraction dropped.
    A TLS upgrade (the certificate is dated from ``now`` and checked at ``now``) completes
    with floats everywhere, and the seeded configuration is the one of the whole second."""
    kd, kl = key(1), key(2)
    t = NOW + 0.75
    cd = UpgradeConfig(kd, security=["tls"], muxers=[YAMUX], now=t, seed=seed(11))
    cl = UpgradeConfig(kl, security=["tls"], muxers=[YAMUX], now=t, seed=seed(12))
    d, ls = connect(Dialer(cd, kl.peer_id, now=t), Listener(cl, now=t))
    assert d.channel is not None and ls.channel is not None
    assert d.channel.remote_peer_id == kl.peer_id
    # a Noise run depends on the seeds only; SECIO too: the same bytes whatever the clock
    a, b = (
        connect(
            Dialer(UpgradeConfig(kd, security=["noise"], now=now, seed=seed(11)), kl.peer_id, now=now, seed=seed(3)),
            Listener(UpgradeConfig(kl, security=["noise"], now=now, seed=seed(12)), now=now, seed=seed(4)),
        )[0].sent
        for now in (NOW, NOW + 0.999)
    )
    assert a == b


def test_a_float_now_reaches_the_certificate_check() -> None:
    """The certificates are dated from ``NOW + 0.5`` (valid for a year). A listener
    whose clock says a year and a day later refuses to run with its own expired
    certificate, and its error names the whole second the float stood for."""
    kd, kl = key(1), key(2)
    t, later = NOW + 0.5, NOW + 366 * 86400 + 0.5
    cd = UpgradeConfig(kd, security=["tls"], now=t, seed=seed(11))
    cl = UpgradeConfig(kl, security=["tls"], now=t, seed=seed(12))
    dialer, listener = Dialer(cd, kl.peer_id, now=t), Listener(cl, now=later)
    with pytest.raises(P2psecError, match=f"certificate is valid from .* to .*, now is {int(later)}$"):
        connect(dialer, listener)


@pytest.mark.parametrize("bad", [-1, 2**64, -0.5, float("nan"), float("inf"), 2.0**64])
def test_now_out_of_range_is_invalid_input(bad: float) -> None:
    with pytest.raises(InvalidInput, match="now: Unix seconds from 0 to 2\\*\\*64 - 1"):
        UpgradeConfig(key(1), now=bad)
    config = UpgradeConfig(key(1), security=["noise"], now=NOW)
    with pytest.raises(InvalidInput, match="now:"):
        Dialer(config, now=bad)
    with pytest.raises(InvalidInput, match="now:"):
        Listener(config, now=bad)


@pytest.mark.parametrize("bad", ["1700000000", True, b"\x00", [NOW]])
def test_now_of_another_type_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="now: expected Unix seconds \\(int or float\\)"):
        UpgradeConfig(key(1), now=bad)
