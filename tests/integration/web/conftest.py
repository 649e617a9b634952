"""The web page in a real browser: Debian's chromium driven by Playwright (no download).

One bridge and one browser per module. Without
/usr/bin/chromium the tests fail and say how to install it (`make browser`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testkit.bridge import BridgeProcess
from testkit.browser import BrowserMissingError, chromium
from testkit.enttec import EnttecEmulator
from testkit.services import MqttServer

from tests.conftest import BridgeFactory
from tests.integration.fixtures.samples import write_par

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "web"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Per module: Playwright's sync API keeps an event loop marked running while it is
    # open, and the asyncio tests of the next modules need the thread's loop free.
    try:
        with chromium() as launched:
            yield launched
    except BrowserMissingError as exc:
        pytest.fail(str(exc))


class WebBridge:
    """A bridge serving the page, with its URL and the widget of universe 1."""

    def __init__(self, bridge: BridgeProcess, port: int, widget: EnttecEmulator) -> None:
        self.bridge = bridge
        self.url = f"http://127.0.0.1:{port}"
        self.widget = widget


def start_web_bridge(
    tmp: Path, pg_admin_url: str, mqtt_server: MqttServer, env: dict[str, str]
) -> Iterator[WebBridge]:
    factory = BridgeFactory(pg_admin_url, mqtt_server, tmp)
    port = free_port()
    with EnttecEmulator(tmp / "widget") as widget:
        try:
            bridge = factory(
                seeds=True,
                default_transition=0,
                universes={"1": {"driver": "enttec_pro", "port": widget.port}},
                env={"TAU_HTTP__PORT": str(port), **env},
            )
            yield WebBridge(bridge, port, widget)
        finally:
            factory.close()


@pytest.fixture(scope="module")
def web_bridge(
    tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str, mqtt_server: MqttServer
) -> Iterator[WebBridge]:
    place = {  # sunrise and sunset on the Circadian page, the demo's "daylight" profile
        "TAU_LOCATION__LATITUDE": "52.52",
        "TAU_LOCATION__LONGITUDE": "13.405",
        "TAU_LOCATION__TIMEZONE": "Europe/Berlin",
    }
    tmp = tmp_path_factory.mktemp("web")
    (tmp / "library").mkdir()
    write_par(tmp / "library")  # a definition for the Patch page's library search
    library = {"TAU_FIXTURES__PATHS": str(tmp / "library")}
    yield from start_web_bridge(tmp, pg_admin_url, mqtt_server, {**place, **library})


@pytest.fixture
def page(browser: Any, quiet_machine: None) -> Iterator[Any]:
    """A fresh browser tab; script errors and console errors are collected in `.errors`.
    A live page keeps chromium busy on the machine's two cores: it holds the lock of the
    tests that time the bridge in milliseconds (`quiet_machine`), so none runs beside it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))
    tab.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    tab.errors = errors
    try:
        yield tab
    finally:
        context.close()
