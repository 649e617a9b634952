"""Big groups (more than BIG_GROUP members) over MQTT: a command to one member is answered
at once while the enclosing big group's derived state follows within ~100 ms; a command
to the big group itself is answered at once."""

from __future__ import annotations

import json
import time

import asyncpg
from testkit.mqtt import MqttProbe
from tests.integration.living.conftest import add_group, add_model, db_run

from tau.api.publisher import BIG_GROUP, BIG_GROUP_DELAY_S

MEMBERS = BIG_GROUP + 50


async def _build(conn: asyncpg.Connection) -> None:
    model = await add_model(conn, "dimmer", ["dimmer"])
    ids = []
    for i in range(MEMBERS):
        ids.append(
            await conn.fetchval(
                "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
                "VALUES ($1, $1, $2, $3, $4) RETURNING id",
                f"lamp-{i}",
                model,
                1 + i // 512,
                1 + i % 512,
            )
        )
    await add_group(conn, "house", ids)
    await add_group(conn, "corner", ids[7:10])  # lamp-7 .. lamp-9


def test_big_group_states_follow_members_and_answer_commands_at_once(
    bridge_factory, mqtt_server
) -> None:
    url = bridge_factory.database(schema=True, seeds=False)
    db_run(url, _build)
    bridge = bridge_factory(database_url=url, default_transition=0)
    with MqttProbe(mqtt_server.host, mqtt_server.port) as probe:
        probe.subscribe(f"{bridge.base_topic}/#")
        house, corner = bridge.topic("group", "house"), bridge.topic("group", "corner")

        # Two member commands: each member and the small group answer at once; the big
        # group's state follows once, about BIG_GROUP_DELAY_S later, with both applied.
        mark = probe.mark()
        t0 = time.monotonic()
        probe.publish(bridge.topic("fixture", "lamp-7", "set"), json.dumps({"brightness": 99}))
        probe.publish(bridge.topic("fixture", "lamp-8", "set"), json.dumps({"brightness": 150}))
        member = probe.wait_for(
            bridge.topic("fixture", "lamp-8"),
            lambda m: m.json()["brightness"] == 150,
            3,
            after=mark,
        )
        small = probe.wait_for(corner, lambda m: m.json()["brightness"] == 150, 3, after=mark)
        big = probe.wait_for(house, lambda m: m.json()["brightness"] == 150, 3, after=mark)
        assert member.json()["state"] == small.json()["state"] == big.json()["state"] == "ON"
        time.sleep(3 * BIG_GROUP_DELAY_S)
        houses = [m for m in probe.messages(house, after=mark) if not m.retain]
        assert len(houses) == 1, [m.text for m in houses]  # coalesced
        assert big.received - t0 >= 0.8 * BIG_GROUP_DELAY_S
        assert big.received - small.received < 1.0

        # A command to the big group itself is answered at once.
        mark = probe.mark()
        t0 = time.monotonic()
        probe.publish(house + "/set", json.dumps({"state": "ON", "brightness": 42}))
        reply = probe.wait_for(house, lambda m: m.json()["brightness"] == 42, 3, after=mark)
        assert reply.received - t0 < 0.8 * BIG_GROUP_DELAY_S
        for slug in ("lamp-0", f"lamp-{MEMBERS - 1}"):
            state = probe.wait_json(bridge.topic("fixture", slug), None, 3, after=mark)
            assert state["brightness"] == 42
