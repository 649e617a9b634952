"""The two setup paths meet: init.sql (+ upgrade) and Alembic alone give one schema."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from testkit.db import DATABASE_DIR, HEAD_REVISION, INIT_SQL, ROOT, psql, run_async, tool
from testkit.services import free_port

from tau.db.migrate import run_db_command, upgrade_head
from tau.errors import DatabaseError

BRIDGE = ROOT / "bridge"


def schema_dump(url: str) -> str:
    """`pg_dump --schema-only` without ownership, privileges, comments and SET noise."""
    cmd = [tool("pg_dump"), "--schema-only", "--no-owner", "--no-privileges", "--no-comments"]
    result = subprocess.run(
        [*cmd, "-d", url], capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        if "server version mismatch" in result.stderr:
            pytest.skip(f"pg_dump is older than the server: {result.stderr.strip()}")
        raise AssertionError(result.stderr)
    lines = [
        line
        for line in result.stdout.splitlines()
        if line.strip()
        and not line.startswith("--")
        and not re.match(r"^(SET |SELECT pg_catalog\.set_config|\\restrict|\\unrestrict)", line)
    ]
    return "\n".join(lines)


def version(url: str) -> list[str]:
    async def fetch() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            if await conn.fetchval("SELECT to_regclass('alembic_version')") is None:
                return []
            return [r[0] for r in await conn.fetch("SELECT version_num FROM alembic_version")]
        finally:
            await conn.close()

    return run_async(fetch)


def test_init_sql_is_generated_from_the_migrations() -> None:
    result = subprocess.run(
        [sys.executable, str(DATABASE_DIR / "build_init.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_both_setup_paths_give_the_same_schema(
    fresh_database: tuple[str, str], schema_url: str, tmp_path: Path
) -> None:
    # path A: `psql < init.sql` from an unrelated directory, then `alembic upgrade head`
    _, url_a = fresh_database
    psql(url_a, cwd=tmp_path, stdin=INIT_SQL.read_text())
    stamped = version(url_a)
    upgrade_head(url_a)
    assert version(url_a) == stamped == [HEAD_REVISION]
    # path B: Alembic alone, on an empty database
    b_name = f"{fresh_database[0]}_b"
    from testkit.db import create_database, drop_database

    admin = schema_url.rsplit("/", 1)[0] + "/postgres"
    url_b = create_database(admin, b_name, schema=False)
    try:
        upgrade_head(url_b)
        assert version(url_b) == [HEAD_REVISION]
        dump_a = schema_dump(url_a)
        assert "CREATE TABLE public.fixtures" in dump_a
        assert dump_a == schema_dump(url_b)
        # and the template the other tests use is the same schema too
        assert schema_dump(schema_url) == dump_a
    finally:
        drop_database(admin, b_name)


def test_downgrade_to_base_and_back(
    schema_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = schema_dump(schema_url)
    monkeypatch.setenv("TAU_DATABASE_URL", schema_url)
    assert run_db_command("downgrade", "base") == 0
    assert version(schema_url) == []
    leftover = schema_dump(schema_url)
    assert "CREATE TABLE public.alembic_version" in leftover
    assert "fixtures" not in leftover
    assert "FUNCTION" not in leftover
    assert run_db_command("upgrade", "head") == 0
    assert schema_dump(schema_url) == before
    capsys.readouterr()
    assert run_db_command("current", None) == 0
    assert f"{HEAD_REVISION} (head)" in capsys.readouterr().out


def test_alembic_command_from_bridge_dir(schema_url: str) -> None:
    env = {"TAU_DATABASE_URL": schema_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "current"],
        cwd=BRIDGE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"{HEAD_REVISION} (head)" in result.stdout


async def test_upgrade_head_is_safe_inside_a_running_loop(schema_url: str) -> None:
    upgrade_head(schema_url)  # already at head: a no-op, and no "loop already running"
    assert version(schema_url) == [HEAD_REVISION]


def test_errors_name_the_fix_and_hide_the_password(pg_admin_url: str) -> None:
    missing = re.sub(r"://([^@/]*)@", "://postgres:hunter2@", pg_admin_url)
    missing = missing.rsplit("/", 1)[0] + "/tau_no_such_database"
    with pytest.raises(DatabaseError) as err:
        upgrade_head(missing)
    assert "does not exist" in str(err.value)
    assert "hunter2" not in str(err.value)
    unreachable = f"postgresql://tau:hunter2@127.0.0.1:{free_port()}/tau"
    with pytest.raises(DatabaseError) as err:
        upgrade_head(unreachable)
    assert "cannot reach PostgreSQL" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_0004_keeps_imported_models_and_names_their_heads(
    schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Models imported before 0004 get their library-relative file, and per-head
    models their parent's source and part; after it two libraries may hold the same
    name while hand-made names stay unique."""
    monkeypatch.setenv("TAU_DATABASE_URL", schema_url)
    assert run_db_command("downgrade", "0005_effects_circadian") == 0
    dash = "\u2013"
    source = (
        '{"library": "qlcplus", "file": "/usr/share/qlcplus/fixtures/Acme/Acme-Bar.qxf",'
        ' "manufacturer": "Acme", "model": "Bar", "mode": "6ch"}'
    )

    async def insert() -> None:
        conn = await asyncpg.connect(schema_url)
        try:
            await conn.executemany(
                "INSERT INTO fixture_models (manufacturer, model, channels, heads, source)"
                " VALUES ('Acme', $1, $2::jsonb, $3::jsonb, $4::jsonb)",
                [
                    (
                        f"Bar {dash} 6ch",
                        '["red","green","blue","red","green","blue"]',
                        "[[1,2,3],[4,5,6]]",
                        source,
                    ),
                    (f"Bar {dash} 6ch {dash} head", '["red","green","blue"]', "[]", None),
                    ("Hand made", '["dimmer"]', "[]", None),
                ],
            )
        finally:
            await conn.close()

    run_async(insert)
    assert run_db_command("upgrade", "head") == 0

    async def check() -> None:
        conn = await asyncpg.connect(schema_url)
        try:
            rows = await conn.fetch(
                "SELECT model, source->>'file' AS file, source->>'part' AS part"
                " FROM fixture_models WHERE manufacturer = 'Acme' ORDER BY model"
            )
            assert [tuple(r) for r in rows] == [
                (f"Bar {dash} 6ch", "Acme/Acme-Bar.qxf", None),
                (f"Bar {dash} 6ch {dash} head", "Acme/Acme-Bar.qxf", "head"),
                ("Hand made", None, None),
            ]
            # the same name from the other library is a row of its own
            await conn.execute(
                "INSERT INTO fixture_models (manufacturer, model, channels, source) VALUES"
                " ('Acme', $1, '[\"red\"]', $2::jsonb)",
                f"Bar {dash} 6ch",
                '{"library": "ofl", "file": "acme/bar.json", "manufacturer": "Acme",'
                ' "model": "Bar", "mode": "6ch"}',
            )
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(
                    "INSERT INTO fixture_models (manufacturer, model, channels)"
                    " VALUES ('Acme', 'Hand made', '[\"dimmer\"]')"
                )
        finally:
            await conn.close()

    run_async(check)
