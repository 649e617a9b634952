"""A broker that refuses one of the bridge's subscriptions (SUBACK 0x80), for real.

Mosquitto 2.0.11 grants a subscription its ACL denies (it only withholds the
messages), so the refusal comes from amqtt with a topic plugin whose refusals the test
changes while the broker runs (testkit/amqtt_acl.py): the bridge's fixture command
topic is refused first, then allowed. The bridge must say so once, keep running with
everything else, ask again every `RESUBSCRIBE_S` and take the topic as soon as the
broker grants it, without a reconnect.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit.amqtt_acl import refusals
from testkit.enttec import EnttecEmulator
from testkit.services import OwnedBroker

from tests.reliability.helpers import FAST, FAST_ENV, connected_probe, wait_until

pytestmark = [pytest.mark.fault]

RESUBSCRIBE_S = 5.0 * FAST  # tau.mqtt.subscriptions.RESUBSCRIBE_S under FAST_ENV
# amqtt in a Python process and the bridge share two cores with the rest of the suite.
SLACK_S = 1.5


@pytest.fixture
def widget(tmp_path: Path) -> Iterator[EnttecEmulator]:
    with EnttecEmulator(tmp_path / "widget") as emulator:
        yield emulator
        assert emulator.errors == []


@pytest.fixture
def refuse_file(tmp_path: Path) -> Path:
    path = tmp_path / "refuse.json"
    path.write_text("[]")
    return path


@pytest.fixture
def refusing_broker(refuse_file: Path) -> Iterator[OwnedBroker]:
    with OwnedBroker(kind="amqtt", refuse_file=refuse_file, name="tau-amqtt-acl") as broker:
        yield broker


def slot(widget: EnttecEmulator, channel: int) -> int:
    """The channel in the last frame the widget got (-1 before any)."""
    frames = widget.frames
    return frames[-1].slot(channel) if frames else -1


def test_a_refused_subscription_is_logged_once_retried_and_taken_when_granted(
    bridge_factory, refusing_broker, refuse_file, widget, figure
) -> None:
    base = f"tau-{uuid.uuid4().hex[:8]}"
    denied = f"{base}/fixture/+/set"
    refuse_file.write_text(json.dumps([denied]))
    server = refusing_broker.server
    bridge = bridge_factory(
        seeds=True,
        mqtt=server,
        base_topic=base,
        default_transition=0,
        universes={"1": {"driver": "enttec_pro", "port": widget.port}},
        env=FAST_ENV,
    )
    refused_line = re.compile(
        rf" ERROR .*event=mqtt_subscribe_refused topic={re.escape(denied)} "
        rf"retry_in={RESUBSCRIBE_S:g}s: check the broker's ACL"
    )
    assert wait_until(lambda: bool(refused_line.search(bridge.log_text())), 5), bridge.log_tail()

    with connected_probe(server) as probe:
        ceiling = bridge.topic("fixture", "kitchen-ceiling")  # DMX channel 1
        hallway = bridge.topic("group", "hallway")  # hallway-downlight, DMX channel 40
        probe.subscribe(ceiling)
        probe.subscribe(hallway)
        assert widget.wait_for(lambda: slot(widget, 1) == 0 and slot(widget, 40) == 0, 5)

        # Everything else works: a group command reaches the widget and its state.
        mark = probe.mark()
        probe.publish_json(bridge.topic("group", "hallway", "set"), {"brightness": 255})
        assert probe.wait_json(hallway, lambda d: d.get("brightness") == 255, 5, after=mark)
        assert widget.wait_for(lambda: slot(widget, 40) == 255, 5), widget.latest()

        # The refused topic: the broker has nobody to deliver a fixture command to.
        probe.publish_json(bridge.topic("fixture", "kitchen-ceiling", "set"), {"brightness": 200})
        time.sleep(4 * RESUBSCRIBE_S)  # the bridge asks again meanwhile, refused each time
        assert slot(widget, 1) == 0, widget.latest()
        assert probe.messages(ceiling, after=mark) == []
        asked = refusals(refuse_file, denied)
        assert len(asked) >= 4, asked  # the first SUBSCRIBE and at least three retries
        gaps = [b - a for a, b in itertools.pairwise(asked)]
        assert all(gap >= 0.8 * RESUBSCRIBE_S for gap in gaps), gaps  # paced, not a busy loop
        assert bridge.running

        # The ACL allows it: granted at the next retry, on the same connection.
        allowed_at = time.time()
        refuse_file.write_text("[]")
        granted = wait_until(
            lambda: "event=mqtt_subscribe_granted" in bridge.log_text(), RESUBSCRIBE_S + SLACK_S
        )
        granted_s = time.time() - allowed_at
        figure("subscription_granted_after_acl_change_s", granted_s, "s")
        assert granted, bridge.log_tail()
        mark = probe.mark()
        probe.publish_json(bridge.topic("fixture", "kitchen-ceiling", "set"), {"brightness": 255})
        assert probe.wait_json(ceiling, lambda d: d.get("brightness") == 255, 5, after=mark)
        assert widget.wait_for(lambda: slot(widget, 1) == 255, 5), widget.latest()
        # The command sent while refused was never delivered, not even late.
        assert all(m.json().get("brightness") == 255 for m in probe.messages(ceiling, after=mark))

    log = bridge.log_text()
    refused = [ln for ln in log.splitlines() if "event=mqtt_subscribe_refused" in ln]
    assert len(refused) == 1 and refused_line.search(refused[0]), refused  # once, not per retry
    assert len(re.findall(rf"event=mqtt_subscribe_granted topic={re.escape(denied)}", log)) == 1
    assert "event=mqtt_reconnected" not in log, log  # no reconnect did it
    assert "Traceback" not in log
    assert bridge.running
