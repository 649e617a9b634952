"""`tau run` without a terminal on stdout: plain log lines and plain "ready" lines, no view."""

from __future__ import annotations

import re

from tests.support.mqtt import MqttProbe

PLAIN_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+ \S")


def _wait_text(bridge, text: str, timeout: float = 10) -> str:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = bridge.log_text()
        if text in log:
            return str(log)
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the output:\n{bridge.log_tail()}")


def test_a_pipe_gets_plain_lines_not_the_live_view(bridge_factory, mqtt_probe: MqttProbe) -> None:
    # No --no-view: stdout is a file here, so Tau chooses plain output by itself.
    bridge = bridge_factory(seeds=True, args=("run",))
    mqtt_probe.publish(bridge.topic("group", "no-such-group", "set"), "ON")
    text = _wait_text(bridge, "event=input_rejected")
    text = _wait_text(bridge, "Tau is ready. Try:")
    assert "\x1b" not in text, "escape sequences in non-terminal output"
    assert "DMX universes" not in text and "── " not in text
    lines = [line for line in text.splitlines() if line and not line.startswith("=====")]
    ready = lines.index("Tau is ready. Try:")
    assert lines[ready + 1].startswith("  mosquitto_pub -h ")
    logs = [line for line in lines if "event=" in line]
    assert logs and all(PLAIN_LOG.match(line) for line in logs), logs[:5]
    rejected = next(line for line in logs if "event=input_rejected" in line)
    assert " WARNING tau.bridge event=input_rejected topic=" in rejected
    assert "unknown group 'no-such-group'" in rejected


def test_an_empty_database_says_how_to_begin(bridge_factory) -> None:
    bridge = bridge_factory(seeds=False)
    text = _wait_text(bridge, "Tau is ready.")
    assert "Try:" not in text
    assert "The database has no fixture models yet: load the catalogue with `tau db seed`" in text
    assert "README: From the demo to your home" in text
