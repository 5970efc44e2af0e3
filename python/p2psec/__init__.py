"""p2psec: libp2p connection security as sans-IO machines.

The machines take bytes in and hand bytes out; they never touch a socket, a clock or a
hidden random number generator. Drive them yourself (h11 style)::

    import p2psec

    config = p2psec.UpgradeConfig(p2psec.Keypair.generate())
    dialer = p2psec.Dialer(config, expected_peer)
    sock.sendall(dialer.data_to_send())
    pending = b""
    while not dialer.is_complete:
        data = sock.recv(65536)
        if not data:
            dialer.receive_eof()            # raises ConnectionClosed
        pending += data
        pending = pending[dialer.receive_data(pending):]  # whole messages only
        sock.sendall(dialer.data_to_send())
    channel = dialer.into_channel()
    channel.receive_data(pending)           # bytes past the upgrade are the channel's

or let a driver do it: :mod:`p2psec.asyncio`, :mod:`p2psec.trio`, and
:mod:`p2psec.libp2p` (a security transport for py-libp2p hosts).
"""

from __future__ import annotations

from ._native import (
    SECURITY_PROTOCOLS,
    Dialer,
    Keypair,
    Listener,
    PeerId,
    SecureChannel,
    UpgradeConfig,
    __version__,
    parse_multiaddr,
    tcp_multiaddr,
)
from .errors import (
    ConnectionClosed,
    HandshakeError,
    HandshakeTimeout,
    InvalidInput,
    LocalError,
    NegotiationError,
    P2psecError,
    PeerIdMismatch,
    ProtocolViolation,
    UsageError,
)
from .events import Event, RemoteIdentified, SecurityAgreed, UpgradeComplete

YAMUX = "/yamux/1.0.0"
"""The yamux muxer's protocol id (the default muxer)."""

MPLEX = "/mplex/6.7.0"
"""The mplex muxer's protocol id (SECIO-era peers)."""

__all__ = [
    "SECURITY_PROTOCOLS",
    "YAMUX",
    "MPLEX",
    "Dialer",
    "Keypair",
    "Listener",
    "PeerId",
    "SecureChannel",
    "UpgradeConfig",
    "__version__",
    "parse_multiaddr",
    "tcp_multiaddr",
    "Event",
    "RemoteIdentified",
    "SecurityAgreed",
    "UpgradeComplete",
    "P2psecError",
    "NegotiationError",
    "HandshakeError",
    "PeerIdMismatch",
    "ProtocolViolation",
    "ConnectionClosed",
    "UsageError",
    "InvalidInput",
    "LocalError",
    "HandshakeTimeout",
]
