"""Settings: environment (`TAU_`, `__` nesting), an optional TOML file, embedded defaults.

Precedence, highest first: init arguments, environment, the TOML file named by
`TAU_CONFIG_FILE` (default `./tau.toml` when present), defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tau.errors import ConfigurationError

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsSettings(_Strict):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = Field(False, description="skip hostname verification (testing only)")


class MqttSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    base_topic: str = Field("tau", pattern=r"^[^#+\s]+$")
    discovery_prefix: str = Field("homeassistant", pattern=r"^[^#+\s]+$")
    client_id: str | None = Field(None, description="stable id; default tau-<base_topic>")
    keepalive_s: int = Field(30, ge=5, le=3600)


class VirtualOutput(_Strict):
    driver: Literal["virtual"] = "virtual"


class EnttecProOutput(_Strict):
    driver: Literal["enttec_pro"]
    port: str


class OpenDmxOutput(_Strict):
    driver: Literal["open_dmx"]
    port: str


class ArtNetOutput(_Strict):
    driver: Literal["artnet"]
    host: str
    port: int = Field(6454, ge=1, le=65535)
    universe: int = Field(0, ge=0, le=32767, description="15-bit Art-Net port-address")


class SacnOutput(_Strict):
    driver: Literal["sacn"]
    host: str | None = Field(None, description="unicast target; unset = multicast")
    port: int = Field(5568, ge=1, le=65535)
    universe: int = Field(1, ge=1, le=63999)
    priority: int = Field(100, ge=0, le=200)
    source_name: str = Field("Tau", max_length=63)


UniverseOutput = Annotated[
    VirtualOutput | EnttecProOutput | OpenDmxOutput | ArtNetOutput | SacnOutput,
    Field(discriminator="driver"),
]


class DmxSettings(_Strict):
    universes: dict[int, UniverseOutput] = Field(default_factory=dict)
    fps: float = Field(44.0, gt=0, le=100)

    @field_validator("universes")
    @classmethod
    def _universe_numbers(cls, value: dict[int, Any]) -> dict[int, Any]:
        bad = [u for u in value if not 0 <= u <= 63999]
        if bad:
            raise ValueError(f"universe numbers must be 0..63999, got {bad}")
        return value


class CircadianSettings(_Strict):
    tick_seconds: float = Field(30.0, ge=0.05, le=3600)
    suspend_timeout_s: float | None = Field(
        None, gt=0, description="resume a suspended profile after this long; unset = never"
    )
    clock_control: bool = Field(
        False,
        description="allow the `circadian/clock` bridge request to set the circadian clock "
        "(tests and demos: simulate a day); never enable in production",
    )


class LocationSettings(_Strict):
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    timezone: str | None = None


class HttpSettings(_Strict):
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535, description="unset = no HTTP listener")


class FixturesSettings(_Strict):
    paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="fixture definition folders searched besides QLC+'s system and user "
        "folders (JSON list, or paths separated by the OS path separator)",
    )

    @field_validator("paths", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                try:
                    return json.loads(value)
                except ValueError:
                    return value  # reported as "not a valid list"
            return [p for p in value.split(os.pathsep) if p]
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TAU_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: SecretStr | None = Field(
        None, description="PostgreSQL DSN; unset = embedded PostgreSQL in the user data dir"
    )
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    dmx: DmxSettings = Field(default_factory=DmxSettings)
    default_transition: float = Field(0.4, ge=0, le=3600)
    circadian: CircadianSettings = Field(default_factory=CircadianSettings)
    location: LocationSettings = Field(default_factory=LocationSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    fixtures: FixturesSettings = Field(default_factory=FixturesSettings)
    state_flush_ms: int = Field(100, ge=10, le=250, description="write-behind batch window")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    data_dir: Path | None = Field(
        None, description="embedded database/broker data; default: user data dir"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("TAU_CONFIG_FILE", "tau.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"tau-{self.mqtt.base_topic.replace('/', '-')}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one message line per problem."""
    config_file = os.environ.get("TAU_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        raise ConfigurationError(f"TAU_CONFIG_FILE={config_file}: no such file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(format_validation_error(exc, prefix="TAU_")) from None


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: `TAU_MQTT__PORT: Input should be less than or equal to 65535`."""
    lines = []
    for err in exc.errors():
        loc = "__".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        name = f"{prefix}{loc.upper()}" if prefix else loc
        lines.append(f"{name}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
