"""Broker faults a well-kept MQTT client survives (issue 12), against a real Mosquitto.

The broker is frozen (SIGSTOP: TCP stays open, nothing answers), cut by a proxy that
stops forwarding without closing, made to drop the bridge right after accepting it, or
shared by two bridges with one client id. Each test drives the bridge as a user would
and reads what a subscriber sees.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.request
from typing import Any

import pytest
from testkit.proxy import TcpProxy
from testkit.services import MqttServer, free_port

from tests.reliability.helpers import (
    FAST,
    FAST_ENV,
    FIXTURES,
    QUIET_ENV,
    catalogue,
    connected_probe,
    request,
    retained_states,
    rss_kib,
    sql,
    wait_until,
)

pytestmark = [pytest.mark.fault]

KEEPALIVE_S = 5


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def broker_up(port: int) -> bool:
    _, body = http_get(port, "/healthz")
    return bool(json.loads(body)["broker"]["status"] == "connected")


def metric(port: int, name: str) -> float:
    _, text = http_get(port, "/metrics")
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def renamer(url: str, slug: str, stop: threading.Event) -> threading.Thread:
    """Rename a fixture back and forth every 0.25 s: each rename makes the bridge
    publish a discovery config and every state (a bridge that is busy publishing)."""

    def run() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            sql(url, "UPDATE fixtures SET name = $1 WHERE slug = $2", f"Renamed {n}", slug)
            stop.wait(0.25)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "publishing"])
def test_a_frozen_broker_is_noticed_within_1_5_keepalive_and_the_bridge_comes_back(
    bridge_factory, owned_broker, figure, busy
) -> None:
    http = free_port()
    bridge = bridge_factory(
        seeds=True,
        mqtt=owned_broker.server,
        env={
            **QUIET_ENV,
            "TAU_MQTT__KEEPALIVE_S": str(KEEPALIVE_S),
            "TAU_HTTP__PORT": str(http),
        },
    )
    assert broker_up(http) and metric(http, "tau_mqtt_connected") == 1
    stop = threading.Event()
    # One subscriber through the whole test: its connection survives the freeze, so it
    # sees what the bridge publishes the moment the broker runs again.
    with connected_probe(owned_broker.server) as probe:
        probe.subscribe(bridge.state_topic)
        probe.subscribe(f"{bridge.discovery_prefix}/#")
        probe.subscribe(bridge.topic("fixture", "+"))
        if busy:
            renamer(bridge.database_url, "study-desk", stop)
            assert wait_until(lambda: len(probe.messages(bridge.topic("fixture", "+"))) > 40, 5)
        try:
            owned_broker.freeze()
            frozen = time.monotonic()
            noticed = wait_until(lambda: not broker_up(http), KEEPALIVE_S * 2)
            noticed_s = time.monotonic() - frozen
            assert metric(http, "tau_mqtt_connected") == 0
            mark = probe.mark()
        finally:
            owned_broker.thaw()
            stop.set()
        figure(f"frozen_broker_noticed_s_{'busy' if busy else 'idle'}", noticed_s, "s")
        assert noticed, bridge.log_tail()
        assert noticed_s <= 1.5 * KEEPALIVE_S, bridge.log_tail()

        # Back: the bridge reconnects and says everything again.
        probe.wait_for(
            bridge.state_topic, lambda m: m.payload == b"online" and not m.retain, 30, after=mark
        )
        fresh = probe.messages(f"{bridge.discovery_prefix}/#", after=mark)
        states = probe.messages(bridge.topic("fixture", "+"), after=mark)
        assert len({m.topic for m in fresh if not m.retain}) >= len(FIXTURES)
        assert {m.topic for m in states if not m.retain} >= {
            bridge.topic("fixture", s) for s in FIXTURES
        }
    assert wait_until(lambda: broker_up(http), 5)
    log = bridge.log_text()
    assert "Traceback" not in log
    assert "stopped answering" in log, log


def test_every_message_delivered_while_connecting_is_answered(
    bridge_factory, mqtt_server, mqtt_probe
) -> None:
    """A persistent session's backlog arrives right after CONNACK: requests, bad input
    and switch presses in it get their replies, log entries and events."""
    proxy = TcpProxy((mqtt_server.host, mqtt_server.port))
    try:
        bridge = bridge_factory(
            seeds=True,
            mqtt=MqttServer("127.0.0.1", proxy.port, "throwaway", "proxy"),
            env=QUIET_ENV,
        )
        for topic in ("bridge/response/#", "bridge/log", "switch/+/event"):
            mqtt_probe.subscribe(bridge.topic(*topic.split("/")))
        mqtt_probe.subscribe(bridge.state_topic)
        mark = mqtt_probe.mark()
        proxy.cut()
        mqtt_probe.wait_for(bridge.state_topic, lambda m: m.payload == b"offline", 5, after=mark)
        for n in range(5):
            mqtt_probe.publish(
                bridge.topic("bridge", "request", "health_check"),
                json.dumps({"transaction": f"t{n}"}),
                qos=1,
            )
        mqtt_probe.publish(bridge.topic("fixture", "no-such-fixture", "set"), "ON", qos=1)
        mqtt_probe.publish(bridge.topic("fixture", "kitchen-ceiling", "set"), "{bad", qos=1)
        mqtt_probe.publish(bridge.topic("switch", "kitchen-wall", "action"), "single", qos=1)
        proxy.restore()
        mqtt_probe.wait_for(bridge.state_topic, lambda m: m.payload == b"online", 15, after=mark)
        assert wait_until(
            lambda: len(mqtt_probe.messages(bridge.topic("bridge", "log"), after=mark)) >= 2, 5
        )
        logs = [m.json() for m in mqtt_probe.messages(bridge.topic("bridge", "log"), after=mark)]
        assert wait_until(
            lambda: bool(mqtt_probe.messages(bridge.topic("switch", "+", "event"), after=mark)), 5
        ), bridge.log_tail()

        def replies() -> set[str]:
            return {
                m.json().get("transaction")
                for m in mqtt_probe.messages(
                    bridge.topic("bridge", "response", "health_check"), after=mark
                )
            }

        # Requests run as tasks of their own: their replies may trail the switch event.
        wait_until(lambda: len(replies()) >= 5, 10)
        assert replies() == {f"t{n}" for n in range(5)}, bridge.log_tail()
        assert any("no-such-fixture" in e["message"] for e in logs), logs
        assert any(e["topic"].endswith("kitchen-ceiling/set") for e in logs), logs
    finally:
        proxy.close()


def test_a_removal_in_flight_at_a_disconnect_is_delivered_after_the_reconnect(
    bridge_factory, mqtt_server, mqtt_probe
) -> None:
    proxy = TcpProxy((mqtt_server.host, mqtt_server.port))
    try:
        bridge = bridge_factory(
            seeds=True,
            mqtt=MqttServer("127.0.0.1", proxy.port, "throwaway", "proxy"),
            env={**QUIET_ENV, "TAU_MQTT__KEEPALIVE_S": str(KEEPALIVE_S)},
        )
        assert "fixture/garden-spot" in catalogue(mqtt_probe, bridge)
        assert "garden-spot" in retained_states(mqtt_probe, bridge, "fixture", len(FIXTURES))
        mqtt_probe.subscribe(bridge.state_topic)
        mark = mqtt_probe.mark()
        # The network path dies without a close: what the bridge writes now is lost.
        proxy.stall()
        sql(bridge.database_url, "DELETE FROM fixtures WHERE slug = 'garden-spot'")
        # The bridge notices the silence, reconnects through a fresh connection and
        # sends the removal it never got acknowledged.
        mqtt_probe.wait_for(
            bridge.state_topic, lambda m: m.payload == b"online" and not m.retain, 20, after=mark
        )
        proxy.drop_stalled()

        def removed() -> bool:
            lights = catalogue(mqtt_probe, bridge, expect=0)
            states = retained_states(mqtt_probe, bridge, "fixture")
            return "fixture/garden-spot" not in lights and "garden-spot" not in states

        assert wait_until(removed, 10), bridge.log_tail()
        assert len(catalogue(mqtt_probe, bridge, expect=0)) > 0  # the rest is still there
    finally:
        proxy.close()


def connects(log: str) -> int:
    return log.count("event=mqtt_online")


def test_a_broker_that_drops_the_bridge_right_after_accepting_it_backs_off(
    bridge_factory, mqtt_server, figure
) -> None:
    # Backoff tenfold faster (FAST): delays 0.025, 0.05, ... capped at 1 s, so a 6 s
    # window holds about 6 connections; one that reset its backoff after each SUBACK
    # would come back every ~0.63 s (10 or more).
    proxy = TcpProxy((mqtt_server.host, mqtt_server.port), lifetime_s=0.6)
    window_s = 6.0
    try:
        bridge = bridge_factory(
            seeds=True,
            mqtt=MqttServer("127.0.0.1", proxy.port, "throwaway", "proxy"),
            env=FAST_ENV,
            wait_online=False,
        )
        # the window starts at the first connection (the bridge's start-up is not counted)
        assert wait_until(lambda: bool(proxy.accepted), 30), bridge.log_tail()
        first = proxy.accepted[0]
        wait_until(lambda: time.monotonic() - first >= window_s, window_s + 1)
        # One attempt may be two connections: a 3.1.1 bridge without a record of when it
        # was last up first ends the broker's old session (a clean connect, closed at
        # once), then opens its own. Counted once, as the attempt it is.
        accepted = []
        for t in proxy.accepted:
            if t - first <= window_s and (not accepted or t - accepted[-1] > 0.1):
                accepted.append(t)
    finally:
        proxy.close()
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(accepted)]
    figure("connections_in_6_s", len(accepted))
    figure("gaps_between_connections_s", gaps)
    assert 3 <= len(accepted) <= 8, gaps
    # the delay grew instead of resetting after each SUBACK (a reset one is 0.025-0.03 s)
    assert gaps[-1] >= 0.6 + 3 * FAST, gaps
    log = bridge.log_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1, errors
    assert "TAU_MQTT__CLIENT_ID" in errors[0] and "right after accepting it" in errors[0], errors
    assert "Traceback" not in log


def test_two_bridges_with_one_client_id_are_named_and_do_not_storm(
    bridge_factory, mqtt_server, figure
) -> None:
    # Production timings here: tenfold faster reconnects make the two bridges kick each
    # other during their start-up bursts, where uvloop and paho race on a closed socket
    # (an asyncio ERROR in the log) far more often than the real backoff ever does.
    env = {**QUIET_ENV, "TAU_MQTT__CLIENT_ID": "tau-shared-id-test"}
    first = bridge_factory(seeds=True, env=env)
    second = bridge_factory(seeds=True, env=env, wait_online=False)

    def named() -> list[str]:
        return [
            line
            for text in (first.log_text(), second.log_text())
            for line in text.splitlines()
            if " ERROR " in line and "TAU_MQTT__CLIENT_ID" in line
        ]

    def storm() -> bool:
        return any(connects(b.log_text()) > 8 for b in (first, second))

    # 15 s to count reconnects in (polled: a storm fails at once)
    assert not wait_until(storm, 15)
    logs = [first.log_text(), second.log_text()]
    figure("online_announcements", [connects(text) for text in logs])
    assert named(), logs[0][-3000:]
    for text in logs:
        assert connects(text) <= 8, text[-3000:]
        assert len([ln for ln in text.splitlines() if " ERROR " in ln]) <= 1
        assert "Traceback" not in text


def test_a_broker_that_reads_slowly_does_not_grow_the_bridge(
    bridge_factory, mqtt_server, mqtt_probe, figure
) -> None:
    """Bridge -> broker stalls while commands keep arriving: states coalesce per fixture,
    log entries stop at TAU_MQTT__MAX_QUEUED, and the newest state wins once it flows."""
    proxy = TcpProxy((mqtt_server.host, mqtt_server.port))
    http = free_port()
    cap = 500
    try:
        bridge = bridge_factory(
            seeds=True,
            mqtt=MqttServer("127.0.0.1", proxy.port, "throwaway", "proxy"),
            default_transition=0,
            env={
                **QUIET_ENV,
                "TAU_MQTT__KEEPALIVE_S": "120",
                "TAU_MQTT__MAX_QUEUED": str(cap),
                "TAU_HTTP__PORT": str(http),
            },
        )
        assert bridge.pid is not None
        before = rss_kib(bridge.pid)
        proxy.stall("up")
        last: dict[str, int] = {}
        bad = json.dumps({"state": "ON", "note": "x" * 180})  # its log entry repeats it
        for n in range(20_000):
            slug = FIXTURES[n % len(FIXTURES)]
            last[slug] = 1 + n % 250
            mqtt_probe.publish(
                bridge.topic("fixture", slug, "set"),
                json.dumps({"state": "ON", "brightness": last[slug]}),
                qos=0,
            )
            # and bad input, whose log entries cannot coalesce
            mqtt_probe.publish(bridge.topic("fixture", "nope", "set"), bad, qos=0)
        assert wait_until(lambda: metric(http, "tau_mqtt_queued") >= cap, 10)
        time.sleep(1.0)
        queued = metric(http, "tau_mqtt_queued")
        grown_kib = rss_kib(bridge.pid) - before
        figure("outbox_while_stalled", int(queued))
        figure("rss_growth_while_stalled_kib", grown_kib, "KiB")
        topics = 2 * len(FIXTURES) + 40  # states, group states, circadian switches, info
        assert queued <= cap + topics
        assert grown_kib < 30 * 1024
        mark = mqtt_probe.mark()
        proxy.resume()
        # A level the flood never used, sent after it: once its state is out, the bridge
        # has worked through the whole backlog (a loaded machine may take a while), and
        # every fixture's retained state must then be its newest.
        marker = FIXTURES[0]
        last[marker] = 253
        marker_topic = bridge.topic("fixture", marker)
        mqtt_probe.subscribe(marker_topic)
        mqtt_probe.publish(
            bridge.topic("fixture", marker, "set"), json.dumps({"brightness": 253}), qos=0
        )
        mqtt_probe.wait_json(marker_topic, lambda d: d["brightness"] == 253, 60, after=mark)
        settled = mqtt_probe.mark()
        for slug in last:
            mqtt_probe.subscribe(bridge.topic("fixture", slug))
        for slug, level in last.items():
            mqtt_probe.wait_json(
                bridge.topic("fixture", slug),
                lambda d, v=level: d["brightness"] == v,
                15,
                after=settled if slug != marker else mark,
            )
        assert "mqtt_outbox_full" in bridge.log_text()
        reply: dict[str, Any] = request(mqtt_probe, bridge, "health_check")
        assert reply["status"] == "ok"
    finally:
        proxy.close()


def test_waiting_for_an_unreachable_broker_is_said_every_10_s(bridge_factory) -> None:
    port = free_port()  # nothing listens here
    bridge = bridge_factory(
        seeds=True,
        mqtt=MqttServer("127.0.0.1", port, "throwaway", "none"),
        env=FAST_ENV,  # tenfold faster: the reminder every 1 s, attempts up to 1 s apart
        wait_online=False,
    )
    # The reminder rides on the first failed attempt 10 s or more after the first line;
    # attempts are up to 10 s (+25 % jitter) apart, so it comes within 22.5 s of it
    # (all of it tenfold shorter here).
    assert wait_until(lambda: "still waiting for the MQTT broker" in bridge.log_text(), 30)
    lines = [ln for ln in bridge.log_text().splitlines() if "event=mqtt_unreachable" in ln]
    assert f"waiting for the MQTT broker at 127.0.0.1:{port}" in lines[0], lines
    assert "is it running? check TAU_MQTT__HOST and TAU_MQTT__PORT" in lines[0], lines
    assert re.search(r"still waiting for .* since \d\d:\d\d:\d\d", lines[1]), lines
    assert len(lines) == 2, lines  # not one line per retry
    assert bridge.running and "Traceback" not in bridge.log_text()
