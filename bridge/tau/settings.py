"""Settings: environment (`TAU_`, `__` nesting), an optional TOML file, embedded defaults.

Precedence, highest first: init arguments, environment, the TOML file named by
`TAU_CONFIG_FILE` (default `./tau.toml` when present), defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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


def check_topic_prefix(value: str) -> str:
    """A topic prefix Tau appends `/group/...` to: plain levels, no wildcards, no blanks."""
    if not value:
        raise ValueError("must not be empty")
    if any(c in value for c in "#+"):
        raise ValueError(f"{value!r} contains an MQTT wildcard (# or +), which topics cannot")
    if any(c.isspace() or ord(c) < 32 for c in value) or "\0" in value:
        raise ValueError(f"{value!r} contains a space or control character")
    if value.startswith("/"):
        raise ValueError(f"{value!r} starts with '/', which makes an empty first level")
    if value.endswith("/"):
        raise ValueError(f"{value!r} ends with '/'; Tau adds the '/' before each topic itself")
    if "//" in value:
        raise ValueError(f"{value!r} has an empty level ('//')")
    return value


def check_database_url(value: str) -> str:
    """A PostgreSQL URL asyncpg and Alembic accept; the message never repeats the URL."""
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgres", "postgresql"):
        raise ValueError("is not a PostgreSQL URL (it must start with postgresql://)")
    try:
        parts = urlsplit("postgresql://" + rest)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("has a port that is not a number between 1 and 65535") from None
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError("names no host (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    return value


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
    base_topic: str = "tau"
    discovery_prefix: str = "homeassistant"
    client_id: str | None = Field(
        None, description="stable id; default tau-<base_topic>-<node name>"
    )
    keepalive_s: int = Field(30, ge=5, le=3600)
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version")
    transport: Literal["tcp", "websockets"] = "tcp"
    ws_path: str = Field("/mqtt", pattern=r"^/\S*$", description="path of a WebSocket listener")
    command_max_age_s: float = Field(
        60.0,
        ge=1,
        le=86_400,
        description="a command, switch press, scene recall or request queued for the bridge "
        "while it was away is applied only when younger than this",
    )
    max_queued: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="replies, log entries and events held while the broker is slow or away "
        "(states need no room: only each object's newest state waits)",
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_text(cls, value: Any) -> Any:
        # TOML writes `protocol = 5` as a number; "5.0" and "311" are how people type them.
        text = str(value).strip()
        return {"5.0": "5", "311": "3.1.1", "3": "3.1.1"}.get(text, text)

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        return check_topic_prefix(value)


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


class SupervisorSettings(_Strict):
    restart_delay_s: float = Field(
        0.1,
        gt=0,
        le=60,
        description="pause before a part that failed unexpectedly starts again (doubling "
        "to 5 s while it keeps failing)",
    )
    fault_injection: bool = Field(
        False,
        description="answer the `testing/fail` bridge request, which makes a named part of "
        "the bridge fail once (tests of supervision); never enable in production",
    )


class RequestsSettings(_Strict):
    workers: int = Field(
        2,
        ge=1,
        le=64,
        description="bridge requests handled at once (the database pool holds 4 "
        "connections: the rest stay free for the state writer and reloads)",
    )
    queue: int = Field(
        64,
        ge=1,
        le=100_000,
        description="bridge requests waiting for a worker; beyond it a request is answered "
        '{"status": "error", "error": "busy"} at once',
    )


class HomeAssistantSettings(_Strict):
    birth_debounce_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Home Assistant's `online` (birth) message republishes discovery and "
        "states at most once per this many seconds",
    )


class LocationSettings(_Strict):
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    timezone: str | None = None


class HttpSettings(_Strict):
    host: str = "127.0.0.1"
    port: int | None = Field(
        None,
        ge=0,
        le=65535,
        examples=[8080],
        description="the web page, /healthz and /metrics; unset = none (8080 under --demo)",
    )
    password: SecretStr | None = Field(
        None, description="the web page's password; required when host is not loopback"
    )
    read_only: bool = Field(False, description="serve the web page's views without controls")
    updates_per_s: float = Field(
        20.0, gt=0, le=20, description="most live messages a second to each open page"
    )


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


NODE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


def default_node_name() -> str:
    """The host name, cut to what a node name may hold ("pi-hall.local" stays as is)."""
    import re
    import socket

    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).lstrip("._-")[:63]
    return name or "tau"


class NodeSettings(_Strict):
    """One bridge process among several sharing an installation (see README "Several bridges")."""

    name: str = Field(
        default_factory=default_node_name,
        pattern=NODE_NAME_PATTERN,
        description="this bridge's name among several; default: the host name",
    )
    lease_s: float = Field(
        2.0,
        ge=0.5,
        le=60,
        description="how long a universe or the leader role stays with a node that stopped "
        "renewing it; a standby takes over after this (plus one check)",
    )


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
    node: NodeSettings = Field(default_factory=NodeSettings)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    requests: RequestsSettings = Field(default_factory=RequestsSettings)
    homeassistant: HomeAssistantSettings = Field(default_factory=HomeAssistantSettings)
    state_flush_ms: int = Field(100, ge=10, le=250, description="write-behind batch window")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    data_dir: Path | None = Field(
        None, description="embedded database/broker data; default: user data dir"
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_database_url(value.get_secret_value())
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def client_id(self) -> str:
        # One per node: two bridges sharing a client id would throw each other off.
        base = self.mqtt.base_topic.replace("/", "-")
        return self.mqtt.client_id or f"tau-{base}-{self.node.name}"


# `tau run --demo` (`make run`): its own base topic, hence its own discovery node id and
# MQTT client id, so the demo never touches a home installation's topics or entities.
DEMO_BASE_TOPIC = "tau-demo"


def demo_settings(settings: Settings) -> Settings:
    """The settings for `--demo`: the demo's base topic unless one was configured."""
    if "base_topic" in settings.mqtt.model_fields_set:
        return settings
    mqtt = settings.mqtt.model_copy(update={"base_topic": DEMO_BASE_TOPIC})
    return settings.model_copy(update={"mqtt": mqtt})


def config_file() -> Path:
    """The TOML file settings are read from (when it exists)."""
    return Path(os.environ.get("TAU_CONFIG_FILE", "tau.toml"))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; every mistake becomes one line of the `ConfigurationError`."""
    import tomllib

    from pydantic_settings import SettingsError

    from tau.config_errors import describe_unparsable_env, describe_validation_error

    path = config_file()
    if os.environ.get("TAU_CONFIG_FILE") and not path.is_file():
        raise ConfigurationError(f"TAU_CONFIG_FILE={path}: no such file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = describe_validation_error(exc, Settings, toml_path=path)
        raise ConfigurationError("\n".join(lines)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"{path}: is not valid TOML ({exc}); compare with config/tau.example.toml"
        ) from exc
    except SettingsError as exc:
        lines = describe_unparsable_env(Settings) or [
            f"a TAU_ variable for a table of settings is not valid JSON ({exc})"
        ]
        raise ConfigurationError("\n".join(lines)) from exc
