"""The README's shell examples run and do what the README says they do.

"Try it" runs against a live bridge; "From the demo to your home" starts from an
empty embedded database exactly as written (`tau db upgrade`, `tau db seed`,
`tau run`, then its bridge requests); "Backup and restore" runs on the embedded
database and on a server of our own. Lines are executed as written, with the
broker's host/port, this test's base topic and temporary paths swapped in:
`mosquitto_pub` when installed, else the same arguments published through paho
(so a machine without mosquitto clients still runs them).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from testkit.db import drop_database
from testkit.mqtt import MqttProbe
from testkit.services import MqttServer, copy_embedded_template

ORANGE = {"r": 255, "g": 80, "b": 0}
DEMO = "tau-demo"  # `make run`'s base topic, which "Try it" talks to
REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def bash_blocks(title: str) -> list[list[str]]:
    """The command lines of each bash block under `## title` (comment lines left out)."""
    text = README.read_text()
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert blocks, f"README {title!r} has no bash block"
    return [
        [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        for block in blocks
    ]


def try_it_lines() -> list[str]:
    return bash_blocks("Try it")[0]


def run_line(line: str, base: str, probe: MqttProbe, written: str = "tau") -> None:
    """One `mosquitto_pub` line, its base topic (`written`) swapped for `base`."""
    args = shlex.split(line, comments=True)
    assert args[0] == "mosquitto_pub", line
    topic = args[args.index("-t") + 1]
    message = args[args.index("-m") + 1]
    assert topic.startswith(f"{written}/"), line
    topic = base + topic[len(written) :]
    if shutil.which("mosquitto_pub"):
        cmd = ["mosquitto_pub", "-h", probe.host, "-p", str(probe.port), "-q", "1"]
        subprocess.run([*cmd, "-t", topic, "-m", message], check=True, timeout=10)
    else:
        probe.publish(topic, message)


def expectations(base: str) -> dict[int, tuple[str, Callable[[dict[str, Any]], bool]]]:
    """What each "Try it" line (by index) makes Tau publish: the topic and a check."""
    return {
        # on at the circadian level: the profile is in charge (not suspended)
        0: (f"{base}/group/kitchen", lambda d: d["state"] == "ON" and d["circadian"] == "ON"),
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
        10: (
            f"{base}/bridge/response/dmx/frame",
            lambda d: d["status"] == "ok" and len(d["data"]["slots"]) == 16,
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
        run_line(line, base, mqtt_probe, written=DEMO)
        if index in expected:
            topic, check = expected[index]
            mqtt_probe.wait_json(topic, check, timeout=5, after=mark)
        assert mqtt_probe.messages(f"{base}/bridge/log", after=mark) == [], line


def test_the_readme_patches_each_universe_in_one_section_only() -> None:
    """Followed top to bottom into one installation, the README never patches a DMX
    address twice: each section that patches fixtures has universes of its own (within
    a section, running it proves there is no collision)."""
    text = README.read_text()
    patched: dict[str, set[int]] = {}
    for section in text.split("\n## ")[1:]:
        title = section.split("\n", 1)[0]
        for block in re.findall(r"```bash\n(.*?)```", section, re.S):
            for line in block.splitlines():
                args = shlex.split(line, comments=True)
                if args[:3] == ["tau", "fixture", "add"]:
                    universe = int(args[args.index("--universe") + 1])
                elif args[:1] == ["mosquitto_pub"] and "/bridge/request/fixture/add" in line:
                    universe = json.loads(args[args.index("-m") + 1]).get("universe", 1)
                else:
                    continue
                patched.setdefault(title, set()).add(universe)
    assert {"From the demo to your home", "Your fixtures"} <= set(patched), patched
    for a, b in itertools.combinations(sorted(patched), 2):
        assert not patched[a] & patched[b], f"{a!r} and {b!r} both patch {patched[a] & patched[b]}"


# ------------------------------------------------------------ from the demo to your home


def _tau_env(mqtt: MqttServer, base: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env.update(
        TAU_MQTT__HOST=mqtt.host,
        TAU_MQTT__PORT=str(mqtt.port),
        TAU_MQTT__BASE_TOPIC=base,
        TAU_MQTT__DISCOVERY_PREFIX=prefix,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO / "bridge"), os.environ.get("PYTHONPATH")) if p
        ),
    )
    env.update(extra)
    return env


def _tau(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert args[0] == "tau", args
    result = subprocess.run(
        [sys.executable, "-m", "tau", *args[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{shlex.join(args)}: {result.stdout}{result.stderr}"
    return result


class TauRun:
    """`tau run` with stdout on a pipe (plain mode), its lines collected."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.stderr = (cwd / f"tau-run-{uuid.uuid4().hex[:6]}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tau", *args[1:]],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 120) -> list[str]:
        with self._changed:
            if not self._changed.wait_for(
                lambda: any(text in line for line in self.lines) or self.proc.poll() is not None,
                timeout,
            ):
                raise AssertionError(f"no {text!r} within {timeout} s: {self.lines}")
            assert any(text in line for line in self.lines), (self.lines, self.log())
            return list(self.lines)

    def log(self) -> str:
        return Path(self.stderr.name).read_text()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.stderr.close()


def _response(probe: MqttProbe, base: str, name: str, mark: int) -> dict[str, object]:
    reply: dict[str, object] = probe.wait_json(
        f"{base}/bridge/response/{name}", timeout=10, after=mark
    )
    assert reply["status"] == "ok", reply
    return reply


@pytest.fixture
def topics() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"tau-{suffix}", f"ha-{suffix}"


@pytest.mark.slow
def test_from_the_demo_to_your_home(
    mqtt_server: MqttServer,
    mqtt_probe: MqttProbe,
    tmp_path: Path,
    topics: tuple[str, str],
    embedded_pgdata: Path,
) -> None:
    base, prefix = topics
    setup, requests = bash_blocks("From the demo to your home")
    env = _tau_env(mqtt_server, base, prefix)
    mqtt_probe.subscribe(f"{base}/#")
    mqtt_probe.subscribe(f"{prefix}/#")
    tau: TauRun | None = None
    try:
        for line in setup:
            args = shlex.split(line, comments=True)
            if args[0] == "export":
                name, _, value = args[1].partition("=")
                assert (name, value) == ("TAU_DATA_DIR", "~/tau-home")
                # initialised as by a first start (a copy of the session's initdb)
                env[name] = str(copy_embedded_template(embedded_pgdata, tmp_path / "tau-home"))
            elif args[:2] == ["tau", "run"]:
                tau = TauRun(args, env, tmp_path)
            else:
                _tau(args, env, tmp_path)
        assert tau is not None, "the README's setup starts `tau run`"
        lines = tau.wait_for("Tau is ready")
        ready = lines.index(next(line for line in lines if "Tau is ready" in line))
        # An empty installation: Tau says how to add a fixture, and that line works.
        assert "The installation is empty: add a fixture" in lines[ready], lines
        suggested = tau.wait_for("fixture/add")[ready + 1].strip()
        assert suggested.startswith(f"mosquitto_pub -h {mqtt_server.host} -p {mqtt_server.port}")
        args = shlex.split(suggested)
        mark = mqtt_probe.mark()
        mqtt_probe.publish(args[args.index("-t") + 1], args[args.index("-m") + 1])
        added = _response(mqtt_probe, base, "fixture/add", mark)
        mark = mqtt_probe.mark()
        slug = added["data"]["slug"]  # type: ignore[index]
        mqtt_probe.publish(f"{base}/bridge/request/fixture/remove", json.dumps({"slug": slug}))
        _response(mqtt_probe, base, "fixture/remove", mark)

        # The README's bridge requests, as written.
        for line in requests:
            mark = mqtt_probe.mark()
            run_line(line, base, mqtt_probe)
            topic = shlex.split(line, comments=True)[2]
            if "/bridge/request/" in topic:
                _response(mqtt_probe, base, topic.split("/bridge/request/", 1)[1], mark)
            assert mqtt_probe.messages(f"{base}/bridge/log", after=mark) == [], line
        state = mqtt_probe.wait_json(
            f"{base}/group/living-room",
            lambda d: d["state"] == "ON" and d["brightness"] == 153 and d["color_temp"] == 2700,
            timeout=10,
        )
        assert state["state"] == "ON"
        # Home Assistant: a light for each fixture and the group, announced by themselves.
        areas = {}
        for message in mqtt_probe.messages(f"{prefix}/light/#"):
            if message.payload:
                config = json.loads(message.payload)
                name = config["name"] or config["device"]["name"]
                areas[name] = config["device"].get("suggested_area")
        assert {"Sofa lamp", "Ceiling", "Living room"} <= set(areas), areas
        # "Living room" is a room: its lights and its own group are suggested for its area
        assert {areas["Sofa lamp"], areas["Ceiling"], areas["Living room"]} == {"Living room"}
        # `tau db url` reaches the running embedded server's socket (as the README says).
        url = _tau(["tau", "db", "url"], env, tmp_path).stdout.strip()
        socket_dir = tmp_path / "tau-home" / "postgres"
        assert url.startswith("postgresql://postgres:@/tau?host="), url
        assert Path(url.split("?host=", 1)[1]).resolve() == socket_dir.resolve()
        from tau.embedded import pgserver_bin_dir

        count = subprocess.run(
            [str(pgserver_bin_dir() / "psql"), url, "-XtAc", "SELECT count(*) FROM fixtures"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert count.stdout.strip() == "2"
        assert "Traceback" not in tau.log()
    finally:
        if tau is not None:
            assert tau.stop() == 0, tau.log()
    stopped = subprocess.run(
        [sys.executable, "-m", "tau", "db", "url"], env=env, capture_output=True, text=True
    )
    assert stopped.returncode == 2
    assert stopped.stderr.startswith("tau: the embedded PostgreSQL in ")
    assert "is not running: it runs while `tau run` does" in stopped.stderr
    _backup_and_restore(env, tmp_path, lambda: _embedded_fixture_slugs(env, tmp_path))


# --------------------------------------------------------------------- backup and restore


def _embedded_fixture_slugs(env: dict[str, str], cwd: Path) -> set[str]:
    """The fixtures in the embedded database, read through a fresh `tau db dump`."""
    check = cwd / "check.sql"
    _tau(["tau", "db", "dump", str(check)], env, cwd)
    return _slugs_in_dump(check.read_text())


def _slugs_in_dump(text: str) -> set[str]:
    rows = text.split("COPY public.fixtures ", 1)[1].split("\n\\.\n", 1)[0].splitlines()[1:]
    return {row.split("\t")[2] for row in rows}


def _backup_and_restore(env: dict[str, str], cwd: Path, slugs: object) -> None:
    """The README's first backup block: dump, change, restore over the same database."""
    dump, restore = bash_blocks("Backup and restore")[0]
    before = slugs()  # type: ignore[operator]
    assert before
    _tau(shlex.split(dump, comments=True), env, cwd)
    backup = cwd / "tau-backup.sql"
    assert "DROP TABLE IF EXISTS public.fixtures" in backup.read_text()  # --clean --if-exists
    _change_installation(env, cwd)
    assert slugs() != before  # type: ignore[operator]
    result = _tau(shlex.split(restore, comments=True), env, cwd)
    assert "ERROR" not in result.stderr
    assert slugs() == before  # type: ignore[operator]
    # A second restore over the restored database works just as well.
    _tau(shlex.split(restore, comments=True), env, cwd)
    assert slugs() == before  # type: ignore[operator]


def _change_installation(env: dict[str, str], cwd: Path) -> None:
    """Delete every fixture, with the same client tools `tau db` uses."""
    change = cwd / "change.sql"
    change.write_text("DELETE FROM fixtures;\n")
    _tau(["tau", "db", "restore", str(change)], env, cwd)


def test_backup_and_restore_with_tau_database_url(bridge_factory, tmp_path: Path) -> None:
    url = bridge_factory.database(seeds=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env.update(TAU_DATABASE_URL=url, PYTHONPATH=str(REPO / "bridge"))
    _backup_and_restore(env, tmp_path, lambda: _server_fixture_slugs(url))


def _server_fixture_slugs(url: str) -> set[str]:
    from testkit.db import psql

    return set(psql(url, "-tA", "-c", "SELECT slug FROM fixtures").split())


def test_backup_into_a_fresh_database_with_the_postgresql_tools(
    bridge_factory, pg_admin_url: str, tmp_path: Path
) -> None:
    """The README's second block, with `tau` and `tau_restored` swapped for test databases."""
    from testkit.db import psql, tool

    source_url = bridge_factory.database(seeds=True)
    source = urlsplit(source_url).path.lstrip("/")
    restored = f"tau_restored_{uuid.uuid4().hex[:8]}"
    admin = urlsplit(pg_admin_url)
    env = dict(
        os.environ,
        PGHOST=admin.hostname or "127.0.0.1",
        PGPORT=str(admin.port or 5432),
        PGUSER=admin.username or "postgres",
        PGPASSWORD=admin.password or "",
    )
    names = {"tau": source, "tau_restored": restored}
    try:
        for line in bash_blocks("Backup and restore")[1]:
            args = [names.get(arg, arg) for arg in shlex.split(line, comments=True)]
            args[0] = tool(args[0])
            result = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True)
            assert result.returncode == 0, f"{line}: {result.stderr}"
            assert "ERROR" not in result.stderr, line
        restored_url = source_url.replace(f"/{source}", f"/{restored}")
        assert _server_fixture_slugs(restored_url) == _server_fixture_slugs(source_url)
        assert psql(restored_url, "-tA", "-c", "SELECT count(*) FROM fixture_models") == "7\n"
    finally:
        drop_database(pg_admin_url, restored)


def test_the_readme_backup_blocks_are_the_ones_tested() -> None:
    blocks = bash_blocks("Backup and restore")
    assert len(blocks) == 2
    assert [shlex.split(line, comments=True)[:3] for line in blocks[0]] == [
        ["tau", "db", "dump"],
        ["tau", "db", "restore"],
    ]
    assert "createdb tau_restored" in blocks[1]
    assert not any("psql tau <" in line for block in blocks for line in block)


def test_restore_refuses_while_a_bridge_is_connected(bridge_factory, tmp_path: Path) -> None:
    """`tau db restore` would swap the installation under a running bridge, which then
    writes its state over the restored one: it refuses and says how to stop the bridge."""
    bridge = bridge_factory(seeds=True)
    url = bridge.database_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env.update(TAU_DATABASE_URL=url, PYTHONPATH=str(REPO / "bridge"))
    backup = tmp_path / "tau-backup.sql"
    _tau(["tau", "db", "dump", str(backup)], env, tmp_path)
    from testkit.db import sql

    sql(url, "INSERT INTO groups (name, slug) VALUES ('After the backup', 'after')")
    refused = subprocess.run(
        [sys.executable, "-m", "tau", "db", "restore", str(backup)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2, refused.stderr
    assert "a Tau bridge is connected to" in refused.stderr
    assert "stop it first" in refused.stderr and "--force" in refused.stderr
    assert _server_slugs(url, "groups") >= {"after"}  # nothing was restored
    assert bridge.terminate() == 0
    _tau(["tau", "db", "restore", str(backup)], env, tmp_path)
    assert "after" not in _server_slugs(url, "groups")


def _server_slugs(url: str, table: str) -> set[str]:
    from testkit.db import sql

    return {r["slug"] for r in sql(url, f"SELECT slug FROM {table}")}  # noqa: S608
