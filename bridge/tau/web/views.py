"""What the pages show, as plain JSON-able data: pure functions of the installation and
its state (no aiohttp), so they are tested without a browser. Only `library_search`
reads files (the fixture libraries): the page runs it in a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tau.api.publisher import light_payload
from tau.core.lights import FixtureState, GroupLight
from tau.core.model import Fixture, FixtureModel, Installation
from tau.dmx.effects import effects_for
from tau.fixtures.defs import Channel, DefinitionError, parse_file
from tau.fixtures.library import search

UNIVERSE_SLOTS = 512


def model_name(model: FixtureModel) -> str:
    return f"{model.manufacturer} {model.model}"


def state_of(light: FixtureState | GroupLight) -> dict[str, Any]:
    """A light's state in the words of its MQTT state topic (Home Assistant's)."""
    return light_payload(light, None, None)


def fixture_row(fixture: Fixture, state: FixtureState) -> dict[str, Any]:
    model = fixture.model
    return {
        "id": fixture.id,
        "slug": fixture.slug,
        "name": fixture.name,
        "model": model_name(model),
        "universe": fixture.universe,
        "start": fixture.start_channel,
        "footprint": model.footprint,
        "modes": list(model.color_modes),
        "kelvin": [model.min_kelvin, model.max_kelvin],
        "effects": effects_for(model.color_modes),
        "state": state_of(state),
    }


def fixtures(inst: Installation, states: Mapping[int, FixtureState]) -> list[dict[str, Any]]:
    """Every fixture, by universe and address (the order of the patch)."""
    ordered = sorted(inst.fixtures.values(), key=lambda f: (f.universe, f.start_channel, f.slug))
    return [fixture_row(f, states[f.id]) for f in ordered if f.id in states]


def group_tree(
    inst: Installation,
    light: Callable[[int], GroupLight],
    modes: Callable[[int], list[str]],
) -> list[dict[str, Any]]:
    """Groups depth-first under their parents (a group inside two parents shows in both);
    `depth` is the nesting level, for the indent."""
    children = {gid: sorted(g.child_group_ids) for gid, g in inst.groups.items()}
    nested = {c for kids in children.values() for c in kids}
    rows: list[dict[str, Any]] = []

    def walk(gid: int, depth: int, seen: frozenset[int]) -> None:
        group = inst.groups[gid]
        kelvins = [
            (inst.fixtures[f].model.min_kelvin, inst.fixtures[f].model.max_kelvin)
            for f in group.fixture_ids
            if f in inst.fixtures and inst.fixtures[f].model.tunable
        ]
        rows.append(
            {
                "id": gid,
                "slug": group.slug,
                "name": group.name,
                "depth": depth,
                "fixtures": len(group.fixture_ids),
                "modes": modes(gid),
                "effects": effects_for(modes(gid)),
                "kelvin": [min(k[0] for k in kelvins), max(k[1] for k in kelvins)]
                if kelvins
                else None,
                "state": state_of(light(gid)),
            }
        )
        for child in children[gid]:
            if child not in seen and child in inst.groups:
                walk(child, depth + 1, seen | {child})

    top = sorted((g for g in inst.groups if g not in nested), key=lambda g: inst.groups[g].slug)
    for gid in top:
        walk(gid, 0, frozenset({gid}))
    return rows


def free_ranges(used: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The unpatched channel ranges of a universe, from (start, footprint) pairs."""
    taken = [False] * (UNIVERSE_SLOTS + 1)
    for start, footprint in used:
        for ch in range(max(start, 1), min(start + footprint, UNIVERSE_SLOTS + 1)):
            taken[ch] = True
    ranges: list[list[int]] = []
    ch = 1
    while ch <= UNIVERSE_SLOTS:
        if taken[ch]:
            ch += 1
            continue
        first = ch
        while ch <= UNIVERSE_SLOTS and not taken[ch]:
            ch += 1
        ranges.append([first, ch - 1])
    return ranges


def universe_map(inst: Installation) -> dict[int, dict[str, Any]]:
    """Per universe: its fixtures (start, roles, parked values) and its free ranges."""
    found: dict[int, dict[str, Any]] = {}
    for f in sorted(inst.fixtures.values(), key=lambda f: (f.universe, f.start_channel)):
        entry = found.setdefault(f.universe, {"fixtures": [], "free": []})
        entry["fixtures"].append(
            {
                "slug": f.slug,
                "name": f.name,
                "model": model_name(f.model),
                "start": f.start_channel,
                "roles": list(f.model.channels),
                "fixed": list(f.model.fixed),
            }
        )
    for entry in found.values():
        entry["free"] = free_ranges((x["start"], len(x["roles"])) for x in entry["fixtures"])
    return found


def models(inst: Installation) -> list[dict[str, Any]]:
    """The imported fixture models (each mode is a model), for the patch page's search."""
    return [
        {
            "id": m.id,
            "name": model_name(m),
            "channels": list(m.channels),
            "modes": list(m.color_modes),
            "heads": len(m.heads) or 1,
        }
        for m in sorted(inst.fixture_models.values(), key=lambda m: model_name(m).lower())
    ]


def chart_svg(
    points: Sequence[tuple[float, float, float]],
    now_h: float | None,
    sun: Mapping[str, float],
    kelvin_range: tuple[int, int] = (1500, 6500),
) -> str:
    """A 24 h chart: brightness (0-255, filled) and colour temperature (line, right axis),
    sunrise and sunset, the current time. `points`: (hour, brightness, kelvin)."""
    w, h, pad = 720.0, 180.0, 28.0
    kmin, kmax = kelvin_range

    def x(hour: float) -> float:
        return pad + (w - 2 * pad) * hour / 24

    def y_b(b: float) -> float:
        return h - pad - (h - 2 * pad) * b / 255

    def y_k(k: float) -> float:
        return h - pad - (h - 2 * pad) * (k - kmin) / max(kmax - kmin, 1)

    area = " ".join(f"{x(t):.1f},{y_b(b):.1f}" for t, b, _ in points)
    line = " ".join(f"{x(t):.1f},{y_k(k):.1f}" for t, _, k in points)
    parts = [
        f'<svg class="chart" viewBox="0 0 {w:.0f} {h:.0f}" role="img" '
        'aria-label="brightness and colour temperature over the day">',
        f'<polygon class="bright" points="{x(0):.1f},{y_b(0):.1f} {area} '
        f'{x(24):.1f},{y_b(0):.1f}"/>',
        f'<polyline class="kelvin" points="{line}"/>',
    ]
    for hour in range(0, 25, 3):
        parts.append(f'<text class="tick" x="{x(hour):.1f}" y="{h - 8:.0f}">{hour:02d}:00</text>')
    parts.append(f'<text class="tick" x="2" y="{y_b(255) + 4:.0f}">100%</text>')
    for kelvin, dy in ((kmax, 10), (kmin, -3)):
        parts.append(
            f'<text class="tick kel" x="{w - pad - 36:.0f}" y="{y_k(kelvin) + dy:.0f}">'
            f"{kelvin} K</text>"
        )
    for name in ("sunrise", "sunset"):
        if name in sun:
            at = sun[name] / 3600
            parts.append(
                f'<line class="sun" x1="{x(at):.1f}" x2="{x(at):.1f}" y1="{pad}" '
                f'y2="{h - pad}"/><text class="tick sun" x="{x(at) + 3:.1f}" '
                f'y="{pad + 10}">{name}</text>'
            )
    if now_h is not None:
        parts.append(
            f'<line class="now" x1="{x(now_h):.1f}" x2="{x(now_h):.1f}" y1="{pad - 6}" '
            f'y2="{h - pad}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def clock(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


LIBRARY_MATCHES = 30


def channel_role(channel: Channel) -> str:
    """As `tau fixtures show` says it: `fixed 255`, `dimmer 10-255 (off 0)`, `red`."""
    if channel.role == "fixed":
        return f"fixed {channel.value or 0}"
    if channel.span is not None:
        lo, hi, off = channel.span
        return f"{channel.role} {lo}-{hi} (off {off})"
    return channel.role


def library_search(text: str, folders: Sequence[Path], imported: set[str]) -> dict[str, Any]:
    """`tau fixtures search` for the page: each matching definition with its modes, their
    channels and whether the mode is imported (as which model name) yet. Reads files:
    run it off the loop."""
    matches = search(text, folders)
    found: list[dict[str, Any]] = []
    for match in matches[:LIBRARY_MATCHES]:
        try:
            definition = parse_file(match.path)
        except DefinitionError as exc:
            found.append({"name": f"{match.manufacturer} {match.model}", "error": str(exc)})
            continue
        modes: list[dict[str, Any]] = []
        for model in definition.models:
            name = f"{model.manufacturer} {model.name}"
            modes.append(
                {
                    "mode": model.mode,
                    "model": name,
                    "imported": name in imported,
                    "heads": len(model.heads) or 1,
                    "channels": [[c.name, channel_role(c)] for c in model.channels],
                }
            )
        modes += [{"mode": s.mode, "skipped": s.reason} for s in definition.skipped]
        found.append(
            {
                "name": f"{definition.manufacturer} {definition.model}",
                "path": str(definition.path),
                "modes": modes,
            }
        )
    return {"matches": found, "more": max(0, len(matches) - LIBRARY_MATCHES)}


def intent_words(intent: str) -> str:
    """What a switch action does, in words: `step:-32` → "dimmer by 32 of 255"."""
    verb, _, arg = intent.strip().lower().partition(":")
    simple = {
        "toggle": "toggles",
        "on": "turns on",
        "off": "turns off",
        "full": "full brightness",
        "dim_start": "dims while held (up from low, else down)",
        "dim_up": "dims up while held",
        "dim_down": "dims down while held",
        "dim_stop": "stops dimming",
        "rotate": "dims by the turn",
        "none": "nothing",
        "": "nothing",
    }
    if verb in simple and not arg:
        return simple[verb]
    if verb == "step" and arg.lstrip("+-").isdigit():
        step = int(arg)
        return f"{'brighter' if step > 0 else 'dimmer'} by {abs(step)} of 255"
    if verb == "scene" and arg:
        return f"recalls scene {arg}"
    if verb == "scene_index" and arg.isdigit():
        return f"recalls the group's scene number {arg}"
    return intent
