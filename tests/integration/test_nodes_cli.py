"""`tau nodes [--json]` and `tau nodes forget NAME` against a real PostgreSQL.

Nodes and leases are staged with SQL, relative to the server's `now()`, in the shapes
the lease loop leaves behind: alive (heartbeat valid), stopped (a clean stop set
`stopped_at`), lost (heartbeat expired without a goodbye).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from testkit.db import create_database, drop_database, sql

from tests.integration.cli import run_tau as tau

# name, host, version, configured universes, heartbeat age, heartbeat valid for, stopped
NODES = """
INSERT INTO bridge_nodes (name, host, pid, version, universes, heartbeat_at, expires_at,
                          stopped_at)
SELECT v.name, v.host, 100, v.version, v.universes::jsonb,
       now() - v.age::interval, now() - v.age::interval + v.valid::interval,
       CASE WHEN v.stopped = 1 THEN now() - v.age::interval END
  FROM (VALUES
    ('bridge-a', 'pi-floor1', '0.9.0', '{"1": "enttec_pro", "2": "artnet"}', '0.5 s', '60 s', 0),
    ('bridge-b', 'pi-floor2', '0.9.0', '{"2": "artnet", "3": "sacn"}', '0.2 s', '60 s', 0),
    ('bridge-c', 'pi-attic',  '0.9.0', '{"5": "artnet"}', '10 min', '2 s', 1),
    ('bridge-d', 'old-pc',    '0.8.0', '{"4": "artnet"}', '3 h', '2 s', 0),
    ('bridge-e', '',          '0.9.0', '{}', '0.1 s', '60 s', 0)
  ) AS v(name, host, version, universes, age, valid, stopped)
"""
# resource, holder, still valid for, standbys
LEASES = """
INSERT INTO bridge_leases (resource, holder, expires_at, standbys)
SELECT v.resource, v.holder, now() + v.valid::interval, v.standbys::text[]
  FROM (VALUES
    ('leader',     'bridge-a', '60 s',  '{bridge-b,bridge-e}'),
    ('universe:1', 'bridge-a', '60 s',  '{}'),
    ('universe:2', 'bridge-a', '60 s',  '{bridge-b}'),
    ('universe:3', 'bridge-b', '60 s',  '{bridge-b,bridge-e}'),
    ('universe:4', 'bridge-d', '-3 h',  '{}')
  ) AS v(resource, holder, valid, standbys)
"""


@pytest.fixture
def db_url(pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database with the demo home (fixtures on universes 1 and 2)."""
    name = f"tau_test_nodes_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name, seeds=True)
    monkeypatch.setenv("TAU_DATABASE_URL", url)
    try:
        yield url
    finally:
        drop_database(pg_admin_url, name)


def stage(url: str) -> None:
    sql(url, NODES)
    sql(url, LEASES)


def table(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line) for line in out.splitlines()]


def test_the_table_shows_state_leader_owned_and_standby_universes(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stage(db_url)
    # a fixture on universe 9, which no node outputs
    sql(db_url, "UPDATE fixtures SET universe = 9 WHERE slug = 'kitchen-ceiling'")
    rc, out, err = tau(capsys, "nodes")
    assert (rc, err) == (0, "")
    rows = table(out)
    assert rows[0] == ["NODE", "STATE", "LEADER", "OWNS", "STANDBY", "HEARTBEAT", "VERSION", "HOST"]
    without_heartbeat = [row[:5] + row[6:] for row in rows[1:6]]
    assert without_heartbeat == [
        ["bridge-a", "alive", "yes", "1,2", "-", "0.9.0", "pi-floor1"],
        # standby for 2: configured there and named by the holder
        ["bridge-b", "alive", "-", "3", "2", "0.9.0", "pi-floor2"],
        # stopped and lost nodes own nothing and stand by for nothing
        ["bridge-c", "stopped", "-", "-", "-", "0.9.0", "pi-attic"],
        ["bridge-d", "lost", "-", "-", "-", "0.8.0", "old-pc"],
        # no outputs of its own, but named a standby for 3
        ["bridge-e", "alive", "-", "-", "3", "0.9.0", "-"],
    ]
    heartbeats = [row[5] for row in rows[1:6]]
    for alive in (heartbeats[0], heartbeats[1], heartbeats[4]):
        assert re.fullmatch(r"\d+\.\d s ago", alive), heartbeats
    assert heartbeats[2:4] == ["10 min ago", "3 h ago"]
    assert rows[6:] == [
        ["no living owner: universe(s) 9 (their fixtures are unavailable until a node takes them)"]
    ]


def test_json_carries_the_same_view(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    stage(db_url)
    rc, out, _ = tau(capsys, "nodes", "--json")
    assert rc == 0
    view = json.loads(out)
    assert view["leader"] == "bridge-a"
    assert view["unowned"] == []  # universes 1 and 2 hold the demo's fixtures: both owned
    nodes = {node["name"]: node for node in view["nodes"]}
    assert list(nodes) == ["bridge-a", "bridge-b", "bridge-c", "bridge-d", "bridge-e"]
    a = nodes["bridge-a"]
    assert {k: a[k] for k in ("state", "alive", "leader", "owned", "standby", "version")} == {
        "state": "alive",
        "alive": True,
        "leader": True,
        "owned": [1, 2],
        "standby": [],
        "version": "0.9.0",
    }
    assert a["universes"] == {"1": "enttec_pro", "2": "artnet"}
    assert 0.5 <= a["heartbeat_s"] < 30
    assert nodes["bridge-b"]["owned"] == [3] and nodes["bridge-b"]["standby"] == [2]
    assert nodes["bridge-d"]["state"] == "lost" and not nodes["bridge-d"]["alive"]
    assert 3 * 3600 <= nodes["bridge-d"]["heartbeat_s"] < 3 * 3600 + 30
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", nodes["bridge-c"]["started_at"])


def test_an_expired_leader_lease_means_no_leader(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stage(db_url)
    sql(db_url, "UPDATE bridge_leases SET expires_at = now() - interval '1 s'")
    rc, out, _ = tau(capsys, "nodes")
    assert rc == 0
    rows = table(out)
    assert [row[2:4] for row in rows[1:6]] == [["-", "-"]] * 5
    assert "no leader: no living node holds the leader lease" in out.splitlines()
    # the demo's universes 1 and 2 and bridge-b's outputs (2, 3): nobody sends them now
    assert "no living owner: universe(s) 1-3 " in out
    view = json.loads(tau(capsys, "nodes", "--json")[1])
    assert view["leader"] is None and view["unowned"] == [1, 2, 3]


def test_no_node_yet_is_one_friendly_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert tau(capsys, "nodes") == (
        0,
        "no bridge has registered yet: start `tau run` "
        "(each node registers itself in the database)\n",
        "",
    )
    rc, out, _ = tau(capsys, "nodes", "--json")
    assert rc == 0
    # the demo home's universes: nobody sends them
    assert json.loads(out) == {"nodes": [], "leader": None, "unowned": [1, 2]}


def _rows(url: str) -> tuple[list[str], list[str]]:
    nodes = [r["name"] for r in sql(url, "SELECT name FROM bridge_nodes ORDER BY 1")]
    leases = [r["resource"] for r in sql(url, "SELECT resource FROM bridge_leases ORDER BY 1")]
    return nodes, leases


def test_forget_removes_a_lost_node_and_its_leases(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stage(db_url)
    assert tau(capsys, "nodes", "forget", "bridge-d") == (
        0,
        "forgot node 'bridge-d' and its 1 expired lease(s)\n",
        "",
    )
    assert tau(capsys, "nodes", "forget", "bridge-c") == (0, "forgot node 'bridge-c'\n", "")
    nodes, leases = _rows(db_url)
    assert nodes == ["bridge-a", "bridge-b", "bridge-e"]
    assert leases == ["leader", "universe:1", "universe:2", "universe:3"]
    out = tau(capsys, "nodes")[1]
    assert "bridge-d" not in out and "bridge-c" not in out


def test_forget_refuses_what_may_still_be_running(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stage(db_url)
    # a node that stopped a moment ago, and a lost node whose lease is still valid
    sql(
        db_url,
        "UPDATE bridge_nodes SET stopped_at = now(), expires_at = now() + interval '30 s'"
        " WHERE name = 'bridge-c'",
    )
    sql(
        db_url,
        "INSERT INTO bridge_leases (resource, holder, expires_at)"
        " VALUES ('universe:7', 'bridge-d', now() + interval '60 s')",
    )
    before = _rows(db_url)
    rc, out, err = tau(capsys, "nodes", "forget", "bridge-a")
    assert (rc, out) == (2, "")
    assert re.fullmatch(
        r"tau: node 'bridge-a' is alive \(its heartbeat is valid for another \d+\.\d s\): "
        r"stop its `tau run` first; forget is for a node that is gone for good\n",
        err,
    )
    rc, _, err = tau(capsys, "nodes", "forget", "bridge-c")
    assert rc == 2
    assert re.fullmatch(
        r"tau: node 'bridge-c' has just stopped; its heartbeat is valid for another "
        r"\d+\.\d s: forget it after that\n",
        err,
    )
    rc, _, err = tau(capsys, "nodes", "forget", "bridge-d")
    assert (rc, err) == (
        2,
        "tau: node 'bridge-d' still holds 1 unexpired lease(s): wait for them to run out "
        "(`tau nodes` shows what it owns), then forget it\n",
    )
    rc, _, err = tau(capsys, "nodes", "forget", "bridge-z")
    assert (rc, err) == (
        2,
        "tau: no node named 'bridge-z': the nodes are bridge-a, bridge-b, bridge-c, "
        "bridge-d, bridge-e (see `tau nodes`)\n",
    )
    assert _rows(db_url) == before


def test_forget_on_an_empty_table(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert tau(capsys, "nodes", "forget", "pi") == (
        2,
        "",
        "tau: no node named 'pi': no node has registered (see `tau nodes`)\n",
    )


def test_a_database_without_the_nodes_tables_says_to_upgrade(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(db_url, "DROP TABLE bridge_leases, bridge_nodes")
    for args in (("nodes",), ("nodes", "forget", "bridge-a")):
        assert tau(capsys, *args) == (
            2,
            "",
            "tau: the database has no Tau schema, or an older one: run `tau db upgrade`\n",
        )


def test_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAU_DATABASE_URL", "postgresql://tau:secret@127.0.0.1:9/tau")
    rc, out, err = tau(capsys, "nodes")
    assert (rc, out) == (2, "")
    assert err.startswith("tau: cannot reach PostgreSQL at postgresql://tau:***@127.0.0.1:9/tau")
    assert len(err.splitlines()) == 1 and "secret" not in err


# ----------------------------------------------------------------------- the README


def _several_bridges() -> str:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return readme.split("## Several bridges\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_nodes_configure_as_written() -> None:
    from tau.settings import DmxSettings, NodeSettings

    blocks = re.findall(r"```\n(.*?)```", _several_bridges(), re.S)
    lines = [line for line in blocks[0].splitlines() if line and not line.startswith("#")]
    nodes = {}
    for line in lines:
        match = re.fullmatch(r"TAU_NODE__NAME=(\S+) TAU_DMX__UNIVERSES='(.*)' tau run", line)
        assert match, line
        name, universes = match.groups()
        NodeSettings(name=name)
        nodes[name] = DmxSettings.model_validate({"universes": json.loads(universes)}).universes
    floor0, floor1 = nodes["floor0"], nodes["floor1"]
    shared = set(floor0) & set(floor1)
    assert shared == {10} and floor0[10] == floor1[10] and floor0[10].driver == "artnet"
    assert (floor0[1].driver, floor1[2].driver) == ("enttec_pro", "enttec_pro")


def test_the_readme_nodes_output_is_what_tau_nodes_prints(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    block = _several_bridges().split("$ tau nodes\n", 1)[1].split("```", 1)[0]
    shown = block.rstrip("\n").splitlines()
    # the README's situation: floor0 leads and owns its USB line and Art-Net 10, floor1
    # owns its USB line and stands by for 10; the demo home's universes moved onto them
    sql(
        db_url,
        "INSERT INTO bridge_nodes (name, host, version, universes, heartbeat_at, expires_at)"
        " VALUES ('floor0', 'pi-floor0', '0.1.0', '{\"1\": \"enttec_pro\", \"10\": \"artnet\"}',"
        "         now(), now() + interval '60 s'),"
        "        ('floor1', 'pi-floor1', '0.1.0', '{\"2\": \"enttec_pro\", \"10\": \"artnet\"}',"
        "         now(), now() + interval '60 s')",
    )
    sql(
        db_url,
        "INSERT INTO bridge_leases (resource, holder, expires_at, standbys)"
        " SELECT r, h, now() + interval '60 s', s::text[] FROM (VALUES"
        " ('leader', 'floor0', '{floor1}'), ('universe:1', 'floor0', '{}'),"
        " ('universe:10', 'floor0', '{floor1}'), ('universe:2', 'floor1', '{}')) AS v(r, h, s)",
    )
    rc, out, _ = tau(capsys, "nodes")
    assert rc == 0
    printed = out.rstrip("\n").splitlines()
    ages = re.compile(r"\d+\.\d s ago")
    assert [ages.sub("AGE", line) for line in printed] == [ages.sub("AGE", line) for line in shown]


# ------------------------------------------------------------- two running bridges


def _wait_view(
    capsys: pytest.CaptureFixture[str], check: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        rc, out, err = tau(capsys, "nodes", "--json")
        assert (rc, err) == (0, "")
        view: dict[str, Any] = json.loads(out)
        if check(view):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"`tau nodes` never showed it within {timeout} s: {view}")
        time.sleep(0.1)


def test_two_running_bridges_one_leader_and_a_clean_handover(
    bridge_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = bridge_factory.database(seeds=True)  # the demo home: universes 1 and 2
    monkeypatch.setenv("TAU_DATABASE_URL", url)
    a = bridge_factory(database_url=url, env={"TAU_NODE__NAME": "node-a"})
    b = bridge_factory(
        database_url=url,
        base_topic=a.base_topic,
        discovery_prefix=a.discovery_prefix,
        env={"TAU_NODE__NAME": "node-b"},
    )

    def settled(view: dict[str, Any]) -> bool:
        """Both alive, a leader, and the owner's renewal has named the other its standby."""
        alive = [n for n in view["nodes"] if n["alive"]]
        return (
            len(alive) == 2
            and view["leader"] is not None
            and sorted(alive[0]["owned"] + alive[1]["owned"]) == [1, 2]
            and alive[0]["standby"] == alive[1]["owned"]
            and alive[1]["standby"] == alive[0]["owned"]
        )

    view = _wait_view(capsys, settled, timeout=5)
    nodes = {n["name"]: n for n in view["nodes"]}
    assert sorted(nodes) == ["node-a", "node-b"]
    assert [n["name"] for n in view["nodes"] if n["leader"]] == [view["leader"]]
    # the demo's universes have no outputs anywhere: one node sends each, the other stands by
    owned = nodes["node-a"]["owned"] + nodes["node-b"]["owned"]
    assert sorted(owned) == [1, 2]
    for name, other in (("node-a", "node-b"), ("node-b", "node-a")):
        assert nodes[name]["standby"] == nodes[other]["owned"], view
        assert nodes[name]["version"] and nodes[name]["host"]
    rc, out, _ = tau(capsys, "nodes")
    rows = table(out)
    assert rc == 0 and [row[:2] for row in rows[1:]] == [["node-a", "alive"], ["node-b", "alive"]]
    assert [row[2] for row in rows[1:]].count("yes") == 1 and len(rows) == 3
    rc, _, err = tau(capsys, "nodes", "forget", "node-a")
    assert rc == 2 and "node 'node-a' is alive" in err

    # The leader stops cleanly: the other node leads and sends everything at once.
    leader, follower = (a, "node-b") if view["leader"] == "node-a" else (b, "node-a")
    assert leader.terminate() == 0
    view = _wait_view(capsys, lambda v: v["leader"] == follower, timeout=3)
    nodes = {n["name"]: n for n in view["nodes"]}
    gone = "node-a" if follower == "node-b" else "node-b"
    assert nodes[follower]["owned"] == [1, 2] and nodes[follower]["standby"] == []
    assert (nodes[gone]["state"], nodes[gone]["owned"]) == ("stopped", [])
    assert view["unowned"] == []
    assert tau(capsys, "nodes", "forget", gone) == (0, f"forgot node '{gone}'\n", "")
    assert [n["name"] for n in json.loads(tau(capsys, "nodes", "--json")[1])["nodes"]] == [follower]
