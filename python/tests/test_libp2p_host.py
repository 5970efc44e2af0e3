"""py-libp2p 0.8.1 hosts secured by p2psec.libp2p, against real peers over loopback.

Each host is ``new_host(key_pair=kp, sec_opt={<id>: p2psec.libp2p.Noise|Tls(kp)})``
listening on /ip4/127.0.0.1/tcp/0: py-libp2p negotiates the security protocol, p2psec
runs the handshake and the encryption, py-libp2p negotiates the muxer over it and serves
its own ping (``libp2p.host.ping``: ``PingService``, the host's default
``/ipfs/ping/1.0.0`` handler).

- the host pings a rust-libp2p 0.57 Swarm, and is pinged by one (examples/swarm_peer.rs);
- the host pings a js-libp2p 3 node, and is pinged by one (tests/interop/js/peer.mjs),
  and echoes 1 MiB through js's /echo/1.0.0;
- a p2psec host and a host with py-libp2p's own Noise ping each other both ways (and the
  same with TLS: py-libp2p 0.8.1 has a TLS transport of its own); two p2psec hosts over
  mplex;
- the transport itself over an in-memory connection: reads of at most n bytes, the end
  of the stream, a handshake deadline, a wrong PeerId.

Each test runs its own ``trio.run``. The muxer py-libp2p agreed is printed (``-s``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

trio = pytest.importorskip("trio")
pytest.importorskip("libp2p")

import trio.testing  # noqa: E402
from libp2p import new_host  # noqa: E402
from libp2p.abc import IHost, INetConn, IRawConnection  # noqa: E402
from libp2p.connection_types import ConnectionType  # noqa: E402
from libp2p.crypto.ed25519 import create_new_key_pair  # noqa: E402
from libp2p.crypto.keys import KeyPair  # noqa: E402
from libp2p.custom_types import TProtocol  # noqa: E402
from libp2p.host.ping import PingService  # noqa: E402
from libp2p.io.exceptions import ConnectionClosedError  # noqa: E402
from libp2p.peer.id import ID  # noqa: E402
from libp2p.peer.peerinfo import info_from_p2p_addr  # noqa: E402
from libp2p.security.exceptions import HandshakeFailure  # noqa: E402
from libp2p.security.noise.transport import Transport as NativeNoise  # noqa: E402
from libp2p.security.tls.transport import TLSTransport as NativeTls  # noqa: E402
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair  # noqa: E402
from multiaddr import Multiaddr  # noqa: E402

import p2psec  # noqa: E402
import p2psec.libp2p as p2p_libp2p  # noqa: E402

SECURITIES = ["noise", "tls"]
LOOPBACK = [Multiaddr("/ip4/127.0.0.1/tcp/0")]
TRANSPORTS: dict[str, type[p2p_libp2p.P2psecSecureTransport]] = {
    "noise": p2p_libp2p.Noise,
    "tls": p2p_libp2p.Tls,
}
PROTOCOL_IDS = {"noise": "/noise", "tls": "/tls/1.0.0"}
ECHO = TProtocol("/echo/1.0.0")


def p2psec_host(security: str, key_pair: KeyPair | None = None) -> tuple[IHost, KeyPair]:
    """A py-libp2p host whose only security transport is p2psec's ``security``."""
    kp = key_pair or create_new_key_pair()
    transport = TRANSPORTS[security](kp)
    return new_host(key_pair=kp, sec_opt={transport.protocol_id: transport}), kp


def native_host(security: str) -> IHost:
    """A py-libp2p host with py-libp2p's own Noise (or TLS) only."""
    kp = create_new_key_pair()
    if security == "noise":
        opt: Any = {TProtocol("/noise"): NativeNoise(kp, noise_privkey=create_x25519_key_pair().private_key)}
    else:
        opt = {TProtocol("/tls/1.0.0"): NativeTls(kp)}
    return new_host(key_pair=kp, sec_opt=opt)


def connections(host: IHost, peer: ID) -> list[INetConn]:
    conns: Any = host.get_network().connections.get(peer)
    if conns is None:
        return []
    return list(conns) if isinstance(conns, list) else [conns]


async def wait_connection(host: IHost, peer: ID, timeout: float = 20) -> INetConn:
    """The host's (first) connection to ``peer``, once there is one."""
    with trio.fail_after(timeout):
        while True:
            conns = connections(host, peer)
            if conns:
                return conns[0]
            await trio.sleep(0.02)


async def wait_any_connection(host: IHost, timeout: float = 20) -> INetConn:
    """The host's first connection to anyone, once there is one (an inbound one: the
    dialing peer's own PeerId is not printed)."""
    with trio.fail_after(timeout):
        while True:
            for peer in list(host.get_network().connections):
                conns = connections(host, peer)
                if conns:
                    return conns[0]
            await trio.sleep(0.01)


def describe(conn: INetConn) -> tuple[str, str, Any]:
    """(security, muxer, the secure conn) of a swarm connection."""
    muxed: Any = getattr(conn, "muxed_conn")
    secured = muxed.secured_conn
    return (
        str(getattr(muxed, "negotiated_security_protocol", None)),
        str(getattr(muxed, "negotiated_muxer_protocol", None)),
        secured,
    )


def check_p2psec_conn(conn: INetConn, security: str, who: str) -> str:
    """Asserts the connection is secured by p2psec with ``security``; returns its muxer."""
    sec, muxer, secured = describe(conn)
    assert isinstance(secured, p2p_libp2p.SecureConn), secured
    assert secured.security == PROTOCOL_IDS[security]
    assert sec == PROTOCOL_IDS[security]
    print(f"{who} {security}: muxer {muxer}, cipher {secured.cipher}")
    return muxer


def run(fn: Callable[[], Awaitable[None]]) -> None:
    trio.run(fn)


@asynccontextmanager
async def running(*hosts: IHost) -> AsyncIterator[None]:
    async with trio.open_nursery():
        if len(hosts) == 1:
            async with hosts[0].run(LOOPBACK):
                yield
        else:
            async with hosts[0].run(LOOPBACK), hosts[1].run(LOOPBACK):
                yield


async def wait_exit(peer: Any, timeout: float = 60) -> int:
    code: int = await trio.to_thread.run_sync(peer.wait, timeout)
    return code


# -- rust-libp2p -------------------------------------------------------------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_host_pings_rust_libp2p(peers: Any, security: str) -> None:
    rust = peers.rust_listen(security)
    host, _ = p2psec_host(security)

    async def main() -> None:
        async with running(host):
            info = info_from_p2p_addr(Multiaddr(rust.multiaddr))
            with trio.fail_after(30):
                await host.connect(info)
                rtts = await PingService(host).ping(info.peer_id, ping_amt=3)
            assert len(rtts) == 3
            muxer = check_p2psec_conn(await wait_connection(host, info.peer_id), security, "py->rust")
            assert muxer == p2psec.YAMUX
        line = rust.wait_for(lambda e: e.get("event") == "established")
        assert line["peer"] == str(host.get_id())

    run(main)


@pytest.mark.parametrize("security", SECURITIES)
def test_rust_libp2p_pings_host(peers: Any, security: str) -> None:
    host, _ = p2psec_host(security)

    async def main() -> None:
        async with running(host):
            addr = str(host.get_addrs()[0])
            rust = peers.rust_dial(security, addr, pings=2)
            seen: list[INetConn] = []
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    seen.append(await wait_any_connection(host))

                nursery.start_soon(watch)
                code = await wait_exit(rust)
            assert code == 0, rust.stderr_text()
            assert check_p2psec_conn(seen[0], security, "rust->py") == p2psec.YAMUX
            pings = [e for e in rust.lines if e.get("event") == "ping" and e.get("ok")]
            assert len(pings) >= 2 and all(p["peer"] == str(host.get_id()) for p in pings)

    run(main)


# -- js-libp2p ---------------------------------------------------------------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_host_pings_js_libp2p(peers: Any, security: str) -> None:
    js = peers.js_listen(security)
    host, _ = p2psec_host(security)

    async def main() -> None:
        async with running(host):
            info = info_from_p2p_addr(Multiaddr(js.multiaddr))
            with trio.fail_after(30):
                await host.connect(info)
                rtts = await PingService(host).ping(info.peer_id, ping_amt=3)
            assert len(rtts) == 3
            conn = await wait_connection(host, info.peer_id)
            assert check_p2psec_conn(conn, security, "py->js") == p2psec.YAMUX
            # 1 MiB through js's echo, in 64 KiB writes
            data = os.urandom(1 << 20)
            with trio.fail_after(30):
                stream = await host.new_stream(info.peer_id, [ECHO])
                got = bytearray()

                async def reader() -> None:
                    while len(got) < len(data):
                        chunk = await stream.read(65536)
                        if not chunk:
                            break
                        got.extend(chunk)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(reader)
                    for i in range(0, len(data), 65536):
                        await stream.write(data[i : i + 65536])
                await stream.close()
            assert bytes(got) == data
        opened = js.wait_for(lambda e: e.get("event") == "connection_open")
        assert opened["remote_peer_id"] == str(host.get_id())
        assert opened["security"] == PROTOCOL_IDS[security] and opened["muxer"] == p2psec.YAMUX

    run(main)


@pytest.mark.parametrize("security", SECURITIES)
def test_js_libp2p_pings_host(peers: Any, security: str) -> None:
    host, _ = p2psec_host(security)

    async def main() -> None:
        async with running(host):
            addr = str(host.get_addrs()[0])
            js = peers.js_dial(security, addr, "--ping", "2")
            seen: list[INetConn] = []
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    seen.append(await wait_any_connection(host))

                nursery.start_soon(watch)
                code = await wait_exit(js)
            assert code == 0, js.stderr_text()
            connected = js.wait_for(lambda e: e.get("event") == "connected")
            assert connected["remote_peer_id"] == str(host.get_id())
            assert connected["security"] == PROTOCOL_IDS[security] and connected["muxer"] == p2psec.YAMUX
            assert check_p2psec_conn(seen[0], security, "js->py") == p2psec.YAMUX

    run(main)


def test_rsa_host_pings_rsa_js_libp2p(peers: Any) -> None:
    """RSA identities on both sides: the PeerIds are hashes, so the remote's public key is
    not in its PeerId; the connection hands out the key its handshake proved."""
    from libp2p.crypto.rsa import create_new_key_pair as rsa_key_pair

    js = peers.js_listen("noise", "--rsa-bits", "2048")
    host, kp = p2psec_host("noise", rsa_key_pair(2048))

    async def main() -> None:
        async with running(host):
            info = info_from_p2p_addr(Multiaddr(js.multiaddr))
            with trio.fail_after(30):
                await host.connect(info)
                assert len(await PingService(host).ping(info.peer_id, ping_amt=2)) == 2
            _, _, secured = describe(await wait_connection(host, info.peer_id))
            assert isinstance(secured, p2p_libp2p.SecureConn)
            assert secured.get_remote_peer() == info.peer_id
            theirs = secured.get_remote_public_key()
            assert theirs.get_type().name == "RSA"
            assert ID.from_pubkey(theirs) == info.peer_id
        opened = js.wait_for(lambda e: e.get("event") == "connection_open")
        assert opened["remote_peer_id"] == str(host.get_id()) == ID.from_pubkey(kp.public_key).to_base58()

    run(main)


# -- py-libp2p's own security ------------------------------------------------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_p2psec_host_and_native_host_ping_each_other(security: str) -> None:
    ours, _ = p2psec_host(security)
    theirs = native_host(security)

    async def main() -> None:
        async with running(ours, theirs):
            for dialer, listener, label in ((ours, theirs, "p2psec->native"), (theirs, ours, "native->p2psec")):
                info = info_from_p2p_addr(listener.get_addrs()[0])
                with trio.fail_after(30):
                    await dialer.connect(info)
                    rtts = await PingService(dialer).ping(info.peer_id, ping_amt=3)
                assert len(rtts) == 3, label
                conn = await wait_connection(ours, theirs.get_id() if dialer is ours else theirs.get_id())
                sec, muxer, secured = describe(conn)
                assert isinstance(secured, p2p_libp2p.SecureConn)
                assert secured.is_initiator == (dialer is ours)
                assert secured.get_remote_peer() == theirs.get_id()
                assert secured.get_remote_public_key() == theirs.get_public_key()
                assert secured.get_local_peer() == ours.get_id()
                print(f"{label} {security}: muxer {muxer}")
                with trio.fail_after(10):
                    await dialer.disconnect(info.peer_id)
                    while connections(ours, theirs.get_id()) or connections(theirs, ours.get_id()):
                        await trio.sleep(0.02)

    run(main)


@pytest.mark.parametrize("security", SECURITIES)
def test_p2psec_hosts_over_mplex(security: str) -> None:
    """py-libp2p's other muxer (mplex reads its varints a byte at a time) over p2psec."""
    kps = [create_new_key_pair(), create_new_key_pair()]
    a, b = (
        new_host(key_pair=kp, sec_opt={TProtocol(PROTOCOL_IDS[security]): TRANSPORTS[security](kp)}, muxer_preference="MPLEX")
        for kp in kps
    )

    async def main() -> None:
        async with running(a, b):
            info = info_from_p2p_addr(b.get_addrs()[0])
            with trio.fail_after(30):
                await a.connect(info)
                assert len(await PingService(a).ping(info.peer_id, ping_amt=3)) == 3
            muxer = check_p2psec_conn(await wait_connection(a, info.peer_id), security, "p2psec->p2psec")
            assert muxer == p2psec.MPLEX

    run(main)


# -- the transport alone, over memory ----------------------------------------------------


class MemoryRaw(IRawConnection):
    """An IRawConnection over one end of a trio memory stream pair."""

    def __init__(self, stream: Any, initiator: bool) -> None:
        self.stream = stream
        self.is_initiator = initiator
        self.reads: list[int] = []

    async def read(self, n: int | None = None) -> bytes:
        data: bytes = await self.stream.receive_some(n)
        self.reads.append(len(data))
        return data

    async def write(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def close(self) -> None:
        await self.stream.aclose()

    def get_remote_address(self) -> tuple[str, int] | None:
        return ("memory", 0)

    def get_transport_addresses(self) -> list[Multiaddr]:
        return []

    def get_connection_type(self) -> ConnectionType:
        return ConnectionType.DIRECT


def memory_pair() -> tuple[MemoryRaw, MemoryRaw]:
    a, b = trio.testing.memory_stream_pair()
    return MemoryRaw(a, True), MemoryRaw(b, False)


@pytest.mark.parametrize("security", SECURITIES)
def test_transport_over_memory(security: str) -> None:
    ka, kb = create_new_key_pair(), create_new_key_pair()
    ta, tb = TRANSPORTS[security](ka), TRANSPORTS[security](kb)

    async def main() -> None:
        ra, rb = memory_pair()
        conns: dict[str, Any] = {}
        async with trio.open_nursery() as nursery:

            async def inbound() -> None:
                conns["b"] = await tb.secure_inbound(rb)

            nursery.start_soon(inbound)
            conns["a"] = await ta.secure_outbound(ra, ID.from_pubkey(kb.public_key))
        a, b = conns["a"], conns["b"]
        assert a.get_remote_peer() == ID.from_pubkey(kb.public_key)
        assert b.get_remote_peer() == ID.from_pubkey(ka.public_key)
        assert a.get_remote_public_key() == kb.public_key and b.get_remote_public_key() == ka.public_key
        assert a.get_local_private_key() is ka.private_key and a.is_initiator and not b.is_initiator
        assert a.get_remote_address() == ("memory", 0)
        # reads return at most n bytes; the rest waits
        payload = os.urandom(200_000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.write, payload)
            got = bytearray()
            while len(got) < len(payload):
                chunk = await b.read(7000)
                assert 0 < len(chunk) <= 7000
                got.extend(chunk)
        assert bytes(got) == payload
        await b.write(b"pong")
        assert await a.read() == b"pong"
        # the end of the stream: py-libp2p's ConnectionClosedError, as its SecureSession
        await a.close()
        with pytest.raises(ConnectionClosedError):
            await b.read(10)
        with pytest.raises(ConnectionClosedError):
            await a.write(b"late")

    run(main)


def test_handshake_deadline() -> None:
    ka, kb = create_new_key_pair(), create_new_key_pair()
    transport = p2p_libp2p.Noise(ka, handshake_timeout=0.3)

    async def main() -> None:
        ra, _silent = memory_pair()
        with pytest.raises(HandshakeFailure) as caught:
            await transport.secure_outbound(ra, ID.from_pubkey(kb.public_key))
        assert isinstance(caught.value.__cause__, p2psec.HandshakeTimeout)

    run(main)


@pytest.mark.parametrize("security", SECURITIES)
def test_wrong_peer_id_fails_the_handshake(security: str) -> None:
    ka, kb, other = create_new_key_pair(), create_new_key_pair(), create_new_key_pair()
    ta, tb = TRANSPORTS[security](ka), TRANSPORTS[security](kb)

    async def main() -> None:
        ra, rb = memory_pair()
        errors: list[BaseException] = []
        async with trio.open_nursery() as nursery:

            async def inbound() -> None:
                try:
                    await tb.secure_inbound(rb)
                except HandshakeFailure as err:
                    errors.append(err)

            nursery.start_soon(inbound)
            with pytest.raises(HandshakeFailure) as caught:
                await ta.secure_outbound(ra, ID.from_pubkey(other.public_key))
            assert isinstance(caught.value.__cause__, p2psec.PeerIdMismatch)
            await ra.close()

    run(main)


def test_security_options_and_keys() -> None:
    kp = create_new_key_pair()
    options = p2p_libp2p.security_options(kp)
    assert list(options) == [p2p_libp2p.NOISE_PROTOCOL_ID, p2p_libp2p.TLS_PROTOCOL_ID] == ["/noise", "/tls/1.0.0"]
    assert isinstance(options[TProtocol("/noise")], p2p_libp2p.Noise)
    assert isinstance(options[TProtocol("/tls/1.0.0")], p2p_libp2p.Tls)
    keypair = p2p_libp2p.keypair_from_libp2p(kp)
    assert str(keypair.peer_id) == ID.from_pubkey(kp.public_key).to_base58()
    from libp2p.crypto.rsa import create_new_key_pair as rsa_key_pair
    from libp2p.crypto.secp256k1 import create_new_key_pair as secp_key_pair

    for pair in (secp_key_pair(), rsa_key_pair(2048)):
        assert str(p2p_libp2p.keypair_from_libp2p(pair).peer_id) == ID.from_pubkey(pair.public_key).to_base58()
    with pytest.raises(p2psec.InvalidInput):
        p2p_libp2p.keypair_from_libp2p(KeyPair(kp.private_key, create_new_key_pair().public_key))
    with pytest.raises(ValueError):
        p2p_libp2p.Noise(kp, handshake_timeout=0)

