"""Reading the configuration tables and the stored state from PostgreSQL, as plain rows.

One repeatable-read snapshot per load, so a concurrent change is seen whole or
not at all. What the rows mean is `tau.core.installation`'s business: this
module knows SQL, not the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from tau.errors import DatabaseError

Rows = list[asyncpg.Record]


@dataclass(slots=True, frozen=True)
class InstallationRows:
    fixture_models: Rows
    fixtures: Rows
    groups: Rows
    group_fixtures: Rows
    group_hierarchy: Rows
    group_membership: Rows
    circadian_profiles: Rows
    scenes: Rows
    scene_values: Rows
    switch_models: Rows
    switches: Rows
    installation_id: str = ""


async def fetch_installation(conn: asyncpg.Connection) -> InstallationRows:
    """Every configuration table, read in one repeatable-read snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        installation_id = await conn.fetchval("SELECT id FROM installation")
        if installation_id is None:
            raise DatabaseError(
                "the table `installation` has no row, so this installation has no id for "
                "Home Assistant: restore it from a backup (`tau db restore`), or create a "
                "new one with `INSERT INTO installation DEFAULT VALUES` (Home Assistant "
                "then sees every light as new)"
            )
        return InstallationRows(
            installation_id=str(installation_id),
            fixture_models=await conn.fetch("SELECT * FROM fixture_models"),
            fixtures=await conn.fetch("SELECT * FROM fixtures"),
            groups=await conn.fetch(
                "SELECT id, name, slug, circadian_profile_id, uid, is_room FROM groups"
            ),
            group_fixtures=await conn.fetch("SELECT group_id, fixture_id FROM group_fixtures"),
            group_hierarchy=await conn.fetch(
                "SELECT parent_group_id, child_group_id FROM group_hierarchy"
            ),
            group_membership=await conn.fetch(
                "SELECT group_id, fixture_id FROM v_group_membership"
            ),
            circadian_profiles=await conn.fetch(
                "SELECT id, name, keyframes, take_over, resume_after_s, sleep_brightness_pct, "
                "sleep_kelvin FROM circadian_profiles"
            ),
            scenes=await conn.fetch("SELECT id, name, slug, group_id, uid FROM scenes"),
            scene_values=await conn.fetch(
                "SELECT * FROM scene_values ORDER BY scene_id, fixture_id"
            ),
            switch_models=await conn.fetch("SELECT * FROM switch_models"),
            switches=await conn.fetch("SELECT * FROM switches"),
        )


async def fetch_state(conn: asyncpg.Connection) -> tuple[Rows, Rows]:
    """(`fixture_state` rows, `group_state` rows)."""
    return (
        await conn.fetch("SELECT * FROM fixture_state"),
        await conn.fetch("SELECT * FROM group_state"),
    )
