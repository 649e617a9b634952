"""Every installation rule is refused by PostgreSQL itself, with a message a user can act on."""

from __future__ import annotations

import itertools
import json

import asyncpg
import pytest

DIMMER = '["dimmer"]'
WARM_COOL_16 = '["warm", "warm_fine", "cool", "cool_fine"]'


async def model(conn: asyncpg.Connection, name: str, channels: str = DIMMER) -> int:
    model_id: int = await conn.fetchval(
        "INSERT INTO fixture_models (manufacturer, model, channels) VALUES ('Test', $1, $2) "
        "RETURNING id",
        name,
        channels,
    )
    return model_id


async def fixture(
    conn: asyncpg.Connection, slug: str, model_id: int, universe: int, start: int
) -> int:
    fixture_id: int = await conn.fetchval(
        "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
        "VALUES ($1, $1, $2, $3, $4) RETURNING id",
        slug,
        model_id,
        universe,
        start,
    )
    return fixture_id


async def group(conn: asyncpg.Connection, slug: str) -> int:
    group_id: int = await conn.fetchval(
        "INSERT INTO groups (name, slug) VALUES ($1, $1) RETURNING id", slug
    )
    return group_id


async def nest(conn: asyncpg.Connection, parent: int, child: int) -> None:
    await conn.execute(
        "INSERT INTO group_hierarchy (parent_group_id, child_group_id) VALUES ($1, $2)",
        parent,
        child,
    )


# ------------------------------------------------------------------------------ DMX


async def test_overlapping_channels_are_refused_naming_both_fixtures(
    db: asyncpg.Connection,
) -> None:
    three = await model(db, "three", '["red", "green", "blue"]')
    one = await model(db, "one")
    await fixture(db, "x", three, 1, 5)
    with pytest.raises(asyncpg.ExclusionViolationError) as err:
        await fixture(db, "y", one, 1, 6)
    assert str(err.value) == (
        "DMX collision: fixture 'y' (universe 1, channels 6-6) "
        "overlaps fixture 'x' (universe 1, channels 5-7)"
    )
    assert err.value.sqlstate == "23P01"
    assert err.value.constraint_name == "fixtures_dmx_no_overlap"


async def test_same_channels_in_another_universe_and_adjacent_ranges_are_fine(
    db: asyncpg.Connection,
) -> None:
    two = await model(db, "two", '["warm", "cool"]')
    await fixture(db, "a", two, 1, 1)
    await fixture(db, "b", two, 2, 1)
    await fixture(db, "c", two, 1, 3)
    await fixture(db, "d", two, 1, 511)
    assert await db.fetchval("SELECT count(*) FROM fixtures") == 4


async def test_moving_a_fixture_onto_another_is_refused(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    await fixture(db, "a", one, 1, 1)
    await fixture(db, "b", one, 1, 2)
    with pytest.raises(
        asyncpg.ExclusionViolationError, match=r"fixture 'b' .* overlaps fixture 'a'"
    ):
        await db.execute("UPDATE fixtures SET start_channel = 1 WHERE slug = 'b'")


async def test_footprint_past_channel_512_is_refused(db: asyncpg.Connection) -> None:
    four = await model(db, "four", WARM_COOL_16)
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await fixture(db, "edge", four, 1, 510)
    assert str(err.value).startswith(
        "DMX footprint past channel 512: fixture 'edge' (universe 1, channels 510-513)"
    )
    assert err.value.constraint_name == "fixtures_last_channel_max_512"
    await fixture(db, "fits", four, 1, 509)


async def test_channel_below_one_is_refused(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    with pytest.raises(asyncpg.CheckViolationError, match="fixtures_start_channel_min_1"):
        await fixture(db, "zero", one, 1, 0)


async def test_universe_out_of_range_is_refused(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    with pytest.raises(asyncpg.CheckViolationError, match="fixtures_universe_0_63999"):
        await fixture(db, "far", one, 64000, 1)


async def test_model_change_that_makes_fixtures_collide_is_refused(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    await fixture(db, "a", one, 1, 1)
    await fixture(db, "b", one, 1, 2)
    with pytest.raises(asyncpg.ExclusionViolationError, match="DMX collision: fixture 'a'"):
        await db.execute(
            'UPDATE fixture_models SET channels = \'["warm", "cool"]\' WHERE id=$1', one
        )
    assert await db.fetchval("SELECT channels FROM fixture_models WHERE id=$1", one) == DIMMER


async def test_model_change_that_overflows_512_is_refused(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    await fixture(db, "last", one, 3, 512)
    with pytest.raises(asyncpg.CheckViolationError, match="past channel 512: fixture 'last'"):
        await db.execute(
            'UPDATE fixture_models SET channels = \'["warm", "cool"]\' WHERE id=$1', one
        )


async def test_model_change_resizes_its_fixtures(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    await fixture(db, "a", one, 1, 1)
    await db.execute("UPDATE fixture_models SET channels = $2 WHERE id=$1", one, WARM_COOL_16)
    row = await db.fetchrow("SELECT channel_count, last_channel FROM fixtures WHERE slug='a'")
    assert (row["channel_count"], row["last_channel"]) == (4, 4)


async def test_fixture_model_values_are_validated(db: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match='unknown channel role "mauve"'):
        await model(db, "mauve", '["red", "mauve"]')
    with pytest.raises(asyncpg.CheckViolationError, match="non-empty JSON array"):
        await model(db, "empty", "[]")
    with pytest.raises(asyncpg.CheckViolationError, match="fixture_models_kelvin_range"):
        await db.execute(
            "INSERT INTO fixture_models (model, min_kelvin, max_kelvin) VALUES ('k', 6500, 2700)"
        )
    with pytest.raises(asyncpg.CheckViolationError, match="fixture_models_dimming_curve_valid"):
        await db.execute("INSERT INTO fixture_models (model, dimming_curve) VALUES ('c', 'log')")
    with pytest.raises(asyncpg.CheckViolationError, match="fixture_models_dimming_curve_valid"):
        await db.execute("INSERT INTO fixture_models (model, dimming_curve) VALUES ('g', '11')")
    with pytest.raises(asyncpg.CheckViolationError, match="fixture_models_min_level_percent"):
        await db.execute("INSERT INTO fixture_models (model, min_level) VALUES ('m', 100)")
    for curve in ("linear", "square", "cie1931", "2.2", "0.5"):
        await db.execute("INSERT INTO fixture_models (model, dimming_curve) VALUES ($1, $1)", curve)


async def test_library_roles_fixed_channels_heads_and_source(db: asyncpg.Connection) -> None:
    par = json.dumps(
        [
            "dimmer",
            *("red", "green", "blue", "white", "amber", "uv", "lime", "cyan", "indigo"),
            {"role": "fixed", "value": 255, "name": "Shutter"},
            {"role": "fixed", "value": 0},
            {"role": "red_fine", "name": "Red fine"},
            {"role": "dimmer", "range": [8, 134], "off": 0, "name": "Dimmer/strobe"},
        ]
    )
    one = await model(db, "par", par)
    assert json.loads(await db.fetchval("SELECT heads FROM fixture_models WHERE id=$1", one)) == []
    source = {"library": "qlcplus", "manufacturer": "A", "model": "Bar", "mode": "6ch"}
    await db.execute(
        "INSERT INTO fixture_models (model, channels, heads, source) VALUES ($1, $2, $3, $4)",
        "bar",
        '["red", "green", "blue", "red", "green", "blue"]',
        "[[1, 2, 3], [4, 5, 6]]",
        json.dumps(source),
    )
    # the footprint rules see object channels like plain ones
    await fixture(db, "p", one, 1, 499)
    with pytest.raises(asyncpg.CheckViolationError, match="DMX footprint past channel 512"):
        await fixture(db, "q", one, 1, 500)
    with pytest.raises(asyncpg.UniqueViolationError, match="fixture_models_source_key"):
        await db.execute(
            "INSERT INTO fixture_models (model, channels, source) VALUES ('bar2', '[\"red\"]', $1)",
            json.dumps(source),
        )


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ('["red", "fixed"]', 'channel 2 is fixed and needs a whole "value" from 0 to 255'),
        ('["red", {"role": "fixed", "value": 256}]', "from 0 to 255 .*got 256"),
        ('["red", {"role": "fixed", "value": -1}]', "from 0 to 255 .*got -1"),
        ('["red", {"role": "fixed", "value": 1.5}]', "whole"),
        ('["red", {"role": "fixed", "value": "255"}]', 'got "255"'),
        ('[{"role": "fixed", "value": 255}]', "every channel is fixed"),
        ('[{"role": "red", "value": 3}]', 'only a fixed channel has a "value"'),
        ('[{"role": "red", "colour": 3}]', 'only the keys "role"'),
        ('[{"value": 3}]', 'must be a role such as "dimmer"'),
        ("[3]", 'must be a role such as "dimmer"'),
        ('["strobe"]', 'unknown channel role "strobe": use dimmer, .*amber, uv, lime'),
        (json.dumps(["dimmer"] * 513), "a DMX universe has 512 channels"),
        ('[{"role": "dimmer", "range": [8, 300], "off": 0}]', r'"range" must be \[value at 0'),
        ('[{"role": "dimmer", "range": [8]}]', r'"range" must be'),
        ('[{"role": "dimmer", "range": [8, 9], "off": 3.5}]', '"off" must be a whole number'),
        ('[{"role": "dimmer", "off": 3}]', '"off" needs a "range"'),
        ('[{"role": "red", "range": [8, 9]}]', 'only a dimmer has a "range" and "off"'),
        ('[{"role": "cct", "range": [16, 255]}]', 'needs both "range" .* and "kelvin"'),
        ('[{"role": "cct", "range": [16, 255], "kelvin": [10000, 900]}]', "1000 to 20000"),
        ('[{"role": "cct", "range": [16, 255], "kelvin": [3000, 3000]}]', "two different"),
        ('[{"role": "cct", "neutral": 256}]', '"neutral" must be a whole number'),
        ('[{"role": "cct", "range": [0, 255], "kelvin": [2700, 6500], "off": 0}]', "only a dimmer"),
        ('[{"role": "red", "neutral": 0}]', 'only a cct channel has a "kelvin" scale'),
    ],
)
async def test_bad_channels_are_refused_with_the_channel_named(
    db: asyncpg.Connection, channels: str, message: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match=f"fixture model 'm': .*{message}"):
        await model(db, "m", channels)
    assert await db.fetchval("SELECT count(*) FROM fixture_models") == 0


async def test_a_ctc_scale_is_stored(db: asyncpg.Connection) -> None:
    ctc = {"role": "cct", "range": [16, 255], "kelvin": [10000, 2500], "neutral": 0}
    await model(db, "ctc", json.dumps(["red", "green", "blue", ctc]))
    stored = await db.fetchval("SELECT channels::text FROM fixture_models WHERE model = 'ctc'")
    assert json.loads(stored)[3] == ctc


@pytest.mark.parametrize(
    ("heads", "message"),
    [
        ("[[1], [2, 3]]", "head 2 lists channel 3, but the model has channels 1-2"),
        ("[[1], [1]]", "head 2 lists channel 1, which is already part of another head"),
        ("[[]]", "head 1 must be a non-empty list"),
        ("[[0]]", "head 1 lists channel 0"),
        ('{"a": 1}', "heads must be a JSON array"),
    ],
)
async def test_bad_heads_are_refused(db: asyncpg.Connection, heads: str, message: str) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match=f"fixture model 'h': {message}"):
        await db.execute(
            "INSERT INTO fixture_models (model, channels, heads) VALUES ('h', $1, $2)",
            '["red", "green"]',
            heads,
        )


async def test_bad_source_is_refused(db: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match=r"source must be .*got"):
        await db.execute(
            "INSERT INTO fixture_models (model, source) VALUES ('s', $1)",
            '{"library": "qlcplus", "manufacturer": "A", "model": "B"}',
        )


async def test_shrinking_a_model_below_its_heads_is_refused(db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO fixture_models (model, channels, heads) VALUES ('h', $1, '[[1], [2]]')",
        '["red", "green"]',
    )
    with pytest.raises(asyncpg.CheckViolationError, match="head 2 lists channel 2"):
        await db.execute("UPDATE fixture_models SET channels = '[\"red\"]' WHERE model = 'h'")


# --------------------------------------------------------------------------- groups


async def test_cycle_is_refused(db: asyncpg.Connection) -> None:
    house, floor, room = [await group(db, s) for s in ("house", "floor", "room")]
    await nest(db, house, floor)
    await nest(db, floor, room)
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await nest(db, room, house)
    assert str(err.value) == (
        "group nesting cycle: 'house' is already an ancestor of 'room', "
        "so it cannot also be its child"
    )
    assert err.value.constraint_name == "group_hierarchy_no_cycle"


async def test_self_parent_is_refused(db: asyncpg.Connection) -> None:
    solo = await group(db, "solo")
    with pytest.raises(asyncpg.CheckViolationError, match="'solo' cannot contain itself"):
        await nest(db, solo, solo)


async def test_five_levels_are_refused_four_are_fine(db: asyncpg.Connection) -> None:
    ids = [await group(db, f"g{n}") for n in range(1, 6)]
    for parent, child in itertools.pairwise(ids[:4]):
        await nest(db, parent, child)  # g1 > g2 > g3 > g4: 4 levels
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await nest(db, ids[3], ids[4])
    assert str(err.value) == (
        "group nesting too deep: putting 'g5' inside 'g4' would make 5 levels "
        "(g1 > g2 > g3 > g4 > g5), the maximum is 4"
    )
    # joining two chains in the middle counts both halves
    a, b, c, d = [await group(db, s) for s in "abcd"]
    await nest(db, a, b)
    await nest(db, c, d)
    with pytest.raises(asyncpg.CheckViolationError, match="5 levels"):
        await nest(db, ids[2], c)  # g1 > g2 > g3 > c > d
    await nest(db, b, c)  # a > b > c > d: 4 levels


async def test_hierarchy_update_is_checked_too(db: asyncpg.Connection) -> None:
    a, b, c = [await group(db, s) for s in "abc"]
    await nest(db, a, b)
    await nest(db, b, c)
    with pytest.raises(asyncpg.CheckViolationError, match="group nesting cycle"):
        await db.execute(
            "UPDATE group_hierarchy SET child_group_id=$1 WHERE parent_group_id=$2", a, b
        )
    # replacing an edge is judged without the edge it replaces
    await db.execute("UPDATE group_hierarchy SET parent_group_id=$1 WHERE child_group_id=$2", a, c)


# ---------------------------------------------------------------------------- slugs


@pytest.mark.parametrize("slug", ["Kitchen", "-kitchen", "kitchen ceiling", "k" * 64, "", "küche"])
async def test_bad_slugs_are_refused(db: asyncpg.Connection, slug: str) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await db.execute("INSERT INTO groups (name, slug) VALUES ('x', $1)", slug)
    assert str(err.value).startswith(f"groups: invalid slug '{slug}': use 1-63 characters")
    assert err.value.constraint_name == "groups_slug_format"


async def test_slug_rule_on_every_table(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    with pytest.raises(asyncpg.CheckViolationError, match="fixtures: invalid slug 'A'"):
        await fixture(db, "A", one, 1, 1)
    with pytest.raises(asyncpg.CheckViolationError, match="scenes: invalid slug"):
        await db.execute("INSERT INTO scenes (name, slug) VALUES ('x', 'Bad Scene')")
    sm = await db.fetchval("INSERT INTO switch_models (model) VALUES ('b') RETURNING id")
    with pytest.raises(asyncpg.CheckViolationError, match="switches: invalid slug"):
        await db.execute(
            "INSERT INTO switches (name, slug, switch_model_id) VALUES ('x', '_x', $1)", sm
        )
    for ok in ("a", "0", "kitchen-ceiling_2", "k" * 63):
        await db.execute("INSERT INTO groups (name, slug) VALUES ('x', $1)", ok)


async def test_duplicate_slug_is_refused(db: asyncpg.Connection) -> None:
    await group(db, "kitchen")
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await group(db, "kitchen")
    assert err.value.constraint_name == "groups_slug_key"
    assert "(slug)=(kitchen) already exists" in (err.value.detail or "")


# ----------------------------------------------------------------------- state, scenes


async def test_brightness_range_is_enforced(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    fid = await fixture(db, "a", one, 1, 1)
    for bad in (-1, 256):
        with pytest.raises(asyncpg.CheckViolationError, match="fixture_state_brightness_0_255"):
            await db.execute(
                "INSERT INTO fixture_state (fixture_id, brightness) VALUES ($1, $2)", fid, bad
            )
    scene = await db.fetchval("INSERT INTO scenes (name, slug) VALUES ('s', 's') RETURNING id")
    with pytest.raises(asyncpg.CheckViolationError, match="scene_values_brightness_0_255"):
        await db.execute(
            "INSERT INTO scene_values (scene_id, fixture_id, brightness) VALUES ($1, $2, 300)",
            scene,
            fid,
        )
    await db.execute("INSERT INTO fixture_state (fixture_id, brightness) VALUES ($1, 255)", fid)


async def test_kelvin_range_is_enforced(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    fid = await fixture(db, "a", one, 1, 1)
    for bad in (999, 20001):
        with pytest.raises(asyncpg.CheckViolationError, match="fixture_state_kelvin_1000_20000"):
            await db.execute(
                "INSERT INTO fixture_state (fixture_id, kelvin) VALUES ($1, $2)", fid, bad
            )
    with pytest.raises(asyncpg.CheckViolationError, match="fixture_state_color_rgb"):
        await db.execute(
            "INSERT INTO fixture_state (fixture_id, color) VALUES ($1, $2)",
            fid,
            json.dumps({"r": 300, "g": 0, "b": 0}),
        )


@pytest.mark.parametrize(
    ("keyframes", "message"),
    [
        ("{}", "non-empty JSON array"),
        ("[]", "non-empty JSON array"),
        ('["06:30"]', "keyframe 1 must be an object"),
        ('[{"brightness": 20, "kelvin": 2700}]', 'keyframe 1: "at" must be HH:MM'),
        ('[{"at": "25:00", "brightness": 20, "kelvin": 2700}]', '"at" must be HH:MM'),
        ('[{"at": "dusk", "brightness": 20, "kelvin": 2700}]', '"at" must be HH:MM'),
        ('[{"at": "sunrise+1h", "brightness": 20, "kelvin": 2700}]', '"at" must be HH:MM'),
        ('[{"at": "06:30", "brightness": 101, "kelvin": 2700}]', '"brightness" must be a number'),
        ('[{"at": "06:30", "brightness": "20", "kelvin": 2700}]', '"brightness" must be a number'),
        ('[{"at": "06:30", "brightness": 20, "kelvin": 500}]', '"kelvin" must be a number'),
        (
            '[{"at": "06:30", "brightness": 20, "kelvin": 2700}, {"at": "noon", "brightness": 5}]',
            'keyframe 2: "kelvin"',
        ),
    ],
)
async def test_bad_keyframes_are_refused(
    db: asyncpg.Connection, keyframes: str, message: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match=message) as err:
        await db.execute(
            "INSERT INTO circadian_profiles (name, keyframes) VALUES ('p', $1)", keyframes
        )
    assert str(err.value).startswith("circadian profile 'p': ")
    assert err.value.constraint_name == "circadian_profiles_keyframes_valid"


async def test_good_keyframes_are_accepted(db: asyncpg.Connection) -> None:
    frames = [
        {"at": "6:30", "brightness": 20, "kelvin": 2700},
        {"at": "sunrise+00:30", "brightness": 100, "kelvin": 5000},
        {"at": "noon", "brightness": 99.5, "kelvin": 5500},
        {"at": "sunset-01:00", "brightness": 0, "kelvin": 3500},
        {"at": "23:59", "brightness": 30, "kelvin": 2200},
    ]
    await db.execute(
        "INSERT INTO circadian_profiles (name, keyframes) VALUES ('p', $1)", json.dumps(frames)
    )


# --------------------------------------------------------------------------- switches


async def test_switch_rules(db: asyncpg.Connection) -> None:
    sm = await db.fetchval("INSERT INTO switch_models (model) VALUES ('b') RETURNING id")
    g = await group(db, "g")
    one = await model(db, "one")
    f = await fixture(db, "f", one, 1, 1)
    insert = (
        "INSERT INTO switches (name, slug, switch_model_id, target_group_id, target_fixture_id, "
        "input_topic, double_tap_ms, mapping) VALUES ('s', $1, $2, $3, $4, $5, $6, $7)"
    )
    with pytest.raises(asyncpg.CheckViolationError, match="switches_one_target"):
        await db.execute(insert, "s1", sm, g, f, None, 500, "{}")
    for topic in ("zigbee2mqtt/+/action", "zigbee2mqtt/#", ""):
        with pytest.raises(asyncpg.CheckViolationError, match="switches_input_topic_no_wildcards"):
            await db.execute(insert, "s2", sm, g, None, topic, 500, "{}")
    with pytest.raises(asyncpg.CheckViolationError, match="switches_double_tap_ms_200_900"):
        await db.execute(insert, "s3", sm, g, None, None, 1000, "{}")
    with pytest.raises(asyncpg.CheckViolationError, match="switches_mapping_valid"):
        await db.execute(insert, "s4", sm, g, None, None, 500, '{"single": "explode"}')
    with pytest.raises(asyncpg.CheckViolationError, match="switch_models_action_map_valid"):
        await db.execute("INSERT INTO switch_models (model, action_map) VALUES ('x', '[]')")
    mapping = json.dumps({"single": "scene:movie", "double": "step:-32", "hold": "scene_index:2"})
    await db.execute(insert, "ok", sm, None, f, "zigbee2mqtt/remote/action", 200, mapping)
    # deleting the target leaves the switch configured, untargeted
    await db.execute("DELETE FROM fixtures WHERE id=$1", f)
    assert await db.fetchval("SELECT target_fixture_id FROM switches WHERE slug='ok'") is None


async def test_fixture_model_in_use_cannot_be_deleted(db: asyncpg.Connection) -> None:
    one = await model(db, "one")
    await fixture(db, "a", one, 1, 1)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="fixtures_fixture_model_id_fkey"):
        await db.execute("DELETE FROM fixture_models WHERE id=$1", one)


async def test_updated_at_moves_on_update(db: asyncpg.Connection) -> None:
    gid = await group(db, "g")
    async with db.transaction():
        before = await db.fetchval("SELECT updated_at FROM groups WHERE id=$1", gid)
    await db.execute("UPDATE groups SET name='G' WHERE id=$1", gid)
    after = await db.fetchval("SELECT updated_at FROM groups WHERE id=$1", gid)
    assert after > before
