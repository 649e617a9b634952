"""What the bridge says back about what it is sent: replies to bridge requests, one
`bridge/log` entry per rejected input, and the record of recent inputs the views show.

- **Replies**: a request's handler (from the extensions' request tables) runs in a
  request worker (`tau.api.request_queue`) or for the web page (`request`); the reply is
  `{"status": "ok", "data": ...}` or `{"status": "error", "error": ...}`, never a raise.
- **Rejections**: bad input is answered, not raised: a WARNING under `tau.bridge`
  (`event=input_rejected`), one entry on the log topic, and, for a request, an error on
  its response topic with the request's transaction id when it had one.
- **The record**: the last 20 inputs handled and the last 20 rejected, with the count of
  rejections, for the terminal view and the web page; each input counts in the metrics.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from tau.api import requests as bridge_api
from tau.api.publisher import STATE_QOS, Publish
from tau.api.router import Route
from tau.core.extension import ExtensionRequest
from tau.core.topics import Topics
from tau.errors import TauError
from tau.metrics import Metrics

# The name operators know from the log lines (`tau.bridge event=input_rejected ...`).
log = logging.getLogger("tau.bridge")

__all__ = ["Answers"]


class Answers:
    def __init__(
        self,
        topics: Topics,
        publish: Publish,
        metrics: Metrics,
        requests: Mapping[str, ExtensionRequest],
    ) -> None:
        self._topics = topics
        self._publish = publish
        self._metrics = metrics
        self._requests = requests
        self.rejected = 0
        self.recent: list[tuple[float, str, str]] = []  # (when, topic, payload)
        self.rejections: list[tuple[float, str, str]] = []  # (when, topic, reason)

    async def answer(self, name: str, body: Any) -> dict[str, Any]:
        """Run request `name`'s handler on its parsed body: the reply."""
        try:
            data = await bridge_api.handle_request(name, body, self._requests)
            self.count("request", self._topics.request(name), b"")
            return {"status": "ok", "data": data}
        except TauError as exc:
            self.log_rejection(self._topics.request(name), None, str(exc), "request")
            return {"status": "error", "error": str(exc)}
        except Exception as exc:
            log.exception("event=request_failed request=%s", name)
            return {"status": "error", "error": f"internal error: {exc!r}"}

    async def request(self, name: str, payload: bytes) -> dict[str, Any]:
        """A bridge request from the web page: the reply `<base>/bridge/response/<name>`
        would carry, from the same handlers (not published: the page asked)."""
        try:
            body, _transaction = bridge_api.parse_request(name, payload, self._requests)
        except TauError as exc:
            text = payload[:200].decode("utf-8", "replace")
            self.log_rejection(self._topics.request(name), text, str(exc), "request")
            return {"status": "error", "error": str(exc)}
        return await self.answer(name, body)

    def count(self, kind: str, topic: str, payload: bytes) -> None:
        """An input handled: in the record and the metrics."""
        text = payload[:120].decode("utf-8", "replace")
        self.recent.append((time.time(), topic, text))
        del self.recent[:-20]
        self._metrics.commands.labels(kind).inc()

    def reject(self, topic: str, payload: bytes, message: str, found: Route | None) -> None:
        """One message on the log topic (and the response topic for requests)."""
        text = payload[:200].decode("utf-8", "replace")
        kind = found.kind if found else "unknown"
        self.log_rejection(topic, text, message, kind)
        if found is not None and found.kind == "request":
            reply: dict[str, Any] = {"status": "error", "error": message}
            try:
                data = json.loads(payload)
                if isinstance(data, dict) and isinstance(data.get("transaction"), str | int):
                    reply["transaction"] = data["transaction"]
            except (ValueError, RecursionError):
                pass
            name = found.name if "+" not in found.name and "#" not in found.name else "invalid"
            self._publish(self._topics.response(name), json.dumps(reply), qos=STATE_QOS)

    def log_rejection(self, topic: str, payload: str | None, message: str, kind: str) -> None:
        self.rejected += 1
        self._metrics.rejected.labels(kind).inc()
        log.warning("event=input_rejected topic=%s reason=%r", topic, message)
        self.rejections.append((time.time(), topic, message))
        del self.rejections[:-20]
        entry = {"level": "error", "message": message, "topic": topic, "payload": payload}
        # QoS 0 like states and replies (see STATE_QOS): a flood of bad input must not
        # stall the commands behind it on PUBACKs.
        self._publish(self._topics.bridge_log, json.dumps(entry), qos=STATE_QOS)
