"""A p2psec dialer and listener over a real socket pair, driven by hand (sans-IO).

The machines never touch the socket: this file reads and writes it, and hands the bytes
over. Each side runs in its own thread; the dialer sends a message, the listener answers.

    python examples/sansio_loop.py
"""

from __future__ import annotations

import socket
import threading

import p2psec

MESSAGE = b"hello from the dialer, through Noise"


def upgrade(
    sock: socket.socket, machine: p2psec.Dialer | p2psec.Listener, name: str
) -> tuple[p2psec.SecureChannel, bytes]:
    """Runs one upgrade to completion over a blocking socket.

    Returns the secured channel and the bytes read past the end of the upgrade: they are
    the channel's first input (the peer may already have sent application data)."""
    buffered = b""
    sock.sendall(machine.data_to_send())  # the dialer's first flight, the listener's header
    while not machine.is_complete:
        data = sock.recv(65536)
        if not data:
            raise p2psec.ConnectionClosed("the peer closed the connection during the upgrade")
        buffered += data
        # the machine consumes whole messages only: keep what it did not take
        used = machine.receive_data(buffered)
        buffered = buffered[used:]
        sock.sendall(machine.data_to_send())
        while (event := machine.next_event()) is not None:
            print(f"{name}: {event}")
    channel = machine.into_channel()
    sock.sendall(channel.data_to_send())  # anything the upgrade left to send
    return channel, buffered


def send(sock: socket.socket, channel: p2psec.SecureChannel, data: bytes) -> None:
    """Encrypts and sends all of ``data`` (a write may take less than offered)."""
    while data:
        taken = channel.write(data)
        data = data[taken:]
        sock.sendall(channel.data_to_send())


def receive_until_eof(sock: socket.socket, channel: p2psec.SecureChannel, first: bytes) -> bytes:
    """Decrypts everything the peer sends until it closes its side of the socket (Noise
    has no closing message: the end of the byte stream is the end)."""
    received = bytearray()
    pending = first
    while True:
        while pending:
            # the channel refuses input only while decrypted plaintext waits to be read
            used = channel.receive_data(pending)
            pending = pending[used:]
            received += channel.read()
        data = sock.recv(65536)
        if not data:
            break
        pending = data
    if channel.buffered_input:
        raise p2psec.ConnectionClosed("the peer closed the connection inside a frame")
    return bytes(received)


def listen(sock: socket.socket, config: p2psec.UpgradeConfig, errors: list[BaseException]) -> None:
    try:
        channel, first = upgrade(sock, p2psec.Listener(config), "listener")
        print(f"listener: secured with {channel.remote_peer_id}")
        print(f"listener: {channel.security}, {channel.cipher}, muxer {channel.muxer}")
        message = receive_until_eof(sock, channel, first)
        print(f"listener: received {message!r}")
        send(sock, channel, b"got %d bytes" % len(message))
        sock.shutdown(socket.SHUT_WR)
    except BaseException as e:  # reported by the main thread
        errors.append(e)
    finally:
        sock.close()


def main() -> None:
    # one identity per side; a real application loads its key from storage
    dialer_key = p2psec.Keypair.generate()
    listener_key = p2psec.Keypair.generate()
    # a configuration is built once per identity and reused for every connection
    dialer_config = p2psec.UpgradeConfig(dialer_key, security=["noise"])
    listener_config = p2psec.UpgradeConfig(listener_key, security=["noise"])

    dialer_sock, listener_sock = socket.socketpair()
    for s in (dialer_sock, listener_sock):
        s.settimeout(10)
    errors: list[BaseException] = []
    thread = threading.Thread(target=listen, args=(listener_sock, listener_config, errors))
    thread.start()
    try:
        # the dialer knows whom it dials (the /p2p/ part of a multiaddr): the handshake
        # fails with PeerIdMismatch if the remote proves another identity
        dialer = p2psec.Dialer(dialer_config, listener_key.peer_id)
        channel, first = upgrade(dialer_sock, dialer, "dialer")
        print(f"dialer: remote PeerId {channel.remote_peer_id}")
        send(dialer_sock, channel, MESSAGE)
        dialer_sock.shutdown(socket.SHUT_WR)  # done sending: the listener sees the end
        reply = receive_until_eof(dialer_sock, channel, first)
        print(f"dialer: received {reply!r}")
        assert channel.remote_peer_id == listener_key.peer_id
        assert reply == b"got %d bytes" % len(MESSAGE)
    finally:
        dialer_sock.close()
        thread.join(10)
    if errors:
        raise errors[0]


if __name__ == "__main__":
    main()
