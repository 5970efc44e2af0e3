"""A security transport for py-libp2p hosts: p2psec's Noise and TLS 1.3 in a py-libp2p
``Swarm``.

py-libp2p (0.8.1, ``pip install './python[libp2p]'``) keeps its own multistream-select,
muxers (yamux, mplex) and protocols; p2psec does the handshake and the transport
encryption of the security protocol py-libp2p agreed on::

    from libp2p import new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    import p2psec.libp2p

    key_pair = create_new_key_pair()
    host = new_host(key_pair=key_pair, sec_opt=p2psec.libp2p.security_options(key_pair))
    # or only one of them:
    #   sec_opt={p2psec.libp2p.NOISE_PROTOCOL_ID: p2psec.libp2p.Noise(key_pair)}

How it fits py-libp2p's interfaces:

- :class:`Noise` and :class:`Tls` are ``libp2p.abc.ISecureTransport``:
  ``secure_outbound(conn, peer_id)`` and ``secure_inbound(conn)`` run the handshake
  over the ``IRawConnection`` py-libp2p hands over once it negotiated ``/noise`` or
  ``/tls/1.0.0`` (``Dialer.with_agreed_security`` / ``Listener.with_agreed_security``,
  no muxer in the handshake: py-libp2p negotiates it afterwards), within
  ``handshake_timeout`` seconds.
- A failed handshake raises ``libp2p.security.exceptions.HandshakeFailure`` (what
  py-libp2p's ``TransportUpgrader`` turns into ``SecurityUpgradeFailure``), chained
  from the p2psec error (``__cause__``: a :class:`p2psec.P2psecError`, a
  :class:`p2psec.HandshakeTimeout` when the deadline passed, or the connection's I/O
  error).
- The connection is a :class:`SecureConn`, an ``ISecureConn`` (the methods py-libp2p's
  own ``SecureSession`` has): ``read(n)`` returns at most ``n`` bytes (all that is
  waiting when ``n`` is ``None``) and raises
  ``libp2p.io.exceptions.ConnectionClosedError`` at the end of the stream, as
  py-libp2p's own secure connections do; a frame that fails to decrypt raises
  ``libp2p.network.connection.exceptions.RawConnError`` chained from the p2psec error.
"""

from __future__ import annotations

import trio
from libp2p.abc import IRawConnection, ISecureConn, ISecureTransport
from libp2p.connection_types import ConnectionType
from libp2p.crypto.keys import KeyPair, KeyType, PrivateKey, PublicKey
from libp2p.crypto.serialization import deserialize_public_key
from libp2p.custom_types import TProtocol
from libp2p.io.exceptions import ConnectionClosedError, IOException
from libp2p.network.connection.exceptions import RawConnError
from libp2p.peer.id import ID
from libp2p.security.exceptions import HandshakeFailure
from multiaddr import Multiaddr  # type: ignore[import-untyped]  # multiaddr has no types

from ._native import Dialer, Keypair, Listener, PeerId, SecureChannel, UpgradeConfig
from .errors import HandshakeTimeout, InvalidInput, P2psecError

__all__ = [
    "NOISE_PROTOCOL_ID",
    "TLS_PROTOCOL_ID",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "P2psecSecureTransport",
    "Noise",
    "Tls",
    "SecureConn",
    "security_options",
    "keypair_from_libp2p",
]

NOISE_PROTOCOL_ID: TProtocol = TProtocol("/noise")
"""The Noise security protocol's id (the key for py-libp2p's ``sec_opt``)."""

TLS_PROTOCOL_ID: TProtocol = TProtocol("/tls/1.0.0")
"""The TLS 1.3 security protocol's id (the key for py-libp2p's ``sec_opt``)."""

DEFAULT_HANDSHAKE_TIMEOUT: float = 10.0
"""Seconds a handshake may take before it fails with :class:`p2psec.HandshakeTimeout`."""

_READ_SIZE = 256 * 1024
"""Bytes asked of the raw connection per read (a Noise frame is at most 64 KiB)."""

_CLOSE_FLUSH_TIMEOUT = 1.0
"""Seconds ``close()`` waits to send what the channel still holds (TLS close_notify)."""


def keypair_from_libp2p(key_pair: KeyPair) -> Keypair:
    """p2psec's :class:`~p2psec.Keypair` for a py-libp2p ``KeyPair`` (Ed25519, Secp256k1,
    RSA).

    The key crosses as libp2p's protobuf ``PrivateKey``, except py-libp2p's Ed25519
    private key, whose serialization holds the 32-byte seed only (the libp2p form is
    seed and public key, 64 bytes): it crosses as that seed. Raises
    :class:`p2psec.InvalidInput` for a key p2psec does not read (py-libp2p's ECC keys:
    key type 4, ``ECC_P256``, which libp2p's key spec does not have), or one whose public
    half is not ``key_pair.public_key``.
    """
    private = key_pair.private_key
    raw = private.to_bytes()
    if private.get_type() == KeyType.Ed25519 and len(raw) == 32:
        keypair = Keypair.from_seed(raw, "ed25519")
    else:
        keypair = Keypair.from_protobuf(private.serialize())
    if keypair.public_key_protobuf() != key_pair.public_key.serialize():
        raise InvalidInput("the key pair's public key is not its private key's", layer="identity")
    return keypair


def _public_key(channel: SecureChannel) -> PublicKey | None:
    """The remote's identity key (the one its handshake proved) as a py-libp2p key, or
    ``None`` when py-libp2p has no class for its type."""
    try:
        return deserialize_public_key(channel.remote_public_key_protobuf)
    except Exception:  # py-libp2p's MissingDeserializerError, or its parsers' errors
        return None


class SecureConn(ISecureConn):
    """A connection secured by p2psec: py-libp2p's ``ISecureConn`` over a
    :class:`p2psec.SecureChannel` and the raw connection it was upgraded from.

    ``read``/``write`` carry plaintext (the muxer's bytes); the ciphertext goes through
    the raw connection. Reads and writes may run in different tasks at once.
    """

    is_initiator: bool
    """Whether we dialed the connection (py-libp2p's ``IRawConnection`` attribute)."""

    def __init__(
        self,
        conn: IRawConnection,
        channel: SecureChannel,
        *,
        is_initiator: bool,
        local_peer: ID,
        local_private_key: PrivateKey,
        received: bytes = b"",
    ) -> None:
        """Wraps a complete upgrade's ``channel``; ``received``: raw bytes read past the
        handshake's end (the channel's first input)."""
        self.is_initiator = is_initiator
        self._conn = conn
        self._channel = channel
        self._local_peer = local_peer
        self._local_private_key = local_private_key
        remote = channel.remote_peer_id
        self._remote_peer = ID(remote.to_bytes())
        self._remote_public_key = _public_key(channel)
        self._pending = b""  # ciphertext the channel did not take yet (plaintext waits)
        self._outbox: list[bytes] = []  # ciphertext taken from the channel, in order
        self._read_lock = trio.Lock()
        self._write_lock = trio.Lock()
        self._eof = False
        self._closed = False
        self._feed(received)
        self._take_output()

    # -- identities ---------------------------------------------------------------

    def get_local_peer(self) -> ID:
        """Our PeerId."""
        return self._local_peer

    def get_local_private_key(self) -> PrivateKey:
        """Our identity's private key (the py-libp2p key the transport was given)."""
        return self._local_private_key

    def get_remote_peer(self) -> ID:
        """The PeerId the remote proved in the handshake."""
        return self._remote_peer

    def get_remote_public_key(self) -> PublicKey:
        """The remote's identity public key (as a py-libp2p key): the one its handshake
        signature was checked against, whatever its type.

        Raises ``LookupError`` when py-libp2p has no class for the key's type.
        """
        if self._remote_public_key is None:
            raise LookupError(f"py-libp2p cannot represent the public key of {self._remote_peer}")
        return self._remote_public_key

    # -- what the raw connection knows ----------------------------------------------

    def get_remote_address(self) -> tuple[str, int] | None:
        """The raw connection's remote (host, port), if it has one."""
        return self._conn.get_remote_address()

    def get_transport_addresses(self) -> list[Multiaddr]:
        """The raw connection's transport addresses."""
        return self._conn.get_transport_addresses()

    def get_connection_type(self) -> ConnectionType:
        """The raw connection's type (direct, relayed)."""
        return self._conn.get_connection_type()

    # -- what the channel knows ------------------------------------------------------

    @property
    def security(self) -> str:
        """The security protocol's id: ``"/noise"`` or ``"/tls/1.0.0"``."""
        return self._channel.security

    @property
    def cipher(self) -> str:
        """The cipher in use (``"ChaChaPoly"``, a TLS 1.3 suite's name)."""
        return self._channel.cipher

    # -- plaintext in and out ----------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        """Hands ciphertext to the channel; keeps what it does not take (it stops while
        received plaintext waits to be read)."""
        buffer = self._pending + data if self._pending else data
        if not buffer:
            return
        try:
            used = self._channel.receive_data(buffer)
        except P2psecError as err:
            raise RawConnError(f"p2psec {self._channel.security}: {err}") from err
        self._pending = buffer[used:]

    def _take_output(self) -> None:
        """Moves the channel's ciphertext to the outbox (in the order it was sealed)."""
        out = self._channel.data_to_send()
        if out:
            self._outbox.append(out)

    async def _flush(self) -> None:
        """Sends the outbox, in order, one sender at a time."""
        async with self._write_lock:
            while self._outbox:
                chunk = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
                self._outbox.clear()
                await self._conn.write(chunk)

    async def read(self, n: int | None = None) -> bytes:
        """Up to ``n`` bytes of plaintext (``None``: all that is waiting), waiting for
        the peer's next frame when none is. Raises ``ConnectionClosedError`` once the
        peer's stream ended (or the connection was closed here), ``RawConnError`` for
        a frame that fails (decryption, a malformed or truncated frame)."""
        if n == 0:
            return b""
        if n is not None and n < 0:
            n = None
        while True:
            readable = self._channel.readable
            if readable:
                try:
                    data = self._channel.read(readable if n is None else n)
                except P2psecError as err:
                    raise RawConnError(f"p2psec {self._channel.security}: {err}") from err
                if self._pending:
                    try:
                        self._feed(b"")
                    except RawConnError:
                        pass  # the channel keeps its error: the next read raises it
                return data
            if self._closed:
                raise ConnectionClosedError("Connection closed")
            if self._eof or self._channel.peer_closed:
                if self._channel.buffered_input or self._pending:
                    raise RawConnError(f"p2psec {self._channel.security}: the stream ended inside a frame")
                raise ConnectionClosedError("Connection closed")
            async with self._read_lock:
                if self._channel.readable or self._eof:
                    continue  # another reader got there first
                raw = await self._conn.read(_READ_SIZE)
                if not raw:
                    self._eof = True
                    continue
                self._feed(raw)
                # TLS may answer what it received (a KeyUpdate); a writer holding the
                # lock sends it with its own
                self._take_output()
                if self._outbox and not self._write_lock.locked():
                    await self._flush()

    async def write(self, data: bytes) -> None:
        """Encrypts ``data`` and sends it. Raises ``ConnectionClosedError`` after
        ``close()``, ``RawConnError`` if the channel failed."""
        if self._closed:
            raise ConnectionClosedError("Connection closed")
        rest = bytes(data)
        while rest:
            try:
                taken = self._channel.write(rest)
            except P2psecError as err:
                raise RawConnError(f"p2psec {self._channel.security}: {err}") from err
            self._take_output()
            if not taken and not self._outbox:
                raise RawConnError(f"p2psec {self._channel.security}: the channel takes no more data")
            await self._flush()
            rest = rest[taken:]

    async def close(self) -> None:
        """Closes the channel (TLS sends its close_notify, within a second) and the raw
        connection. A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._channel.close()
        self._take_output()
        if self._outbox:
            with trio.move_on_after(_CLOSE_FLUSH_TIMEOUT):
                try:
                    await self._flush()
                except (IOException, OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
        await self._conn.close()

    def __repr__(self) -> str:
        role = "dialer" if self.is_initiator else "listener"
        return f"SecureConn({self._channel.security}, {role}, remote={self._remote_peer})"


async def _send(conn: IRawConnection, data: bytes) -> None:
    if data:
        await conn.write(data)


class P2psecSecureTransport(ISecureTransport):
    """py-libp2p's ``ISecureTransport`` for one of p2psec's security protocols (use
    :class:`Noise` or :class:`Tls`)."""

    protocol_id: TProtocol
    """The security protocol's id (the key for ``sec_opt``)."""

    _security_name: str

    def __init__(self, key_pair: KeyPair, *, handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT) -> None:
        """``key_pair``: the host's identity (the ``KeyPair`` given to ``new_host``);
        ``handshake_timeout``: seconds a handshake may take."""
        if not handshake_timeout > 0:  # NaN too
            raise InvalidInput("handshake_timeout must be a positive number of seconds")
        self.handshake_timeout = handshake_timeout
        self._key_pair = key_pair
        self._local_peer = ID.from_pubkey(key_pair.public_key)
        self._keypair = keypair_from_libp2p(key_pair)
        self._config = UpgradeConfig(self._keypair, security=[self._security_name], muxers=[], early_muxer=False)

    @property
    def local_peer(self) -> ID:
        """The host's PeerId."""
        return self._local_peer

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        """Runs the listener's handshake over ``conn`` (py-libp2p agreed on this
        protocol already); raises ``HandshakeFailure`` chained from the p2psec error."""
        machine = Listener.with_agreed_security(self._config, self.protocol_id)
        return await self._upgrade(conn, machine, is_initiator=False)

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        """Runs the dialer's handshake over ``conn``, requiring the remote to prove
        ``peer_id``; raises ``HandshakeFailure`` chained from the p2psec error
        (:class:`p2psec.PeerIdMismatch` for another identity)."""
        try:
            expected = PeerId.from_bytes(peer_id.to_bytes())
        except P2psecError as err:
            raise HandshakeFailure(f"p2psec {self.protocol_id}: the dialed PeerId is not valid: {err}") from err
        machine = Dialer.with_agreed_security(self._config, self.protocol_id, expected)
        return await self._upgrade(conn, machine, is_initiator=True)

    async def _upgrade(self, conn: IRawConnection, machine: Dialer | Listener, *, is_initiator: bool) -> SecureConn:
        pending = b""
        try:
            with trio.fail_after(self.handshake_timeout):
                await _send(conn, machine.data_to_send())
                while not machine.is_complete:
                    data = await conn.read(_READ_SIZE)
                    if not data:
                        machine.receive_eof()  # raises ConnectionClosed
                        continue
                    pending = pending + data if pending else data
                    used = machine.receive_data(pending)
                    pending = pending[used:]
                    await _send(conn, machine.data_to_send())
            channel = machine.into_channel()
        except trio.TooSlowError:
            timeout = HandshakeTimeout(
                f"the {self.protocol_id} handshake did not complete within {self.handshake_timeout} s"
            )
            raise HandshakeFailure(f"p2psec: {timeout}") from timeout
        except P2psecError as err:
            # a failed machine may still have its last word to send (a TLS alert)
            with trio.move_on_after(_CLOSE_FLUSH_TIMEOUT):
                try:
                    await _send(conn, machine.data_to_send())
                except (IOException, OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
            raise HandshakeFailure(f"p2psec {self.protocol_id}: {err}") from err
        except (IOException, OSError, trio.BrokenResourceError, trio.ClosedResourceError) as err:
            raise HandshakeFailure(f"p2psec {self.protocol_id}: the connection failed: {err!r}") from err
        try:
            return SecureConn(
                conn,
                channel,
                is_initiator=is_initiator,
                local_peer=self._local_peer,
                local_private_key=self._key_pair.private_key,
                received=pending,
            )
        except RawConnError as err:
            raise HandshakeFailure(f"p2psec {self.protocol_id}: {err}") from err

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._local_peer})"


class Noise(P2psecSecureTransport):
    """p2psec's Noise (``Noise_XX_25519_ChaChaPoly_SHA256``, libp2p's ``/noise``) as
    py-libp2p's ``ISecureTransport``: ``sec_opt={NOISE_PROTOCOL_ID: Noise(key_pair)}``."""

    protocol_id = NOISE_PROTOCOL_ID
    _security_name = "noise"


class Tls(P2psecSecureTransport):
    """p2psec's TLS 1.3 (libp2p's ``/tls/1.0.0``, rustls) as py-libp2p's
    ``ISecureTransport``: ``sec_opt={TLS_PROTOCOL_ID: Tls(key_pair)}``."""

    protocol_id = TLS_PROTOCOL_ID
    _security_name = "tls"


def security_options(
    key_pair: KeyPair, *, handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
) -> dict[TProtocol, ISecureTransport]:
    """``sec_opt`` for ``new_host``: p2psec's Noise, then its TLS (py-libp2p proposes
    them in that order)."""
    return {
        NOISE_PROTOCOL_ID: Noise(key_pair, handshake_timeout=handshake_timeout),
        TLS_PROTOCOL_ID: Tls(key_pair, handshake_timeout=handshake_timeout),
    }
