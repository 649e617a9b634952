"""Wiring: the only module that knows every part. Starts in a fixed order, stops in reverse.

settings -> database -> outputs -> state restore (first frame) -> MQTT -> extensions
-> discovery -> scheduler. A failing core dependency stops the process with one
clear message; SIGTERM/SIGINT run the same clean path, flushing state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg

from tau.controller import Bridge, load_installation
from tau.core.bus import Bus
from tau.core.events import ChangeBatch
from tau.core.extension import Extension
from tau.core.installation import state_from_rows
from tau.core.model import Installation
from tau.core.scope import Scope
from tau.core.state import StateStore
from tau.db.connect import create_pool, redact
from tau.db.files import SEEDS_DIR
from tau.db.listener import ConfigListener
from tau.db.loader import fetch_state
from tau.db.writer import StateWriter
from tau.dmx.drivers import build_output
from tau.dmx.drivers.base import Output
from tau.dmx.render import Renderer
from tau.errors import DatabaseError, TauError
from tau.extensions import build_extensions
from tau.features.circadian.engine import CircadianClock, CircadianEngine
from tau.features.circadian.extension import CircadianTicked
from tau.http import HttpServer
from tau.metrics import Metrics
from tau.nodes.cluster import Cluster
from tau.settings import Settings, UniverseOutput, VirtualOutput
from tau.supervisor import Part, Supervisor
from tau.web.app import WebUI
from tau.web.auth import check_listen

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger("tau")

DEMO_HTTP_PORT = 8080  # `tau run --demo` (`make run`) serves the web page here


def configure_logging(level: str, console: Console | None = None) -> None:
    """Plain lines on stderr; with a `console` (the live view's), rich records through it,
    so `Live` prints each one above the view instead of being painted over."""
    if console is None:
        logging.basicConfig(
            level=level,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            stream=sys.stderr,
        )
    else:
        from rich.logging import RichHandler

        handler = RichHandler(
            console=console, show_path=False, markup=False, log_time_format="%H:%M:%S"
        )
        handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        logging.basicConfig(level=level, handlers=[handler])
    for noisy in ("apscheduler", "asyncio", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The embedded PostgreSQL and the migrations narrate every step: only when debugging.
    for chatty in ("pgserver", "alembic"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


class OutputSet:
    """Builds each universe's output once and keeps it while its configuration holds and
    this bridge owns the universe (`nodes`: several bridges share the installation)."""

    def __init__(self, settings: Settings, nodes: Cluster | None = None) -> None:
        self._settings = settings
        self._nodes = nodes
        self._built: dict[int, tuple[UniverseOutput, Output]] = {}

    def __call__(self, inst: Installation) -> dict[int, Output]:
        configured = self._settings.dmx.universes
        wanted: dict[int, UniverseOutput] = dict(configured)
        for universe in inst.universes - set(configured):
            wanted[universe] = VirtualOutput()
        if self._nodes is not None:
            owned = self._nodes.owned
            wanted = {u: c for u, c in wanted.items() if u in owned}
        outputs: dict[int, Output] = {}
        for universe, config in sorted(wanted.items()):
            built = self._built.get(universe)
            if built is None or built[0] != config:
                output = build_output(
                    universe, config, self._settings.dmx.fps, self._settings.node.name
                )
                if self._nodes is not None:
                    output.send_until = functools.partial(self._nodes.deadline, universe)
                built = (config, output)
                self._built[universe] = built
            outputs[universe] = built[1]
        for universe in set(self._built) - set(wanted):
            _config, output = self._built.pop(universe)
            # Given up to another bridge (not reconfigured): receivers keep the last look.
            output.handing_over = universe in configured or universe in inst.universes
        return outputs

    def hand_over(self) -> None:
        """A clean stop with standbys: let receivers hold the look until one takes over."""
        if self._nodes is None:
            return
        for universe, (_config, output) in self._built.items():
            if self._nodes.deadline(universe) is not None:
                output.handing_over = True


async def load_demo(pool: asyncpg.Pool) -> bool:
    """Load the seed installation once, into an empty database."""
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT count(*) FROM fixture_models"):
            return False
        async with conn.transaction():
            for path in sorted(SEEDS_DIR.glob("0*.sql")):
                await conn.execute(path.read_text())
    log.info("event=demo_loaded seeds=%s", SEEDS_DIR)
    return True


def web_site(
    settings: Settings,
    bridge: Bridge,
    bus: Bus,
    circadian: CircadianEngine,
    now: Callable[[], Any],
    database_url: str,
) -> WebUI:
    """The web page on the HTTP listener; what it says about the bridge holds no secret."""
    mqtt = settings.mqtt
    scheme = "mqtts" if mqtt.tls is not None else "mqtt"

    def about() -> dict[str, Any]:
        return {
            **bridge.status.info(),
            "broker_url": f"{scheme}://{mqtt.host}:{mqtt.port}",
            "database_url": redact(database_url),
        }

    return WebUI(settings, bridge, bus, circadian, now, about)


class App:
    def __init__(self, settings: Settings, demo: bool = False) -> None:
        self.settings = settings
        self.demo = demo
        self.stopping = asyncio.Event()
        self.bridge: Bridge | None = None
        self.on_ready: Callable[[App], None] | None = None
        self._cleanup: list[tuple[str, Callable[[], Any]]] = []
        self.metrics = Metrics()
        self.http: HttpServer | None = None
        self._ready_task: asyncio.Task[None] | None = None
        self.supervisor: Supervisor | None = None
        self._universes_seen: set[int] = set()  # labels of tau_universe_owned

    def _refresh_gauges(self) -> None:
        bridge = self.bridge
        if bridge is None:
            return
        self.metrics.db_queue.set(bridge.writer.queued)
        self.metrics.mqtt_connected.set(bridge.session.connected.is_set())
        self.metrics.mqtt_queued.set(bridge.session.queued)
        for universe, status in bridge.renderer.status().items():
            self.metrics.output_errors.labels(str(universe)).set(status["state"] == "ok")
        node = bridge.node_health()
        self.metrics.node_leader.set(node["leader"])
        owned = set(node["owned"])
        self._universes_seen |= owned | set(node["standby"])
        for universe in self._universes_seen:  # one given up reads 0 again
            self.metrics.universe_owned.labels(str(universe)).set(universe in owned)

    async def _database_url(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        from tau.db.migrate import upgrade_head
        from tau.embedded import embedded_database_url, stop_embedded_database

        self._cleanup.append(
            ("embedded database", lambda: asyncio.to_thread(stop_embedded_database, self.settings))
        )
        url = await asyncio.to_thread(embedded_database_url, self.settings)
        log.info("event=migrations_running")
        await asyncio.to_thread(upgrade_head, url)
        return url

    async def _broker(self) -> None:
        if not self.demo:
            return
        from tau.embedded import AMQTT_NOTE, data_directory, ensure_broker

        workdir = data_directory(self.settings) / "mosquitto"
        broker = await ensure_broker(self.settings.mqtt, workdir=workdir)
        if broker is not None:
            self._cleanup.append(("embedded broker", broker.stop))
            log.info(
                "event=embedded_broker_started broker=%s host=127.0.0.1 port=%d%s",
                broker.kind,
                broker.port,
                f" note={AMQTT_NOTE!r}" if broker.kind == "amqtt" else "",
            )

    @property
    def http_port(self) -> int | None:
        """The web page's port: the setting, else 8080 for the demo, else none."""
        port = self.settings.http.port
        return DEMO_HTTP_PORT if port is None and self.demo else port

    async def run(self) -> int:
        http = self.settings.http
        if self.http_port is not None:  # before anything starts: one line
            check_listen(http.host, http.password.get_secret_value() if http.password else None)
        if self.settings.database_url is None:
            from tau.embedded import lock_data_directory

            # Before anything is said or started: a second Tau gets one line and exit 2.
            lock = lock_data_directory(self.settings)
            self._cleanup.append(("data directory lock", lock.release))
        if self.http_port is not None:
            host = f"[{http.host}]" if ":" in http.host else http.host
            log.info("event=starting web=http://%s:%d/", host, self.http_port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.stopping.set)
        try:
            await self._start()
            await self.stopping.wait()
        except TauError:
            if not self.stopping.is_set():
                raise
            # Asked to stop while still starting (e.g. waiting for the database): a clean stop.
            log.info("event=stopped_while_starting")
        finally:
            await self._stop()
        return 0

    async def _start(self) -> None:
        s = self.settings
        url = await self._database_url()
        log.info("event=database_connecting url=%s", redact(url))
        pool = await create_pool(url, retry=True, stopping=self.stopping)
        self._cleanup.append(("database pool", pool.close))
        if self.demo:
            await load_demo(pool)
        await self._broker()
        try:
            async with pool.acquire() as conn:
                inst = await load_installation(conn)
                stored_fixtures, stored_groups = state_from_rows(*await fetch_state(conn))
        except asyncpg.UndefinedTableError as exc:
            raise DatabaseError(
                f"{redact(url)} has no Tau schema ({exc}): run `tau db upgrade`"
            ) from None

        metrics = self.metrics
        # Every long-running task from here on is a part of this one supervisor.
        supervisor = Supervisor(
            lambda part: metrics.task_restarts.labels(part).inc(),
            restart_delay_s=s.supervisor.restart_delay_s,
        )
        await supervisor.start()
        self.supervisor = supervisor
        self._cleanup.append(("supervisor", supervisor.stop))
        clock = CircadianClock(settable=s.circadian.clock_control)
        circadian = CircadianEngine(clock.now, s.location, s.circadian.tick_seconds)
        bus = Bus()
        renderer = Renderer({}, s.dmx.fps)  # its outputs once the leases are known
        store = StateStore(s.default_transition, live=renderer.live, circadian=circadian, bus=bus)
        store.set_installation(inst, stored_fixtures, stored_groups)
        # Leases before the first frame: this bridge sends only the universes it owns.
        nodes = Cluster(
            url,
            s.node.name,
            {u: c.driver for u, c in s.dmx.universes.items()},
            lambda: store.installation.universes,
            lease_s=s.node.lease_s,
            http=f"{s.http.host}:{s.http.port}" if s.http.port is not None else None,
        )
        await nodes.start(supervisor.task)
        self._cleanup.append(("node leases", nodes.stop))
        outputs = OutputSet(s, nodes)
        scope = Scope(lambda: store.installation)

        def db_batch(seconds: float, rows: int) -> None:
            metrics.db_batch.observe(seconds)
            metrics.db_rows.inc(rows)

        writer = StateWriter(pool, store.fixtures, store.groups, s.state_flush_ms, db_batch)
        bus.subscribe(
            CircadianTicked, "metrics", lambda tick: metrics.circadian_tick.set(tick.duration_s)
        )
        bridge = Bridge(
            s,
            pool,
            store,
            renderer,
            writer,
            bus,
            lambda ctx, host: build_extensions(ctx, host, circadian, clock),
            outputs,
            metrics,
            scope,
            nodes,
            supervisor,
        )
        self.bridge = bridge
        bridge.nodes_changed(nodes.owned, nodes.leader)
        nodes.add_listener(bridge.nodes_changed)

        # Restore before the first frame: no flash to black on a restart.
        bridge.adopt(inst, first=True)
        renderer.apply(store.restore_targets())
        await renderer.start(supervisor.task)

        async def stop_renderer() -> None:
            outputs.hand_over()
            await renderer.stop()

        self._cleanup.append(("renderer", stop_renderer))

        def to_renderer(batch: ChangeBatch) -> None:
            if batch.targets:
                started = time.monotonic()
                metrics.batch_applied(renderer.apply(batch.targets), started)

        renderer.add_frame_listener(metrics.frame_sent)
        bus.subscribe(ChangeBatch, "renderer", to_renderer)
        bus.subscribe(ChangeBatch, "mqtt", scope.narrowed(bridge.state_publisher))
        bus.subscribe(ChangeBatch, "database", scope.narrowed(writer))
        await writer.start(supervisor.task)
        self._cleanup.append(("state writer", writer.stop))

        await bridge.start()
        self._cleanup.append(("mqtt", bridge.stop))
        listener = ConfigListener(url, bridge.reload)
        await listener.start(supervisor.task)
        self._cleanup.append(("config listener", listener.stop))
        for extension in bridge.extensions:
            try:
                await extension.start()
            except Exception:  # an optional feature: say so, run without it
                log.exception("event=extension_start_failed extension=%s", extension.name)
                continue
            part = None
            if type(extension).run is not Extension.run:
                part = supervisor.spawn(extension.name, extension.run)

            async def stop_extension(ext: Extension = extension, part: Part | None = part) -> None:
                await supervisor.stop_part(part)
                await ext.stop()

            self._cleanup.append((extension.name, stop_extension))
        if self.http_port is not None:
            site = web_site(s, bridge, bus, circadian, clock.now, url)
            http = HttpServer(
                s.http.host, self.http_port, bridge.health, metrics, self._refresh_gauges, site
            )
            try:
                await http.start()
            except OSError as exc:
                if s.http.port is not None:
                    raise TauError(
                        f"cannot listen on {s.http.host}:{s.http.port} ({exc.strerror}): "
                        "free the port or set TAU_HTTP__PORT"
                    ) from None
                # The demo's default port is taken (another program): any free port will do.
                log.warning("event=http_port_taken port=%d using=any", self.http_port)
                http = HttpServer(
                    s.http.host, 0, bridge.health, metrics, self._refresh_gauges, site
                )
                await http.start()
            self.http = http
            self._cleanup.append(("http", http.stop))
        # The installation, patch and state now live as long as the process: move them out
        # of the collector's generations, so a full collection under load does not scan
        # (and stall the loop for) tens of thousands of long-lived objects.
        gc.collect()
        gc.freeze()
        log.info(
            "event=started fixtures=%d groups=%d universes=%s",
            len(inst.fixtures),
            len(inst.groups),
            sorted(inst.universes),
        )
        if self.on_ready is not None:
            on_ready = self.on_ready

            async def when_online() -> None:
                await bridge.session.online.wait()
                on_ready(self)

            self._ready_task = asyncio.create_task(when_online(), name="on-ready")

    async def _stop(self) -> None:
        for name, stop in reversed(self._cleanup):
            try:
                result = stop()
                if asyncio.iscoroutine(result):
                    await asyncio.wait_for(result, timeout=15)
            except Exception:
                log.exception("event=stop_failed part=%s", name)
        self._cleanup.clear()
        log.info("event=stopped")
