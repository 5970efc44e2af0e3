"""Benchmark: the Python sans-IO API against the same loop in Rust, in one process.

Upgrades: N in-memory upgrades (Dialer <-> Listener, bytes handed over whole, events
drained, into_channel) through the Python API, against
``p2psec._native._rust_upgrade_loop``, which runs the same loop through the Rust API with
the same configurations. Each is run 3 times, alternately; the best of each counts.
Throughput: 16 MiB through a SecureChannel pair in memory, in 64 KiB pieces.

    python benches/sansio.py            # N = 300
    P2PSEC_BENCH_QUICK=1 python benches/sansio.py   # N = 100

Prints ``upgrades_per_sec``, ``ratio`` and ``mib_per_sec`` lines; asserts nothing.
"""

from __future__ import annotations

import os
import time

import p2psec
from p2psec import Dialer, Listener, SecureChannel, UpgradeConfig
from p2psec._native import _rust_upgrade_loop

N = 100 if os.environ.get("P2PSEC_BENCH_QUICK") == "1" else 300
ROUNDS = 3
CHANNEL_BYTES = 16 << 20
PIECE = 64 << 10


def configs(security: str) -> tuple[UpgradeConfig, UpgradeConfig]:
    return (
        UpgradeConfig(p2psec.Keypair.generate(), security=[security]),
        UpgradeConfig(p2psec.Keypair.generate(), security=[security]),
    )


def python_upgrade_loop(dialer_config: UpgradeConfig, listener_config: UpgradeConfig, n: int) -> float:
    """The loop of ``_rust_upgrade_loop`` through the Python API; returns seconds. As
    there, the machines' seeds and the clock are read before the timer starts."""
    expected = listener_config.local_peer_id
    now = int(time.time())
    seeds = [os.urandom(32) for _ in range(2 * n)]
    start = time.perf_counter()
    for i in range(n):
        dialer = Dialer(dialer_config, expected, now=now, seed=seeds[2 * i])
        listener = Listener(listener_config, now=now, seed=seeds[2 * i + 1])
        for _ in range(16):
            out = dialer.data_to_send()
            if out:
                listener.receive_data(out)
            out = listener.data_to_send()
            if out:
                dialer.receive_data(out)
            while dialer.next_event() is not None:
                pass
            while listener.next_event() is not None:
                pass
            if dialer.is_complete and listener.is_complete:
                break
        else:
            raise RuntimeError("an upgrade did not complete in 16 rounds")
        dialer.into_channel()
        listener.into_channel()
    return time.perf_counter() - start


def channel_pair(security: str) -> tuple[SecureChannel, SecureChannel]:
    dialer_config, listener_config = configs(security)
    dialer = Dialer(dialer_config, listener_config.local_peer_id)
    listener = Listener(listener_config)
    to_listener = to_dialer = b""
    while not (dialer.is_complete and listener.is_complete):
        to_listener += dialer.data_to_send()
        to_listener = to_listener[listener.receive_data(to_listener) :]
        to_dialer += listener.data_to_send()
        to_dialer = to_dialer[dialer.receive_data(to_dialer) :]
    a, b = dialer.into_channel(), listener.into_channel()
    # whatever is still in flight (the dialer's last handshake message)
    b.receive_data(to_listener + a.data_to_send())
    a.receive_data(to_dialer + b.data_to_send())
    return a, b


def channel_throughput(security: str) -> float:
    """MiB/s of 16 MiB written, sealed, opened and read, 64 KiB at a time."""
    a, b = channel_pair(security)
    piece = os.urandom(PIECE)
    sent = received = offset = 0
    start = time.perf_counter()
    while received < CHANNEL_BYTES:
        if sent < CHANNEL_BYTES:
            taken = a.write(piece[offset:] if offset else piece)  # may take less
            sent += taken
            offset = (offset + taken) % PIECE
        wire = a.data_to_send()
        while wire:
            used = b.receive_data(wire)
            wire = wire[used:]
            while chunk := b.read(PIECE):
                received += len(chunk)
    elapsed = time.perf_counter() - start
    return received / (1 << 20) / elapsed


def main() -> None:
    for security in ("noise", "tls"):
        dialer_config, listener_config = configs(security)
        # warm-up (the crypto backends' one-time start-up)
        python_upgrade_loop(dialer_config, listener_config, 3)
        _rust_upgrade_loop(dialer_config, listener_config, 3)
        python_best = rust_best = float("inf")
        for _ in range(ROUNDS):
            python_best = min(python_best, python_upgrade_loop(dialer_config, listener_config, N))
            rust_best = min(rust_best, _rust_upgrade_loop(dialer_config, listener_config, N))
        python_rate, rust_rate = N / python_best, N / rust_best
        print(f"upgrades_per_sec python_{security} {python_rate:.1f}", flush=True)
        print(f"upgrades_per_sec rust_{security} {rust_rate:.1f}", flush=True)
        print(f"ratio python_vs_rust_{security} {python_rate / rust_rate:.3f}", flush=True)
    for security in ("noise", "tls"):
        best = max(channel_throughput(security) for _ in range(ROUNDS))
        print(f"mib_per_sec python_channel_{security} {best:.1f}", flush=True)


if __name__ == "__main__":
    main()
