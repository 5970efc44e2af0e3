"""A trio driver: p2psec's upgrade over a ``trio.abc.Stream``, and the secured
connection as a ``trio.abc.Stream`` of plaintext::

    import p2psec
    import p2psec.trio

    config = p2psec.UpgradeConfig(p2psec.Keypair.generate())
    stream = await p2psec.trio.dial("/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo...", config)
    await stream.send_all(b"...")   # the muxer's bytes (the upgrade agreed on stream.muxer)
    data = await stream.receive_some()

    async def handler(stream: p2psec.trio.SecureStream) -> None: ...
    async with trio.open_nursery() as nursery:
        addrs = await nursery.start(p2psec.trio.serve, handler, "/ip4/127.0.0.1/tcp/0", config)

The driver only moves bytes: the machines (:class:`p2psec.Dialer`,
:class:`p2psec.Listener`, :class:`p2psec.SecureChannel`) do the protocol, and their
errors propagate as the :mod:`p2psec.errors` exceptions; the transport's own failures
are trio's (``trio.BrokenResourceError``). An upgrade that does not complete within
``handshake_timeout`` seconds raises :class:`p2psec.HandshakeTimeout`; a failed upgrade
closes the stream.
"""

from __future__ import annotations

# absolute imports: this is the trio library, not this module
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn, Protocol

import trio

from ._drive import READ_SIZE, Inbox, Machine, drain_events, feed_upgrade, seal
from ._native import Dialer, Listener, PeerId, SecureChannel, UpgradeConfig, parse_multiaddr, tcp_multiaddr
from .errors import HandshakeTimeout, InvalidInput, P2psecError

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "dial",
    "upgrade_outbound",
    "upgrade_inbound",
    "serve",
    "SecureStream",
]

logger = logging.getLogger(__name__)
"""This driver's logger (``p2psec.trio``): failed inbound upgrades are logged as warnings."""

DEFAULT_HANDSHAKE_TIMEOUT: float = 10.0
"""Seconds an upgrade may take before it fails with :class:`p2psec.HandshakeTimeout`."""

_CLOSE_FLUSH_TIMEOUT = 1.0
"""Seconds ``aclose()`` waits to send what the channel still holds (TLS close_notify)."""

_SEND_WINDOW = 1024 * 1024
"""Plaintext sealed per transport send in ``send_all`` (bounds the ciphertext held)."""

_TRANSPORT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class _TaskStatus(Protocol):
    """What ``nursery.start`` hands a task (``trio.TaskStatus[list[str]]``)."""

    def started(self, value: list[str]) -> None: ...


def _check_timeout(timeout: float) -> None:
    if not timeout > 0:  # NaN too
        raise InvalidInput("handshake_timeout must be a positive number of seconds")


def _expected(from_addr: PeerId | None, given: PeerId | None) -> PeerId | None:
    if given is not None and from_addr is not None and given != from_addr:
        raise InvalidInput(f"expected_peer {given} differs from the multiaddr's /p2p/{from_addr}")
    return given if given is not None else from_addr


class SecureStream(trio.abc.Stream):
    """A secured connection as a ``trio.abc.Stream`` of plaintext (the muxer's bytes);
    the ciphertext goes through the transport stream it was upgraded from.

    One task may send while another receives; two senders (or two receivers) at once
    raise ``trio.BusyResourceError``.
    """

    def __init__(self, stream: trio.abc.Stream, channel: SecureChannel, received: bytes = b"") -> None:
        """Wraps a complete upgrade's ``channel`` over ``stream``; ``received``: the
        bytes read past the upgrade (the channel's first input). Made by the driver."""
        self._stream = stream
        self._channel = channel
        self._inbox = Inbox(channel, received)
        self._outbox: list[bytes] = []  # ciphertext taken from the channel, in order
        self._send_lock = trio.StrictFIFOLock()
        self._sending = False
        self._receiving = False
        self._eof = False
        self._closed = False
        self._take_output()

    @property
    def transport_stream(self) -> trio.abc.Stream:
        """The stream carrying the ciphertext."""
        return self._stream

    @property
    def remote_peer_id(self) -> PeerId:
        """The PeerId the remote proved in the handshake."""
        return self._channel.remote_peer_id

    @property
    def security(self) -> str:
        """The security protocol's id: ``"/noise"`` or ``"/tls/1.0.0"``."""
        return self._channel.security

    @property
    def muxer(self) -> str | None:
        """The muxer the upgrade agreed on (``"/yamux/1.0.0"``), or ``None``."""
        return self._channel.muxer

    @property
    def cipher(self) -> str:
        """The cipher in use (``"ChaChaPoly"``, a TLS 1.3 suite's name)."""
        return self._channel.cipher

    def _take_output(self) -> None:
        out = self._channel.data_to_send()
        if out:
            self._outbox.append(out)

    async def _flush(self) -> None:
        """Sends the outbox, in order, one sender at a time."""
        async with self._send_lock:
            while self._outbox:
                chunk = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
                self._outbox.clear()
                await self._stream.send_all(chunk)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypts ``data`` and sends it all. Raises ``trio.ClosedResourceError`` after
        :meth:`aclose`, the channel's error if it failed, the transport's."""
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._sending = True
        try:
            if self._closed:
                raise trio.ClosedResourceError("this stream was closed")
            view = memoryview(data).cast("B")
            if not view:
                await trio.lowlevel.checkpoint()
                return
            for offset in range(0, len(view), _SEND_WINDOW):
                self._outbox.extend(seal(self._channel, view[offset : offset + _SEND_WINDOW]))
                await self._flush()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Waits until the transport may take more (see ``trio.abc.SendStream``)."""
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._sending = True
        try:
            if self._closed:
                raise trio.ClosedResourceError("this stream was closed")
            await self._stream.wait_send_all_might_not_block()
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` of plaintext (``None``: all that waits), waiting for some.
        ``b""`` at the end of the stream (the transport's, or TLS's close_notify);
        raises :class:`p2psec.ConnectionClosed` when the stream ended inside a frame,
        the channel's error for a bad frame, ``trio.ClosedResourceError`` after
        :meth:`aclose`."""
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this stream")
        self._receiving = True
        try:
            checkpointed = False
            while True:
                if self._closed:
                    raise trio.ClosedResourceError("this stream was closed")
                data = self._inbox.read(max_bytes)
                if not data and self._eof:
                    self._inbox.end_of_stream()  # raises for a truncated frame
                if data or self._eof or self._channel.peer_closed:
                    if not checkpointed:
                        await trio.lowlevel.checkpoint()
                    return data
                raw = await self._stream.receive_some(READ_SIZE)
                checkpointed = True
                if not raw:
                    self._eof = True
                    continue
                self._inbox.feed(raw)
                # TLS may answer what it received (a KeyUpdate); a sender holding the
                # lock sends it with its own
                self._take_output()
                if self._outbox and not self._send_lock.locked():
                    await self._flush()
        finally:
            self._receiving = False

    async def aclose(self) -> None:
        """Closes the channel (TLS sends its close_notify, within a second) and the
        transport stream. A second call does nothing."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        try:
            self._channel.close()
            self._take_output()
            if self._outbox and not self._send_lock.locked():
                with trio.move_on_after(_CLOSE_FLUSH_TIMEOUT):
                    await self._flush()
        except _TRANSPORT_ERRORS:
            pass
        finally:
            await self._stream.aclose()

    def __repr__(self) -> str:
        return f"SecureStream({self._channel.security}, remote={self._channel.remote_peer_id})"


async def _send(stream: trio.abc.Stream, data: bytes) -> None:
    if data:
        await stream.send_all(data)


async def _handshake(stream: trio.abc.Stream, machine: Machine) -> tuple[SecureChannel, bytes]:
    """Runs the machine to completion; returns the channel and the bytes read past the
    upgrade."""
    await _send(stream, machine.data_to_send())
    pending = b""
    while not machine.is_complete:
        data = await stream.receive_some(READ_SIZE)
        if not data:
            machine.receive_eof()  # raises ConnectionClosed (the upgrade is not complete)
            continue
        pending = feed_upgrade(machine, pending, data)
        for event in drain_events(machine):
            logger.debug("upgrade event: %r", event)
        await _send(stream, machine.data_to_send())
    return machine.into_channel(), pending


async def _upgrade(stream: trio.abc.Stream, machine: Machine, deadline: float, budget: float) -> SecureStream:
    """The upgrade by ``deadline`` (trio's clock; ``budget``: its seconds, for the
    error's message); closes the stream when it fails."""
    try:
        with trio.fail_at(deadline):
            channel, rest = await _handshake(stream, machine)
            secure = SecureStream(stream, channel, rest)
            await secure._flush()
    except trio.TooSlowError:
        await trio.aclose_forcefully(stream)
        raise HandshakeTimeout(f"the upgrade did not complete within {budget} s") from None
    except P2psecError:
        # a failed machine may still have its last word to send (a TLS alert, `na`)
        with trio.move_on_after(_CLOSE_FLUSH_TIMEOUT):
            try:
                await _send(stream, machine.data_to_send())
            except _TRANSPORT_ERRORS:
                pass
        await trio.aclose_forcefully(stream)
        raise
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return secure


async def upgrade_outbound(
    stream: trio.abc.Stream,
    config: UpgradeConfig,
    *,
    expected_peer: PeerId | None = None,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    now: float | None = None,
    seed: bytes | None = None,
) -> SecureStream:
    """Runs the dialer's upgrade over a stream we opened; returns the secured stream.
    ``expected_peer``: the PeerId the remote must prove (else
    :class:`p2psec.PeerIdMismatch`); ``now``/``seed``: as for :class:`p2psec.Dialer`.
    A failed or timed-out upgrade closes ``stream`` and raises."""
    _check_timeout(handshake_timeout)
    machine = Dialer(config, expected_peer, now=now, seed=seed)
    return await _upgrade(stream, machine, trio.current_time() + handshake_timeout, handshake_timeout)


async def upgrade_inbound(
    stream: trio.abc.Stream,
    config: UpgradeConfig,
    *,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    now: float | None = None,
    seed: bytes | None = None,
) -> SecureStream:
    """Runs the listener's upgrade over a stream we accepted; returns the secured
    stream. A failed or timed-out upgrade closes ``stream`` and raises."""
    _check_timeout(handshake_timeout)
    machine = Listener(config, now=now, seed=seed)
    return await _upgrade(stream, machine, trio.current_time() + handshake_timeout, handshake_timeout)


async def dial(
    multiaddr: str,
    config: UpgradeConfig,
    *,
    expected_peer: PeerId | None = None,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    now: float | None = None,
    seed: bytes | None = None,
) -> SecureStream:
    """Opens a TCP stream to ``multiaddr`` (``/ip4|ip6/…/tcp/…[/p2p/<PeerId>]``) and
    runs the dialer's upgrade; returns the secured stream.

    The remote must prove the multiaddr's ``/p2p/`` PeerId, or ``expected_peer``
    (:class:`p2psec.InvalidInput` when both are given and differ). ``handshake_timeout``
    bounds the TCP connect and the upgrade together.
    """
    host, port, in_addr = parse_multiaddr(multiaddr)
    expected = _expected(in_addr, expected_peer)
    _check_timeout(handshake_timeout)
    machine = Dialer(config, expected, now=now, seed=seed)
    deadline = trio.current_time() + handshake_timeout
    try:
        with trio.fail_at(deadline):
            stream = await trio.open_tcp_stream(host, port)
    except trio.TooSlowError:
        raise HandshakeTimeout(f"the TCP connection to {multiaddr} did not open within {handshake_timeout} s") from None
    return await _upgrade(stream, machine, deadline, handshake_timeout)


async def serve(
    handler: Callable[[SecureStream], Awaitable[None]],
    multiaddr: str,
    config: UpgradeConfig,
    *,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    task_status: _TaskStatus = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Listens on ``multiaddr`` (``"/ip4/127.0.0.1/tcp/0"``: any free port) and runs the
    listener's upgrade on each connection, then ``await handler(stream)``; the secured
    stream is closed when the handler returns. Start it with ``nursery.start``: it
    reports the addresses it listens on (each ending in ``/p2p/<our PeerId>``).

    A failed or timed-out upgrade closes its connection and is logged (this module's
    logger, ``p2psec.trio``). A handler's exception propagates (as with
    ``trio.serve_tcp``).
    """
    host, port, in_addr = parse_multiaddr(multiaddr)
    local = config.local_peer_id
    if in_addr is not None and in_addr != local:
        raise InvalidInput(f"the multiaddr's /p2p/{in_addr} is not our PeerId {local}")
    _check_timeout(handshake_timeout)

    async def connected(stream: trio.SocketStream) -> None:
        try:
            peer = stream.socket.getpeername()
        except OSError:
            peer = None
        try:
            secure = await upgrade_inbound(stream, config, handshake_timeout=handshake_timeout)
        except (P2psecError, *_TRANSPORT_ERRORS) as err:
            logger.warning("p2psec: the inbound upgrade from %s failed: %s: %s", peer, type(err).__name__, err)
            return
        async with secure:
            await handler(secure)

    listeners = await trio.open_tcp_listeners(port, host=host)
    addrs = [tcp_multiaddr(lst.socket.getsockname()[0], lst.socket.getsockname()[1], local) for lst in listeners]
    task_status.started(addrs)
    await trio.serve_listeners(connected, listeners)
