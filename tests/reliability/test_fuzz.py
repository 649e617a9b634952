"""Bad input (issue 8, PRODUCT.md §4): hypothesis-generated payloads on every inbound topic.

One seeded bridge (module scope, `default_transition=0`, no circadian tick) gets
batches of 25-45 (topic, payload) cases published back-to-back, each batch closed by a
`bridge/request/health_check` sentinel: its reply means everything before it was
handled. Every case is built to be invalid, valid (with the effect a small independent
model predicts) or unrouted (a topic the bridge does not subscribe to). Per batch:

- the sentinel is answered within `SENTINEL_S` and the process is still running;
- every invalid case gives exactly one `bridge/log` message naming its topic, and every
  request exactly one response (`error` for invalid, `ok` for valid ones);
- invalid-only batches publish no state at all; valid cases leave the fixture and group
  states the model predicts (state and brightness per fixture; a group is ON when any
  member is, with the max brightness of its on members);
- never an "internal error" on the log topic, never a traceback in the bridge's log.

Topics carry arbitrary NUL-free unicode levels, extra levels and unknown kinds, but no
`+`/`#` and none of the characters Mosquitto refuses in a topic (it disconnects the
publisher). A second test sends names and slugs with SQL metacharacters through the
request API and checks PostgreSQL afterwards.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from testkit.bridge import BridgeProcess
from testkit.mqtt import Message, MqttProbe

from tests.reliability.helpers import (
    FIXTURES,
    GROUPS,
    QUIET_ENV,
    catalogue,
    light_state,
    retained_states,
    sql,
    stored_states,
    wait_until,
)

pytestmark = [pytest.mark.fuzz]

MAX_PAYLOAD = 64 * 1024  # PRODUCT.md §4: larger payloads are rejected
BATCHES = 320
BATCH_SIZE = (25, 45)
MIN_CASES = 10_000
SENTINEL_S = 5.0  # "never stalls": each batch is drained within this
SETTLE_S = 5.0  # asynchronous (database) rejections of a batch arrive within this

# --------------------------------------------------------------------- the seeded home
# database/seeds/04-test-fixtures.sql, as the reliability helpers know it.

ROOMS = ("kitchen", "dining", "living", "hallway", "bedroom", "bathroom", "study", "garden")
MEMBERS: dict[str, tuple[str, ...]] = {
    room: tuple(f for f in FIXTURES if f.startswith(room + "-")) for room in ROOMS
}
MEMBERS["downstairs"] = tuple(
    f for room in ("kitchen", "dining", "living", "hallway") for f in MEMBERS[room]
)
MEMBERS["upstairs"] = tuple(f for room in ("bedroom", "bathroom", "study") for f in MEMBERS[room])
MEMBERS["house"] = FIXTURES
CIRCADIAN_GROUPS = ("kitchen", "bedroom")  # profile `clock-only`
GOVERNED = frozenset(MEMBERS["kitchen"] + MEMBERS["bedroom"])
TUNABLE = frozenset(
    {
        "kitchen-island",
        "dining-pendant",
        "dining-wall",
        "living-lamp",
        "bedroom-ceiling",
        "bedroom-bedside",
        "bathroom-mirror",
        "living-strip",  # the rgb(w) fixtures mix a colour temperature too
        "garden-spot",
    }
)
RGB = frozenset({"living-strip", "garden-spot"})
SCENES: dict[str, dict[str, tuple[bool, int]]] = {
    "evening": {
        "kitchen-ceiling": (False, 0),
        "kitchen-island": (True, 153),
        "kitchen-counter": (True, 102),
        "dining-pendant": (True, 178),
        "dining-wall": (True, 128),
        "living-ceiling": (False, 0),
        "living-lamp": (True, 153),
        "living-strip": (True, 77),
        "hallway-downlight": (True, 64),
    },
    "movie": {"living-ceiling": (False, 0), "living-lamp": (True, 26), "living-strip": (True, 51)},
}
SWITCH_GROUP = {"kitchen-wall": "kitchen", "bedroom-remote": "bedroom"}
# Action -> intent (seeded switch models), for the actions that are valid on that switch.
SWITCH_INTENTS: dict[str, dict[str, str]] = {
    "kitchen-wall": {"single": "toggle", "double": "full", "hold": "dim", "release": "stop"},
    "bedroom-remote": {
        "toggle": "toggle",
        "toggle_hold": "full",
        "brightness_up_click": "step:32",
        "brightness_down_click": "step:-32",
        "brightness_up_hold": "dim",
        "brightness_down_hold": "dim",
        "brightness_up_release": "stop",
        "brightness_down_release": "stop",
        "arrow_left_hold": "none",
        "arrow_right_hold": "none",
        "arrow_left_release": "none",
        "arrow_right_release": "none",
    },
}
# Actions a switch refuses: not in its vocabulary, or (arrow clicks) a scene index on a
# group without scenes. Raw `press` is left out: it arms the double-tap timer, whose
# deferred action would land in a later batch.
SWITCH_REFUSED: dict[str, tuple[str, ...]] = {
    "kitchen-wall": ("toggle", "on", "off", "rotate:3", "rotate", "brightness_up_click", "triple"),
    "bedroom-remote": (
        "single",
        "double",
        "hold",
        "release",
        "press",
        "on",
        "rotate:-5",
        "arrow_left_click",
        "arrow_right_click",
        "button_1",
    ),
}
VALID_REQUESTS = ("health_check",) * 3 + ("dmx/frame",) * 2 + ("circadian/tick", "reload")
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
REQUESTS = (
    "health_check",
    "reload",
    "fixture/add",
    "fixture/remove",
    "fixture/rename",
    "fixture/update",
    "fixture_model/update",
    "group/add",
    "group/remove",
    "group/rename",
    "group/update",
    "group/members/add",
    "group/members/remove",
    "scene/store",
    "scene/remove",
    "dmx/frame",
    "circadian/tick",
    "circadian/clock",
)
TABLES = (
    "fixtures",
    "fixture_models",
    "fixture_state",
    "groups",
    "group_fixtures",
    "group_hierarchy",
    "group_state",
    "scenes",
    "scene_values",
    "switches",
    "switch_models",
    "circadian_profiles",
)
# What requests may change; fixture_state/group_state rows come with the first state write.
CONFIG_TABLES = tuple(t for t in TABLES if not t.endswith("_state"))

# ------------------------------------------------------------------------- the cases


@dataclass(frozen=True, slots=True)
class Light:
    """A light command reaching `fixtures` (`group`: TOGGLE follows the whole group)."""

    fixtures: tuple[str, ...]
    group: bool
    state: str | None = None  # ON, OFF, TOGGLE
    brightness: int | None = None
    step: int | None = None
    colour: bool = False
    move: int | None = None  # brightness_move rate; 0 stops


@dataclass(frozen=True, slots=True)
class Recall:
    scene: str


@dataclass(frozen=True, slots=True)
class CircadianSwitch:
    group: str
    on: bool


@dataclass(frozen=True, slots=True)
class Press:
    switch: str
    intent: str


@dataclass(frozen=True, slots=True)
class Tick:
    pass


Effect = Light | Recall | CircadianSwitch | Press | Tick


@dataclass(frozen=True, slots=True)
class Case:
    """One publish. `topic` is relative to the base topic; `@input` is the switch's own
    external input topic. `request` names the request whose response is expected."""

    kind: str
    topic: str
    payload: bytes
    verdict: str  # "invalid" | "valid" | "unrouted"
    label: str
    effect: Effect | None = None
    request: str | None = None

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis's reports
        printer.text(repr(self))

    def __repr__(self) -> str:
        shown = self.payload[:60]
        more = f"…+{len(self.payload) - 60}B" if len(self.payload) > 60 else ""
        return f"Case({self.verdict} {self.kind}/{self.label} {self.topic!r} {shown!r}{more})"


def _js(data: Any, ascii_only: bool = True) -> bytes:
    return json.dumps(data, ensure_ascii=ascii_only, allow_nan=True).encode()


def _topic_char(char: str) -> bool:
    code = ord(char)  # Mosquitto refuses non-characters (and control characters, below)
    return not (0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE)


LEVEL_CHAR = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="+#/\x00").filter(
    _topic_char
)
LEVEL = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.' ", max_size=16),
    st.text(LEVEL_CHAR, max_size=16),
)
FINITE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)
NOT_INT = st.one_of(
    st.text(max_size=6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)
NOT_NUMBER = st.one_of(
    st.text(max_size=6),
    st.booleans(),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)
NOT_STR = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2)
)
BAD_UTF8 = (b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")
PLAUSIBLE = (
    "ON",
    "OFF",
    '{"state":"ON"}',
    '{"brightness":128}',
    "toggle",
    '{"action":"single"}',
    "",
)
UNKNOWN_KEY = st.text(max_size=8).map(lambda s: "zz" + s)
NOT_A_BOOL = st.sampled_from(("yes", 1, 0, None, "true", []))
BAD_SLUG = st.one_of(
    st.sampled_from(
        (
            "",
            "Kitchen",
            "kitchen\n",
            "-kitchen",
            "a" * 64,
            "x'; DROP TABLE fixtures; --",
            "$$",
            "a b",
            "ké",
            "a/b",
            "a\\b",
        )
    ),
    st.text(max_size=12).filter(lambda s: SLUG_RE.fullmatch(s) is None),
)
NOPE_SLUG = st.text("abcdef0123456789", min_size=1, max_size=8).map(lambda s: "nope-" + s)


@functools.cache
def _unknown(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    lookalikes = [known[0].upper(), known[0] + " ", " " + known[0], known[0] + "\u200b"]
    lookalikes += [known[0].replace("-", "_"), "", "kitchen'--", "%", "..", "ｋitchen", "\u202e"]
    return st.one_of(
        st.sampled_from([s for s in lookalikes if s not in known]),
        LEVEL.filter(lambda s: s not in known),
    )


# -- payloads that are invalid on every topic kind -------------------------------------


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    text = draw(st.one_of(st.sampled_from(PLAUSIBLE), st.text(max_size=12)))
    at = draw(st.integers(0, len(text)))
    return text[:at].encode() + draw(st.sampled_from(BAD_UTF8)) + text[at:].encode()


@st.composite
def oversize(draw: st.DrawFn) -> bytes:
    size = MAX_PAYLOAD + draw(st.integers(1, 4096))
    head = draw(st.sampled_from((b"ON", b'{"state":"ON"}', b"single", b"{}", b"x")))
    fill = draw(st.sampled_from((b" ", b"\n", b"a")))
    if head.startswith(b"{") and fill == b"a":
        body = b'{"state":"ON","pad":"' + b"a" * size + b'"}'
        return body[: size - 2] + b'"}'
    return head + fill * (size - len(head))


@st.composite
def malformed_json(draw: st.DrawFn, objects: st.SearchStrategy[dict[str, Any]]) -> bytes:
    text = json.dumps(draw(objects))
    how = draw(st.integers(0, 6))
    broken = (
        text[:-1],  # the outer object is never closed
        text + "}",
        text[:-1] + ",}",
        "{" + text[1:].replace('"', "'", 1),
        text[:-1] + " /* comment */}",
        '{"state" "ON"}',
        "{state: ON}",
    )[how]
    return broken.encode()


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(600, 30_000))
    # "action" keys: a nested object is no switch action either (a switch ignores
    # objects without one, as Zigbee2MQTT's device updates)
    opener, closer = draw(st.sampled_from(((b"[", b"]"), (b'{"action":', b"}"))))
    inner = opener * depth + b"1" + closer * depth
    if len(inner) > MAX_PAYLOAD - 40:
        depth = (MAX_PAYLOAD - 40) // (len(opener) + len(closer))
        inner = opener * depth + b"1" + closer * depth
    wrap = draw(st.booleans())
    return b'{"action":' + inner + b"}" if wrap else inner


@st.composite
def nonfinite(draw: st.DrawFn, fields: tuple[str, ...], overflow: bool) -> bytes:
    """NaN/Infinity (not JSON at all) or, with `overflow`, numbers beyond a float."""
    tokens = (b"NaN", b"Infinity", b"-Infinity") + (b"1e400", b"-1e999") * overflow
    token = draw(st.sampled_from(tokens))
    name = draw(st.sampled_from(fields)).encode()
    return b'{"' + name + b'":' + token + b"}"


@functools.cache
def everywhere_invalid(fields: tuple[str, ...]) -> st.SearchStrategy[tuple[str, bytes]]:
    """Payloads no inbound topic accepts (`fields`: keys the topic's JSON may carry)."""
    objects = st.dictionaries(st.sampled_from(fields), FINITE, min_size=1, max_size=3)
    # A switch ignores JSON without an action (device updates), even {"delta": 1e400}.
    switch = "action" in fields
    return st.one_of(
        invalid_utf8().map(lambda p: ("invalid_utf8", p)),
        oversize().map(lambda p: ("oversize", p)),
        malformed_json(objects).map(lambda p: ("malformed_json", p)),
        deep_nesting().map(lambda p: ("deep_nesting", p)),
        nonfinite(fields, not switch).map(lambda p: ("nan_infinity", p)),
    )


# -- light commands (fixture and group /set) ---------------------------------------------

INT_RANGES = {
    "brightness": (0, 255),
    "brightness_step": (-255, 255),
    "color_temp": (50, 20_000),
    "color_temp_kelvin": (1000, 20_000),
    "color_temp_step": (-1000, 1000),
    "brightness_move": (-1000, 1000),
}
FLOAT_RANGES = {
    "brightness_pct": (0, 100),
    "brightness_step_pct": (-100, 100),
    "transition": (0, 3600),
}
LIGHT_FIELDS = (*INT_RANGES, *FLOAT_RANGES, "state", "color", "color_mode")


def _with_base(draw: st.DrawFn, key: str, value: Any) -> bytes:
    body: dict[str, Any] = {}
    if draw(st.booleans()) and key != "state":
        body["state"] = "ON"
    body[key] = value
    return _js(body, draw(st.booleans()))


@st.composite
def light_wrong_type(draw: st.DrawFn) -> bytes:
    key = draw(st.sampled_from(LIGHT_FIELDS))
    if key in INT_RANGES and key != "brightness_move":
        value = draw(NOT_INT)
    elif key in FLOAT_RANGES:
        value = draw(NOT_NUMBER)
    elif key == "brightness_move":
        value = draw(
            st.one_of(
                st.floats(allow_nan=False, allow_infinity=False),
                st.booleans(),
                st.text(max_size=6).filter(lambda s: s.lower() != "stop"),
            )
        )
    elif key == "state":
        value = draw(st.one_of(NOT_STR, st.text(max_size=8).filter(_not_a_state)))
    elif key == "color":
        value = draw(
            st.one_of(
                NOT_STR,
                st.text(max_size=4),
                st.fixed_dictionaries({"r": st.integers(0, 255), "g": st.integers(0, 255)}),
                st.fixed_dictionaries({"r": NOT_INT, "g": st.just(1), "b": st.just(1)}),
            )
        )
    else:  # color_mode
        value = draw(NOT_STR)
    return _with_base(draw, key, value)


def _not_a_state(text: str) -> bool:
    return text.upper() not in ("ON", "OFF", "TOGGLE")


@st.composite
def light_out_of_range(draw: st.DrawFn) -> bytes:
    key = draw(st.sampled_from((*INT_RANGES, *FLOAT_RANGES, "color")))
    if key == "color":
        bad = draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=256)))
        colour = {"r": 0, "g": 0, "b": 0, draw(st.sampled_from("rgb")): bad}
        return _with_base(draw, key, colour)
    if key in INT_RANGES:
        low, high = INT_RANGES[key]
        if draw(st.integers(0, 9)) == 0:  # beyond any float (and beyond int parsing)
            digits = draw(st.sampled_from((310, 400, 4000, 5000)))
            sign = draw(st.sampled_from((b"", b"-")))
            return b'{"' + key.encode() + b'":' + sign + b"9" * digits + b"}"
        value: float = draw(
            st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1))
        )
    else:
        low, high = FLOAT_RANGES[key]
        if draw(st.integers(0, 9)) == 0:
            return b'{"' + key.encode() + b'":1' + b"0" * draw(st.integers(309, 4000)) + b"}"
        value = draw(
            st.one_of(
                st.floats(max_value=low - 0.001, allow_nan=False, allow_infinity=False),
                st.floats(min_value=high + 0.001, allow_nan=False, allow_infinity=False),
                st.integers(max_value=low - 1),
                st.integers(min_value=high + 1),
            )
        )
    return _with_base(draw, key, value)


@st.composite
def light_unknown_key(draw: st.DrawFn) -> bytes:
    body: dict[str, Any] = {"state": "ON", "brightness": draw(st.integers(1, 255))}
    key = draw(st.one_of(UNKNOWN_KEY, st.sampled_from(("State", "brightnes", "colour", "on"))))
    body[key] = draw(FINITE)
    return _js(body, draw(st.booleans()))


LIGHT_CONFLICTS = st.one_of(
    st.just(b"{}"),
    st.just(b'{"color_mode":"color_temp"}'),
    st.just(b'{"state":null}'),
    st.builds(
        lambda b, p: _js({"brightness": b, "brightness_pct": p}),
        st.integers(0, 255),
        st.integers(0, 100),
    ),
    st.builds(
        lambda s, p: _js({"brightness_step": s, "brightness_step_pct": p}),
        st.integers(-255, 255),
        st.integers(-100, 100),
    ),
    st.builds(
        lambda k: _js({"color_temp_kelvin": k, "color": {"r": 1, "g": 2, "b": 3}}),
        st.integers(1000, 20_000),
    ),
)
LIGHT_NOT_OBJECT = st.one_of(
    st.lists(FINITE, max_size=3).map(_js),
    st.text(max_size=10).filter(_not_a_state).map(_js),
    st.sampled_from((b"null", b"true", b"false", b"", b"   ", b"\n", b"\x00", b"O N", b"ONN")),
    st.sampled_from((b"-1", b"256", b"255.6", b"0x10", b"1,5", b"12abc", b"nan", b"inf", b"1e400")),
    st.sampled_from(
        (b"-Infinity", b"+inf", b"NaN", b"1/2", b"--1", b"1e3", b"\xd9\xa2\xd9\xa6\xd9\xa7")
    ),
)


def _parses_as_light(text: str) -> bool:
    stripped = text.strip()
    if stripped.upper() in ("ON", "OFF", "TOGGLE"):
        return True
    try:
        return 0 <= float(stripped) <= 255  # float() also reads "١٢" and "1_0"
    except ValueError:
        return False


@functools.cache
def invalid_light_payload() -> st.SearchStrategy[tuple[str, bytes]]:
    """Invalid on every fixture and group, whatever its colour modes."""
    return st.one_of(
        everywhere_invalid(LIGHT_FIELDS),
        light_wrong_type().map(lambda p: ("wrong_type", p)),
        light_out_of_range().map(lambda p: ("out_of_range", p)),
        light_unknown_key().map(lambda p: ("unknown_key", p)),
        LIGHT_CONFLICTS.map(lambda p: ("conflict", p)),
        LIGHT_NOT_OBJECT.map(lambda p: ("not_a_command", p)),
        st.text(max_size=20)
        .filter(lambda t: not t.strip().startswith(("{", "[", '"')) and not _parses_as_light(t))
        .map(lambda t: ("garbage_text", t.encode())),
        st.sampled_from(('{"state":"\\ud800"}', '{"state":"ON","zz\\udfff":1}')).map(
            lambda t: ("lone_surrogate", t.encode())
        ),
    )


@st.composite
def valid_light(draw: st.DrawFn, tunable: bool, rgb: bool) -> tuple[str, bytes, dict[str, Any]]:
    """A valid command for a target (tunable/rgb: some member supports it)."""
    kinds = ["level", "pct", "zero", "off", "on", "toggle", "step", "move"]
    kinds += ["kelvin"] * tunable + ["rgb"] * rgb
    kind = draw(st.sampled_from(kinds))
    level = draw(st.integers(1, 255))
    pad = draw(st.sampled_from(("", " ", "\n", "\t ")))
    if kind == "level":
        payload = draw(
            st.sampled_from(
                (
                    _js({"state": "ON", "brightness": level}),
                    _js({"state": "on", "brightness": level, "transition": 0}),
                    _js({"state": "ON", "brightness": level, "color_mode": "brightness"}),
                    f"{pad}{level}{pad}".encode(),
                    f"{level}.0".encode(),
                )
            )
        )
        return "level", payload, {"state": "ON", "brightness": level}
    if kind == "pct":
        pct = draw(st.integers(0, 100))
        brightness = round(pct * 255 / 100)
        return "pct", _js({"brightness_pct": pct}), {"brightness": brightness}
    if kind == "zero":
        payload = draw(st.sampled_from((b"0", b"0.4", b'{"brightness":0}', b" -0 ")))
        return "zero", payload, {"brightness": 0}
    if kind in ("off", "on", "toggle"):
        word = {"off": "OFF", "on": "ON", "toggle": "TOGGLE"}[kind]
        form = draw(st.sampled_from((word, word.lower(), word.title(), f'"{word}"')))
        payload = draw(
            st.sampled_from((f"{pad}{form}{pad}".encode(), _js({"state": form.strip('"')})))
        )
        return kind, payload, {"state": word}
    if kind == "step":
        if draw(st.booleans()):
            step = draw(st.integers(-255, 255))
            return "step", _js({"brightness_step": step}), {"step": step}
        pct = draw(st.integers(-100, 100))
        return "step", _js({"brightness_step_pct": pct}), {"step": round(pct * 255 / 100)}
    if kind == "move":
        rate = draw(st.sampled_from((0, "stop", "STOP", draw(st.integers(-1000, 1000)))))
        move = 0 if isinstance(rate, str) else rate
        return "move", _js({"brightness_move": rate}), {"move": move}
    if kind == "kelvin":
        body: dict[str, Any] = draw(
            st.sampled_from(
                (
                    {"color_temp_kelvin": draw(st.integers(1000, 20_000))},
                    {"color_temp": draw(st.integers(50, 1000))},
                    {"color_temp": draw(st.integers(1001, 20_000))},
                    {"color_temp_step": draw(st.integers(-1000, 1000))},
                )
            )
        )
    else:
        body = {"color": {c: draw(st.integers(0, 255)) for c in "rgb"}}
    if draw(st.booleans()):
        body["state"] = "ON"
        return kind, _js(body), {"state": "ON", "colour": True}
    return kind, _js(body), {"colour": True}


def _target(kind: str, slug: str) -> tuple[tuple[str, ...], bool, bool]:
    members = (slug,) if kind == "fixture" else MEMBERS[slug]
    return members, any(f in TUNABLE for f in members), any(f in RGB for f in members)


@st.composite
def light_case(draw: st.DrawFn, verdict: str) -> Case:
    kind = draw(st.sampled_from(("fixture", "group")))
    known = FIXTURES if kind == "fixture" else GROUPS
    slug = draw(st.sampled_from(known))
    members, tunable, rgb = _target(kind, slug)
    if verdict == "valid":
        label, payload, spec = draw(valid_light(tunable, rgb))
        effect = Light(members, kind == "group", **spec)
        return Case(f"{kind}_set", f"{kind}/{slug}/set", payload, "valid", label, effect)
    how = draw(st.integers(0, 9))
    if how == 0:  # an unknown slug, even with a good payload
        slug = draw(_unknown(known))
        label, payload, _ = draw(valid_light(True, True))
        return Case(f"{kind}_set", f"{kind}/{slug}/set", payload, "invalid", "unknown_slug")
    if how == 1 and not (tunable and rgb):  # a colour no member can show
        body = {"color": {"r": 1, "g": 2, "b": 3}} if not rgb else {"color_temp_kelvin": 2700}
        payload = _js({"state": "ON", **body} if draw(st.booleans()) else body)
        return Case(f"{kind}_set", f"{kind}/{slug}/set", payload, "invalid", "unsupported_colour")
    label, payload = draw(invalid_light_payload())
    return Case(f"{kind}_set", f"{kind}/{slug}/set", payload, "invalid", label)


# -- scenes ------------------------------------------------------------------------------------


@st.composite
def scene_case(draw: st.DrawFn, verdict: str) -> Case:
    slug = draw(st.sampled_from(tuple(SCENES)))
    if verdict == "valid":
        payload = draw(
            st.sampled_from(
                (b"ON", b"on", b" On\n", b"{}", b'{"state":"ON"}', b'{"state":"ON","transition":0}')
            )
        )
        return Case("scene_set", f"scene/{slug}/set", payload, "valid", "recall", Recall(slug))
    how = draw(st.integers(0, 5))
    if how == 0:
        slug = draw(_unknown(tuple(SCENES)))
        return Case("scene_set", f"scene/{slug}/set", b"ON", "invalid", "unknown_slug")
    if how == 1:
        text = draw(
            st.one_of(
                st.sampled_from(("OFF", "TOGGLE", '"ON"', "[]", "1", "", "O N")),
                st.text(max_size=12).filter(
                    lambda t: t.strip().upper() != "ON" and not t.strip().startswith("{")
                ),
            )
        )
        return Case("scene_set", f"scene/{slug}/set", text.encode(), "invalid", "not_on")
    if how == 2:
        body = draw(
            st.one_of(
                st.fixed_dictionaries(
                    {"state": FINITE.filter(lambda v: v != "ON" and v is not None)}
                ),
                st.fixed_dictionaries(
                    {
                        "transition": st.one_of(
                            NOT_NUMBER,
                            st.floats(max_value=-0.001, allow_nan=False, allow_infinity=False),
                            st.integers(min_value=3601),
                        )
                    }
                ),
                st.fixed_dictionaries({"state": st.just("ON"), "brightness": st.integers()}),
                st.dictionaries(UNKNOWN_KEY, FINITE, min_size=1, max_size=2),
            )
        )
        return Case("scene_set", f"scene/{slug}/set", _js(body), "invalid", "bad_json")
    label, payload = draw(everywhere_invalid(("state", "transition")))
    return Case("scene_set", f"scene/{slug}/set", payload, "invalid", label)


# -- circadian switches --------------------------------------------------------------------------


@st.composite
def circadian_case(draw: st.DrawFn, verdict: str) -> Case:
    group = draw(st.sampled_from(CIRCADIAN_GROUPS))
    if verdict == "valid":
        on = draw(st.booleans())
        word = "ON" if on else "OFF"
        payload = draw(st.sampled_from((word, word.lower(), f" {word}\n"))).encode()
        topic = f"group/{group}/circadian/set"
        return Case("circadian_set", topic, payload, "valid", "switch", CircadianSwitch(group, on))
    how = draw(st.integers(0, 3))
    if how == 0:
        group = draw(st.one_of(_unknown(GROUPS), st.sampled_from(("house", "study", "garden"))))
        payload = draw(st.sampled_from((b"ON", b"OFF")))
        return Case(
            "circadian_set", f"group/{group}/circadian/set", payload, "invalid", "no_profile"
        )
    if how == 1:
        text = draw(
            st.one_of(
                st.sampled_from(("TOGGLE", '"ON"', '{"state":"ON"}', "1", "true", "", "O N")),
                st.text(max_size=10).filter(lambda t: t.strip().upper() not in ("ON", "OFF")),
            )
        )
        topic = f"group/{group}/circadian/set"
        return Case("circadian_set", topic, text.encode(), "invalid", "not_on_off")
    label, payload = draw(everywhere_invalid(("state",)))
    return Case("circadian_set", f"group/{group}/circadian/set", payload, "invalid", label)


# -- switches (their action topic and the remote's own input topic) -------------------------------


@st.composite
def switch_payload(draw: st.DrawFn, action: str) -> bytes:
    form = draw(st.integers(0, 5))
    if form == 0:
        return action.encode()
    if form == 1:
        return f" {action}\n".encode()
    if form == 2:
        return action.upper().encode()
    if form == 3:
        return _js({"action": action})
    if form == 4:
        return _js({"action": action, "linkquality": draw(st.integers(0, 255)), "battery": 90})
    return _js(action)


@st.composite
def switch_case(draw: st.DrawFn, verdict: str, via_input: bool = False) -> Case:
    switch = "bedroom-remote" if via_input else draw(st.sampled_from(tuple(SWITCH_GROUP)))
    kind = "input_topic" if via_input else "switch_action"
    topic = "@input" if via_input else f"switch/{switch}/action"
    if verdict == "valid":
        if draw(st.integers(0, 9)) == 0:  # Zigbee2MQTT's empty action / device updates
            payload = draw(
                st.sampled_from((b"", b"  ", b'{"action":null}', b'{"action":""}', b'""'))
                | st.just(b'{"battery":97,"linkquality":40}')
            )
            return Case(kind, topic, payload, "valid", "no_action")
        action = draw(st.sampled_from(tuple(SWITCH_INTENTS[switch])))
        payload = draw(switch_payload(action))
        return Case(
            kind, topic, payload, "valid", action, Press(switch, SWITCH_INTENTS[switch][action])
        )
    how = draw(st.integers(0, 5))
    if how == 0 and not via_input:
        slug = draw(_unknown(tuple(SWITCH_GROUP)))
        return Case(kind, f"switch/{slug}/action", b"single", "invalid", "unknown_slug")
    if how == 1:
        action = draw(
            st.one_of(
                st.sampled_from(SWITCH_REFUSED[switch]),
                st.text(max_size=10).map(lambda s: "zz" + s),
            )
        )
        return Case(kind, topic, draw(switch_payload(action)), "invalid", "refused_action")
    if how == 2:
        body = draw(
            st.one_of(
                st.just({}),
                st.fixed_dictionaries({"action": NOT_STR}),
                st.fixed_dictionaries(
                    {
                        "action": st.sampled_from(tuple(SWITCH_INTENTS[switch])),
                        "delta": st.one_of(
                            st.text(max_size=3), st.floats(allow_nan=False), st.booleans()
                        ),
                    }
                ),
                st.lists(FINITE, max_size=3),
                st.just({"action": "\ud800"}),
            )
        )
        return Case(kind, topic, _js(body), "invalid", "bad_json")
    label, payload = draw(everywhere_invalid(("action", "delta")))
    return Case(kind, topic, payload, "invalid", label)


# -- bridge requests ------------------------------------------------------------------------------


def _request(
    name: str, payload: bytes, verdict: str, label: str, effect: Effect | None = None
) -> Case:
    return Case("request", f"bridge/request/{name}", payload, verdict, label, effect, request=name)


@st.composite
def request_case(draw: st.DrawFn, verdict: str) -> Case:
    tx = draw(st.one_of(st.none(), st.text(max_size=8), st.integers(-(2**40), 2**40)))

    def with_tx(body: dict[str, Any]) -> bytes:
        return _js(body if tx is None else {**body, "transaction": tx})

    if verdict == "valid":
        # reload re-reads the database and republishes everything: the costly one
        name = draw(st.sampled_from(VALID_REQUESTS))
        if name == "health_check":
            payload = draw(st.sampled_from((b"", b"  ", b"{}", with_tx({}))))
            return _request(name, payload, "valid", "health")
        if name == "dmx/frame":
            return _request(
                name, with_tx({"universe": draw(st.sampled_from((1, 2)))}), "valid", "frame"
            )
        effect = Tick() if name == "circadian/tick" else None
        return _request(name, with_tx({}), "valid", name, effect)
    how = draw(st.integers(0, 5))
    if how == 0:  # unknown request names, also with extra levels
        name = draw(
            st.one_of(
                st.sampled_from(
                    (
                        "Health_Check",
                        "health-check",
                        "health_check/",
                        "fixture",
                        "fixture/add/x",
                        "",
                    )
                ),
                st.lists(LEVEL, min_size=1, max_size=3)
                .map("/".join)
                .filter(lambda n: n not in REQUESTS),
            )
        )
        return _request(
            name, draw(st.sampled_from((b"{}", b"", b"ON"))), "invalid", "unknown_request"
        )
    name = draw(st.sampled_from(REQUESTS))
    if how == 1:
        payload = draw(
            st.one_of(
                st.lists(FINITE, max_size=3).map(_js),
                st.sampled_from((b"null", b"5", b'"x"', b"true", b"ON")),
                st.dictionaries(UNKNOWN_KEY, FINITE, min_size=1, max_size=2).map(with_tx),
                st.fixed_dictionaries(
                    {
                        "transaction": st.one_of(
                            st.floats(allow_nan=False),  # 2.0 is no integer either
                            st.booleans(),
                            st.lists(st.integers(), max_size=2),
                        )
                    }
                ).map(_js),
            )
        )
        return _request(name, payload, "invalid", "bad_body")
    if how == 2:
        label, payload = draw(everywhere_invalid(("transaction", "slug", "name", "universe")))
        return _request(name, payload, "invalid", label)
    label, body = draw(bad_request_body(name))
    return _request(name, with_tx(body), "invalid", label)


@st.composite
def bad_request_body(draw: st.DrawFn, name: str) -> tuple[str, dict[str, Any]]:
    """A well-formed JSON object the named request refuses (validation or database)."""
    fixture = draw(st.sampled_from(FIXTURES))
    group = draw(st.sampled_from(GROUPS))
    nope = draw(NOPE_SLUG)
    bad = draw(BAD_SLUG)
    options: list[tuple[str, dict[str, Any]]]
    if name == "fixture/add":
        base = {"name": "Fuzz", "slug": nope, "model": 1, "universe": 9, "start_channel": 1}
        options = [
            ("missing", {}),
            ("bad_slug", {**base, "slug": bad}),
            ("bad_name", {**base, "name": draw(st.sampled_from(("", "x" * 201)))}),
            ("unknown_model", {**base, "model": draw(st.sampled_from(("No such model", 999_999)))}),
            ("range", {**base, "start_channel": draw(st.sampled_from((0, 513, -1)))}),
            ("range", {**base, "universe": draw(st.sampled_from((-1, 64_000)))}),
            ("dmx_collision", {**base, "model": "DDP-405 MKII dimmer channel", "universe": 1}),
            ("duplicate", {**base, "slug": fixture, "universe": 9}),
        ]
    elif name in ("fixture/remove", "group/remove", "scene/remove"):
        options = [("unknown", {"slug": nope}), ("bad_slug", {"slug": bad}), ("missing", {})]
    elif name in ("fixture/rename", "group/rename"):
        known = FIXTURES if name.startswith("fixture") else GROUPS
        mine = fixture if name.startswith("fixture") else group
        other = draw(st.sampled_from([s for s in known if s != mine]))
        options = [
            ("unknown", {"slug": nope, "name": "Fuzz"}),
            ("nothing", {"slug": mine}),
            ("duplicate", {"slug": mine, "new_slug": other}),
            ("bad_slug", {"slug": mine, "new_slug": bad}),
            ("bad_name", {"slug": mine, "name": ""}),
        ]
    elif name == "fixture/update":
        options = [
            ("unknown", {"slug": nope, "name": "Fuzz"}),
            ("nothing", {"slug": fixture}),
            ("unknown_model", {"slug": fixture, "model": "No such model"}),
            ("range", {"slug": fixture, "start_channel": 600}),
            ("dmx_collision", {"slug": "kitchen-ceiling", "start_channel": 2}),
        ]
    elif name == "fixture_model/update":
        dimmer = "DDP-405 MKII dimmer channel"
        options = [
            (
                "unknown_model",
                {
                    "model": draw(st.sampled_from(("No such model", 999_999))),
                    "constant_output": True,
                },
            ),
            ("bad_flag", {"model": dimmer, "constant_output": draw(NOT_A_BOOL)}),
            ("missing", {"model": dimmer}),
        ]
    elif name == "group/add":
        options = [
            ("duplicate", {"name": "Fuzz", "slug": group}),
            ("unknown_profile", {"name": "Fuzz", "slug": nope, "circadian_profile": "'; --"}),
            ("bad_slug", {"name": "Fuzz", "slug": bad}),
            ("bad_room", {"name": "Fuzz", "slug": nope, "room": draw(NOT_A_BOOL)}),
        ]
    elif name == "group/update":
        options = [
            ("unknown", {"slug": nope, "room": True}),
            ("nothing", {"slug": group}),
            ("bad_room", {"slug": group, "room": draw(NOT_A_BOOL)}),
            ("unknown_profile", {"slug": group, "circadian_profile": "'; --"}),
            ("bad_name", {"slug": group, "name": ""}),
        ]
    elif name in ("group/members/add", "group/members/remove"):
        options = [
            ("unknown", {"group": nope, "fixture": fixture}),
            ("unknown", {"group": group, "fixture": nope}),
            ("both", {"group": group, "fixture": fixture, "child_group": group}),
            ("neither", {"group": group}),
        ]
        if name.endswith("add"):
            options += [
                ("self", {"group": group, "child_group": group}),
                (
                    "cycle",
                    {
                        "group": "kitchen",
                        "child_group": draw(st.sampled_from(("house", "downstairs"))),
                    },
                ),
            ]
        else:
            options += [("not_member", {"group": "kitchen", "fixture": "study-desk"})]
    elif name == "scene/store":
        options = [
            ("unknown", {"group": nope, "slug": nope}),
            ("bad_slug", {"group": group, "slug": bad}),
            ("missing", {"group": group}),
        ]
    elif name == "dmx/frame":
        options = [
            ("no_output", {"universe": draw(st.integers(3, 63_999))}),
            ("missing", {}),
            ("range", {"universe": 1, "length": draw(st.sampled_from((0, 513, -1, "16", 1.5)))}),
        ]
    elif name == "circadian/clock":  # disabled unless TAU_CIRCADIAN__CLOCK_CONTROL
        options = [
            ("disabled", {"now": draw(st.sampled_from((None, "2026-06-21T12:00+02:00", "x")))})
        ]
    else:  # health_check, reload, circadian/tick take no fields
        options = [("unknown_key", {draw(UNKNOWN_KEY): draw(FINITE)})]
    return draw(st.sampled_from(options))


# -- unrouted topics ------------------------------------------------------------------------------


@st.composite
def unrouted_case(draw: st.DrawFn) -> Case:
    fixture = draw(st.sampled_from(FIXTURES))
    group = draw(st.sampled_from(GROUPS))
    level = draw(LEVEL)
    kind = draw(
        st.sampled_from(("Fixture", "fixtures", "light", "groups", "", "scenes", "Switch"))
        | LEVEL.filter(lambda k: k not in ("fixture", "group", "scene", "switch", "bridge"))
    )
    topic = draw(
        st.sampled_from(
            (
                f"fixture/{fixture}/set/{level}",
                f"group/{group}/set/{level}",
                f"scene/evening/set/{level}",
                f"switch/kitchen-wall/action/{level}",
                f"group/kitchen/circadian/set/{level}",
                f"fixture/{fixture}/{level}x/set",
                f"{kind}/{fixture}/set",
                f"bridge/requests/{level}",
                "bridge/Request/health_check",
                "@input/extra",
                "@input-x",
            )
        )
    )
    payload = draw(st.sampled_from((b"ON", b'{"state":"ON","brightness":200}', b"single", b"{}")))
    return Case("unrouted", topic, payload, "unrouted", "not_subscribed")


def any_case(verdict: str) -> st.SearchStrategy[Case]:
    return st.one_of(
        light_case(verdict),
        light_case(verdict),
        scene_case(verdict),
        circadian_case(verdict),
        switch_case(verdict),
        switch_case(verdict, via_input=True),
        request_case(verdict),
    )


CASES = {
    "invalid": st.one_of(any_case("invalid"), unrouted_case()),
    "valid": any_case("valid"),
    "mixed": st.one_of(any_case("invalid"), any_case("valid"), unrouted_case()),
}
BATCH = st.tuples(st.sampled_from(tuple(CASES)), st.integers(BATCH_SIZE[0], BATCH_SIZE[1])).flatmap(
    lambda drawn: st.tuples(
        st.just(drawn[0]),
        st.lists(CASES[drawn[0]], min_size=drawn[1], max_size=drawn[1]),
    )
)

# Hand-picked boundaries, run once before the generated batches.
EDGE_CASES = [
    Case("request", "bridge/request", b"{}", "invalid", "no_request_name", request=""),
    Case(
        "fixture_set",
        "fixture/study-desk/set",
        b"ON" + b" " * (MAX_PAYLOAD - 2),
        "valid",
        "exactly_max",
        Light(("study-desk",), False, state="ON"),
    ),
    Case(
        "fixture_set",
        "fixture/study-desk/set",
        b"OFF" + b" " * (MAX_PAYLOAD - 2),
        "invalid",
        "max_plus_one",
    ),
    Case(
        "scene_set", "scene/movie/set", b"ON" + b" " * (MAX_PAYLOAD - 1), "invalid", "max_plus_one"
    ),
    Case("fixture_set", "fixture/study-desk/set", b"[" * 40_000, "invalid", "deep_nesting"),
    Case(
        "fixture_set",
        "fixture/study-desk/set",
        b'{"transition":1' + b"0" * 400 + b"}",
        "invalid",
        "float_overflow",
    ),
    Case(
        "fixture_set",
        "fixture/study-desk/set",
        b'{"brightness_pct":-1' + b"0" * 400 + b"}",
        "invalid",
        "float_overflow",
    ),
    Case(
        "fixture_set",
        "fixture/study-desk/set",
        b'{"brightness":' + b"9" * 5000 + b"}",
        "invalid",
        "int_digits",
    ),
    Case("group_set", "group/house/set", b'{"state":"ON","brightness":NaN}', "invalid", "nan"),
    Case(
        "group_set",
        "group/kitchen/set",
        b'{"color":{"r":1,"g":2,"b":3}}',
        "invalid",
        "unsupported_colour",
    ),
    Case(
        "switch_action",
        "switch/bedroom-remote/action",
        b"arrow_left_click",
        "invalid",
        "scene_index_without_scenes",
    ),
    Case(
        "request",
        "bridge/request/fixture/add",
        b'{"name":"x","slug":"edge","model":1,"universe":1,"start_channel":1}',
        "invalid",
        "dmx_collision",
        request="fixture/add",
    ),
    Case(
        "request",
        "bridge/request/group/add",
        b'{"name":"a\\ud800","slug":"edge"}',
        "invalid",
        "lone_surrogate",
        request="group/add",
    ),
    Case(
        "request",
        "bridge/request/group/add",
        b'{"name":"a\\u0000","slug":"edge"}',
        "invalid",
        "nul_in_name",
        request="group/add",
    ),
]


# ------------------------------------------------------------------------ the light model


@dataclass(slots=True)
class Model:
    """What the lights should show; None where an effect is not predictable here
    (circadian levels, the live level a dim ramp stopped at, a toggle of a half-known
    group). Unknowns are re-read from the published states after every batch."""

    state: dict[str, bool | None]
    brightness: dict[str, int | None]
    circadian: dict[str, str | None]
    moving: set[str] = field(default_factory=set)

    def apply(self, effect: Effect) -> None:
        touched: frozenset[str] = frozenset()
        match effect:
            case Light():
                touched = frozenset(effect.fixtures)
                self._light(effect)
            case Recall(scene=scene):
                touched = frozenset(SCENES[scene])
                for slug, (on, level) in SCENES[scene].items():
                    self.moving.discard(slug)
                    self.state[slug], self.brightness[slug] = on, (level if on else None)
            case CircadianSwitch(group=group, on=on):
                self.circadian[group] = "ON" if on else "OFF"
                if on:  # lights that are on move to the profile's current level
                    self._forget_levels(MEMBERS[group])
            case Tick():
                self._forget_levels(GOVERNED)
            case Press(switch=switch, intent=intent):
                touched = frozenset(MEMBERS[SWITCH_GROUP[switch]])
                self._press(MEMBERS[SWITCH_GROUP[switch]], intent)
        # The circadian topic shows ON only while the profile is not suspended, and a
        # command with a level suspends it while an off -> on resumes it: re-read it.
        for group in CIRCADIAN_GROUPS:
            if touched & set(MEMBERS[group]):
                self.circadian[group] = None

    def _forget_levels(self, slugs: Any) -> None:
        for slug in slugs:
            if self.state[slug] is not False:
                self.brightness[slug] = None

    def _press(self, members: tuple[str, ...], intent: str) -> None:
        if intent == "toggle":
            self._light(Light(members, True, state="TOGGLE"))
        elif intent == "full":
            self._light(Light(members, True, state="ON", brightness=255))
        elif intent.startswith("step:"):
            delta = int(intent.removeprefix("step:"))
            on = self._any_on(members)
            if on is None:
                self._forget(members)
            elif on or delta > 0:
                self._light(Light(members, True, state=None if on else "ON", step=delta))
        elif intent == "dim":
            self._light(Light(members, True, move=1))
        elif intent == "stop":
            self._light(Light(members, True, move=0))

    def _forget(self, slugs: tuple[str, ...]) -> None:
        for slug in slugs:
            self.state[slug] = self.brightness[slug] = None

    def _any_on(self, members: tuple[str, ...]) -> bool | None:
        states = [self.state[m] for m in members]
        if any(states):
            return True
        return None if None in states else False

    def _light(self, cmd: Light) -> None:
        if cmd.move is not None:
            for slug in cmd.fixtures:
                if cmd.move:
                    self.state[slug] = self.brightness[slug] = None
                    self.moving.add(slug)
                elif slug in self.moving:  # stops at whatever level the ramp reached
                    self.brightness[slug] = None
                    self.moving.discard(slug)
            return
        want = cmd.state
        if want == "TOGGLE":
            now = self._any_on(cmd.fixtures) if cmd.group else self.state[cmd.fixtures[0]]
            if now is None:
                self.moving.difference_update(cmd.fixtures)
                self._forget(cmd.fixtures)
                return
            want = "OFF" if now else "ON"
        for slug in cmd.fixtures:
            self.moving.discard(slug)
            was, level = self.state[slug], self.brightness[slug]
            on = was if want is None else want == "ON"
            if cmd.brightness is not None:
                if cmd.brightness == 0:
                    on = False
                else:
                    on, level = want != "OFF", cmd.brightness
            if cmd.step is not None:
                if was is None or (was and level is None):
                    on, level = None, None
                else:
                    new = min(max((level if was and level else 0) + cmd.step, 0), 255)
                    if new == 0:
                        on = False
                    else:
                        on, level = want != "OFF", new
            explicit = cmd.brightness is not None or cmd.step is not None or cmd.colour
            if on and was is not True and slug in GOVERNED and not explicit:
                level = None  # turning on without a level lands on the circadian level
            self.state[slug], self.brightness[slug] = on, level

    def expected_group(self, group: str) -> tuple[str | None, int | None]:
        members = MEMBERS[group]
        states = [self.state[m] for m in members]
        if None in states:
            return None, None
        pool = [m for m in members if self.state[m]] or list(members)
        levels = [self.brightness[m] for m in pool]
        level = None if None in levels else max(lv for lv in levels if lv is not None)
        return ("ON" if any(states) else "OFF"), level


# ------------------------------------------------------------------------------ the rig


@dataclass(slots=True)
class Tally:
    cases: int = 0
    invalid: int = 0
    valid: int = 0
    unrouted: int = 0
    batches: int = 0
    logs: int = 0
    errors: int = 0
    oks: int = 0
    drain_max_s: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)


class Rig:
    """The module's bridge, a probe watching its log, responses and states, and the model."""

    def __init__(self, bridge: BridgeProcess, probe: MqttProbe, input_topic: str) -> None:
        self.bridge, self.probe, self.input_topic = bridge, probe, input_topic
        self.base = bridge.base_topic
        self.log_topic = bridge.topic("bridge", "log")
        self.response_prefix = bridge.topic("bridge", "response") + "/"
        for pattern in (
            "bridge/log",
            "bridge/response/#",
            "fixture/+",
            "group/+",
            "group/+/circadian",
        ):
            probe.subscribe(f"{self.base}/{pattern}")
        self.live: dict[str, dict[str, Any]] = {}  # "fixture/<slug>" etc. -> last payload
        self.seen = 0
        self.tally = Tally()
        infos = catalogue(probe, bridge)
        assert {s for s in FIXTURES if infos[f"fixture/{s}"].tunable} == TUNABLE
        assert {s for s in FIXTURES if infos[f"fixture/{s}"].rgb} == RGB
        retained_states(probe, bridge, "fixture", len(FIXTURES))
        self.model = Model(dict.fromkeys(FIXTURES), dict.fromkeys(FIXTURES), {})
        self._sentinel(f"start-{uuid.uuid4().hex[:6]}")
        self._anchor()

    # -- topics

    def full(self, topic: str) -> str:
        if topic.startswith("@input"):
            return self.input_topic + topic.removeprefix("@input")
        return f"{self.base}/{topic}"

    def response(self, name: str) -> str:
        return self.response_prefix + name

    # -- live state

    def _track(self) -> list[Message]:
        """New state messages since the last call, folded into `live`."""
        fresh = self.probe.messages("#", after=self.seen)
        if fresh:
            self.seen = fresh[-1].index + 1
        states = []
        for msg in fresh:
            if not msg.topic.startswith(self.base + "/"):
                continue
            key = msg.topic.removeprefix(self.base + "/")
            parts = key.split("/")
            circadian = len(parts) == 3 and parts[0] == "group" and parts[2] == "circadian"
            if not circadian and not (len(parts) == 2 and parts[0] in ("fixture", "group")):
                continue
            states.append(msg)
            if not msg.payload:
                self.live.pop(key, None)
            else:
                self.live[key] = {"value": msg.text} if circadian else msg.json()
        return states

    def _anchor(self) -> None:
        self._track()
        for slug in FIXTURES:
            got = self.live[f"fixture/{slug}"]
            if self.model.state[slug] is None:
                self.model.state[slug] = got["state"] == "ON"
            if self.model.brightness[slug] is None:
                self.model.brightness[slug] = got["brightness"]
        for group in CIRCADIAN_GROUPS:
            if self.model.circadian.get(group) is None:
                self.model.circadian[group] = self.live[f"group/{group}/circadian"]["value"]

    def _mismatches(self) -> list[str]:
        out = []
        model = self.model
        for slug in FIXTURES:
            got = self.live[f"fixture/{slug}"]
            on, level = model.state[slug], model.brightness[slug]
            if on is not None and got["state"] != ("ON" if on else "OFF"):
                out.append(
                    f"fixture {slug}: state {got['state']}, expected {'ON' if on else 'OFF'}"
                )
            if level is not None and got["brightness"] != level:
                out.append(f"fixture {slug}: brightness {got['brightness']}, expected {level}")
        for group in GROUPS:
            got = self.live[f"group/{group}"]
            state, level = model.expected_group(group)
            if state is not None and got["state"] != state:
                out.append(f"group {group}: state {got['state']}, expected {state}")
            if level is not None and got["brightness"] != level:
                out.append(f"group {group}: brightness {got['brightness']}, expected {level}")
        for group, value in model.circadian.items():
            got_value = self.live[f"group/{group}/circadian"]["value"]
            if value is not None and got_value != value:
                out.append(f"circadian {group}: {got_value}, expected {value}")
        return out

    # -- batches

    def _sentinel(self, transaction: str) -> float:
        mark = self.probe.mark()
        t0 = time.monotonic()
        self.probe.client.publish(
            self.full("bridge/request/health_check"),
            json.dumps({"transaction": transaction}),
            qos=1,
        )
        try:
            self.probe.wait_json(
                self.response("health_check"),
                lambda d: d.get("transaction") == transaction,
                SENTINEL_S,
                after=mark,
            )
        except TimeoutError:
            running = "running" if self.bridge.running else f"exited {self.bridge.returncode}"
            pytest.fail(f"bridge stalled: no sentinel reply in {SENTINEL_S} s ({running})")
        return time.monotonic() - t0

    def run_batch(self, mode: str, cases: list[Case]) -> None:
        tally = self.tally
        tally.batches += 1
        mark = self.probe.mark()
        for case in cases:
            info = self.probe.client.publish(self.full(case.topic), case.payload, qos=1)
            assert info.rc == 0, f"publish refused ({info.rc}): {case!r}"
        drained = self._sentinel(f"batch-{tally.batches}")
        tally.drain_max_s = max(tally.drain_max_s, drained)
        assert self.bridge.running, f"bridge exited with {self.bridge.returncode}"

        invalid = [c for c in cases if c.verdict == "invalid"]
        valid = [c for c in cases if c.verdict == "valid"]
        want_logs = Counter(self.full(c.topic) for c in invalid)
        want_responses = Counter(
            (self.response(c.request), "error" if c.verdict == "invalid" else "ok")
            for c in cases
            if c.request is not None
        )
        want_responses[(self.response("health_check"), "ok")] += 1  # the sentinel

        def logs_and_responses() -> tuple[list[Message], list[Message]]:
            fresh = self.probe.messages("#", after=mark)
            return (
                [m for m in fresh if m.topic == self.log_topic],
                [m for m in fresh if m.topic.startswith(self.response_prefix)],
            )

        def complete() -> bool:
            logs, responses = logs_and_responses()
            return len(logs) >= len(invalid) and len(responses) >= sum(want_responses.values())

        wait_until(complete, SETTLE_S, interval=0.002)
        if any(isinstance(c.effect, Tick) for c in valid):
            # A tick's states are flushed after its reply (and maybe the sentinel's).
            self._sentinel(f"batch-{tally.batches}-tick")
            want_responses[(self.response("health_check"), "ok")] += 1
        logs, responses = logs_and_responses()
        entries = [m.json() for m in logs]
        got_logs = Counter(e.get("topic") for e in entries)
        got_responses = Counter((m.topic, m.json().get("status")) for m in responses)
        problems = []
        if got_logs != want_logs:
            problems.append(
                f"log messages: missing {dict(want_logs - got_logs)}, unexpected "
                f"{dict(got_logs - want_logs)}"
            )
        if got_responses != want_responses:
            problems.append(
                f"responses: missing {dict(want_responses - got_responses)}, unexpected "
                f"{dict(got_responses - want_responses)}"
            )
        for entry in entries:
            if set(entry) != {"level", "message", "topic", "payload"} or not entry["message"]:
                problems.append(f"malformed log entry {entry}")
            elif str(entry["message"]).startswith("internal error"):
                problems.append(f"internal error for {entry['topic']}: {entry['message']}")
        state_msgs = self._track()
        if mode == "invalid" and state_msgs:
            shown = [f"{m.topic}={m.text[:80]}" for m in state_msgs[:5]]
            problems.append(f"an invalid-only batch changed {len(state_msgs)} states: {shown}")
        for case in valid:
            if case.effect is not None:
                self.model.apply(case.effect)
        problems += self._mismatches()
        if problems:
            sent = "\n  ".join(repr(c) for c in cases)
            raise AssertionError(
                f"batch {tally.batches} ({mode}):\n- "
                + "\n- ".join(problems)
                + f"\ncases:\n  {sent}"
            )
        self._anchor()

        tally.cases += len(cases)
        tally.invalid += len(invalid)
        tally.valid += len(valid)
        tally.unrouted += len(cases) - len(invalid) - len(valid)
        tally.logs += len(logs)
        tally.errors += sum(n for (_, status), n in got_responses.items() if status == "error")
        tally.oks += sum(n for (_, status), n in got_responses.items() if status == "ok") - 1
        tally.kinds.update(f"{c.kind}:{c.verdict}" for c in cases)
        tally.labels.update(c.label for c in invalid)

    def ask(self, asks: list[tuple[str, dict[str, Any]]], timeout: float = 20) -> list[Any]:
        """Bridge requests sent back-to-back, their replies (matched by transaction id) in
        order. The response topics are subscribed already: no per-request round trips."""
        mark = self.probe.mark()
        sent = []
        for name, body in asks:
            transaction = uuid.uuid4().hex[:12]
            payload = json.dumps({**body, "transaction": transaction})
            self.probe.client.publish(self.full(f"bridge/request/{name}"), payload, qos=1)
            sent.append(transaction)

        def replies() -> dict[str, Any]:
            found = self.probe.messages(self.response_prefix + "#", after=mark)
            return {str(r.get("transaction")): r for r in (m.json() for m in found)}

        wait_until(lambda: set(sent) <= set(replies()), timeout, interval=0.005)
        got = replies()
        missing = [ask for ask, tx in zip(asks, sent, strict=True) if tx not in got]
        assert not missing, f"no reply in {timeout} s to {missing}"
        return [got[tx] for tx in sent]

    # -- the database

    def row_counts(self) -> dict[str, int]:
        # fixed table names from TABLES, no input in the statement
        counts = ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in CONFIG_TABLES)  # noqa: S608
        query = "SELECT " + counts
        return {k: int(v) for k, v in sql(self.bridge.database_url, query)[0].items()}

    def missing_tables(self) -> list[str]:
        rows = sql(
            self.bridge.database_url,
            "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass('public.' || t) IS NULL",
            list(TABLES),
        )
        return [r["t"] for r in rows]


@pytest.fixture(scope="module")
def rig(module_bridge_factory: Callable[..., BridgeProcess], module_probe: MqttProbe) -> Rig:
    # The remote's input topic is made unique, so the shared broker's other tests never see it.
    input_topic = f"fz-{uuid.uuid4().hex[:8]}/bedroom-remote/action"

    def prepare(url: str) -> None:
        sql(url, "UPDATE switches SET input_topic = $1 WHERE slug = 'bedroom-remote'", input_topic)

    bridge = module_bridge_factory(prepare=prepare, default_transition=0, env=QUIET_ENV)
    return Rig(bridge, module_probe, input_topic)


# ------------------------------------------------------------------------------ the tests


@pytest.mark.usefixtures("quiet_machine")
def test_fuzzed_inputs_are_logged_once_change_nothing_and_never_stall_the_bridge(
    rig: Rig, figure: Callable[..., None]
) -> None:
    t0 = time.monotonic()
    tables_before = rig.row_counts()
    start = rig.probe.mark()
    rig.run_batch("mixed", EDGE_CASES)

    @settings(
        max_examples=BATCHES,
        deadline=None,
        derandomize=True,  # the same batches on every run and in CI
        database=None,
        phases=(Phase.explicit, Phase.generate),  # shrinking a live bridge proves nothing
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(BATCH)
    def batch(drawn: tuple[str, list[Case]]) -> None:
        rig.run_batch(*drawn)

    batch()

    # Nothing arrives late: one more round trip, a moment's quiet, then every total.
    rig._sentinel("final")
    time.sleep(0.3)
    tally = rig.tally
    log_total = len(rig.probe.messages(rig.log_topic, after=start))
    assert log_total == tally.invalid == tally.logs
    retained = retained_states(rig.probe, rig.bridge, "fixture", len(FIXTURES))
    live = {s: light_state(rig.live[f"fixture/{s}"]) for s in FIXTURES}
    assert {s: light_state(retained[s]) for s in FIXTURES} == live
    assert wait_until(lambda: stored_states(rig.bridge.database_url) == live, 5)
    assert rig.row_counts() == tables_before
    log_text = rig.bridge.log_text()
    for marker in ("Traceback", "event=handler_failed", "event=request_failed"):
        assert marker not in log_text, f"{marker!r} in the bridge log:\n{rig.bridge.log_tail(60)}"
    assert rig.bridge.running

    kinds = ("fixture_set", "group_set", "scene_set", "circadian_set", "switch_action")
    for kind in (*kinds, "input_topic", "request"):
        for verdict in ("invalid", "valid"):
            assert tally.kinds[f"{kind}:{verdict}"] > 0, f"no {verdict} {kind} case ran"
    for label in ("oversize", "invalid_utf8", "malformed_json", "nan_infinity", "deep_nesting"):
        assert tally.labels[label] > 0, f"no {label} case ran"
    figure("fuzz_cases", tally.cases)
    figure("fuzz_batches", tally.batches)
    figure("fuzz_invalid", tally.invalid)
    figure("fuzz_valid", tally.valid)
    figure("fuzz_unrouted", tally.unrouted)
    figure("fuzz_log_messages", tally.logs)
    figure("fuzz_error_responses", tally.errors)
    figure("fuzz_ok_responses", tally.oks)
    figure("fuzz_batch_drain_max_s", tally.drain_max_s, "s")
    figure("fuzz_duration_s", time.monotonic() - t0, "s")
    figure("fuzz_cases_by_kind", ", ".join(f"{k}={n}" for k, n in sorted(tally.kinds.items())))
    figure("fuzz_invalid_by_label", ", ".join(f"{k}={n}" for k, n in tally.labels.most_common()))
    assert tally.cases >= MIN_CASES


NASTY_NAMES = (
    "'; DROP TABLE fixtures; --",
    "x'); DELETE FROM groups WHERE ''='",
    "$$; DROP TABLE scenes; $$ $1 %s %(name)s {0} ?",
    "back\\slash \\' E'\\x27' || chr(39)",
    "\"double\" 'single' `tick` /* comment */ -- comment",
    "NULL",
    "ünïcødé 💡 名前 שלום \u2028\u202e\ufeff",
    "line\nbreak\ttab\r",
    "x" * 200,
)
NASTY_SLUGS = (
    "x'; DROP TABLE fixtures; --",
    "' OR '1'='1",
    "a$$b",
    "kitchen\\",
    'kitchen"',
    "kitchen;",
    "KITCHEN",
    "kitchen\n",
)


def test_names_and_slugs_with_sql_metacharacters_are_stored_verbatim_or_refused(
    rig: Rig, figure: Callable[..., None]
) -> None:
    probe, bridge, url = rig.probe, rig.bridge, rig.bridge.database_url
    before = rig.row_counts()
    start = probe.mark()
    model = sql(url, "SELECT id FROM fixture_models WHERE model = 'DDP-405 MKII dimmer channel'")
    model_id = int(model[0]["id"])
    oks = errors = 0

    def ok(*asks: tuple[str, dict[str, Any]]) -> list[Any]:
        nonlocal oks
        replies = rig.ask(list(asks))
        for ask, reply in zip(asks, replies, strict=True):
            assert reply["status"] == "ok", (ask, reply)
        oks += len(asks)
        return [reply["data"] for reply in replies]

    def refused(*asks: tuple[str, dict[str, Any], str]) -> None:
        nonlocal errors
        replies = rig.ask([(name, body) for name, body, _ in asks])
        for (name, body, word), reply in zip(asks, replies, strict=True):
            assert reply["status"] == "error", (name, body, reply)
            message = str(reply["error"])
            assert not message.startswith("internal error"), (name, body, message)
            assert word in message, (name, body, message, word)  # says what was wrong
        errors += len(asks)

    n = len(NASTY_NAMES)
    fixture = {"model": model_id, "universe": 7}
    added = ok(
        *[("group/add", {"name": name, "slug": f"sql-g{i}"}) for i, name in enumerate(NASTY_NAMES)],
        *[
            ("fixture/add", {**fixture, "name": name, "slug": f"sql-f{i}", "start_channel": i + 1})
            for i, name in enumerate(NASTY_NAMES)
        ],
    )
    assert [data["name"] for data in added] == list(NASTY_NAMES) * 2
    ok(*[("group/members/add", {"group": f"sql-g{i}", "fixture": f"sql-f{i}"}) for i in range(n)])
    changed = ok(
        *[
            ("scene/store", {"group": f"sql-g{i}", "slug": f"sql-s{i}", "name": name})
            for i, name in enumerate(NASTY_NAMES)
        ],
        *[
            ("fixture/rename", {"slug": f"sql-f{i}", "name": name[::-1]})
            for i, name in enumerate(NASTY_NAMES)
        ],
    )
    assert [data["name"] for data in changed] == [*NASTY_NAMES, *(m[::-1] for m in NASTY_NAMES)]

    bad_fixture = {"name": "x", "model": model_id, "start_channel": 99}
    refused(
        *[
            ask
            for slug in NASTY_SLUGS
            for ask in (
                ("fixture/add", {**bad_fixture, "slug": slug}, "slug"),
                ("group/add", {"name": "x", "slug": slug}, "slug"),
                ("scene/store", {"group": "kitchen", "slug": slug}, "slug"),
                ("fixture/remove", {"slug": slug}, "slug"),
                ("group/rename", {"slug": "kitchen", "new_slug": slug}, "slug"),
                ("group/members/add", {"group": "kitchen", "fixture": slug}, "fixture"),
            )
        ],
        ("group/add", {"name": "", "slug": "sql-empty"}, "name"),
        ("group/add", {"name": "x" * 201, "slug": "sql-long"}, "name"),
        ("group/add", {"name": "nul\u0000byte", "slug": "sql-nul"}, "0x00"),
        (
            "fixture/update",
            {"slug": "sql-f0", "model": "'; DROP TABLE fixture_models; --"},
            "model",
        ),
        (
            "group/add",
            {"name": "x", "slug": "sql-p", "circadian_profile": "' OR 1=1 --"},
            "profile",
        ),
    )

    assert rig.missing_tables() == []
    after = rig.row_counts()
    grew = {t: after[t] - before[t] for t in CONFIG_TABLES if after[t] != before[t]}
    changed = ("fixtures", "groups", "group_fixtures", "scenes", "scene_values")
    assert grew == dict.fromkeys(changed, n)
    stored = sql(
        url,
        "SELECT g.name AS group_name, f.name AS fixture_name, s.name AS scene_name "
        "FROM unnest($1::int[]) AS i "
        "JOIN groups g ON g.slug = 'sql-g' || i JOIN fixtures f ON f.slug = 'sql-f' || i "
        "JOIN scenes s ON s.slug = 'sql-s' || i ORDER BY i",
        list(range(n)),
    )
    assert [r["group_name"] for r in stored] == list(NASTY_NAMES)
    assert [r["scene_name"] for r in stored] == list(NASTY_NAMES)
    assert [r["fixture_name"] for r in stored] == [name[::-1] for name in NASTY_NAMES]

    # Home Assistant gets the names verbatim too (discovery is JSON, not SQL).
    names_seen: set[str] = set()
    for msg in probe.retained(bridge.discovery_prefix).values():
        names_seen |= _strings(msg.json())
    assert set(NASTY_NAMES) <= names_seen

    # Scenes and memberships go with their group (ON DELETE CASCADE).
    ok(
        *[
            (f"{kind}/remove", {"slug": f"sql-{kind[0]}{i}"})
            for kind in ("fixture", "group")
            for i in range(n)
        ]
    )
    assert rig.row_counts() == before
    rig._sentinel("sql-done")
    time.sleep(0.2)
    logs = [m.json() for m in probe.messages(rig.log_topic, after=start)]
    assert len(logs) == errors, [e["message"] for e in logs]
    assert bridge.running
    figure("sql_names_stored_verbatim", n)
    figure("sql_requests_ok", oks)
    figure("sql_requests_refused", errors)


def _strings(data: Any) -> set[str]:
    if isinstance(data, str):
        return {data}
    if isinstance(data, dict):
        return set().union(*(_strings(v) for v in data.values())) if data else set()
    if isinstance(data, list):
        return set().union(*(_strings(v) for v in data)) if data else set()
    return set()
