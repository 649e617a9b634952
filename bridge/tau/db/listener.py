"""LISTEN tau_config: reload the installation live when configuration changes.

A burst of notifications (a seed file, a transaction touching many rows) is
debounced into one reload. After the listening connection is lost, a full
reload runs on reconnect because notifications sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from tau.backoff import Backoff
from tau.db.connect import BRIDGE_SETTINGS, plain_dsn, reason, server_address
from tau.supervisor import Spawn, checkpoint, finish, unsupervised
from tau.waiting import Waiting

log = logging.getLogger(__name__)

CHANNEL = "tau_config"
PROBE_S = 1.0  # a `SELECT 1` this often on the listening connection
TIMEOUT_S = 5.0  # connect, LISTEN and each probe: a partition is noticed within 6 s
SERVER_KEEPALIVE = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}
# What ends a LISTEN connection (retried); anything else is left to the supervisor.
DB_ERRORS = (
    OSError,
    TimeoutError,
    EOFError,
    asyncio.IncompleteReadError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


class ConfigListener:
    def __init__(
        self,
        url: str,
        reload: Callable[[], Awaitable[None]],
        debounce_s: float = 0.05,
        *,
        probe_s: float = PROBE_S,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self._url = url
        self._probe_s = probe_s
        self._timeout_s = timeout_s
        self._reload = reload
        self._debounce_s = debounce_s
        self._pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = False
        self._started = False

    async def start(self, spawn: Spawn = unsupervised) -> None:
        self._tasks = [spawn("listener", self._listen), spawn("reload", self._reloader)]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await finish(tasks, "listener")

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
        if self._started:  # restarted after a failure: notifications may have been missed
            self._pending.set()
        self._started = True
        while True:
            conn: asyncpg.Connection | None = None
            pause: float | None = None
            try:
                conn = await asyncpg.connect(
                    plain_dsn(self._url),
                    timeout=self._timeout_s,
                    # The server's side of the keep-alive: it drops a listener it lost.
                    server_settings=SERVER_KEEPALIVE | BRIDGE_SETTINGS,
                )
                await asyncio.wait_for(conn.add_listener(CHANNEL, self._notified), self._timeout_s)
                if not self.connected and not first_failure:
                    self._pending.set()  # missed notifications while away
                self.connected, first_failure = True, True
                backoff.reset()
                waiting.done()
                while not conn.is_closed():
                    await asyncio.sleep(self._probe_s)
                    checkpoint("listener")
                    # A silent partition (no RST, no FIN) shows as a probe without an
                    # answer: noticed within probe + timeout, not when TCP gives up.
                    await conn.execute("SELECT 1", timeout=self._timeout_s)
            except DB_ERRORS as exc:
                # Whatever ends the LISTEN connection (a refused connect, a server that
                # shuts down mid-handshake: asyncpg then raises what it read, e.g. an
                # IncompleteReadError) is retried here; anything else is a bug, which the
                # supervisor logs and restarts this part for.
                level = logging.WARNING if first_failure else logging.DEBUG
                pause = backoff.delay()
                log.log(level, "event=config_listener_lost retry_in=%.1fs error=%r", pause, exc)
                if not first_failure:  # the first loss is said above; a lasting one by `waiting`
                    waiting.failed(reason(exc))
                first_failure = False
            finally:
                self.connected = False
                if conn is not None and not conn.is_closed():
                    if pause is None:  # cancelled: say goodbye
                        with contextlib.suppress(*DB_ERRORS):
                            await conn.close(timeout=1)
                    else:  # lost: a close could wait on the dead link
                        conn.terminate()
            await asyncio.sleep(backoff.delay() if pause is None else pause)

    async def _reloader(self) -> None:
        while True:
            await self._pending.wait()
            checkpoint("reload")
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
