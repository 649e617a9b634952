"""A controller built as app.py builds it, not started (no broker, no database),
with the stock extensions plus the example one, and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from tau.api.host import Host
from tau.controller import Bridge
from tau.core.bus import Bus
from tau.core.events import ChangeBatch
from tau.core.extension import Context, Extension
from tau.core.installation import build_installation
from tau.core.model import Fixture, FixtureModel
from tau.core.state import StateStore
from tau.db.writer import StateWriter
from tau.dmx.drivers.virtual import VirtualOutput
from tau.dmx.render import Renderer
from tau.extensions import build_extensions
from tau.features.circadian.engine import CircadianClock, CircadianEngine
from tau.metrics import Metrics
from tau.settings import Settings

from .auto_off import AutoOffExtension

DIMMER = FixtureModel(1, "Acme", "Dimmer", ("dimmer",), 2700, 6500, "linear", 0.0)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rig() -> Any:
    settings = Settings()
    clock = FakeClock()
    inst = build_installation(
        {1: DIMMER},
        {1: Fixture(1, "Stairs", "stairs", DIMMER, 1, 1)},
        {},
        {},
        {},
        {},
        {},
    )
    bus = Bus()
    renderer = Renderer({1: VirtualOutput(1)}, settings.dmx.fps, clock=clock)
    circadian_clock = CircadianClock(settable=False)
    circadian = CircadianEngine(circadian_clock.now, None, settings.circadian.tick_seconds)
    store = StateStore(0.0, live=renderer.live, clock=clock, circadian=circadian, bus=bus)
    store.set_installation(inst)
    writer = StateWriter(None, store.fixtures, store.groups, 100)  # type: ignore[arg-type]
    batches: list[ChangeBatch] = []
    bus.subscribe(ChangeBatch, "test", batches.append)

    def extensions(ctx: Context, host: Host) -> list[Extension]:
        return [
            *build_extensions(ctx, host, circadian, circadian_clock),
            AutoOffExtension(ctx, clock),  # <- the one line that adds the feature
        ]

    bridge = Bridge(
        settings, None, store, renderer, writer, bus, extensions, lambda _i: {}, Metrics()
    )  # type: ignore[arg-type]
    bridge.adopt(inst, first=True)
    auto_off = next(e for e in bridge.extensions if isinstance(e, AutoOffExtension))
    return bridge, store, auto_off, clock, batches, bus
