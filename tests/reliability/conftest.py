"""Fixtures of the reliability suites: figures for the report, module-scoped bridges.

Figures (reconnect times, lost updates, fuzz cases run) are printed (`-s`), stored
as JUnit properties (`record_property`) and repeated in a terminal summary section,
so CI logs show them without digging.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from testkit.bridge import BridgeProcess
from testkit.mqtt import MqttProbe
from testkit.services import MqttServer

from tests.reliability.helpers import create_test_database, drop_database

_FIGURE = "tau figure"  # the user property that carries "name = text" to the summary
_MODULE_BRIDGES: list[BridgeProcess] = []


Figure = Callable[..., None]


@pytest.fixture
def figure(request: pytest.FixtureRequest, record_property: Callable[[str, Any], None]) -> Figure:
    """`figure("reconnect_s", 1.234, "s")`: print, record as a property, and summarise."""

    def record(name: str, value: Any, unit: str = "") -> None:
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        text += f" {unit}" if unit else ""
        print(f"\n[figure] {request.node.name}: {name} = {text}")
        record_property(name, value)
        # on the report too, so the summary has it when pytest-xdist ran the test elsewhere
        request.node.user_properties.append((_FIGURE, f"{name} = {text}"))

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = [
        f"{report.nodeid}: {value}"
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == _FIGURE
    ]
    if not lines:
        return
    terminalreporter.section("tau reliability figures")
    for line in lines:
        terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for bridge in _MODULE_BRIDGES:
            if bridge.log_path.exists():
                report.sections.append(
                    (f"{bridge.name} log tail ({bridge.log_path})", bridge.log_tail(80))
                )
    return report


class ModuleBridge:
    """A seeded database and a bridge shared by a whole module (fuzz suites)."""

    def __init__(
        self,
        pg_admin_url: str,
        mqtt: MqttServer,
        log_dir: Path,
        *,
        prepare: Callable[[str], None] | None = None,
        **options: Any,
    ) -> None:
        self.admin_url = pg_admin_url
        self.db_name = f"tau_rel_{uuid.uuid4().hex[:12]}"
        self.url = create_test_database(pg_admin_url, self.db_name, seeds=True)
        if prepare is not None:
            prepare(self.url)
        self.bridge = BridgeProcess(
            database_url=self.url, mqtt=mqtt, log_dir=log_dir, name="module-bridge", **options
        )
        _MODULE_BRIDGES.append(self.bridge)

    def start(self, timeout: float = 30) -> BridgeProcess:
        self.bridge.start()
        self.bridge.wait_online(timeout)
        return self.bridge

    def close(self) -> None:
        self.bridge.close()
        with contextlib.suppress(ValueError):
            _MODULE_BRIDGES.remove(self.bridge)
        with contextlib.suppress(Exception):
            drop_database(self.admin_url, self.db_name)


@pytest.fixture(scope="module")
def module_bridge_factory(
    pg_admin_url: str, mqtt_server: MqttServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., BridgeProcess]]:
    """`module_bridge_factory(prepare=fn(url), universes=..., env=...)` → an online bridge."""
    made: list[ModuleBridge] = []

    def make(prepare: Callable[[str], None] | None = None, **options: Any) -> BridgeProcess:
        mb = ModuleBridge(
            pg_admin_url, mqtt_server, tmp_path_factory.mktemp("bridge"), prepare=prepare, **options
        )
        made.append(mb)
        return mb.start()

    try:
        yield make
    finally:
        for mb in made:
            mb.close()


@pytest.fixture(scope="module")
def module_probe(mqtt_server: MqttServer) -> Iterator[MqttProbe]:
    probe = MqttProbe(mqtt_server.host, mqtt_server.port).connect()
    try:
        yield probe
    finally:
        probe.close()


def env_with(*parts: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        out.update(part)
    return out
