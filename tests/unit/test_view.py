"""The live view, rendered to a fixed-size rich console and read back as text."""

from __future__ import annotations

import io
import logging
import re
import time

import pytest
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler

from tau.core.lights import FixtureState
from tau.core.model import Fixture, FixtureModel
from tau.view import DownTimes
from tau.view.render import (
    DROP_ORDER,
    SWATCH,
    UniverseView,
    ViewData,
    fixture_state_text,
    render,
)

DIMMER = FixtureModel(1, "Acme", "Dimmer", ("dimmer",), 2700, 2700, "linear", 0.0)
TUNABLE = FixtureModel(2, "Acme", "Tunable", ("warm", "cool"), 2700, 6500, "linear", 0.0)
RGB = FixtureModel(3, "Acme", "RGB", ("red", "green", "blue"), 2000, 6500, "linear", 0.0)
NOW = 1_800_000_000.0


def fixture(n: int, model: FixtureModel = DIMMER, universe: int = 1) -> Fixture:
    return Fixture(n, f"Lamp {n}", f"lamp-{n:02d}", model, universe, n * 3)


def demo_data(**changes: object) -> ViewData:
    """Something like the demo home: 14 fixtures on two universes, a few commands."""
    states = [
        FixtureState(is_on=n % 3 == 0, brightness=128, kelvin=2700, color_mode="color_temp")
        for n in range(14)
    ]
    fixtures = [(fixture(n, TUNABLE, 1 + n // 8), states[n]) for n in range(14)]
    values: dict[str, object] = {
        "broker": "127.0.0.1:1883",
        "broker_connected": True,
        "database_ok": True,
        "universes": [
            UniverseView(1, "virtual", "ok", "", bytes([0, 128, 255] * 10)),
            UniverseView(2, "virtual", "ok", "", bytes(40)),
        ],
        "fixtures": fixtures,
        "groups": 9,
        "commands": [(NOW - 10 + i, f"tau/group/g{i}/set", "ON") for i in range(8)],
        "try_lines": [
            f"mosquitto_pub -h 127.0.0.1 -p 1883 -t tau/group/g{i}/set -m ON" for i in range(4)
        ],
    }
    values.update(changes)
    return ViewData(**values)  # type: ignore[arg-type]


def text_of(data: ViewData, width: int = 80, height: int = 24) -> list[str]:
    console = Console(
        width=width, height=height, record=True, file=io.StringIO(), color_system=None
    )
    console.print(render(data, width, height, now=NOW))
    return console.export_text().splitlines()


def plain(fixture_: Fixture, state: FixtureState) -> str:
    return fixture_state_text(fixture_, state).plain


def test_fixture_lines_read_like_home_assistant() -> None:
    assert plain(fixture(1), FixtureState(is_on=False, brightness=255)) == "off"
    assert plain(fixture(1), FixtureState(is_on=True, brightness=128)) == "50 %"
    assert plain(fixture(1), FixtureState(is_on=True, brightness=255)) == "100 %"
    tunable = FixtureState(is_on=True, brightness=51, kelvin=2700, color_mode="color_temp")
    assert plain(fixture(1, TUNABLE), tunable) == "20 % 2700 K"
    orange = FixtureState(is_on=True, brightness=255, color=(255, 80, 0), color_mode="rgb")
    text = fixture_state_text(fixture(1, RGB), orange)
    assert text.plain == f"100 % {SWATCH} #FF5000"
    assert "(255, 80, 0)" not in text.plain
    swatch_style = next(
        span.style for span in text.spans if text.plain[span.start : span.end] == SWATCH
    )
    assert str(swatch_style) == "rgb(255,80,0)"
    # An off fixture says only "off": not its remembered brightness or colour.
    assert (
        plain(fixture(1, RGB), FixtureState(is_on=False, color=(1, 2, 3), color_mode="rgb"))
        == "off"
    )


def test_demo_fits_80x24_with_every_section() -> None:
    lines = text_of(demo_data())
    assert len(lines) <= 24
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    for title in ("DMX universes", "Fixtures", "Last commands", "Try"):
        assert text.count(title) == 1, title
    assert lines[0].startswith("Tau · MQTT 127.0.0.1:1883 ok · database ok")
    assert "14 fixtures, 9 groups" in lines[0]
    # Every fixture has its own line, in Home Assistant's words.
    fixture_lines = [line for line in lines if "lamp-" in line]
    assert sum(line.count("lamp-") for line in fixture_lines) == 14
    assert "lamp-00" in text and "50 % 2700 K" in text
    assert "off" in text
    assert "off 100 %" not in text


@pytest.mark.parametrize(("height", "dropped"), [(24, 0), (18, 1), (12, 2), (8, 3), (3, 4), (1, 5)])
def test_sections_drop_whole_and_in_order(height: int, dropped: int) -> None:
    rejected = [(NOW - 5, "tau/group/nope/set", "unknown group 'nope'")]
    data = demo_data(rejections=rejected, rejected=1)
    lines = text_of(data, height=height)
    text = "\n".join(lines)
    assert len(lines) <= height
    titles = {
        "try": "── Try",
        "commands": "── Last commands",
        "universes": "── DMX universes",
        "fixtures": "── Fixtures",
        "problems": "── Problems",
        "status": "Tau · MQTT",
    }
    gone = [name for name in DROP_ORDER if titles[name] not in text]
    assert gone == list(DROP_ORDER[: len(gone)]), f"dropped out of order: {gone}"
    assert len(gone) >= dropped
    # A section is there whole or not at all: never cut after its title.
    if "── Last commands" in text:
        assert sum(bool(re.match(r"\d\d:\d\d:\d\d tau/group/g", line)) for line in lines) == 5
    if "── Fixtures" in text:
        assert sum(line.count("lamp-") for line in lines) == 14
    if "── DMX universes" in text:
        assert any(line.lstrip().startswith("2 virtual ok") for line in lines)


def test_narrow_terminal_never_wraps_a_line() -> None:
    for width in (40, 60, 79, 80, 120):
        lines = text_of(demo_data(), width=width, height=50)
        assert all(len(line) <= width for line in lines), width
        shown = sum(line.count("lamp-") for line in lines)
        if width >= 76:  # two columns
            assert shown == 14
        else:
            assert shown == 10
            assert "… and 4 more fixtures" in lines


def test_rejected_inputs_and_connection_problems_show_in_the_view() -> None:
    data = demo_data(
        broker_connected=False,
        database_ok=False,
        database_error="connection refused",
        queued_writes=7,
        rejections=[(NOW - 3, "tau/group/nope/set", "unknown group 'nope'")],
        rejected=1,
        down_since={"broker": NOW - 42},
        universes=[UniverseView(1, "enttec_pro", "error", "/dev/ttyUSB0 unplugged", bytes(16))],
    )
    text = "\n".join(text_of(data))
    assert "MQTT 127.0.0.1:1883 unreachable" in text
    assert "· database down" in text
    assert "1 rejected" in text
    assert "── Problems" in text
    assert "waiting for the MQTT broker 127.0.0.1:1883 since" in text
    assert "(42 s)" in text
    assert "database down" in text and "7 state writes wait" in text
    assert "universe 1 (enttec_pro) error: /dev/ttyUSB0 unplugged" in text
    assert "rejected tau/group/nope/set: unknown group 'nope'" in text


def test_down_times_remember_when_a_dependency_went_away() -> None:
    clock = iter([100.0, 105.0, 110.0])
    down = DownTimes(clock=lambda: next(clock))
    assert down.update(broker_connected=False, database_ok=True) == {"broker": 100.0}
    assert down.update(broker_connected=False, database_ok=False) == {
        "broker": 100.0,
        "database": 105.0,
    }
    assert down.update(broker_connected=True, database_ok=False) == {"database": 105.0}


def test_many_fixtures_end_with_a_count_not_a_cut() -> None:
    many = [(fixture(n), FixtureState(is_on=True, brightness=255)) for n in range(1, 41)]
    lines = text_of(demo_data(fixtures=many), height=60)
    assert "… and 20 more fixtures" in "\n".join(lines)


def test_the_count_covers_fixtures_not_listed() -> None:
    listed = [(fixture(n), FixtureState(is_on=False)) for n in range(1, 21)]
    lines = text_of(demo_data(fixtures=listed, fixture_count=10_000), height=60)
    assert "10000 fixtures, 9 groups" in lines[0]
    assert "… and 9980 more fixtures" in lines


def test_log_records_print_above_the_live_view() -> None:
    """The handler and Live share the console: a record lands above the view, and the
    view is redrawn below it (no second copy of its header left on the screen)."""
    out = io.StringIO()
    console = Console(
        width=80, height=24, file=out, force_terminal=True, record=True, color_system=None
    )
    logger = logging.getLogger("tau.test_view")
    handler = RichHandler(console=console, show_path=False)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        data = demo_data()
        with Live(
            console=console,
            get_renderable=lambda: render(data, 80, 23, now=NOW),
            auto_refresh=False,
        ) as live:
            live.refresh()
            logger.warning("event=input_rejected topic=tau/group/nope/set")
            live.refresh()
    finally:
        logger.removeHandler(handler)
    raw = out.getvalue()
    record = raw.index("event=input_rejected")
    # After the record, the view is drawn again, below it.
    assert raw.index("── DMX universes", record) > record
    # Before the record, Live moved the cursor up over the old view and erased it
    # (ESC [ nA / ESC [2K), so the first copy does not stay on the screen.
    assert "\x1b[2K" in raw[:record]
    assert raw[:record].count("── DMX universes") == 1


def test_view_data_default_is_empty_and_renders() -> None:
    data = ViewData(broker="h:1", broker_connected=True, database_ok=True)
    lines = text_of(data)
    assert lines[0].startswith("Tau · MQTT h:1 ok")
    assert "(none yet)" in "\n".join(lines)
    assert time.time() > 0
