"""Getting connected to the broker and staying so: each attempt, the retries between them,
and one clear line about what went wrong.

`Connector.keep_up()` is the session's run loop: it opens a connection, hands it to the
session to serve, closes it when that ends, and tries again until the session stops.
Each attempt is a fresh `aiomqtt.Client` (a new paho client underneath: nothing of a
dead connection is carried over), with the bridge's last will and its stable client id;
the broker's persistent session is resumed only while what waits in it is young enough
(`tau.mqtt.lastup`).

- **Reconnects**: a broker that is away or restarting (connection refused, reset, timed
  out) is tried again at least every `RETRY_S` (1 s with its jitter), however long it has
  been away, so the bridge is back within 2 s of the broker. A refusal a retry cannot
  fix (credentials, TLS, protocol, another client taking the id over) backs off
  exponentially with jitter up to `MAX_DELAY_S`, reset only after a connection stayed up
  for `STABLE_S`. The first failure is a WARNING, repeats DEBUG, recovery INFO.
- **Failures said once**: a broker that refuses the bridge (credentials, TLS, protocol) or
  keeps dropping it right after accepting it (another client with the same id) is one
  ERROR with one sentence saying what to fix. A broker that is unreachable is said at
  once, then every 10 s with "since" (`tau.waiting`), until it answers.

An unexpected exception (a bug, not a lost connection) is not retried here: it ends the
loop, and the bridge's supervisor logs it and starts the session again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiomqtt

from tau.backoff import Backoff
from tau.mqtt.client import (
    TAKEN_OVER,
    PahoLog,
    client_options,
    discard_session,
    explain_connect_error,
    reason_code,
)
from tau.mqtt.lastup import LastUp
from tau.settings import MqttSettings
from tau.timescale import time_scale
from tau.waiting import Waiting

log = logging.getLogger("tau.mqtt.session")  # one logger for the connection's story

__all__ = ["FIRST_DELAY_S", "MAX_DELAY_S", "RETRY_S", "STABLE_S", "Connector"]

STABLE_S = 30.0 * time_scale()  # a connection that lived this long resets the backoff
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 10.0  # refusals only a person can fix
RETRY_S = 0.8  # a broker away or restarting: at most this (+25 % jitter) between attempts


class Connector:
    """Opens the session's connections and says why one failed; `keep_up()` retries."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        availability_topic: str,
        *,
        record: Path | None,
        retry_s: float,
        pending_calls: int,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._availability = availability_topic
        self._retry_s = retry_s
        self._pending_calls = pending_calls  # aiomqtt warns above this
        self._paho_log = PahoLog()
        self._logged: str | None = None  # the last failure logged above DEBUG
        self._waiting = Waiting(
            f"the MQTT broker at {settings.host}:{settings.port}",
            hint="is it running? check TAU_MQTT__HOST and TAU_MQTT__PORT",
            event="mqtt_unreachable",
        )
        self._said_clean = False  # the clean session of this outage was logged
        self.last_up = LastUp(record)
        self.last_error: str | None = None

    async def keep_up(
        self,
        serve: Callable[[aiomqtt.Client], Awaitable[None]],
        ended: Callable[[], None],
        stopping: asyncio.Event,
    ) -> None:
        """Connect and `serve` the connection; when it is lost, `ended()` and try again,
        until `stopping` is set or `serve` returns (it does only when the session stops)."""
        refusals = Backoff(FIRST_DELAY_S, MAX_DELAY_S, stable_s=STABLE_S)
        outage = Backoff(FIRST_DELAY_S, self._retry_s)
        quick_drops = 0
        while not stopping.is_set():
            up_since: float | None = None
            try:
                client = await self._connect()
                up_since = time.monotonic()
                outage.reset()
                try:
                    await serve(client)
                finally:
                    ended()
                    client.timeout = 1.0  # a frozen broker must not hold the exit
                    with contextlib.suppress(aiomqtt.MqttError):
                        await client.__aexit__(None, None, None)
                return  # `serve` returns only when the session stops
            except Exception as exc:
                if stopping.is_set():
                    return
                if not isinstance(exc, aiomqtt.MqttError):
                    raise  # a bug: the supervisor logs it and starts the session again
                lived = None if up_since is None else time.monotonic() - up_since
                quick_drops = quick_drops + 1 if lived is not None and lived < STABLE_S else 0
                refused = self._report_failure(exc, lived, quick_drops)
                delay = refusals.delay(lived) if refused else outage.delay()
                log.debug("event=mqtt_retry_in seconds=%.2f", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)

    def up(self) -> bool:
        """The connection is set up (subscribed): the outage, if any, is over. True when
        one was reported (a reconnect, logged at INFO)."""
        self._said_clean = False
        self._waiting.done()
        if self.last_error is None:
            return False
        log.info("event=mqtt_reconnected host=%s", self._settings.host)
        self.last_error = None
        return True

    async def _connect(self) -> aiomqtt.Client:
        resume = self._keep_session()
        if not resume and self._settings.protocol != "5":
            # MQTT 3.1.1 has no session expiry: a clean connection ends the old session
            # (and what waits in it), then the bridge opens a persistent one.
            self._paho_log.last_error = None
            await asyncio.to_thread(
                discard_session, self._settings, self._client_id, self._paho_log
            )
        client = self._new_client(resume)
        await self._enter(client)
        return client

    def _new_client(self, resume: bool) -> aiomqtt.Client:
        client = aiomqtt.Client(
            **client_options(self._settings, self._client_id, resume=resume),
            will=aiomqtt.Will(self._availability, b"offline", qos=1, retain=True),
            logger=self._paho_log,
        )
        client.pending_calls_threshold = self._pending_calls
        return client

    def _keep_session(self) -> bool:
        """Resume the broker's session (what was queued for the bridge while it was
        away) only when every message in it is younger than the command age limit:
        the bridge was connected within that limit."""
        max_age = self._settings.command_max_age_s
        away = self.last_up.away_s()
        if away is not None and away <= max_age:
            return True
        said, self._said_clean = self._said_clean, True
        if said:
            return False  # said once per outage
        if away is None:
            log.info(
                "event=mqtt_clean_session reason=no_record: when this bridge was last "
                "connected is unknown, so nothing queued for it earlier is applied"
            )
            return False
        log.warning(
            "event=mqtt_clean_session away_s=%.1f max_age_s=%g: commands queued for "
            "this bridge while it was away may be older than TAU_MQTT__COMMAND_MAX_AGE_S "
            "and are dropped, not applied",
            away,
            max_age,
        )
        return False

    async def _enter(self, client: aiomqtt.Client) -> None:
        """Connect; paho's own error during the attempt (a TLS alert, a reset before
        CONNACK) ends it at once instead of after the CONNACK timeout."""
        failed = asyncio.Event()
        self._paho_log.failed, self._paho_log.last_error = failed, None
        enter = asyncio.ensure_future(client.__aenter__())
        failure = asyncio.ensure_future(failed.wait())
        try:
            await asyncio.wait({enter, failure}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            failure.cancel()
            self._paho_log.failed = None
        if enter.done():
            enter.result()
            return
        enter.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await enter
        raise aiomqtt.MqttError(self._paho_log.last_error or "connection failed")

    def _report_failure(self, exc: aiomqtt.MqttError, lived: float | None, quick: int) -> bool:
        """One line per new problem: ERROR when only a person can fix it, WARNING for an
        outage, DEBUG for each retry that changes nothing. True: refused (a retry soon
        would change nothing)."""
        if lived is not None and lived >= STABLE_S:
            self._logged = None  # a drop after a good while is news again
        if lived is not None and reason_code(exc.__cause__) == TAKEN_OVER:
            refused, explanation = True, self._takeover_text("took over this connection")
        elif lived is not None and quick >= 2:
            refused = True
            explanation = self._takeover_text(
                "closes the connection right after accepting it, again and again: another "
                "client with the same id is probably taking it over (or the broker's ACL "
                "turns Tau away)",
                probable=True,
            )
        else:
            refused, explanation = explain_connect_error(
                exc, self._settings, self._paho_log.last_error if lived is None else None
            )
        if lived is None and not refused:
            # Unreachable: said at once, then every 10 s with "since", until it answers.
            detail = explanation.removeprefix(f"no connection to {self._waiting.what} ")
            self._waiting.failed(detail.removeprefix("(").removesuffix(")"))
            self._logged = self.last_error = explanation
            return False
        if explanation == self._logged:
            level = logging.DEBUG
        else:
            level = logging.ERROR if refused else logging.WARNING
        event = "mqtt_refused" if refused else "mqtt_disconnected"
        if lived is None:
            log.log(level, "event=%s error=%r", event, explanation)
        else:
            log.log(level, "event=%s connected_s=%.1f error=%r", event, lived, explanation)
        self._logged = explanation
        self.last_error = explanation
        return refused

    def _takeover_text(self, what: str, *, probable: bool = False) -> str:
        s = self._settings
        who = f"the MQTT broker at {s.host}:{s.port}"
        if probable:
            return f"{who} {what}: give each bridge its own TAU_MQTT__CLIENT_ID"
        return (
            f"another client with id {self._client_id} {what} ({who}): "
            "give each bridge its own TAU_MQTT__CLIENT_ID"
        )
