"""Pure light-state arithmetic: what one command does to one fixture, and group derivation.

No I/O and no store here: `state.py` owns the state and calls these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tau.colours import COLOUR_KEYS, colour_mode_of
from tau.core.commands import LightCommand
from tau.core.model import FixtureModel
from tau.dmx.colour import convert_colour
from tau.dmx.effects import STOP, needs_rgb
from tau.units import MAX_KELVIN, default_kelvin, kelvin_of_mired, mired


@dataclass(slots=True)
class FixtureState:
    """A fixture's state; `brightness` is kept while off so ON returns to it."""

    is_on: bool = False
    brightness: int = 255
    kelvin: int | None = None
    color: tuple[int, ...] | None = None  # in the colour mode's own format (`COLOUR_KEYS`)
    color_mode: str = "brightness"
    circadian_suspended: bool = False
    suspended_at: float | None = None  # wall-clock seconds
    source: str = "default"
    effect: str | None = None  # a running effect (`tau.dmx.effects`); None: steady
    effect_seed: int | None = None  # None: the fixture id
    # Circadian take-over: `circadian_suspended` is brightness taken over by hand (the
    # column's historic name), `colour_suspended` colour; `suspended_at` the first of them.
    colour_suspended: bool = False

    def copy(self) -> FixtureState:
        # Field by field: dataclasses.replace() costs ~5x more, and a group command
        # copies every member's state.
        return FixtureState(
            self.is_on,
            self.brightness,
            self.kelvin,
            self.color,
            self.color_mode,
            self.circadian_suspended,
            self.suspended_at,
            self.source,
            self.effect,
            self.effect_seed,
            self.colour_suspended,
        )

    def same_light(self, other: FixtureState) -> bool:
        return (
            self.is_on == other.is_on
            and self.brightness == other.brightness
            and self.kelvin == other.kelvin
            and self.color == other.color
            and self.color_mode == other.color_mode
            and self.effect == other.effect
            and self.effect_seed == other.effect_seed
        )


@dataclass(slots=True)
class GroupState:
    """Per-group flags; the light state of a group is derived from its members."""

    circadian_enabled: bool = True
    circadian_suspended: bool = False
    suspended_at: float | None = None
    sleep: bool = False  # sleep mode: lights turn on at the profile's sleep level


@dataclass(slots=True, frozen=True)
class GroupLight:
    is_on: bool
    brightness: int
    kelvin: int | None
    color: tuple[int, ...] | None
    color_mode: str
    effect: str | None = None


def initial_state(model: FixtureModel) -> FixtureState:
    """A never-seen fixture: off, full level remembered, mid-range white if tunable."""
    modes = model.color_modes
    if "color_temp" in modes:
        kelvin = round(default_kelvin(model.min_kelvin, model.max_kelvin))
        return FixtureState(kelvin=kelvin, color_mode="color_temp")
    return FixtureState(color_mode=modes[0])


def clamp_kelvin(model: FixtureModel, kelvin: float) -> int:
    return round(min(max(kelvin, model.min_kelvin), model.max_kelvin))


def apply_command(
    current: FixtureState, model: FixtureModel, command: LightCommand, want_on: bool | None
) -> FixtureState:
    """The state a fixture reaches under `command` (brightness_move excluded).

    `want_on` is the resolved `state` (TOGGLE already turned into ON/OFF by the
    caller, which knows whether the fixture or its whole group is on).
    """
    new = current.copy()
    if want_on is not None:
        new.is_on = want_on
    if command.brightness is not None:
        if command.brightness == 0:
            new.is_on = False
        else:
            new.brightness = command.brightness
            new.is_on = want_on is not False
    if command.brightness_step is not None:
        base = current.brightness if current.is_on else 0
        level = min(max(base + command.brightness_step, 0), 255)
        if level == 0:
            new.is_on = False
        else:
            new.brightness = level
            new.is_on = want_on is not False
    if new.is_on and new.brightness <= 0:
        new.brightness = 255  # never "on" at level 0 (e.g. a state row written as 0)
    _apply_colour(new, model, command)
    _apply_effect(new, model, command, want_on)
    return new


def _apply_effect(
    new: FixtureState, model: FixtureModel, command: LightCommand, want_on: bool | None
) -> None:
    """Any command stops a running effect unless it names one; naming one turns the
    light on (unless the command says OFF). A colour effect on a fixture without rgb
    (a mixed group) leaves that fixture steady."""
    effect = command.effect
    if effect is None or effect in STOP or not supports_effect(model, effect):
        new.effect, new.effect_seed = None, None
        return
    new.effect, new.effect_seed = effect, command.effect_seed
    if want_on is None and command.brightness != 0:
        new.is_on = True
    if not new.is_on:
        new.effect, new.effect_seed = None, None


def supports_effect(model: FixtureModel, effect: str) -> bool:
    return not needs_rgb(effect) or model.colour_mode is not None


def fit_to_model(state: FixtureState, model: FixtureModel) -> FixtureState:
    """A stored state made valid for the (possibly changed) model: mode, kelvin range."""
    modes = model.color_modes
    fitted = state.copy()
    colour_mode = model.colour_mode
    if fitted.color is not None and colour_mode is not None:
        fitted.color = model_colour(fitted.color, model)
        if fitted.color_mode in COLOUR_KEYS:
            fitted.color_mode = colour_mode
    if fitted.color_mode not in modes or (
        fitted.color_mode in COLOUR_KEYS and fitted.color is None
    ):
        fitted.color_mode = "color_temp" if "color_temp" in modes else modes[0]
    if "color_temp" in modes:
        fitted.kelvin = clamp_kelvin(
            model, fitted.kelvin or default_kelvin(model.min_kelvin, model.max_kelvin)
        )
    if fitted.effect is not None and not supports_effect(model, fitted.effect):
        fitted.effect = fitted.effect_seed = None
    return state if fitted == state else fitted


def _apply_colour(new: FixtureState, model: FixtureModel, command: LightCommand) -> None:
    modes = model.color_modes
    if "color_temp" in modes:
        if command.kelvin is not None:
            new.kelvin = clamp_kelvin(model, command.kelvin)
            new.color_mode = "color_temp"
        elif command.mired_step is not None:
            kelvin = new.kelvin or default_kelvin(model.min_kelvin, model.max_kelvin)
            stepped = max(mired(kelvin) + command.mired_step, mired(MAX_KELVIN))
            new.kelvin = clamp_kelvin(model, kelvin_of_mired(stepped))
            new.color_mode = "color_temp"
    colour_mode = model.colour_mode
    if command.color is not None and colour_mode is not None:
        new.color = model_colour(command.color, model)
        new.color_mode = colour_mode


def model_colour(color: tuple[int, ...], model: FixtureModel) -> tuple[int, ...]:
    """A colour (rgb, rgbw or rgbww) in the model's own colour mode: an rgb colour on
    white LEDs gives them its white part, white LEDs the model lacks become rgb light."""
    mode = model.colour_mode
    if mode is None or colour_mode_of(color) == mode:
        return color
    fmt = convert_colour(tuple(float(c) for c in color), mode, model.min_kelvin, model.max_kelvin)
    return tuple(round(c) for c in fmt)


def supports_command(model: FixtureModel, command: LightCommand) -> bool:
    """Whether the model can honour the colour part of a command."""
    modes = model.color_modes
    if command.color is not None and model.colour_mode is None:
        return False
    colour_temp = command.kelvin is not None or command.mired_step is not None
    return not (colour_temp and "color_temp" not in modes)


def group_color_modes(models: Iterable[FixtureModel]) -> list[str]:
    """Union of the members' modes; `brightness` only when nothing richer is present
    (Home Assistant rejects `brightness` next to other modes)."""
    modes: set[str] = set()
    for model in models:
        modes.update(model.color_modes)
    if len(modes) > 1:
        modes.discard("brightness")
    order = ["brightness", "color_temp", *COLOUR_KEYS]
    return [m for m in order if m in modes] or ["brightness"]


def group_kelvin_range(models: Iterable[FixtureModel]) -> tuple[int, int] | None:
    """Intersection of the tunable members' ranges, so every member can honour it.

    If the ranges do not overlap at all, the union is used instead: every
    requested value is then clamped per member rather than refused.
    """
    ranges = [(m.min_kelvin, m.max_kelvin) for m in models if "color_temp" in m.color_modes]
    if not ranges:
        return None
    low = max(r[0] for r in ranges)
    high = min(r[1] for r in ranges)
    if low < high:
        return low, high
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def derive_group(members: Sequence[FixtureState], modes: Sequence[str]) -> GroupLight:
    """ON if any member is on; max brightness and mean kelvin of the members that are on."""
    on = [m for m in members if m.is_on]
    pool = on or list(members)
    brightness = max((m.brightness for m in pool), default=0)
    kelvins = [m.kelvin for m in pool if m.kelvin is not None and m.color_mode == "color_temp"]
    if not kelvins:
        kelvins = [m.kelvin for m in pool if m.kelvin is not None]
    kelvin = round(sum(kelvins) / len(kelvins)) if kelvins else None
    colors = [m.color for m in pool if m.color is not None and m.color_mode in COLOUR_KEYS]
    color = Counter(colors).most_common(1)[0][0] if colors else None
    mode = _group_mode(pool, modes, kelvin, color)
    effects = {m.effect for m in on}
    effect = effects.pop() if len(effects) == 1 else None  # shown only when all agree
    return GroupLight(bool(on), brightness, kelvin, color, mode, effect)


def _group_mode(
    pool: Sequence[FixtureState],
    modes: Sequence[str],
    kelvin: int | None,
    color: tuple[int, ...] | None,
) -> str:
    counts = Counter(m.color_mode for m in pool)
    for mode, _ in counts.most_common():
        if mode in COLOUR_KEYS:
            # the group's colour is its members' most common one, in its own mode
            if color is not None and colour_mode_of(color) in modes:
                return colour_mode_of(color)
            continue
        if mode in modes and (mode != "color_temp" or kelvin):
            return mode
    return modes[0]
