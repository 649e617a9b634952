"""The configuration error lines, generic over the settings models (new fields included)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau.config_errors import describe_unparsable_env, describe_validation_error
from tau.settings import Settings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FutureMqtt(_Strict):
    """Fields the MQTT settings are about to gain: each gets a plain line without new code."""

    host: str = "127.0.0.1"
    protocol: Literal["3.1.1", "5"] = "5"
    transport: Literal["tcp", "websockets"] = "tcp"
    ws_path: str = "/mqtt"
    max_queued: int = Field(10_000, ge=0, le=1_000_000)


class Root(_Strict):
    mqtt: FutureMqtt = Field(default_factory=FutureMqtt)


def _lines(data: dict, environ: dict[str, str], toml: Path | None = None) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Root.model_validate(data)
    return describe_validation_error(caught.value, Root, environ=environ, toml_path=toml)


def test_a_literal_reads_must_be_one_of() -> None:
    env = {"TAU_MQTT__PROTOCOL": "3"}
    assert _lines({"mqtt": {"protocol": "3"}}, env) == [
        "TAU_MQTT__PROTOCOL: must be one of 3.1.1, 5, got '3'; e.g. TAU_MQTT__PROTOCOL=5"
    ]
    env = {"TAU_MQTT__TRANSPORT": "ws"}
    assert _lines({"mqtt": {"transport": "ws"}}, env) == [
        "TAU_MQTT__TRANSPORT: must be one of tcp, websockets, got 'ws'; "
        "e.g. TAU_MQTT__TRANSPORT=tcp"
    ]


def test_bounds_and_types_of_a_new_number() -> None:
    env = {"TAU_MQTT__MAX_QUEUED": "-1"}
    assert _lines({"mqtt": {"max_queued": "-1"}}, env) == [
        "TAU_MQTT__MAX_QUEUED: must be between 0 and 1000000, got '-1'; "
        "e.g. TAU_MQTT__MAX_QUEUED=10000"
    ]
    env = {"TAU_MQTT__MAX_QUEUED": "many"}
    assert _lines({"mqtt": {"max_queued": "many"}}, env) == [
        "TAU_MQTT__MAX_QUEUED: must be a whole number, got 'many'; e.g. TAU_MQTT__MAX_QUEUED=10000"
    ]


def test_a_whole_table_in_one_variable_is_named_with_the_key_inside() -> None:
    env = {"TAU_MQTT": '{"ws_path": 7}'}
    assert _lines({"mqtt": {"ws_path": 7}}, env) == [
        "TAU_MQTT (key 'ws_path' in its JSON): must be text (in quotes), got 7; "
        """e.g. TAU_MQTT='{"ws_path": "/mqtt"}'"""
    ]


def test_the_toml_file_is_named_when_the_environment_does_not_hold_it(tmp_path: Path) -> None:
    toml = tmp_path / "tau.toml"
    toml.write_text('[mqtt]\ntransport = "udp"\n')
    assert _lines({"mqtt": {"transport": "udp"}}, {}, toml) == [
        f"{toml} [mqtt] transport: must be one of tcp, websockets, got 'udp'; "
        'e.g. transport = "tcp"'
    ]


def test_unknown_keys_get_a_suggestion() -> None:
    env = {"TAU_MQTT__PROTOCOLL": "5"}
    (line,) = _lines({"mqtt": {"protocoll": "5"}}, env)
    assert line.startswith("TAU_MQTT__PROTOCOLL: is not a setting here; did you mean 'protocol'?")


def test_secrets_are_never_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"mqtt": {"password": 12345678}})
    (line,) = describe_validation_error(caught.value, Settings, environ={})
    assert "12345678" not in line
    assert line.startswith("TAU_MQTT__PASSWORD: ")


def test_unparsable_json_names_the_variable_and_a_right_value() -> None:
    env = {"TAU_DMX__UNIVERSES": "{1: artnet}", "TAU_MQTT__PORT": "not json but not a table"}
    assert describe_unparsable_env(Settings, env) == [
        "TAU_DMX__UNIVERSES: is not valid JSON (Expecting property name enclosed in double "
        "quotes at line 1 column 2); "
        """e.g. TAU_DMX__UNIVERSES='{"1": {"driver": "artnet", "host": "192.168.1.50"}}'"""
    ]
