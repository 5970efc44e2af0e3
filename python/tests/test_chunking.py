"""Chunking properties (hypothesis): how the bytes are split never changes the result.

- Noise, seeded (every byte replays): the dialer's whole byte stream (the upgrade, then
  transport frames, one larger than 16 KiB) fed to a fresh listener split at arbitrary
  points (chunks down to 1 byte) gives the same events, the same bytes sent, the same
  plaintext as the reference run; the same for the listener's stream fed to a dialer.
  The upgrade machines consume whole messages only and never the bytes past the end of
  the upgrade: the caller keeps them and hands them to the channel.
- TLS draws its own randomness (its transcripts do not replay), so its upgrade runs live
  between a dialer and a listener, every delivery split at arbitrary points: the same
  events, the same channel, the same plaintexts as whole deliveries.
- The channel fed ciphertext in arbitrary splits, read in arbitrary sizes (or not read for
  a while), gives the same plaintext; it refuses input only while plaintext waits.
- A byte corrupted anywhere in the stream gives a P2psecError or a stall (a length that
  now asks for more), never another exception, never corrupted plaintext; for Noise, the
  outcome is the same whatever the split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import p2psec
from p2psec import (
    Dialer,
    Keypair,
    Listener,
    P2psecError,
    RemoteIdentified,
    SecureChannel,
    SecurityAgreed,
    UpgradeComplete,
    UpgradeConfig,
)

NOW = 1_700_000_000
# what each side writes once its channel is up: a small frame, one above 16 KiB, a tail
APP_D = [b"first", bytes(range(256)) * 80, b"z" * 300]
APP_L = [b"hello", b"y" * 17_000]
PLAIN_D, PLAIN_L = b"".join(APP_D), b"".join(APP_L)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# chunk sizes, used in turn: single bytes, small, medium and large pieces
SIZES = st.lists(
    st.one_of(st.just(1), st.integers(1, 16), st.integers(1, 700), st.integers(1, 40_000)),
    min_size=1,
    max_size=30,
)
# read sizes for the channel; 0: do not read this time (plaintext waits)
READS = st.lists(st.one_of(st.just(0), st.integers(1, 64), st.integers(1, 70_000)), min_size=1, max_size=10)


def seed(n: int) -> bytes:
    return bytes([n]) * 32


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        pieces.append(data[i : i + n])
        i, k = i + n, k + 1
    return pieces


def configs(security: str, early: bool) -> tuple[Keypair, Keypair, UpgradeConfig, UpgradeConfig]:
    kd, kl = Keypair.from_seed(seed(1)), Keypair.from_seed(seed(2), "secp256k1")
    cd = UpgradeConfig(kd, security=[security], early_muxer=early, now=NOW, seed=seed(3))
    cl = UpgradeConfig(kl, security=[security], early_muxer=early, now=NOW, seed=seed(4))
    return kd, kl, cd, cl


def machines(security: str, early: bool) -> tuple[Dialer, Listener]:
    kd, kl, cd, cl = configs(security, early)
    return Dialer(cd, kl.peer_id, now=NOW, seed=seed(5)), Listener(cl, now=NOW, seed=seed(6))


def expected_events(security: str, early: bool, role: str) -> list[p2psec.Event]:
    kd, kl, _, _ = configs(security, early)
    remote = kl if role == "dialer" else kd
    proto = "/noise" if security == "noise" else "/tls/1.0.0"
    return [SecurityAgreed(proto), RemoteIdentified(remote.peer_id), UpgradeComplete()]


def write_all(channel: SecureChannel, messages: list[bytes]) -> bytes:
    """Writes every message (a write may take less than offered); returns the ciphertext."""
    wire = bytearray()
    for m in messages:
        taken = 0
        while taken < len(m):
            taken += channel.write(m[taken:])
            wire += channel.data_to_send()
    return bytes(wire + channel.data_to_send())


# ---- one end, fed in pieces ----


@dataclass
class Fed:
    """What one end did with a byte stream fed in pieces."""

    events: list[p2psec.Event] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)
    plain: bytearray = field(default_factory=bytearray)
    channel: SecureChannel | None = None
    error: P2psecError | None = None
    leftover: int = 0
    upgrade_sent: int = -1  # len(sent) when the channel's own writes began


class End:
    """An upgrade machine, then its channel, fed pieces by the caller's rule: keep what was
    not consumed and give it again with the next piece; once the upgrade is complete, the
    rest goes to the channel."""

    def __init__(self, machine: Dialer | Listener, reads: list[int] | None = None) -> None:
        self.machine = machine
        self.pending = b""
        self.fed = Fed()
        self.reads = reads or [65536]
        self.turn = 0
        self.fed.sent += machine.data_to_send()

    def read(self, everything: bool = False) -> None:
        ch = self.fed.channel
        assert ch is not None
        while True:
            n = self.reads[self.turn % len(self.reads)]
            self.turn += 1
            if n == 0 and not everything:
                return
            chunk = ch.read(n or 65536)
            assert len(chunk) <= (n or 65536)
            if not chunk:
                return
            self.fed.plain += chunk

    def give(self, piece: bytes) -> None:
        self.pending += piece
        if self.fed.channel is None:
            used = self.machine.receive_data(self.pending)
            assert 0 <= used <= len(self.pending)
            self.pending = self.pending[used:]
            self.fed.sent += self.machine.data_to_send()
            while (ev := self.machine.next_event()) is not None:
                self.fed.events.append(ev)
            if not self.machine.is_complete:
                return
            self.fed.channel = self.machine.into_channel()
        ch = self.fed.channel
        self.fed.sent += ch.data_to_send()
        for _ in range(100_000):
            if not self.pending:
                return
            used = ch.receive_data(self.pending)
            assert 0 <= used <= len(self.pending)
            if used < len(self.pending):
                assert ch.readable > 0, "input is refused only while plaintext waits"
            self.pending = self.pending[used:]
            self.read()  # this turn's read size: 0 leaves the plaintext waiting
            if used == 0 and self.pending:
                self.read(everything=True)  # room is needed to go on
        raise AssertionError("the channel made no progress")

    def finish(self) -> Fed:
        if self.fed.channel is not None:
            self.give(b"")
            self.read(everything=True)
        self.fed.leftover = len(self.pending)
        return self.fed


def feed(machine: Dialer | Listener, stream: bytes, sizes: list[int], reads: list[int] | None = None) -> Fed:
    end = End(machine, reads)
    try:
        for piece in split(stream, sizes):
            end.give(piece)
        return end.finish()
    except P2psecError as e:
        end.fed.error = e
        return end.fed


# ---- the Noise reference session ----


@dataclass(frozen=True)
class Reference:
    dialer_upgrade: bytes  # all the dialer sent before its first write
    listener_upgrade: bytes
    dialer_stream: bytes  # dialer_upgrade, then the frames of APP_D
    listener_stream: bytes


@lru_cache(maxsize=None)
def noise_reference(early: bool) -> Reference:
    run = live("noise", [1 << 30], early=early, app=(APP_D, APP_L))
    d, ls = run.dialer, run.listener
    assert d.error is None and ls.error is None
    assert d.events == expected_events("noise", early, "dialer")
    assert ls.events == expected_events("noise", early, "listener")
    assert bytes(ls.plain) == PLAIN_D and bytes(d.plain) == PLAIN_L
    du, lu = bytes(d.sent[: d.upgrade_sent]), bytes(ls.sent[: ls.upgrade_sent])
    return Reference(du, lu, bytes(d.sent), bytes(ls.sent))


def test_the_noise_reference_replays() -> None:
    """Seeded Noise sessions replay byte for byte (the reference the properties use), and
    the streams hold the upgrade, then the frames (one above 16 KiB)."""
    for early in (True, False):
        assert noise_reference(early) == noise_reference.__wrapped__(early)
    ref = noise_reference(True)
    assert ref.dialer_stream.startswith(b"\x13/multistream/1.0.0\n\x07/noise\n\x00\x20")
    frames = ref.dialer_stream[len(ref.dialer_upgrade) :]
    assert len(frames) > len(PLAIN_D)
    lengths = []
    while frames:
        n = int.from_bytes(frames[:2], "big")
        lengths.append(n)
        frames = frames[2 + n :]
    assert len(lengths) == len(APP_D) and max(lengths) > 16 * 1024
    assert noise_reference(False).listener_upgrade != ref.listener_upgrade


def whole(machine: Dialer | Listener, stream: bytes) -> Fed:
    return feed(machine, stream, [len(stream) or 1])


@SETTINGS
@given(sizes=SIZES, reads=READS, early=st.booleans())
def test_noise_listener_any_split(sizes: list[int], reads: list[int], early: bool) -> None:
    ref = noise_reference(early)
    _, listener = machines("noise", early)
    fed = feed(listener, ref.dialer_stream, sizes, reads)
    assert fed.error is None, fed.error
    assert fed.events == expected_events("noise", early, "listener")
    assert bytes(fed.sent) == ref.listener_upgrade
    assert fed.channel is not None and fed.channel.muxer == p2psec.YAMUX
    assert bytes(fed.plain) == PLAIN_D
    assert fed.leftover == 0 and fed.channel.buffered_input == 0


@SETTINGS
@given(sizes=SIZES, reads=READS, early=st.booleans())
def test_noise_dialer_any_split(sizes: list[int], reads: list[int], early: bool) -> None:
    ref = noise_reference(early)
    dialer, _ = machines("noise", early)
    fed = feed(dialer, ref.listener_stream, sizes, reads)
    assert fed.error is None, fed.error
    assert fed.events == expected_events("noise", early, "dialer")
    assert bytes(fed.sent) == ref.dialer_upgrade
    assert fed.channel is not None
    assert bytes(fed.plain) == PLAIN_L
    assert fed.leftover == 0


def outcome(fed: Fed) -> tuple[object, ...]:
    """What must not depend on the split: the error (class, code), or the final state."""
    if fed.error is not None:
        return (type(fed.error).__name__, fed.error.code)
    return ("no error", fed.channel is not None, tuple(map(repr, fed.events)), bytes(fed.sent), bytes(fed.plain))


def corrupt(stream: bytes, position: int, xor: int) -> bytes:
    i = position % len(stream)
    return stream[:i] + bytes([stream[i] ^ xor]) + stream[i + 1 :]


@SETTINGS
@given(
    sizes=SIZES,
    position=st.integers(0, 1 << 30),
    xor=st.integers(1, 255),
    to_listener=st.booleans(),
    in_upgrade=st.booleans(),
    early=st.booleans(),
)
def test_noise_corruption_any_split(
    sizes: list[int], position: int, xor: int, to_listener: bool, in_upgrade: bool, early: bool
) -> None:
    ref = noise_reference(early)
    stream = ref.dialer_stream if to_listener else ref.listener_stream
    upgrade_len = len(ref.dialer_upgrade if to_listener else ref.listener_upgrade)
    # half the examples hit the upgrade, half the transport frames
    position = position % upgrade_len if in_upgrade else upgrade_len + position % (len(stream) - upgrade_len)
    bad = corrupt(stream, position, xor)
    plain = PLAIN_D if to_listener else PLAIN_L

    def machine() -> Dialer | Listener:
        dialer, listener = machines("noise", early)
        return listener if to_listener else dialer

    clean = whole(machine(), stream)
    got, once = feed(machine(), bad, sizes), whole(machine(), bad)
    event(f"{'error ' + type(got.error).__name__ if got.error else 'stall'} ({'upgrade' if in_upgrade else 'frames'})")
    assert outcome(got) == outcome(once), "the same outcome whatever the split"
    assert outcome(got) != outcome(clean), "a corrupted byte is never accepted"
    assert plain.startswith(bytes(got.plain)), "no corrupted plaintext"
    if got.error is None:
        # a stall: a length prefix now asks for bytes that never come
        assert got.channel is None or len(got.plain) < len(plain)
    else:
        assert got.error.code > 0 and got.error.layer in ("multistream", "noise", "upgrade")


# ---- TLS: live exchanges ----


@dataclass
class Live:
    dialer: Fed
    listener: Fed


def live(
    security: str,
    sizes: list[int],
    reads: list[int] | None = None,
    corrupt_at: tuple[bool, int, int] | None = None,
    early: bool = True,
    app: tuple[list[bytes], list[bytes]] = ([b"ping" * 50], [b"pong" * 60]),
) -> Live:
    """A live upgrade, every delivery split by ``sizes``; each side writes its messages
    once its channel is up. ``corrupt_at``: (towards the listener, byte index, xor)."""
    dialer, listener = machines(security, early)
    ends = {"d": End(dialer, reads), "l": End(listener, reads)}
    taken = {"d": 0, "l": 0}  # bytes of each end's output put on the wire
    wires = {"d": bytearray(), "l": bytearray()}  # towards the listener / the dialer
    delivered = {"d": 0, "l": 0}
    wrote = {"d": False, "l": False}
    k = 0
    failed = False
    for _ in range(200_000):
        for name, messages in (("d", app[0]), ("l", app[1])):
            end = ends[name]
            if end.fed.channel is not None and not wrote[name] and end.fed.error is None:
                wrote[name] = True
                end.fed.upgrade_sent = len(end.fed.sent)
                end.fed.sent += write_all(end.fed.channel, messages)
            new = bytes(end.fed.sent[taken[name] :])
            taken[name] += len(new)
            wires[name] += new
        order = ("d", "l") if k % 2 == 0 else ("l", "d")
        moved = False
        for name in order:
            if wires[name]:
                n = sizes[k % len(sizes)]
                k += 1
                piece = bytes(wires[name][:n])
                del wires[name][:n]
                if corrupt_at is not None and (name == "d") == corrupt_at[0]:
                    at = corrupt_at[1] - delivered[name]
                    if 0 <= at < len(piece):
                        piece = piece[:at] + bytes([piece[at] ^ corrupt_at[2]]) + piece[at + 1 :]
                delivered[name] += len(piece)
                receiver = ends["l" if name == "d" else "d"]
                try:
                    receiver.give(piece)
                except P2psecError as e:
                    receiver.fed.error = e
                    failed = True
                moved = True
                break
        if failed or not moved:
            break
    for end in ends.values():
        if end.fed.error is None:
            try:
                end.finish()
            except P2psecError as e:
                end.fed.error = e
    return Live(ends["d"].fed, ends["l"].fed)


@SETTINGS
@given(sizes=SIZES, reads=READS, early=st.booleans())
def test_tls_any_split(sizes: list[int], reads: list[int], early: bool) -> None:
    app = ([b"ping" * 50, b"x" * 1000], [b"pong" * 60])
    run = live("tls", sizes, reads, early=early, app=app)
    plain_d, plain_l = b"".join(app[0]), b"".join(app[1])
    for fed, role, plain in ((run.dialer, "dialer", plain_l), (run.listener, "listener", plain_d)):
        assert fed.error is None, fed.error
        assert fed.events == expected_events("tls", early, role)
        assert fed.channel is not None
        assert fed.channel.security == "/tls/1.0.0" and fed.channel.muxer == p2psec.YAMUX
        assert bytes(fed.plain) == plain
        assert fed.leftover == 0 and fed.channel.buffered_input == 0
    # multistream-select, before TLS's own randomness, is the same every time
    assert bytes(run.dialer.sent).startswith(b"\x13/multistream/1.0.0\n\x0b/tls/1.0.0\n\x16\x03")
    assert bytes(run.listener.sent).startswith(b"\x13/multistream/1.0.0\n\x0b/tls/1.0.0\n\x16\x03")


@SETTINGS
@given(sizes=SIZES, early=st.booleans())
def test_noise_live_any_split(sizes: list[int], early: bool) -> None:
    """A live Noise exchange split anywhere sends exactly the reference bytes both ways."""
    run = live("noise", sizes, early=early, app=(APP_D, APP_L))
    ref = noise_reference(early)
    assert run.dialer.error is None and run.listener.error is None
    assert bytes(run.dialer.sent) == ref.dialer_stream
    assert bytes(run.listener.sent) == ref.listener_stream
    assert bytes(run.listener.plain) == PLAIN_D and bytes(run.dialer.plain) == PLAIN_L


TLS_APP = ([b"ping" * 50], [b"pong" * 60])


@lru_cache(maxsize=None)
def tls_stream_lengths() -> tuple[int, int]:
    """About how many bytes each side of a TLS session sends (signatures vary by a byte
    or two): where corruption can land."""
    run = live("tls", [1 << 30], app=TLS_APP)
    return len(run.dialer.sent) - 4, len(run.listener.sent) - 4


@SETTINGS
@given(
    sizes=SIZES,
    position=st.integers(0, 1 << 30),
    xor=st.integers(1, 255),
    to_listener=st.booleans(),
)
def test_tls_corruption_any_split(sizes: list[int], position: int, xor: int, to_listener: bool) -> None:
    position %= tls_stream_lengths()[0 if to_listener else 1]
    run = live("tls", sizes, corrupt_at=(to_listener, position, xor), app=TLS_APP)
    receiver = run.listener if to_listener else run.dialer
    plain = b"".join(TLS_APP[0] if to_listener else TLS_APP[1])
    assert plain.startswith(bytes(receiver.plain)), "no corrupted plaintext"
    event("error " + type(receiver.error).__name__ if receiver.error else f"no error, {len(receiver.plain)} read")
    if receiver.error is not None:
        assert receiver.error.code > 0
        assert receiver.error.layer in ("multistream", "tls", "upgrade")
    # else: a stall, or a byte TLS ignores (a record's legacy_record_version); whatever
    # was read is the true plaintext
    other = run.dialer if to_listener else run.listener
    if other.error is not None:
        # the peer's alert after the corrupted byte: a TLS error, never another exception
        assert other.error.code > 0


# ---- the channel alone ----


def noise_channels() -> tuple[SecureChannel, bytes]:
    """A fresh listener channel of the reference session and the dialer's frames for it."""
    ref = noise_reference(True)
    _, listener = machines("noise", True)
    upgrade = ref.dialer_stream[: len(ref.dialer_upgrade)]
    fed = whole(listener, upgrade)
    assert fed.channel is not None
    return fed.channel, ref.dialer_stream[len(ref.dialer_upgrade) :]


def tls_channels() -> tuple[SecureChannel, bytes]:
    run = live("tls", [1 << 30])
    assert run.listener.channel is not None and run.dialer.channel is not None
    # a fresh pair of writes after the live run's own
    frames = write_all(run.dialer.channel, APP_D)
    return run.listener.channel, frames


@SETTINGS
@given(sizes=SIZES, reads=READS, tls=st.booleans())
def test_channel_any_split(sizes: list[int], reads: list[int], tls: bool) -> None:
    channel, frames = tls_channels() if tls else noise_channels()
    assert len(frames) > len(PLAIN_D)
    got = bytearray()
    pending = b""
    turn = 0
    for piece in split(frames, sizes):
        pending += piece
        while pending:
            used = channel.receive_data(pending)
            if used < len(pending):
                assert channel.readable > 0, "input is refused only while plaintext waits"
            pending = pending[used:]
            n = reads[turn % len(reads)]
            turn += 1
            if n:
                got += channel.read(n)
            if used == 0:
                got += channel.read()  # room is needed to go on
            elif not n:
                break  # keep the rest for the next piece
        # what is held is at most one frame's start
        assert channel.buffered_input <= (16 * 1024 + 256 if tls else 65537)
    while pending or channel.readable:
        used = channel.receive_data(pending) if pending else 0
        pending = pending[used:]
        got += channel.read()
    assert not pending
    assert channel.buffered_input == 0
    assert bytes(got) == PLAIN_D
