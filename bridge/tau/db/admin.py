"""Installation changes requested over MQTT (bridge requests), as parameterised SQL.

Every statement uses bind parameters: names and slugs are stored verbatim or
rejected by the schema's checks, never executed. Database refusals (DMX
collisions, nesting depth, duplicate slugs) come back as `DatabaseError` with
the database's own message, made readable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from tau.colours import colour_json
from tau.errors import DatabaseError, UnknownTargetError


def explain_refusal(exc: asyncpg.PostgresError) -> str:
    """The database's refusal as one sentence for the requester."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        detail = getattr(exc, "detail", None) or ""
        return f"already exists: {detail or exc}".rstrip()
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        detail = getattr(exc, "detail", None) or str(exc)
        return f"refers to something that does not exist or is still in use: {detail}"
    if isinstance(exc, asyncpg.CheckViolationError):
        return f"invalid value ({exc.constraint_name or 'check'}): {exc}"
    return str(exc)


async def _run(pool: asyncpg.Pool, query: str, *args: Any) -> list[asyncpg.Record]:
    try:
        async with pool.acquire(timeout=5) as conn:
            return list(await conn.fetch(query, *args))
    except asyncpg.PostgresError as exc:
        raise DatabaseError(explain_refusal(exc)) from None
    except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
        raise DatabaseError(f"database unavailable, nothing was changed ({exc!r})") from None


async def one(pool: asyncpg.Pool, query: str, *args: Any, missing: str) -> dict[str, Any]:
    rows = await _run(pool, query, *args)
    if not rows:
        raise UnknownTargetError(missing)
    return dict(rows[0])


async def model_id(pool: asyncpg.Pool, ref: int | str) -> int:
    """A fixture model by id, or by `"Manufacturer Model"` / model name."""
    if isinstance(ref, int):
        row = await one(
            pool,
            "SELECT id FROM fixture_models WHERE id=$1",
            ref,
            missing=f"no fixture model {ref}",
        )
    else:
        row = await one(
            pool,
            "SELECT id FROM fixture_models WHERE model=$1 OR manufacturer || ' ' || model=$1 "
            "ORDER BY id LIMIT 1",
            ref,
            missing=f"no fixture model named {ref!r}",
        )
    return int(row["id"])


async def add_fixture(
    pool: asyncpg.Pool, name: str, slug: str, model: int, universe: int, start_channel: int
) -> dict[str, Any]:
    return await one(
        pool,
        "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id, name, slug, universe, start_channel",
        name,
        slug,
        model,
        universe,
        start_channel,
        missing="fixture not created",
    )


async def update_fixture(pool: asyncpg.Pool, slug: str, changes: dict[str, Any]) -> dict[str, Any]:
    columns = {"name", "slug", "fixture_model_id", "universe", "start_channel"}
    return await _update(pool, "fixtures", slug, changes, columns, "fixture")


async def update_group(pool: asyncpg.Pool, slug: str, changes: dict[str, Any]) -> dict[str, Any]:
    columns = {"name", "slug", "circadian_profile_id", "is_room"}
    returning = "id, name, slug, is_room AS room"
    return await _update(pool, "groups", slug, changes, columns, "group", returning)


async def _update(
    pool: asyncpg.Pool,
    table: str,
    slug: str,
    changes: dict[str, Any],
    allowed: set[str],
    what: str,
    returning: str = "id, name, slug",
) -> dict[str, Any]:
    cols = [c for c in changes if c in allowed]
    if not cols:
        raise DatabaseError("nothing to change")
    # column names come from the fixed allow-list above, values are bound parameters
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(cols))
    return await one(
        pool,
        f"UPDATE {table} SET {assignments} WHERE slug = $1 RETURNING {returning}",  # noqa: S608
        slug,
        *[changes[c] for c in cols],
        missing=f"unknown {what} {slug!r}",
    )


async def remove(pool: asyncpg.Pool, table: str, slug: str, what: str) -> dict[str, Any]:
    if table not in ("fixtures", "groups", "scenes"):
        raise ValueError(table)
    return await one(
        pool,
        f"DELETE FROM {table} WHERE slug = $1 RETURNING id, slug",  # noqa: S608
        slug,
        missing=f"unknown {what} {slug!r}",
    )


async def profile_id(pool: asyncpg.Pool, profile: str) -> int:
    """A circadian profile by name."""
    row = await one(
        pool,
        "SELECT id FROM circadian_profiles WHERE name=$1",
        profile,
        missing=f"no circadian profile named {profile!r}",
    )
    return int(row["id"])


async def add_group(
    pool: asyncpg.Pool, name: str, slug: str, profile: str | None, room: bool = False
) -> dict[str, Any]:
    return await one(
        pool,
        "INSERT INTO groups (name, slug, circadian_profile_id, is_room) VALUES ($1, $2, $3, $4) "
        "RETURNING id, name, slug, is_room AS room",
        name,
        slug,
        await profile_id(pool, profile) if profile is not None else None,
        room,
        missing="group not created",
    )


async def change_member(
    pool: asyncpg.Pool, group: str, fixture: str | None, child: str | None, add: bool
) -> dict[str, Any]:
    gid = (
        await one(
            pool, "SELECT id FROM groups WHERE slug=$1", group, missing=f"unknown group {group!r}"
        )
    )["id"]
    if fixture is not None:
        fid = (
            await one(
                pool,
                "SELECT id FROM fixtures WHERE slug=$1",
                fixture,
                missing=f"unknown fixture {fixture!r}",
            )
        )["id"]
        query = (
            "INSERT INTO group_fixtures (group_id, fixture_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING group_id"
            if add
            else "DELETE FROM group_fixtures WHERE group_id=$1 AND fixture_id=$2 RETURNING group_id"
        )
        member: dict[str, Any] = {"group": group, "fixture": fixture}
        other = fid
    else:
        cid = (
            await one(
                pool,
                "SELECT id FROM groups WHERE slug=$1",
                child,
                missing=f"unknown group {child!r}",
            )
        )["id"]
        query = (
            "INSERT INTO group_hierarchy (parent_group_id, child_group_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING parent_group_id"
            if add
            else "DELETE FROM group_hierarchy WHERE parent_group_id=$1 AND child_group_id=$2 "
            "RETURNING parent_group_id"
        )
        member = {"group": group, "child_group": child}
        other = cid
    rows = await _run(pool, query, gid, other)
    if not rows and not add:
        raise UnknownTargetError(f"{fixture or child!r} is not a direct member of {group!r}")
    member["changed"] = bool(rows)
    return member


async def store_scene(
    pool: asyncpg.Pool,
    slug: str,
    name: str,
    group_id: int,
    values: Sequence[tuple[int, bool, int, int | None, tuple[int, ...] | None, str | None]],
) -> dict[str, Any]:
    """Create or overwrite a scene with the captured member values, atomically."""
    try:
        async with pool.acquire(timeout=5) as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO scenes (name, slug, group_id) VALUES ($1, $2, $3) "
                "ON CONFLICT (slug) DO UPDATE "
                "SET name = EXCLUDED.name, group_id = EXCLUDED.group_id "
                "RETURNING id, name, slug",
                name,
                slug,
                group_id,
            )
            assert row is not None
            await conn.execute("DELETE FROM scene_values WHERE scene_id=$1", row["id"])
            await conn.executemany(
                "INSERT INTO scene_values "
                "(scene_id, fixture_id, is_on, brightness, kelvin, color, effect) "
                "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
                [
                    (
                        row["id"],
                        fid,
                        on,
                        brightness,
                        kelvin,
                        json.dumps(colour_json(c)) if c else None,
                        effect,
                    )
                    for fid, on, brightness, kelvin, c, effect in values
                ],
            )
            return dict(row) | {"fixtures": len(values)}
    except asyncpg.PostgresError as exc:
        raise DatabaseError(explain_refusal(exc)) from None
    except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
        raise DatabaseError(f"database unavailable, nothing was changed ({exc!r})") from None
