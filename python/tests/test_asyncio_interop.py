"""The asyncio driver against real libp2p nodes (rust-libp2p 0.57's Swarm, js-libp2p 3),
in both roles, Noise and TLS; and the trio driver dialing a rust-libp2p Swarm.

Over each secured channel we speak the muxer the upgrade agreed (yamux) just enough to
prove the channel carries it both ways: a yamux PING (type 2, stream 0, SYN, the
``length`` field its opaque value) is answered by the remote's yamux itself with an ACK
carrying the same value. Other frames the remote sends meanwhile (the Swarm opening
its own /ipfs/ping streams, window updates) are skipped; a PING the remote sends is
answered.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import trio

import p2psec
import p2psec.asyncio as p2p_asyncio
import p2psec.trio as p2p_trio

if TYPE_CHECKING:
    from conftest import Peers

SECURITIES = ["noise", "tls"]
SECURITY_IDS = {"noise": "/noise", "tls": "/tls/1.0.0"}

# yamux (https://github.com/hashicorp/yamux/blob/master/spec.md)
HEADER = struct.Struct(">BBHII")  # version, type, flags, stream id, length
DATA, WINDOW_UPDATE, PING, GO_AWAY = 0, 1, 2, 3
SYN, ACK, FIN, RST = 0x1, 0x2, 0x4, 0x8
LIMIT = 20.0  # seconds a scenario may take


@dataclass(frozen=True)
class Frame:
    type: int
    flags: int
    stream_id: int
    length: int


def ping_frame(flags: int, opaque: int) -> bytes:
    return HEADER.pack(0, PING, flags, 0, opaque)


ReadExactly = Callable[[int], Awaitable[bytes]]
Send = Callable[[bytes], Awaitable[None]]


async def next_frame(read_exactly: ReadExactly) -> Frame:
    """The next yamux frame's header (a Data frame's body is read and dropped)."""
    version, kind, flags, stream_id, length = HEADER.unpack(await read_exactly(HEADER.size))
    assert version == 0, f"yamux version {version}"
    assert kind in (DATA, WINDOW_UPDATE, PING, GO_AWAY), f"yamux frame type {kind}"
    if kind == DATA and length:
        await read_exactly(length)
    return Frame(kind, flags, stream_id, length)


async def yamux_ping(read_exactly: ReadExactly, send: Send) -> list[Frame]:
    """Sends a PING SYN and waits for its ACK (same opaque value); returns the frames
    the remote sent before it. Answers the remote's PINGs; a GoAway fails."""
    opaque = int.from_bytes(os.urandom(4), "big")
    await send(ping_frame(SYN, opaque))
    skipped: list[Frame] = []
    while True:
        frame = await next_frame(read_exactly)
        if frame.type == PING and frame.flags & ACK:
            assert frame.stream_id == 0
            assert frame.length == opaque, f"PING ACK with opaque {frame.length}, sent {opaque}"
            return skipped
        if frame.type == PING and frame.flags & SYN:
            await send(ping_frame(ACK, frame.length))
        assert frame.type != GO_AWAY, f"the remote sent GoAway (code {frame.length}) before the ACK"
        skipped.append(frame)


async def answer_pings(read_exactly: ReadExactly, send: Send) -> list[int]:
    """Answers every PING SYN with its ACK until the remote's GoAway or end of stream;
    returns the opaque values answered."""
    answered: list[int] = []
    while True:
        try:
            frame = await next_frame(read_exactly)
        except (asyncio.IncompleteReadError, p2psec.ConnectionClosed, ConnectionError):
            return answered
        if frame.type == GO_AWAY:
            return answered
        if frame.type == PING and frame.flags & SYN:
            assert frame.stream_id == 0
            await send(ping_frame(ACK, frame.length))
            answered.append(frame.length)


def asyncio_io(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> tuple[ReadExactly, Send]:
    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    return reader.readexactly, send


def run_asyncio(scenario: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), LIMIT)

    return asyncio.run(bounded())


def config(security: str) -> p2psec.UpgradeConfig:
    return p2psec.UpgradeConfig(p2psec.Keypair.generate(), security=[security])


def assert_well_formed(peer: p2psec.PeerId) -> None:
    text = str(peer)
    assert p2psec.PeerId(text) == peer
    assert p2psec.PeerId.from_bytes(peer.to_bytes()) == peer
    assert peer.public_key_protobuf() is not None  # an inline (Ed25519) key: it matches
    assert peer.matches(peer.public_key_protobuf() or b"")


async def dial_and_ping(addr: str, security: str, cfg: p2psec.UpgradeConfig) -> tuple[p2psec.PeerId, list[Frame]]:
    reader, writer = await p2p_asyncio.dial(addr, cfg)
    try:
        assert reader.security == SECURITY_IDS[security]
        assert reader.muxer == p2psec.YAMUX
        assert writer.muxer == p2psec.YAMUX
        skipped = await yamux_ping(*asyncio_io(reader, writer))
        return reader.remote_peer_id, skipped
    finally:
        writer.close()
        await writer.wait_closed()


# -- (a) p2psec dials a rust-libp2p Swarm ---------------------------------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_asyncio_dials_rust_swarm(peers: Peers, security: str) -> None:
    swarm = peers.rust_listen(security)
    cfg = config(security)
    remote, _ = run_asyncio(lambda: dial_and_ping(swarm.multiaddr, security, cfg))
    assert str(remote) == swarm.peer_id
    seen = swarm.wait_for(lambda line: line.get("event") == "established", 10)
    assert seen["peer"] == str(cfg.local_peer_id)
    assert seen["dialer"] is False


# -- (b) a rust-libp2p Swarm dials the p2psec asyncio server ----------------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_rust_swarm_dials_asyncio_server(peers: Peers, security: str) -> None:
    cfg = config(security)
    holder: dict[str, Any] = {}

    async def scenario() -> dict[str, Any]:
        result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        async def handler(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
            try:
                facts = {"remote": reader.remote_peer_id, "security": reader.security, "muxer": writer.muxer}
                facts["skipped"] = await yamux_ping(*asyncio_io(reader, writer))
                result.set_result(facts)
            except BaseException as err:
                result.set_exception(err)
            finally:
                writer.close()

        async with await p2p_asyncio.serve(handler, "/ip4/127.0.0.1/tcp/0", cfg) as server:
            (addr,) = server.multiaddrs
            holder["swarm"] = peers.rust_dial(security, addr, pings=1, timeout=20)
            return await result

    facts = run_asyncio(scenario)
    swarm = holder["swarm"]
    # it prints the remote's PeerId: ours
    seen = swarm.wait_for(lambda line: line.get("event") == "established", 10)
    swarm.stop()  # its own pings are never answered (we do not speak /ipfs/ping)
    assert seen["peer"] == str(cfg.local_peer_id)
    assert seen["dialer"] is True
    assert facts["security"] == SECURITY_IDS[security]
    assert facts["muxer"] == p2psec.YAMUX
    assert facts["remote"] != cfg.local_peer_id
    assert_well_formed(facts["remote"])


# -- (c) p2psec dials js-libp2p ------------------------------------------------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_asyncio_dials_js(peers: Peers, security: str) -> None:
    node = peers.js_listen(security)
    cfg = config(security)
    remote, _ = run_asyncio(lambda: dial_and_ping(node.multiaddr, security, cfg))
    assert str(remote) == node.peer_id
    opened = node.wait_for(lambda line: line.get("event") == "connection_open", 10)
    assert opened["remote_peer_id"] == str(cfg.local_peer_id)
    assert opened["security"] == SECURITY_IDS[security]
    assert opened["muxer"] == p2psec.YAMUX


# -- (d) js-libp2p dials the p2psec asyncio server --------------------------------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_js_dials_asyncio_server(peers: Peers, security: str) -> None:
    cfg = config(security)
    holder: dict[str, Any] = {}

    async def scenario() -> tuple[int, dict[str, Any]]:
        result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        async def handler(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
            try:
                facts = {"remote": reader.remote_peer_id, "security": reader.security, "muxer": reader.muxer}
                facts["answered"] = await answer_pings(*asyncio_io(reader, writer))
                result.set_result(facts)
            except BaseException as err:
                result.set_exception(err)
            finally:
                writer.close()

        async with await p2p_asyncio.serve(handler, "/ip4/127.0.0.1/tcp/0", cfg) as server:
            (addr,) = server.multiaddrs
            node = holder["js"] = peers.js_dial(security, addr, "--yamux-ping", "--ping", "1", "--timeout", "15")
            code = await asyncio.to_thread(node.wait, 18)
            facts = await asyncio.wait_for(result, 5)
            return code, facts

    code, facts = run_asyncio(scenario)
    node = holder["js"]
    assert code == 0, node.stderr_text()
    connected = node.wait_for(lambda line: line.get("event") == "connected", 1)
    assert connected["remote_peer_id"] == str(cfg.local_peer_id)
    assert connected["local_peer_id"] == str(facts["remote"])
    assert connected["security"] == SECURITY_IDS[security]
    assert connected["muxer"] == p2psec.YAMUX
    assert node.wait_for(lambda line: line.get("event") == "yamux_ping", 1)["seq"] == 1
    assert len(facts["answered"]) == 1
    assert facts["security"] == SECURITY_IDS[security]
    assert facts["muxer"] == p2psec.YAMUX


# -- the trio driver dials a rust-libp2p Swarm (py-libp2p runs on trio) ----------------------


class TrioReader:
    """``readexactly`` over a trio stream."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = await self.stream.receive_some()
            if not chunk:
                raise p2psec.ConnectionClosed("end of stream")
            self.buffer.extend(chunk)
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data


def test_trio_dials_rust_swarm(peers: Peers) -> None:
    swarm = peers.rust_listen("noise")
    cfg = config("noise")

    async def scenario() -> tuple[p2psec.PeerId, list[Frame]]:
        with trio.fail_after(LIMIT):
            stream = await p2p_trio.dial(swarm.multiaddr, cfg)
            async with stream:
                assert stream.security == "/noise"
                assert stream.muxer == p2psec.YAMUX
                skipped = await yamux_ping(TrioReader(stream).read_exactly, stream.send_all)
                return stream.remote_peer_id, skipped

    remote, _ = trio.run(scenario)
    assert str(remote) == swarm.peer_id
    seen = swarm.wait_for(lambda line: line.get("event") == "established", 10)
    assert seen["peer"] == str(cfg.local_peer_id)
