"""One supervisor for every long-running task of the bridge.

Each part (the render loop, the state writer, the config listener, the MQTT session,
the cluster's rounds, each extension's loop...) is a coroutine function started with
`Supervisor.spawn(part, run)`. All of them run in one `asyncio.TaskGroup`, each inside a
guard that never lets an exception out: an unexpected exception is logged once, with
its traceback and the part's name (`event=task_failed part=...`), recorded for
`/healthz` and `<base>/bridge/info` (`Supervisor.health()`), counted
(`on_restart(part)` feeds `tau_task_restarts_total{part}`), and the part starts again
after a short pause (`restart_delay_s`, doubling to `MAX_DELAY_S` while it keeps
failing at once). A part that returns is done; cancelling is how parts stop.

Parts whose work runs elsewhere (an APScheduler job) report with `failed(part, exc)`:
the failure is logged, shown and counted the same way, and the next run is the restart.

`stop_part()` stops one part (the app stops them in reverse order of starting);
`stop()` cancels whatever is left and raises what a task ended with, if anything
escaped a guard (a bug in the supervisor itself): nothing ends unseen.

Tests of supervision arm a fault with `inject(part)` (the `testing/fail` request,
only answered with `TAU_SUPERVISOR__FAULT_INJECTION=true`): the next `checkpoint(part)`
in that part's loop raises `InjectedFaultError` once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tau.supervisor")

MAX_DELAY_S = 5.0
STABLE_S = 30.0  # a part that ran this long restarts after the first delay again


# How a part is started: `Supervisor.task` in the bridge, `unsupervised` on its own (tests
# of one component). Returns the task, which the component cancels to stop the part.
Spawn = Callable[[str, Callable[[], Awaitable[None]]], "asyncio.Task[None]"]


def unsupervised(name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    async def once() -> None:
        await run()

    return asyncio.create_task(once(), name=f"tau-{name}")


async def finish(tasks: Iterable[asyncio.Task[Any] | None], what: str) -> None:
    """Cancel `tasks` and wait for them; log what any of them ended with besides the
    cancel (a stop path never drops an exception unread)."""
    pending = [t for t in tasks if t is not None]
    for task in pending:
        task.cancel()
    if not pending:
        return
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("event=task_ended_with part=%s task=%s", what, task.get_name(), exc_info=exc)


class InjectedFaultError(RuntimeError):
    """Raised by `checkpoint` when a test armed a fault for the part."""


# Every `checkpoint` of the bridge (what `testing/fail` accepts).
FAULT_POINTS = frozenset(
    {
        "render",
        "writer",
        "listener",
        "reload",
        "mqtt",
        "mqtt-writer",
        "request-workers",
        "cluster",
        "cluster-deadlines",
        "circadian",
        "status",
        "homeassistant",
    }
)
_armed: set[str] = set()


def inject(part: str) -> None:
    """Make the next `checkpoint(part)` raise `InjectedFaultError` (tests only)."""
    _armed.add(part)


def checkpoint(part: str) -> None:
    """A point in a part's loop where an injected fault fires; free otherwise."""
    if _armed and part in _armed:
        _armed.discard(part)
        raise InjectedFaultError(f"fault injected into {part} (TAU_SUPERVISOR__FAULT_INJECTION)")


@dataclass(slots=True)
class Part:
    name: str
    run: Callable[[], Awaitable[None]]
    restart: bool = True
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    last_error: str | None = None
    failed_at: float | None = None  # wall clock
    state: str = "running"  # running, restarting, done, stopped, failed
    extra: dict[str, Any] = field(default_factory=dict)


class Supervisor:
    def __init__(
        self,
        on_restart: Callable[[str], None] | None = None,
        *,
        restart_delay_s: float = 0.1,
    ) -> None:
        self._on_restart = on_restart
        self._first_delay = restart_delay_s
        self._parts: dict[str, Part] = {}
        self._group: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._runner = asyncio.create_task(self._main(), name="supervisor")
        await self._ready.wait()

    async def _main(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            self._ready.set()
            await self._closing.wait()
            for part in self._parts.values():
                if part.task is not None:
                    part.task.cancel()
        self._group = None

    # ------------------------------------------------------------------ parts
    def spawn(self, name: str, run: Callable[[], Awaitable[None]], *, restart: bool = True) -> Part:
        """Run `run()` as the part `name`, restarted after an unexpected exception."""
        if self._group is None:
            raise RuntimeError("the supervisor is not running")
        old = self._parts.get(name)
        if old is not None and old.task is not None and not old.task.done():
            raise RuntimeError(f"part {name} is already running")
        part = Part(name, run, restart)
        if old is not None:  # keep what was counted (a part stopped and started again)
            part.restarts, part.last_error, part.failed_at = (
                old.restarts,
                old.last_error,
                old.failed_at,
            )
        self._parts[name] = part
        part.task = self._group.create_task(self._guard(part), name=f"tau-{name}")
        return part

    async def _guard(self, part: Part) -> None:
        delay = self._first_delay
        while True:
            part.state = "running"
            started = time.monotonic()
            try:
                await part.run()
            except asyncio.CancelledError:
                part.state = "stopped"
                raise
            except Exception as exc:  # noqa: BLE001 - what the supervisor is for
                self._record(part, exc)
                if not part.restart:
                    part.state = "failed"
                    return
                if time.monotonic() - started >= STABLE_S:
                    delay = self._first_delay
                part.state = "restarting"
                await asyncio.sleep(delay)
                delay = min(MAX_DELAY_S, delay * 2)
                log.info("event=task_restarted part=%s restarts=%d", part.name, part.restarts)
                continue
            part.state = "done"
            return

    def task(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """`spawn`, for components that keep the task to cancel it (a `Spawn`)."""
        task = self.spawn(name, run).task
        assert task is not None
        return task

    def _record(self, part: Part, exc: BaseException) -> None:
        part.restarts += 1
        cause = exc
        while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
            cause = cause.exceptions[0]  # a part's own TaskGroup: say what failed in it
        part.last_error = f"{type(cause).__name__}: {cause}"
        part.failed_at = time.time()
        log.error(
            "event=task_failed part=%s restarts=%d error=%r",
            part.name,
            part.restarts,
            part.last_error,
            exc_info=exc,
        )
        if self._on_restart is not None:
            self._on_restart(part.name)

    def failed(self, name: str, exc: BaseException) -> None:
        """A part that runs elsewhere (a scheduler's job) failed; its next run restarts it."""
        part = self._parts.get(name)
        if part is None:
            part = self._parts[name] = Part(name, _nothing)
        self._record(part, exc)
        log.info("event=task_restarted part=%s restarts=%d next=scheduled", name, part.restarts)

    async def stop_part(self, part: Part | None, timeout_s: float = 10.0) -> None:
        """Cancel one part and wait for it; log what it ended with."""
        if part is None or part.task is None:
            return
        task = part.task
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            log.error("event=task_stop_timeout part=%s seconds=%.1f", part.name, timeout_s)
        elif not task.cancelled() and (exc := task.exception()) is not None:
            log.error("event=task_ended_with part=%s", part.name, exc_info=exc)
        part.state = "stopped"

    async def stop(self) -> None:
        """Cancel every part left; raise what escaped a guard (never expected)."""
        self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner  # an ExceptionGroup here is a bug in a guard: let it be seen

    # ----------------------------------------------------------------- health
    def health(self) -> dict[str, dict[str, Any]]:
        """Every part that ever failed: how often, the last error, when, and its state."""
        return {
            p.name: {
                "state": p.state,
                "restarts": p.restarts,
                "last_error": p.last_error,
                "failed_at": p.failed_at,
            }
            for p in sorted(self._parts.values(), key=lambda p: p.name)
            if p.restarts
        }

    @property
    def restarts(self) -> int:
        return sum(p.restarts for p in self._parts.values())


async def _nothing() -> None:
    return None
