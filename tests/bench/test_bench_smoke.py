"""The bench keeps working: a tiny baseline + single-fixture run prints its table and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.services import MqttServer

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_quick_bench_prints_table_and_writes_json(
    pg_admin_url: str, mqtt_server: MqttServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env.update(TAU_TEST_DATABASE_URL=pg_admin_url, TAU_TEST_MQTT_URL=mqtt_server.url)
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "bench", "--quick", "--only", "baseline,single"]
    cmd += ["--samples", "50", "--results-dir", str(results)]
    done = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=80, check=False
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert table[0].startswith("| scenario | metric | p50 ms | p99 ms |")
    assert any(line.startswith("| baseline |") for line in table)
    assert any(line.startswith("| single |") for line in table)

    (path,) = results.glob("*.json")
    body = json.loads(path.read_text())
    assert body["machine"]["cores"] == os.cpu_count()
    assert len(body["machine"]["commit"]) == 40
    rows = {row["scenario"]: row for row in body["rows"]}
    assert rows["baseline"]["p50"] is not None
    single = rows["single"]
    assert single["p50"] is not None and single["p50"] > 0
    assert single["data"]["stats"]["n"] >= 25  # at 50/s vs 44 fps some commands coalesce
    assert "added_p50_ms" in single["data"]
