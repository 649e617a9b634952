"""Optional HTTP listener: `/healthz` (JSON, 200 only when healthy) and `/metrics`.

A deliberately tiny HTTP/1.1 server on asyncio streams: two read-only GET
endpoints do not justify a web framework as a dependency.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tau.metrics import Metrics

log = logging.getLogger(__name__)


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        health: Callable[[], dict[str, Any]],
        metrics: Metrics,
        refresh: Callable[[], None],
    ) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._metrics = metrics
        self._refresh = refresh
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("event=http_listening host=%s port=%d", self._host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass
            parts = request.decode("latin-1").split()
            status, ctype, body = self._respond(parts)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if parts[:1] == ["HEAD"] else body))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _respond(self, parts: list[str]) -> tuple[str, str, bytes]:
        if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"only GET and HEAD\n"
        path = parts[1].split("?", 1)[0]
        if path == "/healthz":
            health = self._health()
            status = "200 OK" if health.get("healthy") else "503 Service Unavailable"
            return status, "application/json", json.dumps(health, default=str).encode()
        if path == "/metrics":
            self._refresh()
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._metrics.registry)
        return "404 Not Found", "text/plain", b"try /healthz or /metrics\n"
