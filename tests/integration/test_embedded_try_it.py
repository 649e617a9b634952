"""README "Try it" against `tau run --demo` on the embedded broker, with a wildcard subscriber.

This is what a new user does: `make run`, `mosquitto_sub -v -t 'tau-demo/#'` in one terminal,
the README's `mosquitto_pub` lines in another. Every command must arrive (its state
change is seen by the subscriber) and no traceback may reach the terminal.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from testkit.services import free_port

from tests.integration.test_readme import expectations, try_it_lines

REPO = Path(__file__).resolve().parents[2]
DEMO = "tau-demo"  # the demo's base topic: it never touches a home installation's

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")),
        reason="needs mosquitto-clients (apt install mosquitto-clients)",
    ),
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env["PYTHONPATH"] = str(REPO / "bridge")
    env.update(extra)
    return env


class Subscriber:
    """`mosquitto_sub -v -t 'tau-demo/#'`: every line it prints, in order."""

    def __init__(self, port: int) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-p", str(port), "-v", "-t", f"{DEMO}/#"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def mark(self) -> int:
        with self._lock:
            return len(self.lines)

    def wait_json(self, topic: str, check, after: int, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                seen = self.lines[after:]
            for line in seen:
                got_topic, _, payload = line.partition(" ")
                if got_topic != topic:
                    continue
                try:
                    data = json.loads(payload)
                except ValueError:
                    continue
                if isinstance(data, dict) and check(data):
                    return data
            time.sleep(0.05)
        raise AssertionError(f"no matching {topic} after mark {after}; saw {self.lines[after:]}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def test_try_it_with_a_wildcard_subscriber_on_the_embedded_broker(
    tmp_path, embedded_data_dir
) -> None:
    port = free_port()
    stderr_path = tmp_path / "stderr.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tau", "run", "--demo", "--no-view"],
        env=_env(TAU_DATA_DIR=str(embedded_data_dir), TAU_MQTT__PORT=str(port)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=stderr_path.open("w"),
        text=True,
    )
    sub: Subscriber | None = None
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        for line in proc.stdout:
            if "Tau is ready" in line:
                break
            assert time.monotonic() < deadline, "no 'Tau is ready'"
        assert "broker=mosquitto" in stderr_path.read_text(), stderr_path.read_text()
        sub = Subscriber(port)
        sub.wait_json(f"{DEMO}/bridge/info", lambda d: True, after=0)  # retained: it is up
        expected = expectations(DEMO)
        lines = try_it_lines()
        assert len(lines) == len(expected)
        for index, line in enumerate(lines):
            args = shlex.split(line)
            assert args[0] == "mosquitto_pub", line
            mark = sub.mark()
            # Exactly as written, pointed at this test's port (default QoS 0, like a user).
            subprocess.run([*args, "-p", str(port)], check=True, timeout=10)
            topic, check = expected[index]
            sub.wait_json(topic, check, after=mark)
            rejected = [x for x in sub.lines[mark:] if x.startswith(f"{DEMO}/bridge/log ")]
            assert rejected == [], line
    finally:
        if sub is not None:
            sub.close()
        proc.terminate()
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = stderr_path.read_text()
    assert "Traceback" not in stderr, stderr
    assert "ERROR" not in stderr, stderr
