"""The one interface of a feature: an extension (after Zigbee2MQTT's extensions).

An extension owns MQTT topics under the base topic (and, for wall switches,
external topics), handles the messages on them, reacts to events on the bus,
may answer bridge requests and contribute Home Assistant device triggers, and
is started and stopped with the bridge. It receives everything at construction
(`Context` plus whatever it alone needs) and never calls another extension: it
asks the state store for changes, or publishes through `Context.publish`.

Adding a feature is one file with an `Extension` subclass and one line in
`tau.extensions.build_extensions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from tau.core.bus import Bus
from tau.core.commands import LightCommand
from tau.core.model import Installation
from tau.core.state import StateStore, Target
from tau.core.topics import Topics
from tau.settings import Settings

# (action, Home Assistant trigger type, subtype) of one switch action
TriggerTypes = list[tuple[str, str, str]]
EventHandler = tuple[type, Callable[[Any], None]]
# The kind of a message on an extension's external topic (`Extension.external_topics`).
EXTERNAL = "input_topic"


class RequestBody(BaseModel):
    """A bridge request's JSON body: unknown keys and loose types are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)
    transaction: str | int | None = None


# A bridge request an extension answers: its body model, and the handler that turns
# a validated body into the reply's `data` (raise a `TauError` to answer an error).
ExtensionRequest = tuple[type[RequestBody], Callable[[Any], Any]]


class Changes(Protocol):
    """How a decision only the leader makes (a timer, a classified press) changes state.

    A bridge alone applies it to the store at once; with other bridges up, every bridge
    applies it in the broker's order (`tau.api.sync`)."""

    def command(self, target: Target, command: LightCommand, reason: str) -> object: ...
    def apply_many(
        self, items: Sequence[tuple[int, LightCommand]], reason: str, transition_s: float | None
    ) -> object: ...
    def apply_circadian(
        self, items: Iterable[tuple[int, int, int]], transition_s: float
    ) -> object: ...
    def expire_suspensions(self, timeout_s: float | None) -> object: ...


@dataclass(slots=True, frozen=True)
class Context:
    """What every extension may use."""

    settings: Settings
    store: StateStore
    bus: Bus
    # (topic under the base topic, payload): sent at once, not retained
    publish: Callable[[str, str], None]
    # Whether this bridge does the work done once (several bridges share an
    # installation; a bridge alone always leads): timers check it before acting.
    leads: Callable[[], bool] = lambda: True
    # Where the leader's own decisions go (default: the store itself).
    changes: Changes | None = field(default=None)
    # A part of the extension whose work runs outside `run()` (a scheduler's job)
    # failed unexpectedly: (part, exception) to the supervisor, which logs, shows and
    # counts it; the part's next run is its restart.
    failed: Callable[[str, BaseException], None] = lambda _part, _exc: None

    @property
    def decide(self) -> Changes:
        return self.changes if self.changes is not None else self.store

    @property
    def topics(self) -> Topics:
        """The topic layout (as the bridge derives it from the same settings)."""
        return Topics.of(self.settings)


class Extension:
    """Override what the feature needs; the defaults do nothing."""

    name: ClassVar[str] = "extension"
    # Topic patterns under the base topic ("scene/+/set": `+` is the object's slug)
    # -> the kind of message (the label in logs and metrics).
    topics: ClassVar[Mapping[str, str]] = {}
    # Message kinds every bridge handles itself when several share an installation (a
    # change that follows from the message alone, like a scene recall); the others go
    # to the leader only, whose decisions reach the store through `Context.decide`.
    everywhere: ClassVar[frozenset[str]] = frozenset()

    def on_message(self, kind: str, name: str, payload: bytes) -> None:
        """A message on one of `topics` (`name` = the `+` level) or on an external topic
        (`name` = the topic). Raise a `TauError` for bad input: the controller reports
        it on the log topic and nothing changes."""
        raise NotImplementedError(f"{self.name} owns no topics")

    def external_topics(self) -> frozenset[str]:
        """Absolute topics outside the base topic this extension listens on."""
        return frozenset()

    def events(self) -> Iterable[EventHandler]:
        """(event type, handler) pairs to subscribe on the bus, under this extension's name."""
        return ()

    def requests(self) -> Mapping[str, ExtensionRequest]:
        """Bridge requests (`<base>/bridge/request/<name>`) this extension answers."""
        return {}

    def device_triggers(self, installation: Installation) -> Mapping[int, TriggerTypes]:
        """Switch id -> the device triggers Home Assistant should discover for it."""
        return {}

    async def connected(self) -> None:
        """Awaited on every connection to the broker, after `MqttConnected` went round the
        bus and before the bridge says `online`: for what must be out by then."""

    async def start(self) -> None:
        return None

    async def run(self) -> None:
        """The extension's long-running work, if any: started after `start()` as a part of
        the bridge's supervisor (named after the extension), restarted if it raises, and
        cancelled before `stop()`. Return at once when there is none."""
        return

    async def stop(self) -> None:
        return None
