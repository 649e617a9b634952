"""The broker connection: last will, stable client id, QoS 1 subscriptions, reconnects.

`run()` keeps a connection up until `stop()`: capped exponential backoff with
jitter; the first failure is a WARNING, repeats are DEBUG, recovery is INFO. A
broker that refuses the bridge (credentials, TLS certificate) is an ERROR with one
sentence saying what to fix, since retrying will not help until someone does.
Publishing never blocks the caller: messages are handed to paho's queue and
anything lost while disconnected is re-published by `on_connect` (availability,
discovery and every state), so nothing needs to be buffered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable

import aiomqtt
import paho.mqtt.client as paho

from tau.settings import MqttSettings

log = logging.getLogger(__name__)

MessageHandler = Callable[[aiomqtt.Message], Awaitable[None]]


def tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    tls = settings.tls
    if tls is None:
        return None
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file is not None:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    if tls.insecure:
        context.check_hostname = False
    return context


# CONNACK codes for refused credentials: MQTT 3.1.1 (4, 5) and their MQTT 5 equivalents.
_AUTH_REFUSED = frozenset({4, 5, 134, 135})
_NAME_MISMATCH = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH


def explain_connect_error(exc: aiomqtt.MqttError, settings: MqttSettings) -> tuple[bool, str]:
    """(refused, one sentence): why the broker connection failed and what to fix.

    `refused` means the broker or its certificate turned the bridge away, which a
    retry cannot fix; otherwise the broker is unreachable or the connection dropped.
    """
    broker = f"the MQTT broker at {settings.host}:{settings.port}"
    if isinstance(exc, aiomqtt.MqttCodeError) and _code(exc.rc) in _AUTH_REFUSED:
        if settings.username is None:
            fix = "set TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD"
            return True, f"{broker} refused a connection without credentials ({exc}): {fix}"
        fix = "check TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD"
        return True, f"{broker} refused user {settings.username!r} ({exc}): {fix}"
    # aiomqtt re-raises socket errors as a plain MqttError; the TLS error is its context.
    cause = exc.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        if cause.verify_code in _NAME_MISMATCH:
            fix = "set TAU_MQTT__HOST to a name the broker's certificate lists"
        else:
            fix = "set TAU_MQTT__TLS__CA_FILE to the CA that signed the broker's certificate"
        reason = cause.verify_message or cause.reason
        return True, f"the TLS certificate of {broker} was rejected ({reason}): {fix}"
    if isinstance(cause, ssl.SSLError):
        fix = "check the TAU_MQTT__TLS__* settings against the broker's TLS listener"
        return True, f"TLS with {broker} failed ({cause.reason or cause}): {fix}"
    return False, f"no connection to {broker} ({exc})"


def _code(rc: object) -> int | None:
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None


class MqttSession:
    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        availability_topic: str,
        subscriptions: Callable[[], list[str]],
        on_connect: Callable[[], Awaitable[None]],
        on_message: MessageHandler,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._availability = availability_topic
        self._subscriptions = subscriptions
        self._on_connect = on_connect
        self._on_message = on_message
        self._client: aiomqtt.Client | None = None
        self._stopping = asyncio.Event()
        self._subscribed: set[str] = set()
        self._batch = bytearray()
        self._flush_scheduled = False
        # The batch path encodes MQTT 3.1.1 PUBLISH packets into paho's queue itself.
        self._batching = hasattr(paho.Client, "_packet_queue")
        self.connected = asyncio.Event()
        self.online = asyncio.Event()  # set once availability `online` went out
        self.reconnects = 0
        self.last_error: str | None = None
        self.on_reconnect: Callable[[], None] | None = None

    def _make_client(self) -> aiomqtt.Client:
        s = self._settings
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            identifier=self._client_id,
            protocol=aiomqtt.ProtocolVersion.V311,  # `publish_packet` encodes 3.1.1
            clean_session=False,  # the broker queues QoS 1 commands during a short outage
            will=aiomqtt.Will(self._availability, b"offline", qos=1, retain=True),
            keepalive=s.keepalive_s,
            tls_context=tls_context(s),
            tls_insecure=s.tls.insecure if s.tls else None,
            max_inflight_messages=1000,
            timeout=10,
        )

    async def run(self) -> None:
        delay = 0.25
        first_failure = True
        while not self._stopping.is_set():
            try:
                async with self._make_client() as client:
                    self._client = client
                    _no_delay(client)
                    self._subscribed = set()
                    await self.sync_subscriptions()
                    self.connected.set()
                    if not first_failure:
                        log.info("event=mqtt_reconnected host=%s", self._settings.host)
                        if self.on_reconnect is not None:
                            self.on_reconnect()
                    first_failure, delay = True, 0.25
                    # Discovery and states first, so `online` means "everything is out".
                    await self._on_connect()
                    self.flush()
                    await client.publish(self._availability, b"online", qos=1, retain=True)
                    self.online.set()
                    try:
                        async for message in client.messages:
                            await self._on_message(message)
                    finally:
                        self.flush()  # what is batched goes out ahead of the DISCONNECT
            except aiomqtt.MqttError as exc:
                if self._stopping.is_set():
                    break
                refused, explanation = explain_connect_error(exc, self._settings)
                if refused and (first_failure or explanation != self.last_error):
                    level = logging.ERROR
                else:
                    level = logging.WARNING if first_failure else logging.DEBUG
                event = "mqtt_refused" if refused else "mqtt_disconnected"
                log.log(level, "event=%s retry_in=%.1fs error=%r", event, delay, explanation)
                self.last_error = explanation
                if first_failure:
                    self.reconnects += 1
                first_failure = False
            finally:
                self._batch.clear()  # everything is re-published on the next connect
                self._client = None
                self.connected.clear()
                self.online.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay + random.uniform(0, delay / 4))
            delay = min(delay * 2, 4.0)

    async def sync_subscriptions(self) -> None:
        """Subscribe to what is wanted now (switch input topics come and go with reloads)."""
        client = self._client
        if client is None:
            return
        wanted = set(self._subscriptions())
        new = sorted(wanted - self._subscribed)
        gone = sorted(self._subscribed - wanted)
        if new:
            await client.subscribe([(t, 1) for t in new])
        for topic in gone:
            await client.unsubscribe(topic)
        self._subscribed = wanted

    def publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 0
    ) -> bool:
        """Queue a message without waiting; False when not connected.

        QoS 0 messages (states, replies, log entries) are encoded here and written
        together once per loop iteration: one socket write for a group command's
        thousand states instead of a thousand, and none of paho's per-message
        bookkeeping. Anything at QoS 1 first flushes that batch, so the order in which
        messages were published is the order they leave in.
        """
        client = self._client
        if client is None or not self.connected.is_set():
            return False
        if qos == 0 and self._batching:
            data = payload.encode() if isinstance(payload, str) else payload
            self._batch += publish_packet(topic.encode(), data, retain)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self.flush)
            return True
        self.flush()
        # aiomqtt's publish awaits each message's confirmation; state storms need paho's
        # queue directly so the render loop and command handling never wait on the broker.
        paho_client: paho.Client = client._client
        info = paho_client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def flush(self) -> None:
        """Hand the batched QoS 0 messages to paho's outgoing queue as one write."""
        self._flush_scheduled = False
        client = self._client
        if not self._batch or client is None:
            return
        data, self._batch = bytes(self._batch), bytearray()
        # paho writes queued packets in order and partially if the socket is full; a
        # packet whose command is not PUBLISH/DISCONNECT needs no callback when done.
        client._client._packet_queue(0, data, 0, 0)

    async def stop(self) -> None:
        """Say `offline` (a clean stop sends no last will) and disconnect."""
        client = self._client
        if client is not None and self.connected.is_set():
            self.flush()
            try:
                await client.publish(self._availability, b"offline", qos=1, retain=True, timeout=2)
            except aiomqtt.MqttError as exc:
                log.debug("event=mqtt_offline_not_sent error=%r", exc)
        self._stopping.set()


def _no_delay(client: aiomqtt.Client) -> None:
    """Turn Nagle off: a PUBACK followed by a small state PUBLISH would otherwise wait
    for the broker's delayed ACK (~40 ms) — the whole latency budget of a light switch."""
    sock = client._client.socket()
    if not isinstance(sock, socket.socket):  # ssl.SSLSocket is one too
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:  # not TCP (a unix socket) or already closed
        log.debug("event=mqtt_nodelay_failed error=%r", exc)


def publish_packet(topic: bytes, payload: bytes, retain: bool) -> bytes:
    """An MQTT 3.1.1 QoS 0 PUBLISH packet (fixed header, topic, payload)."""
    remaining = 2 + len(topic) + len(payload)
    header = bytearray((0x30 | (1 if retain else 0),))
    while True:
        remaining, digit = divmod(remaining, 128)
        header.append(digit | 0x80 if remaining else digit)
        if not remaining:
            break
    return bytes(header) + len(topic).to_bytes(2, "big") + topic + payload
