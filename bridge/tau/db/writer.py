"""Write-behind persistence of state: coalesced per object, batched, never on the hot path.

The store's change batches only mark ids dirty (O(1) per fixture). A flush task
wakes within `flush_ms`, snapshots the latest state of every dirty object and
upserts them in one statement per table. If PostgreSQL is down the ids stay
dirty (so the queue is bounded by the number of objects, not of changes) and
the flush is retried with backoff until it succeeds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Set
from datetime import UTC, datetime
from typing import Protocol

import asyncpg

from tau.backoff import Backoff
from tau.colours import colour_json
from tau.supervisor import Spawn, checkpoint, finish, unsupervised

log = logging.getLogger(__name__)

_FIXTURE_UPSERT = """
INSERT INTO fixture_state AS s (fixture_id, is_on, brightness, kelvin, color, color_mode,
                                circadian_suspended, suspended_at, colour_suspended, effect,
                                effect_seed, updated_at)
SELECT u.fixture_id, u.is_on, u.brightness, u.kelvin, u.color::jsonb, u.color_mode,
       u.circadian_suspended, u.suspended_at, u.colour_suspended, u.effect, u.effect_seed, now()
FROM unnest($1::int[], $2::bool[], $3::smallint[], $4::int[], $5::text[], $6::text[],
            $7::bool[], $8::timestamptz[], $9::bool[], $10::text[], $11::int[])
     AS u(fixture_id, is_on, brightness, kelvin, color, color_mode, circadian_suspended,
          suspended_at, colour_suspended, effect, effect_seed)
WHERE EXISTS (SELECT 1 FROM fixtures f WHERE f.id = u.fixture_id)
ON CONFLICT (fixture_id) DO UPDATE SET
    is_on = EXCLUDED.is_on, brightness = EXCLUDED.brightness, kelvin = EXCLUDED.kelvin,
    color = EXCLUDED.color, color_mode = EXCLUDED.color_mode,
    circadian_suspended = EXCLUDED.circadian_suspended, suspended_at = EXCLUDED.suspended_at,
    colour_suspended = EXCLUDED.colour_suspended, effect = EXCLUDED.effect,
    effect_seed = EXCLUDED.effect_seed, updated_at = now()
"""

_GROUP_UPSERT = """
INSERT INTO group_state AS s (group_id, circadian_enabled, circadian_suspended, suspended_at,
                              sleep, updated_at)
SELECT u.group_id, u.enabled, u.suspended, u.suspended_at, u.sleep, now()
FROM unnest($1::int[], $2::bool[], $3::bool[], $4::timestamptz[], $5::bool[])
     AS u(group_id, enabled, suspended, suspended_at, sleep)
WHERE EXISTS (SELECT 1 FROM groups g WHERE g.id = u.group_id)
ON CONFLICT (group_id) DO UPDATE SET
    circadian_enabled = EXCLUDED.circadian_enabled,
    circadian_suspended = EXCLUDED.circadian_suspended,
    suspended_at = EXCLUDED.suspended_at, sleep = EXCLUDED.sleep, updated_at = now()
"""


class ChangeBatch(Protocol):
    """What the writer reads of the store's change batch."""

    @property
    def reason(self) -> str: ...
    @property
    def fixture_ids(self) -> Set[int]: ...
    @property
    def group_ids(self) -> Set[int]: ...


class FixtureState(Protocol):
    """The `fixture_state` columns, as the store keeps them."""

    @property
    def is_on(self) -> bool: ...
    @property
    def brightness(self) -> int: ...
    @property
    def kelvin(self) -> int | None: ...
    @property
    def color(self) -> tuple[int, ...] | None: ...
    @property
    def color_mode(self) -> str: ...
    @property
    def circadian_suspended(self) -> bool: ...
    @property
    def suspended_at(self) -> float | None: ...
    @property
    def colour_suspended(self) -> bool: ...
    @property
    def effect(self) -> str | None: ...
    @property
    def effect_seed(self) -> int | None: ...


class GroupState(Protocol):
    """The `group_state` columns, as the store keeps them."""

    @property
    def circadian_enabled(self) -> bool: ...
    @property
    def circadian_suspended(self) -> bool: ...
    @property
    def suspended_at(self) -> float | None: ...
    @property
    def sleep(self) -> bool: ...


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value is not None else None


class StateWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        fixtures: Callable[[], Mapping[int, FixtureState]],
        groups: Callable[[], Mapping[int, GroupState]],
        flush_ms: int,
        on_batch: Callable[[float, int], None] | None = None,
    ) -> None:
        self._pool = pool
        self._fixtures = fixtures
        self._groups = groups
        self._flush_s = flush_ms / 1000
        self._dirty_fixtures: set[int] = set()
        self._dirty_groups: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.healthy = True
        self.last_error: str | None = None
        self._on_batch = on_batch  # (seconds, rows), for metrics

    # subscriber of the store
    def __call__(self, batch: ChangeBatch) -> None:
        if batch.reason == "restore":
            return
        self._dirty_fixtures |= batch.fixture_ids
        self._dirty_groups |= batch.group_ids
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._dirty_fixtures) + len(self._dirty_groups)

    async def start(self, spawn: Spawn = unsupervised) -> None:
        self._task = spawn("writer", self._run)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Flush everything pending (SIGTERM path), then stop."""
        task, self._task = self._task, None
        await finish([task], "writer")
        deadline = time.monotonic() + timeout_s
        while self.queued and time.monotonic() < deadline:
            if not await self.flush():
                await asyncio.sleep(0.5)
        if self.queued:
            log.error("event=state_flush_incomplete pending=%d", self.queued)

    async def _run(self) -> None:
        backoff = Backoff(0.25, 2.0)
        while True:
            await self._wake.wait()
            checkpoint("writer")  # before the clear: a restart still flushes what is dirty
            await asyncio.sleep(self._flush_s)  # gather a batch
            self._wake.clear()
            if await self.flush():
                backoff.reset()
            else:
                await asyncio.sleep(backoff.delay())
                self._wake.set()

    async def flush(self) -> bool:
        if not self.queued:
            return True
        fids, gids = self._dirty_fixtures, self._dirty_groups
        self._dirty_fixtures, self._dirty_groups = set(), set()
        fixtures, groups = self._fixtures(), self._groups()
        f_rows = [(fid, fixtures[fid]) for fid in sorted(fids) if fid in fixtures]
        g_rows = [(gid, groups[gid]) for gid in sorted(gids) if gid in groups]
        started = time.monotonic()
        try:
            async with self._pool.acquire(timeout=2) as conn, conn.transaction():
                if f_rows:
                    await conn.execute(_FIXTURE_UPSERT, *_fixture_columns(f_rows))
                if g_rows:
                    await conn.execute(_GROUP_UPSERT, *_group_columns(g_rows))
        except asyncio.CancelledError:
            # Stopped mid-batch (SIGTERM): the transaction may not have committed, so the
            # batch is dirty again and `stop()` writes it (an upsert: twice is harmless).
            self._dirty_fixtures |= fids
            self._dirty_groups |= gids
            raise
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._dirty_fixtures |= fids
            self._dirty_groups |= gids
            if self.healthy:
                log.warning("event=database_write_failed queued=%d error=%r", self.queued, exc)
            self.healthy, self.last_error = False, str(exc) or type(exc).__name__
            return False
        if not self.healthy:
            log.info("event=database_write_recovered rows=%d", len(f_rows) + len(g_rows))
        self.healthy, self.last_error = True, None
        if self._on_batch is not None:
            self._on_batch(time.monotonic() - started, len(f_rows) + len(g_rows))
        return True


def _fixture_columns(rows: list[tuple[int, FixtureState]]) -> list[list[object]]:
    return [
        [fid for fid, _ in rows],
        [s.is_on for _, s in rows],
        [s.brightness for _, s in rows],
        [s.kelvin for _, s in rows],
        [json.dumps(colour_json(s.color)) if s.color else None for _, s in rows],
        [s.color_mode for _, s in rows],
        [s.circadian_suspended for _, s in rows],
        [_ts(s.suspended_at) for _, s in rows],
        [s.colour_suspended for _, s in rows],
        [s.effect for _, s in rows],
        [s.effect_seed for _, s in rows],
    ]


def _group_columns(rows: list[tuple[int, GroupState]]) -> list[list[object]]:
    return [
        [gid for gid, _ in rows],
        [g.circadian_enabled for _, g in rows],
        [g.circadian_suspended for _, g in rows],
        [_ts(g.suspended_at) for _, g in rows],
        [g.sleep for _, g in rows],
    ]
