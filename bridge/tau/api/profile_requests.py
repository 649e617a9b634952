"""Circadian profile requests: `circadian/profile/list|add|update|remove`.

Bridge requests as in `tau.api.requests` (a JSON body, an optional `transaction`
echoed, `{"status": "ok", "data": ...}` or `{"status": "error", "error": ...}`); the
changes go through the edit layer (`tau.fixtures.profile_edits`), as `tau circadian`
and the web page's do, so a refusal reads the same whichever way it came. The reply to a
change goes out once the bridge has reloaded: the next circadian tick or turn-on
already follows the new settings.

    tau/bridge/request/circadian/profile/update
        {"name": "Day", "take_over": "all", "resume_after_s": 3600, "transaction": 7}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import model_validator

from tau.api.requests import BridgeHost, CheckedBody
from tau.core.extension import Extension, ExtensionRequest, RequestBody
from tau.fixtures import edit_checks, profile_edits

# The edit layer's checks, so that a request is refused in the CLI's words.
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": edit_checks.valid_name,
    "new_name": edit_checks.valid_name,
    **profile_edits.SETTINGS,
}


class _Body(CheckedBody):
    CHECKS = _CHECKS


class ProfileAdd(_Body):
    name: str
    keyframes: Any  # checked by the database, in its words
    # left out: the schema's defaults (`changed`, no timeout, 1 %, the warmest white)
    take_over: str | None = None
    resume_after_s: float | None = None
    sleep_brightness_pct: float | None = None
    sleep_kelvin: int | None = None


class ProfileUpdate(_Body):
    name: str  # the profile to change
    new_name: str | None = None
    keyframes: Any = None
    take_over: str | None = None
    resume_after_s: float | None = None  # null: no timeout
    sleep_brightness_pct: float | None = None
    sleep_kelvin: int | None = None  # null: each fixture's warmest white

    @model_validator(mode="after")
    def _something(self) -> ProfileUpdate:
        if not self.model_fields_set - {"name", "transaction"}:
            settings = ", ".join(profile_edits.SETTINGS)
            raise ValueError(f"give new_name, keyframes and/or {settings}")
        return self

    def changes(self) -> dict[str, Any]:
        """What was given (a null included: the edit layer clears or refuses it)."""
        given = self.model_fields_set - {"name", "transaction"}
        return {"name" if f == "new_name" else f: getattr(self, f) for f in sorted(given)}


class ProfileRef(_Body):
    name: str


class ProfileList(RequestBody):
    pass


class ProfileRequests(Extension):
    """The circadian profile requests, as an extension of the running bridge."""

    name = "circadian-profiles"

    def __init__(self, host: BridgeHost) -> None:
        self._host = host

    def requests(self) -> Mapping[str, ExtensionRequest]:
        return {
            "circadian/profile/list": (ProfileList, self._list),
            "circadian/profile/add": (ProfileAdd, self._add),
            "circadian/profile/update": (ProfileUpdate, self._update),
            "circadian/profile/remove": (ProfileRef, self._remove),
        }

    async def _list(self, _body: ProfileList) -> Any:
        async with edit_checks.connection(self._host.pool) as conn:
            return await profile_edits.profiles(conn)

    async def _add(self, body: ProfileAdd) -> Any:
        given = body.model_fields_set & set(profile_edits.SETTINGS)
        settings = {f: getattr(body, f) for f in sorted(given)}
        return await self._change(
            lambda conn: profile_edits.add_profile(conn, body.name, body.keyframes, settings)
        )

    async def _update(self, body: ProfileUpdate) -> Any:
        return await self._change(
            lambda conn: profile_edits.update_profile(conn, body.name, body.changes())
        )

    async def _remove(self, body: ProfileRef) -> Any:
        return await self._change(lambda conn: profile_edits.remove_profile(conn, body.name))

    async def _change(self, edit: Callable[[Any], Awaitable[dict[str, Any]]]) -> Any:
        async with edit_checks.connection(self._host.pool) as conn:
            row = await edit(conn)
        await self._host.changed_installation()  # applied before the reply goes out
        return row
