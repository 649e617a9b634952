"""The effects extension: the `effect` bridge request.

An effect is started like any light command (`{"state": "ON", "effect": "candle"}` on
a fixture's or group's `/set`, as Home Assistant sends it); this request does the
same for scripts, and can make a group's members flicker in unison. The frames are
rendered by the render loop (`tau.dmx.effects`); the store keeps which effect runs.

    tau/bridge/request/effect  {"group": "living", "effect": "candle", "unison": true}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from tau.core.commands import LightCommand, parse_effect
from tau.core.extension import Context, Extension, ExtensionRequest, RequestBody
from tau.core.state import Target
from tau.errors import UnknownTargetError
from tau.settings import SLUG_PATTERN


class EffectBody(RequestBody):
    fixture: str | None = Field(None, pattern=SLUG_PATTERN)
    group: str | None = Field(None, pattern=SLUG_PATTERN)
    effect: str = Field(description="an effect name, or none to stop")
    unison: bool = Field(False, description="a group's members flicker together")

    @model_validator(mode="after")
    def _one_target(self) -> EffectBody:
        if (self.fixture is None) == (self.group is None):
            raise ValueError("give exactly one of fixture or group")
        if self.unison and self.group is None:
            raise ValueError("unison needs a group")
        return self


class EffectsExtension(Extension):
    name = "effects"

    def __init__(self, ctx: Context) -> None:
        self._store = ctx.store
        self._decide = ctx.decide

    def requests(self) -> Mapping[str, ExtensionRequest]:
        return {"effect": (EffectBody, self._effect)}

    def _effect(self, body: EffectBody) -> Any:
        inst = self._store.installation
        target: Target
        if body.group is not None:
            gid = inst.group_by_slug.get(body.group)
            if gid is None:
                raise UnknownTargetError(f"unknown group {body.group!r}")
            target = ("group", gid)
        else:
            fid = inst.fixture_by_slug.get(body.fixture or "")
            if fid is None:
                raise UnknownTargetError(f"unknown fixture {body.fixture!r}")
            target = ("fixture", fid)
        effect = parse_effect(body.effect)
        seed = target[1] if body.unison and effect != "none" else None
        # `none` stops the effect and leaves the lights on, steady.
        self._decide.command(target, LightCommand(effect=effect, effect_seed=seed), "command")
        members = self._store.resolve(target)
        running = sorted(
            inst.fixtures[f].slug for f in members if self._store.fixture(f).effect is not None
        )
        return {"effect": effect, "fixtures": running}
