"""Baseline: a plain paho publisher -> the broker -> a plain paho subscriber.

The same QoS (1) and payload shape as the bridge commands, at the same pace as the
single-fixture scenario, so that scenario's added latency is Tau's own cost.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict

from bench.harness import Bench, Row, Stats

NAME = "baseline"
RATE = 50.0
WARMUP = 20  # first messages after a subscribe are slower; not measured


def measure(bench: Bench, count: int, rate: float = RATE) -> tuple[Stats, float]:
    """Latencies of `count` messages; returns (stats, achieved messages/s)."""
    topic = f"tau-bench-{uuid.uuid4().hex[:8]}/baseline/set"
    sub = bench.recorder("baseline-sub")
    pub = bench.recorder("baseline-pub")
    try:
        sub.subscribe(topic, qos=1)
        sent: list[float] = []
        total = count + WARMUP
        start = time.monotonic()
        for i in range(total):
            due = start + i / rate
            while (now := time.monotonic()) < due:
                time.sleep(min(due - now, 0.005))
            payload = json.dumps({"brightness": i % 255, "seq": i})
            sent.append(time.monotonic())
            pub.publish(topic, payload, qos=1)
        sub.wait(lambda: len(sub.log) >= total, 10)
        elapsed = time.monotonic() - start
        received = {json.loads(p)["seq"]: t for t, _topic, p, _r in sub.log}
        latencies = [received[i] - sent[i] for i in range(WARMUP, total) if i in received]
        return Stats.of(latencies), len(received) / elapsed
    finally:
        pub.close()
        sub.close()


def run(bench: Bench) -> list[Row]:
    count = bench.samples(2000, 300)
    stats, rate = measure(bench, count)
    bench.baseline = stats
    return [
        Row.latency(
            NAME,
            "publish → subscriber (QoS 1)",
            stats,
            throughput=f"{rate:.0f} msg/s",
            notes=f"n={stats.n} of {count}; mean {stats.mean:.2f} ms",
            data={"stats": asdict(stats), "sent": count},
        )
    ]
