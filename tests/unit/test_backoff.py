"""The one retry helper: capped doubling with jitter, reset on success or a stable link."""

from __future__ import annotations

import random

import pytest

from tau.backoff import Backoff


def test_doubles_up_to_the_cap_without_jitter() -> None:
    backoff = Backoff(0.5, 3.0, jitter=0)
    assert [backoff.delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.delay() == 0.5


def test_jitter_adds_at_most_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda lo, hi: hi)
    backoff = Backoff(1.0, 8.0)
    assert [backoff.delay() for _ in range(3)] == [1.25, 2.5, 5.0]


def test_only_a_connection_that_lived_stable_s_resets() -> None:
    backoff = Backoff(1.0, 60.0, jitter=0, stable_s=30.0)
    assert [backoff.delay(None), backoff.delay(5.0), backoff.delay(29.9)] == [1.0, 2.0, 4.0]
    assert backoff.delay(30.0) == 1.0
    assert backoff.delay(None) == 2.0


def test_the_suites_time_scale_shortens_delays_and_reminders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TAU_TEST_TIME_SCALE (tau/timescale.py) fast-forwards the fault tests' bridges;
    unset, every timing is the production one."""
    from tau.timescale import time_scale
    from tau.waiting import REPORT_EVERY_S, Waiting

    assert time_scale() == 1.0 and Waiting("x").every == REPORT_EVERY_S
    monkeypatch.setenv("TAU_TEST_TIME_SCALE", "0.1")
    backoff = Backoff(0.5, 3.0, jitter=0, stable_s=30.0)
    assert [backoff.delay() for _ in range(4)] == pytest.approx([0.05, 0.1, 0.2, 0.3])
    assert backoff.stable_s == 30.0  # how long a connection lived is the owner's measure
    assert Waiting("x").every == pytest.approx(REPORT_EVERY_S / 10)
    assert Waiting("x", every=3).every == 3
    for bad in ("0", "2", "fast"):
        monkeypatch.setenv("TAU_TEST_TIME_SCALE", bad)
        with pytest.raises(ValueError, match="TAU_TEST_TIME_SCALE"):
            time_scale()
