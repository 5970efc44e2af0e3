"""Benchmark: py-libp2p 0.8.1 hosts with py-libp2p's own Noise against the same hosts
with ``p2psec.libp2p.Noise`` (on both hosts), side by side in one run, over loopback.

Handshakes: sequential new connections from one host to the other: ``host.connect``
(returns once the connection is secured, muxed and registered), then ``disconnect``,
awaited before the next connect but not timed (py-libp2p 0.8.1 sleeps 0.1 s in
``Yamux.close`` and 0.1 s more in ``SwarmConn`` cleanup, the same fixed 0.2 s for either
security). The dialing hosts have ``max_connections_per_peer=1``: with the default (3),
``Swarm.dial_peer`` keeps its happy-eyeballs wait of 0.25 s running after the only
address's dial succeeded, a fixed 0.25 s on every connect whatever the security.
Besides the rate, the median time of the security upgrade alone (multistream-select
of the security protocol plus the handshake, ``TransportUpgrader.upgrade_security`` on
the dialing host) is printed, to show how much of a connect the security is.

Throughput: one stream carrying 16 MiB (quick: 4 MiB) in 64 KiB writes to a sink
protocol handler that reads until the end of the stream; timed from the first write to
the sink's last byte.

Each measurement runs ROUNDS times, native and p2psec alternately; the best counts.

Security transport alone (second section): the same comparison without the host, for
Noise (py-libp2p's ``libp2p.security.noise.transport.Transport`` against
``p2psec.libp2p.Noise``) and TLS (py-libp2p's ``libp2p.security.tls.transport.TLSTransport``
against ``p2psec.libp2p.Tls``), over loopback TCP connections made with trio and wrapped
as py-libp2p's TCP transport wraps them (``RawConnection(TrioTCPStream(stream),
initiator)``), with no multistream-select, muxer or swarm. Handshakes: 200 (quick: 50)
fresh connections one after another, ``secure_outbound`` and ``secure_inbound`` run
concurrently in a nursery; only that is timed (the TCP connect before and the close
after are not; py-libp2p's TLS builds its ``SSLContext``, certificate files included, in
every ``secure_*`` call, which is timed as part of its handshake). Throughput: over one
secured pair, 16 MiB (quick: 4 MiB) in 64 KiB ``write``s, read on the other side with
``read(65536)`` until all arrived; timed from the first write to the last byte read.
3 runs of each (quick too), native and p2psec alternately; the best counts. This section
runs first, before any host, and is printed after the host section.

    python benches/libp2p_host.py
    P2PSEC_BENCH_QUICK=1 python benches/libp2p_host.py

Prints ``handshakes_per_sec``, ``mb_per_sec`` (MiB/s) and ``ratio`` lines (the
transport section's are named ``transport_*``); asserts nothing beyond the transport
section checking that each handshake proved the right PeerIds and that every byte
arrived.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from libp2p import new_host
from libp2p.abc import IHost, INetStream, IRawConnection, ISecureConn, ISecureTransport
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.io.trio import TrioTCPStream
from libp2p.network.config import ConnectionConfig
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import Transport as NativeNoise
from libp2p.security.tls.transport import TLSTransport as NativeTls
from multiaddr import Multiaddr

import p2psec.libp2p

QUICK = os.environ.get("P2PSEC_BENCH_QUICK") == "1"
HANDSHAKES = 20 if QUICK else 100
ROUNDS = 2 if QUICK else 3
STREAM_BYTES = (4 if QUICK else 16) << 20
PIECE = 64 << 10
SINK = TProtocol("/p2psec-bench/sink/1.0.0")
LOOPBACK = [Multiaddr("/ip4/127.0.0.1/tcp/0")]
NOISE = TProtocol("/noise")

VARIANTS = ["libp2p_native_noise", "libp2p_p2psec_noise"]

TRANSPORT_HANDSHAKES = 50 if QUICK else 200
TRANSPORT_ROUNDS = 3
TRANSPORT_SECURITIES = ["noise", "tls"]
"""Each compared as ``transport_native_<security>`` against ``transport_p2psec_<security>``."""


def make_host(variant: str) -> IHost:
    kp = create_new_key_pair()
    if variant == "libp2p_native_noise":
        transport: Any = NativeNoise(kp, noise_privkey=create_x25519_key_pair().private_key)
    else:
        transport = p2psec.libp2p.Noise(kp)
    config = ConnectionConfig(max_connections_per_peer=1, auto_connect_interval=3600.0)
    return new_host(key_pair=kp, sec_opt={NOISE: transport}, connection_config=config)


def time_upgrades(host: IHost, samples: list[float]) -> None:
    """Records how long each security upgrade on ``host`` takes (seconds)."""
    upgrader: Any = getattr(host.get_network(), "upgrader")
    inner: Callable[..., Awaitable[Any]] = upgrader.upgrade_security

    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = await inner(*args, **kwargs)
        samples.append(time.perf_counter() - start)
        return result

    upgrader.upgrade_security = timed


async def handshakes(variant: str) -> tuple[float, float, float]:
    """(connections per second, median connect ms, median security upgrade ms)."""
    dialer, listener = make_host(variant), make_host(variant)
    upgrades: list[float] = []
    time_upgrades(dialer, upgrades)
    connects: list[float] = []
    async with dialer.run(LOOPBACK), listener.run(LOOPBACK):
        info = info_from_p2p_addr(listener.get_addrs()[0])
        for _ in range(HANDSHAKES):
            start = time.perf_counter()
            await dialer.connect(info)
            connects.append(time.perf_counter() - start)
            await dialer.disconnect(info.peer_id)
            while dialer.get_network().connections.get(info.peer_id) or listener.get_network().connections.get(
                dialer.get_id()
            ):
                await trio.sleep(0.001)
    return (
        len(connects) / sum(connects),
        statistics.median(connects) * 1000,
        statistics.median(upgrades) * 1000,
    )


async def throughput(variant: str) -> float:
    """MiB/s through one stream into a sink."""
    sender, sink = make_host(variant), make_host(variant)
    done = trio.Event()
    received = [0, 0.0]

    async def handle_sink(stream: INetStream) -> None:
        total = 0
        try:
            while True:
                data = await stream.read(1 << 20)
                if not data:
                    break
                total += len(data)
        except StreamEOF:
            pass
        received[0] = total
        received[1] = time.perf_counter()
        done.set()
        await stream.close()

    sink.set_stream_handler(SINK, handle_sink)
    payload = os.urandom(PIECE)
    async with sender.run(LOOPBACK), sink.run(LOOPBACK):
        info = info_from_p2p_addr(sink.get_addrs()[0])
        await sender.connect(info)
        stream = await sender.new_stream(info.peer_id, [SINK])
        start = time.perf_counter()
        for _ in range(STREAM_BYTES // PIECE):
            await stream.write(payload)
        await stream.close()
        with trio.fail_after(120):
            await done.wait()
        await sender.disconnect(info.peer_id)
    if received[0] != STREAM_BYTES:
        print(f"# {variant}: the sink got {received[0]} of {STREAM_BYTES} bytes")
    return received[0] / (received[1] - start) / (1 << 20)


# -- the security transport alone ---------------------------------------------------


def make_transport(variant: str, key_pair: Any) -> ISecureTransport:
    """A ``transport_{native,p2psec}_{noise,tls}`` transport for ``key_pair``, built as
    ``new_host`` builds py-libp2p's own ones."""
    if variant == "transport_native_noise":
        return NativeNoise(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    if variant == "transport_native_tls":
        return NativeTls(key_pair)
    if variant == "transport_p2psec_noise":
        return p2psec.libp2p.Noise(key_pair)
    if variant == "transport_p2psec_tls":
        return p2psec.libp2p.Tls(key_pair)
    raise ValueError(variant)


class Peers:
    """Two identities with the variant's transport each, and a loopback TCP listener to
    make raw connection pairs between them."""

    def __init__(self, variant: str, listener: trio.SocketListener) -> None:
        dialer_keys, listener_keys = create_new_key_pair(), create_new_key_pair()
        self.dialer = make_transport(variant, dialer_keys)
        self.listener = make_transport(variant, listener_keys)
        self.dialer_id = ID.from_pubkey(dialer_keys.public_key)
        self.listener_id = ID.from_pubkey(listener_keys.public_key)
        self._tcp = listener
        self._port = listener.socket.getsockname()[1]

    async def raw_pair(self) -> tuple[IRawConnection, IRawConnection]:
        """A fresh loopback TCP connection, as py-libp2p's TCP transport wraps it on
        either side: (the dialer's, the listener's)."""
        accepted: list[trio.SocketStream] = []

        async def accept() -> None:
            accepted.append(await self._tcp.accept())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept)
            dialed = await trio.open_tcp_stream("127.0.0.1", self._port)
        return RawConnection(TrioTCPStream(dialed), True), RawConnection(TrioTCPStream(accepted[0]), False)

    async def secure(self, out_raw: IRawConnection, in_raw: IRawConnection) -> tuple[ISecureConn, ISecureConn]:
        """Both handshakes at once: (the dialer's connection, the listener's)."""
        secured: dict[str, ISecureConn] = {}

        async def outbound() -> None:
            secured["out"] = await self.dialer.secure_outbound(out_raw, self.listener_id)

        async def inbound() -> None:
            secured["in"] = await self.listener.secure_inbound(in_raw)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(outbound)
            nursery.start_soon(inbound)
        return secured["out"], secured["in"]

    def check(self, out_conn: ISecureConn, in_conn: ISecureConn) -> None:
        if out_conn.get_remote_peer() != self.listener_id or in_conn.get_remote_peer() != self.dialer_id:
            raise AssertionError("a handshake proved the wrong PeerId")


async def close_pair(out_raw: IRawConnection, in_raw: IRawConnection) -> None:
    """Closes the TCP connection under both secured ends (the same for every variant:
    no close_notify, no flush)."""
    await out_raw.close()
    await in_raw.close()


async def transport_handshakes(variant: str, listener: trio.SocketListener) -> tuple[float, float]:
    """(handshakes per second, median handshake ms): handshakes only, not the TCP
    connects."""
    peers = Peers(variant, listener)
    times: list[float] = []
    for _ in range(TRANSPORT_HANDSHAKES):
        out_raw, in_raw = await peers.raw_pair()
        start = time.perf_counter()
        with trio.fail_after(30):
            out_conn, in_conn = await peers.secure(out_raw, in_raw)
        times.append(time.perf_counter() - start)
        peers.check(out_conn, in_conn)
        await close_pair(out_raw, in_raw)
    return len(times) / sum(times), statistics.median(times) * 1000


async def transport_throughput(variant: str, listener: trio.SocketListener) -> float:
    """MiB/s from one secured end to the other."""
    peers = Peers(variant, listener)
    out_raw, in_raw = await peers.raw_pair()
    out_conn, in_conn = await peers.secure(out_raw, in_raw)
    peers.check(out_conn, in_conn)
    payload = os.urandom(PIECE)
    received = [0, 0.0]

    async def send() -> None:
        for _ in range(STREAM_BYTES // PIECE):
            await out_conn.write(payload)

    async def receive() -> None:
        total = 0
        while total < STREAM_BYTES:
            total += len(await in_conn.read(PIECE))
        received[0] = total
        received[1] = time.perf_counter()

    start = time.perf_counter()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            nursery.start_soon(send)
    await close_pair(out_raw, in_raw)
    if received[0] != STREAM_BYTES:
        raise AssertionError(f"{variant}: {received[0]} of {STREAM_BYTES} bytes arrived")
    return received[0] / (received[1] - start) / (1 << 20)


async def transport_section() -> list[str]:
    """Runs the security transport section; returns its output lines."""
    started = time.perf_counter()
    variants = [f"transport_{side}_{sec}" for sec in TRANSPORT_SECURITIES for side in ("native", "p2psec")]
    best_hs: dict[str, tuple[float, float]] = {}
    best_mb: dict[str, float] = {}
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = listeners[0]
    try:
        for _ in range(TRANSPORT_ROUNDS):
            for variant in variants:
                result = await transport_handshakes(variant, listener)
                if variant not in best_hs or result[0] > best_hs[variant][0]:
                    best_hs[variant] = result
        for _ in range(TRANSPORT_ROUNDS):
            for variant in variants:
                mb = await transport_throughput(variant, listener)
                best_mb[variant] = max(best_mb.get(variant, 0.0), mb)
    finally:
        for each in listeners:
            await each.aclose()

    lines = [
        f"# security transport alone: {TRANSPORT_HANDSHAKES} handshakes and {STREAM_BYTES >> 20} MiB per round,"
        f" best of {TRANSPORT_ROUNDS} rounds"
    ]
    for security in TRANSPORT_SECURITIES:
        native, ours = f"transport_native_{security}", f"transport_p2psec_{security}"
        for variant in (native, ours):
            rate, median_ms = best_hs[variant]
            lines.append(f"handshakes_per_sec {variant} {rate:.1f}")
            lines.append(f"# {variant}: median handshake {median_ms:.2f} ms")
        hs_ratio = best_hs[ours][0] / best_hs[native][0]
        lines.append(f"ratio transport_handshakes_p2psec_vs_native_{security} {hs_ratio:.2f}")
        for variant in (native, ours):
            lines.append(f"mb_per_sec {variant} {best_mb[variant]:.1f}")
        mb_ratio = best_mb[ours] / best_mb[native]
        lines.append(f"ratio transport_mb_per_sec_p2psec_vs_native_{security} {mb_ratio:.2f}")
    lines.append(f"# the security transport section took {time.perf_counter() - started:.1f} s")
    return lines


async def main() -> None:
    # the transport section is measured first, in a process no host has run in yet
    # (py-libp2p 0.8.1 leaves each host's TCP listener task running after ``run()``),
    # and printed after the host section
    transport_lines = await transport_section()
    best_hs: dict[str, tuple[float, float, float]] = {}
    best_mb: dict[str, float] = {}
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for variant in VARIANTS:
            result = await handshakes(variant)
            if variant not in best_hs or result[0] > best_hs[variant][0]:
                best_hs[variant] = result
    for _ in range(ROUNDS):
        for variant in VARIANTS:
            mb = await throughput(variant)
            best_mb[variant] = max(best_mb.get(variant, 0.0), mb)

    native, ours = VARIANTS
    print(f"# {HANDSHAKES} connections and {STREAM_BYTES >> 20} MiB per round, best of {ROUNDS} rounds")
    for variant in VARIANTS:
        rate, connect_ms, upgrade_ms = best_hs[variant]
        print(f"handshakes_per_sec {variant} {rate:.1f}")
        print(f"# {variant}: median connect {connect_ms:.2f} ms, of which security upgrade {upgrade_ms:.2f} ms")
    print(f"ratio handshakes_p2psec_vs_native {best_hs[ours][0] / best_hs[native][0]:.2f}")
    for variant in VARIANTS:
        print(f"mb_per_sec {variant} {best_mb[variant]:.1f}")
    print(f"ratio mb_per_sec_p2psec_vs_native {best_mb[ours] / best_mb[native]:.2f}")
    print(f"# took {time.perf_counter() - started:.1f} s")
    for line in transport_lines:
        print(line)


if __name__ == "__main__":
    # py-libp2p logs ERRORs when a disconnect interrupts the identify exchange it starts
    # on every connect (as the handshake loop does on purpose): silenced here
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)
    trio.run(main)
