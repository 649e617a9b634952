"""The leader's decisions, applied by every bridge in the broker's order
(`<base>/bridge/nodes/sync`).

Light commands, scene recalls and the Circadian switch reach every bridge from the
broker, and each applies them itself, so each renders its universes in the same
frame. What only the leader decides (a wall switch's press classified into an
action, a circadian tick, a suspension timing out) must change every bridge's state
too, and in the same order relative to those commands on all of them; otherwise a
command that overtakes the leader's change on one bridge would be undone there. So
while other bridges are up, the leader does not apply its decisions itself: it
publishes each as an operation on the sync topic, and every bridge, the leader
included, applies it when the broker delivers it. A bridge alone applies at once.

Each operation carries when the leader decided it (`at`, its wall clock): one older
than `TAU_MQTT__COMMAND_MAX_AGE_S` when it arrives (queued while a bridge was away)
is not applied: a switch press or a circadian tick from a minute ago is no command.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau.core.commands import LightCommand
from tau.core.state import StateStore, Target
from tau.errors import InvalidCommandError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WireCommand(_Strict):
    state: Literal["ON", "OFF", "TOGGLE"] | None = None
    brightness: int | None = Field(None, ge=0, le=255)
    brightness_step: int | None = Field(None, ge=-255, le=255)
    brightness_move: int | None = None
    kelvin: int | None = Field(None, gt=0)
    mired_step: int | None = None
    color: tuple[int, int, int] | None = None
    transition_s: float | None = Field(None, ge=0)
    effect: str | None = None
    effect_seed: int | None = None

    def command(self) -> LightCommand:
        return LightCommand(**self.model_dump())


class _Op(_Strict):
    node: str
    at: float  # when the leader decided it (its wall clock, seconds since the epoch)


class CommandOp(_Op):
    op: Literal["command"]
    target: tuple[Literal["fixture", "group"], int]
    command: WireCommand
    reason: str


class ApplyManyOp(_Op):
    op: Literal["apply_many"]
    items: list[tuple[int, WireCommand]]
    reason: str
    transition_s: float | None = Field(None, ge=0)


class CircadianOp(_Op):
    op: Literal["circadian"]
    items: list[tuple[int, int, int]]
    transition_s: float = Field(ge=0)


class ExpireOp(_Op):
    op: Literal["expire"]
    timeout_s: float | None = Field(None, gt=0)


class SyncMessage(BaseModel):
    operation: Annotated[
        CommandOp | ApplyManyOp | CircadianOp | ExpireOp, Field(discriminator="op")
    ]


class DatabaseReport(_Strict):
    """`<base>/bridge/nodes/database`: a bridge's connection to PostgreSQL, lost or back."""

    node: str
    lost: bool
    at: float  # the sender's wall clock (seconds since the epoch)


def database_report(node: str, lost: bool) -> str:
    return json.dumps({"node": node, "lost": lost, "at": time.time()})


def decode_report(payload: bytes) -> DatabaseReport:
    try:
        return DatabaseReport.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidCommandError(
            f"not a bridge database report ({where}: {first['msg']})"
        ) from None


def _wire(command: LightCommand) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(command).items() if v is not None}


def decode(payload: bytes) -> CommandOp | ApplyManyOp | CircadianOp | ExpireOp:
    try:
        data = json.loads(payload)
        return SyncMessage.model_validate({"operation": data}).operation
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"][1:])
            detail = f"{where}: {first['msg']}"
        else:
            detail = "not JSON"
        raise InvalidCommandError(f"not a bridge sync message ({detail})") from None


Operation = CommandOp | ApplyManyOp | CircadianOp | ExpireOp


def age_s(op: Operation, now: float | None = None) -> float:
    """How long ago the leader decided `op` (by this bridge's clock)."""
    return (time.time() if now is None else now) - op.at


def apply(store: StateStore, op: Operation) -> None:
    match op:
        case CommandOp():
            store.command(op.target, op.command.command(), reason=op.reason)
        case ApplyManyOp():
            items = [(fid, cmd.command()) for fid, cmd in op.items]
            store.apply_many(items, op.reason, op.transition_s)
        case CircadianOp():
            store.apply_circadian(op.items, op.transition_s)
        case ExpireOp():
            store.expire_suspensions(op.timeout_s)


class SharedChanges:
    """The changes the leader's own decisions make (`Context.changes`): straight into
    the store while this bridge is alone, else through the sync topic (see above)."""

    def __init__(
        self,
        store: StateStore,
        node: str,
        publish: Callable[[str], object],
        shared: Callable[[], bool],
    ) -> None:
        self._store = store
        self._node = node
        self._publish = publish
        self._shared = shared

    def _send(self, op: dict[str, Any]) -> None:
        message = {**op, "node": self._node, "at": round(time.time(), 3)}
        self._publish(json.dumps(message, separators=(",", ":")))

    def command(self, target: Target, command: LightCommand, reason: str) -> None:
        if not self._shared():
            self._store.command(target, command, reason=reason)
            return
        self._store.resolve(target)  # an unknown target is refused here, not on arrival
        wire = {"target": list(target), "command": _wire(command), "reason": reason}
        self._send({"op": "command", **wire})

    def apply_many(
        self, items: Sequence[tuple[int, LightCommand]], reason: str, transition_s: float | None
    ) -> None:
        if not self._shared():
            self._store.apply_many(items, reason, transition_s)
            return
        wire = [[fid, _wire(cmd)] for fid, cmd in items]
        self._send(
            {"op": "apply_many", "items": wire, "reason": reason, "transition_s": transition_s}
        )

    def apply_circadian(self, items: Iterable[tuple[int, int, int]], transition_s: float) -> None:
        if not self._shared():
            self._store.apply_circadian(items, transition_s)
            return
        self._send(
            {"op": "circadian", "items": [list(i) for i in items], "transition_s": transition_s}
        )

    def expire_suspensions(self, timeout_s: float | None) -> None:
        if not self._shared():
            self._store.expire_suspensions(timeout_s)
            return
        self._send({"op": "expire", "timeout_s": timeout_s})
