"""The files under config/: the example tau.toml documents every setting and is valid."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from tau.settings import DmxSettings, Settings

CONFIG = Path(__file__).resolve().parents[2] / "config"
EXAMPLE = CONFIG / "tau.example.toml"

HEADER = re.compile(r"^\[([a-z0-9_.]+)\]\s*$")
ASSIGNMENT = re.compile(r"^([a-z_]+)\s*=\s*(.+?)\s*(?:#.*)?$")


def _uncommented(line: str) -> str:
    """The line as it reads once its comment marker is removed (prose stays prose)."""
    return line[2:] if line.startswith("# ") else line


def _documented() -> dict[str, dict[str, str]]:
    """{table: {key: value text}} for active and commented-out lines alike."""
    tables: dict[str, dict[str, str]] = {"": {}}
    current = ""
    for line in map(_uncommented, EXAMPLE.read_text().splitlines()):
        if header := HEADER.match(line):
            current = header.group(1)
            tables.setdefault(current, {})
        elif assignment := ASSIGNMENT.match(line):
            tables[current][assignment.group(1)] = assignment.group(2)
    return tables


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, UnionType) or get_args(annotation):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    return []


def _leaves(model: type[BaseModel], table: str) -> list[tuple[str, str]]:
    out = []
    for name, field in model.model_fields.items():
        nested = _models(field.annotation)
        if name == "universes" and model is DmxSettings:
            continue  # checked per driver below
        if nested:
            out += _leaves(nested[0], f"{table}.{name}".strip("."))
        else:
            out.append((table, name))
    return out


def test_every_setting_is_documented() -> None:
    documented = _documented()
    missing = [
        f"[{table}] {key}"
        for table, key in _leaves(Settings, "")
        if key not in documented.get(table, {})
    ]
    assert not missing, f"add to config/tau.example.toml: {missing}"


def test_every_output_driver_has_an_example_with_all_its_options() -> None:
    documented = _documented()
    examples = {
        keys.get("driver", "").strip('"'): set(keys)
        for table, keys in documented.items()
        if table.startswith("dmx.universes.")
    }
    universe_type = DmxSettings.model_fields["universes"].annotation
    for output in _models(universe_type):
        driver = get_args(output.model_fields["driver"].annotation)[0]
        assert driver in examples, f"no [dmx.universes.N] example for driver {driver}"
        assert set(output.model_fields) <= examples[driver], driver


def test_active_settings_validate() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    Settings(**data)


def test_commented_values_are_valid_toml() -> None:
    for table, keys in _documented().items():
        for key, value in keys.items():
            try:
                tomllib.loads(f"{key} = {value}")
            except tomllib.TOMLDecodeError as exc:
                pytest.fail(f"[{table}] {key} = {value}: {exc}")


def test_uncommented_example_validates() -> None:
    """Uncommenting every example line gives a valid configuration."""
    lines = []
    for line in EXAMPLE.read_text().splitlines():
        bare = _uncommented(line)
        lines.append(bare if HEADER.match(bare) or ASSIGNMENT.match(bare) else line)
    text = "\n".join(lines)
    data = tomllib.loads(text)
    settings = Settings(**data)
    assert {o.driver for o in settings.dmx.universes.values()} == {
        "virtual",
        "enttec_pro",
        "open_dmx",
        "artnet",
        "sacn",
    }


def test_home_assistant_examples() -> None:
    dashboard = yaml.safe_load((CONFIG / "homeassistant" / "dashboard.yaml").read_text())
    assert dashboard["views"][0]["cards"]
    automations = yaml.safe_load((CONFIG / "homeassistant" / "automations.yaml").read_text())
    device_triggers = [
        trigger
        for automation in automations
        for trigger in automation["triggers"]
        if trigger["trigger"] == "device"
    ]
    assert device_triggers
    for trigger in device_triggers:
        assert trigger["domain"] == "mqtt"
        assert trigger["type"] in {
            "button_short_press",
            "button_double_press",
            "button_long_press",
            "button_long_release",
        }
        assert trigger["subtype"] == "button_1"
    mqtt_triggers = [t for a in automations for t in a["triggers"] if t["trigger"] == "mqtt"]
    assert all(re.fullmatch(r"tau/switch/[a-z0-9_-]+/action", t["topic"]) for t in mqtt_triggers)
