"""Messages the broker drops are seen (issue 20): a real Mosquitto with a tiny
`max_queued_messages` and a client that reads nothing drops what waits for it; Tau
reads the broker's `$SYS/broker/publish/messages/dropped`, logs one WARNING naming
the setting, and shows the count in /healthz, `tau/bridge/info` and /metrics.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from testkit.services import OwnedBroker, free_port

from tests.reliability.helpers import QUIET_ENV, connected_probe, wait_until

pytestmark = [pytest.mark.fault]

QUEUE = 5
SENT = 20


@pytest.fixture
def small_broker() -> Iterator[OwnedBroker]:
    port = free_port()
    config = (
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        f"max_queued_messages {QUEUE}\nsys_interval 1\n"
    )
    with OwnedBroker(port, kind="mosquitto", config=config) as broker:
        yield broker


def http_json(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
        return dict(json.loads(reply.read()))


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
        text = reply.read().decode()
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def away_subscriber(broker: OwnedBroker, topic: str) -> None:
    """A client with a persistent session that subscribed and went away: the broker
    queues for it, up to max_queued_messages, and drops the rest."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="slow-reader", clean_session=False)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert wait_until(client.is_connected, 2)
        granted: list[object] = []
        client.on_subscribe = lambda *args: granted.append(args)
        result, _mid = client.subscribe(topic, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS
        assert wait_until(lambda: bool(granted), 2)
    finally:
        client.disconnect()
        client.loop_stop()


def test_drops_at_the_broker_are_logged_reported_and_counted(bridge_factory, small_broker) -> None:
    http = free_port()
    bridge = bridge_factory(
        seeds=True, mqtt=small_broker.server, env={**QUIET_ENV, "TAU_HTTP__PORT": str(http)}
    )
    assert http_json(http, "/healthz")["broker"]["dropped"] == 0
    topic = f"{bridge.base_topic}-slow/reader"
    away_subscriber(small_broker, topic)
    with connected_probe(small_broker.server) as probe:
        probe.subscribe(bridge.topic("bridge", "info"))
        for n in range(SENT):
            probe.publish(topic, str(n), qos=1)
        # The broker publishes its $SYS counter every sys_interval: it may first report
        # part of the drops, then the rest.
        assert wait_until(
            lambda: http_json(http, "/healthz")["broker"]["dropped"] >= SENT - QUEUE, 5
        ), (http_json(http, "/healthz")["broker"], bridge.log_tail())
        dropped = http_json(http, "/healthz")["broker"]["dropped"]
        info = probe.wait_json(
            bridge.topic("bridge", "info"), lambda d: d["broker"]["dropped"] == dropped, 5
        )
        assert info["broker"]["status"] == "connected"
    assert metric(http, "tau_broker_dropped_messages_total") == dropped
    warnings = [line for line in bridge.log_text().splitlines() if "event=broker_dropped" in line]
    assert len(warnings) == 1, warnings
    assert "WARNING" in warnings[0] and "max_queued_messages" in warnings[0]
