"""Security: MQTT credentials and TLS, the least-privilege database role, no leaked secrets.

Everything is real: the bridge is `tau run` in a subprocess, the broker is a
mosquitto this module starts with a password file and TLS listeners whose
certificates come from a throwaway CA (`SecureMosquitto`, `Pki`), PostgreSQL is the
suite's server with `config/roles.sql` applied, and `tau check` / `tau db` are the
CLI. Secrets are unique tokens, so finding one anywhere is a leak, whatever the
encoding around it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest
from testkit.bridge import BridgeProcess
from testkit.db import SEED_FILES, load_files, run_async
from testkit.mqtt import MqttProbe
from testkit.services import (
    CertPair,
    MqttServer,
    Pki,
    SecureMosquitto,
    free_port,
    mqtt_connack,
    require_mosquitto,
)

from tests.reliability.helpers import (
    QUIET_ENV,
    REPO,
    request,
    sql,
    sql_script,
    stored_states,
    wait_until,
)

pytestmark = [pytest.mark.security]

USER = "tau-bridge"
MQTT_PASSWORD = f"mqtt-{uuid.uuid4().hex}"
ROLES_SQL = REPO / "config" / "roles.sql"
SLUG = "study-desk"  # a seeded fixture (database/seeds/04-test-fixtures.sql)
REFUSED = "event=mqtt_refused"
NOT_ONLINE_WINDOW_S = 1.5  # retries at 0.25, 0.5, 1 s: several refusals fit in it


# ------------------------------------------------------------------ brokers, PKI


@pytest.fixture(scope="module")
def pki() -> Iterator[Pki]:
    require_mosquitto()
    # Not under pytest's tmp_path: that is private to us, and mosquitto reads the
    # certificates after dropping root privileges.
    root = Path(tempfile.mkdtemp(prefix="tau-pki-"))
    root.chmod(0o755)
    try:
        yield Pki(root / "ca")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def client_cert(pki: Pki) -> CertPair:
    return pki.issue("tau-bridge-client", client=True)


def _broker(
    pki: Pki, server_cert: CertPair | None = None, *, require_certificate: bool = False
) -> Iterator[SecureMosquitto]:
    broker = SecureMosquitto(
        {USER: MQTT_PASSWORD},
        pki=pki,
        server_cert=server_cert,
        require_certificate=require_certificate,
    )
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="module")
def broker(pki: Pki) -> Iterator[SecureMosquitto]:
    """Password file, anonymous off; TLS listener with a certificate for localhost/127.0.0.1."""
    yield from _broker(pki)


@pytest.fixture(scope="module")
def misnamed_broker(pki: Pki) -> Iterator[SecureMosquitto]:
    """A valid certificate from the same CA, but for a name the bridge does not dial."""
    yield from _broker(pki, server_cert=pki.issue("broker.example", sans=("DNS:broker.example",)))


@pytest.fixture(scope="module")
def mtls_broker(pki: Pki) -> Iterator[SecureMosquitto]:
    """The TLS listener demands a client certificate signed by the test CA."""
    yield from _broker(pki, require_certificate=True)


def tls_endpoint(broker: SecureMosquitto, host: str = "127.0.0.1") -> MqttServer:
    assert broker.tls_port is not None
    return MqttServer(host, broker.tls_port, "throwaway", "mosquitto")


def plain_endpoint(broker: SecureMosquitto) -> MqttServer:
    return MqttServer(broker.host, broker.port, "throwaway", "mosquitto")


def admin_probe(broker: SecureMosquitto) -> MqttProbe:
    """A watcher with valid credentials on the broker's password-only listener (`with` it)."""
    return MqttProbe(broker.host, broker.port, username=USER, password=MQTT_PASSWORD)


def credentials(password: str = MQTT_PASSWORD) -> dict[str, str]:
    return {"TAU_MQTT__USERNAME": USER, "TAU_MQTT__PASSWORD": password}


def ca(pki: Pki) -> dict[str, str]:
    return {"TAU_MQTT__TLS__CA_FILE": str(pki.ca.cert)}


# ----------------------------------------------------------------------- checks


def command_works(probe: MqttProbe, bridge: BridgeProcess, brightness: int = 77) -> None:
    """`<base>/fixture/<slug>/set` → the published state follows."""
    state = bridge.topic("fixture", SLUG)
    probe.subscribe(state)
    mark = probe.mark()
    probe.publish(state + "/set", json.dumps({"state": "ON", "brightness": brightness}))
    probe.wait_json(
        state, lambda d: d["state"] == "ON" and d["brightness"] == brightness, 5, after=mark
    )


def start_refused(
    bridge_factory, server: MqttServer, env: Mapping[str, str], watcher: MqttProbe
) -> tuple[BridgeProcess, str]:
    """Start a bridge the broker turns away; returns it and its one refusal line."""
    bridge = bridge_factory(seeds=True, mqtt=server, env={**QUIET_ENV, **env}, start=False)
    watcher.subscribe(bridge.state_topic)
    mark = watcher.mark()
    bridge.start()
    assert wait_until(lambda: REFUSED in bridge.log_text(), 10), bridge.log_tail()
    online = wait_until(
        lambda: any(
            m.payload == b"online" for m in watcher.messages(bridge.state_topic, after=mark)
        ),
        NOT_ONLINE_WINDOW_S,
    )
    assert not online, f"came online despite the refusal:\n{bridge.log_tail()}"
    assert bridge.running, f"a refused broker connection should be retried:\n{bridge.log_tail()}"
    log = bridge.log_text()
    assert "Traceback" not in log, log
    lines = [line for line in log.splitlines() if REFUSED in line]
    # One ERROR line, not one per retry (repeats are DEBUG).
    assert len(lines) == 1, lines
    assert " ERROR " in lines[0], lines[0]
    return bridge, lines[0]


def error_text(line: str) -> str:
    found = re.search(r"error=(['\"])(.*)\1$", line)
    assert found, line
    return found.group(2)


# ---------------------------------------------------------------- MQTT: auth + TLS


def test_password_and_tls_bridge_comes_online_and_handles_a_command(
    bridge_factory, broker, pki, figure
) -> None:
    # The broker really enforces authentication: no credentials, no session.
    assert mqtt_connack(broker.host, broker.port) == 5
    assert broker.tls_port is not None
    with MqttProbe(
        "127.0.0.1",
        broker.tls_port,
        username=USER,
        password=MQTT_PASSWORD,
        ca_file=str(pki.ca.cert),
    ) as probe:
        t0 = time.monotonic()
        bridge = bridge_factory(
            seeds=True,
            mqtt=tls_endpoint(broker),  # the TLS-only port: the session must be TLS
            env={**QUIET_ENV, **credentials(), **ca(pki)},
            wait_online=False,
        )
        bridge.wait_online(15, probe=probe)
        figure("online_over_tls_with_password_s", time.monotonic() - t0, "s")
        command_works(probe, bridge)
    assert "Traceback" not in bridge.log_text()


@pytest.mark.parametrize(
    ("env", "expected", "fix"),
    [
        pytest.param(
            credentials("not-the-password"),
            f"refused user '{USER}'",
            "check TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD",
            id="wrong-password",
        ),
        pytest.param(
            {},
            "refused a connection without credentials",
            "set TAU_MQTT__USERNAME and TAU_MQTT__PASSWORD",
            id="no-credentials",
        ),
    ],
)
def test_refused_credentials_are_one_clear_error_and_the_bridge_stays_offline(
    bridge_factory, broker, env, expected, fix
) -> None:
    with admin_probe(broker) as watcher:
        bridge, line = start_refused(bridge_factory, plain_endpoint(broker), env, watcher)
    text = error_text(line)
    assert text.startswith(f"the MQTT broker at {broker.host}:{broker.port} {expected}"), text
    assert text.endswith(fix), text
    assert "\n" not in text
    assert "not-the-password" not in bridge.log_text()


def test_tls_name_not_in_the_certificate_is_refused_clearly(
    bridge_factory, misnamed_broker, pki
) -> None:
    env = {**credentials(), **ca(pki)}
    with admin_probe(misnamed_broker) as watcher:
        _, line = start_refused(bridge_factory, tls_endpoint(misnamed_broker), env, watcher)
        text = error_text(line)
        assert text.startswith("the TLS certificate of the MQTT broker at 127.0.0.1:"), text
        assert "mismatch" in text and "'127.0.0.1'" in text, text
        assert text.endswith("set TAU_MQTT__HOST to a name the broker's certificate lists"), text

        # Control: the same certificate chain is fine once the name check is off, so the
        # refusal above was hostname verification and nothing else.
        insecure = bridge_factory(
            seeds=True,
            mqtt=tls_endpoint(misnamed_broker),
            env={**QUIET_ENV, **env, "TAU_MQTT__TLS__INSECURE": "true"},
            wait_online=False,
        )
        insecure.wait_online(15, probe=watcher)


def test_tls_certificate_from_an_unknown_ca_is_refused_clearly(
    bridge_factory, broker, tmp_path
) -> None:
    stranger = Pki(tmp_path / "other-ca")
    with admin_probe(broker) as watcher:
        _, line = start_refused(
            bridge_factory, tls_endpoint(broker), {**credentials(), **ca(stranger)}, watcher
        )
    text = error_text(line)
    # OpenSSL's wording depends on the chain the broker sends; the sentence and fix do not.
    assert text.startswith("the TLS certificate of the MQTT broker at 127.0.0.1:"), text
    assert text.endswith(
        "set TAU_MQTT__TLS__CA_FILE to the CA that signed the broker's certificate"
    )


def test_client_certificate_when_the_broker_requires_one(
    bridge_factory, mtls_broker, pki, client_cert
) -> None:
    server = tls_endpoint(mtls_broker, "localhost")  # by DNS name this time
    env = {**QUIET_ENV, **credentials(), **ca(pki)}
    with admin_probe(mtls_broker) as watcher:
        bridge = bridge_factory(
            seeds=True,
            mqtt=server,
            env={
                **env,
                "TAU_MQTT__TLS__CERT_FILE": str(client_cert.cert),
                "TAU_MQTT__TLS__KEY_FILE": str(client_cert.key),
            },
            wait_online=False,
        )
        bridge.wait_online(15, probe=watcher)
        command_works(watcher, bridge)

        # Without the certificate the broker ends the handshake: never online.
        bare = bridge_factory(seeds=True, mqtt=server, env=env, start=False)
        watcher.subscribe(bare.state_topic)
        mark = watcher.mark()
        bare.start()
        assert wait_until(lambda: "certificate required" in bare.log_text().lower(), 10), (
            bare.log_tail()
        )
        assert "TAU_MQTT__TLS__CERT_FILE" in bare.log_text(), bare.log_tail()  # the fix
        assert not wait_until(
            lambda: bool(watcher.messages(bare.state_topic, after=mark)), NOT_ONLINE_WINDOW_S
        )
        assert bare.running
        assert "Traceback" not in bare.log_text()


# ------------------------------------------------------------- database: roles


def with_login(url: str, user: str, secret: str | None = None, *, in_query: bool = False) -> str:
    """`url` logging in as `user`, with `secret` in the user info or as `?password=`."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(user, safe="")
    query = parts.query
    if secret is not None and in_query:
        query = f"password={quote(secret, safe='')}"
    elif secret is not None:
        userinfo += f":{quote(secret, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}", query=query))


def cli_env(**tau: str) -> dict[str, str]:
    """The CLI's environment: none of the developer's TAU_*, the package importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "bridge"), os.environ.get("PYTHONPATH")) if p
    )
    return {**env, **tau}


def tau_cli(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed `tau` entry point (`.venv/bin/tau`), else `python -m tau`."""
    script = Path(sys.executable).with_name("tau")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tau"]
    return subprocess.run(
        [*command, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def login_trusted(url: str) -> bool:
    async def attempt() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
            return False
        await conn.close()
        return True

    return run_async(attempt)


DAEMON_FORBIDDEN = (
    "ALTER TABLE fixtures ADD COLUMN x int",
    "ALTER TABLE fixtures DISABLE TRIGGER ALL",
    "ALTER FUNCTION tau_notify_config() OWNER TO tau_daemon",
    "DROP TABLE fixture_state",
    "DROP VIEW v_fixture_status",
    "DROP FUNCTION tau_notify_config()",
    "CREATE TABLE mine (x int)",
    "CREATE INDEX ON fixtures (name)",
    "CREATE FUNCTION mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE SCHEMA mine",
    "TRUNCATE fixtures",
    "UPDATE fixture_models SET min_level = 0",
    "ALTER ROLE tau_daemon SUPERUSER",
)


async def forbidden_statements(url: str) -> dict[str, str]:
    """Each statement run as the daemon (and rolled back): `denied` or what happened instead."""
    conn = await asyncpg.connect(url, timeout=5)
    outcome: dict[str, str] = {}
    try:
        for statement in DAEMON_FORBIDDEN:
            tx = conn.transaction()
            await tx.start()
            try:
                await conn.execute(statement)
                outcome[statement] = "ALLOWED"
            except asyncpg.InsufficientPrivilegeError:
                outcome[statement] = "denied"
            except asyncpg.PostgresError as exc:
                outcome[statement] = f"{type(exc).__name__}: {exc}"
            finally:
                await tx.rollback()
    finally:
        await conn.close()
    return outcome


@pytest.mark.usefixtures("shared_roles")
def test_bridge_runs_as_tau_daemon_and_migrations_as_tau_owner(
    bridge_factory, mqtt_probe, tmp_path, figure
) -> None:
    admin = bridge_factory.database(schema=False)  # empty; dropped at teardown
    owner, daemon = with_login(admin, "tau_owner"), with_login(admin, "tau_daemon")
    sql_script(admin, ROLES_SQL.read_text())  # roles exist, tau_owner may create
    if not (login_trusted(owner) and login_trusted(daemon)):
        pytest.skip("the test server does not trust tau_owner / tau_daemon without a password")

    env = cli_env(TAU_DATABASE_URL=owner)
    t0 = time.monotonic()
    upgraded = tau_cli("db", "upgrade", env=env, cwd=tmp_path)
    figure("db_upgrade_as_owner_s", time.monotonic() - t0, "s")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    foreign = sql(
        admin,
        "SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'S') "
        "AND pg_get_userbyid(c.relowner) <> 'tau_owner' "
        "UNION ALL SELECT p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p "
        "WHERE p.pronamespace = 'public'::regnamespace "
        "AND pg_get_userbyid(p.proowner) <> 'tau_owner'",
    )
    assert foreign == [], f"not created by the migration role: {foreign}"
    sql_script(admin, ROLES_SQL.read_text())  # the README's step after a migration
    load_files(owner, list(SEED_FILES))

    bridge = bridge_factory(database_url=daemon, env=QUIET_ENV)
    command_works(mqtt_probe, bridge, brightness=123)
    assert wait_until(lambda: stored_states(admin).get(SLUG, {}).get("brightness") == 123, 5), (
        stored_states(admin).get(SLUG)
    )
    # The bridge-request API edits the installation with the same role.
    reply = request(mqtt_probe, bridge, "group/add", {"name": "Porch", "slug": "porch"})
    assert reply["status"] == "ok", reply
    assert sql(admin, "SELECT name FROM groups WHERE slug = 'porch'") == [{"name": "Porch"}]
    sessions = sql(
        admin,
        "SELECT DISTINCT usename FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert sessions == [{"usename": "tau_daemon"}]
    log = bridge.log_text()
    assert "permission denied" not in log and "Traceback" not in log, log

    assert sql(
        admin,
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles "
        "WHERE rolname = 'tau_daemon'",
    ) == [{"rolsuper": False, "rolcreatedb": False, "rolcreaterole": False, "rolbypassrls": False}]
    outcome = run_async(lambda: forbidden_statements(daemon))
    assert {s: r for s, r in outcome.items() if r != "denied"} == {}

    # Migrations are the owner's job: the daemon cannot run one, and nothing changes.
    downgrade = tau_cli(
        "db", "downgrade", "base", env={**env, "TAU_DATABASE_URL": daemon}, cwd=tmp_path
    )
    assert downgrade.returncode == 2, downgrade.stdout + downgrade.stderr
    assert "Traceback" not in downgrade.stderr, downgrade.stderr
    message = downgrade.stderr.strip().splitlines()[-1]  # after Alembic's progress lines
    assert message.startswith("tau: migrating "), downgrade.stderr
    assert "must be owner" in message and "rolled back" in message, message
    assert sql(admin, "SELECT count(*) AS n FROM fixtures") == [{"n": 14}]


# ---------------------------------------------------------------------- secrets

DB_TOKEN = uuid.uuid4().hex
DB_SECRET = f"db-{DB_TOKEN}:/p@ss"  # URL-special characters: percent-encoded in the DSN
WRONG_TOKEN = uuid.uuid4().hex
# Unique tokens: found in any encoding (raw, percent-encoded, repr) means leaked.
SECRETS = {"MQTT password": MQTT_PASSWORD, "database password": DB_TOKEN, "wrong": WRONG_TOKEN}
DSN_STYLES = [
    pytest.param(False, id="password-in-userinfo"),
    pytest.param(True, id="password-param"),
]


@pytest.fixture
def secret_role(pg_admin_url: str) -> Iterator[str]:
    """A login role with a password (carried, even where 127.0.0.1 trusts everyone)."""
    role = f"tau_sec_{uuid.uuid4().hex[:8]}"
    sql(pg_admin_url, f"CREATE ROLE {role} LOGIN PASSWORD '{DB_SECRET}'")
    try:
        yield role
    finally:
        with contextlib.suppress(Exception):
            sql(pg_admin_url, f"DROP ROLE IF EXISTS {role}")


def leaks(texts: Mapping[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for where, text in texts.items():
        for name, secret in SECRETS.items():
            if secret in text:
                found.setdefault(where, []).append(name)
    return found


def http_get(port: int, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def http_listening(port: int) -> bool:
    try:
        return http_get(port, "/healthz")[0] in (200, 503)
    except OSError:
        return False


@pytest.mark.usefixtures("shared_roles")
@pytest.mark.parametrize("in_query", DSN_STYLES)
def test_secrets_never_appear_in_logs_topics_check_or_http(
    secret_role, bridge_factory, broker, pki, tmp_path, in_query
) -> None:
    admin = bridge_factory.database(seeds=True)
    sql_script(admin, ROLES_SQL.read_text())
    sql(admin, f"GRANT tau_daemon TO {secret_role}")  # least privilege here too
    dsn = with_login(admin, secret_role, DB_SECRET, in_query=in_query)
    http_port = free_port()
    bridge = bridge_factory(
        database_url=dsn,
        mqtt=tls_endpoint(broker),
        env={**QUIET_ENV, **credentials(), **ca(pki), "TAU_HTTP__PORT": str(http_port)},
        start=False,
    )
    with admin_probe(broker) as probe:
        probe.subscribe(bridge.topic("#"))
        probe.subscribe(f"{bridge.discovery_prefix}/#")
        bridge.start()
        bridge.wait_online(15, probe=probe)
        command_works(probe, bridge)
        assert wait_until(lambda: stored_states(admin).get(SLUG, {}).get("state") == "ON", 5)
        health = request(probe, bridge, "health_check")
        assert health["status"] == "ok", health
        mark = probe.mark()
        probe.publish(bridge.topic("fixture", SLUG, "set"), "{not json")
        probe.wait_for(bridge.topic("bridge", "log"), after=mark)
        assert wait_until(lambda: http_listening(http_port), 5)
        healthz_status, healthz = http_get(http_port, "/healthz")
        metrics_status, metrics = http_get(http_port, "/metrics")
        retained = probe.retained(bridge.base_topic)
        retained.update(probe.retained(bridge.discovery_prefix))
        seen = probe.messages("#")
    assert healthz_status == 200 and json.loads(healthz)["healthy"], healthz
    assert metrics_status == 200 and "tau_" in metrics, metrics[:500]
    assert bridge.topic("bridge", "info") in retained and bridge.state_topic in retained
    info = retained[bridge.topic("bridge", "info")].json()
    assert info["database"]["status"] == "ok" and info["broker"]["status"] == "connected", info

    check = tau_cli("check", env=bridge.env, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert re.search(r"^database\s+OK", check.stdout, re.M), check.stdout
    assert re.search(r"^broker\s+OK", check.stdout, re.M), check.stdout
    assert bridge.terminate() == 0
    log = bridge.log_text()

    texts = {
        "bridge log": log,
        "tau check": check.stdout + check.stderr,
        "/healthz": healthz,
        "/metrics": metrics,
        **{f"retained {topic}": msg.text for topic, msg in retained.items()},
        **{f"message #{msg.index} {msg.topic}": msg.text for msg in seen},
    }
    assert leaks(texts) == {}
    # Redacted, not merely absent: the log still says which database and role.
    masked = "password=***" if in_query else f"{secret_role}:***@"
    assert masked in log and masked in check.stdout, (log, check.stdout)
    assert "Traceback" not in log


@pytest.mark.parametrize("in_query", DSN_STYLES)
def test_secrets_stay_out_of_failure_messages(bridge_factory, broker, tmp_path, in_query) -> None:
    dead = with_login(
        f"postgresql://127.0.0.1:{free_port()}/tau", "tau_daemon", DB_SECRET, in_query=in_query
    )
    env = cli_env(
        TAU_DATABASE_URL=dead,
        TAU_MQTT__HOST=broker.host,
        TAU_MQTT__PORT=str(broker.port),
        **credentials(f"wrong-{WRONG_TOKEN}"),
    )
    check = tau_cli("check", env=env, cwd=tmp_path)
    assert check.returncode == 1, check.stdout + check.stderr
    assert re.search(r"^database\s+FAILED\s+cannot reach PostgreSQL", check.stdout, re.M)
    assert re.search(r"^broker\s+FAILED\s+.*TAU_MQTT__PASSWORD", check.stdout, re.M)

    current = tau_cli("db", "current", env=env, cwd=tmp_path)
    assert current.returncode == 2, current.stdout + current.stderr
    assert current.stderr.startswith("tau: cannot reach PostgreSQL at postgresql://tau_daemon")

    bridge = bridge_factory(database_url=dead, env=QUIET_ENV, wait_online=False)
    assert wait_until(lambda: "database_unreachable" in bridge.log_text(), 10), bridge.log_tail()
    bridge.close()

    texts = {
        "tau check": check.stdout + check.stderr,
        "tau db current": current.stdout + current.stderr,
        "bridge log": bridge.log_text(),
    }
    assert leaks(texts) == {}
    masked = "password=***" if in_query else "tau_daemon:***@"
    assert all(masked in text for text in texts.values()), texts
