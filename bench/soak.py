"""`make soak` (`python -m bench.soak`): a bridge under steady, mixed load for `SOAK_MIN`
minutes (10 by default), watched for what only time shows: memory that grows, latency
that drifts, commands that go missing, tasks that die.

The load, all of it at once, all the time:

- 200 commands/s: 190/s round-robin over 40 fixtures (channels 1-40 of an emulated
  Enttec USB Pro, so each fixture gets one every 210 ms and every value reaches a frame
  of its own; `"transition": 0`, so the frame carrying it is measured) and 10/s to a
  group of 3 more fixtures, fading over the default transition like the presses;
- circadian ticks every `SOAK_TICK_S` (2 s) over a group of 5 fixtures with a profile;
- a switch press (press + release) a second, on a group of 2 fixtures;
- a `health_check` request a second;
- a subscriber on `<base>/#` (every state, reply and info the bridge sends).

A fixture command is lost when its value never shows on its channel at the widget, in
order; its latency is the arrival of the first frame carrying it. Printed at the end: a
Markdown table with RSS after the warm-up (1 min) and at the end, the RSS per minute,
commands sent / lost, command -> DMX p50/p99 of the first and of the last minute, and the
task restarts the bridge counted (`tau_task_restarts_total`).

`SOAK_TRACE=objects` (or `tracemalloc`, exact but several times slower) makes the bridge
dump what lives in it after the warm-up and at the end (a `sitecustomize` on its path)
and prints what grew in between: what to look at when RSS climbs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict, deque
from pathlib import Path

import asyncpg
from testkit.enttec import EnttecEmulator

from bench.harness import Bench, Options, Services, Stats, fmt_ms, rss_kib, run_async

COMMANDED = 40  # fixtures 1-40 (channels 1-40) take fixture commands
FIXTURE_RATE = 190.0
GROUP_RATE = 10.0
WARMUP_S = 60.0
TICK_S = float(os.environ.get("SOAK_TICK_S", "2"))
MONTH_PROFILE = [
    {"at": "00:00", "brightness": 20, "kelvin": 2700},
    {"at": "12:00", "brightness": 100, "kelvin": 5000},
]
SWITCH_TOPIC_SUFFIX = "soak-button/action"


def value(k: int) -> int:
    """The k-th command to one fixture: consecutive values always differ, none is 0."""
    return 1 + (k * 37) % 254


async def _build(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        async with conn.transaction():
            model = await conn.fetchval(
                "INSERT INTO fixture_models (manufacturer, model, channels, min_kelvin, "
                "max_kelvin, dimming_curve, min_level) VALUES ('Soak', 'Dimmer', "
                "'[\"dimmer\"]'::jsonb, 2700, 6500, 'linear', 0) RETURNING id"
            )
            ids = []
            for i in range(1, 51):
                ids.append(
                    await conn.fetchval(
                        "INSERT INTO fixtures (name, slug, fixture_model_id, universe, "
                        "start_channel) VALUES ($1, $1, $2, 1, $3) RETURNING id",
                        f"s{i:02d}",
                        model,
                        i,
                    )
                )
            profile = await conn.fetchval(
                "INSERT INTO circadian_profiles (name, keyframes) VALUES ('Soak', $1::jsonb) "
                "RETURNING id",
                json.dumps(MONTH_PROFILE),
            )
            groups: dict[str, int] = {}
            for slug, members, prof in (
                ("ga", ids[40:43], None),
                ("sw", ids[43:45], None),
                ("circ", ids[45:50], profile),
                ("all", [], None),
            ):
                groups[slug] = await conn.fetchval(
                    "INSERT INTO groups (name, slug, circadian_profile_id) VALUES ($1, $1, $2) "
                    "RETURNING id",
                    slug,
                    prof,
                )
                for member in members:
                    await conn.execute(
                        "INSERT INTO group_fixtures (group_id, fixture_id) VALUES ($1, $2)",
                        groups[slug],
                        member,
                    )
            for child in ("ga", "sw", "circ"):
                await conn.execute(
                    "INSERT INTO group_hierarchy (parent_group_id, child_group_id) VALUES ($1, $2)",
                    groups["all"],
                    groups[child],
                )
            button = await conn.fetchval(
                "INSERT INTO switch_models (manufacturer, model, kind, actions, action_map) "
                "VALUES ('Soak', 'Button', 'momentary', "
                '\'["press", "release", "single", "double", "hold"]\', '
                '\'{"single": "toggle", "double": "full", "hold": "dim_start", '
                '"release": "dim_stop"}\') RETURNING id'
            )
            await conn.execute(
                "INSERT INTO switches (name, slug, switch_model_id, target_group_id, "
                "input_topic, double_tap_ms, hold_ms) VALUES ('soak-button', 'soak-button', "
                "$1, $2, $3, 200, 400)",
                button,
                groups["sw"],
                f"{os.environ.get('SOAK_SWITCH_PREFIX', 'soak')}/{SWITCH_TOPIC_SUFFIX}",
            )
    finally:
        await conn.close()


class DmxWatch:
    """Matches fixture commands with the first widget frame carrying their value."""

    def __init__(self, widget: EnttecEmulator) -> None:
        self.widget = widget
        self.pending: dict[int, deque[tuple[float, int]]] = defaultdict(deque)
        self.latencies: list[tuple[float, float]] = []  # (send time, seconds)
        self.skipped = 0  # commands overtaken by a later one before a frame carried them
        self.final: dict[int, int] = {}  # channel -> the last value sent
        self.last = bytearray(512)
        self.lock = threading.Lock()

    def sent(self, channel: int, t: float, v: int) -> None:
        with self.lock:
            self.pending[channel].append((t, v))
            self.final[channel] = v

    def drain(self) -> None:
        frames = self.widget.take()
        with self.lock:
            for frame in frames:
                data = frame.data
                for ch in range(1, COMMANDED + 1):
                    v = data[ch - 1]
                    if v == self.last[ch - 1]:
                        continue
                    self.last[ch - 1] = v
                    queue = self.pending[ch]
                    for i, (_t, want) in enumerate(queue):
                        if want == v:
                            for _ in range(i):
                                queue.popleft()
                                self.skipped += 1
                            t, _ = queue.popleft()
                            self.latencies.append((t, frame.t - t))
                            break

    @property
    def final_mismatches(self) -> int:
        with self.lock:
            return sum(1 for ch, v in self.final.items() if self.last[ch - 1] != v)

    @property
    def outstanding(self) -> int:
        with self.lock:
            return sum(len(q) for q in self.pending.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metric_total(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    found = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    ]
    return sum(found) if found else 0.0


def _tracing_path(tmp: Path, how: str) -> tuple[Path, Path]:
    """A `sitecustomize` for the bridge: on SIGUSR2 it writes what lives in it, either a
    tracemalloc snapshot (`how` = "tracemalloc": exact, but slows the bridge down several
    times) or a count of live objects by type and the biggest containers ("objects":
    cheap, only when asked)."""
    site = tmp / "soak-site"
    site.mkdir(exist_ok=True)
    out = tmp / "soak-snapshots"
    out.mkdir(exist_ok=True)
    if how == "tracemalloc":
        body = (
            "tracemalloc.start(int(os.environ.get('SOAK_FRAMES', '1')))\n"
            "def _dump(*_a):\n"
            "    gc.collect()\n"
            "    _n[0] += 1\n"
            f"    tracemalloc.take_snapshot().dump({str(out)!r} + f'/snap{{_n[0]}}.bin')\n"
        )
    else:
        body = (
            "def _dump(*_a):\n"
            "    gc.collect()\n"
            "    _n[0] += 1\n"
            "    gc.unfreeze()  # the bridge freezes what it loaded: look at that too\n"
            "    objs = gc.get_objects()\n"
            "    types = collections.Counter(type(o).__qualname__ for o in objs)\n"
            "    big = sorted((o for o in objs if isinstance(o, (dict, list, set, "
            "collections.deque, collections.OrderedDict))), key=len, reverse=True)[:15]\n"
            "    data = {'blocks': sys.getallocatedblocks(), 'types': dict(types), 'big': "
            "[(type(o).__name__, len(o), repr(list(o)[:3])[:160]) for o in big]}\n"
            f"    open({str(out)!r} + f'/objects{{_n[0]}}.json', 'w').write(json.dumps(data))\n"
            "    del objs, big\n"
            "    gc.freeze()\n"
        )
    (site / "sitecustomize.py").write_text(
        "import collections, gc, json, os, signal, sys, tracemalloc\n"
        "_n = [0]\n" + body + "signal.signal(signal.SIGUSR2, _dump)\n"
    )
    return site, out


def main() -> int:
    minutes = float(os.environ.get("SOAK_MIN", "10"))
    duration = minutes * 60
    trace = os.environ.get("SOAK_TRACE", "")  # "tracemalloc" or "objects" (see above)
    services = Services()
    bench = Bench(Options(), services)
    log = bench.log
    try:
        url = bench.database()
        prefix = f"soak-{os.getpid()}"
        os.environ["SOAK_SWITCH_PREFIX"] = prefix
        run_async(_build(url))
        http = free_port()
        env = {
            "TAU_CIRCADIAN__TICK_SECONDS": str(TICK_S),
            "TAU_HTTP__PORT": str(http),
            "TAU_HTTP__HOST": "127.0.0.1",
        }
        snapshots = None
        if trace:
            site, snapshots = _tracing_path(bench.tmp, trace)
            os.environ["BENCH_BRIDGE_PYTHONPATH"] = str(site)
        with EnttecEmulator(bench.tmp / "widget-soak") as widget:
            bridge = bench.bridge(
                url,
                universes={"1": {"driver": "enttec_pro", "port": widget.port}},
                default_transition=None,  # Tau's own (0.4 s): group commands and presses fade
                env=env,
            )
            assert bridge.pid is not None
            pid = bridge.pid
            watch = DmxWatch(widget)
            # The subscriber on <base>/# in a process of its own: it reads ~500 messages a
            # second, which in this process would stall the load and the DMX timestamps.
            seen_path = bench.tmp / "soak-all.txt"
            with seen_path.open("wb") as out:
                everything = subprocess.Popen(
                    [
                        "mosquitto_sub",
                        *("-h", bench.mqtt.host, "-p", str(bench.mqtt.port)),
                        *("-t", f"{bridge.base_topic}/#", "-N", "-F", "."),
                    ],
                    stdout=out,
                )
            pub = bench.recorder("soak-pub")
            asker = bench.recorder("soak-ask")
            pub.publish(bridge.topic("group", "circ", "circadian", "set"), "ON")
            log(f"soak: {minutes:g} min, bridge pid {pid}, http :{http}")
            stop = threading.Event()
            sent = {"fixture": 0, "group": 0, "switch": 0, "request": 0}
            replies = {"ok": 0, "other": 0, "missing": 0}

            def commands() -> None:
                start = time.monotonic()
                counters = [0] * (COMMANDED + 1)
                i = g = 0
                topics = [bridge.topic("fixture", f"s{c:02d}", "set") for c in range(1, 41)]
                gtopic = bridge.topic("group", "ga", "set")
                while not stop.is_set():
                    now = time.monotonic()
                    due = int((now - start) * FIXTURE_RATE)
                    while i < due:
                        ch = i % COMMANDED + 1
                        v = value(counters[ch])
                        counters[ch] += 1
                        watch.sent(ch, time.monotonic(), v)
                        pub.publish(
                            topics[ch - 1], b'{"state":"ON","brightness":%d,"transition":0}' % v
                        )
                        sent["fixture"] += 1
                        i += 1
                    gdue = int((now - start) * GROUP_RATE)
                    while g < gdue:
                        pub.publish(gtopic, b'{"state":"ON","brightness":%d}' % value(g))
                        sent["group"] += 1
                        g += 1
                    time.sleep(0.002)

            def once_a_second() -> None:
                switch = f"{prefix}/{SWITCH_TOPIC_SUFFIX}"
                while not stop.wait(1.0):
                    pub.publish(switch, "press")
                    pub.publish(switch, "release")
                    sent["switch"] += 1
                    try:
                        reply = asker.request(bridge.base_topic, "health_check", {}, timeout=5)
                        replies["ok" if reply.get("status") == "ok" else "other"] += 1
                    except TimeoutError:
                        replies["missing"] += 1
                    sent["request"] += 1
                    asker.log.clear()

            threads = [threading.Thread(target=f, daemon=True) for f in (commands, once_a_second)]
            for t in threads:
                t.start()
            begun = time.monotonic()
            rss: list[tuple[float, int]] = []
            next_sample = begun
            while (elapsed := time.monotonic() - begun) < duration:
                time.sleep(0.25)
                watch.drain()
                if time.monotonic() >= next_sample:
                    rss.append((elapsed, rss_kib(pid).get("VmRSS", 0)))
                    next_sample += 10
                    if trace and snapshots is not None and abs(elapsed - WARMUP_S) < 10:
                        os.kill(pid, 12)
                    if int(elapsed) % 60 < 10:
                        log(f"soak: {elapsed / 60:.1f} min, RSS {rss[-1][1] / 1024:.1f} MiB")
            stop.set()
            for t in threads:
                t.join(10)
            if trace:
                os.kill(pid, 12)
            settle = time.monotonic() + 3
            while time.monotonic() < settle:
                time.sleep(0.2)
                watch.drain()
            rss.append((time.monotonic() - begun, rss_kib(pid).get("VmRSS", 0)))
            restarts = metric_total(http, "tau_task_restarts_total")
            log_text = bridge.log_text()
            errors = [
                line for line in log_text.splitlines() if " ERROR " in line or "Traceback" in line
            ]
            everything.terminate()
            everything.wait(10)
            seen = seen_path.stat().st_size
            for r in (pub, asker):
                r.close()
            report(
                minutes,
                rss,
                watch,
                sent,
                replies,
                seen,
                restarts,
                errors,
                begun,
                duration,
            )
            if trace and snapshots is not None:
                time.sleep(3)
                growth(snapshots) if trace == "tracemalloc" else object_growth(snapshots)
            bench.stop_bridges()
    finally:
        bench.close()
        services.close()
    return 0


def report(
    minutes: float,
    rss: list[tuple[float, int]],
    watch: DmxWatch,
    sent: dict[str, int],
    replies: dict[str, int],
    seen: int,
    restarts: float | None,
    errors: list[str],
    begun: float,
    duration: float,
) -> None:
    def rss_at(t: float) -> float:
        best = min(rss, key=lambda s: abs(s[0] - t))
        return best[1] / 1024

    first = [lat for t, lat in watch.latencies if t - begun < 60]
    last = [lat for t, lat in watch.latencies if t - begun >= duration - 60]
    s_first, s_last = Stats.of(first), Stats.of(last)
    lost = watch.outstanding  # never at the widget, nor overtaken by a later value
    drift = s_last.p99 - s_first.p99 if s_first.p99 is not None and s_last.p99 is not None else None
    warm = rss_at(WARMUP_S)
    end = rss[-1][1] / 1024
    rows = [
        ("duration", f"{minutes:g} min"),
        ("RSS after warm-up (1 min)", f"{warm:.1f} MiB"),
    ]
    if duration >= 600:
        rows.append(("RSS at 10 min", f"{rss_at(600):.1f} MiB"))
    rows += [
        ("RSS at the end", f"{end:.1f} MiB"),
        ("RSS growth after warm-up", f"{end - warm:+.2f} MiB"),
        ("fixture commands sent / lost", f"{sent['fixture']} / {lost}"),
        (
            "overtaken (two values for one fixture in one frame: a stall ≥ 200 ms)",
            str(watch.skipped),
        ),
        ("final DMX mismatches (of 40 fixtures)", str(watch.final_mismatches)),
        (
            "group commands, switch presses, requests",
            f"{sent['group']}, {sent['switch']}, {sent['request']}",
        ),
        (
            "request replies ok / other / missing",
            f"{replies['ok']} / {replies['other']} / {replies['missing']}",
        ),
        ("messages seen on <base>/#", str(seen)),
        (
            "command → DMX p50 / p99, first minute",
            f"{fmt_ms(s_first.p50)} / {fmt_ms(s_first.p99)} ms",
        ),
        ("command → DMX p50 / p99, last minute", f"{fmt_ms(s_last.p50)} / {fmt_ms(s_last.p99)} ms"),
        ("p99 drift (last − first)", "–" if drift is None else f"{drift:+.2f} ms"),
        ("task restarts", "n/a" if restarts is None else f"{restarts:g}"),
        ("ERROR lines / tracebacks in the bridge log", str(len(errors))),
    ]
    print("\n**Tau soak**\n")
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    curve = []
    for minute in range(int(minutes) + 1):
        curve.append(f"{minute}: {rss_at(minute * 60):.1f}")
    print("\nRSS per minute (MiB): " + ", ".join(curve))
    for line in errors[:10]:
        print("bridge:", line)
    sys.stdout.flush()


def growth(directory: Path) -> None:
    import tracemalloc

    snaps = sorted(directory.glob("snap*.bin"), key=lambda p: int(p.stem[4:]))
    if len(snaps) < 2:
        print(f"tracemalloc: {len(snaps)} snapshot(s), nothing to compare")
        return
    first = tracemalloc.Snapshot.load(str(snaps[0]))
    last = tracemalloc.Snapshot.load(str(snaps[-1]))
    total = [sum(s.size for s in snap.statistics("filename")) for snap in (first, last)]
    print(f"\ntracemalloc: {total[0] / 2**20:.2f} -> {total[1] / 2**20:.2f} MiB traced")
    print("warm-up -> end, biggest growths:")
    for stat in last.compare_to(first, "traceback")[:15]:
        print(f"\n{stat.size_diff / 1024:+.1f} KiB ({stat.count_diff:+d} blocks)")
        for line in stat.traceback.format()[-12:]:
            print("   ", line)


def object_growth(directory: Path) -> None:
    found = sorted(directory.glob("objects*.json"), key=lambda p: int(p.stem[7:]))
    if len(found) < 2:
        print(f"objects: {len(found)} dump(s), nothing to compare")
        return
    first, last = (json.loads(p.read_text()) for p in (found[0], found[-1]))
    print(f"\nallocated blocks: {first['blocks']} -> {last['blocks']}")
    grown = sorted(
        ((n - first["types"].get(t, 0), t, n) for t, n in last["types"].items()), reverse=True
    )
    print("live objects by type, warm-up -> end, biggest growths:")
    for diff, name, n in grown[:15]:
        print(f"  {diff:+7d}  {name} ({n})")
    print("biggest containers at the end:")
    for kind, n, sample in last["big"]:
        print(f"  {kind} {n}: {sample}")


if __name__ == "__main__":
    sys.exit(main())
