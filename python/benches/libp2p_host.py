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

    python benches/libp2p_host.py
    P2PSEC_BENCH_QUICK=1 python benches/libp2p_host.py

Prints ``handshakes_per_sec``, ``mb_per_sec`` (MiB/s) and ``ratio`` lines; asserts
nothing.
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
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import Transport as NativeNoise
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


async def main() -> None:
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


if __name__ == "__main__":
    # py-libp2p logs ERRORs when a disconnect interrupts the identify exchange it starts
    # on every connect (as the handshake loop does on purpose): silenced here
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)
    trio.run(main)
