"""The live terminal view of `tau run` (rich): status, problems, universes, fixtures, commands.

Only attached when stdout is a terminal. Log records and the view share one rich
`Console`: the logging handler prints through it, so `Live` puts every record
above the view instead of being painted over. The view is built to the console's
size: when it does not fit, whole sections are dropped (last the status line),
never cut in the middle. `snapshot()` reads the bridge; `render.render()` draws it, pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live

from tau.core.model import Installation

if TYPE_CHECKING:
    from tau.app import App
    from tau.controller import Bridge

from tau.view.render import (
    MAX_FIXTURE_ROWS,
    UniverseView,
    ViewData,
    render,
)


def try_lines(bridge: Bridge) -> list[str]:
    inst = bridge.store.installation
    host = bridge.settings.mqtt.host
    port = bridge.settings.mqtt.port
    lines = []
    for slug in sorted(inst.group_by_slug)[:3]:
        topic = bridge.topics.group(slug) + "/set"
        lines.append(f"mosquitto_pub -h {host} -p {port} -t {topic} -m ON")
    if inst.group_by_slug:
        topic = bridge.topics.group(sorted(inst.group_by_slug)[0]) + "/set"
        lines.append(
            f"mosquitto_pub -h {host} -p {port} -t {topic} "
            """-m '{"brightness_pct": 40, "color_temp_kelvin": 2700, "transition": 2}'"""
        )
    return lines


def empty_lines(bridge: Bridge) -> list[str]:
    """What to do when the installation has no fixtures yet: add some, with bridge requests."""
    host = bridge.settings.mqtt.host
    port = bridge.settings.mqtt.port
    request = bridge.topics.request("fixture/add")
    model = min(bridge.store.installation.fixture_models.values(), key=lambda m: m.id, default=None)
    model_ref = f"{model.manufacturer} {model.model}" if model else "<fixture model>"
    return [
        f"mosquitto_pub -h {host} -p {port} -t {request} -m "
        f"""'{{"name": "Desk lamp", "slug": "desk-lamp", "model": "{model_ref}", """
        """"universe": 1, "start_channel": 1}'""",
        "(README: From the demo to your home)",
    ]


def ready_lines(bridge: Bridge) -> list[str]:
    """The lines printed once the bridge is online: how to try it, or how to begin."""
    inst = bridge.store.installation
    if not inst.fixtures:
        if not inst.fixture_models:
            return [
                "Tau is ready. The database has no fixture models yet: load the catalogue with "
                "`tau db seed` (or try the demo: `tau run --demo` on an empty database).",
                "Then add fixtures and groups (README: From the demo to your home).",
            ]
        return [
            "Tau is ready. The installation is empty: add a fixture with a bridge request, e.g.",
            *(f"  {line}" for line in empty_lines(bridge)),
        ]
    return ["Tau is ready. Try:", *(f"  {line}" for line in try_lines(bridge))]


class _Layout:
    """Per installation (immutable, swapped on reload): the fixtures the view can list,
    by address, and the slots in use per universe. Computed once, not 4 times a second."""

    def __init__(self, inst: Installation) -> None:
        self.installation = inst
        self.first = heapq.nsmallest(
            MAX_FIXTURE_ROWS * 2,
            inst.fixtures.values(),
            key=lambda f: (f.universe, f.start_channel),
        )
        self.used: dict[int, int] = {}
        for f in inst.fixtures.values():
            last = f.start_channel + f.model.footprint - 1
            self.used[f.universe] = max(self.used.get(f.universe, 16), last)


_layouts: dict[int, _Layout] = {}


def _layout(inst: Installation) -> _Layout:
    layout = _layouts.get(id(inst))
    if layout is None or layout.installation is not inst:
        _layouts.clear()
        layout = _layouts[id(inst)] = _Layout(inst)
    return layout


def snapshot(bridge: Bridge, down: DownTimes | None = None) -> ViewData:
    inst = bridge.store.installation
    layout = _layout(inst)
    renderer = bridge.renderer
    health = bridge.health()
    universes = []
    for universe, status in sorted(renderer.status().items()):
        detail = status.get("last_error") or status.get("detail") or ""
        universes.append(
            UniverseView(
                universe,
                str(status["driver"]),
                str(status["state"]),
                str(detail),
                renderer.frame(universe)[: layout.used.get(universe, 16)],
            )
        )
    database = health["database"]
    mqtt = bridge.settings.mqtt
    broker_connected = health["broker"]["status"] == "connected"
    database_ok = database["status"] == "ok"
    return ViewData(
        broker=f"{mqtt.host}:{mqtt.port}",
        broker_connected=broker_connected,
        database_ok=database_ok,
        database_error=database.get("last_error"),
        queued_writes=int(database.get("queued_writes") or 0),
        universes=universes,
        fixtures=[(f, bridge.store.fixture(f.id)) for f in layout.first],
        fixture_count=len(inst.fixtures),
        groups=len(inst.groups),
        commands=list(bridge.recent),
        rejections=list(bridge.rejections),
        rejected=bridge.rejected,
        try_lines=try_lines(bridge) if inst.fixtures else empty_lines(bridge),
        down_since=down.update(broker_connected, database_ok) if down else {},
    )


class DownTimes:
    """Remembers since when the broker and the database have been unreachable."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.since: dict[str, float] = {}

    def update(self, broker_connected: bool, database_ok: bool) -> dict[str, float]:
        for key, ok in (("broker", broker_connected), ("database", database_ok)):
            if ok:
                self.since.pop(key, None)
            elif key not in self.since:
                self.since[key] = self._clock()
        return dict(self.since)


def print_try_lines(app: App) -> None:
    """Plain mode: say how to try it (or how to begin), on stdout, once the bridge is online."""
    if app.bridge is None:
        return
    for line in ready_lines(app.bridge) + web_lines(app):
        print(line, flush=True)  # noqa: T201


def web_lines(app: App) -> list[str]:
    """Where the web page is (README "Web"), when the bridge serves it."""
    return [f"Web page: {app.http.url}"] if app.http is not None else []


def make_console() -> Console:
    """The one console that log records and the live view share."""
    return Console()


def attach_view(app: App, console: Console) -> None:
    """Show the live view on `console` once the app is online; stop it with the app."""

    def ready(ready_app: App) -> None:
        bridge = ready_app.bridge
        if bridge is None:
            return
        lines = ready_lines(bridge) + web_lines(ready_app)
        console.print(lines[0], style="bold green", markup=False, highlight=False)
        for line in lines[1:]:
            console.print(line, markup=False, highlight=False)
        asyncio.get_running_loop().create_task(_live(console, bridge, ready_app.stopping))

    app.on_ready = ready


def live_renderable(console: Console, bridge: Bridge, down: DownTimes) -> Callable[[], Group]:
    def build() -> Group:
        # One line less than the screen: the cursor sits below the view.
        return render(snapshot(bridge, down), console.width, max(console.height - 1, 1))

    return build


async def _live(console: Console, bridge: Bridge, stopping: asyncio.Event) -> None:
    build = live_renderable(console, bridge, DownTimes())
    with Live(console=console, get_renderable=build, refresh_per_second=4, screen=False):
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
