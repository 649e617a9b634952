"""The scenes extension: `scene/<slug>/set` recalls a scene in one frame.

`ON` recalls with the default transition; `{"state": "ON", "transition": s}`
(`SceneRecall`) with its own. Storing a scene is a bridge request (`scene/store`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tau.core.commands import decode_text, describe_problems, load_json
from tau.core.extension import Context, Extension
from tau.core.scenes import recall_targets
from tau.errors import InvalidCommandError, UnknownTargetError


class ScenesExtension(Extension):
    name = "scenes"
    topics = {"scene/+/set": "scene_set"}

    everywhere = frozenset({"scene_set"})  # a recall follows from the scene alone

    def __init__(self, ctx: Context) -> None:
        self._store = ctx.store

    def on_message(self, kind: str, name: str, payload: bytes) -> None:
        sid = self._store.installation.scene_by_slug.get(name)
        if sid is None:
            raise UnknownTargetError(f"unknown scene {name!r}")
        text = decode_text(payload).strip()
        transition: float | None = None
        if text.startswith("{"):
            transition = _scene_transition(load_json(payload))
        elif text.upper() != "ON":
            raise InvalidCommandError(f"scene payload must be ON, got {text[:20]!r}")
        self._store.apply_many(
            recall_targets(self._store.installation.scenes[sid]), "scene", transition
        )


class SceneRecall(BaseModel):
    """The JSON form of a recall: `{"state": "ON", "transition": seconds}`, both optional."""

    model_config = ConfigDict(extra="forbid", strict=True)

    state: str = "ON"
    transition: float | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _on(cls, value: Any) -> str:
        if value != "ON":
            raise ValueError(f"a scene can only be recalled (state ON), got {value!r:.20}")
        return "ON"

    @field_validator("transition", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number of seconds, got {value!r:.20}")
        if not 0 <= value <= 3600:
            raise ValueError(f"must be within 0..3600 seconds, got {value!r:.20}")
        return float(value)


_FORMS = 'send ON or {"state": "ON", "transition": s}'


def _scene_transition(data: Any) -> float | None:
    try:
        return SceneRecall.model_validate(data).transition
    except ValidationError as exc:
        problems = describe_problems(exc)
        raise InvalidCommandError(f"invalid scene payload: {problems}; {_FORMS}") from None
