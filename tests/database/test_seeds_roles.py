"""Seeds load in order (psql, docker-entrypoint-initdb.d, the demo loader); roles hold."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from testkit.db import HEAD_REVISION, INIT_SQL, ROOT, SEED_FILES, psql, run_async, tool

ROLES_SQL = ROOT / "config" / "roles.sql"
ROLES_INIT = ROOT / "config" / "postgres-roles.sh"
# How docker-compose.yml mounts them (see database/README.md); the demo home
# (04-test-fixtures.sql) is loaded by the `demo` profile's service instead.
INITDB_NAMES = {
    "01-init.sql": INIT_SQL,
    "02-fixture-models.sql": SEED_FILES[0],
    "03-switch-models.sql": SEED_FILES[1],
    "05-roles.sh": ROLES_INIT,
}


async def counts(url: str) -> tuple[int, ...]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM fixture_models), (SELECT count(*) FROM switch_models), "
            "(SELECT count(*) FROM fixtures), (SELECT count(*) FROM groups), "
            "(SELECT count(*) FROM group_hierarchy), (SELECT count(*) FROM group_fixtures), "
            "(SELECT count(*) FROM scene_values)"
        )
        return tuple(row)
    finally:
        await conn.close()


EXPECTED = (7, 9, 14, 11, 10, 14, 12)
# `tau run --demo` also loads 05-demo-stage.sql: two imported models, two fixtures in `garden`
EXPECTED_DEMO = (9, 9, 16, 11, 10, 16, 12)


async def test_seeds_load_in_order_with_psql_and_again(fresh_database: tuple[str, str]) -> None:
    _, url = fresh_database
    psql(url, "-f", str(INIT_SQL))
    for path in SEED_FILES:
        psql(url, "-f", str(path))
    assert await counts(url) == EXPECTED
    for path in SEED_FILES:  # idempotent
        psql(url, "-f", str(path))
    assert await counts(url) == EXPECTED


@pytest.mark.usefixtures("shared_roles")
def test_docker_entrypoint_initdb_order(fresh_database: tuple[str, str], tmp_path: Path) -> None:
    initdb = tmp_path / "docker-entrypoint-initdb.d"
    initdb.mkdir()
    for name, source in INITDB_NAMES.items():
        (initdb / name).symlink_to(source)
    ordered = sorted(os.listdir(initdb))  # the entrypoint runs them in sorted name order
    assert ordered[0] == "01-init.sql"
    name, url = fresh_database
    parts = urlsplit(url)
    # The postgres image's entrypoint: `psql -v ON_ERROR_STOP=1 -f file` for *.sql, runs
    # *.sh with POSTGRES_USER/POSTGRES_DB (and our role passwords) in the environment.
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGPASSWORD": parts.password or "",
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_DB": name,
        "TAU_OWNER_PASSWORD": "owner-secret-1",
        "TAU_DAEMON_PASSWORD": "daemon-secret-2",
        "TAU_ROLES_SQL": str(ROLES_SQL),
    }
    for entry in ordered:
        if entry.endswith(".sh"):
            result = subprocess.run(
                ["sh", str(initdb / entry)], env=env, capture_output=True, text=True, cwd="/"
            )
            assert result.returncode == 0, result.stderr
        else:
            psql(url, "--no-password", "-f", str(initdb / entry), cwd=Path("/"))
    # The catalogue, no fixtures: a production database starts empty.
    assert run_async(lambda: counts(url)) == (EXPECTED[0], EXPECTED[1], 0, 0, 0, 0, 0)
    roles = psql(
        url,
        "-tA",
        "-c",
        "SELECT rolname, rolpassword IS NOT NULL FROM pg_authid "
        "WHERE rolname IN ('tau_owner', 'tau_daemon') ORDER BY 1",
    )
    assert roles.split() == ["tau_daemon|t", "tau_owner|t"]
    owners = psql(
        url, "-tA", "-c", "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
    )
    assert owners.split() == ["tau_owner"]
    # The `demo` profile: the demo home of `tau run --demo`, loaded as tau_owner.
    demo = ROOT / "database" / "seeds" / "05-demo-stage.sql"
    psql(as_role(url, "tau_owner"), "--no-password", "-f", str(SEED_FILES[2]), "-f", str(demo))
    assert run_async(lambda: counts(url)) == EXPECTED_DEMO


async def test_seeds_load_through_asyncpg_in_one_transaction(schema_url: str) -> None:
    # what `tau run --demo` does: no psql meta-commands allowed in the seeds
    conn = await asyncpg.connect(schema_url)
    try:
        async with conn.transaction():
            for path in sorted((ROOT / "database" / "seeds").glob("0*.sql")):
                await conn.execute(path.read_text())
    finally:
        await conn.close()
    assert await counts(schema_url) == EXPECTED_DEMO


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


async def connect_as(url: str, role: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(as_role(url, role))
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        pytest.skip(f"the test server does not trust {role} without a password: {exc}")


@pytest.mark.usefixtures("shared_roles")
async def test_roles_least_privilege(seeded_url: str) -> None:
    psql(seeded_url, "-f", str(ROLES_SQL))
    psql(seeded_url, "-f", str(ROLES_SQL))  # idempotent
    daemon = await connect_as(seeded_url, "tau_daemon")
    try:
        assert await daemon.fetchval("SELECT count(*) FROM v_fixture_status") == 14
        assert await daemon.fetchval("SELECT version_num FROM alembic_version") == HEAD_REVISION
        fid = await daemon.fetchval("SELECT id FROM fixtures WHERE slug = 'kitchen-ceiling'")
        await daemon.execute(
            "INSERT INTO fixture_state (fixture_id, is_on, brightness) VALUES ($1, true, 100) "
            "ON CONFLICT (fixture_id) DO UPDATE SET brightness = 101",
            fid,
        )
        gid = await daemon.fetchval("SELECT id FROM groups WHERE slug = 'kitchen'")
        await daemon.execute("INSERT INTO group_state (group_id) VALUES ($1)", gid)
        # the bridge's CRUD API
        await daemon.execute(
            "INSERT INTO groups (name, slug) VALUES ('Porch', 'porch'); "
            "UPDATE groups SET name = 'Front porch' WHERE slug = 'porch'; "
            "DELETE FROM groups WHERE slug = 'porch'"
        )
        await daemon.execute("LISTEN tau_config")
        for statement in (
            "INSERT INTO fixture_models (model) VALUES ('x')",
            "DELETE FROM switch_models",
            "ALTER TABLE fixtures ADD COLUMN x int",
            "DROP TABLE fixture_state",
            "CREATE TABLE mine (x int)",
            "TRUNCATE fixtures",
            "DROP FUNCTION tau_notify_config()",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await daemon.execute(statement)
    finally:
        await daemon.close()
    owner = await connect_as(seeded_url, "tau_owner")
    try:
        tx = owner.transaction()
        await tx.start()
        await owner.execute("ALTER TABLE fixtures ADD COLUMN x int")
        await tx.rollback()
    finally:
        await owner.close()


def test_backup_and_restore_round_trip(
    seeded_url: str, fresh_database: tuple[str, str], tmp_path: Path
) -> None:
    # the README's commands: pg_dump to a file, psql it into an empty database
    backup = tmp_path / "backup.sql"
    subprocess.run([tool("pg_dump"), "-d", seeded_url, "-f", str(backup)], check=True, timeout=60)
    _, restored = fresh_database
    psql(restored, "-f", str(backup))
    assert run_async(lambda: counts(restored)) == EXPECTED
    assert (
        psql(restored, "-tA", "-c", "SELECT version_num FROM alembic_version")
        == f"{HEAD_REVISION}\n"
    )
    collide = (
        "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
        "SELECT 'x', 'x', fixture_model_id, 1, 1 FROM fixtures LIMIT 1"
    )
    with pytest.raises(RuntimeError, match="DMX collision"):
        psql(restored, "-c", collide)
