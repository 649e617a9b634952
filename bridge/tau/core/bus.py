"""One typed event bus: the state store and the controller publish, every part subscribes.

Events are plain frozen dataclasses (see `tau.core.events`); a subscriber names
the event type it wants. Dispatch is a plain synchronous loop over that type's
subscribers in subscription order (the change batch of every MQTT command goes
through here on its way to the DMX frame, so no awaits, no copies). Each
subscriber is isolated: its exception is logged with its name and the others
still run.

Example::

    bus = Bus()
    bus.subscribe(ChangeBatch, "renderer", lambda batch: renderer.apply(batch.targets))
    bus.publish(batch)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")


class Bus:
    def __init__(self) -> None:
        self._subscribers: dict[type, list[tuple[str, Callable[[Any], None]]]] = {}

    def subscribe(self, event_type: type[E], name: str, handler: Callable[[E], None]) -> None:
        """Call `handler` with every published event of exactly `event_type`."""
        self._subscribers.setdefault(event_type, []).append((name, handler))

    def subscribers(self, event_type: type) -> list[str]:
        """The names subscribed to `event_type`, in dispatch order."""
        return [name for name, _ in self._subscribers.get(event_type, ())]

    def publish(self, event: object) -> None:
        for name, handler in self._subscribers.get(type(event), ()):
            try:
                handler(event)
            except Exception:
                log.exception(
                    "event=subscriber_failed subscriber=%s event_type=%s",
                    name,
                    type(event).__name__,
                )
