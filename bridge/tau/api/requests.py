"""Bridge requests: `<base>/bridge/request/<cmd>` -> `<base>/bridge/response/<cmd>`.

Zigbee2MQTT style: a JSON body (an optional `transaction` is echoed back), the
reply `{"status": "ok", "data": ...}` or `{"status": "error", "error": "..."}`.
Bodies are validated with pydantic; the installation changes go through
`tau.fixtures.edits`, the layer the CLI and the web page call too, so a refusal reads
the same whichever way the change came.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Literal, Protocol

import asyncpg
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from tau.core.commands import describe_problems, load_json
from tau.core.extension import Extension, ExtensionRequest, RequestBody
from tau.core.scenes import capture
from tau.core.state import StateStore
from tau.dmx.render import Renderer
from tau.errors import InvalidCommandError, RefusedError, UnknownTargetError
from tau.fixtures import edit_checks, edits

Slug = Field(description="1-63 characters of a-z, 0-9, - and _")
Name = Field(description="1-200 characters, shown by Home Assistant")
# The edits layer's own checks, so that a request is refused in the CLI's words.
_CHECKS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(
        ("slug", "new_slug", "group", "fixture", "child_group"), edit_checks.valid_slug
    ),
    "name": edit_checks.valid_name,
    "universe": edit_checks.valid_universe,
    "start_channel": edit_checks.valid_address,
    "count": edit_checks.valid_count,
}


class CheckedBody(RequestBody):
    """A request body whose fields named in `CHECKS` run the edit layer's check of that
    name (`None` passes: "not given"), so a request is refused in the CLI's words."""

    CHECKS: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    @field_validator("*")
    @classmethod
    def _check(cls, value: Any, info: ValidationInfo) -> Any:
        check = cls.CHECKS.get(info.field_name or "")
        if value is None or check is None:
            return value
        try:
            return check(value)
        except RefusedError as exc:
            raise ValueError(str(exc)) from None


class _Body(CheckedBody):
    CHECKS = _CHECKS


class FixtureAdd(_Body):
    name: str = Name
    slug: str = Slug
    model: int | str = Field(description="fixture model id or 'Manufacturer Model'")
    universe: int = 1
    start_channel: int
    # as `tau fixture add`: an imported model's mode, one fixture per head, a row of them
    mode: str | None = Field(None, min_length=1, max_length=200)
    heads: Literal["together", "each"] = "together"
    count: int = 1
    # as `tau fixture add --library`: a name both libraries hold, from this one
    library: Literal["qlcplus", "ofl"] | None = None


class ByRef(_Body):
    slug: str = Slug


class Rename(_Body):
    slug: str = Slug
    new_slug: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Rename:
        if self.new_slug is None and self.name is None:
            raise ValueError("give new_slug and/or name")
        return self


class FixtureUpdate(_Body):
    slug: str = Slug
    name: str | None = None
    model: int | str | None = None
    universe: int | None = None
    start_channel: int | None = None


class FixtureModelUpdate(_Body):
    model: int | str = Field(description="fixture model id or name, as fixture/add takes it")
    mode: str | None = Field(None, min_length=1, max_length=200)
    library: Literal["qlcplus", "ofl"] | None = None
    # a tunable white that keeps its brightness along its kelvin range
    constant_output: bool


class GroupAdd(_Body):
    name: str = Name
    slug: str = Slug
    circadian_profile: str | None = None
    room: bool = False  # a room: Home Assistant's suggested area for what it holds


class GroupUpdate(_Body):
    slug: str = Slug
    name: str | None = None
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
    fixture: str | None = None
    child_group: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Members:
        if (self.fixture is None) == (self.child_group is None):
            raise ValueError("give exactly one of fixture or child_group")
        return self


class SceneStore(_Body):
    group: str = Slug
    slug: str = Slug
    name: str | None = None


class Empty(_Body):
    pass


class Universe(_Body):
    universe: int
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


async def _fixture_add(host: BridgeHost, body: FixtureAdd) -> Any:
    """One fixture: its row; with a mode, heads or a count: every fixture it patched."""
    async with edit_checks.connection(host.pool) as conn:
        model = await edit_checks.model(conn, body.model, body.mode, body.library)
        rows = await edits.add_fixtures(
            conn,
            body.name,
            body.slug,
            model,
            body.universe,
            body.start_channel,
            heads=body.heads,
            count=body.count,
        )
    if body.mode is not None or body.heads != "together" or body.count != 1:
        return {"id": rows[0]["id"], "fixtures": rows}
    return rows[0]


async def _fixture_remove(host: BridgeHost, body: ByRef) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.remove_fixture(conn, body.slug)


async def _fixture_rename(host: BridgeHost, body: Rename) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.update_fixture(conn, body.slug, name=body.name, new_slug=body.new_slug)


async def _fixture_update(host: BridgeHost, body: FixtureUpdate) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        model = None if body.model is None else await edit_checks.model(conn, body.model)
        return await edits.update_fixture(
            conn,
            body.slug,
            name=body.name,
            universe=body.universe,
            address=body.start_channel,
            model_id=None if model is None else model.id,
        )


async def _fixture_model_update(host: BridgeHost, body: FixtureModelUpdate) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.update_model(
            conn, body.model, body.mode, body.library, constant_output=body.constant_output
        )


async def _group_add(host: BridgeHost, body: GroupAdd) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.add_group(
            conn, body.name, body.slug, body.circadian_profile, room=body.room
        )


async def _group_update(host: BridgeHost, body: GroupUpdate) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.update_group(
            conn,
            body.slug,
            name=body.name,
            room=body.room,
            profile=body.circadian_profile,
            set_profile="circadian_profile" in body.model_fields_set,
        )


async def _group_remove(host: BridgeHost, body: ByRef) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.remove_group(conn, body.slug)


async def _group_rename(host: BridgeHost, body: Rename) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.rename_group(conn, body.slug, name=body.name, new_slug=body.new_slug)


def _member(body: Members) -> dict[str, Any]:
    if body.fixture is not None:
        return {"group": body.group, "fixture": body.fixture}
    return {"group": body.group, "child_group": body.child_group}


async def _members_add(host: BridgeHost, body: Members) -> Any:
    fixtures, groups = (
        [body.fixture] if body.fixture else [],
        [body.child_group] if body.child_group else [],
    )
    async with edit_checks.connection(host.pool) as conn:
        added = await edits.add_members(conn, body.group, fixtures, groups)
    return _member(body) | {"changed": added > 0}


async def _members_remove(host: BridgeHost, body: Members) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        await edits.remove_member(conn, body.group, fixture=body.fixture, child=body.child_group)
    return _member(body) | {"changed": True}


async def _scene_store(host: BridgeHost, body: SceneStore) -> Any:
    inst = host.store.installation
    gid = inst.group_by_slug.get(body.group)
    if gid is None:
        raise UnknownTargetError(f"unknown group {body.group!r}")
    values = capture({fid: host.store.fixture(fid) for fid in inst.groups[gid].fixture_ids})
    async with edit_checks.connection(host.pool) as conn:
        return await edits.store_scene(conn, body.slug, body.name or body.slug, gid, values)


async def _scene_remove(host: BridgeHost, body: ByRef) -> Any:
    async with edit_checks.connection(host.pool) as conn:
        return await edits.remove_scene(conn, body.slug)


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
    "fixture_model/update": (FixtureModelUpdate, _fixture_model_update),
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
    transaction = _transaction(data)
    try:
        return model.model_validate(data), transaction
    except ValidationError as exc:
        problems = describe_problems(exc, "body")
        raise InvalidCommandError(f"invalid {name} request: {problems}") from None


def _transaction(data: dict[str, Any]) -> str | int | None:
    transaction = data.get("transaction")
    if not isinstance(transaction, str | int) or isinstance(transaction, bool):
        return None
    return transaction


def transaction_of(payload: bytes) -> str | int | None:
    """A request's transaction id, without validating the rest (a request answered
    "busy" costs no more than this); None when there is none or the body is not JSON."""
    try:
        data = load_json(payload) if payload.strip() else None
    except InvalidCommandError:
        return None
    return _transaction(data) if isinstance(data, dict) else None


# Requests that change the installation: the reply goes out after the reload that
# LISTEN/NOTIFY triggers, so the requester can use what it just created (and HA has its
# discovery) at once.
CHANGES_INSTALLATION = frozenset(
    name
    for name in HANDLERS
    if name.split("/")[0] in ("fixture", "fixture_model", "group", "scene")
)


async def handle_request(name: str, body: Any, requests: Mapping[str, ExtensionRequest]) -> Any:
    """Run a validated request's handler (a plain function or a coroutine function)."""
    result = requests[name][1](body)
    return await result if inspect.isawaitable(result) else result


class BridgeRequests(Extension):
    """The built-in requests (create, rename and remove fixtures, groups and scenes, set
    a fixture model's constant output, reload, read a universe's frame) as an extension
    of the running bridge."""

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
