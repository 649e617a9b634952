"""Bridge requests, waiting their turn: a bounded queue, a few workers, and replies that
yield to light commands.

Requests are low priority. A full queue answers "busy" at once (reading no further than
the transaction), once-per-flood logged. Workers and the reply writer wait until no
inbound message came for `QUIET_S` (a burst is read first, so a light command behind it
is applied at once), but never longer than `PATIENCE_S` at a time (a steady stream of
commands does not starve them). Replies go `REPLY_BATCH` at a time, once the outbox
holds fewer than that (the outbox writers then never have a pile of replies to send
ahead of what inbound traffic needs); they are bounded like the outbox they go to.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from tau.api import requests as bridge_api
from tau.api.publisher import STATE_QOS
from tau.core.extension import ExtensionRequest
from tau.core.topics import Topics
from tau.supervisor import checkpoint

log = logging.getLogger("tau.bridge")

__all__ = ["PATIENCE_S", "QUIET_S", "REPLY_BATCH", "RequestQueue"]

QUIET_S = 0.005
PATIENCE_S = 0.1
REPLY_BATCH = 16

Answer = Callable[[str, Any], Awaitable[dict[str, Any]]]


class Session(Protocol):
    """What the queue needs of the MQTT session."""

    @property
    def queued(self) -> int: ...

    def publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 0
    ) -> bool: ...

    async def inbound_quiet(self, quiet_s: float, patience_s: float) -> None: ...


class Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class RequestQueue:
    def __init__(
        self,
        session: Session,
        topics: Topics,
        requests: Mapping[str, ExtensionRequest],
        answer: Answer,
        *,
        size: int,
        workers: int,
        max_replies: int,
        busy_total: Counter,
    ) -> None:
        self._session = session
        self._topics = topics
        self._requests = requests
        self._answer = answer
        self._workers = workers
        self._max_replies = max_replies
        self._busy_total = busy_total
        self._queue: asyncio.Queue[tuple[str, Any, str | int | None]] = asyncio.Queue(size)
        self._busy = 0  # requests answered "busy" since the queue last ran empty
        self._replies: deque[tuple[str, dict[str, Any]]] = deque()
        self._replies_waiting = asyncio.Event()
        self._replies_dropped = 0

    def start(self, name: str, payload: bytes) -> None:
        """Queue a request read from MQTT (raises TauError for a bad one)."""
        if self._queue.full() and name in self._requests:
            # Beyond the queue: "busy" at once, read no further than the transaction.
            self._answer_busy(name, bridge_api.transaction_of(payload))
            return
        body, transaction = bridge_api.parse_request(name, payload, self._requests)
        try:
            self._queue.put_nowait((name, body, transaction))
        except asyncio.QueueFull:
            self._answer_busy(name, transaction)

    def _answer_busy(self, name: str, transaction: str | int | None) -> None:
        self._busy += 1
        self._busy_total.inc()
        if self._busy == 1:  # once per flood, not once per request
            log.warning(
                "event=requests_busy queue=%d workers=%d: bridge requests arrive faster than "
                "they are answered; the excess is answered busy",
                self._queue.maxsize,
                self._workers,
            )
        self._reply(name, {"status": "error", "error": "busy"}, transaction)

    def _reply(self, name: str, reply: dict[str, Any], transaction: str | int | None) -> None:
        """Queue a request's reply for the reply writer (never waits)."""
        if transaction is not None:
            reply["transaction"] = transaction
        if len(self._replies) >= self._max_replies:
            self._replies_dropped += 1
            if self._replies_dropped == 1:
                log.warning(
                    "event=request_replies_dropped max_queued=%d: replies wait for the "
                    "broker; the excess is dropped",
                    self._max_replies,
                )
            return
        self._replies.append((name, reply))  # encoded by the reply writer, not here
        self._replies_waiting.set()

    async def _reply_writer(self) -> None:
        """Hand request replies to the session, in order, when inbound is quiet (or at
        least every PATIENCE_S): states and the command path keep priority."""
        replies = self._replies
        while True:
            if not replies:
                self._replies_dropped = 0
                self._replies_waiting.clear()
                await self._replies_waiting.wait()
                continue
            await self._session.inbound_quiet(QUIET_S, PATIENCE_S)
            if self._session.queued >= REPLY_BATCH:
                await asyncio.sleep(QUIET_S)
                continue
            self.hand_over(REPLY_BATCH)
            await asyncio.sleep(0)

    def hand_over(self, count: int | None = None) -> None:
        """Give the session (its outbox) the next `count` replies (all: None), in order."""
        replies = self._replies
        for _ in range(len(replies) if count is None else min(count, len(replies))):
            name, reply = replies.popleft()
            payload = json.dumps(reply, default=str)
            self._session.publish(self._topics.response(name), payload, qos=STATE_QOS)

    async def run(self) -> None:
        """The workers and the reply writer, until cancelled."""
        async with asyncio.TaskGroup() as workers:
            workers.create_task(self._reply_writer())
            for _ in range(self._workers):
                workers.create_task(self._worker())

    async def _worker(self) -> None:
        queue = self._queue
        while True:
            if queue.empty() and self._busy:
                log.info("event=requests_caught_up busy_answered=%d", self._busy)
                self._busy = 0
            name, body, transaction = await queue.get()
            await self._session.inbound_quiet(QUIET_S, PATIENCE_S)  # commands first
            self._reply(name, await self._answer(name, body), transaction)
            checkpoint("request-workers")  # (after the reply: a test's request is answered)
