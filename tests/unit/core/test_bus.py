"""The typed event bus: exact-type dispatch in order, isolated subscribers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tau.core.bus import Bus


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Pong:
    n: int


def test_dispatch_by_exact_type_in_subscription_order() -> None:
    bus, seen = Bus(), []
    bus.subscribe(Ping, "a", lambda e: seen.append(("a", e.n)))
    bus.subscribe(Pong, "b", lambda e: seen.append(("b", e.n)))
    bus.subscribe(Ping, "c", lambda e: seen.append(("c", e.n)))
    bus.publish(Ping(1))
    bus.publish(Pong(2))
    bus.publish("nobody listens")
    assert seen == [("a", 1), ("c", 1), ("b", 2)]
    assert bus.subscribers(Ping) == ["a", "c"]


def test_an_exception_is_logged_with_the_name_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, seen = Bus(), []

    def broken(_e: Ping) -> None:
        raise RuntimeError("boom")

    bus.subscribe(Ping, "broken", broken)
    bus.subscribe(Ping, "after", lambda e: seen.append(e.n))
    bus.publish(Ping(7))
    assert seen == [7]
    assert "subscriber=broken event_type=Ping" in caplog.text
