"""A lean MQTT 3.1.1 client connection on an asyncio protocol: the bridge's hot path.

Why not paho (through aiomqtt): at thousands of commands a second, a third of the
bridge's CPU went to paho's per-packet reads and callbacks, one PUBACK write per
command and aiomqtt's queue between them. Here one `data_received` parses every
packet the kernel handed over, calls the message handler synchronously, and all
that goes out (PUBACKs, states, replies) leaves in order as one write per loop
iteration.

What it does: CONNECT with last will, credentials, clean session or not, keep-alive
(PINGREQ when idle, the connection is dropped if no PINGRESP comes back); receives
PUBLISH at QoS 0/1/2 (answering PUBACK, or PUBREC/PUBCOMP); publishes at QoS 0/1
(a QoS 1 publish can be awaited until its PUBACK); SUBSCRIBE/UNSUBSCRIBE awaiting
their acknowledgements; DISCONNECT. TLS and TCP come from asyncio. Reconnecting is
the caller's business (`MqttSession`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

log = logging.getLogger(__name__)

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = range(8, 15)

# Packets handled per pass before the loop gets a turn (timers, the render loop).
MAX_PACKETS_PER_TURN = 256

# Pacing for bursts (on connect: every discovery config and state; a group command to
# thousands of fixtures). A broker takes whatever it is sent, but Mosquitto drops QoS 0
# messages for a subscriber with 1,000 packets waiting (max_queued_messages), and Home
# Assistant or a dashboard reads slower than the bridge writes: an unpaced burst of
# 10,000 configs and 10,000 states lost half of the states on their way to a Python
# subscriber. So messages leave at once while fewer than BURST went out in the last
# moments, then at RATE a second, in order. The steady command rate never waits.
BURST = 1000
RATE = 10_000.0  # messages per second once a burst is spent

CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}

MessageHandler = Callable[[str, bytes, bool], None]  # topic, payload, retained

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class MqttError(Exception):
    """The connection failed or was lost; `__cause__` holds the socket/TLS error if any."""


class ConnectRefusedError(MqttError):
    """The broker answered CONNECT with a non-zero return code."""

    def __init__(self, rc: int) -> None:
        self.rc = rc
        super().__init__(f"connection refused: {CONNACK_REASONS.get(rc, 'code')} ({rc})")


@dataclass(slots=True, frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


# ------------------------------------------------------------------ encoding


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    if len(data) > 0xFFFF:
        raise ValueError(f"an MQTT string is at most 65535 bytes, got {len(data)}")
    return len(data).to_bytes(2, "big") + data


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _length(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, retain: bool, qos: int = 0, mid: int = 0) -> bytes:
    """A PUBLISH packet (fixed header, topic, packet id at QoS > 0, payload)."""
    first = 0x30 | (qos << 1) | (1 if retain else 0)
    variable = len(topic).to_bytes(2, "big") + topic
    if qos:
        variable += mid.to_bytes(2, "big")
    return bytes((first,)) + _length(len(variable) + len(payload)) + variable + payload


def connect_packet(
    client_id: str,
    *,
    keepalive: int,
    clean_session: bool,
    will: Will | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x02 if clean_session else 0
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _string(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    variable = _string("MQTT") + bytes((4, flags)) + keepalive.to_bytes(2, "big")
    return packet(CONNECT << 4, variable + payload)


# ---------------------------------------------------------------- connection


class MqttConnection(asyncio.Protocol):
    """One connection to the broker. Make it with `MqttConnection.open()`."""

    def __init__(self, on_message: MessageHandler, keepalive: int) -> None:
        self._on_message = on_message
        self._keepalive = keepalive
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._sock: Any = None
        self._buffer = bytearray()
        self._out = bytearray()
        self._flush_scheduled = False
        self._paused = False
        self._connack: asyncio.Future[int] = self._loop.create_future()
        self._waiters: dict[int, asyncio.Future[bytes]] = {}
        self._next_mid = 0
        self._last_out = time.monotonic()
        self._ping_sent: float | None = None
        self._tokens = float(BURST)  # messages that may leave now (token bucket)
        self._tokens_t = time.monotonic()
        self._held: deque[bytes] = deque()  # waiting for tokens, in order
        self._drain: asyncio.TimerHandle | None = None
        self._pinger: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self.error: BaseException | None = None

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        client_id: str,
        on_message: MessageHandler,
        *,
        keepalive: int = 60,
        clean_session: bool = True,
        will: Will | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        timeout_s: float = 10.0,
    ) -> MqttConnection:
        """Connect, send CONNECT and wait for CONNACK; raise `MqttError` on any failure."""
        loop = asyncio.get_running_loop()
        conn = cls(on_message, keepalive)
        try:
            async with asyncio.timeout(timeout_s):
                await loop.create_connection(
                    lambda: conn, host, port, ssl=tls, server_hostname=host if tls else None
                )
                conn._write(
                    connect_packet(
                        client_id,
                        keepalive=keepalive,
                        clean_session=clean_session,
                        will=will,
                        username=username,
                        password=password,
                    )
                )
                rc = await asyncio.shield(conn._connack)
        except MqttError:
            conn.abort()
            raise
        except TimeoutError as exc:
            conn.abort()
            raise MqttError(f"no answer from {host}:{port} within {timeout_s:g} s") from exc
        except (OSError, ssl.SSLError) as exc:
            conn.abort()
            raise MqttError(str(exc) or type(exc).__name__) from exc
        if rc != 0:
            conn.abort()
            raise ConnectRefusedError(rc)
        if keepalive:
            conn._pinger = loop.create_task(conn._keep_alive(), name="mqtt-keepalive")
        return conn

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they behave as one.
        self._transport = cast(asyncio.Transport, transport)
        self._sock = transport.get_extra_info("socket")
        if self._sock is not None:
            # Nagle off: a small state behind a PUBACK would wait for the broker's
            # delayed ACK (~40 ms), the whole latency budget of a light switch.
            with contextlib.suppress(OSError, AttributeError):
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _quick_ack(self) -> None:
        """Acknowledge what was read now, not after the kernel's delayed-ACK timer.

        A PUBACK (or SUBACK, PINGRESP) from the broker gets no answer, so its TCP ACK
        waits up to 40 ms; a broker with Nagle on (Mosquitto's default) holds the next
        small packet to the bridge, a command, until that ACK. Linux only.
        """
        if self._sock is not None and _QUICKACK is not None:
            with contextlib.suppress(OSError, AttributeError):
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._paused:
            self._process()

    def eof_received(self) -> bool | None:
        self._lost(MqttError("the broker closed the connection"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self._lost(MqttError("connection closed"))
        else:
            error = MqttError(str(exc) or type(exc).__name__)
            error.__cause__ = exc
            self._lost(error)

    # -- public --------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False) -> None:
        """Queue a PUBLISH; it leaves with everything else queued in this loop iteration
        (in a burst, at the pace of BURST and RATE)."""
        if qos == 0:
            self._queue(publish_packet(topic.encode(), payload, retain))
            return
        mid = self._mid()
        self._expect(mid)
        self._queue(publish_packet(topic.encode(), payload, retain, 1, mid))

    @property
    def held(self) -> int:
        """Messages waiting for their turn in a paced burst."""
        return len(self._held)

    async def publish_acked(
        self, topic: str, payload: bytes, *, retain: bool = False, timeout_s: float = 10.0
    ) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        mid = self._mid()
        waiter = self._expect(mid)
        self._queue(publish_packet(topic.encode(), payload, retain, 1, mid))
        await self._wait(waiter, timeout_s, "PUBACK")

    async def subscribe(
        self, topics: Sequence[tuple[str, int]], timeout_s: float = 10.0
    ) -> list[int]:
        """Subscribe; returns the granted QoS per topic (0x80: refused)."""
        mid = self._mid()
        waiter = self._expect(mid)
        body = mid.to_bytes(2, "big") + b"".join(_string(t) + bytes((q,)) for t, q in topics)
        self._write(packet(SUBSCRIBE << 4 | 0x02, body))
        return list(await self._wait(waiter, timeout_s, "SUBACK"))

    async def unsubscribe(self, topics: Sequence[str], timeout_s: float = 10.0) -> None:
        mid = self._mid()
        waiter = self._expect(mid)
        body = mid.to_bytes(2, "big") + b"".join(_string(t) for t in topics)
        self._write(packet(UNSUBSCRIBE << 4 | 0x02, body))
        await self._wait(waiter, timeout_s, "UNSUBACK")

    def disconnect(self) -> None:
        """Send DISCONNECT after everything written so far and close (no last will).

        Messages still held back by pacing are dropped: the next connection re-publishes
        every state, and `MqttSession.stop()` awaits its `offline`, which queues behind
        them, before it disconnects."""
        if self._transport is not None and self.is_open:
            self._write(packet(DISCONNECT << 4, b""))
            self.flush()
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._lost(MqttError("connection aborted"))

    def flush(self) -> None:
        """Write everything queued now, as one write."""
        self._flush_scheduled = False
        if not self._out or self._transport is None or self._transport.is_closing():
            return
        data, self._out = bytes(self._out), bytearray()
        self._transport.write(data)
        self._last_out = time.monotonic()

    # -- internals -----------------------------------------------------------------

    def _queue(self, data: bytes) -> None:
        if not self._held:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self._write(data)
                return
        self._held.append(data)
        if self._drain is None:
            self._drain = self._loop.call_later(0.005, self._release)

    def _refill(self) -> None:
        """Add the tokens earned since the last refill (RATE a second, at most BURST)."""
        now = time.monotonic()
        self._tokens = min(float(BURST), self._tokens + (now - self._tokens_t) * RATE)
        self._tokens_t = now

    def _release(self) -> None:
        """Send what the bucket allows now; come back for the rest."""
        self._drain = None
        self._refill()
        held = self._held
        while held and self._tokens >= 1.0:
            self._tokens -= 1.0
            self._write(held.popleft())
        if held and self.is_open:
            self._drain = self._loop.call_later(0.005, self._release)

    def _write(self, data: bytes) -> None:
        self._out += data
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def _mid(self) -> int:
        for _ in range(0xFFFF):
            self._next_mid = self._next_mid % 0xFFFF + 1
            if self._next_mid not in self._waiters:
                return self._next_mid
        raise MqttError("65535 messages are waiting for an acknowledgement")

    def _expect(self, mid: int) -> asyncio.Future[bytes]:
        waiter: asyncio.Future[bytes] = self._loop.create_future()
        self._waiters[mid] = waiter
        waiter.add_done_callback(lambda _f: self._waiters.pop(mid, None))
        return waiter

    async def _wait(self, waiter: asyncio.Future[bytes], timeout_s: float, what: str) -> bytes:
        if self.error is not None:
            raise self.error
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter
        except TimeoutError:
            waiter.cancel()
            raise MqttError(f"no {what} from the broker within {timeout_s:g} s") from None

    def _resume(self) -> None:
        self._paused = False
        if not self.is_open:
            return  # unacknowledged messages come again on the next connection
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()
        self._process()

    def _process(self) -> None:
        buf = self._buffer
        pos, end, handled = 0, len(buf), 0
        try:
            while pos + 2 <= end:
                first = buf[pos]
                # remaining length: 1-4 bytes of 7 bits, least significant first
                length, shift, i, complete = 0, 0, pos + 1, False
                while i < end:
                    digit = buf[i]
                    i += 1
                    length |= (digit & 0x7F) << shift
                    if not digit & 0x80:
                        complete = True
                        break
                    shift += 7
                    if shift > 21:
                        raise MqttError("malformed packet from the broker (remaining length)")
                if not complete:
                    break  # the length itself is incomplete
                if i + length > end:
                    break  # the body is incomplete
                self._packet(first, bytes(buf[i : i + length]))
                pos = i + length
                handled += 1
                if handled >= MAX_PACKETS_PER_TURN and pos < end:
                    # Let timers and the render loop run; carry on at the next turn.
                    self._paused = True
                    if self._transport is not None:
                        self._transport.pause_reading()
                    self._loop.call_soon(self._resume)
                    break
            if handled and not self._out:
                self._quick_ack()  # nothing goes back to carry the ACK
        except MqttError as exc:
            log.warning("event=mqtt_protocol_error error=%r", str(exc))
            self.abort()
            return
        finally:
            del buf[:pos]

    def _packet(self, first: int, body: bytes) -> None:
        kind = first >> 4
        if kind == PUBLISH:
            qos = (first >> 1) & 0x03
            n = int.from_bytes(body[:2], "big")
            topic = body[2 : 2 + n].decode("utf-8", "replace")
            at = 2 + n
            mid = 0
            if qos:
                mid = int.from_bytes(body[at : at + 2], "big")
                at += 2
            try:
                self._on_message(topic, body[at:], bool(first & 0x01))
            except Exception:  # the handler reports its own errors; this is a bug
                log.exception("event=mqtt_handler_failed topic=%s", topic)
            if qos == 1:
                self._write(bytes((PUBACK << 4, 2)) + mid.to_bytes(2, "big"))
            elif qos == 2:
                self._write(bytes((PUBREC << 4, 2)) + mid.to_bytes(2, "big"))
        elif kind in (PUBACK, SUBACK, UNSUBACK):
            waiter = self._waiters.get(int.from_bytes(body[:2], "big"))
            if waiter is not None and not waiter.done():
                waiter.set_result(body[2:])
        elif kind == PUBREL:
            self._write(bytes((PUBCOMP << 4, 2)) + body[:2])
        elif kind == PINGRESP:
            self._ping_sent = None
        elif kind == CONNACK:
            if not self._connack.done():
                self._connack.set_result(body[1] if len(body) > 1 else 255)
        elif kind in (PUBREC, PUBCOMP):
            pass  # only for QoS 2 publishes, which this client never sends
        else:
            raise MqttError(f"unexpected packet type {kind} from the broker")

    async def _keep_alive(self) -> None:
        """PINGREQ when nothing was written for 3/4 of the keep-alive; one unanswered for a
        whole keep-alive means the broker is gone."""
        period = self._keepalive
        while self.is_open:
            await asyncio.sleep(min(1.0, period / 4))
            now = time.monotonic()
            if self._ping_sent is not None and now - self._ping_sent > period:
                log.debug("event=mqtt_ping_timeout")
                self.abort()
                return
            if self._ping_sent is None and now - self._last_out >= period * 0.75:
                self._ping_sent = now
                self._write(bytes((PINGREQ << 4, 0)))

    def _lost(self, error: MqttError) -> None:
        if self.closed.done():
            return
        self.error = error
        if not self._connack.done():
            self._connack.set_exception(error)
            self._connack.exception()  # retrieved: the opener re-raises it
        for waiter in list(self._waiters.values()):
            if not waiter.done():
                waiter.set_exception(error)
                waiter.exception()
        self.closed.set_result(None)
        self._held.clear()  # everything is re-published on the next connection
        if self._drain is not None:
            self._drain.cancel()
        if self._pinger is not None and self._pinger is not asyncio.current_task():
            self._pinger.cancel()
