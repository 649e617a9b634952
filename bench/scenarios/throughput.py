"""Throughput: an open-loop ramp of command rates over 2,048 fixtures on 4 Art-Net universes.

A separate publisher process sends `{"state":"ON","brightness":v}` round-robin over
the fixtures on a fixed schedule (it never waits for the bridge). A command is
delivered when the fixture's state publication carries its value, delayed when
that took more than 100 ms, lost when it never came. The ramp stops at the first
rate with a loss, a delay or a publisher that could not keep the schedule; the
highest clean rate is then held (30 s in a full run) and the final state is
checked: every fixture's retained state and DMX slot equal its last command.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import threading
import time
from array import array
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

from testkit.receivers import ArtNetReceiver

from bench.harness import Bench, Recorder, Row, Stats, run_async, stage
from bench.installation import Layout, build
from bench.wire import connect_packet, publish_packet

NAME = "throughput"
UNIVERSES = [1, 2, 3, 4]
FIXTURES = 2048
DELAY_LIMIT_S = 0.100
FULL_RAMP = (500, 1000, 2000, 3000, 4000, 5000, 7500, 10000, 15000, 20000)
QUICK_RAMP = (1000, 2500, 5000)


def value_of(index: int) -> int:
    """Brightness of command `index`: consecutive commands to one fixture always differ."""
    return 1 + (index // FIXTURES) % 254


def publisher(
    host: str, port: int, topics: list[str], first: int, count: int, rate: float, out: Any
) -> None:
    """Child process: publish commands first..first+count at `rate`/s; send back send times.

    QoS 1 over a raw MQTT 3.1.1 socket: packets are pre-encoded, each due batch is one
    write, and a reader thread counts the PUBACKs. The generator shares the machine's
    two cores with the bridge, Mosquitto and the recorder; paho's per-message cost
    made it the biggest process at 5,000/s, stealing CPU from what is measured.
    """
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(f"bench-load-{os.getpid()}", keepalive=60))
    connack = b""
    while len(connack) < 4:
        chunk = sock.recv(4 - len(connack))
        if not chunk:
            raise RuntimeError("the broker closed the load generator's connection")
        connack += chunk
    if connack[0] != 0x20 or connack[3] != 0:
        raise RuntimeError(f"the broker refused the load generator: {connack.hex()}")
    acked = threading.Event()

    def count_pubacks() -> None:
        pending, got = b"", 0
        while got < count:
            data = sock.recv(65536)
            if not data:
                break
            pending += data
            whole = len(pending) // 4  # only PUBACKs come back: 4 bytes each
            got, pending = got + whole, pending[whole * 4 :]
        acked.set()

    threading.Thread(target=count_pubacks, daemon=True).start()
    encoded = [t.encode() for t in topics]
    times = array("d", bytes(8 * count))
    start = time.monotonic() + 0.05
    i = 0
    while i < count:
        now = time.monotonic()
        due = min(count, int((now - start) * rate) + 1)
        if i >= due:
            time.sleep(min(0.001, max(0.0, start + i / rate - now)))
            continue
        batch = bytearray()
        while i < due:
            index = first + i
            payload = b'{"state":"ON","brightness":%d}' % value_of(index)
            batch += publish_packet(encoded[index % FIXTURES], payload, i % 65535 + 1)
            times[i] = now
            i += 1
        sock.sendall(batch)
    acked.wait(30)
    with contextlib.suppress(OSError):
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    out.send_bytes(times.tobytes())
    out.close()


@dataclass(slots=True)
class Step:
    rate: int
    seconds: float
    hold: bool = False  # the 30 s hold of a full run, not a ramp step
    sent: int = 0
    achieved: float = 0.0
    delivered: int = 0
    delayed: int = 0
    stats: Stats | None = None

    @property
    def lost(self) -> int:
        return self.sent - self.delivered

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.delayed == 0 and self.achieved >= 0.95 * self.rate


class Rig:
    def __init__(self, bench: Bench, layout: Layout, bridge: Any, recorder: Recorder) -> None:
        self.bench = bench
        self.layout = layout
        self.bridge = bridge
        self.recorder = recorder
        self.topics = [bridge.topic("fixture", s.slug, "set") for s in layout.fixtures]
        self.slot_of = {bridge.topic("fixture", s.slug): i for i, s in enumerate(layout.fixtures)}
        self.next_index = 0
        self.sent: dict[int, float] = {}  # command index -> send time

    def step(self, rate: int, seconds: float, hold: bool = False) -> Step:
        count = int(rate * seconds)
        first, self.next_index = self.next_index, self.next_index + count
        mark = len(self.recorder.log)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        mqtt = self.bench.mqtt
        proc = ctx.Process(
            target=publisher,
            args=(mqtt.host, mqtt.port, self.topics, first, count, rate, child),
            daemon=True,
        )
        proc.start()
        child.close()
        if not parent.poll(seconds + 60):
            proc.kill()
            raise RuntimeError(f"publisher at {rate}/s did not finish")
        times = array("d")
        times.frombytes(parent.recv_bytes())
        proc.join(10)
        for i, t in enumerate(times):
            self.sent[first + i] = t
        self._drain()
        result = Step(rate, seconds, hold, sent=count)
        span = times[-1] - times[0] if count > 1 else seconds
        result.achieved = (count - 1) / span if span > 0 else 0.0
        latencies = self._match(first, count, self.recorder.log[mark:])
        result.delivered = len(latencies)
        result.delayed = sum(1 for x in latencies if x > DELAY_LIMIT_S)
        result.stats = Stats.of(latencies)
        return result

    def _drain(self, quiet: float = 1.0, limit: float = 15.0) -> None:
        deadline = time.monotonic() + limit
        count = -1
        while count != len(self.recorder.log) and time.monotonic() < deadline:
            count = len(self.recorder.log)
            time.sleep(quiet)

    def _match(
        self, first: int, count: int, log: list[tuple[float, str, bytes, bool]]
    ) -> list[float]:
        # Per fixture: its commands of this step in order, matched against its state messages.
        pending: dict[int, list[int]] = defaultdict(list)
        for index in range(first, first + count):
            pending[index % FIXTURES].append(index)
        cursor: dict[int, int] = defaultdict(int)
        latencies: list[float] = []
        for t, topic, payload, retained in log:
            slot = self.slot_of.get(topic)
            if slot is None or retained:
                continue
            try:
                value = json.loads(payload).get("brightness")
            except ValueError:
                continue
            queue, j = pending[slot], cursor[slot]
            while j < len(queue) and value_of(queue[j]) != value:
                j += 1
            if j < len(queue):
                latencies.append(t - self.sent[queue[j]])
                j += 1
            cursor[slot] = j
        return latencies


def run(bench: Bench) -> list[Row]:
    url = bench.database()
    layout = run_async(build(url, FIXTURES, UNIVERSES, prefix="t"))
    ramp = QUICK_RAMP if bench.quick else FULL_RAMP
    step_s, hold_s = (3.0, 0.0) if bench.quick else (10.0, 30.0)
    steps: list[Step] = []
    with ExitStack() as stack:
        receivers = {u: stack.enter_context(ArtNetReceiver()) for u in UNIVERSES}
        universes = {
            str(u): {"driver": "artnet", "host": "127.0.0.1", "port": rx.port, "universe": u - 1}
            for u, rx in receivers.items()
        }
        bridge = bench.bridge(url, universes=universes, timeout=120)
        recorder = bench.recorder("throughput-states")
        stack.callback(recorder.close)
        recorder.subscribe(bridge.topic("fixture", "+"), qos=0)
        rig = Rig(bench, layout, bridge, recorder)
        # Warm-up, not reported: the first seconds of traffic through a fresh recorder
        # connection measure 10-20 ms at any rate while the bridge's own read-to-write
        # time stays at 0.1 ms (instrumented), i.e. the broker-to-recorder path settling.
        with stage(bench, "throughput: warm-up 1000/s for 3 s (not reported)"):
            rig.step(1000, 3.0)
        for rate in ramp:
            with stage(bench, f"throughput: {rate}/s for {step_s:.0f} s"):
                step = rig.step(rate, step_s)
            steps.append(step)
            bench.log(
                f"  sent {step.sent} at {step.achieved:.0f}/s, lost {step.lost}, "
                f"delayed {step.delayed}, p99 {step.stats.p99 if step.stats else None}"
            )
            if not step.clean:
                break
        best = max((s.rate for s in steps if s.clean), default=None)
        held = None
        if best is not None and hold_s:
            # Hold the highest clean rate; if it does not stay clean for the whole hold,
            # step down through the clean ramp rates until one does (or none is left).
            for rate in sorted({s.rate for s in steps if s.clean}, reverse=True):
                with stage(bench, f"throughput: holding {rate}/s for {hold_s:.0f} s"):
                    held = rig.step(rate, hold_s, hold=True)
                steps.append(held)
                if held.clean:
                    break
        consistency = check_final(rig, receivers)
        bench.stop_bridges()
    return rows(steps, best, held, consistency)


def check_final(rig: Rig, receivers: dict[int, ArtNetReceiver]) -> dict[str, int]:
    """Compare every fixture's retained state and DMX slot with its last command."""
    last: dict[int, int] = {}
    for index in range(max(0, rig.next_index - FIXTURES), rig.next_index):
        last[index % FIXTURES] = value_of(index)
    reader = rig.bench.recorder("throughput-final")
    try:
        reader.subscribe(rig.bridge.topic("fixture", "+"), qos=0)
        reader.wait(lambda: len(reader.log) >= FIXTURES, 15)
        time.sleep(0.5)
        retained = {
            rig.slot_of[t]: json.loads(p).get("brightness")
            for _, t, p, r in reader.log
            if r and t in rig.slot_of
        }
    finally:
        reader.close()
    state_bad = sum(1 for slot, v in last.items() if retained.get(slot) != v)
    frames = {u: rx.snapshot()[-1].data for u, rx in receivers.items() if rx.packets}
    dmx_bad = 0
    for slot, v in last.items():
        spot = rig.layout.fixtures[slot]
        data = frames.get(spot.universe)
        if data is None or data[spot.channel - 1] != v:
            dmx_bad += 1
    errors = sum(len(rx.errors) for rx in receivers.values())
    return {
        "fixtures": len(last),
        "state_mismatch": state_bad,
        "dmx_mismatch": dmx_bad,
        "artnet_errors": errors,
    }


def rows(
    steps: list[Step], best: int | None, held: Step | None, consistency: dict[str, int]
) -> list[Row]:
    out: list[Row] = []
    for step in steps:
        stats = step.stats or Stats.of([])
        label = "hold" if step.hold else "ramp"
        out.append(
            Row.latency(
                NAME,
                f"{label} {step.rate}/s × {step.seconds:.0f} s: set → state",
                stats,
                throughput=f"{step.achieved:.0f} cmd/s sent",
                notes=(
                    f"sent {step.sent}, lost {step.lost}, delayed>100ms {step.delayed}"
                    + ("" if step.achieved >= 0.95 * step.rate else "; publisher fell behind")
                ),
                data={
                    "rate": step.rate,
                    "sent": step.sent,
                    "lost": step.lost,
                    "delayed": step.delayed,
                    "achieved": step.achieved,
                    "stats": asdict(stats),
                },
            )
        )
    # A full run counts only a rate that held clean for the whole hold; a quick run has
    # no hold, and reports its best ramp step.
    sustained = best if held is None else (held.rate if held.clean else None)
    consistent = consistency["state_mismatch"] == 0 and consistency["dmx_mismatch"] == 0
    out.append(
        Row(
            NAME,
            "highest zero-loss rate; final state",
            throughput=f"{sustained or 0} cmd/s",
            # Issue 12's target for the bridge on aiomqtt (paho reads each packet with
            # several syscalls); the hand-written client this replaced held 10,000/s.
            target="≥ 2,000 cmd/s, zero loss",
            met=bool(sustained and sustained >= 2000 and consistent),
            notes=(
                (f"held {held.seconds:.0f} s; " if held is not None and held.clean else "")
                + f"final state: {consistency['state_mismatch']} retained / "
                f"{consistency['dmx_mismatch']} DMX mismatches of {consistency['fixtures']}"
            ),
            data={"sustained": sustained, **consistency},
        )
    )
    return out
