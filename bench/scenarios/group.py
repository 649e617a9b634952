"""Big group: 1,000 fixtures in a 4-level tree over 8 universes (Art-Net, loopback receivers).

Each command to the root sets every fixture; its latency is the time until all 8
receivers carry the new value, and it counts as "same tick" when the 8 packets
arrived within one frame period of each other (a render tick sends all changed
universes back to back; the next tick is a whole period later).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import asdict

from testkit.receivers import ArtDmx, ArtNetReceiver

from bench.harness import Bench, Recorder, Row, Stats, percentile, run_async, stage, versus
from bench.installation import build

NAME = "group"
FIXTURES = 1000
UNIVERSES = list(range(1, 9))
FPS = 44.0
RATE = 4.0  # commands/s: each one re-renders and re-publishes 1,000 fixtures


def run(bench: Bench) -> list[Row]:
    count = bench.samples(400, 40)
    url = bench.database()
    layout = run_async(build(url, FIXTURES, UNIVERSES, tree=True, prefix="g"))
    first = {u: min(s.channel for s in layout.fixtures if s.universe == u) for u in UNIVERSES}
    with ExitStack() as stack:
        receivers = {u: stack.enter_context(ArtNetReceiver()) for u in UNIVERSES}
        universes = {
            str(u): {"driver": "artnet", "host": "127.0.0.1", "port": rx.port, "universe": u - 1}
            for u, rx in receivers.items()
        }
        bridge = bench.bridge(url, universes=universes, fps=FPS, timeout=120)
        pub = bench.recorder("group-pub")
        try:
            topic = bridge.topic("group", layout.root or "", "set")
            sent = root_commands(bench, pub, topic, count, RATE, receivers, first)
            packets = {u: rx.snapshot() for u, rx in receivers.items()}
            errors = [e for rx in receivers.values() for e in rx.errors]
        finally:
            pub.close()
            bench.stop_bridges()
    latencies, spreads, missing = match(sent, packets, first)
    period = 1 / FPS
    same = sum(1 for s in spreads if s < period)
    same_pct = 100 * same / len(spreads) if spreads else 0.0
    stats = Stats.of(latencies)
    text, extra = versus(stats, bench.baseline)
    met = stats.p99 is not None and stats.p99 <= 23.0 and same_pct >= 99.0 and not missing
    spread_p99 = percentile([s * 1000 for s in spreads], 99)
    return [
        Row.latency(
            NAME,
            "root set → all 8 universes",
            stats,
            throughput=f"{RATE:.0f} cmd/s × {FIXTURES} fixtures",
            vs_baseline=text,
            target="p99 ≤ 23 ms; same tick ≥ 99 %",
            met=met,
            notes=(
                f"n={stats.n}; same tick {same_pct:.1f} %; spread p99 "
                f"{spread_p99 or 0:.2f} ms; missing {missing}"
                + (f"; Art-Net errors {len(errors)}" if errors else "")
            ),
            data={
                "stats": asdict(stats),
                **extra,
                "same_tick_pct": same_pct,
                "spread_p99_ms": spread_p99,
                "missing": missing,
                "receiver_errors": errors[:5],
            },
        )
    ]


def root_commands(
    bench: Bench,
    pub: Recorder,
    topic: str,
    count: int,
    rate: float,
    receivers: Mapping[int, ArtNetReceiver],
    first: Mapping[int, int],
) -> list[tuple[float, int]]:
    """`count` commands to a root group at `rate`/s, each with a new level; returns
    (sent time, level) of each once every receiver shows the last level."""
    sent: list[tuple[float, int]] = []
    with stage(bench, f"{bench.scenario}: {count} root commands at {rate:.0f}/s"):
        start = time.monotonic()
        for i in range(count):
            due = start + i / rate
            while (now := time.monotonic()) < due:
                time.sleep(min(due - now, 0.005))
            value = 2 + (i * 37) % 253
            sent.append((time.monotonic(), value))
            pub.publish(topic, json.dumps({"state": "ON", "brightness": value}), qos=1)
        last = sent[-1][1]
        for u, rx in receivers.items():
            rx.wait_for(
                lambda rx=rx, u=u: any(p.slot(first[u]) == last for p in rx.packets[-5:]), 5
            )
    return sent


def match(
    sent: list[tuple[float, int]], packets: dict[int, list[ArtDmx]], first: dict[int, int]
) -> tuple[list[float], list[float], int]:
    """Per command: latency to the last universe, and the spread of the 8 arrivals."""
    latencies: list[float] = []
    spreads: list[float] = []
    missing = 0
    cursor = dict.fromkeys(packets, 0)
    for t, value in sent:
        arrivals: list[float] = []
        for u, plist in packets.items():
            j = cursor[u]
            while j < len(plist) and plist[j].t < t:
                j += 1
            k = j
            while k < len(plist) and plist[k].t - t < 1.0 and plist[k].data[first[u] - 1] != value:
                k += 1
            if k < len(plist) and plist[k].data[first[u] - 1] == value:
                arrivals.append(plist[k].t)
                cursor[u] = k
            else:
                cursor[u] = j
        if len(arrivals) < len(packets):
            missing += 1
            continue
        latencies.append(max(arrivals) - t)
        spreads.append(max(arrivals) - min(arrivals))
    return latencies, spreads, missing
