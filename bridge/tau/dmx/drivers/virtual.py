"""An output that keeps frames in memory: for demos, the terminal view and tests."""

from __future__ import annotations

import asyncio

from tau.dmx.drivers.base import Output, OutputStatus


class VirtualOutput(Output):
    driver = "virtual"

    def __init__(self, universe: int, history: int = 0) -> None:
        super().__init__(universe)
        self.frame_count = 0
        self.history: list[bytes] = []
        self._history_len = history
        self.opened = False
        self.closed = False
        self._changed = asyncio.Event()

    async def open(self) -> None:
        self.opened = True

    def _write(self, frame: bytes) -> None:
        self.frame_count += 1
        if self._history_len:
            self.history.append(frame)
            del self.history[: -self._history_len]
        self._changed.set()

    async def close(self) -> None:
        self.closed = True

    async def wait_frame(self) -> bytes:
        """Wait for the next frame written (demos: a live terminal view)."""
        self._changed.clear()
        await self._changed.wait()
        return self.last_frame

    @property
    def status(self) -> OutputStatus:
        return OutputStatus("ok", "in-memory universe", self.frame_count, None)
