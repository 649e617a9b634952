"""The circadian extension: `group/<slug>/circadian/set`, the tick, the settable clock.

The engine (`engine.CircadianEngine`) is shared with the state store, which asks
it where a light turned on should land; this extension keeps it in step with
the installation and runs the APScheduler tick that moves every active fixture
toward its profile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from tau.core.commands import decode_text
from tau.core.events import InstallationReloaded
from tau.core.extension import Context, EventHandler, Extension, ExtensionRequest, RequestBody
from tau.errors import InvalidCommandError, UnknownTargetError
from tau.features.circadian.engine import CircadianClock, CircadianEngine, CircadianScheduler
from tau.supervisor import checkpoint

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class CircadianTicked:
    """A tick ran (its duration feeds the `tau_circadian_tick_seconds` gauge)."""

    duration_s: float


class ClockBody(RequestBody):
    now: str | None = Field(None, description="ISO 8601 with offset; null = real time")


class CircadianExtension(Extension):
    name = "circadian"
    topics = {"group/+/circadian/set": "circadian_set", "group/+/sleep/set": "sleep_set"}
    # the switches' effects follow from the messages alone
    everywhere = frozenset({"circadian_set", "sleep_set"})

    def __init__(self, ctx: Context, engine: CircadianEngine, clock: CircadianClock) -> None:
        self._store = ctx.store
        self._bus = ctx.bus
        self._suspend_timeout_s = ctx.settings.circadian.suspend_timeout_s
        self._engine = engine
        self._clock = clock
        self._leads = ctx.leads
        self._decide = ctx.decide
        self._scheduler = CircadianScheduler(
            self._scheduled_tick,
            ctx.settings.circadian.tick_seconds,
            on_error=lambda exc: ctx.failed(self.name, exc),
        )
        self.last_tick_s = 0.0

    def events(self) -> Iterable[EventHandler]:
        return [(InstallationReloaded, self._reloaded)]

    def _reloaded(self, event: InstallationReloaded) -> None:
        self._engine.set_installation(event.installation)  # logs each problem once by itself

    async def start(self) -> None:
        self._scheduler.start()

    async def stop(self) -> None:
        self._scheduler.stop()

    def on_message(self, kind: str, name: str, payload: bytes) -> None:
        inst = self._store.installation
        gid = inst.group_by_slug.get(name)
        if gid is None:
            raise UnknownTargetError(f"unknown group {name!r}")
        if inst.groups[gid].circadian_profile_id is None:
            raise InvalidCommandError(f"group {name!r} has no circadian profile")
        what = "sleep" if kind == "sleep_set" else "circadian"
        text = decode_text(payload).strip().upper()
        if text not in ("ON", "OFF"):
            raise InvalidCommandError(f"{what} payload must be ON or OFF, got {text[:20]!r}")
        if kind == "sleep_set":
            self._store.set_sleep(gid, text == "ON")
        else:
            self._store.set_circadian(gid, text == "ON")

    # -------------------------------------------- the circadian bridge requests
    def requests(self) -> Mapping[str, ExtensionRequest]:
        return {
            "circadian/tick": (RequestBody, self._tick_request),
            "circadian/clock": (ClockBody, self._clock_request),
        }

    def _tick_request(self, _body: RequestBody) -> Any:
        self.tick()
        return {"duration_ms": round(self.last_tick_s * 1000, 3)}

    def _clock_request(self, body: ClockBody) -> Any:
        when = None
        if body.now is not None:
            try:
                when = datetime.fromisoformat(body.now)
            except ValueError:
                raise InvalidCommandError(f"not an ISO 8601 time: {body.now[:40]!r}") from None
        self._clock.set(when)
        self.tick()
        return {"now": self._clock.now().isoformat()}

    def _scheduled_tick(self) -> None:
        checkpoint(self.name)
        if self._leads():  # the leading bridge ticks; the others adopt its changes
            self.tick()

    def tick(self) -> None:
        """One circadian tick: move every active fixture toward the profile."""
        started = time.perf_counter()
        if self._suspend_timeout_s is not None or self._engine.resumes_after():
            self._decide.expire_suspensions(self._suspend_timeout_s)
        plan = self._engine.tick_plan(self._store.circadian_active)
        if plan:
            self._decide.apply_circadian(
                ((fid, t.brightness, t.kelvin) for fid, t in plan), self._engine.transition_s
            )
        self.last_tick_s = time.perf_counter() - started
        self._bus.publish(CircadianTicked(self.last_tick_s))
