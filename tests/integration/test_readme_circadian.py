"""The README's "Circadian control" examples run as written against a bridge on the demo
home: the `mosquitto_pub` requests are answered `ok` and the bridge follows them; the
`tau circadian` lines (in-process, on the bridge's database) do what the README says."""

from __future__ import annotations

import shlex

import pytest
from testkit.db import sql

from tests.integration.cli import run_tau
from tests.integration.test_readme import bash_blocks, run_line

SECTION = "Circadian control"
CLOCK_ONLY = (
    "SELECT take_over, resume_after_s, sleep_brightness_pct, sleep_kelvin "
    "FROM circadian_profiles WHERE name = 'clock-only'"
)


def test_the_circadian_examples_work(
    bridge_factory, mqtt_probe, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    requests, commands = bash_blocks(SECTION)
    bridge = bridge_factory(seeds=True, default_transition=0)
    base = bridge.base_topic
    mqtt_probe.subscribe(f"{base}/#")
    assert len(requests) == 2
    for line in requests:
        mark = mqtt_probe.mark()
        run_line(line, base, mqtt_probe)
        reply = mqtt_probe.wait_json(
            f"{base}/bridge/response/circadian/profile/update", timeout=5, after=mark
        )
        assert reply["status"] == "ok", (line, reply)
        assert mqtt_probe.messages(f"{base}/bridge/log", after=mark) == [], line
    assert sql(bridge.database_url, CLOCK_ONLY) == [
        {
            "take_over": "all",
            "resume_after_s": 3600,
            "sleep_brightness_pct": 2,
            "sleep_kelvin": 2200,
        }
    ]
    # the bridge follows: a manual brightness on the kitchen now takes colour over too
    mark = mqtt_probe.mark()
    mqtt_probe.publish(f"{base}/group/kitchen/set", '{"state": "ON", "brightness": 90}')
    state = mqtt_probe.wait_json(
        f"{base}/fixture/kitchen-island", lambda s: s["brightness"] == 90, after=mark
    )
    assert state["circadian_paused"] == ["brightness", "colour"]

    monkeypatch.setenv("TAU_DATABASE_URL", bridge.database_url)
    outputs = []
    for line in commands:
        args = shlex.split(line)
        assert args[:2] == ["tau", "circadian"], line
        rc, out, err = run_tau(capsys, *args[1:])
        assert (rc, err) == (0, ""), (line, err)
        outputs.append(out)
    assert outputs[0] == "clock-only: take over all, resume by hand only, sleep 2 % at 2000 K\n"
    assert outputs[1].startswith("added evening: ")
    assert "evening: take over changed" in outputs[2] and "18:00 80 % 3000 K" in outputs[2]
    assert outputs[3] == "removed evening\n"
    assert sql(bridge.database_url, "SELECT name FROM circadian_profiles ORDER BY name") == [
        {"name": "clock-only"},
        {"name": "daylight"},
    ]
