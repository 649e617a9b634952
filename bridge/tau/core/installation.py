"""The installation model and stored state, built from the rows `tau.db.loader` reads.

Pure: rows (mappings of column name to value) in, `Installation` / states out, and
the renderer's patch (`patches`) from an `Installation`.
`fixture_models.channels` and the other JSON columns are decoded here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tau.core.commands import Colour
from tau.core.lights import FixtureState, GroupState
from tau.core.model import (
    CircadianProfile,
    Fixture,
    FixtureModel,
    Group,
    Installation,
    Scene,
    SceneValue,
    Switch,
    SwitchModel,
)
from tau.dmx.types import CtcScale, Patch

if TYPE_CHECKING:
    from tau.db.loader import InstallationRows


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


Span = tuple[int, int, int]


def model_channels(
    value: Any,
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[Span | None, ...], CtcScale | None]:
    """`fixture_models.channels` as (roles, fixed values, dimmer spans, CTC scale).

    An element is a role string or an object `{"role": …, "value": 0-255 (fixed),
    "range": [at 0 %, at 100 %], "off": … (a dimmer sharing its channel), "name": …}`,
    or for a CTC channel `{"role": "cct", "range": [DMX, DMX], "kelvin": [K at the
    first, K at the second], "neutral": DMX}`. Fixed values and spans are per channel
    (0 / None for the other channels), or () when no channel has one; the CTC scale
    is the first cct channel's.
    """
    roles: list[str] = []
    fixed: list[int] = []
    spans: list[Span | None] = []
    ctc: CtcScale | None = None
    for item in _json(value):
        if isinstance(item, dict):
            roles.append(str(item["role"]))
            fixed.append(int(item.get("value", 0)))
            rng = item.get("range")
            if item["role"] == "cct":
                spans.append(None)
                if ctc is None and rng is not None and item.get("kelvin") is not None:
                    k0, k1 = item["kelvin"]
                    neutral = item.get("neutral")
                    ctc = CtcScale(
                        (int(rng[0]), int(rng[1])),
                        (int(k0), int(k1)),
                        None if neutral is None else int(neutral),
                    )
            elif rng is None:
                spans.append(None)
            else:
                lo, hi = int(rng[0]), int(rng[1])
                spans.append((lo, hi, int(item.get("off", lo))))
        else:
            roles.append(str(item))
            fixed.append(0)
            spans.append(None)
    return (
        tuple(roles),
        tuple(fixed) if "fixed" in roles else (),
        tuple(spans) if any(s is not None for s in spans) else (),
        ctc,
    )


def _rgb(value: Any) -> tuple[int, ...] | None:
    """A stored `color` (scene values, fixture state), {r, g, b[, w] | [, c, w]}, or None."""
    data = _json(value)
    if data is None:
        return None
    colour = Colour.model_validate(data, strict=False)  # the database allows 255.0
    return colour.as_tuple()


Row = Mapping[str, Any]


def _uid(r: Row) -> str:
    """An object's `uid` column as text ("" in rows made by hand, without one)."""
    value = r.get("uid")
    return str(value) if value is not None else ""


def installation_from_rows(rows: InstallationRows) -> Installation:
    """The installation model from one consistent snapshot of the configuration tables."""
    models = {r["id"]: _fixture_model(r) for r in rows.fixture_models}
    fixtures = {
        r["id"]: Fixture(
            r["id"],
            r["name"],
            r["slug"],
            models[r["fixture_model_id"]],
            r["universe"],
            r["start_channel"],
            _uid(r),
        )
        for r in rows.fixtures
    }
    profiles = {
        r["id"]: CircadianProfile(
            r["id"],
            r["name"],
            tuple(_json(r["keyframes"])),
            r.get("take_over") or "changed",
            r.get("resume_after_s"),
            r.get("sleep_brightness_pct") or 1.0,
            r.get("sleep_kelvin"),
        )
        for r in rows.circadian_profiles
    }
    switch_models, switches = _switches(rows)
    return build_installation(
        models,
        fixtures,
        _groups(rows),
        profiles,
        _scenes(rows),
        switch_models,
        switches,
        installation_id=rows.installation_id,
    )


def _fixture_model(r: Row) -> FixtureModel:
    roles, fixed, spans, ctc = model_channels(r["channels"])
    return FixtureModel(
        id=r["id"],
        manufacturer=r["manufacturer"],
        model=r["model"],
        channels=roles,
        min_kelvin=r["min_kelvin"],
        max_kelvin=r["max_kelvin"],
        dimming_curve=r["dimming_curve"],
        min_level=float(r["min_level"]),
        fixed=fixed,
        spans=spans,
        ctc=ctc,
        constant_output=bool(r.get("constant_output", False)),
        heads=tuple(tuple(int(c) for c in head) for head in _json(r["heads"])),
    )


def _groups(rows: InstallationRows) -> dict[int, Group]:
    direct: dict[int, set[int]] = defaultdict(set)
    for r in rows.group_fixtures:
        direct[r["group_id"]].add(r["fixture_id"])
    children: dict[int, set[int]] = defaultdict(set)
    for r in rows.group_hierarchy:
        children[r["parent_group_id"]].add(r["child_group_id"])
    members: dict[int, set[int]] = defaultdict(set)
    for r in rows.group_membership:
        members[r["group_id"]].add(r["fixture_id"])
    return {
        r["id"]: Group(
            r["id"],
            r["name"],
            r["slug"],
            r["circadian_profile_id"],
            frozenset(members[r["id"]]),
            frozenset(direct[r["id"]]),
            frozenset(children[r["id"]]),
            _uid(r),
            bool(r.get("is_room", False)),
        )
        for r in rows.groups
    }


def _scenes(rows: InstallationRows) -> dict[int, Scene]:
    values: dict[int, list[SceneValue]] = defaultdict(list)
    for r in rows.scene_values:
        values[r["scene_id"]].append(
            SceneValue(
                r["fixture_id"],
                r["is_on"],
                r["brightness"],
                r["kelvin"],
                _rgb(r["color"]),
                r.get("effect"),
            )
        )
    return {
        r["id"]: Scene(
            r["id"], r["name"], r["slug"], r["group_id"], tuple(values[r["id"]]), _uid(r)
        )
        for r in rows.scenes
    }


def _switches(rows: InstallationRows) -> tuple[dict[int, SwitchModel], dict[int, Switch]]:
    models = {
        r["id"]: SwitchModel(
            r["id"],
            r["manufacturer"],
            r["model"],
            r["kind"],
            tuple(_json(r["actions"])),
            dict(_json(r["action_map"])),
        )
        for r in rows.switch_models
    }
    switches = {
        r["id"]: Switch(
            id=r["id"],
            name=r["name"],
            slug=r["slug"],
            model=models[r["switch_model_id"]],
            target_group_id=r["target_group_id"],
            target_fixture_id=r["target_fixture_id"],
            input_topic=r["input_topic"],
            mapping=dict(_json(r["mapping"])),
            double_tap_ms=r["double_tap_ms"],
            hold_ms=r["hold_ms"],
            dim_speed_ms=r["dim_speed_ms"],
            uid=_uid(r),
        )
        for r in rows.switches
    }
    return models, switches


def build_installation(
    models: dict[int, FixtureModel],
    fixtures: dict[int, Fixture],
    groups: dict[int, Group],
    profiles: dict[int, CircadianProfile],
    scenes: dict[int, Scene],
    switch_models: dict[int, SwitchModel],
    switches: dict[int, Switch],
    installation_id: str = "",
) -> Installation:
    groups_of: dict[int, set[int]] = defaultdict(set)
    for gid, group in groups.items():
        for fid in group.fixture_ids:
            groups_of[fid].add(gid)
    return Installation(
        id=installation_id,
        fixture_models=models,
        fixtures=fixtures,
        groups=groups,
        profiles=profiles,
        scenes=scenes,
        switch_models=switch_models,
        switches=switches,
        fixture_by_slug={f.slug: i for i, f in fixtures.items()},
        group_by_slug={g.slug: i for i, g in groups.items()},
        scene_by_slug={s.slug: i for i, s in scenes.items()},
        switch_by_slug={s.slug: i for i, s in switches.items()},
        groups_of_fixture={fid: frozenset(g) for fid, g in groups_of.items()},
    )


def state_from_rows(
    fixture_rows: Iterable[Row], group_rows: Iterable[Row]
) -> tuple[dict[int, FixtureState], dict[int, GroupState]]:
    """The stored fixture and group states (`fixture_state`, `group_state` rows)."""
    fixtures = {
        r["fixture_id"]: FixtureState(
            is_on=r["is_on"],
            brightness=r["brightness"],
            kelvin=r["kelvin"],
            color=_rgb(r["color"]),
            color_mode=r["color_mode"] or "brightness",
            circadian_suspended=r["circadian_suspended"],
            suspended_at=r["suspended_at"].timestamp() if r["suspended_at"] else None,
            source="restore",
            effect=r.get("effect"),
            effect_seed=r.get("effect_seed"),
            colour_suspended=bool(r.get("colour_suspended")),
        )
        for r in fixture_rows
    }
    groups = {
        r["group_id"]: GroupState(
            circadian_enabled=r["circadian_enabled"],
            circadian_suspended=r["circadian_suspended"],
            suspended_at=r["suspended_at"].timestamp() if r["suspended_at"] else None,
            sleep=bool(r.get("sleep")),
        )
        for r in group_rows
    }
    return fixtures, groups


def patches(inst: Installation) -> list[Patch]:
    """What the renderer needs of each fixture (`Renderer.set_patch`)."""
    return [
        Patch(
            fixture_id=f.id,
            universe=f.universe,
            start_channel=f.start_channel,
            channels=f.model.channels,
            min_kelvin=f.model.min_kelvin,
            max_kelvin=f.model.max_kelvin,
            dimming_curve=f.model.dimming_curve,
            min_level=f.model.min_level,
            fixed=f.model.fixed,
            spans=f.model.spans,
            ctc=f.model.ctc,
            constant_output=f.model.constant_output,
        )
        for f in inst.fixtures.values()
    ]
