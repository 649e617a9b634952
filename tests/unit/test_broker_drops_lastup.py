"""Pure parts of issue 20: the broker's drop count and when the bridge was last up."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tau.mqtt.drops import BrokerDrops
from tau.mqtt.lastup import LastUp, last_up_file


def test_the_first_count_is_a_baseline_and_rises_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    drops = BrokerDrops(warn_every_s=600, clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, "tau.mqtt.session"):
        assert drops.report(b"120") == 0  # before this bridge watched: not news
        assert drops.report(b"120") == 0
        assert drops.report(b"135") == 15
        now[0] = 10
        assert drops.report(b"140") == 5
        assert drops.report(b"3") == 3  # the broker restarted: its count began again
        assert drops.report(b"not a number") == 0
        now[0] = 700
        assert drops.report(b"4") == 1
    assert (drops.seen, drops.total) == (24, 4)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one an episode (600 s apart here)
    assert "max_queued_messages" in warnings[0].getMessage()


def test_last_up_is_kept_in_memory_and_in_the_data_directory(tmp_path: Path) -> None:
    clock, wall = [100.0], [1_000_000.0]
    path = tmp_path / "data" / "mqtt-tau.last-up"
    up = LastUp(path, clock=lambda: clock[0], wall=lambda: wall[0])
    assert up.away_s() is None  # never connected, no record
    up.mark()
    clock[0] += 5
    wall[0] += 5
    assert up.away_s() == 5.0
    later = LastUp(path, clock=lambda: 0.0, wall=lambda: wall[0] + 60)  # a new process
    assert later.away_s() == pytest.approx(65.0)


def test_an_unwritable_record_is_said_once_and_leaves_the_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    up = LastUp(blocker / "sub" / "mqtt.last-up")
    with caplog.at_level(logging.WARNING, "tau.mqtt.session"):
        up.mark()
        up.mark()
    assert len(caplog.records) == 1 and "clean one" in caplog.records[0].getMessage()
    assert up.away_s() is not None


def test_the_record_is_one_file_per_client_id_whatever_its_characters() -> None:
    assert last_up_file("tau-home/tau-vm") == "mqtt-tau-home_tau-vm.last-up"
    assert last_up_file("tau-tau-vm") == "mqtt-tau-tau-vm.last-up"
