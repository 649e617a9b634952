"""Effects: 100 dimmers on `candle` next to one commanded fixture, at the Enttec widget.

One universe on the emulated Enttec USB Pro: fixture 1 (channel 1) takes 50
commands/s as in `single`; fixtures 2-101 run `candle`. Measured in one run:

- the bridge's CPU (utime + stime from /proc, as a share of one core) over a quiet
  window with the 100 candles running, against the same window with nothing running;
- command → frame latency of fixture 1 with the candles running, against the same
  commands without them, in alternating blocks of one run, so only the effects differ.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict

from testkit.enttec import EnttecEmulator

from bench.harness import Bench, Recorder, Row, Stats, run_async, stage, versus
from bench.installation import build
from bench.scenarios.single import match, values

NAME = "effects"
CANDLES = 100
RATE = 50.0
QUIET_S = 5.0
BLOCKS = 4
TARGET_CPU = "≤ 10 % of one core"
TARGET_LATENCY = "p50/p99 unchanged (within 1 ms / 5 ms of without effects)"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid: int, seconds: float) -> float:
    """The process's CPU over the next `seconds`, as a fraction of one core."""
    before, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - t0)


def commands(
    pub: Recorder, widget: EnttecEmulator, topic: str, count: int
) -> tuple[list[float], int, float]:
    """`count` commands at RATE: (latencies, lost frames, seconds taken); a superseded
    command is timed to the frame that showed the newer one (`single.match`)."""
    sent: list[tuple[float, int]] = []
    wanted = values(count)
    widget.clear()
    start = time.monotonic()
    for i, value in enumerate(wanted):
        due = start + i / RATE
        while (now := time.monotonic()) < due:
            time.sleep(min(due - now, 0.005))
        sent.append((time.monotonic(), value))
        pub.publish(topic, json.dumps({"brightness": value}), qos=1)
    widget.wait_for(lambda: bool(widget.frames) and widget.frames[-1].data[0] == wanted[-1], 5)
    elapsed = time.monotonic() - start
    matched = match(sent, list(widget.frames))
    return matched.latencies, matched.lost, elapsed


def candles_on(pub: Recorder, widget: EnttecEmulator, topics: list[str], on: bool) -> None:
    """Start (or stop, back to steady full) the candles and wait until the widget shows it."""
    body = {"state": "ON", "effect": "candle"} if on else {"state": "ON", "brightness": 255}
    for topic in topics:
        pub.publish(topic, json.dumps(body), qos=1)
    last = len(topics) + 1  # the last candle's channel
    widget.clear()
    if on:
        ok = widget.wait_for(lambda: len({f.data[last - 1] for f in widget.frames}) > 3, 10)
    else:
        ok = widget.wait_for(
            lambda: bool(widget.frames) and widget.frames[-1].data[last - 1] == 255, 10
        )
    if not ok:
        raise RuntimeError(f"the candles never {'flickered' if on else 'stopped'} at the widget")


def run(bench: Bench) -> list[Row]:
    count = bench.samples(1000, 200)
    url = bench.database()
    layout = run_async(build(url, CANDLES + 1, [1], prefix="fx"))
    probe, *candles = (f.slug for f in layout.fixtures)
    # Without and with effects in alternating blocks, so load from outside the bridge
    # (a shared machine) weighs on both alike.
    plain: list[float] = []
    lit: list[float] = []
    missing = {"plain": 0, "lit": 0}
    seconds = {"plain": 0.0, "lit": 0.0}
    with EnttecEmulator(bench.tmp / "widget-effects") as widget:
        bridge = bench.bridge(url, universes={"1": {"driver": "enttec_pro", "port": widget.port}})
        pid = bridge.pid or 0
        pub = bench.recorder("effects-pub")
        try:
            topic = bridge.topic("fixture", probe, "set")
            candle_topics = [bridge.topic("fixture", slug, "set") for slug in candles]
            pub.publish(topic, json.dumps({"state": "ON", "brightness": 255})).wait_for_publish(5)
            first = widget.wait_for(
                lambda: bool(widget.frames) and widget.frames[-1].data[0] > 0, 10
            )
            if not first:
                raise RuntimeError("the bridge never put the first command on the widget")
            idle = cpu_share(pid, QUIET_S)
            candles_on(pub, widget, candle_topics, True)
            running = cpu_share(pid, QUIET_S)
            with stage(bench, f"effects: {count} commands each without and with {CANDLES} candles"):
                for _ in range(BLOCKS):
                    for kind, out in (("lit", lit), ("plain", plain)):
                        candles_on(pub, widget, candle_topics, kind == "lit")
                        got, lost, took = commands(pub, widget, topic, count // BLOCKS)
                        out.extend(got)
                        missing[kind] += lost
                        seconds[kind] += took
        finally:
            pub.close()
            bench.stop_bridges()
    rate = {k: count / v if v else 0.0 for k, v in seconds.items()}
    return rows(
        idle,
        running,
        Stats.of(plain),
        Stats.of(lit),
        missing["plain"],
        missing["lit"],
        rate["lit"],
        rate["plain"],
    )


def rows(
    idle: float,
    running: float,
    plain: Stats,
    lit: Stats,
    plain_missing: int,
    lit_missing: int,
    lit_rate: float,
    plain_rate: float,
) -> list[Row]:
    text, extra = versus(lit, plain)
    met_latency = None
    if extra:
        met_latency = extra["added_p50_ms"] <= 1.0 and extra["added_p99_ms"] <= 5.0
    share = running - idle
    return [
        Row(
            NAME,
            f"{CANDLES} fixtures on candle: CPU",
            None,
            None,
            None,
            throughput=f"{share * 100:.1f} % of one core",
            target=TARGET_CPU,
            met=share <= 0.10,
            notes=f"bridge {running * 100:.1f} % with the candles, {idle * 100:.1f} % idle",
            data={"cpu_running": running, "cpu_idle": idle},
        ),
        Row.latency(
            NAME,
            f"MQTT set → Enttec frame, {CANDLES} on candle",
            lit,
            throughput=f"{lit_rate:.0f} cmd/s",
            vs_baseline=f"{text} (vs the same commands without effects)",
            target=TARGET_LATENCY,
            met=met_latency and not lit_missing,
            notes=(
                f"n={lit.n}; missing {lit_missing}; without effects p50 {plain.p50 or 0:.2f} / "
                f"p99 {plain.p99 or 0:.2f} ms, missing {plain_missing}, {plain_rate:.0f} cmd/s"
            ),
            data={"with": asdict(lit), "without": asdict(plain), **extra},
        ),
    ]
