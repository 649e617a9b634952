"""`tau run` without a terminal on stdout: plain log lines and plain "ready" lines, no view."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from testkit.mqtt import MqttProbe

PLAIN_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+ \S")


def _wait_text(bridge, text: str, timeout: float = 10) -> str:  # type: ignore[no-untyped-def]
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


def test_a_terminal_gets_the_live_view_with_the_log_above_it(
    bridge_factory, mqtt_probe: MqttProbe, tmp_path
) -> None:
    """`tau run` on an 80 by 24 pseudo-terminal: the view is drawn, a rejected command shows
    in it and as a log record printed through the same console."""
    bridge = bridge_factory(seeds=True, start=False)
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(bridge.env, TERM="xterm-256color", COLUMNS="80", LINES="24")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tau", "run"],
        env=env,
        cwd=tmp_path,
        stdin=child,
        stdout=child,
        stderr=child,
        start_new_session=True,
    )
    os.close(child)
    out = bytearray()

    def read_until(needle: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    out.extend(os.read(main, 65536))
                except OSError:
                    break
        assert needle in out, bytes(out[-3000:]).decode(errors="replace")

    try:
        read_until("── DMX universes".encode(), 60)
        mqtt_probe.publish(bridge.topic("group", "nope", "set"), "ON")
        mqtt_probe.publish(
            bridge.topic("fixture", "living-strip", "set"),
            '{"color": {"r": 255, "g": 80, "b": 0}, "state": "ON"}',
        )
        read_until(b"#FF5000", 15)
        read_until(b"unknown group 'nope'", 15)
    finally:
        proc.terminate()
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(main)
    text = bytes(out).decode(errors="replace")
    assert "Tau is ready. Try:" in text
    assert "\x1b[" in text  # a terminal: drawn with control sequences
    assert "input_rejected" in text  # the log record, through the console
    assert f"rejected {bridge.topic('group', 'nope', 'set')}: unknown group 'nope'" in text
    assert "── Fixtures" in text and "living-strip" in text
    assert "(255, 80, 0)" not in text and "off 100 %" not in text
    assert "Traceback" not in text
