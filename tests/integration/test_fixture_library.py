"""The whole QLC+ fixture library (Debian's qlcplus-data) through the importer."""

from __future__ import annotations

import re
import shlex
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tau.fixtures import Definition, DefinitionError
from tau.fixtures.library import INSTALL_HINT, QLC_SYSTEM, definition_files, parse_all

# The share of modes that import as drivable models, measured on qlcplus-data 4.12.6:
# 3,554 of 3,706 (95.9 %). The rest are built-in-program modes without a blackout, fog
# and haze machines, colour macros and wheels with no white / all-colours and off pair,
# strobes that only flash, pan/tilt-only scanners (see README "Your fixtures").
MIN_SHARE = 0.9589

pytestmark = pytest.mark.skipif(
    not QLC_SYSTEM.is_dir() or not any(QLC_SYSTEM.rglob("*.qxf")),
    reason=f"QLC+ fixture library not installed: {INSTALL_HINT}",
)


def test_whole_qlc_library_imports(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    files = list(definition_files([QLC_SYSTEM]))
    errors: list[str] = []
    models = skipped = 0
    reasons: Counter[str] = Counter()
    notes = 0
    for _, result in parse_all([QLC_SYSTEM]):
        if isinstance(result, DefinitionError):
            errors.append(str(result))
            continue
        assert isinstance(result, Definition)
        models += len(result.models)
        skipped += len(result.skipped)
        notes += sum(len(m.notes) for m in result.models)
        for skip in result.skipped:
            assert skip.reason.strip(), skip
            reasons[re.sub(r"'[^']*'", "'…'", skip.reason).split(" among ")[0]] += 1
        for model in result.models:
            assert 1 <= model.footprint <= 512
            assert any(c.role not in ("fixed", "cct") for c in model.channels), model.full_name
    elapsed = time.perf_counter() - start
    share = models / (models + skipped)
    with capsys.disabled():
        print(
            f"\nQLC+ library: {len(files)} files, {models + skipped} modes, {models} drivable "
            f"({share:.1%}), {skipped} skipped, {notes} channels noted, {elapsed:.1f} s"
        )
        for reason, count in reasons.most_common():
            print(f"  skipped {count:4d}: {reason}")
    assert errors == []
    assert len(files) > 1000
    assert share >= MIN_SHARE
    assert elapsed <= 30


def test_whole_library_into_the_database_twice(
    pg_admin_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from testkit.db import create_database, drop_database

    from tau.cli import main

    name = f"tau_test_library_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("TAU_DATABASE_URL", create_database(pg_admin_url, name))
    try:
        start = time.perf_counter()
        assert main(["fixtures", "import", str(QLC_SYSTEM)]) == 0
        first = time.perf_counter() - start
        summary = capsys.readouterr().out.splitlines()
        # every drivable model passes the database's rules; a second import changes nothing
        assert re.search(r" (\d+) new, 0 updated, 0 unchanged, 0 refused;", summary[-2])
        assert main(["fixtures", "import", str(QLC_SYSTEM)]) == 0
        again = capsys.readouterr().out.splitlines()
        assert re.search(r" 0 new, 0 updated, \d+ unchanged, 0 refused;", again[-2])
        with capsys.disabled():
            print(f"\n{summary[-2]}\n(first import {first:.1f} s)")
        assert first <= 30
    finally:
        drop_database(pg_admin_url, name)


def test_search_answers_within_a_second(capsys: pytest.CaptureFixture[str]) -> None:
    from tau.cli import main

    for text in ("par", "american dj dotz", "zzz-no-such-fixture"):
        start = time.perf_counter()
        main(["fixtures", "search", *text.split()])
        assert time.perf_counter() - start <= 1, text
    out = capsys.readouterr().out
    assert "American DJ \u2013 Dotz Par: 3 Channel (3 ch), 4 Channel (4 ch)" in out


README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_your_fixtures_runs_as_written(
    pg_admin_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every `tau` line of README "Your fixtures", in order, on a fresh database; the
    patch sheet and the collision message are the ones the README shows."""
    from testkit.db import create_database, drop_database

    from tau.cli import main

    section = README.read_text().split("## Your fixtures", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    commands = [line for line in blocks[0][1].splitlines() if line.strip()]
    assert commands[0] == "sudo apt install qlcplus-data"  # installed: the module's skip
    sheet = blocks[1][1]
    name = f"tau_test_readme_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("TAU_DATABASE_URL", create_database(pg_admin_url, name))
    monkeypatch.delenv("TAU_FIXTURES__PATHS", raising=False)
    try:
        out = ""
        for line in commands[1:]:
            args = shlex.split(line)
            assert args[0] == "tau", line
            assert main(args[1:]) == 0, line
            out = capsys.readouterr().out
        assert out == sheet
        collide = commands[5].replace("--address 17", "--address 16")
        assert main(shlex.split(collide)[1:]) == 2
        message = re.search(r"instead: `(tau: DMX\s+collision:.*?)`", section, re.S)
        assert message is not None
        assert capsys.readouterr().err == " ".join(message.group(1).split()) + "\n"
    finally:
        drop_database(pg_admin_url, name)
