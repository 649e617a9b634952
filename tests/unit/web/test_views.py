"""What the pages are built from: free ranges, the universe map, the group tree, the chart."""

from __future__ import annotations

from tau.core.lights import GroupLight
from tau.core.model import Fixture, FixtureModel, Group, Installation
from tau.web import views
from tau.web.html import e

DIMMER = FixtureModel(1, "Acme", "Dim", ("dimmer",), 2700, 6500, "linear", 0.0)
PAR = FixtureModel(
    2, "Acme", "Par", ("dimmer", "red", "green", "blue", "fixed"), 2000, 6500, "linear", 0.0,
    fixed=(0, 0, 0, 0, 255),
)  # fmt: skip


def _inst() -> Installation:
    fixtures = {
        1: Fixture(1, "Lamp", "lamp", DIMMER, 1, 1),
        2: Fixture(2, "Par", "par", PAR, 1, 10),
        3: Fixture(3, "Far", "far", DIMMER, 2, 512),
    }
    groups = {
        10: Group(10, "House", "house", None, frozenset({1, 2, 3}), frozenset(), frozenset({11})),
        11: Group(11, "Room", "room", None, frozenset({1, 2}), frozenset({1, 2}), frozenset()),
    }
    return Installation(fixture_models={1: DIMMER, 2: PAR}, fixtures=fixtures, groups=groups)


def test_free_ranges_are_the_gaps_between_fixtures() -> None:
    assert views.free_ranges([]) == [[1, 512]]
    assert views.free_ranges([(1, 1), (10, 5)]) == [[2, 9], [15, 512]]
    assert views.free_ranges([(1, 512)]) == []
    assert views.free_ranges([(510, 8)]) == [[1, 509]]  # a footprint past 512 is cut


def test_universe_map_has_roles_parked_values_and_free_ranges() -> None:
    found = views.universe_map(_inst())
    assert sorted(found) == [1, 2]
    par = found[1]["fixtures"][1]
    assert par["slug"] == "par"
    assert par["start"] == 10
    assert par["roles"] == ["dimmer", "red", "green", "blue", "fixed"]
    assert par["fixed"] == [0, 0, 0, 0, 255]
    assert found[1]["free"] == [[2, 9], [15, 512]]
    assert found[2]["free"] == [[1, 511]]


def test_group_tree_nests_children_under_parents() -> None:
    light = GroupLight(True, 128, None, None, "brightness")
    rows = views.group_tree(_inst(), lambda _g: light, lambda _g: ["brightness"])
    assert [(r["slug"], r["depth"], r["fixtures"]) for r in rows] == [
        ("house", 0, 3),
        ("room", 1, 2),
    ]
    assert rows[0]["state"] == {  # the words of the group's MQTT state
        "state": "ON",
        "brightness": 128,
        "color_mode": "brightness",
        "effect": None,
    }
    assert rows[0]["kelvin"] == [2000, 6500]  # the Par is tunable, the dimmers are not


def test_group_tree_survives_a_cycle() -> None:
    inst = _inst()
    groups = dict(inst.groups)
    room = groups[11]
    groups[11] = Group(11, room.name, room.slug, None, room.fixture_ids,
                       room.direct_fixture_ids, frozenset({10}))  # fmt: skip
    cyclic = Installation(fixture_models=inst.fixture_models, fixtures=inst.fixtures, groups=groups)
    light = GroupLight(False, 0, None, None, "brightness")
    rows = views.group_tree(cyclic, lambda _g: light, lambda _g: [])
    assert rows == []  # both are somebody's child: no top (and no endless walk)


def test_chart_draws_the_day_with_sun_and_now() -> None:
    points = [(h / 2, 255 * (h % 2), 2700 + 100 * h) for h in range(49)]
    svg = views.chart_svg(points, 12.5, {"sunrise": 6 * 3600, "sunset": 20 * 3600})
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 1 and svg.count("<polygon") == 1
    assert "sunrise" in svg and "sunset" in svg
    assert 'class="now"' in svg
    assert "6500 K" in svg and "1500 K" in svg
    assert views.clock(6 * 3600 + 29 * 60 + 31) == "06:30"


def test_pages_escape_what_they_show() -> None:
    assert e('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"


def test_switch_intents_in_words() -> None:
    assert views.intent_words("toggle") == "toggles"
    assert views.intent_words("step:-32") == "dimmer by 32 of 255"
    assert views.intent_words("step:16") == "brighter by 16 of 255"
    assert views.intent_words("scene_index:2") == "recalls the group's scene number 2"
    assert views.intent_words("scene:reading") == "recalls scene reading"
    assert views.intent_words("none") == "nothing"
    assert views.intent_words("warp:9") == "warp:9"  # unknown: as configured
