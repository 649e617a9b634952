"""Live updates to open pages: coalesced once for every browser, never in the DMX path.

The bus handlers only add ids to the hub's sets (no I/O, no JSON). One task, the
hub's, wakes at most `rate` times a second and only when something may have changed:
it serialises what changed since its last tick once — each changed state, each
watched universe whose frame changed, new problems and inputs, the bridge's health —
and hands the same pieces to every page that shows them. Each page keeps what it has
not sent yet in a small coalescing outbox (at most one entry per fixture, group and
universe, so it stays bounded however slow its browser) drained by its own task: a
slow socket only delays its own page, never the hub or the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import WSMsgType, web

from tau.core.events import ChangeBatch, InstallationReloaded

log = logging.getLogger(__name__)

MAX_WATCHED = 8  # universes one page may ask levels for at a time
IDLE_LOOK_S = 1.0  # with nothing new, the hub still looks at the bridge's health this often
MAX_LINES = 50  # problems and inputs one page keeps unsent (the newest)


@dataclass(slots=True)
class Tick:
    """What changed since the hub's last tick, each piece already JSON (shared by pages)."""

    fixtures: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    levels: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    health: str | None = None


class Source(Protocol):
    """What the hub asks the app for; every call is made once a tick, for all pages."""

    def states(self, fixtures: set[int], groups: set[int], tick: Tick) -> None: ...

    def levels(self, universe: int) -> tuple[int, str]:
        """The universe's frame (a number that changes when its slots do) and its JSON."""
        ...

    def extras(self, tick: Tick) -> None:
        """New problems and inputs, and the health when it changed."""
        ...


@dataclass(slots=True, eq=False)
class Page:
    ws: web.WebSocketResponse
    universes: set[int] = field(default_factory=set)
    states: bool = True  # the page shows light states (Lights); others say they do not
    # The outbox: what this page has not been sent yet, coalesced.
    reload: bool = False
    fixtures: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    levels: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    health: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, tick: Tick) -> None:
        if self.states:
            self.fixtures.update(tick.fixtures)
            self.groups.update(tick.groups)
        for universe in self.universes:
            text = tick.levels.get(universe)
            if text is not None:
                self.levels[universe] = text
        if tick.problems:
            self.problems = (self.problems + tick.problems)[-MAX_LINES:]
        if tick.inputs:
            self.inputs = (self.inputs + tick.inputs)[-MAX_LINES:]
        if tick.health is not None:
            self.health = tick.health
        if self.pending():
            self.ready.set()

    def pending(self) -> bool:
        return bool(
            self.reload
            or self.fixtures
            or self.groups
            or self.levels
            or self.problems
            or self.inputs
            or self.health
        )

    def message(self) -> str:
        """The outbox as one JSON message (joined from the shared pieces), emptied."""
        parts = []
        if self.reload:
            parts.append('"reload":true')
        for key, items in (("fixtures", self.fixtures), ("groups", self.groups)):
            if items:
                parts.append(f'"{key}":{{' + ",".join(f'"{k}":{v}' for k, v in items.items()) + "}")
        if self.levels:
            parts.append(
                '"levels":{' + ",".join(f'"{u}":{v}' for u, v in self.levels.items()) + "}"
            )
        for key, lines in (("problems", self.problems), ("inputs", self.inputs)):
            if lines:
                parts.append(f'"{key}":[' + ",".join(lines) + "]")
        if self.health:
            parts.append(f'"health":{self.health}')
        self.reload = False
        self.fixtures, self.groups, self.levels = {}, {}, {}
        self.problems, self.inputs, self.health = [], [], None
        return "{" + ",".join(parts) + "}"


class LiveHub:
    """`on_batch`/`on_reload` go on the bus; `serve` runs one page's websocket."""

    def __init__(self, source: Source, rate: float) -> None:
        self._source = source
        self._interval = 1.0 / rate
        self.pages: set[Page] = set()
        self.sent = 0
        self.ticks = 0
        self._fixtures: set[int] = set()
        self._groups: set[int] = set()
        self._frames: dict[int, int] = {}  # universe → the frame last handed out
        self._health: str | None = None  # the last health handed out (for new pages)
        self._wake = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    def on_batch(self, batch: ChangeBatch) -> None:
        if self.pages:
            self._fixtures |= batch.fixture_ids
            self._groups |= batch.group_ids
            self._wake.set()

    def on_reload(self, _event: InstallationReloaded) -> None:
        self._fixtures.clear()
        self._groups.clear()
        for page in self.pages:
            page.reload = True
            page.fixtures.clear()
            page.groups.clear()
            page.ready.set()

    def poke(self) -> None:
        """Something polled changed (a problem, an input): the hub looks."""
        self._wake.set()

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        # No per-message deflate: a few kB a second on a LAN, and no zlib on the loop.
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096, compress=False)
        await ws.prepare(request)
        if self._ticker is None or self._ticker.done():
            # Nobody was watching: what happened before this page is on it already.
            caught_up = Tick()
            self._source.extras(caught_up)
            self._health = caught_up.health or self._health
        page = Page(ws, health=self._health)
        self.pages.add(page)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick_loop(), name="web-live-hub")
        sender = asyncio.create_task(self._send_loop(page), name="web-live")
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(page, msg.data)
        finally:
            self.pages.discard(page)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    def _on_text(self, page: Page, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            return
        if isinstance(data, dict) and isinstance(data.get("states"), bool):
            page.states = data["states"]
        if isinstance(data, dict) and isinstance(data.get("universes"), list):
            asked = data["universes"]
            wanted = {u for u in asked if isinstance(u, int) and not isinstance(u, bool)}
            page.universes = set(sorted(wanted)[:MAX_WATCHED])
            page.levels = {u: v for u, v in page.levels.items() if u in page.universes}
            # What it shows now starts from the current levels (served from the hub's cache).
            for universe in page.universes - page.levels.keys():
                page.levels[universe] = self._source.levels(universe)[1]
            if page.levels:
                page.ready.set()

    def _watched(self) -> set[int]:
        watched: set[int] = set()
        for page in self.pages:
            watched |= page.universes
        return watched

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pages:
            watched = self._watched()
            if not watched:  # nothing polled: sleep until something changes
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_LOOK_S)
            started = loop.time()
            self._wake.clear()
            try:
                self._tick(watched or self._watched())
            except Exception:  # a page's bug must not stop every page's updates
                log.exception("web: live update failed")
            # At most `rate` ticks a second, however busy the bridge is.
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - started)))

    def _tick(self, watched: set[int]) -> None:
        self.ticks += 1
        tick = Tick()
        source = self._source
        if self._fixtures or self._groups:
            if any(page.states for page in self.pages):
                source.states(self._fixtures, self._groups, tick)
            self._fixtures, self._groups = set(), set()
        for universe in watched:
            frame, text = source.levels(universe)
            if self._frames.get(universe) != frame:
                self._frames[universe] = frame
                tick.levels[universe] = text
        for universe in self._frames.keys() - watched:
            del self._frames[universe]
        source.extras(tick)
        if tick.health is not None:
            self._health = tick.health
        if (
            tick.fixtures
            or tick.groups
            or tick.levels
            or tick.problems
            or tick.inputs
            or tick.health
        ):
            for page in self.pages:
                page.take(tick)

    async def _send_loop(self, page: Page) -> None:
        loop = asyncio.get_running_loop()
        while not page.ws.closed:
            await page.ready.wait()
            page.ready.clear()
            if not page.pending():
                continue
            started = loop.time()
            try:
                await page.ws.send_str(page.message())
            except (ConnectionError, RuntimeError):
                return
            self.sent += 1
            # At most `rate` messages a second to one page, whoever asks.
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - started)))

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for page in list(self.pages):
            with contextlib.suppress(Exception):
                await page.ws.close()
