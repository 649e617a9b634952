"""Scale: 10,000 tunable-white fixtures on 64 universes, all on, under circadian profiles.

- start: from the process start to `bridge/state` online, every discovery config
  published and every fixture's state restored and published (counted on the
  broker, the way Home Assistant would see them);
- one circadian tick over every fixture (`circadian/tick` replies its duration);
- RSS (VmRSS from /proc) after start and after minutes of mixed load: fixture and
  group commands, circadian ticks and health checks.

Universe 1 goes to a loopback Art-Net receiver (its first packet shows the restored
state: no flash to black); the other 63 are the bridge's default virtual outputs.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict

from testkit.bridge import BridgeProcess
from testkit.receivers import ArtNetReceiver

from bench.harness import Bench, Recorder, Row, Stats, rss_kib, run_async, stage
from bench.installation import TUNABLE, Layout, build

NAME = "scale"
FIXTURES = 10_000
UNIVERSES = list(range(1, 65))
TICKS = 10


def run(bench: Bench) -> list[Row]:
    url = bench.database()
    with stage(bench, f"scale: building {FIXTURES} fixtures on {len(UNIVERSES)} universes"):
        layout = run_async(
            build(
                url, FIXTURES, UNIVERSES, model=TUNABLE, tree=True, circadian=True, stored_on=True
            )
        )
    load_s = 20.0 if bench.quick else 300.0
    with ArtNetReceiver() as rx:
        universes = {"1": {"driver": "artnet", "host": "127.0.0.1", "port": rx.port, "universe": 0}}
        bridge = bench.bridge(url, universes=universes, start=False)
        rec = bench.recorder("scale")
        try:
            rec.subscribe(f"{bridge.discovery_prefix}/#", qos=0)
            rec.subscribe(bridge.topic("fixture", "+"), qos=0)
            rec.subscribe(bridge.state_topic, qos=0)
            start = measure_start(bench, bridge, rec)
            pid = bridge.pid or 0
            rss_start = rss_kib(pid)
            first_packet = rx.snapshot()[0].data[:2] if rx.packets else b""
            ticks = measure_ticks(rec, bridge.base_topic)
            with stage(bench, f"scale: mixed load for {load_s:.0f} s"):
                load = mixed_load(rec, bridge, layout, load_s)
            rss_end = rss_kib(pid)
        finally:
            rec.close()
            bench.stop_bridges()
    return rows(start, rss_start, rss_end, ticks, load, load_s, first_packet)


def measure_start(bench: Bench, bridge: BridgeProcess, rec: Recorder) -> dict[str, float]:
    fixture_prefix = bridge.topic("fixture", "")
    with stage(bench, "scale: bridge start"):
        t0 = time.monotonic()
        bridge.start()
        bench.profile(bridge)
        online = None
        deadline = t0 + 180
        while time.monotonic() < deadline:
            rec.wait(lambda: False, 0.5)
            if online is None:
                online = next(
                    (
                        t
                        for t, top, p, _r in rec.log
                        if top == bridge.state_topic and p == b"online"
                    ),
                    None,
                )
            if not bridge.running:
                bridge.fail("exited during start")
            states = {t for _, t, _p, _r in rec.log if t.startswith(fixture_prefix)}
            last = rec.log[-1][0] if rec.log else t0
            if online is not None and len(states) >= FIXTURES and time.monotonic() - last > 2.0:
                break
    prefix = bridge.discovery_prefix
    discovery = [(t, topic) for t, topic, p, _r in rec.log if topic.startswith(prefix) and p]
    state_times: dict[str, float] = {}
    for t, topic, _p, _r in rec.log:
        if topic.startswith(fixture_prefix):
            state_times.setdefault(topic, t)
    disc_last = max((t for t, _ in discovery), default=t0)
    states_last = max(state_times.values(), default=t0)
    ready = max(disc_last, states_last, online or t0)
    return {
        "start_s": ready - t0,
        "online_s": (online or t0) - t0,
        "discovery_s": disc_last - t0,
        "states_s": states_last - t0,
        "discovery_configs": len({topic for _, topic in discovery}),
        "fixture_states": len(state_times),
    }


def measure_ticks(rec: Recorder, base: str) -> dict[str, Stats]:
    durations: list[float] = []
    round_trips: list[float] = []
    for _ in range(TICKS):
        t = time.monotonic()
        reply = rec.request(base, "circadian/tick", {}, timeout=60)
        round_trips.append(time.monotonic() - t)
        if reply.get("status") == "ok":
            durations.append(float(reply["data"]["duration_ms"]) / 1000)
        time.sleep(0.2)
    return {"duration": Stats.of(durations), "round_trip": Stats.of(round_trips)}


def mixed_load(
    rec: Recorder, bridge: BridgeProcess, layout: Layout, seconds: float
) -> dict[str, int]:
    rng = random.Random(7)
    counts = {"fixture": 0, "group": 0, "tick": 0, "health": 0}
    start = time.monotonic()
    i = 0
    while (now := time.monotonic()) - start < seconds:
        due = start + i / 100  # 100 fixture commands/s
        if now < due:
            time.sleep(due - now)
        spot = rng.choice(layout.fixtures)
        body = {"state": "ON", "brightness": rng.randint(1, 255), "color_temp_kelvin": 3000}
        rec.publish(bridge.topic("fixture", spot.slug, "set"), json.dumps(body), qos=1)
        counts["fixture"] += 1
        if i % 200 == 0:  # every 2 s: a leaf group (1,250 fixtures)
            leaf = rng.choice(layout.leaves)
            rec.publish(bridge.topic("group", leaf, "set"), "ON", qos=1)
            counts["group"] += 1
        if i % 500 == 250:  # every 5 s: a circadian tick and a health check
            for name in ("circadian/tick", "health_check"):
                rec.publish(bridge.topic("bridge", "request", name), "{}", qos=1)
            counts["tick"] += 1
            counts["health"] += 1
        i += 1
    return counts


def rows(
    start: dict[str, float],
    rss_start: dict[str, int],
    rss_end: dict[str, int],
    ticks: dict[str, Stats],
    load: dict[str, int],
    load_s: float,
    first_packet: bytes,
) -> list[Row]:
    tick, trip = ticks["duration"], ticks["round_trip"]
    complete = start["fixture_states"] >= FIXTURES
    mib_start = rss_start.get("VmRSS", 0) / 1024
    mib_end = rss_end.get("VmRSS", 0) / 1024
    peak = rss_end.get("VmHWM", 0) / 1024
    return [
        Row(
            NAME,
            f"start → online, discovery, {FIXTURES} states",
            p50=start["start_s"] * 1000,
            throughput=f"{start['discovery_configs']} configs, {start['fixture_states']} states",
            target="≤ 5 s",
            met=complete and start["start_s"] <= 5.0,
            notes=(
                f"online {start['online_s']:.2f} s, discovery {start['discovery_s']:.2f} s, "
                f"states {start['states_s']:.2f} s; first frame u1 {first_packet.hex() or '–'}"
            ),
            data=start,
        ),
        Row.latency(
            NAME,
            f"circadian tick over {FIXTURES} fixtures",
            tick,
            target="≤ 50 ms",
            met=tick.p50 is not None and tick.p50 <= 50.0,
            notes=f"n={tick.n} ticks, judged on the median (duration_ms reported by the "
            f"bridge); request round trip p50 {trip.p50 or 0:.0f} ms",
            data={"tick": asdict(tick), "round_trip": asdict(trip)},
        ),
        Row(
            NAME,
            f"RSS after start / after {load_s:.0f} s mixed load",
            throughput=f"{mib_start:.0f} MiB / {mib_end:.0f} MiB",
            target="≤ 200 MB",
            met=bool(mib_end) and max(mib_start, mib_end) * 1.048576 <= 200,
            notes=f"peak (VmHWM) {peak:.0f} MiB; load {load}",
            data={"rss_start_kib": rss_start, "rss_end_kib": rss_end, "load": load},
        ),
    ]
