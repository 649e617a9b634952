"""Single fixture: `<base>/fixture/<slug>/set` -> the frame carrying it at the Enttec widget.

50 commands/s, transition 0, brightness alternating so every command changes
channel 1. The latency of a command is the arrival time (at the emulated widget,
where the bytes are read off the pty) of the first frame carrying its value.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import NamedTuple

from testkit.enttec import EnttecEmulator, Frame

from bench.harness import Bench, Row, Stats, run_async, stage, versus
from bench.installation import build

NAME = "single"
RATE = float(__import__("os").environ.get("BENCH_RATE", "50"))
TARGET = "added p50 ≤ 1 ms, p99 ≤ 5 ms"


def values(count: int) -> list[int]:
    """Brightness per command: consecutive values always differ, none is 0."""
    return [1 + (i * 37) % 254 for i in range(count)]


def run(bench: Bench) -> list[Row]:
    count = bench.samples(2000, 300)
    url = bench.database()
    layout = run_async(build(url, 1, [1], prefix="single"))
    slug = layout.fixtures[0].slug
    with EnttecEmulator(bench.tmp / "widget-single") as widget:
        bridge = bench.bridge(
            url,
            universes={"1": {"driver": "enttec_pro", "port": widget.port}},
            fps=float(__import__("os").environ.get("BENCH_FPS", "44")),
        )
        pub = bench.recorder("single-pub")
        watch = bench.recorder("single-state")
        try:
            topic = bridge.topic("fixture", slug, "set")
            pub.publish(topic, json.dumps({"state": "ON", "brightness": 255})).wait_for_publish(5)
            if not widget.wait_for(
                lambda: bool(widget.frames) and widget.frames[-1].data[0] == 255, 10
            ):
                raise RuntimeError("the bridge never put the first command on the widget")
            # A separate client: a PUBACK ahead of a command on one socket would hold the
            # command back (Nagle) and bill the broker's delayed ACK to the bridge.
            watch.subscribe(bridge.topic("fixture", slug), qos=1)
            mark = len(watch.log)
            sent: list[tuple[float, int]] = []
            wanted = values(count)
            with stage(bench, f"single: {count} commands at {RATE:.0f}/s"):
                start = time.monotonic()
                for i, value in enumerate(wanted):
                    due = start + i / RATE
                    while (now := time.monotonic()) < due:
                        time.sleep(min(due - now, 0.005))
                    payload = json.dumps({"brightness": value})
                    sent.append((time.monotonic(), value))
                    pub.publish(topic, payload, qos=1)
                widget.wait_for(lambda: _last(widget) == wanted[-1], 5)
                elapsed = time.monotonic() - start
            latencies, superseded, missing = match(sent, list(widget.frames))
            published = state_latencies(sent, watch.log[mark:])
            errors = list(widget.errors)
        finally:
            pub.close()
            watch.close()
            bench.stop_bridges()
    stats = Stats.of(latencies)
    state = Stats.of(published)
    text, extra = versus(stats, bench.baseline)
    met = None
    if extra:
        met = extra["added_p50_ms"] <= 1.0 and extra["added_p99_ms"] <= 5.0 and not missing
    notes = (
        f"n={stats.n}; lost {missing}, superseded {superseded} (timed to the newer value's "
        f"frame); mean {stats.mean:.2f} ms"
        if stats.n
        else ""
    )
    if errors:
        notes += f"; widget protocol errors {len(errors)}"
    if state.n:
        notes += f"; state publication p50 {state.p50:.2f} / p99 {state.p99:.2f} ms"
    return [
        Row.latency(
            NAME,
            "MQTT set → Enttec frame",
            stats,
            throughput=f"{count / elapsed:.0f} cmd/s",
            vs_baseline=text,
            target=TARGET,
            met=met,
            notes=notes,
            data={
                "stats": asdict(stats),
                **extra,
                "missing": missing,
                "superseded": superseded,
                "widget_errors": errors[:5],
                "state_publication": asdict(state),
            },
        )
    ]


def state_latencies(
    sent: list[tuple[float, int]], log: list[tuple[float, str, bytes, bool]]
) -> list[float]:
    """Command → its state publication received back over MQTT (matched in order by value)."""
    out: list[float] = []
    j = 0
    for t, _topic, payload, retained in log:
        if retained:
            continue
        value = json.loads(payload).get("brightness")
        k = j
        while k < len(sent) and sent[k][1] != value:
            k += 1
        if k < len(sent):
            out.append(t - sent[k][0])
            j = k + 1
    return out


def _last(widget: EnttecEmulator) -> int | None:
    return widget.frames[-1].data[0] if widget.frames else None


class Matched(NamedTuple):
    latencies: list[float]  # ms... seconds, one per command that was shown or superseded
    superseded: int  # a later command's value showed first (the frame carries the newest)
    lost: int  # neither its value nor a later one's within a second


def match(sent: list[tuple[float, int]], frames: list[Frame]) -> Matched:
    """Each command's latency to the first later frame whose channel 1 carries its value.

    A command whose value never shows because a later command's value shows first
    (they reached the bridge in one turn of its loop, and a frame carries the newest
    level) is superseded: its latency is that frame's, the moment the light did what
    was last asked, so a stall counts in the figures instead of dropping out of them.
    One with neither its value nor a later one's within a second is lost.
    """
    at: dict[int, list[int]] = {}  # value -> indices of the commands that sent it
    for m, (_t, value) in enumerate(sent):
        at.setdefault(value, []).append(m)
    latencies: list[float] = []
    superseded = lost = 0
    j = 0
    for i, (t, value) in enumerate(sent):
        while j < len(frames) and frames[j].t < t:
            j += 1
        k = j
        found = None
        newer = False
        while k < len(frames) and frames[k].t - t < 1.0:
            frame = frames[k]
            slot = frame.data[0]
            if slot == value:
                found = frame
                break
            if any(m > i and sent[m][0] <= frame.t for m in at.get(slot, ())):
                found, newer = frame, True
                break
            k += 1
        if found is None:
            lost += 1
            continue
        superseded += newer
        latencies.append(found.t - t)
        j = k
    return Matched(latencies, superseded, lost)
