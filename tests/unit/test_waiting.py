"""The waiting reporter: at once, then at most once per interval with "since", then its end."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from tau.waiting import Waiting


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reports_at_once_then_every_ten_seconds_then_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    waiting = Waiting(
        "PostgreSQL at 127.0.0.1:5433",
        hint="is it running? check TAU_DATABASE_URL",
        event="database_unreachable",
        clock=clock,
        wall_clock=lambda: datetime(2026, 12, 1, 14, 2, 10),
    )
    assert not waiting.waiting
    with caplog.at_level(logging.DEBUG, logger="tau.waiting"):
        for _ in range(25):  # an attempt every second for 25 s
            waiting.failed("connection refused")
            clock.now += 1
        waiting.done()
        waiting.done()  # nothing more to say
    records = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        (
            logging.WARNING,
            "event=database_unreachable waiting for PostgreSQL at 127.0.0.1:5433 "
            "(connection refused): is it running? check TAU_DATABASE_URL",
        ),
        (
            logging.INFO,
            "event=database_unreachable still waiting for PostgreSQL at 127.0.0.1:5433 "
            "since 14:02:10 (connection refused): is it running? check TAU_DATABASE_URL",
        ),
        (
            logging.INFO,
            "event=database_unreachable still waiting for PostgreSQL at 127.0.0.1:5433 "
            "since 14:02:10 (connection refused): is it running? check TAU_DATABASE_URL",
        ),
        (
            logging.INFO,
            "event=database_unreachable_resolved PostgreSQL at 127.0.0.1:5433 answered "
            "after 25 s of waiting",
        ),
    ]
    assert not waiting.waiting and waiting.attempts == 0


def test_a_dependency_that_answers_at_once_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="tau.waiting"):
        Waiting("the broker").done()
    assert caplog.records == []


def test_the_detail_follows_the_latest_failure(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    waiting = Waiting("the MQTT broker at 127.0.0.1:1", every=5, clock=clock)
    with caplog.at_level(logging.INFO, logger="tau.waiting"):
        waiting.failed("connection refused")
        clock.now += 5
        waiting.failed("no answer within 5 s")
    assert caplog.records[-1].getMessage().endswith("(no answer within 5 s)")
    assert waiting.since is not None and waiting.attempts == 2
