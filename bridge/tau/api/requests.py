"""Bridge requests: `<base>/bridge/request/<cmd>` -> `<base>/bridge/response/<cmd>`.

Zigbee2MQTT style: a JSON body (an optional `transaction` is echoed back), the
reply `{"status": "ok", "data": ...}` or `{"status": "error", "error": "..."}`.
Bodies are validated with pydantic; database refusals are relayed verbatim.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

import asyncpg
from pydantic import Field, ValidationError, model_validator

from tau.core.commands import describe_problems, load_json
from tau.core.extension import Extension, ExtensionRequest, RequestBody
from tau.core.scenes import capture
from tau.core.state import StateStore
from tau.db import admin
from tau.dmx.render import Renderer
from tau.errors import InvalidCommandError, UnknownTargetError
from tau.settings import SLUG_PATTERN

Slug = Field(pattern=SLUG_PATTERN)
Name = Field(min_length=1, max_length=200)


_Body = RequestBody


class FixtureAdd(_Body):
    name: str = Name
    slug: str = Slug
    model: int | str = Field(description="fixture model id or 'Manufacturer Model'")
    universe: int = Field(1, ge=0, le=63999)
    start_channel: int = Field(ge=1, le=512)
    # as `tau fixture add`: an imported model's mode, one fixture per head, a row of them
    mode: str | None = Field(None, min_length=1, max_length=200)
    heads: Literal["together", "each"] = "together"
    count: int = Field(1, ge=1, le=512)


class ByRef(_Body):
    slug: str = Slug


class Rename(_Body):
    slug: str = Slug
    new_slug: str | None = Field(None, pattern=SLUG_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _something(self) -> Rename:
        if self.new_slug is None and self.name is None:
            raise ValueError("give new_slug and/or name")
        return self


class FixtureUpdate(_Body):
    slug: str = Slug
    name: str | None = Field(None, min_length=1, max_length=200)
    model: int | str | None = None
    universe: int | None = Field(None, ge=0, le=63999)
    start_channel: int | None = Field(None, ge=1, le=512)


class GroupAdd(_Body):
    name: str = Name
    slug: str = Slug
    circadian_profile: str | None = None
    room: bool = False  # a room: Home Assistant's suggested area for what it holds


class GroupUpdate(_Body):
    slug: str = Slug
    name: str | None = Field(None, min_length=1, max_length=200)
    room: bool | None = None
    # a profile's name; `null` takes the group off circadian control
    circadian_profile: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _something(self) -> GroupUpdate:
        if not self.model_fields_set - {"slug", "transaction"}:
            raise ValueError("give name, room and/or circadian_profile")
        return self


class Members(_Body):
    group: str = Slug
    fixture: str | None = Field(None, pattern=SLUG_PATTERN)
    child_group: str | None = Field(None, pattern=SLUG_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> Members:
        if (self.fixture is None) == (self.child_group is None):
            raise ValueError("give exactly one of fixture or child_group")
        return self


class SceneStore(_Body):
    group: str = Slug
    slug: str = Slug
    name: str | None = Field(None, min_length=1, max_length=200)


class Empty(_Body):
    pass


class Universe(_Body):
    universe: int = Field(ge=0, le=63999)
    length: int = Field(512, ge=1, le=512, description="slots from channel 1 on")


class BridgeHost(Protocol):
    """What the request handlers need from the running bridge."""

    @property
    def pool(self) -> asyncpg.Pool: ...
    @property
    def store(self) -> StateStore: ...
    async def reload(self) -> None: ...
    async def changed_installation(self) -> None: ...
    @property
    def renderer(self) -> Renderer: ...


Handler = Callable[[BridgeHost, Any], Awaitable[Any]]


async def _reload(host: BridgeHost, _body: Empty) -> Any:
    await host.reload()
    inst = host.store.installation
    return {"fixtures": len(inst.fixtures), "groups": len(inst.groups)}


def _given(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if v is not None}


async def _fixture_add(host: BridgeHost, body: FixtureAdd) -> Any:
    if body.mode is not None or body.heads != "together" or body.count != 1:
        return await _fixture_add_many(host, body)
    model = await admin.model_id(host.pool, body.model)
    return await admin.add_fixture(
        host.pool, body.name, body.slug, model, body.universe, body.start_channel
    )


async def _fixture_add_many(host: BridgeHost, body: FixtureAdd) -> Any:
    """`fixture/add` with a mode, heads or a count: every fixture it patched."""
    from tau.fixtures import store

    async with host.pool.acquire(timeout=5) as conn:
        ref = body.model
        found = (
            await store.model_by_id(conn, ref)
            if isinstance(ref, int)
            else await store.find_model(conn, ref, body.mode)
        )
        if found is None:
            what = f"{ref!r}" + (f" mode {body.mode!r}" if body.mode else "")
            raise UnknownTargetError(
                f"no fixture model {what} (import it with `tau fixtures import`)"
            )
        rows = await store.add_fixtures(
            conn,
            body.name,
            body.slug,
            found,
            body.universe,
            body.start_channel,
            heads=body.heads,
            count=body.count,
        )
    return {"id": rows[0]["id"], "fixtures": rows}


async def _fixture_remove(host: BridgeHost, body: ByRef) -> Any:
    return await admin.remove(host.pool, "fixtures", body.slug, "fixture")


async def _fixture_rename(host: BridgeHost, body: Rename) -> Any:
    changes = _given({"slug": body.new_slug, "name": body.name})
    return await admin.update_fixture(host.pool, body.slug, changes)


async def _fixture_update(host: BridgeHost, body: FixtureUpdate) -> Any:
    changes = _given(
        {"name": body.name, "universe": body.universe, "start_channel": body.start_channel}
    )
    if body.model is not None:
        changes["fixture_model_id"] = await admin.model_id(host.pool, body.model)
    return await admin.update_fixture(host.pool, body.slug, changes)


async def _group_add(host: BridgeHost, body: GroupAdd) -> Any:
    return await admin.add_group(host.pool, body.name, body.slug, body.circadian_profile, body.room)


async def _group_update(host: BridgeHost, body: GroupUpdate) -> Any:
    changes = _given({"name": body.name, "is_room": body.room})
    if "circadian_profile" in body.model_fields_set:
        profile = body.circadian_profile
        changes["circadian_profile_id"] = (
            await admin.profile_id(host.pool, profile) if profile is not None else None
        )
    return await admin.update_group(host.pool, body.slug, changes)


async def _group_remove(host: BridgeHost, body: ByRef) -> Any:
    return await admin.remove(host.pool, "groups", body.slug, "group")


async def _group_rename(host: BridgeHost, body: Rename) -> Any:
    changes = _given({"slug": body.new_slug, "name": body.name})
    return await admin.update_group(host.pool, body.slug, changes)


async def _members_add(host: BridgeHost, body: Members) -> Any:
    return await admin.change_member(host.pool, body.group, body.fixture, body.child_group, True)


async def _members_remove(host: BridgeHost, body: Members) -> Any:
    return await admin.change_member(host.pool, body.group, body.fixture, body.child_group, False)


async def _scene_store(host: BridgeHost, body: SceneStore) -> Any:
    inst = host.store.installation
    gid = inst.group_by_slug.get(body.group)
    if gid is None:
        raise UnknownTargetError(f"unknown group {body.group!r}")
    values = capture({fid: host.store.fixture(fid) for fid in inst.groups[gid].fixture_ids})
    return await admin.store_scene(host.pool, body.slug, body.name or body.slug, gid, values)


async def _scene_remove(host: BridgeHost, body: ByRef) -> Any:
    return await admin.remove(host.pool, "scenes", body.slug, "scene")


async def _dmx_frame(host: BridgeHost, body: Universe) -> Any:
    status = host.renderer.status()
    if body.universe not in status:
        raise UnknownTargetError(f"universe {body.universe} has no output")
    # Every slot asked for, zeros included: slot n of the reply is channel n + 1.
    slots = list(host.renderer.frame(body.universe)[: body.length])
    return {"universe": body.universe, "slots": slots, "output": status[body.universe]}


HANDLERS: dict[str, tuple[type[_Body], Handler]] = {
    "reload": (Empty, _reload),
    "fixture/add": (FixtureAdd, _fixture_add),
    "fixture/remove": (ByRef, _fixture_remove),
    "fixture/rename": (Rename, _fixture_rename),
    "fixture/update": (FixtureUpdate, _fixture_update),
    "group/add": (GroupAdd, _group_add),
    "group/remove": (ByRef, _group_remove),
    "group/rename": (Rename, _group_rename),
    "group/update": (GroupUpdate, _group_update),
    "group/members/add": (Members, _members_add),
    "group/members/remove": (Members, _members_remove),
    "scene/store": (SceneStore, _scene_store),
    "scene/remove": (ByRef, _scene_remove),
    "dmx/frame": (Universe, _dmx_frame),
}


def parse_request(
    name: str, payload: bytes, requests: Mapping[str, ExtensionRequest]
) -> tuple[Any, str | int | None]:
    """Validate a request body; returns (body, transaction). `requests` are the ones
    the extensions answer (these built-in ones, `circadian/tick`, ...)."""
    if name not in requests:
        known = ", ".join(sorted(requests))
        raise InvalidCommandError(f"unknown request {name[:80]!r}; known requests: {known}")
    model = requests[name][0]
    data: Any = {} if not payload.strip() else load_json(payload)
    if not isinstance(data, dict):
        raise InvalidCommandError("request body must be a JSON object")
    transaction = data.get("transaction")
    if not isinstance(transaction, str | int | None) or isinstance(transaction, bool):
        transaction = None
    try:
        return model.model_validate(data), transaction
    except ValidationError as exc:
        problems = describe_problems(exc, "body")
        raise InvalidCommandError(f"invalid {name} request: {problems}") from None


# Requests that change the installation: the reply goes out after the reload that
# LISTEN/NOTIFY triggers, so the requester can use what it just created (and HA has its
# discovery) at once.
CHANGES_INSTALLATION = frozenset(
    name for name in HANDLERS if name.split("/")[0] in ("fixture", "group", "scene")
)


async def handle_request(name: str, body: Any, requests: Mapping[str, ExtensionRequest]) -> Any:
    """Run a validated request's handler (a plain function or a coroutine function)."""
    result = requests[name][1](body)
    return await result if inspect.isawaitable(result) else result


class BridgeRequests(Extension):
    """The built-in requests (create, rename and remove fixtures, groups and scenes,
    reload, read a universe's frame) as an extension of the running bridge."""

    name = "requests"

    def __init__(self, host: BridgeHost) -> None:
        self._host = host

    def requests(self) -> Mapping[str, ExtensionRequest]:
        return {
            name: (model, functools.partial(self._run, name, handler))
            for name, (model, handler) in HANDLERS.items()
        }

    async def _run(self, name: str, handler: Handler, body: Any) -> Any:
        result = await handler(self._host, body)
        if name in CHANGES_INSTALLATION:
            await self._host.changed_installation()
        return result
