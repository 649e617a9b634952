"""A DMX widget pulled out and back, and a flood of 50,000 commands.

PRODUCT.md §7: the render loop survives a widget being unplugged, keeps state and
re-sends the current frame when the port comes back. Issue 8: under a flood the
memory stays bounded, a fresh command is answered within 100 ms once the flood
has drained, and the final state is the last command per fixture.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Iterator

import pytest
from testkit.enttec import EnttecEmulator

from tests.reliability.helpers import (
    FIXTURES,
    QUIET_ENV,
    RssSampler,
    connected_probe,
    health,
    light_state,
    retained_states,
    rss_kib,
    stored_states,
    wait_until,
)

pytestmark = [pytest.mark.fault]

FLOOD = 50_000
RSS_GROWTH_LIMIT_KIB = 64 * 1024
FRESH_COMMAND_LIMIT_S = 0.100


@pytest.fixture
def widget(tmp_path) -> Iterator[EnttecEmulator]:
    with EnttecEmulator(tmp_path / "widget") as emulator:
        yield emulator
        assert emulator.errors == []


def test_widget_unplug_and_replug_resumes_with_the_current_frame_within_2_s(
    bridge_factory, widget, mqtt_probe, figure
) -> None:
    bridge = bridge_factory(
        seeds=True,
        default_transition=0,
        universes={"1": {"driver": "enttec_pro", "port": widget.port}},
        env=QUIET_ENV,
    )
    mqtt_probe.publish(
        bridge.topic("fixture", "kitchen-ceiling", "set"), '{"state":"ON","brightness":255}'
    )
    widget.wait_for_slots({1: 255}, timeout=3)
    resumes = []
    for round_no in range(2):
        widget.unplug()
        # Changes made while unplugged must be what comes out after the replug.
        level = json.dumps({"state": "ON", "brightness": 255})
        mqtt_probe.publish(bridge.topic("fixture", "hallway-downlight", "set"), level)
        mqtt_probe.publish(bridge.topic("fixture", "kitchen-ceiling", "set"), "OFF")
        # unplugged for a while, so the reconnect backoff grows (polled: it must not exit)
        assert not wait_until(lambda: not bridge.running, 1.5 + round_no), bridge.log_tail()
        data = health(mqtt_probe, bridge)
        assert data["outputs"]["1"]["state"] != "ok", data["outputs"]
        assert bridge.running
        widget.clear()
        widget.replug()
        t_replug = time.monotonic()
        frame = widget.wait_for_slots({1: 0, 40: 255}, timeout=5)
        resumes.append(widget.frames[0].t - t_replug)
        assert frame.t - t_replug <= 2.0
        mqtt_probe.publish(bridge.topic("fixture", "hallway-downlight", "set"), "OFF")
        mqtt_probe.publish(
            bridge.topic("fixture", "kitchen-ceiling", "set"), '{"state":"ON","brightness":255}'
        )
        widget.wait_for_slots({1: 255, 40: 0}, timeout=3)
    assert health(mqtt_probe, bridge)["outputs"]["1"]["state"] == "ok"
    figure("output_resumed_after_replug_s", max(resumes), "s")
    assert max(resumes) <= 2.0


def _flood_payload(rng: random.Random, level: int) -> str:
    match rng.randrange(4):
        case 0:
            return str(level)
        case 1:
            return json.dumps({"brightness": level})
        case 2:
            return json.dumps({"state": "ON", "brightness": level, "transition": 0})
        case _:
            return "OFF"


@pytest.mark.usefixtures("quiet_machine")
def test_flood_of_50000_commands_keeps_memory_bounded_and_the_bridge_responsive(
    bridge_factory, mqtt_server, mqtt_probe, figure
) -> None:
    bridge = bridge_factory(seeds=True, default_transition=0, env=QUIET_ENV)
    pid = bridge.pid
    assert pid is not None
    retained_states(mqtt_probe, bridge, "fixture", len(FIXTURES))
    baseline = rss_kib(pid)
    rng = random.Random(50_000)
    finals = {slug: 11 + 17 * i for i, slug in enumerate(FIXTURES)}
    response = bridge.topic("bridge", "response", "health_check")
    # Only the response topic during the flood: a Python probe subscribed to 50,000 state
    # messages is itself a slow consumer, and the broker drops what overflows its queue
    # (the health-check reply included). States are read after the flood has drained.
    mqtt_probe.subscribe(response)
    with RssSampler(pid) as rss, connected_probe(mqtt_server) as sender:
        t0 = time.monotonic()
        for _ in range(FLOOD - len(finals)):
            slug = rng.choice(FIXTURES)
            payload = _flood_payload(rng, rng.randint(1, 255))
            sender.client.publish(bridge.topic("fixture", slug, "set"), payload, qos=0)
        # The last command per fixture goes at QoS 1 so the broker cannot drop it; the
        # health check after it is answered only once everything before it was handled.
        infos = [
            sender.client.publish(
                bridge.topic("fixture", slug, "set"),
                json.dumps({"state": "ON", "brightness": level}),
                qos=1,
            )
            for slug, level in finals.items()
        ]
        sent_s = time.monotonic() - t0
        for info in infos:
            info.wait_for_publish(60)
        mark = mqtt_probe.mark()
        sender.publish(response.replace("/response/", "/request/"), '{"transaction":"drained"}')
        mqtt_probe.wait_json(response, lambda d: d.get("transaction") == "drained", 90, after=mark)
        drained_s = time.monotonic() - t0
    after = rss_kib(pid)
    mqtt_probe.subscribe(bridge.topic("fixture", "+"))

    # A fresh command after the flood: time from publish to its state message.
    fresh = []
    for level in (5, 250, 6, 249, 7):
        mark = mqtt_probe.mark()
        t = time.monotonic()
        mqtt_probe.publish(bridge.topic("fixture", "study-desk", "set"), str(level), qos=0)
        msg = mqtt_probe.wait_for(
            bridge.topic("fixture", "study-desk"),
            lambda m, v=level: json.loads(m.payload)["brightness"] == v,
            5,
            after=mark,
        )
        fresh.append(msg.received - t)
    finals["study-desk"] = 7

    states = retained_states(mqtt_probe, bridge, "fixture", len(FIXTURES))
    wrong = {
        s: states[s]
        for s in FIXTURES
        if (states[s]["state"], states[s]["brightness"]) != ("ON", finals[s])
    }
    expected = {s: light_state(states[s]) for s in FIXTURES}
    persisted = wait_until(lambda: stored_states(bridge.database_url) == expected, 5)

    figure("flood_commands", FLOOD)
    figure("flood_publish_s", sent_s, "s")
    figure("flood_drained_s", drained_s, "s")
    figure("flood_commands_per_s", round(FLOOD / drained_s))
    figure("rss_baseline_mib", round(baseline / 1024, 1))
    figure("rss_peak_mib", round(rss.peak / 1024, 1))
    figure("rss_after_mib", round(after / 1024, 1))
    figure("fresh_command_s_median", statistics.median(fresh), "s")
    figure("fresh_command_s_max", max(fresh), "s")
    assert rss.peak - baseline <= RSS_GROWTH_LIMIT_KIB
    assert statistics.median(fresh) <= FRESH_COMMAND_LIMIT_S, fresh
    assert wrong == {}
    assert persisted
    assert bridge.running
