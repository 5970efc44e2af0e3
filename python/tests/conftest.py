"""Shared fixtures: the real peers the interop tests talk to, over loopback only.

- rust-libp2p 0.57: ``examples/swarm_peer.rs`` (a stock Swarm: TCP, one security
  protocol, yamux, ping), built by cargo on first use, or taken from
  ``P2PSEC_SWARM_PEER``.
- js-libp2p 3: ``tests/interop/js/peer.mjs``, its npm packages installed by
  ``tests/interop/js/install.sh`` on first use.

Each peer is a subprocess; ``listen`` peers print their multiaddr first and are killed
when the test ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sys

# `python -m pytest` run from python/ puts the source tree first on sys.path, and its
# p2psec/ has no compiled _native: the tests import the installed package instead.
_SRC = Path(__file__).resolve().parents[1]
if not any((_SRC / "p2psec").glob("_native*.so")) and "p2psec" not in sys.modules:
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _SRC]

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "tests" / "interop" / "js"

_swarm_lock = threading.Lock()
_swarm_path: Path | None = None
_js_lock = threading.Lock()
_js_ready = False


def swarm_peer_binary() -> Path:
    """The rust-libp2p peer: ``P2PSEC_SWARM_PEER``, or built now (cargo is a no-op when
    it is up to date)."""
    global _swarm_path
    with _swarm_lock:
        if _swarm_path is None:
            given = os.environ.get("P2PSEC_SWARM_PEER")
            if given:
                _swarm_path = Path(given)
            else:
                subprocess.run(
                    ["cargo", "build", "--locked", "--quiet", "--example", "swarm_peer"],
                    cwd=REPO,
                    check=True,
                )
                target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
                _swarm_path = target / "debug" / "examples" / "swarm_peer"
        return _swarm_path


def install_js_peer() -> None:
    """Installs the js-libp2p peer's packages once (pinned by its package-lock.json)."""
    global _js_ready
    with _js_lock:
        if _js_ready:
            return
        if shutil.which("node") is None or shutil.which("npm") is None:
            pytest.fail("the js-libp2p interop peer needs Node.js >= 20 and npm on PATH")
        subprocess.run(["bash", str(JS_DIR / "install.sh")], check=True, capture_output=True)
        _js_ready = True


@dataclass
class Peer:
    """A running peer process: its address (for listeners), and the JSON lines it
    printed, collected by a reader thread."""

    process: subprocess.Popen[str]
    multiaddr: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def peer_id(self) -> str:
        return self.multiaddr.rsplit("/p2p/", 1)[-1]

    def _collect(self, stream: IO[str]) -> None:
        for raw in stream:
            with self._cond:
                self.text.append(raw.rstrip("\n"))
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = None
                if isinstance(value, dict):
                    self.lines.append(value)
                self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> dict[str, Any]:
        """The first JSON line for which ``predicate(line)`` is true, waiting up to
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader_alive()):
                    raise AssertionError(f"no matching line within {timeout} s; got: {self.text}")
                self._cond.wait(min(left, 0.2))

    def _reader_alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    _threads: list[threading.Thread] = field(default_factory=list)

    def wait(self, timeout: float = 60.0) -> int:
        """The exit code, once the process has ended (and its output is collected)."""
        code = self.process.wait(timeout)
        for t in self._threads:
            t.join(5)
        return code

    def stderr_text(self) -> str:
        return "\n".join(self.text)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for t in self._threads:
            t.join(5)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _start(args: list[str], cwd: Path, listen: bool, timeout: float = 30.0) -> Peer:
    process = subprocess.Popen(
        args,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peer = Peer(process)
    assert process.stdout is not None and process.stderr is not None
    if listen:
        first = process.stdout.readline().strip()
        if "/p2p/" not in first:
            rest = process.stderr.read() if process.poll() is not None else ""
            process.kill()
            raise AssertionError(f"{args[0]} printed no address: {first!r} {rest}")
        peer.multiaddr = first
    for stream in (process.stdout, process.stderr):
        t = threading.Thread(target=peer._collect, args=(stream,), daemon=True)
        t.start()
        peer._threads.append(t)
    return peer


class Peers:
    """Starts real peers for one test and stops them all when it ends."""

    def __init__(self) -> None:
        self._running: list[Peer] = []

    def rust_listen(self, security: str) -> Peer:
        """A rust-libp2p Swarm listening on 127.0.0.1 with ``security`` (noise|tls)."""
        peer = _start([str(swarm_peer_binary()), "listen", security], REPO, listen=True)
        self._running.append(peer)
        return peer

    def rust_dial(self, security: str, multiaddr: str, pings: int = 2, timeout: float = 30) -> Peer:
        """A rust-libp2p Swarm dialing ``multiaddr``; it exits 0 after ``pings`` answered
        pings (JSON lines on stdout: established, ping, closed, outgoing_error)."""
        args = [str(swarm_peer_binary()), "dial", security, multiaddr, "--pings", str(pings), "--timeout", str(timeout)]
        peer = _start(args, REPO, listen=False)
        self._running.append(peer)
        return peer

    def js_listen(self, security: str, *extra: str) -> Peer:
        """A js-libp2p node listening on 127.0.0.1 (peer.mjs listen --json): serves
        /ipfs/ping/1.0.0 and /echo/1.0.0 over yamux; events are JSON lines on stderr."""
        install_js_peer()
        peer = _start(["node", "peer.mjs", "listen", "--security", security, "--json", *extra], JS_DIR, listen=True)
        self._running.append(peer)
        return peer

    def js_dial(self, security: str, multiaddr: str, *extra: str) -> Peer:
        """A js-libp2p node dialing ``multiaddr`` (peer.mjs dial): JSON lines on stdout,
        exit 0 only if everything succeeded. ``extra``: e.g. ``"--ping", "2"`` or
        ``"--yamux-ping"``."""
        install_js_peer()
        peer = _start(["node", "peer.mjs", "dial", multiaddr, "--security", security, *extra], JS_DIR, listen=False)
        self._running.append(peer)
        return peer

    def stop_all(self) -> None:
        for peer in self._running:
            peer.stop()


@pytest.fixture
def peers() -> Iterator[Peers]:
    """Real peers for this test (rust-libp2p, js-libp2p), stopped when it ends."""
    p = Peers()
    try:
        yield p
    finally:
        p.stop_all()
