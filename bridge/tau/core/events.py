"""The events on the bus (`tau.core.bus`): what happened, as plain frozen data.

- `ChangeBatch`: the state store, for every change (reason `command`, `circadian`,
  `scene`, `switch`, `restore`, `reload`, `circadian_switch`,
  `circadian_timeout`). Subscribers: renderer, MQTT state publisher,
  persistence writer.
- `InstallationReloaded`: the controller, after the model was (re)read.
  Subscribers: extensions (circadian, switches).
- `MqttConnected`: the controller, each time the broker session is
  (re)established and subscribed.
- `HomeAssistantOnline`: the controller, on `<discovery_prefix>/status` =
  `online`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tau.core.model import Installation
from tau.dmx.types import LightTarget


@dataclass(slots=True, frozen=True)
class ChangeBatch:
    """One change of state, applied in one frame."""

    reason: str  # command | circadian | scene | switch | restore | reload | circadian_switch
    fixture_ids: frozenset[int]  # fixtures whose state changed or were targeted
    group_ids: frozenset[int]  # groups whose derived light or flags may have changed
    targets: tuple[LightTarget, ...]  # for the renderer; one frame
    commanded_groups: frozenset[int] = frozenset()  # groups a command addressed directly


@dataclass(slots=True, frozen=True)
class InstallationReloaded:
    """The installation model in force now; `previous` is what it replaced."""

    installation: Installation
    previous: Installation
    first: bool  # the load at start (before the first frame), not a live reload


@dataclass(slots=True, frozen=True)
class MqttConnected:
    """The broker session is up and subscribed."""


@dataclass(slots=True, frozen=True)
class HomeAssistantOnline:
    """Home Assistant announced itself (`<discovery_prefix>/status` = `online`)."""
