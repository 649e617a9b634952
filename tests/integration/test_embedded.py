"""The embedded services behind `make run`: PostgreSQL from pgserver, an in-process amqtt broker."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiomqtt
import asyncpg
import pytest

from tau.embedded import embedded_database_url, ensure_broker
from tau.settings import MqttSettings, Settings
from tests.support.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _stop_embedded(pgdata: Path) -> None:
    import pgserver

    pgserver.get_server(pgdata).cleanup()


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

        from pgserver._commands import POSTGRES_BIN_PATH

        out = await asyncio.to_thread(
            subprocess.run,
            [str(Path(POSTGRES_BIN_PATH) / "psql"), url, "-XtAc", "SELECT n FROM kept"],
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


async def test_embedded_broker_accepts_publish_subscribe() -> None:
    port = free_port()
    settings = MqttSettings(port=port)
    broker = await ensure_broker(settings)
    assert broker is not None
    try:
        assert (broker.host, broker.port) == ("127.0.0.1", port)
        assert await _roundtrip(port, "tau-embedded/group/demo/set") == b"ON"
        # Something answers now, so a second bridge would not start another broker.
        assert await ensure_broker(settings) is None
    finally:
        await broker.stop()
    await broker.stop()  # idempotent


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
