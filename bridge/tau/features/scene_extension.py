"""The scenes extension: `scene/<slug>/set` recalls a scene in one frame.

`ON` recalls with the default transition; `{"state": "ON", "transition": s}`
with its own. Storing a scene is a bridge request (`scene/store`).
"""

from __future__ import annotations

from typing import Any

from tau.core.commands import decode_text, load_json
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


def _scene_transition(data: Any) -> float | None:
    if not isinstance(data, dict) or set(data) - {"state", "transition"}:
        raise InvalidCommandError('scene payload must be ON or {"state": "ON", "transition": s}')
    if data.get("state", "ON") != "ON":
        raise InvalidCommandError("a scene can only be recalled (state ON)")
    transition = data.get("transition")
    if transition is None:
        return None
    if isinstance(transition, bool) or not isinstance(transition, int | float):
        raise InvalidCommandError("transition must be a number of seconds")
    if not 0 <= transition <= 3600:
        raise InvalidCommandError("transition must be within 0..3600 seconds")
    return float(transition)
