"""The QoS 0 PUBLISH packets the session batches: byte-exact against the MQTT 3.1.1 layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.mqtt.client import publish_packet


def decode(packet: bytes) -> tuple[int, bytes, bytes]:
    """(first byte, topic, payload), checking the remaining length matches the packet."""
    remaining, multiplier, i = 0, 1, 1
    while True:
        digit = packet[i]
        remaining += (digit & 0x7F) * multiplier
        multiplier *= 128
        i += 1
        if not digit & 0x80:
            break
    assert i <= 5, "a remaining length takes at most 4 bytes"
    assert len(packet) - i == remaining
    topic_len = int.from_bytes(packet[i : i + 2], "big")
    topic = packet[i + 2 : i + 2 + topic_len]
    return packet[0], topic, packet[i + 2 + topic_len :]


def test_a_small_retained_state() -> None:
    assert publish_packet(b"tau/fixture/a", b'{"state":"ON"}', True) == (
        b"\x31\x1d\x00\x0dtau/fixture/a" + b'{"state":"ON"}'
    )


@pytest.mark.parametrize("size", [125, 126, 127, 128, 16_381, 16_382, 16_383, 2_097_150])
def test_remaining_length_boundaries(size: int) -> None:
    # topic "t" (2 + 1 bytes) plus the payload: remaining lengths around 127 and 16383.
    payload = b"x" * (size - 3) if size >= 3 else b""
    first, topic, body = decode(publish_packet(b"t", payload, False))
    assert (first, topic, body) == (0x30, b"t", payload)


@given(st.text(min_size=1, max_size=300), st.binary(max_size=70_000), st.booleans())
def test_round_trip(topic: str, payload: bytes, retain: bool) -> None:
    first, got_topic, got_payload = decode(publish_packet(topic.encode(), payload, retain))
    assert first == (0x31 if retain else 0x30)
    assert (got_topic, got_payload) == (topic.encode(), payload)
