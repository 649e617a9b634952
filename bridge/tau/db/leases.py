"""Node heartbeats and leases in PostgreSQL (schema 0003_nodes): the SQL and nothing else.

One `tick` is one transaction: heartbeat this node's row, renew the leases it holds,
take the ones it wants that are free (or expired, if it was a listed standby), let
go of the ones it no longer wants, and read the whole picture back. All times are
the database's (`now()`), so nodes never compare their own clocks. The rules are in
`tau.nodes.cluster` and README "Several bridges".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

LEADER = "leader"
_UNIVERSE = "universe:"


def universe_resource(universe: int) -> str:
    return f"{_UNIVERSE}{universe}"


def resource_universe(resource: str) -> int | None:
    """The universe a lease is for (None for the leader lease)."""
    if resource.startswith(_UNIVERSE):
        return int(resource[len(_UNIVERSE) :])
    return None


@dataclass(slots=True, frozen=True)
class NodeRow:
    name: str
    host: str
    pid: int | None
    version: str
    universes: Mapping[int, str]  # universe -> driver of the output configured there
    http: str | None
    alive: bool  # heartbeat not expired
    stopped: bool  # stopped cleanly (stopped_at set)
    heartbeat_age_s: float
    started_at: str


@dataclass(slots=True, frozen=True)
class Lease:
    resource: str
    holder: str
    remaining_s: float  # negative once expired
    standbys: tuple[str, ...]
    held_for_s: float

    @property
    def live(self) -> bool:
        return self.remaining_s > 0


@dataclass(slots=True, frozen=True)
class View:
    """Every node and lease, as the database saw them during one tick."""

    nodes: Mapping[str, NodeRow]
    leases: Mapping[str, Lease]

    def holder(self, resource: str) -> str | None:
        """Who holds `resource` now (an unexpired lease), if anyone."""
        lease = self.leases.get(resource)
        return lease.holder if lease is not None and lease.live else None


_NODES = """
SELECT name, host, pid, version, universes, http,
       expires_at > now() AS alive, stopped_at IS NOT NULL AS stopped,
       extract(epoch FROM now() - heartbeat_at)::float8 AS age,
       to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started
  FROM bridge_nodes ORDER BY name
"""
_LEASES = """
SELECT resource, holder, extract(epoch FROM expires_at - now())::float8 AS remaining,
       standbys, extract(epoch FROM now() - acquired_at)::float8 AS held
  FROM bridge_leases ORDER BY resource
"""


async def read_view(conn: asyncpg.Connection) -> View:
    nodes = {
        r["name"]: NodeRow(
            name=r["name"],
            host=r["host"],
            pid=r["pid"],
            version=r["version"],
            universes={int(u): str(d) for u, d in json.loads(r["universes"]).items()},
            http=r["http"],
            alive=r["alive"],
            stopped=r["stopped"],
            heartbeat_age_s=r["age"],
            started_at=r["started"],
        )
        for r in await conn.fetch(_NODES)
    }
    leases = {
        r["resource"]: Lease(
            r["resource"], r["holder"], r["remaining"], tuple(r["standbys"]), r["held"]
        )
        for r in await conn.fetch(_LEASES)
    }
    return View(nodes, leases)


@dataclass(slots=True, frozen=True)
class Registration:
    name: str
    host: str
    pid: int
    version: str
    universes: Mapping[int, str]
    http: str | None


async def register(
    conn: asyncpg.Connection, me: Registration, lease_s: float, *, force: bool = False
) -> NodeRow | None:
    """Write this node's row. Returns the *other* living process that holds the name
    (another host or pid with an unexpired heartbeat) instead, writing nothing, unless
    `force` (the caller knows that process is gone)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT host, pid, expires_at > now() AS alive FROM bridge_nodes "
            "WHERE name = $1 FOR UPDATE",
            me.name,
        )
        taken = row is not None and row["alive"] and (row["host"], row["pid"]) != (me.host, me.pid)
        if taken and not force:
            view = await read_view(conn)
            return view.nodes[me.name]
        await conn.execute(
            """
            INSERT INTO bridge_nodes AS n
                   (name, host, pid, version, universes, http, started_at, heartbeat_at,
                    expires_at, stopped_at)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, now(), now(),
                    now() + $7 * interval '1 second', NULL)
            ON CONFLICT (name) DO UPDATE
               SET host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version,
                   universes = EXCLUDED.universes, http = EXCLUDED.http,
                   started_at = now(), heartbeat_at = now(),
                   expires_at = EXCLUDED.expires_at, stopped_at = NULL
            """,
            me.name,
            me.host,
            me.pid,
            me.version,
            _universes_json(me.universes),
            me.http,
            lease_s,
        )
    return None


def _universes_json(universes: Mapping[int, str]) -> str:
    return json.dumps({str(u): d for u, d in sorted(universes.items())})


# One statement, so PostgreSQL runs and commits it without waiting on the client in
# between: a node cut off mid-round never leaves row locks behind for its standbys
# to queue on (they would, until the server noticed the dead connection).
_ROUND = """
WITH beat AS (
    UPDATE bridge_nodes
       SET heartbeat_at = now(), expires_at = now() + $2 * interval '1 second',
           stopped_at = NULL
     WHERE name = $1
    RETURNING name
), released AS (
    DELETE FROM bridge_leases WHERE holder = $1 AND NOT (resource = ANY($3::text[]))
    RETURNING resource
), held AS (
    INSERT INTO bridge_leases AS l
           (resource, holder, acquired_at, renewed_at, expires_at, standbys)
    SELECT r, $1, now(), now(), now() + $2 * interval '1 second',
           COALESCE(string_to_array(NULLIF(s, ''), ','), '{}')
      FROM unnest($3::text[], $4::text[]) AS w(r, s)
     WHERE EXISTS (SELECT 1 FROM bridge_nodes WHERE name = $1)
    ON CONFLICT (resource) DO UPDATE
       SET holder = EXCLUDED.holder,
           acquired_at = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now()
                              THEN l.acquired_at ELSE now() END,
           renewed_at = now(),
           expires_at = EXCLUDED.expires_at,
           standbys = EXCLUDED.standbys
     WHERE l.holder = EXCLUDED.holder
        OR (l.expires_at <= now()
            AND (($5 AND EXCLUDED.holder = ANY (l.standbys))
                 OR NOT EXISTS (SELECT 1 FROM bridge_nodes n
                                 WHERE n.name = l.holder AND n.stopped_at IS NULL)))
    RETURNING resource
)
SELECT (SELECT count(*) FROM beat) AS beat,
       (SELECT count(*) FROM released) AS released,
       ARRAY(SELECT resource FROM held) AS held
"""


async def tick(
    conn: asyncpg.Connection,
    name: str,
    lease_s: float,
    wanted: Mapping[str, Sequence[str]],
    takeover: bool = True,
) -> tuple[frozenset[str], View]:
    """One round: heartbeat, renew and acquire `wanted` (resource -> the standbys this
    node sees for it), release the rest; returns what this node holds and the view.
    Without `takeover`, an expired lease of another node is left alone (a free one, or
    one of a node that stopped or was forgotten, is still taken)."""
    resources = sorted(wanted)
    standbys = [",".join(sorted(wanted[r])) for r in resources]
    row = await conn.fetchrow(_ROUND, name, lease_s, resources, standbys, takeover)
    if row is None or not row["beat"]:
        raise LookupError(f"node {name!r} is not registered (forgotten while running?)")
    return frozenset(row["held"]), await read_view(conn)


async def update_universes(
    conn: asyncpg.Connection, name: str, universes: Mapping[int, str]
) -> None:
    await conn.execute(
        "UPDATE bridge_nodes SET universes = $2::jsonb WHERE name = $1",
        name,
        _universes_json(universes),
    )


async def stop(conn: asyncpg.Connection, name: str) -> None:
    """A clean stop: every lease goes at once (a standby takes over at its next tick)."""
    async with conn.transaction():
        await conn.execute("DELETE FROM bridge_leases WHERE holder = $1", name)
        await conn.execute(
            "UPDATE bridge_nodes SET stopped_at = now(), expires_at = now() WHERE name = $1",
            name,
        )


async def forget(conn: asyncpg.Connection, name: str) -> bool:
    """Remove a node that is gone for good (its leases go with it)."""
    status: str = await conn.execute("DELETE FROM bridge_nodes WHERE name = $1", name)
    return status == "DELETE 1"
