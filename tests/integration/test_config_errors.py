"""Every configuration mistake is one line: the setting as written, what is wrong, an example.

`tau run` and `tau check` run as the user runs them (subprocesses); each must exit 2
with one line per mistake, no traceback and none of pydantic's vocabulary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYDANTIC_WORDS = ("Input should", "pattern", "Field required", "discriminator", "[key]", "tag")
ARTNET = '{"1": {"driver": "artnet", "host": "192.168.1.50"}}'


def _tau(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    full["PYTHONPATH"] = str(REPO / "bridge")
    # Nothing must be contacted: a setting error stops Tau before any connection.
    full.update({"TAU_MQTT__PORT": "1", **env})
    return subprocess.run(
        [sys.executable, "-m", "tau", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# (environment, the setting named, words of the problem, the example given)
CASES = {
    "bad json": (
        {"TAU_DMX__UNIVERSES": "not json"},
        "TAU_DMX__UNIVERSES:",
        "is not valid JSON",
        'e.g. TAU_DMX__UNIVERSES=\'{"1": {"driver": "artnet"',
    ),
    "not a url": (
        {"TAU_DATABASE_URL": "not a url"},
        "TAU_DATABASE_URL:",
        "is not a PostgreSQL URL",
        "e.g. TAU_DATABASE_URL=postgresql://",
    ),
    "url with a bad port": (
        {"TAU_DATABASE_URL": "postgresql://tau:pw@db:fivefourthreetwo/tau"},
        "TAU_DATABASE_URL:",
        "port that is not a number",
        "e.g. TAU_DATABASE_URL=postgresql://",
    ),
    "trailing slash": (
        {"TAU_MQTT__BASE_TOPIC": "tau2/"},
        "TAU_MQTT__BASE_TOPIC:",
        "ends with '/'",
        "e.g. TAU_MQTT__BASE_TOPIC=tau",
    ),
    "leading slash": (
        {"TAU_MQTT__BASE_TOPIC": "/tau2"},
        "TAU_MQTT__BASE_TOPIC:",
        "starts with '/'",
        "e.g. TAU_MQTT__BASE_TOPIC=tau",
    ),
    "doubled slash": (
        {"TAU_MQTT__DISCOVERY_PREFIX": "home//assistant"},
        "TAU_MQTT__DISCOVERY_PREFIX:",
        "empty level",
        "e.g. TAU_MQTT__DISCOVERY_PREFIX=homeassistant",
    ),
    "wildcard": (
        {"TAU_MQTT__BASE_TOPIC": "tau/#"},
        "TAU_MQTT__BASE_TOPIC:",
        "wildcard",
        "e.g. TAU_MQTT__BASE_TOPIC=tau",
    ),
    "whitespace": (
        {"TAU_MQTT__BASE_TOPIC": "my tau"},
        "TAU_MQTT__BASE_TOPIC:",
        "space",
        "e.g. TAU_MQTT__BASE_TOPIC=tau",
    ),
    "unknown driver": (
        {"TAU_DMX__UNIVERSES": '{"1": {"driver": "artnett", "host": "10.0.0.5"}}'},
        "TAU_DMX__UNIVERSES (key '1.driver' in its JSON):",
        "driver 'artnett' is unknown; it must be one of virtual, enttec_pro, open_dmx, artnet",
        """e.g. TAU_DMX__UNIVERSES='{"1": {"driver": "artnet", "host": "10.0.0.5"}}'""",
    ),
    "no driver": (
        {"TAU_DMX__UNIVERSES": '{"1": {"host": "10.0.0.5"}}'},
        "TAU_DMX__UNIVERSES (key '1.driver' in its JSON):",
        'has no "driver"; say which one it is: one of virtual, enttec_pro, open_dmx, artnet, sacn',
        """e.g. TAU_DMX__UNIVERSES='{"1": {"host": "10.0.0.5", "driver": "artnet"}}'""",
    ),
    "missing host": (
        {"TAU_DMX__UNIVERSES": '{"1": {"driver": "artnet"}}'},
        "TAU_DMX__UNIVERSES (key '1.host' in its JSON):",
        "is required",
        f"e.g. TAU_DMX__UNIVERSES='{ARTNET}'",
    ),
    "port out of range": (
        {"TAU_MQTT__PORT": "99999"},
        "TAU_MQTT__PORT:",
        "must be between 1 and 65535, got '99999'",
        "e.g. TAU_MQTT__PORT=1883",
    ),
    "fps out of range": (
        {"TAU_DMX__FPS": "0"},
        "TAU_DMX__FPS:",
        "must be more than 0 and at most 100",
        "e.g. TAU_DMX__FPS=44.0",
    ),
    "universe number out of range in the JSON": (
        {"TAU_DMX__UNIVERSES": '{"1": {"driver": "sacn", "priority": 250}}'},
        "TAU_DMX__UNIVERSES (key '1.priority' in its JSON):",
        "must be between 0 and 200, got 250",
        """e.g. TAU_DMX__UNIVERSES='{"1": {"driver": "sacn", "priority": 100}}'""",
    ),
    "not a number": (
        {"TAU_MQTT__KEEPALIVE_S": "soon"},
        "TAU_MQTT__KEEPALIVE_S:",
        "must be a whole number, got 'soon'",
        "e.g. TAU_MQTT__KEEPALIVE_S=30",
    ),
    "one of a few words": (
        {"TAU_LOG_LEVEL": "LOUD"},
        "TAU_LOG_LEVEL:",
        "must be one of DEBUG, INFO, WARNING, ERROR",
        "e.g. TAU_LOG_LEVEL=INFO",
    ),
    "misspelt setting": (
        {"TAU_MQTT__HOTS": "broker.lan"},
        "TAU_MQTT__HOTS:",
        "is not a setting here; did you mean 'host'?",
        "",
    ),
}


def _assert_one_clear_line(text: str, name: str, problem: str, example: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    line = lines[0]
    assert name in line and problem in line and example in line, line
    assert "Traceback" not in text
    for word in PYDANTIC_WORDS:
        assert word not in line.replace("'1.driver'", ""), (word, line)
    return line


@pytest.mark.parametrize("case", list(CASES))
def test_tau_run_says_one_line(case: str, tmp_path: Path) -> None:
    env, name, problem, example = CASES[case]
    result = _tau("run", "--no-view", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    line = _assert_one_clear_line(result.stderr, name, problem, example)
    assert line.startswith(f"tau: {name}")


@pytest.mark.parametrize("case", list(CASES))
def test_tau_check_says_one_line(case: str, tmp_path: Path) -> None:
    env, name, problem, example = CASES[case]
    result = _tau("check", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = _assert_one_clear_line(result.stdout, name, problem, example)
    assert re.match(rf"configuration\s+FAILED\s+{re.escape(name)}", line), line


def test_nested_variables_are_named_as_the_user_would_write_them(tmp_path: Path) -> None:
    result = _tau("run", env={"TAU_DMX__UNIVERSES__1__DRIVER": "artnet"}, cwd=tmp_path)
    assert result.returncode == 2
    _assert_one_clear_line(
        result.stderr,
        "TAU_DMX__UNIVERSES__1__HOST:",
        "is required",
        "e.g. TAU_DMX__UNIVERSES__1__HOST=192.168.1.50",
    )
    # never a variable that does not exist (the discriminator tag is not a key)
    assert "ARTNET__HOST" not in result.stderr


def test_the_toml_file_is_named_by_table_and_key(tmp_path: Path) -> None:
    (tmp_path / "tau.toml").write_text(
        '[mqtt]\nport = 0\nbase_topic = "tau/"\n\n'
        '[dmx.universes.1]\ndriver = "artnet"\n\n[dmx.universes.2]\ndriver = "laser"\n'
    )
    result = _tau("run", env={}, cwd=tmp_path)
    # the environment (TAU_MQTT__PORT=1 from _tau) wins over the file for the port
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        """tau: tau.toml [mqtt] base_topic: 'tau/' ends with '/'; Tau adds the '/' before """
        """each topic itself; e.g. base_topic = "tau\"""",
        'tau: tau.toml [dmx.universes.1] host: is required but not set; e.g. host = "192.168.1.50"',
        "tau: tau.toml [dmx.universes.2] driver: driver 'laser' is unknown; it must be one of "
        'virtual, enttec_pro, open_dmx, artnet, sacn; e.g. driver = "artnet"',
    ]


def test_a_broken_toml_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "tau.toml").write_text("[mqtt\nport = 1883\n")
    result = _tau("run", env={}, cwd=tmp_path)
    assert result.returncode == 2
    _assert_one_clear_line(result.stderr, "tau.toml:", "is not valid TOML", "tau.example.toml")


def test_secrets_are_not_echoed(tmp_path: Path) -> None:
    secret = "hunter2-very-secret"
    result = _tau(
        "run", env={"TAU_DATABASE_URL": f"postgresql://tau:{secret}@db:port/tau"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert secret not in result.stderr
    assert "TAU_DATABASE_URL" in result.stderr


def test_a_url_asyncpg_refuses_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=sometimes"
    result = _tau("run", "--no-view", env={"TAU_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    tau_lines = [line for line in result.stderr.splitlines() if line.startswith("tau: ")]
    assert tau_lines == [
        "tau: TAU_DATABASE_URL: is not a usable PostgreSQL URL (`sslmode` parameter must be one "
        "of: disable, allow, prefer, require, verify-ca, verify-full); "
        "e.g. TAU_DATABASE_URL=postgresql://tau:secret@127.0.0.1:5432/tau"
    ]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = _tau("run", env={"TAU_MQTT__PORT": "0", "TAU_LOG_LEVEL": "DEBUG"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("tau: TAU_MQTT__PORT: must be between")
