"""The HTTP listener on the bridge's loop (aiohttp): `/healthz`, `/metrics` and the web page.

`/healthz` (JSON, 200 only when healthy) and `/metrics` (Prometheus) are open to
anyone who reaches the port, as before; with a `Site` the same listener serves the
page (a `Site`: `tau.web`), behind its login when a password is set.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tau.metrics import Metrics

log = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD")


class Site(Protocol):
    """What else the listener serves (the web page, `tau.web`)."""

    def middlewares(self) -> list[Any]: ...
    def add_routes(self, app: web.Application) -> None: ...
    async def close(self) -> None: ...


def _closing(response: web.Response) -> web.Response:
    # Probes (curl, the Docker health check, Prometheus) ask once: no keep-alive.
    response.force_close()
    return response


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        health: Callable[[], dict[str, Any]],
        metrics: Metrics,
        refresh: Callable[[], None],
        site: Site | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._metrics = metrics
        self._refresh = refresh
        self._web = site
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        if self._runner is None or not self._runner.addresses:
            return self._port
        return int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/"

    def application(self) -> web.Application:
        middlewares = self._web.middlewares() if self._web is not None else []
        app = web.Application(middlewares=middlewares, client_max_size=256 * 1024)
        app.router.add_route("*", "/healthz", self._healthz)
        app.router.add_route("*", "/metrics", self._metrics_page)
        if self._web is not None:
            self._web.add_routes(app)
        else:
            app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.application(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        log.info("event=http_listening host=%s port=%d url=%s", self._host, self.port, self.url)

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        if request.method not in READ_METHODS:
            return _closing(web.Response(status=405, text="only GET and HEAD\n"))
        health = self._health()
        return _closing(
            web.Response(
                status=200 if health.get("healthy") else 503,
                body=json.dumps(health, default=str).encode(),
                content_type="application/json",
            )
        )

    async def _metrics_page(self, request: web.Request) -> web.Response:
        if request.method not in READ_METHODS:
            return _closing(web.Response(status=405, text="only GET and HEAD\n"))
        self._refresh()
        body = generate_latest(self._metrics.registry)
        return _closing(web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST}))

    async def _not_found(self, request: web.Request) -> web.Response:
        return _closing(web.Response(status=404, text="try /healthz or /metrics\n"))
