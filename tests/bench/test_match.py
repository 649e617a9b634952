"""How the bench pairs commands with the frames that carried them (pure logic)."""

from __future__ import annotations

import pytest
from bench.scenarios.single import match
from testkit.enttec import Frame


def frame(t: float, value: int) -> Frame:
    return Frame(t, bytes([value]) + bytes(511))


def test_each_command_is_timed_to_the_first_frame_carrying_its_value() -> None:
    sent = [(0.000, 10), (0.020, 20), (0.040, 30)]
    frames = [frame(0.001, 10), frame(0.005, 10), frame(0.022, 20), frame(0.043, 30)]
    got = match(sent, frames)
    assert got.latencies == pytest.approx([0.001, 0.002, 0.003])
    assert (got.superseded, got.lost) == (0, 0)


def test_a_command_overtaken_by_the_next_is_timed_to_the_newer_frame() -> None:
    """Both reached the bridge in one turn (a 35 ms stall): the frame carries the newest,
    and the stall shows in the first command's latency instead of vanishing."""
    sent = [(0.000, 10), (0.020, 20), (0.040, 30)]
    frames = [frame(0.035, 20), frame(0.041, 30)]
    got = match(sent, frames)
    assert got.latencies == pytest.approx([0.035, 0.015, 0.001])
    assert (got.superseded, got.lost) == (1, 0)


def test_two_commands_overtaken_in_one_stall_are_both_superseded() -> None:
    """A 45 ms stall: three commands in one turn, the frame carries the third."""
    sent = [(0.000, 10), (0.020, 20), (0.040, 30), (0.060, 40)]
    frames = [frame(0.045, 30), frame(0.061, 40)]
    got = match(sent, frames)
    assert got.latencies == pytest.approx([0.045, 0.025, 0.005, 0.001])
    assert (got.superseded, got.lost) == (2, 0)


def test_a_command_with_nothing_after_it_is_lost() -> None:
    sent = [(0.000, 10), (0.020, 20)]
    frames = [frame(0.001, 10)]
    got = match(sent, frames)
    assert got.latencies == pytest.approx([0.001])
    assert (got.superseded, got.lost) == (0, 1)


def test_the_next_value_before_the_next_command_was_sent_is_not_that_command() -> None:
    """A frame with the next command's level from before that command was sent (an
    earlier, equal level) neither times nor supersedes the first: the frame after the
    next command does."""
    sent = [(0.000, 10), (0.050, 20)]
    frames = [frame(0.010, 20), frame(0.060, 20)]
    got = match(sent, frames)
    assert (got.superseded, got.lost) == (1, 0)
    assert got.latencies == pytest.approx([0.060, 0.010])
