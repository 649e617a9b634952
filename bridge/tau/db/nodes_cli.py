"""`tau nodes [--json]` and `tau nodes forget NAME`: the bridges sharing one installation.

Read from `bridge_nodes` and `bridge_leases` (migration 0003_nodes) of the database the
command line uses (`TAU_DATABASE_URL`, else the embedded PostgreSQL). Every age and
every "still valid" is PostgreSQL's `now()`, the clock the leases are written with,
never this computer's. A node is

  alive    its heartbeat has not expired and it has not stopped;
  stopped  it said goodbye (a clean stop sets `stopped_at`);
  lost     its heartbeat expired without a goodbye (killed, powered off, or cut off
           from the database).

It owns the universes whose `universe:N` lease it holds unexpired, leads when it holds
the `leader` lease unexpired, and stands by (alive nodes only) for the universes it
has outputs for, or is named a standby for by another holder, that it does not own.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg

from tau.db import leases
from tau.db.leases import LEADER, resource_universe
from tau.errors import DatabaseError

COLUMNS = ("NODE", "STATE", "LEADER", "OWNS", "STANDBY", "HEARTBEAT", "VERSION", "HOST")
EMPTY = "no bridge has registered yet: start `tau run` (each node registers itself in the database)"
INSTALLATION_SQL = "SELECT DISTINCT universe FROM fixtures ORDER BY universe"


@dataclass
class Node:
    name: str
    state: str  # alive | stopped | lost
    alive: bool
    leader: bool
    owned: list[int]
    standby: list[int]
    heartbeat_s: float  # seconds ago, by the database's clock
    version: str
    host: str
    started_at: str  # ISO time, UTC
    universes: dict[str, str] = field(default_factory=dict)  # configured outputs: driver


@dataclass
class View:
    nodes: list[Node]
    leader: str | None
    unowned: list[int]  # universes with fixtures, or outputs of a living node, nobody sends


def add_parser(sub: Any) -> None:
    nodes = sub.add_parser(
        "nodes", help="the bridges sharing this installation: state, leader, universes"
    )
    nodes.add_argument("--json", action="store_true", help="print the view as JSON")
    nsub = nodes.add_subparsers(dest="nodes_command")
    forget = nsub.add_parser(
        "forget", help="remove a node that is gone for good (refused while it is alive)"
    )
    forget.add_argument("name")


def run_command(args: argparse.Namespace) -> int:
    from tau.db.tools import with_connection

    if args.nodes_command == "forget":
        message = with_connection(lambda conn: forget(conn, args.name))
        print(message)  # noqa: T201
        return 0
    view = with_connection(read_view)
    print(render_json(view) if args.json else render_table(view))  # noqa: T201
    return 0


async def read_view(conn: asyncpg.Connection) -> View:
    # One snapshot: every query of the transaction sees the same rows and the same now().
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        view = await leases.read_view(conn)
        installation = [row["universe"] for row in await conn.fetch(INSTALLATION_SQL)]
    return build_view(view, installation)


def build_view(view: leases.View, installation: list[int]) -> View:
    """The table's rows from the nodes' and leases' rows and the installation's universes."""
    owned: dict[str, set[int]] = {}
    named_standby: dict[str, set[int]] = {}
    for lease in view.leases.values():
        number = resource_universe(lease.resource)
        if number is None:
            continue
        if lease.live:
            owned.setdefault(lease.holder, set()).add(number)
        for name in lease.standbys:
            if name != lease.holder:
                named_standby.setdefault(name, set()).add(number)
    leader = view.holder(LEADER)
    nodes = []
    for row in view.nodes.values():
        state = "stopped" if row.stopped else "alive" if row.alive else "lost"
        mine = owned.get(row.name, set())
        candidates = set(row.universes) | named_standby.get(row.name, set())
        nodes.append(
            Node(
                name=row.name,
                state=state,
                alive=state == "alive",
                leader=leader == row.name,
                owned=sorted(mine),
                standby=sorted(candidates - mine) if state == "alive" else [],
                heartbeat_s=round(max(row.heartbeat_age_s, 0.0), 1),
                version=row.version,
                host=row.host,
                started_at=row.started_at,
                universes={str(u): row.universes[u] for u in sorted(row.universes)},
            )
        )
    living = [node for node in nodes if node.alive]
    served = {n for node in living for n in node.owned}
    wanted = set(installation) | {int(n) for node in living for n in node.universes}
    return View(nodes=nodes, leader=leader, unowned=sorted(wanted - served))


def universe_list(numbers: list[int]) -> str:
    """[1, 2, 3, 4, 7, 9, 10] -> "1-4,7,9,10": runs of three or more as ranges."""
    parts: list[str] = []
    run: list[int] = []
    for number in [*numbers, None]:
        if run and (number is None or number != run[-1] + 1):
            parts += [f"{run[0]}-{run[-1]}"] if len(run) >= 3 else [str(n) for n in run]
            run = []
        if number is not None:
            run.append(number)
    return ",".join(parts) or "-"


def age(seconds: float) -> str:
    """Seconds ago, in the unit a person reads at a glance."""
    if seconds < 60:
        return f"{seconds:.1f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86400:.0f} d ago"


def render_table(view: View) -> str:
    if not view.nodes:
        return EMPTY
    rows = [COLUMNS] + [
        (
            node.name,
            node.state,
            "yes" if node.leader else "-",
            universe_list(node.owned),
            universe_list(node.standby),
            age(node.heartbeat_s),
            node.version or "-",
            node.host or "-",
        )
        for node in view.nodes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if view.leader is None:
        lines.append("no leader: no living node holds the leader lease")
    if view.unowned:
        lines.append(
            f"no living owner: universe(s) {universe_list(view.unowned)} "
            "(their fixtures are unavailable until a node takes them)"
        )
    return "\n".join(lines)


def render_json(view: View) -> str:
    return json.dumps(asdict(view), indent=2)


async def forget(conn: asyncpg.Connection, name: str) -> str:
    """Delete a gone node's row (its leases go with it, ON DELETE CASCADE)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT expires_at > now() AS unexpired, stopped_at IS NOT NULL AS stopped,"
            " extract(epoch FROM expires_at - now())::float8 AS left_s"
            " FROM bridge_nodes WHERE name = $1 FOR UPDATE",
            name,
        )
        if row is None:
            known = [
                r["name"] for r in await conn.fetch("SELECT name FROM bridge_nodes ORDER BY 1")
            ]
            listed = f"the nodes are {', '.join(known)}" if known else "no node has registered"
            raise DatabaseError(f"no node named {name!r}: {listed} (see `tau nodes`)")
        if row["unexpired"]:
            if row["stopped"]:
                raise DatabaseError(
                    f"node {name!r} has just stopped; its heartbeat is valid for another "
                    f"{row['left_s']:.1f} s: forget it after that"
                )
            raise DatabaseError(
                f"node {name!r} is alive (its heartbeat is valid for another "
                f"{row['left_s']:.1f} s): stop its `tau run` first; forget is for a node "
                "that is gone for good"
            )
        held = await conn.fetchrow(
            "SELECT count(*) AS n, count(*) FILTER (WHERE expires_at > now()) AS valid"
            " FROM bridge_leases WHERE holder = $1",
            name,
        )
        if held["valid"]:
            raise DatabaseError(
                f"node {name!r} still holds {held['valid']} unexpired lease(s): "
                "wait for them to run out (`tau nodes` shows what it owns), then forget it"
            )
        await leases.forget(conn, name)
    what = f" and its {held['n']} expired lease(s)" if held["n"] else ""
    return f"forgot node {name!r}{what}"
