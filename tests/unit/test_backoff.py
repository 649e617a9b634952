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
