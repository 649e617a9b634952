"""Shared harness: services, bridges, fast MQTT clients, statistics and the report.

Every scenario gets a `Bench` and returns `Row`s. Services are resolved like the
test suite does (`TAU_TEST_DATABASE_URL` / `TAU_TEST_MQTT_URL`, else the local
defaults, else throwaway processes), each bridge runs on a fresh database with
its own base topic, and everything a scenario started is stopped and dropped
(retained messages included) when it ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python -m bench` from elsewhere still finds testkit
    sys.path.insert(0, str(REPO))

from testkit.bridge import BridgeProcess  # noqa: E402
from testkit.services import (  # noqa: E402
    MqttServer,
    OwnedBroker,
    OwnedPostgres,
    choose_mqtt,
    choose_postgres,
    redact_url,
)

from bench.profile import Profiler  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"


# ---------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Stats:
    """Latency summary in milliseconds."""

    n: int
    p50: float | None
    p99: float | None
    max: float | None
    mean: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        ms = [s * 1000 for s in seconds]
        mean = sum(ms) / len(ms) if ms else None
        return cls(len(ms), percentile(ms, 50), percentile(ms, 99), max(ms, default=None), mean)


# -------------------------------------------------------------------------- report


@dataclass(slots=True)
class Row:
    """One line of the table. Latencies in ms; `met` None means no target applies."""

    scenario: str
    metric: str
    p50: float | None = None
    p99: float | None = None
    max: float | None = None
    throughput: str = ""
    vs_baseline: str = ""
    target: str = ""
    met: bool | None = None
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def latency(cls, scenario: str, metric: str, stats: Stats, **kw: Any) -> Row:
        return cls(scenario, metric, stats.p50, stats.p99, stats.max, **kw)


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def versus(stats: Stats, baseline: Stats | None) -> tuple[str, dict[str, Any]]:
    """Added p50 / p99 latency over the baseline and the ratios, as text and figures."""
    if baseline is None or baseline.p50 is None or stats.p50 is None:
        return "", {}
    assert baseline.p99 is not None
    assert stats.p99 is not None
    added = {"added_p50_ms": stats.p50 - baseline.p50, "added_p99_ms": stats.p99 - baseline.p99}
    ratio = {
        "ratio_p50": stats.p50 / baseline.p50 if baseline.p50 else None,
        "ratio_p99": stats.p99 / baseline.p99 if baseline.p99 else None,
    }
    text = f"+{added['added_p50_ms']:.2f} / +{added['added_p99_ms']:.2f} ms"
    if ratio["ratio_p50"] and ratio["ratio_p99"]:
        text += f" (×{ratio['ratio_p50']:.1f} / ×{ratio['ratio_p99']:.1f})"
    return text, {**added, **ratio}


def markdown(rows: Sequence[Row]) -> str:
    head = ["scenario", "metric", "p50 ms", "p99 ms", "max ms", "throughput"]
    head += ["vs baseline (added p50/p99, ratio)", "target", "met?", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        met = {True: "yes", False: "**NO**", None: "–"}[r.met]
        cells = [r.scenario, r.metric, fmt_ms(r.p50), fmt_ms(r.p99), fmt_ms(r.max)]
        cells += [r.throughput, r.vs_baseline, r.target, met, r.notes.replace("|", "/")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    commit, dirty = "unknown", False
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(REPO), "status", "--porcelain", "--", "bridge"],
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout.strip()
        )
    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio"
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "bridge_dirty": dirty,
        "event_loop": loop,
        "mosquitto": _mosquitto_version(),
    }


def _mosquitto_version() -> str | None:
    if not shutil.which("mosquitto"):
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["mosquitto", "-h"], capture_output=True, text=True, check=False, timeout=5
        )
        return (out.stdout or out.stderr).splitlines()[0]
    return None


def write_results(
    rows: Sequence[Row], info: Mapping[str, Any], options: Mapping[str, Any], out_dir: Path
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = out_dir / f"{stamp}.json"
    body = {
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": dict(info),
        "options": dict(options),
        "markdown": markdown(rows),
        "rows": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path


# ------------------------------------------------------------------------ services


class Services:
    """PostgreSQL and the broker, resolved like the test suite; throwaway ones are closed."""

    def __init__(self) -> None:
        self._owned: list[OwnedPostgres | OwnedBroker] = []
        pg = choose_postgres()
        if pg.url is None:
            cluster = OwnedPostgres(name="tau-bench-pg")
            cluster.start()
            self._owned.append(cluster)
            self.pg_admin_url = cluster.url
            self.pg_source = "throwaway"
        else:
            self.pg_admin_url = pg.url
            self.pg_source = pg.source
        mqtt = choose_mqtt()
        if mqtt is None:
            broker = OwnedBroker(name="tau-bench-mqtt")
            broker.start()
            self._owned.append(broker)
            mqtt = broker.server
        self.mqtt: MqttServer = mqtt

    def describe(self) -> dict[str, str]:
        return {
            "postgres": f"{redact_url(self.pg_admin_url)} ({self.pg_source})",
            "mqtt": self.mqtt.describe(),
        }

    def close(self) -> None:
        for owned in reversed(self._owned):
            with contextlib.suppress(Exception):
                owned.close()


def run_async(coro: Any, timeout: float = 600) -> Any:
    """Run a coroutine to completion on a private loop in a worker thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout)


# ------------------------------------------------------------------------ MQTT


class Recorder:
    """A paho client that records (monotonic time, topic, payload) for every message.

    Deliberately lighter than the tests' MqttProbe: floods of thousands of state
    messages per second must not make the measuring client the bottleneck.
    """

    def __init__(self, server: MqttServer, name: str = "rec") -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-{name}-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv311,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.server = server
        self.log: list[tuple[float, str, bytes, bool]] = []
        self._cond = threading.Condition()
        self._acks: set[int] = set()
        self._connected = threading.Event()
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.listeners: list[Callable[[float, str, bytes], None]] = []

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        now = time.monotonic()
        entry = (now, msg.topic, bytes(msg.payload), bool(msg.retain))
        self.log.append(entry)
        for listener in self.listeners:
            listener(now, msg.topic, entry[2])
        with self._cond:
            self._cond.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, *_a: Any) -> None:
        with self._cond:
            self._acks.add(mid)
            self._cond.notify_all()

    def connect(self, timeout: float = 10) -> Recorder:
        self.client.connect(self.server.host, self.server.port, keepalive=60)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise TimeoutError(f"no CONNACK from {self.server.url}")
        return self

    def subscribe(self, pattern: str, qos: int = 0, timeout: float = 10) -> None:
        rc, mid = self.client.subscribe(pattern, qos)
        if rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"subscribe {pattern!r}: {paho.error_string(rc)}")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acks, timeout):
                raise TimeoutError(f"no SUBACK for {pattern!r}")

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> Any:
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def request(self, base: str, name: str, body: Mapping[str, Any], timeout: float = 30) -> Any:
        """A bridge request; returns the decoded response (subscribes on first use)."""
        response = f"{base}/bridge/response/{name}"
        if response not in getattr(self, "_responses", set()):
            self.subscribe(response, qos=1)
            self._responses = {*getattr(self, "_responses", set()), response}
        transaction = uuid.uuid4().hex[:12]
        start = len(self.log)
        self.publish(
            f"{base}/bridge/request/{name}", json.dumps({**body, "transaction": transaction})
        )
        found: list[Any] = []

        def ready() -> bool:
            for _t, topic, payload, _r in self.log[start:]:
                if topic == response:
                    with contextlib.suppress(ValueError):
                        data = json.loads(payload)
                        if data.get("transaction") == transaction:
                            found.append(data)
                            return True
            return False

        if not self.wait(ready, timeout):
            raise TimeoutError(f"no response to {name} within {timeout} s")
        return found[0]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


def clear_retained(server: MqttServer, prefixes: Sequence[str], settle: float = 0.5) -> int:
    """Delete every retained message under `prefixes` (the local broker persists them)."""
    rec = Recorder(server, "clear").connect()
    try:
        for prefix in prefixes:
            rec.subscribe(f"{prefix}/#", qos=0)
        count = -1
        while count != len(rec.log):
            count = len(rec.log)
            time.sleep(settle)
        topics = {t for _, t, p, retained in rec.log if retained and p}
        infos = [rec.publish(t, b"", qos=1, retain=True) for t in sorted(topics)]
        for info in infos:
            info.wait_for_publish(10)
        return len(topics)
    finally:
        rec.close()


# ---------------------------------------------------------------------------- bench


@dataclass(slots=True)
class Options:
    quick: bool = False
    samples: int | None = None
    only: tuple[str, ...] = ()
    results_dir: Path = RESULTS_DIR
    event_loop: str = "default"  # "asyncio" hides uvloop from the bridge
    keep: bool = False
    profile: bool = False  # sample every bridge with py-spy (bench/profile.py)


class Bench:
    """What a scenario gets: options, services, the baseline, fresh databases and bridges."""

    def __init__(self, options: Options, services: Services) -> None:
        self.options = options
        self.services = services
        self.baseline: Stats | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="tau-bench-"))
        self._databases: list[str] = []
        self._bridges: list[BridgeProcess] = []
        self._no_uvloop: Path | None = None
        self.scenario = ""
        self.profiler = Profiler(self.tmp) if options.profile else None

    @property
    def quick(self) -> bool:
        return self.options.quick

    @property
    def mqtt(self) -> MqttServer:
        return self.services.mqtt

    def samples(self, full: int, quick: int) -> int:
        if self.options.samples is not None:
            return self.options.samples
        return quick if self.quick else full

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%X')}] {message}", file=sys.stderr, flush=True)

    # -- databases

    def database(self, seeds: bool = False) -> str:
        """A fresh database with the Tau schema (and the demo home with `seeds`); dropped
        at the end."""
        name = f"tau_bench_{uuid.uuid4().hex[:10]}"
        try:
            from testkit.db import create_database
        except ImportError:  # the suite's helper is optional: init.sql is the schema
            create_database = _create_from_init_sql
        self._databases.append(name)
        return create_database(self.services.pg_admin_url, name, schema=True, seeds=seeds)

    def _drop_databases(self) -> None:
        admin = self.services.pg_admin_url

        async def drop(names: list[str]) -> None:
            conn = await asyncpg.connect(admin, timeout=10)
            try:
                for name in names:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        if self._databases and not self.options.keep:
            with contextlib.suppress(Exception):
                run_async(drop(self._databases), 60)
        self._databases.clear()

    # -- bridges

    def bridge(
        self,
        database_url: str,
        *,
        universes: Mapping[str, Mapping[str, Any]] | None = None,
        fps: float | None = None,
        default_transition: float | None = 0,
        env: Mapping[str, str] | None = None,
        start: bool = True,
        wait_online: bool = True,
        timeout: float = 60,
    ) -> BridgeProcess:
        bridge = BridgeProcess(
            database_url=database_url,
            mqtt=self.mqtt,
            log_dir=self.tmp,
            universes=universes,
            fps=fps,
            default_transition=default_transition,
            env={**self.bridge_env(), **(env or {})},
            name=f"bridge{len(self._bridges) + 1}",
        )
        self.adopt(bridge)
        if start:
            bridge.start()
            if wait_online:
                bridge.wait_online(timeout)
            self.profile(bridge)
        return bridge

    def bridge_env(self) -> dict[str, str]:
        """The environment every bench bridge runs with (quiet log, the chosen event loop)."""
        return {"TAU_LOG_LEVEL": "WARNING", **self._loop_env()}

    def adopt(self, bridge: BridgeProcess) -> None:
        """A bridge built elsewhere (testkit.cluster) that `stop_bridges` stops and clears."""
        self._bridges.append(bridge)

    def profile(self, bridge: BridgeProcess) -> None:
        """With `--profile`, sample `bridge` until the scenario stops it (call after a
        deferred `start()`)."""
        if self.profiler is not None and bridge.pid is not None:
            self.profiler.attach(f"{self.scenario}-{bridge.name}", bridge.pid)

    def _loop_env(self) -> dict[str, str]:
        # BENCH_BRIDGE_PYTHONPATH: a directory (e.g. with a sitecustomize.py) put first on
        # the bridge's path, to try a change to the bridge without editing it.
        extra = os.environ.get("BENCH_BRIDGE_PYTHONPATH", "")
        if self.options.event_loop != "asyncio":
            if not extra:
                return {}
            parts = [extra, str(REPO / "bridge"), os.environ.get("PYTHONPATH", "")]
            return {"PYTHONPATH": os.pathsep.join(p for p in parts if p)}
        if self._no_uvloop is None:
            self._no_uvloop = self.tmp / "no-uvloop"
            self._no_uvloop.mkdir()
            (self._no_uvloop / "uvloop.py").write_text(
                'raise ImportError("uvloop hidden by the bench (--loop asyncio)")\n'
            )
        parts = [
            extra,
            str(self._no_uvloop),
            str(REPO / "bridge"),
            os.environ.get("PYTHONPATH", ""),
        ]
        return {"PYTHONPATH": os.pathsep.join(p for p in parts if p)}

    def stop_bridges(self) -> None:
        """Stop every bridge and clear what they retained on the broker."""
        if self.profiler is not None:
            self.profiler.detach_all()
        for bridge in self._bridges:
            with contextlib.suppress(Exception):
                bridge.close()
        prefixes = [p for b in self._bridges for p in (b.base_topic, b.discovery_prefix)]
        if prefixes:
            with contextlib.suppress(Exception):
                clear_retained(self.mqtt, prefixes)
        self._bridges.clear()

    def recorder(self, name: str = "rec") -> Recorder:
        return Recorder(self.mqtt, name).connect()

    def cleanup(self) -> None:
        self.stop_bridges()
        self._drop_databases()

    def close(self) -> None:
        self.cleanup()
        if not self.options.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _create_from_init_sql(admin_url: str, name: str, *, schema: bool, seeds: bool) -> str:
    async def create() -> None:
        admin = await asyncpg.connect(admin_url, timeout=10)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        if schema:
            conn = await asyncpg.connect(url, timeout=10)
            try:
                await conn.execute((REPO / "database" / "init.sql").read_text())
            finally:
                await conn.close()

    parts = urlsplit(admin_url)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    run_async(create(), 120)
    return url


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process in KiB, from /proc."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                out[key] = int(value.split()[0])
    return out


@contextlib.contextmanager
def stage(bench: Bench, what: str) -> Iterator[None]:
    started = time.monotonic()
    bench.log(f"{what} …")
    yield
    bench.log(f"{what} done in {time.monotonic() - started:.1f} s")
