"""The recorded Noise transcripts of ``vectors/noise`` replayed byte for byte through the
Python API (the same sessions ``ffi/tests/noise_transcript.rs`` replays through the C API).

The transcripts are at the Noise layer; the Python API only has the whole upgrade
(multistream-select, Noise, the muxer inside the handshake). The p2psec side of a session
is rebuilt with the Python API alone: ``Keypair.from_protobuf`` (the recorded identity),
``UpgradeConfig(security=["noise"], noise_static_key=<recorded static secret>,
muxers=<recorded list>, early_muxer=True, optimistic=True, noise_prologue=<recorded
prologue>)`` and, as the machine's 32-byte ``seed``, the recorded ephemeral secret: the
first 32 bytes of the splitmix64 stream from ``ephemeral_rng_seed``
(vectors/noise/README.md, "The RNG seed"). The multistream-select framing around the
handshake is built here from the spec and checked against ``vectors/multistream``.

What each replay checks, as the Rust test does:

- as dialer: the first flight is exactly the multistream header, the proposal ``/noise``
  and the recorded message 1; given the listener's header, echo, the recorded message 2
  and the peer's recorded transport frames behind them, the dialer consumes exactly up to
  the end of message 2, then sends exactly the recorded message 3 and nothing else;
- as listener: it sends the header at once; given the dialer's header, proposal and
  message 1 in one flight it consumes all of it and answers exactly the echo and message
  2; given message 3 and the peer's frames behind it, it consumes exactly message 3 and
  sends nothing;
- both: the events are ``SecurityAgreed("/noise")``, ``RemoteIdentified(<recorded
  PeerId>)``, ``UpgradeComplete()``; the channel reports the recorded remote PeerId,
  ``/noise``, ``ChaChaPoly`` and the recorded muxer; writing the recorded plaintexts gives
  exactly the recorded frames, and the peer's recorded frames, fed one at a time, are
  consumed whole and read back as their recorded plaintexts.

Unlike the C API, the Python one has ``noise_prologue`` and
``noise_webtransport_certhashes``, so every p2psec side is replayed, both sides of
``p2psec-pair-secp256k1-ecdsa-webrtc-prologue-certhashes`` included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import p2psec
from p2psec import (
    Dialer,
    Keypair,
    Listener,
    PeerId,
    RemoteIdentified,
    SecurityAgreed,
    UpgradeComplete,
    UpgradeConfig,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
NOISE = VECTORS / "noise"
FILES = ["libp2p-noise-0.47.json", "p2psec-pairs.json"]

# any time: Noise does not look at the clock
NOW = 1_780_000_000
MASK = (1 << 64) - 1


def ephemeral_secret(seed: int) -> bytes:
    """The first four splitmix64 outputs from ``seed``, each little-endian."""
    x = seed & MASK
    out = b""
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out += z.to_bytes(8, "little")
    return out


def mss(line: str) -> bytes:
    """One multistream-select message: ``uvarint(len) || line || '\\n'``."""
    body = line.encode() + b"\n"
    assert len(body) < 0x80
    return bytes([len(body)]) + body


HEADER = mss("/multistream/1.0.0")
PROPOSAL = mss("/noise")


def load_sessions(file: str) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = json.loads((NOISE / file).read_text())["sessions"]
    return sessions


def cases() -> list[Any]:
    params = []
    for file in FILES:
        for s in load_sessions(file):
            for role in ("initiator", "responder"):
                if s[role].get("p2psec") is None:
                    continue  # the other implementation's side: data to replay, not ours
                params.append(pytest.param(file, s["name"], role, id=f"{s['name']}-{role}"))
    return params


def session(file: str, name: str) -> dict[str, Any]:
    (s,) = [s for s in load_sessions(file) if s["name"] == name]
    return s


def events(machine: Dialer | Listener) -> list[p2psec.Event]:
    out: list[p2psec.Event] = []
    while (e := machine.next_event()) is not None:
        out.append(e)
    return out


def test_multistream_framing_matches_the_vectors() -> None:
    v = json.loads((VECTORS / "multistream" / "messages.json").read_text())
    derived = [m for m in v["derived_not_in_spec"] if "message" in m]
    encoded = {m["message"]: bytes.fromhex(m["encoded_hex"]) for m in derived}
    assert HEADER == encoded["/multistream/1.0.0"]
    assert PROPOSAL == encoded["/noise"]


def test_the_splitmix64_stream_is_the_readmes() -> None:
    # splitmix64's published first output for seed 0
    assert ephemeral_secret(0)[:8] == (0xE220A8397B1DCDAF).to_bytes(8, "little")
    assert ephemeral_secret(1000) != ephemeral_secret(1001)


@pytest.mark.parametrize(("file", "name", "role"), cases())
def test_replay(file: str, name: str, role: str) -> None:
    s = session(file, name)
    other = "responder" if role == "initiator" else "initiator"
    me, remote = s[role], s[other]
    rec = me["p2psec"]

    keypair = Keypair.from_protobuf(bytes.fromhex(rec["identity_private_key_protobuf_hex"]))
    config = UpgradeConfig(
        keypair,
        security=["noise"],
        muxers=rec["stream_muxers"],
        early_muxer=True,
        optimistic=True,
        noise_static_key=bytes.fromhex(rec["static_secret_hex"]),
        noise_prologue=bytes.fromhex(s["prologue_hex"]) if s["prologue_hex"] else None,
        noise_webtransport_certhashes=[bytes.fromhex(h) for h in rec["webtransport_certhashes_hex"]] or None,
        now=NOW,
        seed=bytes([0x5A]) * 32,
    )
    assert str(config.local_peer_id) == me["peer_id"], "our PeerId"
    seed = ephemeral_secret(rec["ephemeral_rng_seed"])

    order = [(m["number"], m["from"]) for m in s["messages"]]
    assert order == [(1, "initiator"), (2, "responder"), (3, "initiator")]
    m1, m2, m3 = (bytes.fromhex(m["hex"]) for m in s["messages"])
    # the peer's transport frames directly follow its last handshake message on the wire
    peer_frames = b"".join(bytes.fromhex(f["frame_hex"]) for f in s["transport"] if f["from"] != role)

    up: Dialer | Listener
    if role == "initiator":
        expected = PeerId(rec["expected_peer_id"]) if rec.get("expected_peer_id") else None
        up = Dialer(config, expected, now=NOW, seed=seed)
        # one candidate, optimistic: header, proposal and message 1 in one flight
        assert up.data_to_send().hex() == (HEADER + PROPOSAL + m1).hex(), "the dialer's first flight"
        assert not up.is_complete
        answer = HEADER + PROPOSAL + m2
        assert up.receive_data(answer + peer_frames) == len(answer), "stops at the end of message 2"
        assert up.data_to_send().hex() == m3.hex(), "the dialer's message 3"
    else:
        up = Listener(config, now=NOW, seed=seed)
        assert up.data_to_send() == HEADER, "the listener's header goes out before it reads"
        flight = HEADER + PROPOSAL + m1
        assert up.receive_data(flight) == len(flight), "the first flight"
        assert up.data_to_send().hex() == (PROPOSAL + m2).hex(), "the listener's echo and message 2"
        assert not up.is_complete
        assert up.receive_data(m3 + peer_frames) == len(m3), "stops at the end of message 3"
        assert up.data_to_send() == b"", "nothing after message 3"

    assert events(up) == [
        SecurityAgreed("/noise"),
        RemoteIdentified(PeerId(remote["peer_id"])),
        UpgradeComplete(),
    ]
    assert up.next_event() is None
    assert up.is_complete

    channel = up.into_channel()
    assert str(channel.remote_peer_id) == remote["peer_id"]
    assert channel.remote_peer_id == PeerId(remote["peer_id"])
    assert channel.security == "/noise"
    assert channel.cipher == "ChaChaPoly"
    assert channel.muxer == s["muxer"]
    assert channel.data_to_send() == b"", "nothing left to send"
    assert channel.readable == 0, "nothing left to read"
    assert channel.buffered_input == 0

    ours = theirs = 0
    for f in s["transport"]:
        plain = bytes.fromhex(f["plaintext_hex"])
        frame = bytes.fromhex(f["frame_hex"])
        if f["from"] == role:
            assert channel.write(plain) == len(plain), "the whole plaintext taken"
            assert channel.data_to_send().hex() == frame.hex(), f"our transport frame {ours}"
            ours += 1
        else:
            assert channel.receive_data(frame) == len(frame), f"their frame {theirs}"
            assert channel.read() == plain, f"their frame {theirs}: plaintext"
            theirs += 1
    assert ours >= 1 and theirs >= 1, "frames each way"
    assert channel.read() == b"", "nothing more to read"
    assert channel.buffered_input == 0


def test_every_p2psec_side_is_replayed() -> None:
    """Every p2psec side of both files is replayed (10 of them: the six libp2p-noise
    sessions, both sides of the muxer pair, and both sides of the WebRTC-prologue pair,
    its responder with the WebTransport certificate hashes)."""
    replayed = [(p.values[1], p.values[2]) for p in cases()]
    for ty in ("ed25519", "secp256k1", "ecdsa"):
        assert (f"p2psec-initiator-{ty}", "initiator") in replayed
        assert (f"p2psec-responder-{ty}", "responder") in replayed
    for name in ("p2psec-pair-muxers-ed25519", "p2psec-pair-secp256k1-ecdsa-webrtc-prologue-certhashes"):
        assert (name, "initiator") in replayed
        assert (name, "responder") in replayed
    assert len(replayed) == 10
    assert not any(p.marks for p in cases())


def test_certhashes_are_in_message_2() -> None:
    """The recorded responder with certificate hashes, rebuilt without them, sends another
    message 2 (the hashes travel in its encrypted payload)."""
    s = session("p2psec-pairs.json", "p2psec-pair-secp256k1-ecdsa-webrtc-prologue-certhashes")
    rec = s["responder"]["p2psec"]
    assert rec["webtransport_certhashes_hex"]
    m1, m2, _ = (bytes.fromhex(m["hex"]) for m in s["messages"])

    def message_2(hashes: list[bytes] | None) -> bytes:
        config = UpgradeConfig(
            Keypair.from_protobuf(bytes.fromhex(rec["identity_private_key_protobuf_hex"])),
            security=["noise"],
            muxers=rec["stream_muxers"],
            noise_static_key=bytes.fromhex(rec["static_secret_hex"]),
            noise_prologue=bytes.fromhex(s["prologue_hex"]),
            noise_webtransport_certhashes=hashes,
            now=NOW,
        )
        listener = Listener(config, now=NOW, seed=ephemeral_secret(rec["ephemeral_rng_seed"]))
        listener.data_to_send()
        listener.receive_data(HEADER + PROPOSAL + m1)
        return listener.data_to_send()

    assert message_2([bytes.fromhex(h) for h in rec["webtransport_certhashes_hex"]]) == PROPOSAL + m2
    assert message_2(None) != PROPOSAL + m2


@pytest.mark.parametrize(
    ("hashes", "what"),
    [
        pytest.param([b"\x12\x20" + bytes(32)] * 33, "33 hashes", id="too-many"),
        pytest.param([b""], "0 bytes", id="empty"),
        pytest.param([bytes(1025)], "1025 bytes", id="too-long"),
    ],
)
def test_bad_certhashes_are_refused(hashes: list[bytes], what: str) -> None:
    with pytest.raises(p2psec.InvalidInput, match=what):
        UpgradeConfig(Keypair.generate(), security=["noise"], noise_webtransport_certhashes=hashes)


def test_a_wrong_prologue_fails_the_replay() -> None:
    """The prologue session's initiator, rebuilt without its prologue, sends the same
    message 1 (the prologue only enters the hash) but refuses the recorded message 2."""
    s = session("p2psec-pairs.json", "p2psec-pair-secp256k1-ecdsa-webrtc-prologue-certhashes")
    assert s["prologue_hex"]
    rec = s["initiator"]["p2psec"]
    config = UpgradeConfig(
        Keypair.from_protobuf(bytes.fromhex(rec["identity_private_key_protobuf_hex"])),
        security=["noise"],
        muxers=rec["stream_muxers"],
        noise_static_key=bytes.fromhex(rec["static_secret_hex"]),
        now=NOW,
        seed=bytes(32),
    )
    m1, m2, _ = (bytes.fromhex(m["hex"]) for m in s["messages"])
    d = Dialer(config, PeerId(rec["expected_peer_id"]), now=NOW, seed=ephemeral_secret(rec["ephemeral_rng_seed"]))
    assert d.data_to_send() == HEADER + PROPOSAL + m1
    with pytest.raises(p2psec.HandshakeError) as e:
        d.receive_data(HEADER + PROPOSAL + m2)
    assert e.value.layer == "noise"
    assert e.value.code > 0
