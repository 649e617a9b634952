"""Live updates to open pages: coalesced, per browser, never in the DMX path.

The bus handlers only add ids to each page's sets (no I/O, no JSON); each page's
own task wakes at most `rate` times a second, builds one message with what changed
since its last one (states, the levels of the universes it shows, new problems and
inputs) and sends it. A slow browser only delays its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tau.core.events import ChangeBatch, InstallationReloaded

log = logging.getLogger(__name__)

MAX_WATCHED = 8  # universes one page may ask levels for at a time
IDLE_LOOK_S = 1.0  # a page with nothing new still gets the bridge's health this often


@dataclass(slots=True, eq=False)
class Page:
    ws: web.WebSocketResponse
    fixtures: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)
    universes: set[int] = field(default_factory=set)
    states: bool = True  # the page shows light states (Lights); others say they do not
    sent_levels: dict[int, bytes] = field(default_factory=dict)
    reload: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    seen_problems: int = 0
    seen_inputs: float = 0.0
    health_at: float = 0.0
    health: dict[str, Any] = field(default_factory=dict)


Snapshot = Callable[[Page], dict[str, Any]]


class LiveHub:
    """`on_batch`/`on_reload` go on the bus; `serve` runs one page's websocket."""

    def __init__(self, build: Snapshot, rate: float) -> None:
        self._build = build
        self._interval = 1.0 / rate
        self.pages: set[Page] = set()
        self.sent = 0

    def on_batch(self, batch: ChangeBatch) -> None:
        for page in self.pages:
            if page.states:
                page.fixtures |= batch.fixture_ids
                page.groups |= batch.group_ids
                page.wake.set()

    def on_reload(self, _event: InstallationReloaded) -> None:
        for page in self.pages:
            page.reload = True
            page.wake.set()

    def poke(self) -> None:
        """Something polled changed (a problem, an input): every page looks."""
        for page in self.pages:
            page.wake.set()

    async def serve(self, request: web.Request, first: dict[str, Any]) -> web.WebSocketResponse:
        # No per-message deflate: a few kB a second on a LAN, and no zlib on the loop.
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096, compress=False)
        await ws.prepare(request)
        page = Page(ws, seen_problems=first.pop("problems_seen", 0))
        page.seen_inputs = first.pop("inputs_seen", 0.0)
        self.pages.add(page)
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
            page.sent_levels = {u: v for u, v in page.sent_levels.items() if u in page.universes}
            page.wake.set()

    async def _send_loop(self, page: Page) -> None:
        loop = asyncio.get_running_loop()
        while not page.ws.closed:
            if not page.universes:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(page.wake.wait(), IDLE_LOOK_S)
            started = loop.time()
            page.wake.clear()
            message = self._build(page)
            if message:
                try:
                    await page.ws.send_str(json.dumps(message, separators=(",", ":")))
                except (ConnectionError, RuntimeError):
                    return
                self.sent += 1
            # At most `rate` messages a second, however busy the bridge is.
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - started)))

    async def close(self) -> None:
        for page in list(self.pages):
            with contextlib.suppress(Exception):
                await page.ws.close()
