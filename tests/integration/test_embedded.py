"""The embedded services behind `make run`: PostgreSQL from pgserver, an in-process amqtt broker."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiomqtt
import asyncpg
import pytest
from testkit.services import free_port

from tau.embedded import (
    embedded_database_url,
    ensure_broker,
    find_mosquitto,
    stop_embedded_database,
)
from tau.embedded.broker import _answers
from tau.settings import MqttSettings, Settings

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(embedded_data_dir: Path) -> Path:
    """A data directory as after the first start's initdb (a copy of the session's)."""
    return embedded_data_dir


def _stop_embedded(pgdata: Path) -> None:
    assert stop_embedded_database(Settings(data_dir=pgdata.parent))


async def test_embedded_postgres_starts_and_persists(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    url = await asyncio.to_thread(embedded_database_url, settings)
    try:
        assert url.startswith("postgresql://")
        conn = await asyncpg.connect(url, timeout=10)
        try:
            assert await conn.fetchval("SELECT current_database()") == "tau"
            await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        finally:
            await conn.close()

        from tau.embedded import pgserver_bin_dir

        out = await asyncio.to_thread(
            subprocess.run,
            [str(pgserver_bin_dir() / "psql"), url, "-XtAc", "SELECT n FROM kept"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "42"
    finally:
        await asyncio.to_thread(_stop_embedded, data_dir / "postgres")

    # A second start reuses the cluster and the database: the demo data survives.
    again = await asyncio.to_thread(embedded_database_url, settings)
    try:
        conn = await asyncpg.connect(again, timeout=10)
        try:
            assert await conn.fetchval("SELECT n FROM kept") == 42
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(_stop_embedded, data_dir / "postgres")


async def _roundtrip(port: int, topic: str) -> bytes:
    async with (
        aiomqtt.Client("127.0.0.1", port, identifier="embedded-sub") as sub,
        aiomqtt.Client("127.0.0.1", port, identifier="embedded-pub") as pub,
    ):
        await sub.subscribe(topic, qos=1)
        await pub.publish(topic, b"ON", qos=1)
        async with asyncio.timeout(5):
            async for message in sub.messages:
                assert isinstance(message.payload, bytes)
                return message.payload
    raise AssertionError("no message")


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
async def test_embedded_broker_accepts_publish_subscribe(kind: str) -> None:
    if kind == "mosquitto" and find_mosquitto() is None:
        pytest.skip("no mosquitto binary installed (apt install mosquitto)")
    port = free_port()
    settings = MqttSettings(port=port)
    broker = await ensure_broker(settings, mosquitto=kind == "mosquitto")
    assert broker is not None
    try:
        assert (broker.host, broker.port, broker.kind) == ("127.0.0.1", port, kind)
        assert await _roundtrip(port, "tau-embedded/group/demo/set") == b"ON"
        # Something answers now, so a second bridge would not start another broker.
        assert await ensure_broker(settings) is None
    finally:
        await broker.stop()
    await broker.stop()  # idempotent
    assert not await _answers("127.0.0.1", port)  # stopped means gone


async def test_mosquitto_is_preferred_when_installed() -> None:
    if find_mosquitto() is None:
        pytest.skip("no mosquitto binary installed (apt install mosquitto)")
    broker = await ensure_broker(MqttSettings(port=free_port()))
    assert broker is not None
    try:
        assert broker.kind == "mosquitto"
    finally:
        await broker.stop()


def _settings_of(text: str, names: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        if name in names:
            found[name] = value.strip()
    return found


async def test_the_embedded_mosquitto_has_the_settings_of_config_mosquitto_conf(
    tmp_path: Path,
) -> None:
    if find_mosquitto() is None:
        pytest.skip("no mosquitto binary installed (apt install mosquitto)")
    port = free_port()
    broker = await ensure_broker(MqttSettings(port=port), workdir=tmp_path)
    assert broker is not None
    try:
        names = ("max_queued_messages", "set_tcp_nodelay")
        shipped = _settings_of((REPO / "config" / "mosquitto.conf").read_text(), names)
        embedded = _settings_of((tmp_path / f"mosquitto-{port}.conf").read_text(), names)
        assert shipped == {"max_queued_messages": "20000", "set_tcp_nodelay": "true"}
        assert embedded == shipped
        assert await _roundtrip(port, "tau-embedded/group/demo/set") == b"ON"  # it took them
    finally:
        await broker.stop()


def test_amqtt_keeps_its_errors_out_of_the_terminal(caplog) -> None:
    """Publishers that leave while amqtt still sends them retained messages: no traceback.

    Run on the loop `tau run` uses (uvloop when installed), where amqtt's writes to a
    closed transport raise and end as "Task exception was never retrieved".
    """

    async def scenario() -> None:
        port = free_port()
        broker = await ensure_broker(MqttSettings(port=port), mosquitto=False)
        assert broker is not None
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier="retainer") as retainer:
                for n in range(200):
                    await retainer.publish(f"tau/fixture/f{n}", b"{}" * 200, qos=1, retain=True)
                async with aiomqtt.Client("127.0.0.1", port, identifier="wildcard") as sub:
                    await sub.subscribe("tau/#")
                    for _ in range(5):
                        proc = await asyncio.create_subprocess_exec(
                            *("mosquitto_pub", "-p", str(port), "-t", "tau/group/x/set", "-m", "1")
                        )
                        await proc.wait()
                    await asyncio.sleep(1)
        finally:
            await broker.stop()
        gc.collect()  # unretrieved task exceptions are reported when the task is collected
        await asyncio.sleep(0.1)

    if shutil.which("mosquitto_pub") is None:
        pytest.skip("needs mosquitto-clients (apt install mosquitto-clients)")
    caplog.set_level(logging.DEBUG)
    try:
        import uvloop
    except ImportError:
        asyncio.run(scenario())
    else:
        uvloop.run(scenario())
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage()[:200] for r in loud]
    assert any("embedded_broker_error" in r.getMessage() for r in caplog.records)


async def test_no_embedded_broker_for_a_remote_or_tls_host() -> None:
    assert await ensure_broker(MqttSettings(host="192.0.2.1", port=free_port())) is None
    tls = MqttSettings.model_validate({"port": free_port(), "tls": {}})
    assert await ensure_broker(tls) is None


async def test_no_embedded_broker_when_one_answers() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await ensure_broker(MqttSettings(port=port)) is None
    finally:
        server.close()
        await server.wait_closed()


def _run_demo(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env.update(PYTHONPATH=str(REPO / "bridge"), TAU_DATA_DIR=str(tmp_path / "data"))
    env["TAU_MQTT__PORT"] = str(port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tau", "run", "--demo", "--no-view"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Tau is ready" in line:
            return proc
    raise AssertionError(f"tau run --demo ended with {proc.wait()} before it was ready")


@pytest.mark.usefixtures("embedded_data_dir")  # tmp_path/data, initialised
def test_after_a_kill_9_nothing_is_left_running_for_long(tmp_path: Path) -> None:
    """The embedded Mosquitto dies with Tau; the next Tau stops the orphaned PostgreSQL."""
    if find_mosquitto() is None:
        pytest.skip("no mosquitto binary installed (apt install mosquitto)")
    port = free_port()
    pid_file = tmp_path / "data" / "postgres" / "postmaster.pid"
    proc = _run_demo(tmp_path, port)
    try:
        assert asyncio.run(_answers("127.0.0.1", port))
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 5
        while asyncio.run(_answers("127.0.0.1", port)):
            assert time.monotonic() < deadline, "the embedded Mosquitto outlived Tau"
            time.sleep(0.1)
        assert (tmp_path / "data" / "mosquitto" / f"mosquitto-{port}.conf").is_file()
        assert pid_file.exists()  # PostgreSQL survives a kill -9 of its user...
        proc = _run_demo(tmp_path, port)  # ...the next Tau takes it over...
        proc.terminate()
        assert proc.wait(30) == 0
        assert not pid_file.exists()  # ...and stops it when it stops
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_embedded_database(Settings(data_dir=tmp_path / "data"))
