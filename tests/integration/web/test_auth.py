"""The page behind a password: wrong passwords refused (and slowed), the session cookie
HttpOnly and SameSite=Strict, no change without the CSRF token, no secret shown; and no
start at all on another address without a password."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from testkit.services import MqttServer

from tests.integration.web.conftest import WebBridge, start_web_bridge

PASSWORD = "correct horse battery staple"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str, mqtt_server: MqttServer
) -> Iterator[WebBridge]:
    env = {"TAU_HTTP__PASSWORD": PASSWORD, "TAU_MQTT__PASSWORD": "broker-secret-xyz"}
    # Mosquitto on the test machine allows anonymous clients: the broker password is
    # only there to prove the page never shows it.
    yield from start_web_bridge(tmp_path_factory.mktemp("web-auth"), pg_admin_url, mqtt_server, env)


def _log_in(page: Any, web: WebBridge, password: str) -> None:
    page.goto(f"{web.url}/lights")
    assert "/login" in page.url  # sent to the login first
    page.fill("input[name=password]", password)
    page.click("form.login button")
    page.wait_for_load_state()


def test_a_wrong_password_is_refused_and_slowed_down(page: Any, locked: WebBridge) -> None:
    started = time.monotonic()
    _log_in(page, locked, "guess")
    assert time.monotonic() - started >= 0.9  # each wrong password waits a second
    assert "/login" in page.url
    assert page.locator(".refused").inner_text() == "Wrong password."
    assert page.context.cookies() == []
    status = page.evaluate("fetch('/api/lights.json').then(r => r.status)")
    assert status == 401
    assert [e for e in page.errors if e.startswith("script error")] == []


def test_the_right_password_opens_the_page_with_a_strict_cookie(
    page: Any, locked: WebBridge
) -> None:
    _log_in(page, locked, PASSWORD)
    assert page.url.endswith("/lights")
    page.wait_for_selector("[data-key='fixture:kitchen-ceiling']")
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # out of reach of scripts
    # No secret on any page: not the broker's password, not the page's own.
    for name in ("overview", "patch", "lights"):
        html = page.evaluate(f"fetch('/{name}').then(r => r.text())")
        assert PASSWORD not in html
        assert "broker-secret-xyz" not in html
    overview = page.evaluate("fetch('/api/overview.json').then(r => r.text())")
    assert "broker-secret-xyz" not in overview
    page.click("form.logout button")
    page.wait_for_url("**/login")
    assert page.evaluate("fetch('/api/lights.json').then(r => r.status)") == 401
    assert [e for e in page.errors if e.startswith("script error")] == []


def test_a_change_without_the_csrf_token_is_refused(page: Any, locked: WebBridge) -> None:
    _log_in(page, locked, PASSWORD)
    body = json.dumps({"topic": "group/kitchen/set", "payload": "ON"})
    for headers in ("{'Content-Type': 'application/json'}",
                    "{'Content-Type': 'application/json', 'X-CSRF-Token': 'forged'}"):  # fmt: skip
        status, reply = page.evaluate(
            f"fetch('/api/send', {{method: 'POST', headers: {headers}, body: {body!r}}})"
            ".then(async r => [r.status, await r.json()])"
        )
        assert status == 403
        assert reply == {"status": "error", "error": "missing or wrong CSRF token: reload the page"}
    light = page.evaluate("fetch('/api/lights.json').then(r => r.json())")
    kitchen = next(g for g in light["groups"] if g["slug"] == "kitchen")
    assert kitchen["state"]["state"] == "OFF"  # nothing changed


def test_health_and_metrics_stay_open(locked: WebBridge) -> None:
    with urllib.request.urlopen(f"{locked.url}/healthz", timeout=5) as answer:  # noqa: S310
        assert json.load(answer)["healthy"] is True
    with urllib.request.urlopen(f"{locked.url}/metrics", timeout=5) as answer:  # noqa: S310
        assert b"tau_" in answer.read()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    reload = urllib.request.Request(f"{locked.url}/api/request/reload", data=b"{}")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(reload, timeout=5)
    assert refused.value.code == 401


def test_another_address_without_a_password_does_not_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env.update(
        TAU_HTTP__HOST="0.0.0.0",
        TAU_HTTP__PORT="0",
        TAU_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        PYTHONPATH=str(REPO / "bridge"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "tau", "run", "--no-view"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("tau:")]
    assert len(lines) == 1
    assert "TAU_HTTP__PASSWORD" in lines[0]
    assert "0.0.0.0" in lines[0]
