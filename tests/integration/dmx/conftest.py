"""Shared pieces for the DMX integration tests: emulated widget, running renderers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from testkit.enttec import EnttecEmulator

from tau.dmx.render import Renderer
from tau.dmx.types import LightTarget, Patch


@pytest.fixture
def widget(tmp_path: Path) -> Iterator[EnttecEmulator]:
    with EnttecEmulator(tmp_path) as emulator:
        yield emulator
        assert emulator.errors == []


@asynccontextmanager
async def running(renderer: Renderer) -> AsyncIterator[Renderer]:
    await renderer.start()
    try:
        yield renderer
    finally:
        await renderer.stop()


def fixture_patch(
    fixture_id: int,
    channels: tuple[str, ...],
    *,
    universe: int = 1,
    start: int = 1,
    curve: str = "linear",
    min_level: float = 0.0,
    kelvin_range: tuple[int, int] = (2700, 6500),
) -> Patch:
    return Patch(fixture_id, universe, start, channels, *kelvin_range, curve, min_level)


def target(
    fixture_id: int,
    brightness: int,
    *,
    kelvin: int | None = None,
    color: tuple[int, int, int] | None = None,
    transition_s: float = 0.0,
    is_on: bool = True,
) -> LightTarget:
    return LightTarget(fixture_id, is_on, brightness, kelvin, color, transition_s)
