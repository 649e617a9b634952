"""MQTT 5 and WebSockets (TAU_MQTT__PROTOCOL, TAU_MQTT__TRANSPORT), against real brokers.

Mosquitto speaks MQTT 5; the embedded broker (amqtt) speaks 3.1.1 only, and serves the
WebSocket listener (Debian's Mosquitto here cannot open one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from testkit.mqtt import MqttProbe
from testkit.services import MqttServer, OwnedBroker, free_port
from tests.reliability.helpers import wait_until

QUIET = {"TAU_CIRCADIAN__TICK_SECONDS": "3600"}


@pytest.fixture
def amqtt_broker() -> Iterator[OwnedBroker]:
    with OwnedBroker(kind="amqtt", ws_port=free_port(), name="tau-amqtt") as broker:
        yield broker


def command_works(probe: MqttProbe, bridge) -> None:
    state = bridge.topic("fixture", "kitchen-ceiling")
    probe.subscribe(state)
    mark = probe.mark()
    probe.publish(bridge.topic("fixture", "kitchen-ceiling", "set"), '{"brightness": 77}')
    got = probe.wait_json(state, lambda d: d["brightness"] == 77, 5, after=mark)
    assert got["state"] == "ON"


def test_mqtt5_session_comes_online_and_handles_commands(bridge_factory, mqtt_probe) -> None:
    bridge = bridge_factory(seeds=True, env={**QUIET, "TAU_MQTT__PROTOCOL": "5"})
    command_works(mqtt_probe, bridge)
    # Bad input is still answered on the log topic under MQTT 5.
    mqtt_probe.subscribe(bridge.topic("bridge", "log"))
    mark = mqtt_probe.mark()
    mqtt_probe.publish(bridge.topic("fixture", "kitchen-ceiling", "set"), "{nope")
    entry = mqtt_probe.wait_json(bridge.topic("bridge", "log"), None, 5, after=mark)
    assert entry["topic"].endswith("kitchen-ceiling/set")
    assert "Traceback" not in bridge.log_text()


def test_mqtt5_to_a_broker_that_only_speaks_3_1_1_is_one_clear_error(
    bridge_factory, amqtt_broker
) -> None:
    bridge = bridge_factory(
        seeds=True,
        mqtt=amqtt_broker.server,
        env={**QUIET, "TAU_MQTT__PROTOCOL": "5"},
        wait_online=False,
    )
    assert wait_until(lambda: "TAU_MQTT__PROTOCOL=3.1.1" in bridge.log_text(), 30), (
        bridge.log_tail()
    )
    lines = [ln for ln in bridge.log_text().splitlines() if "TAU_MQTT__PROTOCOL" in ln]
    assert len(lines) == 1 and " ERROR " in lines[0], lines
    assert bridge.running
    assert "Traceback" not in bridge.log_text()


def test_websocket_transport(bridge_factory, amqtt_broker) -> None:
    assert amqtt_broker.ws_port is not None
    bridge = bridge_factory(
        seeds=True,
        # The bridge over WebSockets; the test's probe over TCP to the same broker.
        mqtt=MqttServer("127.0.0.1", amqtt_broker.ws_port, "throwaway", "amqtt-ws"),
        env={**QUIET, "TAU_MQTT__TRANSPORT": "websockets", "TAU_MQTT__WS_PATH": "/mqtt"},
        start=False,
    )
    with MqttProbe(amqtt_broker.host, amqtt_broker.port) as probe:
        bridge.start()
        bridge.wait_online(30, probe=probe)
        command_works(probe, bridge)
        retained = probe.retained(bridge.topic("bridge"))
        info = json.loads(retained[bridge.topic("bridge", "info")].payload)
        assert info["broker"]["status"] == "connected"
