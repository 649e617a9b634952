"""Configuration mistakes as one line each, in the words the user wrote them.

A line names the setting the way the user set it — the environment variable that
exists (`TAU_MQTT__PORT`, or `TAU_DMX__UNIVERSES` with the key inside its JSON) or the
table and key of the TOML file (`tau.toml [dmx.universes.1] host`) — says what is wrong
in plain words and gives an example of a right value. Nothing of pydantic's vocabulary
(patterns, "Input should be", discriminator tags) reaches the user; secrets are never
echoed. The walk over the settings models is generic: new fields get the same treatment
(a `Literal` reads "must be one of …", bounds read "between … and …").
"""

from __future__ import annotations

import difflib
import json
import os
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ENV_PREFIX = "TAU_"
DELIMITER = "__"

# Examples for settings whose default says nothing (unset, or a whole table).
EXAMPLES: dict[str, Any] = {
    "host": "192.168.1.50",
    "database_url": "postgresql://tau:secret@127.0.0.1:5432/tau",
    "universes": {"1": {"driver": "artnet", "host": "192.168.1.50"}},
    "username": "tau",
    "password": "a-long-random-password",
    "client_id": "tau-living-room",
    "latitude": 52.52,
    "longitude": 13.40,
    "timezone": "Europe/Berlin",
    "suspend_timeout_s": 3600,
    "ca_file": "/etc/tau/ca.crt",
    "cert_file": "/etc/tau/tau.crt",
    "key_file": "/etc/tau/tau.key",
    "data_dir": "/var/lib/tau",
}
SERIAL_PORT_EXAMPLE = "/dev/ttyUSB0"


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, without `None` and `Annotated` wrappers."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [a for arg in get_args(annotation) for a in _unwrap(arg) if a is not type(None)]
    return [annotation]


def _model(annotation: Any) -> type[BaseModel] | None:
    for alt in _unwrap(annotation):
        if isinstance(alt, type) and issubclass(alt, BaseModel):
            return alt
    return None


def _dict_value(annotation: Any) -> Any | None:
    for alt in _unwrap(annotation):
        if get_origin(alt) is dict:
            return get_args(alt)[1]
    return None


def _tagged(annotation: Any) -> dict[str, type[BaseModel]]:
    """{tag: model} of a union of models told apart by a `driver`-like Literal field."""
    found: dict[str, type[BaseModel]] = {}
    for alt in _unwrap(annotation):
        if isinstance(alt, type) and issubclass(alt, BaseModel):
            for field in alt.model_fields.values():
                if get_origin(field.annotation) is Literal and len(get_args(field.annotation)) == 1:
                    found[str(get_args(field.annotation)[0])] = alt
    return found if len(found) > 1 else {}


class _Spot:
    """Where a validation error points: the user-visible path and the field found there."""

    def __init__(self) -> None:
        self.path: list[str] = []  # keys as the user writes them (no union tags)
        self.field: FieldInfo | None = None
        self.name = ""  # the field's name (the last model key)
        self.owner: type[BaseModel] | None = None
        self.annotation: Any = None
        self.is_key = False  # the error is about a dict key, not a value
        self.dict_value = False  # the path ends at a value of a dict (e.g. one universe)


def _locate(root: type[BaseModel], loc: Sequence[int | str]) -> _Spot:
    spot = _Spot()
    annotation: Any = root
    for raw in loc:
        item = str(raw)
        if item.startswith("function-"):
            continue
        if item == "[key]":
            spot.is_key = True
            continue
        tags = _tagged(annotation)
        if item in tags:
            annotation = tags[item]
            continue
        model = _model(annotation)
        value = _dict_value(annotation)
        spot.dict_value = False
        if model is not None and item in model.model_fields:
            spot.field = model.model_fields[item]
            spot.name = item
            spot.owner = model
            annotation = spot.field.annotation
        elif value is not None:
            annotation = value
            spot.dict_value = True
        else:
            annotation = None
            spot.field = None
            spot.name = item
            spot.owner = model
        spot.path.append(item)
    spot.annotation = annotation
    return spot


class _Source:
    """Where the user wrote each setting: the environment (preferred) or the TOML file."""

    def __init__(self, environ: Mapping[str, str], toml_path: Path | None) -> None:
        self.env = {k.upper(): v for k, v in environ.items() if k.upper().startswith(ENV_PREFIX)}
        self.toml_path = toml_path
        self.toml: dict[str, Any] = {}
        if toml_path is not None and toml_path.is_file():
            import tomllib

            try:
                self.toml = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                self.toml = {}

    def env_var(self, path: Sequence[str]) -> tuple[str, list[str]] | None:
        """The longest existing `TAU_A__B` covering `path`, and the keys left inside it."""
        for n in range(len(path), 0, -1):
            name = ENV_PREFIX + DELIMITER.join(path[:n]).upper()
            if name in self.env:
                return name, list(path[n:])
        return None

    def in_toml(self, path: Sequence[str]) -> bool:
        node: Any = self.toml
        for key in path[:-1]:
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        return isinstance(node, dict)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def _example_value(spot: _Spot) -> Any:
    field = spot.field
    if spot.is_key:
        return "1"
    if spot.dict_value:  # one entry of a table: the first entry of the table's example
        table = EXAMPLES.get(spot.name)
        return next(iter(table.values())) if isinstance(table, dict) and table else {}
    if field is not None and field.examples:
        return field.examples[0]
    if spot.name in EXAMPLES:
        return EXAMPLES[spot.name]
    default: Any = None
    if field is not None:
        default = field.default
        if default is PydanticUndefined and field.default_factory is not None:
            default = field.default_factory()  # type: ignore[call-arg]
    if isinstance(default, BaseModel):
        return default.model_dump(mode="json", exclude_none=True)
    if spot.name == "port" and field is not None and str in _unwrap(field.annotation):
        return SERIAL_PORT_EXAMPLE  # a port that is a device path: the serial outputs
    if default not in (None, PydanticUndefined):
        return default
    for alt in _unwrap(spot.annotation):
        if get_origin(alt) is Literal:
            return get_args(alt)[0]
    low, high = _bounds(field)
    return low if low is not None else high


def _bounds(field: FieldInfo | None) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    for meta in field.metadata if field is not None else ():
        if isinstance(meta, Ge):
            low = meta.ge
        elif isinstance(meta, Gt):
            low = meta.gt
        elif isinstance(meta, Le):
            high = meta.le
        elif isinstance(meta, Lt):
            high = meta.lt
    return low, high


def _strict_low(field: FieldInfo | None) -> bool:
    return any(isinstance(m, Gt) for m in (field.metadata if field is not None else ()))


def _secret(spot: _Spot) -> bool:
    return any(alt is SecretStr for alt in _unwrap(spot.annotation)) or spot.name in {
        "password",
        "database_url",
    }


def _got(spot: _Spot, value: Any) -> str:
    if _secret(spot) or isinstance(value, dict | list):
        return ""
    text = repr(value)
    return f", got {text if len(text) <= 40 else text[:37] + '...'}"


def _choices(annotation: Any) -> list[str]:
    return [
        str(v) for alt in _unwrap(annotation) if get_origin(alt) is Literal for v in get_args(alt)
    ]


def _discriminator(ctx: Mapping[str, Any]) -> str:
    return str(ctx.get("discriminator", "driver")).strip("'")


def _problem(err: Mapping[str, Any], spot: _Spot) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    got = _got(spot, value)
    if spot.is_key:
        return f"the key {value!r} must be a whole number (a universe number, e.g. 1)"
    if kind == "missing":
        return "is required but not set"
    if kind == "union_tag_invalid":
        tags = ", ".join(_tagged(spot.annotation))
        return f"{_discriminator(ctx)} {ctx.get('tag')!r} is unknown; it must be one of {tags}"
    if kind == "union_tag_not_found":
        tags = ", ".join(_tagged(spot.annotation))
        return f'has no "{_discriminator(ctx)}"; say which one it is: one of {tags}'
    if kind == "literal_error":
        return f"must be one of {', '.join(_choices(spot.annotation))}{got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number{got}"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"must be a number{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"must be true or false{got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        low, high = _bounds(spot.field)
        if low is None:
            low = ctx.get("ge", ctx.get("gt"))
        if high is None:
            high = ctx.get("le", ctx.get("lt"))
        above = "more than" if _strict_low(spot.field) or "gt" in ctx else "at least"
        if low is not None and high is not None:
            if above == "at least":
                return f"must be between {low} and {high}{got}"
            return f"must be more than {low} and at most {high}{got}"
        if low is not None:
            return f"must be {above} {low}{got}"
        return f"must be at most {high}{got}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long{got}"
    if kind == "string_type":
        return f"must be text (in quotes){got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "path_type":
        return f"must be a file path (text){got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a table of settings (a JSON object){got}"
    if kind == "extra_forbidden":
        known = list(spot.owner.model_fields) if spot.owner is not None else []
        close = difflib.get_close_matches(spot.name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"is not a setting here; {hint}the settings here are {', '.join(known)}"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', '')})"
    message = str(err["msg"]).replace("Input should be", "must be").replace("Input ", "it ")
    return f"is not valid: {message}{got}"


def _set_path(
    data: Any, path: Sequence[str], value: Any, *, remove: bool = False, rename: bool = False
) -> Any:
    """A copy of the user's JSON with the value at `path` replaced, removed or its key renamed."""
    if not path:
        return value
    node = dict(data) if isinstance(data, dict) else {}
    head, rest = path[0], path[1:]
    if rename and not rest:
        return {(value if k == head else k): v for k, v in node.items()}
    if remove and not rest:
        node.pop(head, None)
    else:
        node[head] = _set_path(node.get(head), rest, value, remove=remove, rename=rename)
    return node


def _line(err: Mapping[str, Any], root: type[BaseModel], source: _Source) -> str:
    spot = _locate(root, err["loc"])
    problem = _problem(err, spot)
    example = _example_value(spot)
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx") or {}
        tags = list(_tagged(spot.annotation))
        close = difflib.get_close_matches(str(ctx.get("tag", "")), tags, n=1)
        example = (close or ["artnet" if "artnet" in tags else tags[0]])[0]
        field_path = [*spot.path, _discriminator(ctx)]
    else:
        field_path = spot.path
    remove = err["type"] == "extra_forbidden"
    found = source.env_var(field_path)
    if found is not None:
        name, inside = found
        if inside:
            try:
                data = json.loads(source.env[name])
            except ValueError:
                data = {}
            fixed = _set_path(data, inside, example, remove=remove, rename=spot.is_key)
            where = f"{name} (key {'.'.join(inside)!r} in its JSON)"
            return f"{where}: {problem}; e.g. {name}='{_dump(fixed)}'"
        if remove:
            return f"{name}: {problem}"
        shown = example if isinstance(example, str) else _dump(example)
        return f"{name}: {problem}; e.g. {name}={_shell(shown)}"
    if source.toml_path is not None and source.in_toml(field_path):
        table = ".".join(field_path[:-1])
        key = field_path[-1] if field_path else ""
        where = f"{source.toml_path} [{table}] {key}" if table else f"{source.toml_path} {key}"
        if remove:
            return f"{where}: {problem}"
        return f"{where}: {problem}; e.g. {key} = {_toml_value(example)}"
    name = ENV_PREFIX + DELIMITER.join(field_path).upper()
    if remove:
        return f"{name}: {problem}"
    shown = example if isinstance(example, str) else _dump(example)
    return f"{name}: {problem}; e.g. {name}={_shell(shown)}"


def _shell(text: str) -> str:
    safe = all(c.isalnum() or c in "-_./:@+,=" for c in text)
    return text if safe and text else "'" + text.replace("'", "'\\''") + "'"


def describe_validation_error(
    exc: ValidationError,
    root: type[BaseModel],
    environ: Mapping[str, str] | None = None,
    toml_path: Path | None = None,
) -> list[str]:
    """One line per problem, naming each setting as the user wrote it."""
    source = _Source(os.environ if environ is None else environ, toml_path)
    lines: list[str] = []
    for err in exc.errors():
        line = _line(err, root, source)
        if line not in lines:
            lines.append(line)
    return lines


def describe_unparsable_env(
    root: type[BaseModel], environ: Mapping[str, str] | None = None
) -> list[str]:
    """`TAU_*` variables for a table of settings whose value is not JSON, one line each."""
    env = os.environ if environ is None else environ
    lines = []
    for key, value in sorted(env.items()):
        upper = key.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        path = upper[len(ENV_PREFIX) :].lower().split(DELIMITER)
        spot = _locate(root, path)
        if _model(spot.annotation) is None and _dict_value(spot.annotation) is None:
            continue
        try:
            json.loads(value)
        except ValueError as exc:
            example = _example_value(spot)
            reason = (
                f"{exc.msg} at line {exc.lineno} column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            lines.append(
                f"{upper}: is not valid JSON ({reason}); "
                f"e.g. {upper}='{_dump(example if example is not None else {})}'"
            )
    return lines
