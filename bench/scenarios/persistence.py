"""Persistence: the write-behind under load — commits/s, rows/s, and change-to-row lag.

1,000 dimmers take 500 random commands/s. Twenty probe fixtures also get one
command every 50 ms; for each, the lag is from its state publication (received
on MQTT) to the moment a poller (every 5 ms) sees the row in `fixture_state`
carry the new value. Commit and row rates come from PostgreSQL's own counters
(`pg_stat_database.xact_commit`, `pg_stat_user_tables` for fixture_state), with
the poller's own transactions subtracted.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from dataclasses import asdict, dataclass

import asyncpg
from testkit.bridge import BridgeProcess

from bench.harness import Bench, Row, Stats, run_async, stage
from bench.installation import Layout, build

NAME = "persistence"
FIXTURES = 1000
PROBES = 20
LOAD_RATE = 500.0
PROBE_INTERVAL_S = 0.05
POLL_S = 0.005

_STATS = """
SELECT d.xact_commit, t.n_tup_ins + t.n_tup_upd AS rows
FROM pg_stat_database d, pg_stat_user_tables t
WHERE d.datname = current_database() AND t.relname = 'fixture_state'
"""


@dataclass(slots=True)
class Sample:
    fixture_id: int
    value: int
    sent: float
    published: float | None = None
    visible: float | None = None


def run(bench: Bench) -> list[Row]:
    seconds = 6.0 if bench.quick else 30.0
    url = bench.database()
    layout = run_async(build(url, FIXTURES, [1, 2], prefix="p"))
    bridge = bench.bridge(url, universes=None)
    rec = bench.recorder("persistence")
    try:
        probes = layout.fixtures[:PROBES]
        topic_of = {bridge.topic("fixture", s.slug): s.id for s in probes}
        samples: list[Sample] = []
        pending: dict[int, Sample] = {}  # fixture id -> latest sample awaiting publication
        lock = threading.Lock()

        def on_state(t: float, topic: str, payload: bytes) -> None:
            fid = topic_of.get(topic)
            if fid is None:
                return
            with lock:
                sample = pending.get(fid)
                if sample is not None and json.loads(payload).get("brightness") == sample.value:
                    sample.published = t
                    del pending[fid]

        rec.listeners.append(on_state)
        rec.subscribe(bridge.topic("fixture", "+"), qos=0)
        with stage(bench, f"persistence: {LOAD_RATE:.0f} cmd/s + probes for {seconds:.0f} s"):
            figures = run_async(
                _measure(bench, url, bridge, layout, samples, pending, lock, seconds)
            )
    finally:
        rec.close()
        bench.stop_bridges()
    lags = [s.visible - s.published for s in samples if s.visible and s.published]
    stats = Stats.of([max(0.0, x) for x in lags])
    unseen = sum(1 for s in samples if s.visible is None)
    return [
        Row.latency(
            NAME,
            "state published → row visible",
            stats,
            throughput=(
                f"{figures['commits_per_s']:.1f} commits/s, {figures['rows_per_s']:.0f} rows/s"
            ),
            target="p99 ≤ 250 ms",
            met=stats.p99 is not None and stats.p99 <= 250 and unseen == 0,
            notes=(
                f"n={stats.n}; never visible {unseen}; {figures['commands']} commands in "
                f"{figures['seconds']:.1f} s; poll every {POLL_S * 1000:.0f} ms"
            ),
            data={"stats": asdict(stats), "unseen": unseen, **figures},
        )
    ]


async def _measure(
    bench: Bench,
    url: str,
    bridge: BridgeProcess,
    layout: Layout,
    samples: list[Sample],
    pending: dict[int, Sample],
    lock: threading.Lock,
    seconds: float,
) -> dict[str, float]:
    poller = await asyncpg.connect(url)
    stats_conn = await asyncpg.connect(url)
    pub = bench.recorder("persistence-pub")
    polls = 0
    try:
        await stats_conn.execute("SELECT pg_stat_clear_snapshot()")
        before = await stats_conn.fetchrow(_STATS)
        t0 = time.monotonic()
        stop = asyncio.Event()
        probes = layout.fixtures[:PROBES]
        others = layout.fixtures[PROBES:]
        rng = random.Random(11)
        commands = 0
        waiting: dict[int, Sample] = {}

        async def load() -> None:
            nonlocal commands
            i = 0
            next_probe = t0
            k = 0
            while (now := time.monotonic()) - t0 < seconds:
                due = t0 + i / LOAD_RATE
                if now < due:
                    await asyncio.sleep(due - now)
                spot = rng.choice(others)
                body = {"state": "ON", "brightness": rng.randint(1, 255)}
                pub.publish(bridge.topic("fixture", spot.slug, "set"), json.dumps(body), qos=1)
                commands += 1
                i += 1
                if time.monotonic() >= next_probe:
                    spot = probes[k % PROBES]
                    sample = Sample(spot.id, 1 + (k // PROBES * 37 + k) % 254, time.monotonic())
                    with lock:
                        pending[spot.id] = sample
                    samples.append(sample)
                    waiting[spot.id] = sample
                    payload = json.dumps({"state": "ON", "brightness": sample.value})
                    pub.publish(bridge.topic("fixture", spot.slug, "set"), payload, qos=1)
                    commands += 1
                    k += 1
                    next_probe += PROBE_INTERVAL_S
            stop.set()

        async def poll() -> None:
            nonlocal polls
            ids = [s.id for s in probes]
            deadline = None
            while True:
                if stop.is_set():
                    deadline = deadline or time.monotonic() + 2.0
                    if not waiting or time.monotonic() > deadline:
                        return
                rows = await poller.fetch(
                    "SELECT fixture_id, brightness FROM fixture_state WHERE fixture_id = ANY($1)",
                    ids,
                )
                polls += 1
                now = time.monotonic()
                for row in rows:
                    sample = waiting.get(row["fixture_id"])
                    if sample is not None and row["brightness"] == sample.value:
                        sample.visible = now
                        del waiting[row["fixture_id"]]
                await asyncio.sleep(POLL_S)

        await asyncio.gather(load(), poll())
        elapsed = time.monotonic() - t0
        await asyncio.sleep(1.5)  # backends report their statistics within a second
        await stats_conn.execute("SELECT pg_stat_clear_snapshot()")
        after = await stats_conn.fetchrow(_STATS)
    finally:
        pub.close()
        await poller.close()
        await stats_conn.close()
    # The stats connection's own statements (3 after the first snapshot) and every poll
    # are transactions too; what remains are the bridge's.
    commits = after["xact_commit"] - before["xact_commit"] - polls - 3
    rows = after["rows"] - before["rows"]
    return {
        "seconds": elapsed,
        "commands": commands,
        "commits": commits,
        "rows": rows,
        "commits_per_s": commits / elapsed,
        "rows_per_s": rows / elapsed,
        "polls": polls,
    }
