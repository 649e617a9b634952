"""Broker outages: reconnect, re-publish, queued QoS 1 commands, DMX that never stops.

PRODUCT.md §8: the bridge reconnects with backoff, re-subscribes, re-publishes
availability, discovery and states; DMX output continues meanwhile.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator

import pytest
from testkit.enttec import EnttecEmulator
from testkit.proxy import TcpProxy
from testkit.services import MqttServer

from tests.reliability.helpers import (
    FIXTURES,
    GROUPS,
    QUIET_ENV,
    catalogue,
    connected_probe,
    retained_states,
    wait_until,
)

pytestmark = [pytest.mark.fault]

OUTAGE_S = 5.0
RECONNECT_LIMIT_S = 5.0
FRAME_GAP_LIMIT_S = 0.5


@pytest.fixture
def widget(tmp_path) -> Iterator[EnttecEmulator]:
    with EnttecEmulator(tmp_path / "widget") as emulator:
        yield emulator
        assert emulator.errors == []


def test_broker_restart_reconnects_within_5_s_and_dmx_never_stops(
    bridge_factory, owned_broker, widget, figure
) -> None:
    server = owned_broker.server
    bridge = bridge_factory(
        seeds=True,
        mqtt=server,
        default_transition=0,
        universes={"1": {"driver": "enttec_pro", "port": widget.port}},
        env=QUIET_ENV,
    )
    with connected_probe(server) as probe:
        catalogue(probe, bridge)
        # A slow 16-bit fade on kitchen-counter (ch 4-5) spans the whole outage.
        probe.publish(
            bridge.topic("fixture", "kitchen-counter", "set"),
            json.dumps({"state": "ON", "brightness": 255, "transition": 12}),
        )
        assert widget.wait_for(lambda: bool(widget.frames) and widget.frames[-1].slot(4) > 0, 3)

    t_stop = time.monotonic()
    owned_broker.stop()
    # the outage itself: a duration (polled: the bridge must ride it out, not exit)
    assert not wait_until(lambda: not bridge.running, OUTAGE_S), bridge.log_tail()
    owned_broker.start()
    t_back = time.monotonic()

    with connected_probe(server) as probe:
        probe.subscribe(bridge.state_topic)
        online = probe.wait_for(bridge.state_topic, lambda m: m.payload == b"online", 15)
        reconnect_s = online.received - t_back
        # the restarted broker kept nothing: everything below was published again
        lights = catalogue(probe, bridge)
        states = retained_states(probe, bridge, "fixture", len(FIXTURES))
        groups = retained_states(probe, bridge, "group", len(GROUPS))
        probe.subscribe(bridge.topic("bridge", "info"))
        info = probe.wait_json(bridge.topic("bridge", "info"), timeout=5)
        # re-subscribed: a command works again
        probe.subscribe(bridge.topic("fixture", "hallway-downlight"))
        mark = probe.mark()
        t_cmd = time.monotonic()
        probe.publish(bridge.topic("fixture", "hallway-downlight", "set"), "ON")
        probe.wait_json(
            bridge.topic("fixture", "hallway-downlight"),
            lambda d: d["state"] == "ON",
            5,
            after=mark,
        )
        command_s = time.monotonic() - t_cmd

    with widget._cond:
        during = [f for f in widget.frames if t_stop <= f.t <= t_back]
        around = [f for f in widget.frames if t_stop - 0.5 <= f.t <= t_back + 0.5]
    gaps = [b.t - a.t for a, b in itertools.pairwise(around)]
    levels = [f.slot(4) << 8 | f.slot(5) for f in during]

    figure("broker_outage_s", OUTAGE_S, "s")
    figure("reconnect_after_broker_back_s", reconnect_s, "s")
    figure("first_command_after_reconnect_s", command_s, "s")
    figure("dmx_frames_during_outage", len(during))
    figure("max_dmx_frame_gap_s", max(gaps, default=float("inf")), "s")
    assert reconnect_s <= RECONNECT_LIMIT_S
    assert len(lights) == len(FIXTURES) + len(GROUPS)
    assert set(states) == set(FIXTURES) and set(groups) == set(GROUPS)
    assert info["broker"]["status"] == "connected"
    assert len(during) > OUTAGE_S * 10, "the fade stopped while the broker was down"
    assert max(gaps) <= FRAME_GAP_LIMIT_S
    assert levels == sorted(levels) and levels[-1] > levels[0], "the fade did not progress"


def test_qos1_commands_sent_while_the_bridge_is_cut_off_are_applied_on_reconnect(
    bridge_factory, mqtt_server, mqtt_probe, figure
) -> None:
    proxy = TcpProxy((mqtt_server.host, mqtt_server.port))
    try:
        bridge = bridge_factory(
            seeds=True,
            mqtt=MqttServer("127.0.0.1", proxy.port, "throwaway", "proxy"),
            default_transition=0,
            env=QUIET_ENV,
        )
        mqtt_probe.subscribe(bridge.state_topic)
        mqtt_probe.subscribe(bridge.topic("fixture", "+"))
        retained_states(mqtt_probe, bridge, "fixture", len(FIXTURES))
        mark = mqtt_probe.mark()
        proxy.cut()
        # The broker noticed: it published the bridge's last will.
        mqtt_probe.wait_for(bridge.state_topic, lambda m: m.payload == b"offline", 5, after=mark)
        wanted = {slug: 10 + 13 * i for i, slug in enumerate(FIXTURES)}
        for slug, level in wanted.items():
            mqtt_probe.publish(
                bridge.topic("fixture", slug, "set"),
                json.dumps({"state": "ON", "brightness": level}),
                qos=1,
            )
        queued_mark = mqtt_probe.mark()
        time.sleep(1.0)  # the cut lasts a while longer; nothing may arrive meanwhile
        early = mqtt_probe.messages(bridge.topic("fixture", "+"), after=queued_mark)
        assert early == [], "the bridge saw commands while cut off?"
        proxy.restore()
        t_back = time.monotonic()
        online = mqtt_probe.wait_for(
            bridge.state_topic, lambda m: m.payload == b"online", 10, after=queued_mark
        )
        applied = 0
        for slug, level in wanted.items():
            got = mqtt_probe.wait_json(
                bridge.topic("fixture", slug),
                lambda d, v=level: d["state"] == "ON" and d["brightness"] == v,
                10,
                after=queued_mark,
            )
            applied += got["brightness"] == level
        figure("reconnect_after_cut_s", online.received - t_back, "s")
        figure("queued_qos1_commands_applied", f"{applied}/{len(wanted)}")
        assert applied == len(wanted)
    finally:
        proxy.close()
