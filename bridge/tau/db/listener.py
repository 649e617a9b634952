"""LISTEN tau_config: reload the installation live when configuration changes.

A burst of notifications (a seed file, a transaction touching many rows) is
debounced into one reload. After the listening connection is lost, a full
reload runs on reconnect because notifications sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from tau.backoff import Backoff
from tau.db.connect import BRIDGE_SETTINGS, plain_dsn, reason, server_address
from tau.waiting import Waiting

log = logging.getLogger(__name__)

CHANNEL = "tau_config"


class ConfigListener:
    def __init__(
        self, url: str, reload: Callable[[], Awaitable[None]], debounce_s: float = 0.05
    ) -> None:
        self._url = url
        self._reload = reload
        self._debounce_s = debounce_s
        self._pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = False

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="config-listen"),
            asyncio.create_task(self._reloader(), name="config-reload"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        log.debug("event=config_changed payload=%s", payload)
        self._pending.set()

    async def _listen(self) -> None:
        backoff = Backoff(0.5, 5.0)
        first_failure = True
        # While PostgreSQL is away the log says so every 10 s, not only once.
        waiting = Waiting(
            f"PostgreSQL at {server_address(self._url)}",
            hint="is it running? check TAU_DATABASE_URL; commands keep working meanwhile",
            event="database_unreachable",
            logger=log,
        )
        while True:
            conn: asyncpg.Connection | None = None
            pause: float | None = None
            try:
                conn = await asyncpg.connect(
                    plain_dsn(self._url), timeout=5, server_settings=BRIDGE_SETTINGS
                )
                await conn.add_listener(CHANNEL, self._notified)
                if not self.connected and not first_failure:
                    self._pending.set()  # missed notifications while away
                self.connected, first_failure = True, True
                backoff.reset()
                waiting.done()
                while not conn.is_closed():
                    await asyncio.sleep(1.0)
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged below, then retried
                # Whatever ends the LISTEN connection (a refused connect, a server that
                # shuts down mid-handshake: asyncpg then raises what it read, e.g. an
                # IncompleteReadError) is retried: this task must never die quietly.
                level = logging.WARNING if first_failure else logging.DEBUG
                pause = backoff.delay()
                log.log(level, "event=config_listener_lost retry_in=%.1fs error=%r", pause, exc)
                if not first_failure:  # the first loss is said above; a lasting one by `waiting`
                    waiting.failed(reason(exc))
                first_failure = False
            finally:
                self.connected = False
                if conn is not None and not conn.is_closed():
                    await conn.close(timeout=1)
            await asyncio.sleep(backoff.delay() if pause is None else pause)

    async def _reloader(self) -> None:
        while True:
            await self._pending.wait()
            await asyncio.sleep(self._debounce_s)
            self._pending.clear()
            try:
                await self._reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=reload_failed")
                await asyncio.sleep(1.0)
                self._pending.set()
