"""PostgreSQL outages: lights keep working from memory, writes queue and land afterwards.

PRODUCT.md §8: PostgreSQL down → lights keep working from memory; writes queue
(coalesced per object) and flush on reconnect; `tau/bridge/info` shows the
degradation. A bridge started while the database is down waits for it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from testkit.enttec import EnttecEmulator
from testkit.services import OwnedPostgres

from tests.reliability.helpers import (
    FAST_ENV,
    FIXTURES,
    QUIET_ENV,
    create_test_database,
    light_state,
    retained_states,
    stored_states,
    wait_until,
)

pytestmark = [pytest.mark.fault]

OUTAGE_S = 10.0
LOADED = tuple(s for s in FIXTURES if s != "hallway-downlight")  # that one blinks on DMX


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnedPostgres]:
    """One PostgreSQL cluster for the module; each test stops and starts it."""
    with OwnedPostgres(name="tau-rel-pg") as pg:
        yield pg


@pytest.fixture
def fault_db(cluster: OwnedPostgres) -> str:
    cluster.start()
    return create_test_database(cluster.url, f"tau_fault_{uuid.uuid4().hex[:8]}", seeds=True)


@pytest.fixture
def widget(tmp_path) -> Iterator[EnttecEmulator]:
    with EnttecEmulator(tmp_path / "widget") as emulator:
        yield emulator
        assert emulator.errors == []


def test_database_outage_under_load_keeps_lights_working_and_queued_writes_land(
    bridge_factory, cluster, fault_db, widget, mqtt_probe, figure
) -> None:
    bridge = bridge_factory(
        database_url=fault_db,
        default_transition=0,
        universes={"1": {"driver": "enttec_pro", "port": widget.port}},
        env=QUIET_ENV,
    )
    info_topic = bridge.topic("bridge", "info")
    mqtt_probe.subscribe(info_topic)
    mqtt_probe.subscribe(bridge.topic("fixture", "+"))
    retained_states(mqtt_probe, bridge, "fixture", len(FIXTURES))
    mark = mqtt_probe.mark()

    cluster.stop()
    t_down = time.monotonic()
    commands = 0
    degraded_after: float | None = None
    queued_max = 0
    while time.monotonic() - t_down < OUTAGE_S:
        slug = LOADED[commands % len(LOADED)]
        level = 20 + (commands * 37) % 230
        step = mqtt_probe.mark()
        mqtt_probe.publish(
            bridge.topic("fixture", slug, "set"), json.dumps({"state": "ON", "brightness": level})
        )
        mqtt_probe.wait_json(
            bridge.topic("fixture", slug), lambda d, v=level: d["brightness"] == v, 3, after=step
        )
        # DMX follows too: the hallway downlight (ch 40) blinks with every command.
        on = commands % 2 == 0
        mqtt_probe.publish(
            bridge.topic("fixture", "hallway-downlight", "set"), "ON" if on else "OFF"
        )
        widget.wait_for_slots({40: 255 if on else 0}, timeout=2)
        for msg in mqtt_probe.messages(info_topic, after=mark):
            data = msg.json()
            queued_max = max(queued_max, data["database"].get("queued_writes", 0))
            if degraded_after is None and data["database"]["status"] == "down":
                degraded_after = msg.received - t_down
        commands += 1
        time.sleep(0.2)

    down_info = mqtt_probe.wait_json(
        info_topic, lambda d: d["database"]["status"] == "down", 3, after=mark
    )
    cluster.start()
    t_up = time.monotonic()
    up_mark = mqtt_probe.mark()
    mqtt_probe.wait_json(info_topic, lambda d: d["database"]["status"] == "ok", 15, after=up_mark)
    info_ok_s = time.monotonic() - t_up

    published = retained_states(mqtt_probe, bridge, "fixture", len(FIXTURES))
    expected = {slug: light_state(published[slug]) for slug in FIXTURES}
    landed = wait_until(lambda: stored_states(fault_db) == expected, 10, interval=0.2)
    rows_s = time.monotonic() - t_up
    stored = stored_states(fault_db)
    differ = {s: (expected[s], stored.get(s)) for s in FIXTURES if stored.get(s) != expected[s]}

    figure("database_outage_s", OUTAGE_S, "s")
    figure("commands_applied_during_outage", commands * 2)
    figure("info_reported_down_after_s", degraded_after if degraded_after is not None else -1.0)
    figure("max_queued_writes", queued_max)
    figure("info_ok_after_database_back_s", info_ok_s, "s")
    figure("rows_equal_state_after_database_back_s", rows_s, "s")
    figure("lost_updates", len(differ))
    assert commands >= 10
    assert down_info["database"]["status"] == "down" and down_info["database"]["last_error"]
    assert queued_max > 0
    assert landed, differ
    assert bridge.running
    # House style: a reconnect loop logs its first failure, not a traceback per retry.
    log = bridge.log_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:1500]


def test_bridge_started_while_the_database_is_down_starts_when_it_comes_up(
    bridge_factory, cluster, fault_db, mqtt_probe, figure
) -> None:
    cluster.stop()
    # retry delays tenfold shorter (FAST_ENV): 1.5 s of outage is 15 s of production's
    bridge = bridge_factory(database_url=fault_db, start=False, env=FAST_ENV)
    bridge.start()
    assert wait_until(lambda: "database_unreachable" in bridge.log_text(), 10)
    # the outage lasts a while: the bridge must keep waiting, not exit
    assert not wait_until(lambda: not bridge.running, 1.5), bridge.log_tail()
    assert bridge.running, bridge.log_tail()
    cluster.start()
    t_up = time.monotonic()
    bridge.wait_online(30)
    online_s = time.monotonic() - t_up
    mqtt_probe.subscribe(bridge.topic("fixture", "study-desk"))
    mark = mqtt_probe.mark()
    mqtt_probe.publish(bridge.topic("fixture", "study-desk", "set"), "ON")
    mqtt_probe.wait_json(
        bridge.topic("fixture", "study-desk"), lambda d: d["state"] == "ON", 5, after=mark
    )
    figure("online_after_database_up_s", online_s, "s")
    assert online_s <= 10
    log = bridge.log_text()
    assert "Traceback" not in log, log[-3000:]


def test_a_lasting_outage_is_said_every_ten_seconds_and_its_end_once(
    bridge_factory, cluster, fault_db
) -> None:
    bridge = bridge_factory(database_url=fault_db, env=FAST_ENV)
    cluster.stop()
    try:
        # Noticed within a second (SELECT 1), reported on the next failure, reminded on
        # the first failure 10 s later: attempts are up to 5 s (+25 %) apart (the reminder
        # period and the retry delays all tenfold shorter here: FAST_ENV).
        assert wait_until(lambda: "still waiting for PostgreSQL" in bridge.log_text(), 25), (
            bridge.log_tail()
        )
        lines = [line for line in bridge.log_text().splitlines() if "waiting for" in line]
        assert " WARNING " in lines[0] and "waiting for PostgreSQL at " in lines[0], lines
        assert "is it running? check TAU_DATABASE_URL" in lines[0]
        assert len(lines) == 2, lines  # once at the start, once 10 s later: not per retry
        assert " since " in lines[1]
    finally:
        cluster.start()
    assert wait_until(lambda: "answered after" in bridge.log_text(), 20), bridge.log_tail()
    assert bridge.running
