"""Adding a feature is one file (auto_off.py) plus one line in the list of extensions.

The example extension is registered in a real controller (`tau.controller.Bridge`,
not started: no broker, no database) next to the stock extensions, and driven
through the controller's message routing and the bus with a fake clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from tau.core.events import ChangeBatch


def test_the_extension_owns_its_topic_and_reacts_to_the_bus(rig: Any) -> None:
    bridge, store, auto_off, clock, batches, _bus = rig
    assert "tau/auto_off/+/set" in bridge._subscriptions()

    bridge.on_message("tau/auto_off/stairs/set", b"90")
    bridge.on_message("tau/fixture/stairs/set", b"ON")
    assert store.fixture(1).is_on

    clock.t += 89.9
    auto_off.poll()
    assert store.fixture(1).is_on  # not yet

    clock.t += 0.2
    auto_off.poll()
    assert not store.fixture(1).is_on
    assert batches[-1].reason == "auto_off"  # a change like any other: renderer, MQTT, DB see it


def test_turning_on_again_restarts_the_timer_and_off_cancels_it(rig: Any) -> None:
    bridge, store, auto_off, clock, _batches, _bus = rig
    bridge.on_message("tau/auto_off/stairs/set", b"60")
    bridge.on_message("tau/fixture/stairs/set", b"ON")
    clock.t += 50
    bridge.on_message("tau/fixture/stairs/set", b'{"brightness": 100}')
    clock.t += 50
    auto_off.poll()
    assert store.fixture(1).is_on  # restarted at the brightness change
    bridge.on_message("tau/fixture/stairs/set", b"OFF")
    bridge.on_message("tau/fixture/stairs/set", b"ON")
    bridge.on_message("tau/auto_off/stairs/set", b"0")
    clock.t += 3600
    auto_off.poll()
    assert store.fixture(1).is_on


def test_bad_input_is_rejected_by_the_controller_and_changes_nothing(
    rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, store, auto_off, clock, batches, _bus = rig
    bridge.on_message("tau/auto_off/stairs/set", b"soon")
    bridge.on_message("tau/auto_off/nowhere/set", b"10")
    assert "auto_off takes a number of seconds" in caplog.text
    assert "unknown fixture 'nowhere'" in caplog.text
    assert batches == []
    bridge.on_message("tau/fixture/stairs/set", b"ON")
    clock.t += 10**6
    auto_off.poll()
    assert store.fixture(1).is_on


def test_a_failing_extension_handler_is_isolated(
    rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, store, _auto_off, _clock, batches, bus = rig

    def broken(_batch: ChangeBatch) -> None:
        raise RuntimeError("boom")

    bus.subscribe(ChangeBatch, "broken", broken)
    bridge.on_message("tau/fixture/stairs/set", b"ON")
    assert store.fixture(1).is_on and batches[-1].reason == "command"
    assert "subscriber=broken" in caplog.text
