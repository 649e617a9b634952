"""Views over the seeded home, and NOTIFY tau_config for configuration changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg


async def membership(conn: asyncpg.Connection, group: str) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT f.slug, m.depth FROM v_group_membership m "
        "JOIN groups g ON g.id = m.group_id JOIN fixtures f ON f.id = m.fixture_id "
        "WHERE g.slug = $1",
        group,
    )
    return {r["slug"]: r["depth"] for r in rows}


async def test_membership_is_recursive_with_depths(seeded: asyncpg.Connection) -> None:
    kitchen = {"kitchen-ceiling": 0, "kitchen-island": 0, "kitchen-counter": 0}
    assert await membership(seeded, "kitchen") == kitchen
    downstairs = await membership(seeded, "downstairs")
    assert len(downstairs) == 9
    assert set(downstairs.values()) == {1}
    house = await membership(seeded, "house")
    assert len(house) == 14
    assert house["garden-spot"] == 1
    assert house["bedroom-ceiling"] == 2
    assert await membership(seeded, "garden") == {"garden-spot": 0}


async def test_membership_reports_the_shortest_depth_once(seeded: asyncpg.Connection) -> None:
    # kitchen-ceiling is also a direct member of house, and kitchen a direct child too
    await seeded.execute(
        "INSERT INTO group_fixtures SELECT g.id, f.id FROM groups g, fixtures f "
        "WHERE g.slug = 'house' AND f.slug = 'kitchen-ceiling'"
    )
    await seeded.execute(
        "INSERT INTO group_hierarchy SELECT p.id, c.id FROM groups p, groups c "
        "WHERE p.slug = 'house' AND c.slug = 'kitchen'"
    )
    house = await membership(seeded, "house")
    assert house["kitchen-ceiling"] == 0
    assert house["kitchen-island"] == 1
    assert house["living-lamp"] == 2
    pairs = await seeded.fetchval(
        "SELECT count(*) - count(DISTINCT (group_id, fixture_id)) FROM v_group_membership"
    )
    assert pairs == 0


async def test_fixture_status_defaults_to_off(seeded: asyncpg.Connection) -> None:
    row = await seeded.fetchrow("SELECT * FROM v_fixture_status WHERE slug = 'dining-pendant'")
    assert row is not None
    assert (row["universe"], row["start_channel"], row["last_channel"]) == (1, 10, 13)
    assert (row["is_on"], row["brightness"], row["kelvin"]) == (False, 0, None)
    assert row["manufacturer"] == "eldoLED"
    await seeded.execute(
        "INSERT INTO fixture_state (fixture_id, is_on, brightness, kelvin) "
        "VALUES ($1, true, 200, 3000)",
        row["fixture_id"],
    )
    on = await seeded.fetch("SELECT slug, brightness, kelvin FROM v_fixture_status WHERE is_on")
    assert [tuple(r) for r in on] == [("dining-pendant", 200, 3000)]


async def test_seeded_home_shape(seeded: asyncpg.Connection) -> None:
    counts = await seeded.fetchrow(
        "SELECT (SELECT count(*) FROM fixtures) AS fixtures, "
        "(SELECT count(DISTINCT universe) FROM fixtures) AS universes, "
        "(SELECT count(*) FROM scenes) AS scenes, (SELECT count(*) FROM switches) AS switches"
    )
    assert tuple(counts) == (14, 2, 2, 2)
    profiles = await seeded.fetch(
        "SELECT g.slug, p.name FROM groups g JOIN circadian_profiles p "
        "ON p.id = g.circadian_profile_id ORDER BY g.slug"
    )
    assert [tuple(r) for r in profiles] == [("bedroom", "clock-only"), ("kitchen", "clock-only")]
    remote = await seeded.fetchrow(
        "SELECT s.input_topic, m.model, g.slug FROM switches s "
        "JOIN switch_models m ON m.id = s.switch_model_id "
        "JOIN groups g ON g.id = s.target_group_id WHERE s.slug = 'bedroom-remote'"
    )
    assert tuple(remote) == (
        "zigbee2mqtt/bedroom-remote/action",
        "TRADFRI remote control E1524/E1810",
        "bedroom",
    )


class Listener:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def __call__(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.queue.put_nowait(json.loads(payload))

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.queue.get(), timeout=5)

    def drain(self) -> list[dict[str, Any]]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items


async def test_notify_on_insert_update_delete(schema_url: str) -> None:
    listen = await asyncpg.connect(schema_url)
    write = await asyncpg.connect(schema_url)
    listener = Listener()
    try:
        await listen.add_listener("tau_config", listener)
        mid = await write.fetchval("INSERT INTO fixture_models (model) VALUES ('m') RETURNING id")
        assert await listener.next() == {"table": "fixture_models", "op": "INSERT", "id": mid}

        fid = await write.fetchval(
            "INSERT INTO fixtures (name, slug, fixture_model_id, start_channel) "
            "VALUES ('a', 'a', $1, 1) RETURNING id",
            mid,
        )
        assert await listener.next() == {"table": "fixtures", "op": "INSERT", "id": fid}
        await write.execute("UPDATE fixtures SET name = 'A' WHERE id = $1", fid)
        assert await listener.next() == {"table": "fixtures", "op": "UPDATE", "id": fid}

        gid = await write.fetchval("INSERT INTO groups (name, slug) VALUES ('g', 'g') RETURNING id")
        assert await listener.next() == {"table": "groups", "op": "INSERT", "id": gid}
        await write.execute("UPDATE groups SET name = 'G' WHERE id = $1", gid)
        assert await listener.next() == {"table": "groups", "op": "UPDATE", "id": gid}

        await write.execute("INSERT INTO group_fixtures VALUES ($1, $2)", gid, fid)
        assert await listener.next() == {"table": "group_fixtures", "op": "INSERT", "id": gid}
        await write.execute("DELETE FROM group_fixtures WHERE group_id = $1", gid)
        assert await listener.next() == {"table": "group_fixtures", "op": "DELETE", "id": gid}

        # state tables are written constantly by the bridge: they stay silent
        await write.execute("INSERT INTO fixture_state (fixture_id, is_on) VALUES ($1, true)", fid)
        await write.execute("INSERT INTO group_state (group_id) VALUES ($1)", gid)

        await write.execute("DELETE FROM fixtures WHERE id = $1", fid)
        assert await listener.next() == {"table": "fixtures", "op": "DELETE", "id": fid}
        await write.execute("DELETE FROM groups WHERE id = $1", gid)
        assert await listener.next() == {"table": "groups", "op": "DELETE", "id": gid}
        await write.execute("SELECT pg_notify('tau_config', '{\"end\": true}')")
        assert await listener.next() == {"end": True}
        assert listener.drain() == []
    finally:
        await listen.close()
        await write.close()


async def test_rolled_back_change_does_not_notify(schema_url: str) -> None:
    listen = await asyncpg.connect(schema_url)
    write = await asyncpg.connect(schema_url)
    listener = Listener()
    try:
        await listen.add_listener("tau_config", listener)
        tx = write.transaction()
        await tx.start()
        await write.execute("INSERT INTO groups (name, slug) VALUES ('g', 'g')")
        await tx.rollback()
        await write.execute("TRUNCATE scene_values")
        assert await listener.next() == {"table": "scene_values", "op": "TRUNCATE", "id": None}
        assert listener.drain() == []
    finally:
        await listen.close()
        await write.close()
