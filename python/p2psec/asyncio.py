"""An asyncio driver: p2psec's upgrade over asyncio streams, and a secured connection as
an asyncio-style reader/writer pair::

    import p2psec
    import p2psec.asyncio

    config = p2psec.UpgradeConfig(p2psec.Keypair.generate())
    reader, writer = await p2psec.asyncio.dial("/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo...", config)
    writer.write(b"...")          # the muxer's bytes (the upgrade agreed on reader.muxer)
    await writer.drain()
    data = await reader.read(65536)

    async def handler(reader: SecureReader, writer: SecureWriter) -> None: ...
    async with await p2psec.asyncio.serve(handler, "/ip4/127.0.0.1/tcp/0", config) as server:
        print(server.multiaddrs)  # ["/ip4/127.0.0.1/tcp/…/p2p/<our PeerId>"]
        await server.serve_forever()

The driver only moves bytes: the machines (:class:`p2psec.Dialer`,
:class:`p2psec.Listener`, :class:`p2psec.SecureChannel`) do the protocol, and their
errors propagate as the :mod:`p2psec.errors` exceptions. An upgrade that does not
complete within ``handshake_timeout`` seconds raises :class:`p2psec.HandshakeTimeout`;
a failed upgrade closes the connection.
"""

from __future__ import annotations

# absolute imports: this is the standard library's asyncio, not this module
import asyncio as _asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any

from ._drive import READ_SIZE, Inbox, Machine, drain_events, feed_upgrade, seal
from ._native import Dialer, Listener, PeerId, SecureChannel, UpgradeConfig, parse_multiaddr, tcp_multiaddr
from .errors import HandshakeTimeout, InvalidInput, P2psecError

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "dial",
    "upgrade_outbound",
    "upgrade_inbound",
    "serve",
    "Server",
    "SecureReader",
    "SecureWriter",
]

logger = logging.getLogger(__name__)
"""This driver's logger (``p2psec.asyncio``): failed inbound upgrades are warnings, handlers' exceptions errors."""

DEFAULT_HANDSHAKE_TIMEOUT: float = 10.0
"""Seconds an upgrade may take before it fails with :class:`p2psec.HandshakeTimeout`."""

_Handler = Callable[["SecureReader", "SecureWriter"], Awaitable[None]]


def _check_timeout(timeout: float) -> None:
    if not timeout > 0:  # NaN too
        raise InvalidInput("handshake_timeout must be a positive number of seconds")


def _expected(from_addr: PeerId | None, given: PeerId | None) -> PeerId | None:
    if given is not None and from_addr is not None and given != from_addr:
        raise InvalidInput(f"expected_peer {given} differs from the multiaddr's /p2p/{from_addr}")
    return given if given is not None else from_addr


class _Connection:
    """What a reader and its writer share: the channel, the ciphertext it has not taken
    yet, and the transport."""

    def __init__(self, reader: _asyncio.StreamReader, writer: _asyncio.StreamWriter, inbox: Inbox) -> None:
        self.reader = reader
        self.writer = writer
        self.inbox = inbox
        self.channel = inbox.channel
        self.eof = False  # the transport's stream ended
        self.write_closed = False  # we closed our side (close() or write_eof())

    def flush(self) -> None:
        """Sends what the channel has to send (TLS may answer what it read)."""
        out = self.channel.data_to_send()
        if out and not self.write_closed:
            self.writer.write(out)

    async def receive(self) -> None:
        """Reads ciphertext from the transport into the channel."""
        raw = await self.reader.read(READ_SIZE)
        if not raw:
            self.eof = True
            return
        self.inbox.feed(raw)
        self.flush()

    async def read_some(self, n: int | None) -> bytes:
        """Up to ``n`` bytes of plaintext (``None``: all that waits), waiting for some;
        ``b""`` at the end of the stream."""
        while True:
            data = self.inbox.read(n)
            if data:
                return data
            if self.eof:
                self.inbox.end_of_stream()  # raises for a truncated frame
                return b""
            if self.channel.peer_closed:
                return b""
            await self.receive()


class _Secured:
    """The channel's facts, on both the reader and the writer."""

    _conn: _Connection

    @property
    def remote_peer_id(self) -> PeerId:
        """The PeerId the remote proved in the handshake."""
        return self._conn.channel.remote_peer_id

    @property
    def security(self) -> str:
        """The security protocol's id: ``"/noise"`` or ``"/tls/1.0.0"``."""
        return self._conn.channel.security

    @property
    def muxer(self) -> str | None:
        """The muxer the upgrade agreed on (``"/yamux/1.0.0"``), or ``None``."""
        return self._conn.channel.muxer

    @property
    def cipher(self) -> str:
        """The cipher in use (``"ChaChaPoly"``, a TLS 1.3 suite's name)."""
        return self._conn.channel.cipher


class SecureReader(_Secured):
    """The plaintext side of a secured connection's input, like
    :class:`asyncio.StreamReader`. One reader at a time."""

    def __init__(self, conn: _Connection) -> None:
        """Made by the driver (:func:`dial`, :func:`upgrade_outbound`, ...)."""
        self._conn = conn

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of plaintext, waiting for some; ``n`` = -1: everything up
        to the end of the stream. ``b""`` at the end of the stream (the transport's,
        or TLS's close_notify); raises :class:`p2psec.ConnectionClosed` when the stream
        ended inside a frame, the channel's error for a bad frame."""
        if n == 0:
            return b""
        if n > 0:
            return await self._conn.read_some(n)
        parts: list[bytes] = []
        while chunk := await self._conn.read_some(None):
            parts.append(chunk)
        return b"".join(parts)

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes of plaintext; raises :class:`asyncio.IncompleteReadError`
        when the stream ends first."""
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = await self._conn.read_some(n - got)
            if not chunk:
                raise _asyncio.IncompleteReadError(b"".join(parts), n)
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def at_eof(self) -> bool:
        """Whether no plaintext waits and the stream ended."""
        conn = self._conn
        return not conn.channel.readable and (conn.eof or conn.channel.peer_closed)

    def __repr__(self) -> str:
        return f"SecureReader({self.security}, remote={self.remote_peer_id})"


class SecureWriter(_Secured):
    """The plaintext side of a secured connection's output, like
    :class:`asyncio.StreamWriter`: ``write`` encrypts and buffers, ``drain`` waits for
    the transport's buffer to empty."""

    def __init__(self, conn: _Connection) -> None:
        """Made by the driver (:func:`dial`, :func:`upgrade_outbound`, ...)."""
        self._conn = conn

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypts ``data`` and hands the ciphertext to the transport (call
        :meth:`drain` after). Raises :class:`p2psec.UsageError` after :meth:`close` or
        :meth:`write_eof`."""
        for chunk in seal(self._conn.channel, data):
            self._conn.writer.write(chunk)

    def writelines(self, data: Iterable[bytes | bytearray | memoryview]) -> None:
        """:meth:`write` for each item."""
        for item in data:
            self.write(item)

    async def drain(self) -> None:
        """Waits until the transport may be written to again (its flow control)."""
        await self._conn.writer.drain()

    def can_write_eof(self) -> bool:
        """Whether the transport can close its write side alone (TCP can)."""
        return self._conn.writer.can_write_eof()

    def write_eof(self) -> None:
        """Closes our side only: the channel's close (TLS's close_notify) is sent, then
        the transport's write side is closed; reading goes on."""
        conn = self._conn
        if conn.write_closed:
            return
        conn.channel.close()
        conn.flush()
        conn.write_closed = True
        conn.writer.write_eof()

    def close(self) -> None:
        """Closes the connection: the channel's close (TLS's close_notify) is sent with
        what the transport still buffers, then the transport closes."""
        conn = self._conn
        if not conn.write_closed:
            conn.channel.close()
            conn.flush()
            conn.write_closed = True
        conn.writer.close()

    def is_closing(self) -> bool:
        """Whether the transport is closed or closing."""
        return self._conn.writer.is_closing()

    async def wait_closed(self) -> None:
        """Waits until the transport is closed (call after :meth:`close`). A peer that
        closed first may have refused what :meth:`close` sent (TLS's close_notify):
        that ``ConnectionError`` is not raised."""
        try:
            await self._conn.writer.wait_closed()
        except ConnectionError:
            pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's extra information (``"peername"``, ``"sockname"``,
        ``"socket"``, ...)."""
        return self._conn.writer.get_extra_info(name, default)

    def __repr__(self) -> str:
        return f"SecureWriter({self.security}, remote={self.remote_peer_id})"


async def _send(writer: _asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(data)
        await writer.drain()


async def _handshake(
    reader: _asyncio.StreamReader, writer: _asyncio.StreamWriter, machine: Machine
) -> tuple[SecureChannel, bytes]:
    """Runs the machine to completion; returns the channel and the bytes read past the
    upgrade."""
    await _send(writer, machine.data_to_send())
    pending = b""
    while not machine.is_complete:
        data = await reader.read(READ_SIZE)
        if not data:
            machine.receive_eof()  # raises ConnectionClosed (the upgrade is not complete)
            continue
        pending = feed_upgrade(machine, pending, data)
        for event in drain_events(machine):
            logger.debug("upgrade event: %r", event)
        await _send(writer, machine.data_to_send())
    return machine.into_channel(), pending


async def _upgrade(
    reader: _asyncio.StreamReader,
    writer: _asyncio.StreamWriter,
    machine: Machine,
    timeout: float,
    budget: float | None = None,
) -> tuple[SecureReader, SecureWriter]:
    """The upgrade within ``timeout`` seconds (of a ``budget`` the caller had, for the
    error's message); closes the connection when it fails."""
    try:
        channel, rest = await _asyncio.wait_for(_handshake(reader, writer, machine), timeout)
        conn = _Connection(reader, writer, Inbox(channel, rest))
        conn.flush()
    except _asyncio.TimeoutError:
        writer.transport.abort()
        seconds = timeout if budget is None else budget
        raise HandshakeTimeout(f"the upgrade did not complete within {seconds} s") from None
    except P2psecError:
        # a failed machine may still have its last word to send (a TLS alert, `na`)
        try:
            writer.write(machine.data_to_send())
        except Exception:  # the transport failed too: the error to report is the first
            pass
        writer.close()
        raise
    except BaseException:
        writer.transport.abort()
        raise
    return SecureReader(conn), SecureWriter(conn)


async def upgrade_outbound(
    reader: _asyncio.StreamReader,
    writer: _asyncio.StreamWriter,
    config: UpgradeConfig,
    *,
    expected_peer: PeerId | None = None,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    now: float | None = None,
    seed: bytes | None = None,
) -> tuple[SecureReader, SecureWriter]:
    """Runs the dialer's upgrade over a connection we opened; returns its secured
    reader and writer. ``expected_peer``: the PeerId the remote must prove (else
    :class:`p2psec.PeerIdMismatch`); ``now``/``seed``: as for :class:`p2psec.Dialer`.
    A failed or timed-out upgrade closes the connection and raises."""
    _check_timeout(handshake_timeout)
    machine = Dialer(config, expected_peer, now=now, seed=seed)
    return await _upgrade(reader, writer, machine, handshake_timeout)


async def upgrade_inbound(
    reader: _asyncio.StreamReader,
    writer: _asyncio.StreamWriter,
    config: UpgradeConfig,
    *,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    now: float | None = None,
    seed: bytes | None = None,
) -> tuple[SecureReader, SecureWriter]:
    """Runs the listener's upgrade over a connection we accepted; returns its secured
    reader and writer. A failed or timed-out upgrade closes the connection and
    raises."""
    _check_timeout(handshake_timeout)
    machine = Listener(config, now=now, seed=seed)
    return await _upgrade(reader, writer, machine, handshake_timeout)


async def dial(
    multiaddr: str,
    config: UpgradeConfig,
    *,
    expected_peer: PeerId | None = None,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    now: float | None = None,
    seed: bytes | None = None,
) -> tuple[SecureReader, SecureWriter]:
    """Opens a TCP connection to ``multiaddr`` (``/ip4|ip6/…/tcp/…[/p2p/<PeerId>]``)
    and runs the dialer's upgrade; returns the secured reader and writer, as
    :func:`asyncio.open_connection` does.

    The remote must prove the multiaddr's ``/p2p/`` PeerId, or ``expected_peer``
    (:class:`p2psec.InvalidInput` when both are given and differ). ``handshake_timeout``
    bounds the TCP connect and the upgrade together.
    """
    host, port, in_addr = parse_multiaddr(multiaddr)
    expected = _expected(in_addr, expected_peer)
    _check_timeout(handshake_timeout)
    machine = Dialer(config, expected, now=now, seed=seed)
    loop = _asyncio.get_running_loop()
    start = loop.time()
    try:
        reader, writer = await _asyncio.wait_for(_asyncio.open_connection(host, port), handshake_timeout)
    except _asyncio.TimeoutError:
        raise HandshakeTimeout(f"the TCP connection to {multiaddr} did not open within {handshake_timeout} s") from None
    left = max(handshake_timeout - (loop.time() - start), 1e-3)
    return await _upgrade(reader, writer, machine, left, handshake_timeout)


class Server:
    """A listening p2psec server (wraps :class:`asyncio.Server`); an async context
    manager that closes it on exit."""

    def __init__(self, server: _asyncio.Server, multiaddrs: list[str]) -> None:
        """Made by :func:`serve`."""
        self._server = server
        self._multiaddrs = multiaddrs

    @property
    def multiaddrs(self) -> list[str]:
        """The addresses it listens on, each ending in ``/p2p/<our PeerId>``."""
        return list(self._multiaddrs)

    @property
    def server(self) -> _asyncio.Server:
        """The :class:`asyncio.Server` underneath."""
        return self._server

    def is_serving(self) -> bool:
        """Whether it accepts connections."""
        return self._server.is_serving()

    def close(self) -> None:
        """Stops listening (connections already accepted go on)."""
        self._server.close()

    async def wait_closed(self) -> None:
        """Waits until the server is closed (call after :meth:`close`)."""
        await self._server.wait_closed()

    async def serve_forever(self) -> None:
        """Accepts connections until cancelled (then closes the server)."""
        await self._server.serve_forever()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()

    def __repr__(self) -> str:
        return f"Server({self._multiaddrs})"


async def serve(
    handler: _Handler,
    multiaddr: str,
    config: UpgradeConfig,
    *,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
) -> Server:
    """Listens on ``multiaddr`` (``"/ip4/127.0.0.1/tcp/0"``: any free port) and runs
    the listener's upgrade on each connection, then ``await handler(reader, writer)``.

    A failed or timed-out upgrade closes its connection and is logged (this module's
    logger, ``p2psec.asyncio``); so is a handler's exception (its connection is
    closed). As with :func:`asyncio.start_server`, the connection stays open when the
    handler returns: close the writer when done.
    """
    host, port, in_addr = parse_multiaddr(multiaddr)
    local = config.local_peer_id
    if in_addr is not None and in_addr != local:
        raise InvalidInput(f"the multiaddr's /p2p/{in_addr} is not our PeerId {local}")
    _check_timeout(handshake_timeout)

    async def connected(reader: _asyncio.StreamReader, writer: _asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            secure_reader, secure_writer = await upgrade_inbound(
                reader, writer, config, handshake_timeout=handshake_timeout
            )
        except (P2psecError, OSError) as err:
            logger.warning("p2psec: the inbound upgrade from %s failed: %s: %s", peer, type(err).__name__, err)
            return
        except Exception:
            logger.exception("p2psec: the inbound upgrade from %s failed", peer)
            return
        try:
            await handler(secure_reader, secure_writer)
        except Exception:
            logger.exception("p2psec: the handler for %s (%s) failed", peer, secure_reader.remote_peer_id)
            secure_writer.close()

    server = await _asyncio.start_server(connected, host, port)
    multiaddrs = [tcp_multiaddr(sock.getsockname()[0], sock.getsockname()[1], local) for sock in server.sockets]
    return Server(server, multiaddrs)
