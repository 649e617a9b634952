"""The live terminal view of `tau run` (rich): universes as level bars, fixtures, last commands.

Only attached when stdout is a terminal; logs keep going to stderr. It reads
the renderer and the store a few times a second and never writes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from tau.app import App
    from tau.bridge import Bridge

BLOCKS = " ▁▂▃▄▅▆▇█"


def level_bar(frame: bytes, used: int) -> Text:
    """One character per slot: the slot's level as a block height."""
    text = Text()
    for value in frame[: max(used, 16)]:
        text.append(BLOCKS[round(value * 8 / 255)], style="yellow" if value else "grey37")
    return text


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


def render(bridge: Bridge) -> Group:
    inst = bridge.store.installation
    renderer = bridge.renderer
    universes = Table(title="DMX universes", expand=True, show_edge=False)
    universes.add_column("univ", justify="right")
    universes.add_column("output")
    universes.add_column("levels (one block per slot)")
    status = renderer.status()
    for universe in sorted(status):
        used = max(
            (
                f.start_channel + f.model.footprint - 1
                for f in inst.fixtures.values()
                if f.universe == universe
            ),
            default=16,
        )
        st = status[universe]
        colour = "green" if st["state"] == "ok" else "red"
        universes.add_row(
            str(universe),
            Text(f"{st['driver']} {st['state']}", style=colour),
            level_bar(renderer.frame(universe), used),
        )
    fixtures = Table(title="Fixtures", expand=True, show_edge=False)
    for col in ("fixture", "univ/ch", "state", "level", "colour"):
        fixtures.add_column(col)
    for fixture in sorted(inst.fixtures.values(), key=lambda f: (f.universe, f.start_channel))[:30]:
        s = bridge.store.fixture(fixture.id)
        colour = f"{s.kelvin} K" if s.color_mode == "color_temp" else str(s.color or "")
        fixtures.add_row(
            fixture.slug,
            f"{fixture.universe}/{fixture.start_channel}",
            Text("ON", style="bold yellow") if s.is_on else Text("off", style="grey50"),
            f"{round(s.brightness * 100 / 255)} %",
            colour,
        )
    recent = Text()
    for at, topic, payload in bridge.recent[-8:]:
        recent.append(f"{time.strftime('%H:%M:%S', time.localtime(at))} {topic} {payload}\n")
    tries = Text("\n".join(try_lines(bridge)), style="cyan")
    return Group(
        universes,
        fixtures,
        Panel(recent or Text("(none yet)"), title="Last commands"),
        Panel(tries, title="Try"),
    )


def print_try_lines(app: App) -> None:
    """Plain mode: say how to try it, on stdout, once the bridge is online."""
    if app.bridge is None:
        return
    print("Tau is ready. Try:", flush=True)  # noqa: T201
    for line in try_lines(app.bridge):
        print(f"  {line}", flush=True)  # noqa: T201


def attach_view(app: App) -> None:
    """Show the live view once the app is ready; stop it with the app."""
    console = Console()

    def ready(ready_app: App) -> None:
        bridge = ready_app.bridge
        if bridge is None:
            return
        console.print("[bold green]Tau is online.[/] Try:")
        for line in try_lines(bridge):
            console.print(f"  {line}", markup=False, highlight=False)
        asyncio.get_running_loop().create_task(_live(console, bridge, ready_app.stopping))

    app.on_ready = ready


async def _live(console: Console, bridge: Bridge, stopping: asyncio.Event) -> None:
    with Live(render(bridge), console=console, refresh_per_second=4, screen=False) as live:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 0.25)
            live.update(render(bridge))
