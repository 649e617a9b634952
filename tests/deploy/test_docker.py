"""Static checks of the production deployment: Dockerfile, docker-compose.yml, mosquitto.conf."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
SCHEMA = Path(__file__).with_name("compose-spec.json")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (kw, _) in enumerate(steps) if kw == "FROM")
    return steps[last_from:]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; `make test` installs it with the dev extras")
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification() -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_validation_catches_a_broken_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  bridge:\n    restart: sometimes-maybe\n    ports: 1883\n")
    result = subprocess.run(
        [_tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_image_is_multi_stage_slim_and_runs_as_non_root() -> None:
    steps = _instructions()
    bases = [args for kw, args in steps if kw == "FROM"]
    assert len(bases) >= 2, "multi-stage build expected"
    assert any(kw == "ARG" and "python:3.12-slim" in args for kw, args in steps)
    users = [args for kw, args in _final_stage() if kw == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    useradd = " ".join(args for kw, args in _final_stage() if kw == "RUN" and "useradd" in args)
    assert "--groups dialout" in useradd, "the tau user must be in dialout for serial widgets"
    assert re.search(r"--uid\s+" + re.escape(user) + r"\b", useradd)


def test_image_checks_health_and_migrates_at_start() -> None:
    final = _final_stage()
    health = [args for kw, args in final if kw == "HEALTHCHECK"]
    assert health, "HEALTHCHECK missing"
    assert "/healthz" in health[0]
    assert "TAU_HTTP__PORT" in health[0]
    assert "curl" not in health[0]
    entrypoint = [args for kw, args in final if kw == "ENTRYPOINT"]
    cmd = [args for kw, args in final if kw == "CMD"]
    assert entrypoint == ['["docker-entrypoint.sh"]']
    assert cmd == ['["tau", "run", "--no-view"]']
    script = (REPO / "config" / "docker-entrypoint.sh").read_text()
    assert "tau db upgrade" in script
    assert 'exec "$@"' in script


def test_no_secrets_baked_into_the_image() -> None:
    for kw, args in _instructions():
        if kw in {"ENV", "ARG", "LABEL"}:
            assert not re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL", args, re.I), args
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    for entry in (".env", ".git", ".venv", "tau.toml"):
        assert entry in ignored


def test_shell_scripts_are_valid_posix_sh() -> None:
    for script in sorted((REPO / "config").glob("*.sh")):
        assert script.stat().st_mode & 0o111, f"{script.name} must be executable"
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_postgres_is_not_published(compose: dict[str, Any]) -> None:
    database = compose["services"]["database"]
    assert "ports" not in database
    assert database.get("network_mode") != "host"
    assert database["networks"] == ["backend"]
    assert compose["networks"]["backend"]["internal"] is True
    assert database["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(database["healthcheck"]["test"])


def test_initdb_mounts_exist(compose: dict[str, Any]) -> None:
    sources = [
        volume.split(":")[0]
        for volume in compose["services"]["database"]["volumes"]
        if ":/docker-entrypoint-initdb.d/" in volume
    ]
    missing = [source for source in sources if not (REPO / source).is_file()]
    assert not missing, f"mounted files missing from the repository: {missing}"


def test_database_has_a_named_volume(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["database"]["volumes"]
    assert "database:/var/lib/postgresql/data" in volumes
    assert "database" in compose["volumes"]


def test_mqtt_requires_authentication(compose: dict[str, Any]) -> None:
    mqtt = compose["services"]["mqtt"]
    assert mqtt["image"].startswith("eclipse-mosquitto:2")
    assert "./config/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro" in mqtt["volumes"]
    assert any(v.endswith(":/mosquitto/data") for v in mqtt["volumes"]), "persistence volume"
    assert "1883:1883" in mqtt["ports"]
    conf = [
        line.split("#")[0].split()
        for line in (REPO / "config" / "mosquitto.conf").read_text().splitlines()
    ]
    settings = {words[0]: words[1:] for words in conf if words}
    assert settings["allow_anonymous"] == ["false"]
    assert settings["password_file"] == ["/mosquitto/data/passwd"]
    assert "mosquitto_passwd" in (REPO / "config" / "mosquitto-start.sh").read_text()


def test_bridge_service(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]
    assert bridge["build"] == "."
    assert bridge["restart"] == "unless-stopped"
    assert bridge["group_add"] == ["dialout"]
    assert "devices" not in bridge, "the serial mapping stays a commented example"
    assert "/dev/ttyUSB0" in COMPOSE.read_text()
    assert {name: dep["condition"] for name, dep in bridge["depends_on"].items()} == {
        "preflight": "service_completed_successfully",
        "migrate": "service_completed_successfully",
        "database": "service_healthy",
        "mqtt": "service_healthy",
    }
    env = bridge["environment"]
    assert env["TAU_DATABASE_URL"].startswith("postgresql://")
    assert "@database:5432/" in env["TAU_DATABASE_URL"]
    assert env["TAU_MQTT__HOST"] == "mqtt"
    assert env["TAU_HTTP__PORT"] == "8080"
    assert env["TAU_MQTT__USERNAME"].startswith("${MQTT_USERNAME")
    assert env["TAU_MQTT__PASSWORD"].startswith("${MQTT_PASSWORD")


def test_every_compose_variable_is_in_the_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    example = (REPO / "config" / "tau.env.example").read_text()
    defined = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.M))
    assert used <= defined, f"add to config/tau.env.example: {sorted(used - defined)}"
