"""The sans-IO steps the asyncio and trio drivers share (no I/O here: bytes in, bytes out).

- :func:`feed_upgrade` hands received bytes to an upgrade machine and returns the
  bytes it did not take (a partial message, or, once the upgrade is complete, the
  channel's first ciphertext).
- :func:`drain_events` collects the machine's events.
- :class:`Inbox` keeps the ciphertext a channel did not take yet (it stops taking while
  received plaintext waits to be read) and feeds it again as plaintext is read.
- :func:`seal` writes plaintext fully into a channel and returns the ciphertext to send.
"""

from __future__ import annotations

from typing import Union

from ._native import Dialer, Listener, SecureChannel
from .errors import ConnectionClosed, LocalError
from .events import Event

__all__ = ["Machine", "READ_SIZE", "feed_upgrade", "drain_events", "layer_of", "Inbox", "seal"]

Machine = Union[Dialer, Listener]
"""Either side of an upgrade."""

READ_SIZE = 256 * 1024
"""Bytes a driver asks of its transport per read (a Noise frame is at most 64 KiB)."""

_WRITE_WINDOW = 256 * 1024
"""Plaintext offered to the channel per write (it takes about 64 KiB at a time)."""


def feed_upgrade(machine: Machine, pending: bytes, data: bytes | bytearray) -> bytes:
    """Feeds ``pending + data`` to ``machine``; returns what it did not consume: the
    start of a message still incomplete, or (once ``machine.is_complete``) the bytes
    past the upgrade, which belong to the channel. Raises the machine's error."""
    buffer = pending + data if pending else bytes(data)
    while buffer and not machine.is_complete:
        used = machine.receive_data(buffer)
        if used == 0:
            break
        buffer = buffer[used:]
    return buffer


def drain_events(machine: Machine) -> list[Event]:
    """Every event the machine has waiting, in order."""
    events: list[Event] = []
    while (event := machine.next_event()) is not None:
        events.append(event)
    return events


def layer_of(channel: SecureChannel) -> str:
    """The error layer of the channel's security protocol (``"noise"``, ``"tls"``,
    ``"secio"``)."""
    return channel.security.strip("/").split("/", 1)[0]


class Inbox:
    """The ciphertext a channel has not taken yet, fed again as plaintext is read."""

    def __init__(self, channel: SecureChannel, received: bytes = b"") -> None:
        """``received``: ciphertext read past the upgrade (the channel's first input)."""
        self.channel = channel
        self.pending = b""
        self.feed(received)

    def feed(self, data: bytes | bytearray) -> None:
        """Hands ``data`` (after what waits) to the channel; keeps what it does not take.
        Raises the channel's error."""
        buffer = self.pending + data if self.pending else bytes(data)
        if buffer:
            used = self.channel.receive_data(buffer)
            self.pending = buffer[used:]

    def read(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` of the plaintext waiting (``None``: all of it; ``b""``:
        none waits), then feeds the held ciphertext again."""
        readable = self.channel.readable
        if not readable:
            return b""
        data = self.channel.read(readable if max_bytes is None else max(1, min(max_bytes, readable)))
        if self.pending:
            self.feed(b"")
        return data

    def end_of_stream(self) -> None:
        """The transport's stream ended: raises :class:`~p2psec.ConnectionClosed` when
        it ended inside a frame (a truncated frame); otherwise does nothing."""
        if self.channel.buffered_input or self.pending:
            layer = layer_of(self.channel)
            raise ConnectionClosed(
                f"{layer}: the stream ended inside a frame ({self.channel.buffered_input} bytes of it)",
                fault="peer_misbehaved",
                layer=layer,
            )


def seal(channel: SecureChannel, data: bytes | bytearray | memoryview) -> list[bytes]:
    """Writes all of ``data`` into ``channel``; returns the ciphertext to send, in order
    (the channel's output is taken whenever it did not take a write whole). Raises the
    channel's error."""
    out: list[bytes] = []
    view = memoryview(data).cast("B")
    offset = 0
    while offset < len(view):
        # the channel takes bytes: offer it a bounded window, not a copy of all the rest
        taken = channel.write(bytes(view[offset : offset + _WRITE_WINDOW]))
        chunk = channel.data_to_send()
        if chunk:
            out.append(chunk)
        elif not taken:
            layer = layer_of(channel)
            raise LocalError(f"{layer}: the channel takes no more data", layer=layer)
        offset += taken
    return out
