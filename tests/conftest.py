"""Shared fixtures: real PostgreSQL, a real MQTT broker, an MQTT probe and the bridge process.

Services come from `TAU_TEST_DATABASE_URL` / `TAU_TEST_MQTT_URL`, else the local
defaults (127.0.0.1:5432 as `postgres`, 127.0.0.1:1883), else throwaway processes
started on free ports for the session (`TAU_TEST_NO_LOCAL=1` forces that path).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testkit.bridge import BridgeProcess
from testkit.mqtt import MqttProbe
from testkit.services import (
    MqttServer,
    OwnedBroker,
    OwnedPostgres,
    PostgresChoice,
    broker_kind,
    choose_mqtt,
    choose_postgres,
    pg_accepts,
)

_choices: dict[str, Any] = {}


def _postgres_choice() -> PostgresChoice:
    if "pg" not in _choices:
        _choices["pg"] = choose_postgres()
    choice: PostgresChoice = _choices["pg"]
    return choice


def _mqtt_choice() -> MqttServer | None:
    if "mqtt" not in _choices:
        _choices["mqtt"] = choose_mqtt()
    choice: MqttServer | None = _choices["mqtt"]
    return choice


def pytest_report_header(config: pytest.Config) -> list[str]:
    mqtt = _mqtt_choice()
    broker = mqtt.describe() if mqtt else f"throwaway {broker_kind()} started by the suite"
    return [f"tau PostgreSQL: {_postgres_choice().describe()}", f"tau MQTT broker: {broker}"]


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A superuser DSN to a maintenance database (`postgres`) for creating test databases."""
    choice = _postgres_choice()
    if choice.url is not None:
        if choice.source == "env" and not pg_accepts(choice.url, timeout=5):
            pytest.fail(f"TAU_TEST_DATABASE_URL does not accept connections: {choice.describe()}")
        yield choice.url
        return
    cluster = OwnedPostgres(name="tau-test-pg")
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def mqtt_server() -> Iterator[MqttServer]:
    """The shared broker; use unique topics (the bridge fixtures do) since it is shared."""
    chosen = _mqtt_choice()
    if chosen is not None:
        yield chosen
        return
    broker = OwnedBroker(name="tau-test-mqtt")
    try:
        broker.start()
        yield broker.server
    finally:
        broker.close()


@pytest.fixture
def mqtt_probe(mqtt_server: MqttServer) -> Iterator[MqttProbe]:
    """A connected `MqttProbe` on the shared broker, disconnected at teardown."""
    probe = MqttProbe(mqtt_server.host, mqtt_server.port).connect()
    try:
        yield probe
    finally:
        probe.close()


@pytest.fixture
def unique_topics() -> tuple[str, str]:
    """A fresh (base_topic, discovery_prefix) pair, e.g. ("tau-1a2b3c4d", "ha-1a2b3c4d")."""
    suffix = uuid.uuid4().hex[:8]
    return f"tau-{suffix}", f"ha-{suffix}"


@pytest.fixture(scope="session")
def embedded_pgdata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `initdb` of the embedded PostgreSQL per session (per xdist worker); tests take
    copies (`embedded_data_dir`) instead of paying an initdb each."""
    from testkit.services import embedded_template

    return embedded_template(tmp_path_factory.mktemp("embedded-template"))


@pytest.fixture
def embedded_data_dir(embedded_pgdata: Path, tmp_path: Path) -> Path:
    """A TAU_DATA_DIR (`tmp_path/data`) whose `postgres/` is a copy of the session's
    initialised embedded data directory: as after the first start's initdb."""
    from testkit.services import copy_embedded_template

    return copy_embedded_template(embedded_pgdata, tmp_path / "data")


@contextlib.contextmanager
def _machine_lock(name: str) -> Iterator[None]:
    """An exclusive lock every pytest process on this machine shares (xdist workers,
    other checkouts' suites), held for the block."""
    import fcntl
    import tempfile

    path = Path(tempfile.gettempdir()) / f"tau-test-{name}.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def shared_roles() -> Iterator[None]:
    """Hold the machine-wide lock on the cluster's roles (`tau_owner`, `tau_daemon`): a
    test that runs config/roles.sql or changes those roles waits for any other doing so,
    be it another pytest-xdist worker or another checkout's suite on the same server."""
    with _machine_lock("postgres-roles"):
        yield


@pytest.fixture
def quiet_machine() -> Iterator[None]:
    """Hold the machine-wide lock of the tests that load the CPU hard (the fuzz suite, the
    50,000-command flood, a live page in chromium) or time the bridge in milliseconds (a
    command during a request flood, a fade's frame rate, one frame across universes): on
    two cores, such a test never runs beside another of them on the other pytest-xdist
    worker. The timing assertions themselves stay as strict as they are."""
    with _machine_lock("quiet-machine"):
        yield


@pytest.fixture
def owned_postgres() -> Iterator[OwnedPostgres]:
    """A started PostgreSQL cluster the test may stop, kill and restart (fault suites)."""
    with OwnedPostgres() as cluster:
        yield cluster


@pytest.fixture
def owned_broker() -> Iterator[OwnedBroker]:
    """A started broker on a fixed port the test may stop, kill and restart (fault suites)."""
    with OwnedBroker() as broker:
        yield broker


class BridgeFactory:
    """Builds `BridgeProcess`es with a fresh database each; all are stopped at teardown."""

    def __init__(self, pg_admin_url: str, mqtt_server: MqttServer, log_dir: Path) -> None:
        self.pg_admin_url = pg_admin_url
        self.mqtt_server = mqtt_server
        self.log_dir = log_dir
        self.bridges: list[BridgeProcess] = []
        self.databases: list[str] = []

    def database(self, *, schema: bool = True, seeds: bool = False) -> str:
        """A fresh database (migrated, optionally seeded); returns its DSN."""
        from testkit.db import create_database

        name = f"tau_test_{uuid.uuid4().hex[:12]}"
        url = create_database(self.pg_admin_url, name, schema=schema, seeds=seeds)
        self.databases.append(name)
        return url

    def __call__(
        self,
        *,
        database_url: str | None = None,
        seeds: bool = False,
        mqtt: MqttServer | None = None,
        start: bool = True,
        wait_online: bool = True,
        timeout: float = 30,
        **options: Any,
    ) -> BridgeProcess:
        """A bridge; `options` go to `BridgeProcess` (universes, fps, default_transition, env…)."""
        bridge = BridgeProcess(
            database_url=database_url or self.database(seeds=seeds),
            mqtt=mqtt or self.mqtt_server,
            log_dir=self.log_dir,
            name=f"bridge{len(self.bridges) + 1}",
            **options,
        )
        self.bridges.append(bridge)
        if start:
            bridge.start()
            if wait_online:
                bridge.wait_online(timeout)
        return bridge

    def close(self) -> None:
        for bridge in self.bridges:
            bridge.close()
        for name in self.databases:
            with contextlib.suppress(Exception):
                _drop_database(self.pg_admin_url, name)


def _drop_database(admin_url: str, name: str) -> None:
    import asyncio
    import concurrent.futures

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drop()).result(30)


@pytest.fixture
def bridge_factory(
    request: pytest.FixtureRequest,
    pg_admin_url: str,
    mqtt_server: MqttServer,
    tmp_path: Path,
) -> Iterator[BridgeFactory]:
    """`bridge_factory(universes=..., seeds=True)` → an online `BridgeProcess` on a fresh database.

    Every bridge gets a unique base topic and discovery prefix; on failure the tail of
    each bridge's log is attached to the test report.
    """
    factory = BridgeFactory(pg_admin_url, mqtt_server, tmp_path)
    request.node.stash[_BRIDGES] = factory.bridges
    try:
        yield factory
    finally:
        factory.close()


_BRIDGES = pytest.StashKey[list[BridgeProcess]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for bridge in item.stash.get(_BRIDGES, []):
            report.sections.append(
                (f"{bridge.name} log tail ({bridge.log_path})", bridge.log_tail())
            )
    return report
