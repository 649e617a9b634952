"""`MqttProbe`: a synchronous MQTT client for tests, waiting on conditions instead of sleeping.

probe = MqttProbe(host, port).connect()
probe.subscribe("tau/#")
mark = probe.mark()
probe.publish("tau/group/kitchen/set", "ON")
msg = probe.wait_for("tau/group/kitchen", lambda m: m.json()["state"] == "ON", after=mark)
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    index: int  # position in the probe's log, for `after=`
    received: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.payload)


def matches(pattern: str, topic: str) -> bool:
    return pattern == topic or paho.topic_matches_sub(pattern, topic)


class MqttProbe:
    """A paho-mqtt 2.x client on its own network thread with a thread-safe message log."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._options: dict[str, Any] = {
            "username": username,
            "password": password,
            "ca_file": ca_file,
            "cert_file": cert_file,
            "key_file": key_file,
        }
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:10]}",
            protocol=paho.MQTTv311,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(
                ca_certs=ca_file, certfile=cert_file, keyfile=key_file, tls_version=ssl.PROTOCOL_TLS
            )
        self._cond = threading.Condition()
        self._log: list[Message] = []
        self._cleared = 0
        self._connected = False
        self._connect_rc: Any = None
        self._acked: set[int] = set()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # -- paho callbacks (network thread)

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        with self._cond:
            self._connect_rc = reason_code
            self._connected = not reason_code.is_failure
            self._cond.notify_all()

    def _on_disconnect(self, *_args: Any) -> None:
        with self._cond:
            self._connected = False
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self._log.append(
                Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), len(self._log))
            )
            self._cond.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _props: Any) -> None:
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    # -- connection

    def connect(self, timeout: float = 10) -> MqttProbe:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        with self._cond:
            answered = self._cond.wait_for(lambda: self._connect_rc is not None, timeout)
            accepted = self._connected
        if not accepted:
            self.close()  # stop the network thread; paho would keep retrying
            if not answered:
                raise TimeoutError(f"no CONNACK from {self.host}:{self.port} in {timeout} s")
            raise ConnectionError(f"broker refused the probe: {self._connect_rc}")
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttProbe:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        with self._cond:
            return self._connected

    # -- subscribe / publish

    def subscribe(self, pattern: str, qos: int = 1, timeout: float = 5) -> None:
        """Subscribe and wait for the SUBACK, so nothing published afterwards is missed."""
        rc, mid = self.client.subscribe(pattern, qos)
        if rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"subscribe {pattern!r} failed: {paho.error_string(rc)}")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acked, timeout):
                raise TimeoutError(f"no SUBACK for {pattern!r} in {timeout} s")

    def unsubscribe(self, pattern: str) -> None:
        self.client.unsubscribe(pattern)

    def publish(
        self,
        topic: str,
        payload: str | bytes | bytearray | None = b"",
        qos: int = 1,
        retain: bool = False,
        timeout: float = 5,
    ) -> None:
        """Publish and, for QoS > 0, wait until the broker acknowledged it."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise TimeoutError(f"publish to {topic!r} not acknowledged in {timeout} s")

    def publish_json(self, topic: str, data: Any, qos: int = 1, retain: bool = False) -> None:
        self.publish(topic, json.dumps(data), qos=qos, retain=retain)

    # -- the log

    def mark(self) -> int:
        """The log position now; pass it as `after=` to ignore earlier messages."""
        with self._cond:
            return len(self._log)

    def messages(self, pattern: str = "#", *, after: int | None = None) -> list[Message]:
        with self._cond:
            start = self._cleared if after is None else after
            return [m for m in self._log[start:] if matches(pattern, m.topic)]

    def clear(self) -> None:
        """Forget every message received so far (`messages` and `wait_for` skip them)."""
        with self._cond:
            self._cleared = len(self._log)

    def wait_for(
        self,
        pattern: str,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 5,
        *,
        after: int | None = None,
    ) -> Message:
        """The first message (at or after `after`) on a topic matching `pattern` and `predicate`."""
        found: list[Message] = []

        def ready() -> bool:
            for msg in self._log[start:]:
                if matches(pattern, msg.topic) and (predicate is None or predicate(msg)):
                    found.append(msg)
                    return True
            return False

        with self._cond:
            start = self._cleared if after is None else after
            if not self._cond.wait_for(ready, timeout):
                on_topic = [m for m in self._log[start:] if matches(pattern, m.topic)]
                seen = [f"{m.topic}={m.text[:120]!r}" for m in on_topic]
                raise TimeoutError(
                    f"no message on {pattern!r} matching the condition within {timeout} s; "
                    f"seen on that pattern: {seen[-10:] or 'nothing'}"
                )
        return found[0]

    def wait_json(
        self,
        pattern: str,
        predicate: Callable[[Any], bool] | None = None,
        timeout: float = 5,
        *,
        after: int | None = None,
    ) -> Any:
        """Like `wait_for` on JSON payloads; returns the decoded payload."""

        def check(msg: Message) -> bool:
            try:
                data = msg.json()
            except ValueError:
                return False
            return predicate is None or bool(predicate(data))

        return self.wait_for(pattern, check, timeout, after=after).json()

    def retained(self, prefix: str, settle: float = 0.3, timeout: float = 10) -> dict[str, Message]:
        """Every retained message under `prefix`, read by a fresh client.

        Collection ends once no message arrived for `settle` seconds: a broker sends
        the retained set right after the SUBACK, so a quiet gap means it is complete.
        """
        with MqttProbe(self.host, self.port, **self._options) as reader:
            reader.subscribe(f"{prefix}/#")
            reader.subscribe(prefix)
            deadline = time.monotonic() + timeout
            with reader._cond:
                count = -1
                while count != len(reader._log) and time.monotonic() < deadline:
                    count = len(reader._log)
                    reader._cond.wait_for(lambda n=count: len(reader._log) != n, settle)
            return {m.topic: m for m in reader.messages("#") if m.retain and m.payload}
