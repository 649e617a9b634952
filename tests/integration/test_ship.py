"""Shipping: `tau run --demo` on embedded services, `tau check`, /healthz and /metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from testkit.mqtt import MqttProbe
from testkit.services import free_port

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env["PYTHONPATH"] = str(REPO / "bridge")
    env.update(extra)
    return env


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout: float) -> list[str]:
    """Lines of stdout up to the first one matching `pattern` (the process keeps running)."""
    assert proc.stdout is not None
    lines: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if re.search(pattern, line):
                found.set()
                return

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(timeout):
        raise AssertionError(f"no {pattern!r} within {timeout} s; stdout: {lines[-20:]}")
    return lines


@pytest.mark.slow
def test_demo_runs_on_embedded_database_and_broker(tmp_path, embedded_data_dir) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tau", "run", "--demo", "--no-view"],
        env=_env(TAU_DATA_DIR=str(embedded_data_dir), TAU_MQTT__PORT=str(port)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
    )
    try:
        lines = _read_until(proc, r"mosquitto_pub .*group/.*/set -m ON", timeout=180)
        assert "Tau is ready. Try:" in lines
        printed = lines[-1].strip()
        stderr = (tmp_path / "stderr.log").read_text()
        assert "embedded_broker_started" in stderr
        topic = printed.split(" -t ")[1].split()[0]
        assert f"-p {port}" in printed
        # the demo's own base topic: it never touches a home installation's
        assert topic.startswith("tau-demo/group/"), printed
        with MqttProbe("127.0.0.1", port) as probe:
            probe.subscribe("tau-demo/#")
            probe.publish(topic, "ON")
            probe.wait_json(topic.removesuffix("/set"), lambda d: d["state"] == "ON", 10)
            probe.publish("tau-demo/bridge/request/dmx/frame", '{"universe": 1}')
            reply = probe.wait_json("tau-demo/bridge/response/dmx/frame", timeout=10)
            assert probe.retained("homeassistant/light/tau-demo"), "the demo's discovery"
            assert not probe.retained("tau/bridge"), "nothing under a home's base topic"
        assert reply["status"] == "ok"
        assert any(reply["data"]["slots"]), reply
        assert reply["data"]["output"]["driver"] == "virtual"
    finally:
        proc.terminate()
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


def _check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tau", "check"],
        env=_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tau_check_healthy(bridge_factory, mqtt_server, tmp_path) -> None:
    url = bridge_factory.database(schema=True, seeds=True)
    result = _check(
        {
            "TAU_DATABASE_URL": url,
            "TAU_MQTT__HOST": mqtt_server.host,
            "TAU_MQTT__PORT": str(mqtt_server.port),
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(re.match(r"configuration\s+OK", line) for line in lines)
    assert any(re.match(r"database\s+OK .*14 fixtures", line) for line in lines), lines
    assert any(re.match(r"broker\s+OK", line) for line in lines)


def test_tau_check_broken(mqtt_server, tmp_path) -> None:
    dead_port = free_port()
    secret = "s3cret-pw"
    result = _check(
        {
            "TAU_DATABASE_URL": f"postgresql://tau:{secret}@127.0.0.1:{free_port()}/nowhere",
            "TAU_MQTT__HOST": "127.0.0.1",
            "TAU_MQTT__PORT": str(dead_port),
            "TAU_MQTT__PASSWORD": secret,
            "TAU_MQTT__USERNAME": "tau",
            "TAU_DMX__UNIVERSES": json.dumps(
                {"1": {"driver": "enttec_pro", "port": str(tmp_path / "ttyUSB9")}}
            ),
        },
        tmp_path,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert re.search(r"database\s+FAILED\s+cannot reach PostgreSQL", out), out
    assert re.search(rf"broker\s+FAILED\s+cannot connect to 127.0.0.1:{dead_port}", out), out
    assert re.search(r"universe 1 \(enttec_pro\)\s+FAILED .*ttyUSB9", out), out
    assert secret not in out
    assert "Traceback" not in out


def test_tau_check_invalid_configuration(tmp_path) -> None:
    result = _check({"TAU_MQTT__PORT": "99999", "TAU_DMX__FPS": "-1"}, tmp_path)
    assert result.returncode == 2
    assert "TAU_MQTT__PORT" in result.stdout and "TAU_DMX__FPS" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - local test server
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


def test_healthz_and_metrics(bridge_factory, mqtt_probe) -> None:
    port = free_port()
    bridge = bridge_factory(seeds=True, default_transition=0, env={"TAU_HTTP__PORT": str(port)})
    status, body = _get(f"http://127.0.0.1:{port}/healthz")
    health = json.loads(body)
    assert status == 200 and health["healthy"] is True
    assert health["broker"]["status"] == "connected"
    assert health["outputs"]["1"]["driver"] == "virtual"
    # one bridge alone: it leads and sends every universe of the installation
    node = health["node"]
    assert node["leader"] is True and node["lease"] == "ok"
    assert node["owned"] == [1, 2] and node["standby"] == []
    assert node["name"]  # the host name when TAU_NODE__NAME is unset
    _, before = _get(f"http://127.0.0.1:{port}/metrics")
    handled = _metric(before, "tau_commands_total", '{kind="fixture_set"}')
    mqtt_probe.subscribe(bridge.topic("fixture", "#"))
    mqtt_probe.subscribe(bridge.topic("bridge", "log"))
    for level in (10, 20, 30):
        mqtt_probe.publish(bridge.topic("fixture", "study-desk", "set"), str(level))
    mqtt_probe.wait_json(bridge.topic("fixture", "study-desk"), lambda d: d["brightness"] == 30)
    mqtt_probe.publish(bridge.topic("fixture", "study-desk", "set"), "{oops")
    mqtt_probe.wait_for(bridge.topic("bridge", "log"), timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _, after = _get(f"http://127.0.0.1:{port}/metrics")
        # Commands are counted when handled, their frames up to one frame period later.
        if (
            _metric(after, "tau_commands_total", '{kind="fixture_set"}') >= handled + 3
            and _metric(after, "tau_command_to_frame_seconds_count") >= 3
        ):
            break
        time.sleep(0.1)
    assert _metric(after, "tau_commands_total", '{kind="fixture_set"}') == handled + 3
    assert _metric(after, "tau_commands_rejected_total", '{reason="fixture_set"}') == 1
    assert _metric(after, "tau_command_to_frame_seconds_count") >= 3
    assert _metric(after, "tau_frames_sent_total", '{universe="2"}') >= 1
    assert "tau_db_write_batch_seconds_count" in after
    assert "tau_db_write_queue" in after
    assert "tau_mqtt_reconnects_total" in after
    assert _metric(after, "tau_node_leader") == 1
    assert _metric(after, "tau_universe_owned", '{universe="1"}') == 1
    assert _metric(after, "tau_universe_owned", '{universe="2"}') == 1
    _, missing = _get(f"http://127.0.0.1:{port}/nope")
    assert "healthz" in missing
