"""Every shell line under README "Try it" runs against a live bridge and does what it says.

The lines are executed as written, with the broker's host/port and this test's
base topic swapped in: `mosquitto_pub` when installed, else the same arguments
published through paho (so a machine without mosquitto clients still runs them).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.mqtt import MqttProbe

ORANGE = {"r": 255, "g": 80, "b": 0}
README = Path(__file__).resolve().parents[2] / "README.md"


def try_it_lines() -> list[str]:
    text = README.read_text()
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README 'Try it' has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def run_line(line: str, base: str, probe: MqttProbe) -> None:
    args = shlex.split(line)
    assert args[0] == "mosquitto_pub", line
    topic = args[args.index("-t") + 1]
    message = args[args.index("-m") + 1]
    assert topic.startswith("tau/")
    topic = base + topic[len("tau") :]
    if shutil.which("mosquitto_pub"):
        cmd = ["mosquitto_pub", "-h", probe.host, "-p", str(probe.port), "-q", "1"]
        subprocess.run([*cmd, "-t", topic, "-m", message], check=True, timeout=10)
    else:
        probe.publish(topic, message)


def expectations(base: str) -> dict[int, tuple[str, Callable[[dict[str, Any]], bool]]]:
    """What each "Try it" line (by index) makes Tau publish: the topic and a check."""
    return {
        0: (f"{base}/group/kitchen", lambda d: d["state"] == "ON"),
        1: (f"{base}/group/downstairs", lambda d: d["state"] == "ON" and d["brightness"] == 128),
        2: (f"{base}/fixture/kitchen-island", lambda d: d.get("color_temp") == 2700),
        3: (
            f"{base}/fixture/living-strip",
            lambda d: d.get("color") == {"r": 255, "g": 80, "b": 0},
        ),
        4: (f"{base}/group/house", lambda d: d["brightness"] == 102),
        5: (f"{base}/group/kitchen", lambda d: d["state"] == "OFF"),
        6: (f"{base}/group/kitchen", lambda d: d["state"] == "ON" and d["brightness"] == 255),
        7: (f"{base}/bridge/response/scene/store", lambda d: d["status"] == "ok"),
        8: (f"{base}/group/house", lambda d: d["state"] == "OFF"),
        9: (
            f"{base}/fixture/living-strip",
            lambda d: d["state"] == "ON" and d.get("color") == ORANGE and d["source"] == "scene",
        ),
    }


def test_try_it_lines_work(bridge_factory, mqtt_probe) -> None:
    bridge = bridge_factory(seeds=True, default_transition=0)
    lines = try_it_lines()
    assert len(lines) >= 8
    base = bridge.base_topic
    mqtt_probe.subscribe(f"{base}/#")
    expected = expectations(base)
    for index, line in enumerate(lines):
        mark = mqtt_probe.mark()
        run_line(line, base, mqtt_probe)
        if index in expected:
            topic, check = expected[index]
            mqtt_probe.wait_json(topic, check, timeout=5, after=mark)
        assert mqtt_probe.messages(f"{base}/bridge/log", after=mark) == [], line
