"""One reload per installation change: a request waits for LISTEN/NOTIFY's reload."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

import tau.controller
from tau.core.events import InstallationReloaded


@pytest.fixture
def reloads(rig: Any, monkeypatch: pytest.MonkeyPatch) -> list[InstallationReloaded]:
    bridge, store, _auto_off, _clock, _batches, bus = rig

    class Pool:
        @contextlib.asynccontextmanager
        async def acquire(self, **_: float) -> Any:
            yield None

    async def load(_conn: Any) -> Any:
        return store.installation

    monkeypatch.setattr(bridge, "_pool", Pool())
    monkeypatch.setattr(tau.controller, "load_installation", load)
    seen: list[InstallationReloaded] = []
    bus.subscribe(InstallationReloaded, "test", seen.append)
    return seen


async def test_a_change_waits_for_the_notified_reload_and_does_not_reload_again(
    rig: Any, reloads: list[InstallationReloaded]
) -> None:
    bridge = rig[0]
    waiting = asyncio.create_task(bridge.changed_installation(timeout_s=5))
    await asyncio.sleep(0)
    assert not waiting.done()
    await bridge.reload()  # what the config listener does on NOTIFY
    await asyncio.wait_for(waiting, 1)
    assert len(reloads) == 1


async def test_without_a_notification_the_request_reloads_once_itself(
    rig: Any, reloads: list[InstallationReloaded]
) -> None:
    await rig[0].changed_installation(timeout_s=0.05)
    assert len(reloads) == 1
