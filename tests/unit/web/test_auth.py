"""Sessions, the password and CSRF tokens, without a network."""

from __future__ import annotations

import time

import pytest

from tau.errors import ConfigurationError
from tau.web.auth import Auth, check_listen, is_loopback


def test_loopback_needs_no_password_any_other_address_does() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host)
        check_listen(host, None)
    check_listen("0.0.0.0", "secret")
    with pytest.raises(ConfigurationError) as refused:
        check_listen("0.0.0.0", None)
    assert "TAU_HTTP__PASSWORD" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert not is_loopback("192.168.1.10")
    assert not is_loopback("tau.local")


async def test_a_wrong_password_waits_and_gives_no_session() -> None:
    auth = Auth("right", wrong_delay_s=0.05)
    started = time.monotonic()
    assert await auth.login("wrong") is None
    assert time.monotonic() - started >= 0.05
    assert auth.wrong == 1
    session = await auth.login("right")
    assert session is not None
    assert auth.session(session.token) is session


def test_sessions_expire_and_close() -> None:
    now = [1000.0]
    auth = Auth(None, clock=lambda: now[0])
    session = auth.open_session()
    assert auth.session(session.token) is session
    assert auth.session("forged") is None
    assert auth.session(None) is None
    now[0] += 8 * 24 * 3600
    assert auth.session(session.token) is None
    fresh = auth.open_session()
    auth.close_session(fresh.token)
    assert auth.session(fresh.token) is None


def test_csrf_token_must_match_its_session() -> None:
    auth = Auth(None)
    one, two = auth.open_session(), auth.open_session()
    assert Auth.csrf_ok(one, one.csrf)
    assert not Auth.csrf_ok(one, two.csrf)
    assert not Auth.csrf_ok(one, None)
    assert not Auth.csrf_ok(one, "")
