"""docker-compose.yml for production: no demo unless asked, least secrets, no placeholders.

The file is resolved the way `docker compose config` resolves it: by Compose v2 itself
when it is installed, else by the same interpolation rules done here (`${VAR}`,
`${VAR:-default}`, `${VAR:?message}`, `$$`, profiles); the result must match the
Compose Specification schema either way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
ENV_EXAMPLE = REPO / "config" / "tau.env.example"
CHECK_SECRETS = REPO / "config" / "check-secrets.sh"
ENTRYPOINT = REPO / "config" / "docker-entrypoint.sh"

# Real-looking values, each recognisable wherever it ends up.
SECRETS = {
    "POSTGRES_PASSWORD": "pgsuperSECRET1",
    "TAU_OWNER_PASSWORD": "ownerSECRET2",
    "TAU_DAEMON_PASSWORD": "daemonSECRET3",
    "MQTT_PASSWORD": "mqttSECRET4",
    "MQTT_HA_PASSWORD": "haSECRET5",
    "WEB_PASSWORD": "webSECRET6",
}
# Which service may see which secret.
ALLOWED = {
    "preflight": set(SECRETS),
    "database": {"POSTGRES_PASSWORD", "TAU_OWNER_PASSWORD", "TAU_DAEMON_PASSWORD"},
    "migrate": {"TAU_OWNER_PASSWORD"},
    "demo": {"TAU_OWNER_PASSWORD"},
    "mqtt": {"MQTT_PASSWORD", "MQTT_HA_PASSWORD"},
    "bridge": {"TAU_DAEMON_PASSWORD", "MQTT_PASSWORD", "WEB_PASSWORD"},
    "bridge-a": {"TAU_DAEMON_PASSWORD", "MQTT_PASSWORD", "WEB_PASSWORD"},
    "bridge-b": {"TAU_DAEMON_PASSWORD", "MQTT_PASSWORD", "WEB_PASSWORD"},
}
NODES = ("bridge-a", "bridge-b")


def example_env() -> dict[str, str]:
    text = ENV_EXAMPLE.read_text()
    return dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", text, re.M))


def real_env(**changes: str) -> dict[str, str]:
    env = {**example_env(), **SECRETS, **changes}
    return {k: v for k, v in env.items() if v is not None}


def compose_v2() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    found = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    return [docker, "compose"] if found.returncode == 0 else None


class ComposeError(Exception):
    pass


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        value = env.get(name)
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":?", "?") and empty:
            raise ComposeError(f"required variable {name} is missing a value: {arg}")
        if op in (":-", "-") and empty:
            return arg
        return value or ""

    return _VARIABLE.sub(one, text)


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(value, env) for value in node]
    if isinstance(node, str):
        return _interpolate(node, env)
    return node


def resolve(env: dict[str, str], profiles: tuple[str, ...] = ()) -> dict[str, Any]:
    """The resolved project, as `docker compose [--profile …] config` prints it."""
    compose = compose_v2()
    if compose is not None:
        envfile = REPO / ".pytest-compose.env"
        try:
            envfile.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            args = [*compose, "-f", str(COMPOSE), "--env-file", str(envfile)]
            for profile in profiles:
                args += ["--profile", profile]
            result = subprocess.run(
                [*args, "config", "--format", "json"],
                capture_output=True,
                text=True,
                env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")},
                cwd=REPO,
            )
        finally:
            envfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ComposeError(result.stderr.strip())
        data: dict[str, Any] = json.loads(result.stdout)
        return data
    raw = yaml.safe_load(COMPOSE.read_text())
    resolved: dict[str, Any] = _walk(raw, env)
    resolved["services"] = {
        name: service
        for name, service in resolved["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }
    return resolved


def _schema_check(data: dict[str, Any], tmp_path: Path) -> None:
    instance = tmp_path / "resolved.json"
    instance.write_text(json.dumps(data))
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is not installed; `make test` installs it with the dev extras"
    result = subprocess.run(
        [tool, "--schemafile", str(SCHEMA), str(instance)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_resolved_file_is_valid_with_and_without_the_demo(tmp_path: Path) -> None:
    for profiles in ((), ("demo",), ("nodes",), ("demo", "nodes")):
        data = resolve(real_env(), profiles)
        _schema_check(data, tmp_path)
        assert data["name"] == "tau"


def test_no_demo_fixtures_unless_the_demo_profile_is_chosen(raw: dict[str, Any]) -> None:
    default = resolve(real_env())
    assert set(default["services"]) == {"preflight", "database", "migrate", "mqtt", "bridge"}
    assert "04-test-fixtures" not in json.dumps(default)
    demo = resolve(real_env(), ("demo",))
    assert set(demo["services"]) == set(default["services"]) | {"demo"}
    # Only the `demo` service loads the demo home, and only under its profile.
    loaders = [
        name
        for name, service in raw["services"].items()
        if "04-test-fixtures" in json.dumps(service)
    ]
    assert loaders == ["demo"]
    # ... the same demo as `make run` (`tau run --demo` loads every seed file, in order)
    command = raw["services"]["demo"]["command"]
    loaded = [Path(command[i + 1]).name for i, arg in enumerate(command) if arg == "-f"]
    seeds = sorted(p.name for p in (REPO / "database" / "seeds").glob("0*.sql"))
    assert loaded == [name for name in seeds if name >= "04"]
    assert raw["services"]["demo"]["profiles"] == ["demo"]
    assert raw["services"]["demo"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_the_database_starts_with_the_schema_the_catalogue_and_the_roles(
    raw: dict[str, Any],
) -> None:
    mounts = []
    for volume in raw["services"]["database"]["volumes"]:
        source, _, rest = volume.partition(":")
        target = rest.split(":")[0]
        if target.startswith("/docker-entrypoint-initdb.d/"):
            mounts.append((target.rsplit("/", 1)[1], source))
    assert mounts == sorted(mounts), "mount targets must sort in execution order"
    assert mounts == [
        ("01-init.sql", "./database/init.sql"),
        ("02-fixture-models.sql", "./database/seeds/02-fixture-models.sql"),
        ("03-switch-models.sql", "./database/seeds/03-switch-models.sql"),
        ("05-roles.sh", "./config/postgres-roles.sh"),
    ]
    assert "./config/roles.sql:/tau/roles.sql:ro" in raw["services"]["database"]["volumes"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return dict(environment)


def test_each_service_receives_only_its_own_secrets() -> None:
    data = resolve(real_env(), ("demo", "nodes"))
    for name, service in data["services"].items():
        text = json.dumps(service)
        seen = {secret for secret, value in SECRETS.items() if value in text}
        assert seen <= ALLOWED[name], f"{name} gets {sorted(seen - ALLOWED[name])}"
    environment = _environment(data["services"]["bridge"])
    url = environment["TAU_DATABASE_URL"]
    assert url == f"postgresql://tau_daemon:{SECRETS['TAU_DAEMON_PASSWORD']}@database:5432/tau"
    assert environment["TAU_MQTT__PASSWORD"] == SECRETS["MQTT_PASSWORD"]
    assert environment["TAU_HTTP__PASSWORD"] == SECRETS["WEB_PASSWORD"]
    (port,) = data["services"]["bridge"]["ports"]  # the web page, on the host's loopback only
    assert port in ("127.0.0.1:8080:8080", {"mode": "ingress", "host_ip": "127.0.0.1",
                    "target": 8080, "published": "8080", "protocol": "tcp"})  # fmt: skip
    assert environment["TAU_MIGRATE_ON_START"] == "0"
    assert "TAU_MIGRATION_DATABASE_URL" not in environment
    migrate = json.dumps(data["services"]["migrate"])
    assert f"postgresql://tau_owner:{SECRETS['TAU_OWNER_PASSWORD']}@database:5432/tau" in migrate


def test_the_nodes_profile_runs_two_bridges_on_one_installation() -> None:
    from tau.settings import DmxSettings

    default = resolve(real_env())
    data = resolve(real_env(), ("nodes",))
    assert set(data["services"]) == set(default["services"]) | set(NODES)
    single = data["services"]["bridge"]
    nodes = [data["services"][name] for name in NODES]
    names = [_environment(node)["TAU_NODE__NAME"] for node in nodes]
    assert names == list(NODES)  # distinct, and the same as the services' names
    # One bridge is named by its host name, as before; pinned, so it outlives re-creation.
    assert "TAU_NODE__NAME" not in _environment(single)
    assert single["hostname"] == "bridge" and "hostname" not in nodes[0]
    shared = _environment(single)
    for node in nodes:
        environment = _environment(node)
        # the same database, broker, account and base topic: only the node's own differs
        mine = {k: environment.pop(k) for k in ("TAU_NODE__NAME", "TAU_DMX__UNIVERSES")}
        assert environment == shared, mine["TAU_NODE__NAME"]
        assert "TAU_MQTT__BASE_TOPIC" not in environment  # from the one shared tau.env
        for key in ("env_file", "depends_on", "networks", "group_add", "image"):
            assert node[key] == single[key], key
    outputs = [
        DmxSettings.model_validate({"universes": json.loads(_environment(n)["TAU_DMX__UNIVERSES"])})
        for n in nodes
    ]
    network = [
        {u: o for u, o in out.universes.items() if o.driver in ("artnet", "sacn")}
        for out in outputs
    ]
    both = set(network[0]) & set(network[1])
    assert both, "a network universe on both nodes: one owns it, the other stands by"
    assert all(network[0][u] == network[1][u] for u in both)  # the same receiver
    # The USB widget's universe is on bridge-a only (commented until its device is mapped).
    text = COMPOSE.read_text()
    block = text.split("\n  bridge-a:\n", 1)[1].split("\n  bridge-b:\n", 1)[0]
    usb = re.search(r"# TAU_DMX__UNIVERSES: '(.*)'", block)
    assert usb, "bridge-a shows its USB universe"
    with_widget = DmxSettings.model_validate({"universes": json.loads(usb.group(1))})
    devices = {u for u, o in with_widget.universes.items() if o.driver == "enttec_pro"}
    assert devices and not devices & set(outputs[1].universes)
    assert "#   - /dev/serial/by-id/" in block
    assert "docker compose --profile nodes up -d --scale bridge=0" in text


def test_no_service_reads_the_whole_env_file(raw: dict[str, Any]) -> None:
    for name, service in raw["services"].items():
        env_files = service.get("env_file", [])
        if isinstance(env_files, str):
            env_files = [env_files]
        paths = [item if isinstance(item, str) else item["path"] for item in env_files]
        assert not [p for p in paths if Path(p).name == ".env"], name
    # The bridge's own settings file is optional and holds no secrets of other services.
    assert raw["services"]["bridge"]["env_file"] == [{"path": "./tau.env", "required": False}]
    example = (REPO / "config" / "tau.bridge.env.example").read_text()
    assert "PASSWORD" not in example and "DATABASE_URL=" not in example


def test_a_missing_password_stops_compose_with_its_name() -> None:
    for name in (
        "POSTGRES_PASSWORD",
        "TAU_OWNER_PASSWORD",
        "TAU_DAEMON_PASSWORD",
        "MQTT_PASSWORD",
        "WEB_PASSWORD",
    ):
        with pytest.raises(ComposeError, match=f"{name}.*set {name} in .env"):
            resolve(real_env(**{name: ""}))


def _check_secrets(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    passwords = {k: v for k, v in env.items() if k.endswith("PASSWORD")}
    return subprocess.run(
        ["sh", str(CHECK_SECRETS)],
        env={"PATH": os.environ["PATH"], **passwords},
        capture_output=True,
        text=True,
    )


def test_placeholder_passwords_refuse_to_start_the_stack(raw: dict[str, Any]) -> None:
    # The example's placeholders pass interpolation, so a service must refuse them: the
    # preflight check, which every other service waits for.
    placeholders = example_env()
    data = resolve(placeholders)
    preflight = data["services"]["preflight"]
    result = _check_secrets(placeholders)
    assert result.returncode != 0
    for name in SECRETS:
        assert f"tau: {name} in .env is still the placeholder 'change-me-" in result.stderr
    assert "refusing to start" in result.stderr
    assert _check_secrets(real_env()).returncode == 0
    assert _check_secrets(real_env(MQTT_HA_PASSWORD="")).returncode == 0
    bad_url = _check_secrets(real_env(TAU_DAEMON_PASSWORD="has/slash@"))
    assert bad_url.returncode != 0
    assert "TAU_DAEMON_PASSWORD may only contain letters, digits" in bad_url.stderr
    # Wiring: the preflight runs that script with every password the file uses, and
    # nothing starts before it has succeeded.
    assert (
        "./config/check-secrets.sh:/tau/check-secrets.sh:ro"
        in raw["services"]["preflight"]["volumes"]
    )
    assert raw["services"]["preflight"]["entrypoint"] == ["/bin/sh", "/tau/check-secrets.sh"]
    used = set(re.findall(r"\$\{([A-Z_]*PASSWORD)", COMPOSE.read_text()))
    assert used == set(SECRETS)
    assert used <= set(raw["services"]["preflight"]["environment"])
    assert "change-me-postgres" in json.dumps(preflight)
    for name, service in raw["services"].items():
        if name in ("preflight", "demo"):
            continue
        assert service["depends_on"]["preflight"] == {
            "condition": "service_completed_successfully"
        }, name


def test_the_image_refuses_placeholders_too() -> None:
    for variable, value in (
        ("TAU_MQTT__PASSWORD", "change-me-mqtt"),
        ("TAU_DATABASE_URL", "postgresql://tau_daemon:change-me-daemon@database/tau"),
    ):
        result = subprocess.run(
            ["sh", str(ENTRYPOINT), "echo", "started"],
            env={"PATH": os.environ["PATH"], variable: value},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 78, variable
        assert "placeholder" in result.stderr and "started" not in result.stdout
    ok = subprocess.run(
        ["sh", str(ENTRYPOINT), "echo", "started"],
        env={"PATH": os.environ["PATH"], "TAU_MQTT__PASSWORD": "x" * 24},
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and ok.stdout == "started\n"


def test_readme_asks_for_compose_v2_and_checks_the_file_first() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Production: Docker Compose v2", 1)[1].split("\n## ", 1)[0]
    assert "Docker Compose v2" in section
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    compose_commands = [c for c in commands if c.startswith("docker")]
    assert compose_commands[0] == "docker compose config"
    assert "docker compose --profile demo up -d" in commands
    assert yaml.safe_load(COMPOSE.read_text())["name"] == "tau"  # v2 is stated, so `name:` stays
