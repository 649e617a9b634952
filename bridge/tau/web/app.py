"""The web page: routes, login, CSRF, the changes a page sends, and what the live hub
asks once a tick. What each page starts from is `tau.web.data`'s; the small pieces a
handler answers with are `tau.web.responses`'.

Changes go where MQTT's go: light, scene and circadian commands through the
bridge's own `on_message` (the same parsing, the same refusals on
`<base>/bridge/log`), bridge requests through `Bridge.request` (the same
handlers and the same reply as `<base>/bridge/response/<name>`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from tau import __version__
from tau.core.bus import Bus
from tau.core.events import ChangeBatch, InstallationReloaded
from tau.errors import TauError
from tau.features.circadian.engine import CircadianEngine
from tau.fixtures.library import INSTALL_HINT, library_folders
from tau.fixtures.library_commands import import_report
from tau.settings import Settings
from tau.web import pages, views
from tau.web.auth import COOKIE, CSRF_HEADER, Auth, Session
from tau.web.data import PAGES, BridgeLike, PageData, problems
from tau.web.live import LiveHub, Tick
from tau.web.responses import dumps, error, html, json_body, safe_next, set_cookie

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# What the page may send, as `<base>/<topic>`: the commands MQTT takes.
COMMAND_TOPICS = re.compile(
    r"^(fixture|group|scene)/[a-z0-9][a-z0-9_-]{0,62}/set$|^group/[a-z0-9][a-z0-9_-]{0,62}/circadian/set$"
)
# Nothing from another host, no inline script: only the page's own file runs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)
HEALTH_EVERY_S = 1.0  # how often each page's broker and database state is looked at
OPEN_PATHS = ("/healthz", "/metrics", "/login", "/static/")


class WebUI:
    """Served by `tau.http.HttpServer` (its `Site`)."""

    def __init__(
        self,
        settings: Settings,
        bridge: BridgeLike,
        bus: Bus,
        circadian: CircadianEngine,
        now: Callable[[], datetime],
        about: Callable[[], dict[str, Any]],
        *,
        wrong_delay_s: float = 1.0,
    ) -> None:
        http = settings.http
        password = http.password.get_secret_value() if http.password else None
        self.auth = Auth(password, wrong_delay_s=wrong_delay_s)
        self.read_only = http.read_only
        self._settings = settings
        self._bridge = bridge
        self._pages = PageData(settings, bridge, circadian, now, about)
        self.live = LiveHub(self, http.updates_per_s)
        bus.subscribe(ChangeBatch, "web", self.live.on_batch)
        bus.subscribe(InstallationReloaded, "web", self.live.on_reload)
        self._problems = 0
        self._inputs = 0.0
        # universe → (renderer frame, version, slots, hex as JSON)
        self._level_cache: dict[int, tuple[int, int, bytes, str]] = {}
        self._seen_problems = bridge.rejected
        self._seen_inputs = _last_time(bridge.recent)
        self._health_at = 0.0
        self._health = ""

    # ------------------------------------------------------------ the site
    def middlewares(self) -> list[Any]:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._guard(request, handler)

        return [guard]

    def add_routes(self, app: web.Application) -> None:
        static = resources.files("tau.web") / "static"
        app.router.add_get("/", self._home)
        app.router.add_get("/login", self._login_page)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/static/{name}", self._static_file(static))
        for name in PAGES:
            app.router.add_get(f"/{name}", self._page(name))
        app.router.add_get("/api/{name}.json", self._data)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/api/library", self._library)
        app.router.add_post("/api/library/import", self._import)
        app.router.add_post("/api/send", self._send)
        app.router.add_post("/api/request/{name:.+}", self._request)
        app.router.add_route("*", "/{tail:.*}", self._not_found)

    async def close(self) -> None:
        await self.live.close()

    async def _not_found(self, _request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such page: try /overview, /healthz or /metrics\n")

    # ------------------------------------------------------------ guard
    async def _home(self, _request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/overview")

    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(OPEN_PATHS) and path != "/logout":
            return await handler(request)
        session = self.auth.session(request.cookies.get(COOKIE))
        fresh: Session | None = None
        if session is None:
            if self.auth.required:
                if request.method == "GET" and not path.startswith(("/api/", "/ws")):
                    raise web.HTTPSeeOther(f"/login?next={path}")
                return error(401, "log in first (the page's password, TAU_HTTP__PASSWORD)")
            session = fresh = self.auth.open_session()
        if request.method not in ("GET", "HEAD"):
            if self.read_only:
                return error(403, "this page is read-only (TAU_HTTP__READ_ONLY)")
            given = request.headers.get(CSRF_HEADER)
            if given is None and request.content_type == "application/x-www-form-urlencoded":
                given = str((await request.post()).get("csrf", ""))  # a plain form (log out)
            if not Auth.csrf_ok(session, given):
                return error(403, "missing or wrong CSRF token: reload the page")
        request["session"] = session
        response = await handler(request)
        if fresh is not None:
            set_cookie(response, fresh)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    # ------------------------------------------------------------ login
    async def _login_page(self, request: web.Request) -> web.Response:
        if not self.auth.required:
            raise web.HTTPSeeOther("/overview")
        failed = request.query.get("failed") == "1"
        return html(pages.login(failed, safe_next(request.query.get("next"))))

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        target = safe_next(str(form.get("next", "")))
        session = await self.auth.login(str(form.get("password", "")))
        if session is None:
            log.warning("event=web_login_refused remote=%s", request.remote)
            return html(pages.login(True, target), status=401)
        response = web.HTTPSeeOther(target)
        set_cookie(response, session)
        raise response

    async def _logout(self, request: web.Request) -> web.Response:
        self.auth.close_session(request.cookies.get(COOKIE))
        response = web.HTTPSeeOther("/login" if self.auth.required else "/overview")
        response.del_cookie(COOKIE, path="/")
        raise response

    # ------------------------------------------------------------ pages
    def _static_file(self, folder: Any) -> Handler:
        types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

        async def serve(request: web.Request) -> web.StreamResponse:
            name = request.match_info["name"]
            suffix = name[name.rfind(".") :]
            if "/" in name or name.startswith(".") or suffix not in types:
                raise web.HTTPNotFound()
            entry = folder / name
            if not entry.is_file():
                raise web.HTTPNotFound()
            return web.Response(
                body=entry.read_bytes(),
                content_type=types[suffix],
                headers={"Cache-Control": "max-age=300"},
            )

        return serve

    def _page(self, name: str) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            session: Session = request["session"]
            boot = self.data(name)
            body = pages.page(
                name,
                boot,
                csrf=session.csrf,
                read_only=self.read_only,
                logout=self.auth.required,
                version=__version__,
            )
            return html(body)

        return serve

    async def _data(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in PAGES:
            raise web.HTTPNotFound()
        return web.json_response(self.data(name), dumps=dumps)

    def data(self, name: str) -> dict[str, Any]:
        """What page `name` starts from (then follows live over the websocket)."""
        return self._pages.build(name)

    async def _library(self, request: web.Request) -> web.Response:
        """`tau fixtures search` for the Patch page, in a worker thread (it reads files)."""
        text = request.query.get("q", "").strip()
        if len(text) < 2:
            return error(400, "type at least 2 letters of a manufacturer or model")
        folders = library_folders(self._settings.fixtures.paths)
        if not folders:
            return error(404, f"no fixture library found: {INSTALL_HINT}")
        inst = self._bridge.store.installation
        imported = {views.model_name(m) for m in inst.fixture_models.values()}
        found = await asyncio.to_thread(views.library_search, text, folders, imported)
        return web.json_response({"status": "ok", "data": found}, dumps=dumps)

    async def _import(self, request: web.Request) -> web.Response:
        """`tau fixtures import FILE` for one definition the Patch page found, in a worker
        thread (it reads the file and writes with a connection of its own); the bridge
        reloads on the database's notification as it does after the CLI."""
        data = await json_body(request)
        path = data.get("path")
        folders = library_folders(self._settings.fixtures.paths)
        if not isinstance(path, str) or not path:
            return error(400, "say which definition to import: its path from the search")
        try:
            lines, status = await asyncio.to_thread(_import_from_library, path, folders)
        except TauError as exc:
            return web.json_response({"status": "error", "error": str(exc)})
        self.watch()
        if status:
            refused = [line for line in lines if line.startswith(("refused", "unreadable"))]
            return web.json_response(
                {"status": "error", "error": "; ".join(refused or lines), "data": lines}
            )
        return web.json_response({"status": "ok", "data": lines})

    # ------------------------------------------------------------ live
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            return error(403, "websocket from another site")
        return await self.live.serve(request)

    # What the hub asks, once a tick for every page (tau.web.live.Source).
    def states(self, fixtures: set[int], groups: set[int], tick: Tick) -> None:
        store = self._bridge.store
        if fixtures:
            states = store.fixtures()
            tick.fixtures = {
                str(f): dumps(views.state_of(states[f])) for f in fixtures if f in states
            }
        if groups:
            known = store.installation.groups
            tick.groups = {
                str(g): dumps(views.state_of(store.group_light(g))) for g in groups if g in known
            }

    def levels(self, universe: int) -> tuple[int, str]:
        """A universe's version (grows when its slots change) and its hex as JSON, worked
        out at most once a frame for every page."""
        renderer = self._bridge.renderer
        cached = self._level_cache.get(universe)
        if cached is not None and cached[0] == renderer.frame_no:
            return cached[1], cached[3]
        frame = renderer.frame(universe)
        if cached is not None and cached[2] == frame:
            self._level_cache[universe] = (renderer.frame_no, cached[1], frame, cached[3])
            return cached[1], cached[3]
        version = cached[1] + 1 if cached is not None else 1
        self._level_cache[universe] = (renderer.frame_no, version, frame, f'"{frame.hex()}"')
        return version, self._level_cache[universe][3]

    def extras(self, tick: Tick) -> None:
        bridge = self._bridge
        if bridge.rejected != self._seen_problems:
            new = min(bridge.rejected - self._seen_problems, len(bridge.rejections))
            self._seen_problems = bridge.rejected
            if new > 0:
                tick.problems = [dumps(p) for p in problems(bridge.rejections[-new:])]
        last = _last_time(bridge.recent)
        if last != self._seen_inputs:
            fresh = [r for r in bridge.recent if r[0] > self._seen_inputs]
            tick.inputs = [dumps(p) for p in problems(fresh)]
            self._seen_inputs = last
        now = time.monotonic()
        if now - self._health_at >= HEALTH_EVERY_S:  # the header's dots: when they change
            self._health_at = now
            brief = dumps(_brief(bridge.health()))
            if brief != self._health:
                self._health = tick.health = brief

    def watch(self) -> None:
        """Called every frame-ish by the app: wake the pages when problems or inputs grew."""
        bridge = self._bridge
        last = _last_time(bridge.recent)
        if bridge.rejected != self._problems or last != self._inputs:
            self._problems, self._inputs = bridge.rejected, last
            self.live.poke()

    # ------------------------------------------------------------ changes
    async def _send(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        topic = data.get("topic")
        payload = data.get("payload")
        if not isinstance(topic, str) or not COMMAND_TOPICS.match(topic):
            return error(400, f"the page sends commands only to {COMMAND_TOPICS.pattern}")
        if not isinstance(payload, str):
            payload = json.dumps(payload)
        bridge = self._bridge
        full = f"{bridge.topics.base}/{topic}"
        before = bridge.rejected
        bridge.on_message(full, payload.encode())  # exactly what MQTT's message would do
        if bridge.rejected != before and bridge.rejections:
            return web.json_response({"status": "error", "error": bridge.rejections[-1][2]})
        self.watch()
        return web.json_response({"status": "ok"})

    async def _request(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.read()
        reply = await self._bridge.request(name, body)
        self.watch()
        return web.json_response(reply, dumps=dumps)


# ---------------------------------------------------------------- helpers
def _import_from_library(path: str, folders: list[Path]) -> tuple[list[str], int]:
    """`tau fixtures import PATH`, for a definition inside one of `folders` only."""
    wanted = Path(path).resolve()
    if not any(wanted.is_relative_to(folder.resolve()) for folder in folders):
        raise TauError(f"{path} is not in a fixture library this bridge searches")
    return import_report([wanted], dry_run=False, verbose=False)


def _last_time(entries: list[tuple[float, str, str]]) -> float:
    return entries[-1][0] if entries else 0.0


def _brief(health: dict[str, Any]) -> dict[str, Any]:
    return {
        "healthy": health.get("healthy"),
        "broker": health.get("broker", {}).get("status"),
        "database": health.get("database", {}).get("status"),
    }
