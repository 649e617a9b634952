"""Who may use the page: sessions, the password, CSRF tokens. Pure, no aiohttp.

On loopback without a password every visitor gets a session at once; with
`TAU_HTTP__PASSWORD` a session comes only from the login form. Each session has a
CSRF token the page sends with every change. Wrong passwords are answered one
at a time, each after `wrong_delay_s`: guessing is one try a second at best.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from tau.errors import ConfigurationError

COOKIE = "tau_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_S = 7 * 24 * 3600.0
MAX_SESSIONS = 1000


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, password: str | None) -> None:
    """Any address but loopback needs a password: refuse to start, in one line."""
    if not is_loopback(host) and not password:
        raise ConfigurationError(
            f"TAU_HTTP__PASSWORD is not set: the web page on {host} (TAU_HTTP__HOST) would "
            "let anyone on the network change the lights; set a password or listen on 127.0.0.1"
        )


@dataclass(slots=True)
class Session:
    token: str
    csrf: str
    expires: float


class Auth:
    def __init__(
        self,
        password: str | None,
        *,
        wrong_delay_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._password = password
        self._wrong_delay_s = wrong_delay_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._one_at_a_time = asyncio.Lock()
        self.wrong = 0

    @property
    def required(self) -> bool:
        return bool(self._password)

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        found = self._sessions.get(token)
        if found is None or found.expires < self._clock():
            self._sessions.pop(token, None)
            return None
        return found

    def open_session(self) -> Session:
        now = self._clock()
        if len(self._sessions) >= MAX_SESSIONS:  # forget the expired, then the oldest
            for token, s in sorted(self._sessions.items(), key=lambda kv: kv[1].expires):
                if s.expires >= now and len(self._sessions) < MAX_SESSIONS:
                    break
                del self._sessions[token]
        found = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + SESSION_S)
        self._sessions[found.token] = found
        return found

    def close_session(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)

    async def login(self, given: str) -> Session | None:
        """A session for the right password; a wrong one waits its turn and its delay."""
        async with self._one_at_a_time:
            password = self._password or ""
            if hmac.compare_digest(given.encode(), password.encode()):
                return self.open_session()
            self.wrong += 1
            await asyncio.sleep(self._wrong_delay_s)
            return None

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), session.csrf.encode())
