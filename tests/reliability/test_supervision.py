"""Every long-running part of the bridge is supervised (issue 20): a fault injected into
a part of a real bridge process is logged once with its traceback, shown in /healthz and
`<base>/bridge/info`, counted in `tau_task_restarts_total{part}`, and the part runs
again: the light still follows an MQTT command, read at the emulated Enttec USB Pro.

Faults come from the `testing/fail` request, answered only with
TAU_SUPERVISOR__FAULT_INJECTION=true: the part's next checkpoint raises once.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from testkit.bridge import BridgeProcess
from testkit.enttec import EnttecEmulator
from testkit.mqtt import MqttProbe
from testkit.services import MqttServer, free_port

from tests.reliability.helpers import request, wait_until

FIXTURE = "kitchen-ceiling"  # universe 1, channel 1, a plain dimmer

# part armed -> the part the supervisor names (a writer's failure ends the session)
PARTS = {
    "render": "render",
    "writer": "writer",
    "mqtt": "mqtt",
    "mqtt-writer": "mqtt",
    "request-workers": "request-workers",
    "listener": "listener",
    "reload": "reload",
    "cluster": "cluster",
    "cluster-deadlines": "cluster-deadlines",
    "circadian": "circadian",
    "status": "status",
    "homeassistant": "homeassistant",
}


@dataclass
class Rig:
    bridge: BridgeProcess
    widget: EnttecEmulator
    probe: MqttProbe
    http: int
    url: str
    level: int = 0


def http_json(port: int, path: str) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def restarts_metric(port: int, part: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
        text = reply.read().decode()
    found = re.search(rf'^tau_task_restarts_total{{part="{re.escape(part)}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
def rig(
    pg_admin_url: str, mqtt_server: MqttServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    from testkit.db import create_database

    from tests.conftest import _drop_database

    name = f"tau_test_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_admin_url, name, schema=True, seeds=True)
    tmp: Path = tmp_path_factory.mktemp("supervision")
    http = free_port()
    with EnttecEmulator(tmp / "widget") as widget:
        bridge = BridgeProcess(
            database_url=url,
            mqtt=mqtt_server,
            log_dir=tmp,
            universes={"1": {"driver": "enttec_pro", "port": widget.port}},
            default_transition=0,
            env={
                "TAU_SUPERVISOR__FAULT_INJECTION": "true",
                "TAU_SUPERVISOR__RESTART_DELAY_S": "0.05",
                "TAU_CIRCADIAN__TICK_SECONDS": "0.2",
                "TAU_HTTP__PORT": str(http),
            },
        )
        probe = MqttProbe(mqtt_server.host, mqtt_server.port).connect()
        try:
            bridge.start()
            bridge.wait_online(30)
            probe.subscribe(bridge.topic("bridge", "info"))
            yield Rig(bridge, widget, probe, http, url)
        finally:
            probe.close()
            bridge.close()
            _drop_database(pg_admin_url, name)


def light_follows(rig: Rig) -> None:
    rig.level = 0 if rig.level else 255
    body = {"state": "ON", "brightness": 255} if rig.level else {"state": "OFF"}
    rig.probe.publish(rig.bridge.topic("fixture", FIXTURE, "set"), json.dumps(body))
    rig.widget.wait_for_slots({1: rig.level}, timeout=5)


def notify_config(url: str) -> None:
    async def main() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute("SELECT pg_notify('tau_config', 'test')")
        finally:
            await conn.close()

    asyncio.run(main())


def test_fault_injection_is_refused_for_an_unknown_part(rig: Rig) -> None:
    reply = request(rig.probe, rig.bridge, "testing/fail", {"part": "nope"})
    assert reply["status"] == "error"
    assert "unknown part 'nope'" in reply["error"]
    assert "render" in reply["error"]


@pytest.mark.parametrize("armed", list(PARTS))
def test_a_failing_part_is_logged_shown_counted_and_restarted(rig: Rig, armed: str) -> None:
    part = PARTS[armed]
    line = f"event=task_failed part={part} "
    failures = rig.bridge.log_text().count(line)
    counted = restarts_metric(rig.http, part)
    reply = request(rig.probe, rig.bridge, "testing/fail", {"part": armed})
    assert reply == {"status": "ok", "data": {"armed": armed}, "transaction": reply["transaction"]}

    # What makes the part run its loop: a command (render, writer, mqtt, its writers), a
    # request (the workers), a NOTIFY (the reload); the rest tick by themselves.
    light_follows(rig)

    def poke() -> bool:  # again until it fails: the loop may have been past its checkpoint
        if armed == "request-workers":
            request(rig.probe, rig.bridge, "health_check")
        elif armed == "reload":
            notify_config(rig.url)
        else:
            body = json.dumps({"state": "ON", "brightness": 255} if rig.level else {"state": "OFF"})
            rig.probe.publish(rig.bridge.topic("fixture", FIXTURE, "set"), body)
        return rig.bridge.log_text().count(line) == failures + 1

    assert wait_until(poke, 10, interval=0.2), rig.bridge.log_tail()
    log = rig.bridge.log_text()
    after = log[log.rindex(line) :]
    assert "Traceback" in after.split("\n", 1)[1][:200]
    assert f"InjectedFaultError: fault injected into {armed}" in after
    assert wait_until(lambda: f"event=task_restarted part={part} " in log_since(rig, line), 10)
    assert restarts_metric(rig.http, part) == counted + 1

    health = http_json(rig.http, "/healthz")
    assert health["tasks"][part]["restarts"] == counted + 1
    assert f"fault injected into {armed}" in health["tasks"][part]["last_error"]
    info = rig.probe.wait_json(
        rig.bridge.topic("bridge", "info"),
        lambda d: d.get("tasks", {}).get(part, {}).get("restarts") == counted + 1,
        timeout=10,
    )
    assert "InjectedFaultError" in info["tasks"][part]["last_error"]

    # The part works again: the light follows the next command, and the part's loop
    # passes its checkpoint without a second failure.
    rig.bridge.wait_online(10)
    light_follows(rig)
    light_follows(rig)
    assert rig.bridge.log_text().count(line) == failures + 1


def log_since(rig: Rig, line: str) -> str:
    log = rig.bridge.log_text()
    return log[log.rindex(line) :]
