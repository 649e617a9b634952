"""The live view's picture, pure: `ViewData` in, a rich `Group` sized to the terminal out.

When the view does not fit, whole sections are dropped (`DROP_ORDER`, last the
status line), never cut in the middle. `tau.view` fills `ViewData` from the bridge.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Group
from rich.text import Text

from tau.colours import COLOUR_KEYS
from tau.core.lights import FixtureState
from tau.core.model import Fixture

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
    elif state.color_mode in COLOUR_KEYS and state.color is not None:
        r, g, b = state.color[:3]
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
