"""The write-behind state writer against real PostgreSQL: stopping mid-batch loses nothing."""

from __future__ import annotations

import asyncio

import pytest

from tau.core.events import ChangeBatch
from tau.core.lights import FixtureState, GroupState
from tau.db.connect import create_pool
from tau.db.writer import StateWriter


@pytest.mark.asyncio(loop_scope="function")
async def test_a_flush_cancelled_mid_batch_is_written_by_stop(seeded_url: str) -> None:
    pool = await create_pool(seeded_url, retry=False)
    try:
        ids = [r["id"] for r in await pool.fetch("SELECT id FROM fixtures ORDER BY id")]
        states = {
            fid: FixtureState(True, 10 + i, None, None, "brightness") for i, fid in enumerate(ids)
        }
        groups: dict[int, GroupState] = {}
        writer = StateWriter(pool, lambda: states, lambda: groups, flush_ms=1000)
        writer(ChangeBatch("command", frozenset(ids), frozenset(), ()))
        flush = asyncio.create_task(writer.flush())
        await asyncio.sleep(0)  # the batch is taken and the flush waits on PostgreSQL
        assert writer.queued == 0
        flush.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flush
        assert writer.queued == len(ids)  # back in the queue, not dropped
        await writer.stop()
        rows = await pool.fetch("SELECT fixture_id, is_on, brightness FROM fixture_state")
        assert {r["fixture_id"]: (r["is_on"], r["brightness"]) for r in rows} == {
            fid: (True, s.brightness) for fid, s in states.items()
        }
    finally:
        await pool.close()
