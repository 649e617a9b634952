"""The broker connection: last will, stable client id, QoS 1 subscriptions, reconnects.

`run()` keeps a connection up until `stop()`: capped exponential backoff with
jitter; the first failure is a WARNING, repeats are DEBUG, recovery is INFO. A
broker that refuses the bridge (credentials, TLS certificate) is an ERROR with one
sentence saying what to fix, since retrying will not help until someone does.
Publishing never blocks the caller: messages are queued on the connection and
written once per loop iteration; anything lost while disconnected is re-published
by `on_connect` (availability, discovery and every state), so nothing needs to be
buffered here. The connection itself is `tau.mqtt.client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import ssl
from collections.abc import Awaitable, Callable

from tau.mqtt.client import ConnectRefusedError, MessageHandler, MqttConnection, MqttError, Will
from tau.settings import MqttSettings

log = logging.getLogger(__name__)

__all__ = ["MessageHandler", "MqttSession", "explain_connect_error", "tls_context"]


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


# CONNACK codes for refused credentials (MQTT 3.1.1: bad user name or password, not authorised).
_AUTH_REFUSED = frozenset({4, 5})
_NAME_MISMATCH = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH


def explain_connect_error(exc: MqttError, settings: MqttSettings) -> tuple[bool, str]:
    """(refused, one sentence): why the broker connection failed and what to fix.

    `refused` means the broker or its certificate turned the bridge away, which a
    retry cannot fix; otherwise the broker is unreachable or the connection dropped.
    """
    broker = f"the MQTT broker at {settings.host}:{settings.port}"
    if isinstance(exc, ConnectRefusedError) and exc.rc in _AUTH_REFUSED:
        if settings.username is None:
            fix = "set TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD"
            return True, f"{broker} refused a connection without credentials ({exc}): {fix}"
        fix = "check TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD"
        return True, f"{broker} refused user {settings.username!r} ({exc}): {fix}"
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        if cause.verify_code in _NAME_MISMATCH:
            fix = "set TAU_MQTT__HOST to a name the broker's certificate lists"
        else:
            fix = "set TAU_MQTT__TLS__CA_FILE to the CA that signed the broker's certificate"
        reason = cause.verify_message or cause.reason
        return True, f"the TLS certificate of {broker} was rejected ({reason}): {fix}"
    if isinstance(cause, ssl.SSLError):
        if "CERTIFICATE_REQUIRED" in (cause.reason or ""):
            fix = (
                "the broker wants a client certificate: set TAU_MQTT__TLS__CERT_FILE "
                "and TAU_MQTT__TLS__KEY_FILE"
            )
        else:
            fix = "check the TAU_MQTT__TLS__* settings against the broker's TLS listener"
        return True, f"TLS with {broker} failed ({_ssl_text(cause)}): {fix}"
    return False, f"no connection to {broker} ({exc})"


def _ssl_text(exc: ssl.SSLError) -> str:
    """OpenSSL's words without the bracketed code and source line:
    "[SSL: X] tlsv13 alert certificate required (_ssl.c:2580)" -> the middle part."""
    found = re.search(r"\] (.+?)(?: \(_ssl\.c:\d+\))?$", str(exc))
    return found.group(1) if found else str(exc.reason or exc)


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
        self._conn: MqttConnection | None = None
        self._stopping = asyncio.Event()
        self._subscribed: set[str] = set()
        self.connected = asyncio.Event()
        self.online = asyncio.Event()  # set once availability `online` went out
        self.reconnects = 0
        self.last_error: str | None = None
        self.on_reconnect: Callable[[], None] | None = None

    async def _open(self) -> MqttConnection:
        s = self._settings
        return await MqttConnection.open(
            s.host,
            s.port,
            self._client_id,
            self._on_message,
            keepalive=s.keepalive_s,
            clean_session=False,  # the broker queues QoS 1 commands during a short outage
            will=Will(self._availability, b"offline", qos=1, retain=True),
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            tls=tls_context(s),
            timeout_s=10,
        )

    async def run(self) -> None:
        delay = 0.25
        first_failure = True
        while not self._stopping.is_set():
            conn: MqttConnection | None = None
            try:
                conn = await self._open()
                self._conn = conn
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
                await conn.publish_acked(self._availability, b"online", retain=True)
                self.online.set()
                await conn.closed
                if conn.error is not None and not self._stopping.is_set():
                    raise conn.error
            except MqttError as exc:
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
                if conn is not None:
                    conn.disconnect()  # what is queued goes out ahead of the DISCONNECT
                self._conn = None
                self.connected.clear()
                self.online.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay + random.uniform(0, delay / 4))
            delay = min(delay * 2, 4.0)

    async def sync_subscriptions(self) -> None:
        """Subscribe to what is wanted now (switch input topics come and go with reloads)."""
        conn = self._conn
        if conn is None:
            return
        wanted = set(self._subscriptions())
        new = sorted(wanted - self._subscribed)
        gone = sorted(self._subscribed - wanted)
        if new:
            granted = await conn.subscribe([(t, 1) for t in new])
            for topic, code in zip(new, granted, strict=False):
                if code == 0x80:
                    log.error("event=mqtt_subscribe_refused topic=%s", topic)
        if gone:
            await conn.unsubscribe(gone)
        self._subscribed = wanted

    def publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 0
    ) -> bool:
        """Queue a message without waiting; False when not connected.

        Everything published in one loop iteration (a group command's thousand states,
        the PUBACKs of the commands that caused them) leaves in order as one write.
        """
        conn = self._conn
        if conn is None or not self.connected.is_set() or not conn.is_open:
            return False
        data = payload.encode() if isinstance(payload, str) else payload
        try:
            conn.publish(topic, data, qos=qos, retain=retain)
        except (MqttError, ValueError) as exc:
            log.warning("event=mqtt_publish_failed topic=%s error=%r", topic, str(exc))
            return False
        return True

    async def stop(self) -> None:
        """Say `offline` (a clean stop sends no last will) and disconnect."""
        conn = self._conn
        if conn is not None and self.connected.is_set() and conn.is_open:
            try:
                await conn.publish_acked(self._availability, b"offline", retain=True, timeout_s=2)
            except MqttError as exc:
                log.debug("event=mqtt_offline_not_sent error=%r", exc)
        self._stopping.set()
        if conn is not None:
            conn.disconnect()
