"""The exceptions p2psec raises.

Every error the library reports is a :class:`P2psecError` whose message is the library's
own named error (``"noise: the remote's identity signature does not verify"``), with the
stable numeric ``code`` the Rust library, the C ABI and these bindings share, the
``fault`` group and the ``layer`` (the machine that failed). The class says what to do
about it:

- :class:`NegotiationError`: the peers share no security protocol or muxer.
- :class:`HandshakeError`: a cryptographic check failed (a signature, a certificate,
  decryption) or the peers' handshake options are incompatible.
- :class:`PeerIdMismatch` (a ``HandshakeError``): the remote proved another identity than
  the one dialed.
- :class:`ProtocolViolation`: the peer's bytes are malformed or out of order.
- :class:`ConnectionClosed`: the peer closed the connection during the upgrade.
- :class:`UsageError`: a call out of order (a bug in the caller).
- :class:`InvalidInput` (also a ``ValueError``): a bad argument: a key, a PeerId's text,
  a multiaddr, a seed of the wrong length.
- :class:`LocalError`: something failed on our side (the crypto backend, randomness).

A machine that raised keeps its error: every later call raises the same error again.
"""

from __future__ import annotations

__all__ = [
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


class P2psecError(Exception):
    """Any error p2psec reports.

    ``code`` is the library's stable number (``LGNN``: layer, fault group, number; 0 for
    errors raised by the Python layer itself), ``fault`` its group (``invalid_message``,
    ``peer_misbehaved``, ``peer_incompatible``, ``api_misuse``, ``local``) and ``layer``
    the machine that failed (``multistream``, ``noise``, ``tls``, ``secio``, ``upgrade``,
    ``identity``, ``pnet``).
    """

    code: int
    fault: str
    layer: str

    def __init__(self, message: str, code: int = 0, fault: str = "local", layer: str = "upgrade") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fault = fault
        self.layer = layer

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"


class NegotiationError(P2psecError):
    """The peers share no security protocol or muxer (multistream-select failed), or the
    peer refused a protocol remembered from an earlier connection."""


class HandshakeError(P2psecError):
    """The security handshake failed: a signature, certificate or decryption check, or
    handshake options the two sides do not share."""


class PeerIdMismatch(HandshakeError):
    """The remote proved an identity other than the PeerId expected."""


class ProtocolViolation(P2psecError):
    """The peer's bytes are malformed, oversized or illegal at this point."""


class ConnectionClosed(P2psecError):
    """The peer closed the connection before the upgrade completed (or inside a frame)."""


class UsageError(P2psecError):
    """A call out of order or a bad configuration: a bug in the caller."""


class InvalidInput(P2psecError, ValueError):
    """A bad argument: a key or PeerId that does not parse, a seed of the wrong length,
    an unknown protocol name."""


class LocalError(P2psecError):
    """Something failed on our side: the crypto backend, randomness, an internal rule."""


class HandshakeTimeout(P2psecError, TimeoutError):
    """A driver's handshake deadline passed before the upgrade completed."""

    def __init__(self, message: str, code: int = 0, fault: str = "peer_misbehaved", layer: str = "upgrade") -> None:
        super().__init__(message, code, fault, layer)
