"""What the bridge says about itself when it goes away and what it does when it comes
back (issue 20), against real Mosquitto and PostgreSQL.

- A clean stop leaves `<base>/bridge/state` and every universe it sent `offline`, and
  nothing says `online` afterwards; kill -9 leaves the last will to the broker.
- A command queued at the broker while the bridge was away is applied only when it is
  younger than TAU_MQTT__COMMAND_MAX_AGE_S (MQTT 3.1.1 and 5); so is a leader's
  `nodes/sync` operation.
- A restarting broker (connection refused) has the bridge back within 2 s of it
  accepting connections again, however long it was away.
"""

from __future__ import annotations

import json
import time

import pytest
from testkit.proxy import TcpProxy
from testkit.services import MqttServer

from tests.reliability.helpers import QUIET_ENV, catalogue, connected_probe, sql

pytestmark = [pytest.mark.fault]

UNIVERSES = (1, 2)  # the seeded installation's


def universe_states(probe, bridge) -> dict[int, bytes]:
    retained = probe.retained(bridge.topic("bridge", "universe"))
    return {
        u: retained[topic].payload
        for u in UNIVERSES
        if (topic := bridge.topic("bridge", "universe", str(u), "state")) in retained
    }


def test_a_clean_stop_leaves_tau_and_every_universe_offline(bridge_factory, mqtt_probe) -> None:
    bridge = bridge_factory(seeds=True, env=QUIET_ENV)
    for _ in range(2):  # the second run starts from the first one's retained `offline`
        mqtt_probe.subscribe(bridge.topic("bridge", "universe", "+", "state"))
        for u in UNIVERSES:
            mqtt_probe.wait_for(
                bridge.topic("bridge", "universe", str(u), "state"),
                lambda m: m.payload == b"online",
                10,
            )
        assert bridge.terminate() == 0
        retained = mqtt_probe.retained(bridge.state_topic)
        assert retained[bridge.state_topic].payload == b"offline", bridge.log_tail()
        assert universe_states(mqtt_probe, bridge) == dict.fromkeys(UNIVERSES, b"offline")
        mqtt_probe.clear()
        bridge.start()
        bridge.wait_online()


def test_kill_9_leaves_the_last_will_to_the_broker(bridge_factory, mqtt_probe) -> None:
    bridge = bridge_factory(seeds=True, env=QUIET_ENV)
    mqtt_probe.subscribe(bridge.state_topic)
    mark = mqtt_probe.mark()
    bridge.kill()
    mqtt_probe.wait_for(bridge.state_topic, lambda m: m.payload == b"offline", 5, after=mark)
    assert mqtt_probe.retained(bridge.state_topic)[bridge.state_topic].payload == b"offline"


def _state_after_restart(bridge, probe, command: dict[str, object]) -> dict[str, object]:
    """Stop the bridge, queue `command` for kitchen-ceiling at QoS 1, start it again;
    the fixture's state once everything queued has surely been handled."""
    assert bridge.terminate() == 0
    probe.publish(bridge.topic("fixture", "kitchen-ceiling", "set"), json.dumps(command), qos=1)
    time.sleep(1.0)  # away a while (the start below takes longer still)
    mark = probe.mark()
    bridge.start()
    bridge.wait_online()
    # The broker delivers in order: once a later command is applied, the queued one was
    # handled (applied or dropped) too.
    probe.subscribe(bridge.topic("fixture", "+"))
    probe.publish(bridge.topic("fixture", "hallway-downlight", "set"), "ON", qos=1)
    probe.wait_json(
        bridge.topic("fixture", "hallway-downlight"), lambda d: d["state"] == "ON", 10, after=mark
    )
    retained = probe.retained(bridge.topic("fixture", "kitchen-ceiling"))
    return dict(retained[bridge.topic("fixture", "kitchen-ceiling")].json())


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
@pytest.mark.parametrize(("max_age", "applied"), [(1, False), (60, True)], ids=["late", "fresh"])
def test_a_command_queued_while_stopped_is_applied_only_within_the_max_age(
    bridge_factory, mqtt_probe, protocol, max_age, applied
) -> None:
    env = {**QUIET_ENV, "TAU_MQTT__PROTOCOL": protocol, "TAU_MQTT__COMMAND_MAX_AGE_S": str(max_age)}
    bridge = bridge_factory(seeds=True, default_transition=0, env=env)
    state = _state_after_restart(bridge, mqtt_probe, {"state": "ON", "brightness": 77})
    assert ((state["state"], state.get("brightness")) == ("ON", 77)) is applied, state
    restart = bridge.log_text().split("===== start #2")[1]
    said = "event=mqtt_clean_session away_s=" in restart and "COMMAND_MAX_AGE_S" in restart
    assert said is not applied, restart


def test_commands_queued_during_an_outage_longer_than_the_max_age_are_dropped(
    bridge_factory, mqtt_server, mqtt_probe
) -> None:
    """The same without a restart: the bridge itself was cut off from the broker."""
    proxy = TcpProxy((mqtt_server.host, mqtt_server.port))
    try:
        bridge = bridge_factory(
            seeds=True,
            mqtt=MqttServer("127.0.0.1", proxy.port, "throwaway", "proxy"),
            default_transition=0,
            env={**QUIET_ENV, "TAU_MQTT__COMMAND_MAX_AGE_S": "1"},
        )
        mqtt_probe.subscribe(bridge.state_topic)
        mqtt_probe.subscribe(bridge.topic("fixture", "+"))
        mark = mqtt_probe.mark()
        proxy.cut()
        mqtt_probe.wait_for(bridge.state_topic, lambda m: m.payload == b"offline", 5, after=mark)
        mqtt_probe.publish(
            bridge.topic("fixture", "kitchen-ceiling", "set"),
            json.dumps({"state": "ON", "brightness": 77}),
            qos=1,
        )
        t_cut = time.monotonic()
        while time.monotonic() - t_cut < 1.5:  # longer than the limit
            time.sleep(0.5)
        mark = mqtt_probe.mark()
        proxy.restore()
        mqtt_probe.wait_for(bridge.state_topic, lambda m: m.payload == b"online", 10, after=mark)
        mqtt_probe.publish(bridge.topic("fixture", "hallway-downlight", "set"), "ON", qos=1)
        mqtt_probe.wait_json(
            bridge.topic("fixture", "hallway-downlight"),
            lambda d: d["state"] == "ON",
            10,
            after=mark,
        )
        late = [
            m.json()
            for m in mqtt_probe.messages(bridge.topic("fixture", "kitchen-ceiling"), after=mark)
        ]
        assert not any(d.get("brightness") == 77 for d in late), late
        assert "event=mqtt_clean_session away_s=" in bridge.log_text()
    finally:
        proxy.close()


def test_a_stale_nodes_sync_operation_is_not_applied(bridge_factory, mqtt_probe) -> None:
    env = {**QUIET_ENV, "TAU_MQTT__COMMAND_MAX_AGE_S": "5"}
    bridge = bridge_factory(seeds=True, default_transition=0, env=env)
    [row] = sql(bridge.database_url, "SELECT id FROM fixtures WHERE slug = 'kitchen-ceiling'")
    topic = bridge.topic("fixture", "kitchen-ceiling")
    mqtt_probe.subscribe(topic)

    def op(brightness: int, at: float) -> str:
        return json.dumps(
            {
                "op": "apply_many",
                "node": "elsewhere",
                "at": at,
                "items": [[row["id"], {"state": "ON", "brightness": brightness}]],
                "reason": "test",
            }
        )

    mark = mqtt_probe.mark()
    sync_topic = bridge.topic("bridge", "nodes", "sync")
    mqtt_probe.publish(sync_topic, op(33, time.time() - 30), qos=1)  # queued half a minute
    mqtt_probe.publish(sync_topic, op(44, time.time()), qos=1)
    mqtt_probe.wait_json(topic, lambda d: d.get("brightness") == 44, 5, after=mark)
    seen = [m.json().get("brightness") for m in mqtt_probe.messages(topic, after=mark)]
    assert 33 not in seen, seen
    assert "event=node_sync_stale op=apply_many node=elsewhere" in bridge.log_text()


OUTAGE_S = 5.0
BACK_WITHIN_S = 2.0


def test_a_restarting_broker_has_the_bridge_back_within_2_s(
    bridge_factory, owned_broker, figure
) -> None:
    server: MqttServer = owned_broker.server
    bridge = bridge_factory(seeds=True, mqtt=server, env=QUIET_ENV)
    with connected_probe(server) as probe:
        catalogue(probe, bridge)  # the first burst of configs and states is out
    owned_broker.stop()
    t_stop = time.monotonic()
    while time.monotonic() - t_stop < OUTAGE_S:  # refused all along: nothing listens
        time.sleep(0.5)
    owned_broker.start()
    t_back = time.monotonic()
    with connected_probe(server) as probe:
        probe.subscribe(bridge.state_topic)
        online = probe.wait_for(bridge.state_topic, lambda m: m.payload == b"online", 15)
    figure("reconnect_after_broker_back_s", online.received - t_back, "s")
    assert online.received - t_back <= BACK_WITHIN_S, bridge.log_tail()
