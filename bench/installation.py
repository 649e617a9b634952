"""Synthetic installations written straight into a fresh database (bulk SQL, no seeds).

Fixtures are spread in blocks over the given universes, patched back to back from
channel 1. An optional 4-level group tree (root → 2 → 4 → 8 leaves) holds them:
leaf k gets the fixtures of the k-th eighth of the universes, so with 8 universes
each leaf is one universe. Leaves may carry a circadian profile, and stored state
may be written so the bridge has something to restore.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

DIMMER = (["dimmer"], 2700, 6500)
TUNABLE = (["warm", "cool"], 2700, 6500)

ALL_DAY = [
    {"at": "00:00", "brightness": 20, "kelvin": 2700},
    {"at": "06:00", "brightness": 60, "kelvin": 3500},
    {"at": "12:00", "brightness": 100, "kelvin": 5000},
    {"at": "18:00", "brightness": 70, "kelvin": 3200},
]


@dataclass(frozen=True, slots=True)
class Spot:
    id: int
    slug: str
    universe: int
    channel: int


@dataclass(frozen=True, slots=True)
class Layout:
    fixtures: list[Spot]
    groups: dict[str, int]  # slug -> id
    root: str | None
    leaves: list[str]


def spread(count: int, universes: Sequence[int], footprint: int) -> list[tuple[int, int]]:
    """(universe, start channel) for `count` fixtures, in equal blocks per universe."""
    per = -(-count // len(universes))
    if per * footprint > 512:
        raise ValueError(f"{per} fixtures of {footprint} channels do not fit one universe")
    return [(universes[i // per], 1 + (i % per) * footprint) for i in range(count)]


async def build(
    url: str,
    count: int,
    universes: Sequence[int],
    *,
    model: tuple[list[str], int, int] = DIMMER,
    tree: bool = False,
    circadian: bool = False,
    stored_on: bool = False,
    prefix: str = "f",
) -> Layout:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        async with conn.transaction():
            return await _build(conn, count, universes, model, tree, circadian, stored_on, prefix)
    finally:
        await conn.close()


async def _build(
    conn: asyncpg.Connection,
    count: int,
    universes: Sequence[int],
    model: tuple[list[str], int, int],
    tree: bool,
    circadian: bool,
    stored_on: bool,
    prefix: str,
) -> Layout:
    channels, lo, hi = model
    model_id = await conn.fetchval(
        "INSERT INTO fixture_models (manufacturer, model, channels, min_kelvin, max_kelvin, "
        "dimming_curve, min_level) VALUES ('Bench', $1, $2::jsonb, $3, $4, 'linear', 0) "
        "RETURNING id",
        "+".join(channels),
        json.dumps(channels),
        lo,
        hi,
    )
    places = spread(count, universes, len(channels))
    width = len(str(count))
    slugs = [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]
    await conn.execute(
        "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
        "SELECT 'Bench ' || s, s, $1, u, c FROM unnest($2::text[], $3::int[], $4::int[]) "
        "AS t(s, u, c)",
        model_id,
        slugs,
        [u for u, _ in places],
        [c for _, c in places],
    )
    rows = await conn.fetch(
        "SELECT id, slug, universe, start_channel FROM fixtures WHERE fixture_model_id = $1 "
        "ORDER BY slug",
        model_id,
    )
    spots = [Spot(r["id"], r["slug"], r["universe"], r["start_channel"]) for r in rows]
    groups: dict[str, int] = {}
    leaves: list[str] = []
    root = None
    if tree:
        profile_id = None
        if circadian:
            profile_id = await conn.fetchval(
                "INSERT INTO circadian_profiles (name, keyframes) VALUES ('Bench day', $1::jsonb) "
                "RETURNING id",
                json.dumps(ALL_DAY),
            )
        root, leaves = await _tree(conn, spots, universes, groups, profile_id)
    if stored_on:
        ids = [s.id for s in spots]
        if model is TUNABLE:
            await conn.execute(
                "INSERT INTO fixture_state (fixture_id, is_on, brightness, kelvin) "
                "SELECT id, true, 128, 3000 FROM unnest($1::int[]) AS t(id)",
                ids,
            )
        else:
            await conn.execute(
                "INSERT INTO fixture_state (fixture_id, is_on, brightness) "
                "SELECT id, true, 128 FROM unnest($1::int[]) AS t(id)",
                ids,
            )
    return Layout(spots, groups, root, leaves)


async def _tree(
    conn: asyncpg.Connection,
    spots: list[Spot],
    universes: Sequence[int],
    groups: dict[str, int],
    profile_id: int | None,
) -> tuple[str, list[str]]:
    async def group(slug: str, profile: int | None = None) -> int:
        gid = await conn.fetchval(
            "INSERT INTO groups (name, slug, circadian_profile_id) VALUES ($1, $1, $2) "
            "RETURNING id",
            slug,
            profile,
        )
        groups[slug] = gid
        return int(gid)

    async def nest(parent: int, child: int) -> None:
        await conn.execute(
            "INSERT INTO group_hierarchy (parent_group_id, child_group_id) VALUES ($1, $2)",
            parent,
            child,
        )

    root = await group("bench-root")
    leaves: list[str] = []
    for a in range(2):
        l2 = await group(f"bench-l2-{a}")
        await nest(root, l2)
        for b in range(2):
            l3 = await group(f"bench-l3-{a}{b}")
            await nest(l2, l3)
            for c in range(2):
                k = a * 4 + b * 2 + c
                slug = f"bench-leaf-{k}"
                leaf = await group(slug, profile_id)
                await nest(l3, leaf)
                leaves.append(slug)
                index = {u: i for i, u in enumerate(universes)}
                members = [s.id for s in spots if index[s.universe] * 8 // len(universes) == k]
                await conn.execute(
                    "INSERT INTO group_fixtures (group_id, fixture_id) "
                    "SELECT $1, f FROM unnest($2::int[]) AS t(f)",
                    leaf,
                    members,
                )
    return "bench-root", leaves
