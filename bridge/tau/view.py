"""The live terminal view of `tau run` (rich): status, problems, universes, fixtures, commands.

Only attached when stdout is a terminal. Log records and the view share one rich
`Console`: the logging handler prints through it, so `Live` puts every record
above the view instead of being painted over. The view is built to the console's
size: when it does not fit, whole sections are dropped (last the status line),
never cut in the middle. `snapshot()` reads the bridge; `render()` is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from tau.core.lights import FixtureState
from tau.core.model import Fixture, Installation

if TYPE_CHECKING:
    from tau.app import App
    from tau.controller import Bridge

BLOCKS = " ▁▂▃▄▅▆▇█"
SWATCH = "██"
MAX_COMMANDS = 5
MAX_PROBLEMS = 4
MAX_FIXTURE_ROWS = 10
TRY_LINES = 3

# Sections from the top of the view down, and the order in which they are dropped
# when the terminal is too small (first dropped first; the status line goes last).
SECTIONS = ("status", "problems", "universes", "fixtures", "commands", "try")
DROP_ORDER = ("try", "commands", "universes", "fixtures", "problems", "status")


@dataclass(frozen=True, slots=True)
class UniverseView:
    universe: int
    driver: str
    state: str
    detail: str
    levels: bytes  # the slots in use (at least 16)


@dataclass(frozen=True, slots=True)
class ViewData:
    """What the view shows, read from the bridge a few times a second."""

    broker: str
    broker_connected: bool
    database_ok: bool
    database_error: str | None = None
    queued_writes: int = 0
    universes: Sequence[UniverseView] = ()
    fixtures: Sequence[tuple[Fixture, FixtureState]] = ()  # the first ones, by address
    fixture_count: int | None = None  # all fixtures (None: as many as listed)
    groups: int = 0
    commands: Sequence[tuple[float, str, str]] = ()
    rejections: Sequence[tuple[float, str, str]] = ()
    rejected: int = 0
    try_lines: Sequence[str] = ()
    down_since: dict[str, float] = field(default_factory=dict)


def brightness_pct(brightness: int) -> int:
    return round(brightness * 100 / 255)


def fixture_state_text(fixture: Fixture, state: FixtureState) -> Text:
    """As Home Assistant shows a light: `off`, `50 %`, `50 % 2700 K`, `50 % ██ #FF5000`."""
    if not state.is_on:
        return Text("off", style="grey50")
    text = Text(f"{brightness_pct(state.brightness)} %", style="bold yellow")
    if state.color_mode == "color_temp" and state.kelvin is not None:
        text.append(f" {state.kelvin} K")
    elif state.color_mode in ("rgb", "hs", "xy") and state.color is not None:
        r, g, b = state.color
        text.append(" ")
        text.append(SWATCH, style=f"rgb({r},{g},{b})")
        text.append(f" #{r:02X}{g:02X}{b:02X}")
    return text


def level_bar(levels: bytes, width: int) -> Text:
    """One character per slot, its level as a block height; `…` when slots do not fit."""
    text = Text()
    shown = levels if len(levels) <= width else levels[: max(width - 1, 0)]
    for value in shown:
        text.append(BLOCKS[round(value * 8 / 255)], style="yellow" if value else "grey37")
    if len(shown) < len(levels):
        text.append("…", style="grey50")
    return text


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def _title(title: str, width: int) -> Text:
    head = f"── {title} "
    return Text(head + "─" * max(width - len(head), 0), style="bold")


def _fit(line: Text, width: int) -> Text:
    line.no_wrap = True
    line.truncate(width, overflow="ellipsis")
    return line


def _fixture_count(data: ViewData) -> int:
    return len(data.fixtures) if data.fixture_count is None else data.fixture_count


def _status(data: ViewData, width: int) -> list[Text]:
    """One line, most important first (a long host name cuts the counts, not the states)."""
    line = Text("Tau", style="bold")
    line.append(f" · MQTT {data.broker} ")
    if data.broker_connected:
        line.append("ok", style="green")
    else:
        line.append("unreachable", style="bold red")
    line.append(" · database ")
    if data.database_ok:
        line.append("ok", style="green")
    else:
        line.append("down", style="bold red")
    if data.rejected:
        line.append(f" · {data.rejected} rejected", style="red")
    line.append(f" · {_fixture_count(data)} fixtures, {data.groups} groups")
    return [line]


def _problems(data: ViewData, width: int, now: float) -> list[Text]:
    lines: list[Text] = []

    def since(key: str) -> str:
        at = data.down_since.get(key)
        return f" since {_clock(at)} ({round(now - at)} s)" if at is not None else ""

    if not data.broker_connected:
        lines.append(
            Text(
                f"waiting for the MQTT broker {data.broker}{since('broker')}: is it running? "
                "check TAU_MQTT__HOST/PORT and the credentials",
                style="red",
            )
        )
    if not data.database_ok:
        reason = f": {data.database_error}" if data.database_error else ""
        lines.append(
            Text(
                f"database down{since('database')}{reason}; "
                f"{data.queued_writes} state writes wait, lights keep working",
                style="red",
            )
        )
    for universe in data.universes:
        if universe.state != "ok":
            detail = f": {universe.detail}" if universe.detail else ""
            lines.append(
                Text(
                    f"universe {universe.universe} ({universe.driver}) {universe.state}{detail}",
                    style="red",
                )
            )
    room = max(MAX_PROBLEMS - len(lines), 0)
    for at, topic, reason in list(data.rejections)[-room:] if room else []:
        line = Text(f"{_clock(at)} rejected ", style="red")
        line.append(f"{topic}: {reason}")
        lines.append(line)
    if not lines:
        return []
    return [_title("Problems", width), *lines[:MAX_PROBLEMS]]


def _universes(data: ViewData, width: int) -> list[Text]:
    if not data.universes:
        return []
    lines = [_title("DMX universes (one block per slot)", width)]
    for universe in data.universes:
        head = Text(f"{universe.universe:>5} ")
        head.append(
            f"{universe.driver} {universe.state}".ljust(16),
            style="green" if universe.state == "ok" else "bold red",
        )
        head.append(" ")
        head.append_text(level_bar(universe.levels, width - len(head.plain)))
        lines.append(head)
    return lines


def _fixture_cell(fixture: Fixture, state: FixtureState, width: int) -> Text:
    """`slug  universe/channel  state`, the slug shortened (`…`) to keep the columns."""
    address = f"{fixture.universe}/{fixture.start_channel}"
    name_width = max(width - 24, 6)  # room for "1/512 " and "100 % ██ #FF5000"
    slug = fixture.slug
    if len(slug) > name_width:
        slug = slug[: name_width - 1] + "…"
    cell = Text(f"{slug:<{name_width}} {address:<6} ")
    cell.append_text(fixture_state_text(fixture, state))
    cell.truncate(width, overflow="ellipsis", pad=True)
    return cell


def _fixtures(data: ViewData, width: int) -> list[Text]:
    if not data.fixtures:
        return []
    columns = 2 if width >= 76 else 1
    cell_width = (width - 2 * (columns - 1)) // columns
    shown = list(data.fixtures)[: MAX_FIXTURE_ROWS * columns]
    rows = -(-len(shown) // columns)
    lines = [_title("Fixtures", width)]
    for row in range(rows):
        line = Text()
        for column in range(columns):
            index = column * rows + row
            if index < len(shown):
                if column:
                    line.append("  ")
                line.append_text(_fixture_cell(*shown[index], cell_width))
        line.rstrip()
        lines.append(line)
    if _fixture_count(data) > len(shown):
        more = _fixture_count(data) - len(shown)
        lines.append(Text(f"… and {more} more fixtures", style="grey50"))
    return lines


def _commands(data: ViewData, width: int) -> list[Text]:
    lines = [_title("Last commands", width)]
    recent = list(data.commands)[-MAX_COMMANDS:]
    if not recent:
        lines.append(Text("(none yet)", style="grey50"))
    for at, topic, payload in recent:
        line = Text(f"{_clock(at)} ")
        line.append(topic, style="cyan")
        line.append(f" {payload}")
        lines.append(line)
    return lines


def _try(data: ViewData, width: int) -> list[Text]:
    if not data.try_lines:
        return []
    lines = [_title("Try", width)]
    lines += [Text(line, style="cyan") for line in list(data.try_lines)[:TRY_LINES]]
    return lines


def render(data: ViewData, width: int, height: int, now: float | None = None) -> Group:
    """The view in `width` by `height` cells; sections that do not fit are left out whole."""
    now = time.time() if now is None else now
    built: dict[str, list[Text]] = {
        "status": _status(data, width),
        "problems": _problems(data, width, now),
        "universes": _universes(data, width),
        "fixtures": _fixtures(data, width),
        "commands": _commands(data, width),
        "try": _try(data, width),
    }
    for name in DROP_ORDER:
        if sum(len(lines) for lines in built.values()) <= height:
            break
        built[name] = []
    lines = [_fit(line, width) for name in SECTIONS for line in built[name]]
    return Group(*lines)


# --------------------------------------------------------------------- bridge side


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
    for line in ready_lines(app.bridge):
        print(line, flush=True)  # noqa: T201


def make_console() -> Console:
    """The one console that log records and the live view share."""
    return Console()


def attach_view(app: App, console: Console) -> None:
    """Show the live view on `console` once the app is online; stop it with the app."""

    def ready(ready_app: App) -> None:
        bridge = ready_app.bridge
        if bridge is None:
            return
        lines = ready_lines(bridge)
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
