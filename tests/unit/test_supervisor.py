"""The supervisor alone: a part that raises is recorded, counted and run again; a part
that returns is done; stopping cancels what is left and says what tasks ended with."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tau.supervisor import InjectedFaultError, Supervisor, checkpoint, finish, inject


async def test_a_failing_part_is_logged_counted_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counted: list[str] = []
    runs = 0
    again = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ValueError("boom")
        again.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(counted.append, restart_delay_s=0.01)
    await supervisor.start()
    supervisor.spawn("flaky", flaky)
    await asyncio.wait_for(again.wait(), 2)
    assert counted == ["flaky"]
    health = supervisor.health()["flaky"]
    assert health["restarts"] == 1 and health["state"] == "running"
    assert health["last_error"] == "ValueError: boom"
    failed = [r for r in caplog.records if "event=task_failed part=flaky" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is not None
    await supervisor.stop()
    assert supervisor.health()["flaky"]["state"] == "stopped"


async def test_a_part_that_returns_is_done_and_one_stopped_stays_stopped() -> None:
    supervisor = Supervisor(restart_delay_s=0.01)
    await supervisor.start()

    async def quick() -> None:
        return None

    done = supervisor.spawn("quick", quick)
    forever = supervisor.spawn("forever", asyncio.Event().wait)
    await asyncio.sleep(0.05)
    assert done.state == "done"
    await supervisor.stop_part(forever)
    assert forever.state == "stopped" and forever.task is not None and forever.task.cancelled()
    assert supervisor.health() == {}  # nothing failed
    await supervisor.stop()


async def test_a_failure_elsewhere_is_recorded_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counted: list[str] = []
    supervisor = Supervisor(counted.append)
    await supervisor.start()
    supervisor.failed("circadian", RuntimeError("tick"))
    assert counted == ["circadian"]
    assert supervisor.health()["circadian"]["last_error"] == "RuntimeError: tick"
    await supervisor.stop()


async def test_an_injected_fault_fires_once_at_its_checkpoint() -> None:
    checkpoint("render")  # nothing armed
    inject("render")
    with pytest.raises(InjectedFaultError, match="render"):
        checkpoint("render")
    checkpoint("render")


async def test_finish_logs_what_a_task_ended_with(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise KeyError("lost")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="tau.supervisor"):
        await finish([task, asyncio.create_task(asyncio.Event().wait())], "part")
    assert "event=task_ended_with part=part" in caplog.text
    assert "KeyError" in caplog.text
