"""The first minutes with `tau run --demo` on embedded services, as a new user sees them.

A quiet start ("Tau is ready" within the first screen, no warnings), where the data
lives (and, as root, which user runs PostgreSQL), one Tau per embedded data directory,
`tau check` testing the embedded database for real, and visible waiting for a database
that does not answer.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from testkit.services import free_port

REPO = Path(__file__).resolve().parents[2]
FIRST_SCREEN = 15

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env["PYTHONPATH"] = str(REPO / "bridge")
    env.update(extra)
    return env


class Output:
    """Every line a process prints (stdout and stderr together), collected in a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(list(self.lines)):
                if re.search(pattern, line):
                    return index
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} within {timeout} s: {self.lines[-30:]}")


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    output: Output
    data_dir: Path
    port: int
    ready_at: int


def _start(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], Output]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tau", *args],
        env=_env(**env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, Output(proc)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.terminate()
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A first `tau run --demo` on a fresh data directory (what `make run` runs)."""
    home = tmp_path_factory.mktemp("first-run")
    data_dir, port = home / "data", free_port()
    proc, output = _start(
        ["run", "--demo", "--no-view"],
        {"TAU_DATA_DIR": str(data_dir), "TAU_MQTT__PORT": str(port)},
        home,
    )
    try:
        ready_at = output.wait_for(r"Tau is ready", 180)
        yield Demo(proc, output, data_dir, port, ready_at)
    finally:
        assert _stop(proc) == 0, output.lines[-20:]
    assert not [line for line in output.lines if "Traceback" in line]


def test_ready_within_the_first_screen_without_warnings(demo: Demo) -> None:
    before = demo.output.lines[: demo.ready_at]
    assert len(before) <= FIRST_SCREEN, "\n".join(before)
    assert not [line for line in before if re.search(r"WARNING|ERROR|Traceback", line)], before
    # pgserver's and Alembic's narration is for TAU_LOG_LEVEL=DEBUG only
    loggers = [line.split(" ")[3] for line in before if len(line.split(" ")) > 4]
    assert not [name for name in loggers if name.startswith(("pgserver", "alembic"))], before


def test_says_once_where_the_embedded_database_lives(demo: Demo) -> None:
    pgdata = demo.data_dir / "postgres"
    said = [line for line in demo.output.lines if f"data={pgdata}" in line]
    assert len(said) == 1, demo.output.lines
    if os.geteuid() == 0:
        assert "runs it as the system user 'pgserver'" in said[0], said
    else:
        assert "pgserver" not in said[0]


def test_a_second_tau_on_the_same_data_directory_is_refused_in_one_line(
    demo: Demo, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tau", "run", "--demo", "--no-view"],
        env=_env(TAU_DATA_DIR=str(demo.data_dir), TAU_MQTT__PORT=str(free_port())),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"tau: another Tau (pid {demo.proc.pid}) is already running on the embedded database "
        f"in {demo.data_dir}: stop it, or give this one its own TAU_DATA_DIR (or a "
        "TAU_DATABASE_URL)"
    ]
    assert demo.proc.poll() is None  # the first one is untouched


def test_check_queries_the_embedded_database_for_real(demo: Demo, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tau", "check"],
        env=_env(TAU_DATA_DIR=str(demo.data_dir), TAU_MQTT__PORT=str(demo.port)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pgdata = demo.data_dir / "postgres"
    assert re.search(
        rf"^database\s+OK\s+embedded PostgreSQL at {re.escape(str(pgdata))}: started, "
        r"schema revision \w+, 16 fixtures$",
        result.stdout,
        re.M,
    ), result.stdout
    assert re.search(r"^configuration\s+OK\s+valid: 2 TAU_ variables read$", result.stdout, re.M)
    assert result.stdout.splitlines()[-1] == "all 4 checks passed"

    # The running Tau still has its database: `tau check` joined it and did not stop it.
    async def fixtures() -> int:
        conn = await asyncpg.connect(f"postgresql://postgres@/tau?host={pgdata}", timeout=10)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM fixtures"))
        finally:
            await conn.close()

    assert asyncio.run(fixtures()) == 16
    assert demo.proc.poll() is None


def test_check_on_a_fresh_embedded_database_says_it_is_empty(
    tmp_path: Path, embedded_data_dir: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tau", "check"],
        env=_env(TAU_DATA_DIR=str(embedded_data_dir), TAU_MQTT__PORT=str(free_port())),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert re.search(
        r"^database\s+OK\s+embedded PostgreSQL at .*: started, empty \(`tau run` creates",
        result.stdout,
        re.M,
    ), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    # Nobody else uses it: `tau check` leaves no PostgreSQL running behind it.
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()


def test_waiting_for_the_database_is_said_every_ten_seconds(tmp_path: Path) -> None:
    dead = free_port()
    proc, output = _start(
        ["run", "--no-view"],
        {
            "TAU_DATABASE_URL": f"postgresql://tau:secret@127.0.0.1:{dead}/tau",
            "TAU_MQTT__PORT": str(free_port()),
            # the reminder period and retry delays tenfold shorter (tau/timescale.py)
            "TAU_TEST_TIME_SCALE": "0.1",
        },
        tmp_path,
    )
    try:
        first = output.wait_for(r"waiting for PostgreSQL", 5)
        assert output.lines[first].split(" ", 2)[2].startswith("WARNING "), output.lines
        assert output.lines[first].endswith(
            f"event=database_unreachable waiting for PostgreSQL at 127.0.0.1:{dead} "
            "(connection refused): is it running? check TAU_DATABASE_URL"
        ), output.lines[first]
        # The reminder rides on the first failed attempt 10 s or more after the first
        # line; attempts are up to 5 s (+25 % jitter) apart, so it comes within 16.25 s
        # (1.625 s at the test's time scale).
        again = output.wait_for(r"still waiting for PostgreSQL", 20)
        assert re.search(
            rf"still waiting for PostgreSQL at 127\.0\.0\.1:{dead} since \d\d:\d\d:\d\d "
            r"\(connection refused\): is it running\? check TAU_DATABASE_URL$",
            output.lines[again],
        ), output.lines[again]
        waiting = [line for line in output.lines if "waiting for PostgreSQL" in line]
        assert len(waiting) == 2, waiting  # not one per retry
        assert proc.poll() is None  # waiting, not gone
        started = time.monotonic()
        assert _stop(proc) == 0  # SIGTERM while waiting is a clean stop
        assert time.monotonic() - started < 8
    finally:
        _stop(proc)
    assert "secret" not in "\n".join(output.lines)
    assert "Traceback" not in "\n".join(output.lines)
