"""The asyncio and trio drivers, p2psec to p2psec over loopback TCP (Noise and TLS):
the upgrade, PeerIds both ways, an 8 MiB echo, a clean close, a truncated frame, the
handshake deadline, a PeerId mismatch, and a server that outlives a client sending
garbage. Each test runs its own event loop (``asyncio.run`` / ``trio.run``)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing

import p2psec
import p2psec.asyncio as p2p_asyncio
import p2psec.trio as p2p_trio

SECURITIES = ["noise", "tls"]
SECURITY_IDS = {"noise": "/noise", "tls": "/tls/1.0.0"}
ECHO_BYTES = 8 * 1024 * 1024
LIMIT = 60.0  # seconds any one scenario may take before the test fails instead of hanging


def config(security: str) -> p2psec.UpgradeConfig:
    return p2psec.UpgradeConfig(p2psec.Keypair.generate(), security=[security])


def run_asyncio(scenario: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), LIMIT)

    return asyncio.run(bounded())


def run_trio(scenario: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        with trio.fail_after(LIMIT):
            return await scenario()

    return trio.run(bounded)


def truncated_frame(security: str) -> bytes:
    """The start of a frame that never ends: a Noise length prefix announcing 64 bytes,
    a TLS application-data record header announcing 64 bytes, each with 3 of them."""
    header = b"\x00\x40" if security == "noise" else b"\x17\x03\x03\x00\x40"
    return header + b"\x01\x02\x03"


# ---------------------------------------------------------------------------------
# asyncio


async def asyncio_echo_server(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
    """Echoes every byte until the client's end of stream, then closes."""
    while data := await reader.read(1 << 20):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("security", SECURITIES)
def test_asyncio_upgrade_peer_ids_and_echo(security: str) -> None:
    server_config, client_config = config(security), config(security)
    seen: dict[str, Any] = {}

    async def handler(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
        seen.update(remote=reader.remote_peer_id, security=writer.security, muxer=reader.muxer)
        await asyncio_echo_server(reader, writer)

    async def scenario() -> None:
        async with await p2p_asyncio.serve(handler, "/ip4/127.0.0.1/tcp/0", server_config) as server:
            (addr,) = server.multiaddrs
            assert addr.startswith("/ip4/127.0.0.1/tcp/")
            assert addr.endswith(f"/p2p/{server_config.local_peer_id}")
            reader, writer = await p2p_asyncio.dial(addr, client_config)
            assert reader.remote_peer_id == server_config.local_peer_id
            assert writer.remote_peer_id == server_config.local_peer_id
            assert reader.security == SECURITY_IDS[security]
            assert reader.muxer == p2psec.YAMUX
            assert writer.get_extra_info("peername")[:2] == tuple(p2psec.parse_multiaddr(addr)[:2])

            payload = os.urandom(ECHO_BYTES)

            async def send() -> None:
                for offset in range(0, len(payload), 1 << 20):
                    writer.write(payload[offset : offset + (1 << 20)])
                    await writer.drain()
                writer.write_eof()  # TLS: close_notify; Noise: TCP half-close

            sending = asyncio.create_task(send())
            echoed = await reader.read()  # up to the server's close
            await sending
            assert len(echoed) == len(payload)
            assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()
            assert echoed == payload
            # the server closed: a clean end of stream
            assert await reader.read(100) == b""
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()

    run_asyncio(scenario)
    assert seen == {"remote": client_config.local_peer_id, "security": SECURITY_IDS[security], "muxer": p2psec.YAMUX}


@pytest.mark.parametrize("security", SECURITIES)
def test_asyncio_clean_close_and_readexactly(security: str) -> None:
    server_config, client_config = config(security), config(security)

    async def handler(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
        writer.write(b"hello ")
        writer.write(b"world")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def scenario() -> None:
        async with await p2p_asyncio.serve(handler, "/ip4/127.0.0.1/tcp/0", server_config) as server:
            reader, writer = await p2p_asyncio.dial(server.multiaddrs[0], client_config)
            assert await reader.readexactly(5) == b"hello"
            with pytest.raises(asyncio.IncompleteReadError) as err:
                await reader.readexactly(100)
            assert err.value.partial == b" world"
            assert await reader.read() == b""
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()

    run_asyncio(scenario)


@pytest.mark.parametrize("security", SECURITIES)
def test_asyncio_truncated_frame_raises(security: str) -> None:
    """A raw end of stream inside a frame is ConnectionClosed, not a clean b""."""
    server_config, client_config = config(security), config(security)

    async def scenario() -> None:
        async def connected(raw_reader: asyncio.StreamReader, raw_writer: asyncio.StreamWriter) -> None:
            reader, writer = await p2p_asyncio.upgrade_inbound(raw_reader, raw_writer, server_config)
            writer.write(b"complete")
            await writer.drain()
            raw_writer.write(truncated_frame(security))  # then the transport ends
            await raw_writer.drain()
            raw_writer.transport.abort()

        server = await asyncio.start_server(connected, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            addr = p2psec.tcp_multiaddr("127.0.0.1", port, server_config.local_peer_id)
            reader, writer = await p2p_asyncio.dial(addr, client_config)
            assert await reader.readexactly(8) == b"complete"
            with pytest.raises(p2psec.ConnectionClosed):
                await reader.read(100)
            writer.close()

    run_asyncio(scenario)


@pytest.mark.parametrize("security", SECURITIES)
def test_asyncio_upgrade_over_existing_streams(security: str) -> None:
    server_config, client_config = config(security), config(security)

    async def scenario() -> None:
        a, b = socket.socketpair()
        a_streams = await asyncio.open_connection(sock=a)
        b_streams = await asyncio.open_connection(sock=b)
        (cr, cw), (sr, sw) = await asyncio.gather(
            p2p_asyncio.upgrade_outbound(*a_streams, client_config, expected_peer=server_config.local_peer_id),
            p2p_asyncio.upgrade_inbound(*b_streams, server_config),
        )
        assert cr.remote_peer_id == server_config.local_peer_id
        assert sr.remote_peer_id == client_config.local_peer_id
        cw.write(b"ping")
        await cw.drain()
        assert await sr.readexactly(4) == b"ping"
        sw.write(b"pong")
        await sw.drain()
        assert await cr.readexactly(4) == b"pong"
        cw.close()
        assert await sr.read() == b""
        sw.close()
        await asyncio.gather(cw.wait_closed(), sw.wait_closed())

    run_asyncio(scenario)


async def silent_asyncio_server() -> tuple[asyncio.Server, list[bytes]]:
    """Accepts and says nothing; records what each connection sent before it ended."""
    received: list[bytes] = []

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read())  # up to the dialer's close
        writer.close()

    return await asyncio.start_server(connected, "127.0.0.1", 0), received


def test_asyncio_handshake_timeout() -> None:
    async def scenario() -> None:
        server, received = await silent_asyncio_server()
        async with server:
            port = server.sockets[0].getsockname()[1]
            peer = p2psec.Keypair.generate().peer_id
            start = time.monotonic()
            with pytest.raises(p2psec.HandshakeTimeout):
                await p2p_asyncio.dial(
                    p2psec.tcp_multiaddr("127.0.0.1", port, peer), config("noise"), handshake_timeout=0.5
                )
            elapsed = time.monotonic() - start
            assert 0.4 <= elapsed < 3, elapsed
            # the socket was closed: the silent server sees the end of its stream
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.02)
            assert len(received) == 1 and received[0].startswith(b"\x13/multistream/1.0.0\n")

    run_asyncio(scenario)


@pytest.mark.parametrize("security", SECURITIES)
def test_asyncio_peer_id_mismatch(security: str) -> None:
    server_config, client_config = config(security), config(security)
    other = p2psec.Keypair.generate().peer_id

    async def handler(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
        writer.close()

    async def scenario() -> None:
        async with await p2p_asyncio.serve(handler, "/ip4/127.0.0.1/tcp/0", server_config) as server:
            host, port, _ = p2psec.parse_multiaddr(server.multiaddrs[0])
            bare = p2psec.tcp_multiaddr(host, port)
            with pytest.raises(p2psec.PeerIdMismatch):
                await p2p_asyncio.dial(bare, client_config, expected_peer=other)
            with pytest.raises(p2psec.PeerIdMismatch):
                await p2p_asyncio.dial(p2psec.tcp_multiaddr(host, port, other), client_config)
            with pytest.raises(p2psec.InvalidInput):
                await p2p_asyncio.dial(server.multiaddrs[0], client_config, expected_peer=other)
            # the right one still works
            reader, writer = await p2p_asyncio.dial(bare, client_config, expected_peer=server_config.local_peer_id)
            assert reader.remote_peer_id == server_config.local_peer_id
            writer.close()

    run_asyncio(scenario)


def test_asyncio_serve_survives_garbage(caplog: pytest.LogCaptureFixture) -> None:
    server_config = config("noise")

    async def handler(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
        writer.write(str(reader.remote_peer_id).encode())
        writer.close()

    async def scenario() -> None:
        async with await p2p_asyncio.serve(handler, "/ip4/127.0.0.1/tcp/0", server_config) as server:
            host, port, _ = p2psec.parse_multiaddr(server.multiaddrs[0])
            raw_reader, raw_writer = await asyncio.open_connection(host, port)
            # /noise agreed, then a first Noise message far too short
            raw_writer.write(b"\x13/multistream/1.0.0\n\x07/noise\n\x00\x05" + b"\xff" * 5)
            await raw_writer.drain()
            # the server answers the negotiation, then gives up and closes
            answer = await asyncio.wait_for(raw_reader.read(), 5)
            assert answer == b"\x13/multistream/1.0.0\n\x07/noise\n"
            raw_writer.close()
            # a client that connects and leaves at once
            _, quitter = await asyncio.open_connection(host, port)
            quitter.close()
            await asyncio.sleep(0.1)
            client_config = config("noise")
            reader, writer = await p2p_asyncio.dial(server.multiaddrs[0], client_config)
            assert await reader.read() == str(client_config.local_peer_id).encode()
            writer.close()

    with caplog.at_level(logging.WARNING, logger="p2psec.asyncio"):
        run_asyncio(scenario)
    failures = [r for r in caplog.records if r.name == "p2psec.asyncio" and "upgrade" in r.getMessage()]
    assert len(failures) == 2, [r.getMessage() for r in caplog.records]


def test_asyncio_bad_arguments() -> None:
    async def scenario() -> None:
        cfg = config("noise")
        with pytest.raises(p2psec.InvalidInput):
            await p2p_asyncio.dial("/ip4/127.0.0.1/udp/1", cfg)
        with pytest.raises(p2psec.InvalidInput):
            await p2p_asyncio.dial("/ip4/127.0.0.1/tcp/1", cfg, handshake_timeout=0)
        with pytest.raises(p2psec.InvalidInput):
            other = p2psec.Keypair.generate().peer_id
            await p2p_asyncio.serve(p2p_asyncio_noop, f"/ip4/127.0.0.1/tcp/0/p2p/{other}", cfg)

    run_asyncio(scenario)


async def p2p_asyncio_noop(reader: p2p_asyncio.SecureReader, writer: p2p_asyncio.SecureWriter) -> None:
    writer.close()


# ---------------------------------------------------------------------------------
# trio


async def trio_echo_server(stream: p2p_trio.SecureStream) -> None:
    """Echoes every byte until the client's end of stream (the driver closes after)."""
    while data := await stream.receive_some():
        await stream.send_all(data)


@pytest.mark.parametrize("security", SECURITIES)
def test_trio_upgrade_peer_ids_and_echo(security: str) -> None:
    server_config, client_config = config(security), config(security)
    seen: dict[str, Any] = {}

    async def handler(stream: p2p_trio.SecureStream) -> None:
        seen.update(remote=stream.remote_peer_id, security=stream.security, muxer=stream.muxer)
        # echo exactly ECHO_BYTES, then return: serve() closes the stream
        got = 0
        while got < ECHO_BYTES:
            data = await stream.receive_some(ECHO_BYTES - got)
            assert data
            got += len(data)
            await stream.send_all(data)

    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            addrs = await nursery.start(p2p_trio.serve, handler, "/ip4/127.0.0.1/tcp/0", server_config)
            (addr,) = addrs
            assert addr.endswith(f"/p2p/{server_config.local_peer_id}")
            stream = await p2p_trio.dial(addr, client_config)
            assert isinstance(stream, trio.abc.Stream)
            assert stream.remote_peer_id == server_config.local_peer_id
            assert stream.security == SECURITY_IDS[security]
            assert stream.muxer == p2psec.YAMUX

            payload = os.urandom(ECHO_BYTES)
            echoed = bytearray()

            async def receive() -> None:
                while data := await stream.receive_some(1 << 20):
                    echoed.extend(data)

            async with trio.open_nursery() as inner:
                inner.start_soon(receive)
                for offset in range(0, len(payload), 1 << 20):
                    await stream.send_all(payload[offset : offset + (1 << 20)])
            # receive() ended on b"": the server's clean close
            assert len(echoed) == len(payload)
            assert bytes(echoed) == payload
            assert await stream.receive_some() == b""
            await stream.aclose()
            await stream.aclose()  # a second close does nothing
            with pytest.raises(trio.ClosedResourceError):
                await stream.send_all(b"x")
            nursery.cancel_scope.cancel()

    run_trio(scenario)
    assert seen == {"remote": client_config.local_peer_id, "security": SECURITY_IDS[security], "muxer": p2psec.YAMUX}


@pytest.mark.parametrize("security", SECURITIES)
def test_trio_over_memory_streams_and_truncated_frame(security: str) -> None:
    """Any trio Stream carries an upgrade; a raw end of stream inside a frame raises."""
    server_config, client_config = config(security), config(security)

    async def scenario() -> None:
        a, b = trio.testing.memory_stream_pair()
        results: dict[str, p2p_trio.SecureStream] = {}

        async def outbound() -> None:
            results["client"] = await p2p_trio.upgrade_outbound(
                a, client_config, expected_peer=server_config.local_peer_id
            )

        async def inbound() -> None:
            results["server"] = await p2p_trio.upgrade_inbound(b, server_config)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(outbound)
            nursery.start_soon(inbound)
        client, server = results["client"], results["server"]
        assert client.remote_peer_id == server_config.local_peer_id
        assert server.remote_peer_id == client_config.local_peer_id
        await client.send_all(b"ping")
        assert await server.receive_some(4) == b"ping"
        await server.send_all(b"complete")
        assert await client.receive_some() == b"complete"
        # the raw stream carries half a frame, then ends
        await b.send_all(truncated_frame(security))
        await b.aclose()
        with pytest.raises(p2psec.ConnectionClosed):
            await client.receive_some()
        await client.aclose()

    run_trio(scenario)


def test_trio_handshake_timeout() -> None:
    async def scenario() -> None:
        received: list[bytes] = []

        async def silent(stream: trio.SocketStream) -> None:
            data = bytearray()
            while chunk := await stream.receive_some():
                data.extend(chunk)
            received.append(bytes(data))

        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(functools.partial(trio.serve_tcp, silent, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            peer = p2psec.Keypair.generate().peer_id
            start = time.monotonic()
            with pytest.raises(p2psec.HandshakeTimeout):
                await p2p_trio.dial(p2psec.tcp_multiaddr("127.0.0.1", port, peer), config("tls"), handshake_timeout=0.5)
            elapsed = time.monotonic() - start
            assert 0.4 <= elapsed < 3, elapsed
            with trio.fail_after(2):
                while not received:
                    await trio.sleep(0.02)
            assert received[0].startswith(b"\x13/multistream/1.0.0\n")
            nursery.cancel_scope.cancel()

    run_trio(scenario)


@pytest.mark.parametrize("security", SECURITIES)
def test_trio_peer_id_mismatch(security: str) -> None:
    server_config, client_config = config(security), config(security)
    other = p2psec.Keypair.generate().peer_id

    async def handler(stream: p2p_trio.SecureStream) -> None:
        pass

    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            (addr,) = await nursery.start(p2p_trio.serve, handler, "/ip4/127.0.0.1/tcp/0", server_config)
            host, port, _ = p2psec.parse_multiaddr(addr)
            with pytest.raises(p2psec.PeerIdMismatch):
                await p2p_trio.dial(p2psec.tcp_multiaddr(host, port), client_config, expected_peer=other)
            with pytest.raises(p2psec.PeerIdMismatch):
                await p2p_trio.dial(p2psec.tcp_multiaddr(host, port, other), client_config)
            with pytest.raises(p2psec.InvalidInput):
                await p2p_trio.dial(addr, client_config, expected_peer=other)
            stream = await p2p_trio.dial(addr, client_config)
            assert stream.remote_peer_id == server_config.local_peer_id
            await stream.aclose()
            nursery.cancel_scope.cancel()

    run_trio(scenario)


def test_trio_serve_survives_garbage(caplog: pytest.LogCaptureFixture) -> None:
    server_config = config("tls")

    async def handler(stream: p2p_trio.SecureStream) -> None:
        await stream.send_all(str(stream.remote_peer_id).encode())

    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            (addr,) = await nursery.start(p2p_trio.serve, handler, "/ip4/127.0.0.1/tcp/0", server_config)
            host, port, _ = p2psec.parse_multiaddr(addr)
            raw = await trio.open_tcp_stream(host, port)
            # /tls/1.0.0 agreed, then a handshake record that is no TLS message
            await raw.send_all(b"\x13/multistream/1.0.0\n\x0b/tls/1.0.0\n\x16\x03\x01\x00\x05" + b"\xff" * 5)
            answer = bytearray()
            with trio.fail_after(5):  # the server answers, then gives up and closes
                while chunk := await raw.receive_some():
                    answer.extend(chunk)
            assert answer.startswith(b"\x13/multistream/1.0.0\n\x0b/tls/1.0.0\n")
            await raw.aclose()
            quitter = await trio.open_tcp_stream(host, port)
            await quitter.aclose()
            await trio.sleep(0.1)
            client_config = config("tls")
            stream = await p2p_trio.dial(addr, client_config)
            data = bytearray()
            while chunk := await stream.receive_some():
                data.extend(chunk)
            assert bytes(data) == str(client_config.local_peer_id).encode()
            await stream.aclose()
            nursery.cancel_scope.cancel()

    with caplog.at_level(logging.WARNING, logger="p2psec.trio"):
        run_trio(scenario)
    failures = [r for r in caplog.records if r.name == "p2psec.trio" and "upgrade" in r.getMessage()]
    assert len(failures) == 2, [r.getMessage() for r in caplog.records]
