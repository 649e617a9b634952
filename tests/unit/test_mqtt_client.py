"""The bridge's MQTT 3.1.1 connection: packet layout and a stream parser that never loses
or reorders a message however the kernel splits the bytes. (End to end it runs against
real Mosquitto in every integration test.)"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tau.mqtt.client import (
    BURST,
    MAX_PACKETS_PER_TURN,
    RATE,
    MqttConnection,
    Will,
    connect_packet,
    publish_packet,
)


class FakeSocket:
    def __init__(self) -> None:
        self.options: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, name: int, value: int) -> None:
        self.options.append((level, name, value))


class FakeTransport:
    """What `MqttConnection` needs of a transport; records writes and read pausing."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.paused = False
        self.closing = False
        self.sock = FakeSocket()

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True


def connection() -> tuple[MqttConnection, FakeTransport, list[tuple[str, bytes, bool]]]:
    got: list[tuple[str, bytes, bool]] = []
    conn = MqttConnection(lambda t, p, r: got.append((t, p, r)), keepalive=0)
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport, got


def test_connect_packet_carries_will_credentials_and_keepalive() -> None:
    data = connect_packet(
        "tau-1",
        keepalive=30,
        clean_session=False,
        will=Will("tau/bridge/state", b"offline", qos=1, retain=True),
        username="tau",
        password="s3cret",
    )
    assert data[0] == 0x10
    body = data[2:]
    assert data[1] == len(body)
    assert body[:6] == b"\x00\x04MQTT" and body[6] == 4
    assert body[7] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04  # user, password, will retain/QoS 1/flag
    assert body[8:10] == (30).to_bytes(2, "big")
    assert body[10:] == (
        b"\x00\x05tau-1"
        + b"\x00\x10tau/bridge/state"
        + b"\x00\x07offline"
        + b"\x00\x03tau"
        + b"\x00\x06s3cret"
    )


def test_a_qos1_publish_carries_its_packet_id() -> None:
    assert publish_packet(b"t/a", b"x", False, 1, 0x1234) == b"\x32\x08\x00\x03t/a\x12\x34x"


messages = st.lists(
    st.tuples(
        st.text(alphabet="abc/xyzé", min_size=1, max_size=30),
        st.binary(max_size=300) | st.just(b"y" * 20_000),
        st.booleans(),
        st.sampled_from([0, 1]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(messages, st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=50))
def test_messages_arrive_whole_and_in_order_however_the_stream_is_split(
    msgs: list[tuple[str, bytes, bool, int]], cuts: list[int]
) -> None:
    async def scenario() -> None:
        conn, transport, got = connection()
        stream = b"".join(
            publish_packet(t.encode(), p, r, q, i + 1) for i, (t, p, r, q) in enumerate(msgs)
        )
        pos, k = 0, 0
        while pos < len(stream):
            size = cuts[k % len(cuts)]
            conn.data_received(stream[pos : pos + size])
            pos, k = pos + size, k + 1
        conn.flush()
        assert got == [(t, p, r) for t, p, r, _ in msgs]
        acks = b"".join(
            b"\x40\x02" + (i + 1).to_bytes(2, "big") for i, m in enumerate(msgs) if m[3] == 1
        )
        assert bytes(transport.written) == acks

    asyncio.run(scenario())


async def test_a_long_burst_yields_to_the_loop_between_passes() -> None:
    conn, transport, got = connection()
    count = MAX_PACKETS_PER_TURN * 2 + 10
    conn.data_received(b"".join(publish_packet(b"t", b"%d" % i, False) for i in range(count)))
    assert len(got) == MAX_PACKETS_PER_TURN
    assert transport.paused
    for _ in range(3):
        await asyncio.sleep(0)
    assert [p for _, p, _ in got] == [b"%d" % i for i in range(count)]
    assert not transport.paused


async def test_states_and_acks_queued_in_one_turn_leave_in_one_write_in_order() -> None:
    conn, transport, _ = connection()
    writes: list[bytes] = []
    transport.write = writes.append  # type: ignore[method-assign]
    conn.data_received(publish_packet(b"cmd", b"ON", False, 1, 7))
    conn.publish("state", b'{"state":"ON"}', retain=True)
    assert writes == []  # nothing written until the loop turns
    await asyncio.sleep(0)
    assert writes == [b"\x40\x02\x00\x07" + publish_packet(b"state", b'{"state":"ON"}', True)]


async def test_a_lost_connection_fails_what_waits_for_an_acknowledgement() -> None:
    conn, _, _ = connection()
    waiting = asyncio.ensure_future(conn.publish_acked("t", b"x", timeout_s=5))
    await asyncio.sleep(0)
    conn.connection_lost(ConnectionResetError("reset by peer"))
    with pytest.raises(Exception, match="reset by peer"):
        await waiting
    assert not conn.is_open


async def test_a_burst_leaves_paced_and_in_order() -> None:
    """BURST messages at once, the rest at RATE a second: a slow subscriber behind the
    broker is not flooded past the point where Mosquitto drops QoS 0 messages."""
    conn, transport, _ = connection()
    extra = 500
    count = BURST + extra
    started = asyncio.get_running_loop().time()
    for i in range(count):
        conn.publish(f"s/{i}", b"x", retain=True)
    held = conn.held  # the bucket refills a little while the loop above runs
    assert extra * 0.8 <= held <= extra, held
    await asyncio.sleep(0)
    assert bytes(transport.written) == b"".join(
        publish_packet(f"s/{i}".encode(), b"x", True) for i in range(count - held)
    )
    for _ in range(1000):  # polled: the connection has no event for "bucket drained"
        if not conn.held:
            break
        await asyncio.sleep(0.005)
    took = asyncio.get_running_loop().time() - started
    await asyncio.sleep(0)
    assert bytes(transport.written) == b"".join(
        publish_packet(f"s/{i}".encode(), b"x", True) for i in range(count)
    )
    assert took >= held / RATE * 0.8, took


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux only")
async def test_an_acknowledgement_that_needs_no_answer_is_acked_at_once() -> None:
    """A PUBACK from the broker gets no reply to carry the TCP ACK: without QUICKACK the
    kernel delays it, and a broker with Nagle on holds the next command behind it."""
    conn, transport, _ = connection()
    quick = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in transport.sock.options
    waiting = asyncio.ensure_future(conn.publish_acked("t", b"x", timeout_s=5))
    for _ in range(2):  # the publish, then its write
        await asyncio.sleep(0)
    assert transport.written
    conn.data_received(b"\x40\x02\x00\x01")  # PUBACK for packet id 1
    await waiting
    assert transport.sock.options.count(quick) == 1
    conn.data_received(publish_packet(b"cmd", b"ON", False, 1, 9))  # answered by a PUBACK
    assert transport.sock.options.count(quick) == 1


async def test_an_unanswered_ping_drops_the_connection() -> None:
    """Keep-alive: a PINGREQ after 3/4 of an idle keep-alive; no PINGRESP within a whole
    keep-alive means a half-open connection, which is dropped so the session reconnects."""
    got: list[tuple[str, bytes, bool]] = []
    conn = MqttConnection(lambda t, p, r: got.append((t, p, r)), keepalive=1)
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    pinger = asyncio.create_task(conn._keep_alive())
    await asyncio.sleep(1.2)
    assert bytes(transport.written) == b"\xc0\x00"  # PINGREQ
    assert conn.is_open
    await asyncio.wait_for(asyncio.shield(conn.closed), 2.0)
    assert conn.error is not None
    await pinger


async def test_a_ping_answered_keeps_the_connection() -> None:
    conn, transport, _ = connection()
    conn._keepalive = 1
    pinger = asyncio.create_task(conn._keep_alive())
    await asyncio.sleep(1.2)
    assert bytes(transport.written) == b"\xc0\x00"
    conn.data_received(b"\xd0\x00")  # PINGRESP
    await asyncio.sleep(1.2)
    assert conn.is_open
    pinger.cancel()
