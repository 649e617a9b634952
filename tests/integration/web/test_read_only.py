"""`TAU_HTTP__READ_ONLY=1`: every view, no control, and every change refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from testkit.browser import ready
from testkit.services import MqttServer

from tests.integration.web.conftest import WebBridge, start_web_bridge


@pytest.fixture(scope="module")
def read_only(
    tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str, mqtt_server: MqttServer
) -> Iterator[WebBridge]:
    env = {"TAU_HTTP__READ_ONLY": "1"}
    yield from start_web_bridge(tmp_path_factory.mktemp("web-ro"), pg_admin_url, mqtt_server, env)


def test_views_without_controls_and_changes_refused(page: Any, read_only: WebBridge) -> None:
    page.goto(f"{read_only.url}/lights")
    ready(page)
    page.wait_for_selector("[data-key='fixture:kitchen-ceiling']")
    assert page.locator(".badge").inner_text() == "read-only"
    assert page.locator("[data-act]").count() == 0  # no toggle, slider or colour
    status, reply = page.evaluate(
        """() => fetch('/api/send', {method: 'POST', headers: {'Content-Type':
             'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf]')
             .content}, body: JSON.stringify({topic: 'group/kitchen/set', payload: 'ON'})})
           .then(async r => [r.status, await r.json()])"""
    )
    assert status == 403
    assert reply == {"status": "error", "error": "this page is read-only (TAU_HTTP__READ_ONLY)"}
    for name in ("patch", "scenes", "circadian"):
        page.goto(f"{read_only.url}/{name}")
        ready(page)
        assert page.locator("form.req, button.cmd, button.req-button").count() == 0, name
    # the profiles' settings are shown, with nothing to change them
    assert page.locator("section.profile[data-profile='clock-only'] .summary").inner_text() == (
        "take over changed, resume by hand only, sleep 1 % at the warmest white"
    )
    assert page.locator("main input, main select").count() == 0
    assert [e for e in page.errors if e.startswith("script error")] == []
