"""From settings to a broker connection attempt, and back from its failure to one sentence.

`client_options` turns `MqttSettings` into `aiomqtt.Client` keyword arguments (TLS,
MQTT 5 session expiry, Nagle off); `explain_connect_error` says why an attempt failed
and what to fix. Both are shared by the session and `tau check`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import socket
import ssl
import time
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tau.settings import MqttSettings

log = logging.getLogger("tau.mqtt.session")  # one logger for the connection's story

CONNECT_TIMEOUT_S = 10.0

# Reason codes (MQTT 5 values; paho reports 3.1.1 CONNACK codes as these too).
_BAD_CREDENTIALS = frozenset({4, 5, 134, 135})
_BAD_PROTOCOL = frozenset({1, 132})
TAKEN_OVER = 142


class BrokerSilentError(aiomqtt.MqttError):
    """The broker stopped answering with the connection still open."""


class BrokerClosedError(aiomqtt.MqttError):
    """The broker ended a connection it had accepted."""


# ------------------------------------------------------------------ settings -> client


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


def client_options(
    settings: MqttSettings, client_id: str, *, persistent: bool = True, resume: bool = True
) -> dict[str, Any]:
    """aiomqtt.Client keyword arguments for these settings (also used by `tau check`).

    `persistent`: the broker keeps the session over an outage; `resume` (MQTT 5): take
    up the one it kept (else start afresh, dropping what was queued)."""
    v5 = settings.protocol == "5"
    options: dict[str, Any] = {
        "hostname": settings.host,
        "port": settings.port,
        "identifier": client_id,
        "username": settings.username,
        "password": settings.password.get_secret_value() if settings.password else None,
        "protocol": aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        "transport": settings.transport,
        "keepalive": settings.keepalive_s,
        "timeout": CONNECT_TIMEOUT_S,
        "tls_context": tls_context(settings),
        # Nagle off: a small state behind a PUBACK would wait for the broker's delayed
        # ACK (~40 ms), the whole latency budget of a light switch.
        "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    }
    if settings.transport == "websockets":
        options["websocket_path"] = settings.ws_path
    if v5:
        # Clean start only when asked: the broker keeps the session (and the QoS 1
        # commands sent during a short outage) as long as a command stays fresh
        # (TAU_MQTT__COMMAND_MAX_AGE_S), then drops it with what was queued.
        options["clean_start"] = not (persistent and resume)
        if persistent:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = math.ceil(settings.command_max_age_s)
            options["properties"] = properties
    else:
        options["clean_session"] = not persistent
    return options


def discard_session(settings: MqttSettings, client_id: str, logger: PahoLog) -> None:
    """MQTT 3.1.1 (no session expiry): end the broker's session for `client_id`, and the
    messages queued in it, with one clean connection. Blocking: run it in a thread.

    paho's own client, not aiomqtt's: an aiomqtt client closed right before the next
    one opens leaves the event loop watching a socket that is gone."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
        protocol=mqtt.MQTTv311,
        transport=settings.transport,
    )
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    if (context := tls_context(settings)) is not None:
        client.tls_set_context(context)
    if settings.transport == "websockets":
        client.ws_set_options(path=settings.ws_path)
    client.enable_logger(logger)  # a TLS alert after the handshake only shows there
    answered: list[ReasonCode] = []
    client.on_connect = lambda _c, _u, _f, code, _p: answered.append(code)
    try:
        client.connect(settings.host, settings.port, settings.keepalive_s)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not answered and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
    except OSError as exc:
        raise aiomqtt.MqttError(str(exc)) from exc
    finally:
        if client.is_connected():
            client.disconnect()  # written at once; the broker ends the session
            client.loop(timeout=0.1)
    if not answered:
        raise aiomqtt.MqttError(logger.last_error or "the broker did not answer a clean connection")
    if answered[0].is_failure:
        raise MqttConnectError(answered[0])


class PahoLog(logging.Logger):
    """The logger handed to aiomqtt (and by it to paho): keeps paho's last error of the
    current attempt (a TLS alert after the handshake only shows there) and passes
    everything on at DEBUG, so a failing broker is one explained line, not paho's."""

    def __init__(self) -> None:
        # paho logs every packet at DEBUG: only pay for that when Tau logs at DEBUG.
        level = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING
        super().__init__("tau.mqtt.paho", level)
        self.last_error: str | None = None
        self.failed: asyncio.Event | None = None

    def handle(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.last_error = record.getMessage()
            if self.failed is not None:
                self.failed.set()
        log.debug("event=paho level=%s message=%r", record.levelname, record.getMessage())


# ---------------------------------------------------------------------- explanations


def reason_code(exc: BaseException | None) -> int | None:
    rc = getattr(exc, "rc", None)
    if isinstance(rc, ReasonCode):
        return int(rc.value)
    return rc if isinstance(rc, int) else None


def _ssl_text(text: str) -> str:
    """OpenSSL's words without the bracketed code and source line:
    "[SSL: X] tlsv13 alert certificate required (_ssl.c:2580)" -> the middle part."""
    found = re.search(r"\[SSL(?:: [A-Z0-9_]+)?\] (.+?)(?: \(_ssl\.c:\d+\))?$", text)
    return found.group(1) if found else text


def explain_connect_error(
    exc: BaseException, settings: MqttSettings, detail: str | None = None
) -> tuple[bool, str]:
    """(refused, one sentence): why the broker connection failed and what to fix.

    `refused` means the broker or its certificate turned the bridge away, which a retry
    cannot fix; otherwise the broker is unreachable or the connection dropped. `detail`
    is paho's own error for the attempt, if it logged one (a TLS alert, a reset).
    """
    broker = f"the MQTT broker at {settings.host}:{settings.port}"
    code = reason_code(exc)
    if isinstance(exc, MqttConnectError):
        if code in _BAD_CREDENTIALS:
            if settings.username is None:
                fix = "set TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD"
                return True, f"{broker} refused a connection without credentials ({exc}): {fix}"
            fix = "check TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD"
            return True, f"{broker} refused user {settings.username!r} ({exc}): {fix}"
        if code in _BAD_PROTOCOL:
            fix = "set TAU_MQTT__PROTOCOL=3.1.1" if settings.protocol == "5" else "upgrade it"
            return True, f"{broker} does not speak MQTT {settings.protocol} ({exc}): {fix}"
        return True, f"{broker} refused the connection ({exc})"
    if isinstance(exc, BrokerSilentError | BrokerClosedError):
        return False, f"{broker}: {exc}"
    text = " ".join(t for t in (str(exc), detail or "") if t)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        found = re.search(r"certificate verify failed: (.+?)(?: \(_ssl\.c:\d+\))?$", str(exc))
        reason = found.group(1).rstrip(".") if found else _ssl_text(str(exc))
        if "mismatch" in reason:
            fix = "set TAU_MQTT__HOST to a name the broker's certificate lists"
        else:
            fix = "set TAU_MQTT__TLS__CA_FILE to the CA that signed the broker's certificate"
        return True, f"the TLS certificate of {broker} was rejected ({reason}): {fix}"
    if "CERTIFICATE_REQUIRED" in text.upper().replace(" ", "_"):
        fix = (
            "the broker wants a client certificate: set TAU_MQTT__TLS__CERT_FILE "
            "and TAU_MQTT__TLS__KEY_FILE"
        )
        source = detail if detail and "SSL" in detail else str(exc)
        return True, f"TLS with {broker} failed ({_ssl_text(source)}): {fix}"
    if "[SSL" in text:
        fix = "check the TAU_MQTT__TLS__* settings against the broker's TLS listener"
        source = detail if detail and "[SSL" in detail else str(exc)
        return True, f"TLS with {broker} failed ({_ssl_text(source)}): {fix}"
    if settings.protocol == "5" and code is None and detail is None and "timed out" in text:
        # A 3.1.1-only broker may simply never answer an MQTT 5 CONNECT.
        fix = "if the broker only speaks MQTT 3.1.1, set TAU_MQTT__PROTOCOL=3.1.1"
        return True, f"no answer from {broker} to an MQTT 5 CONNECT ({exc}): {fix}"
    reason = detail.removeprefix("failed to receive on socket: ") if detail else str(exc)
    return False, f"no connection to {broker} ({reason or type(exc).__name__})"
