"""This bridge among several: which universes it sends and whether it leads.

Every node ticks every `lease_s / 8` on a connection of its own (`tau.db.leases.tick`):
heartbeat, renew, acquire, release, read the view. The rules:

- A node wants the leader lease, a lease for every universe it has an output for,
  and one for every universe of the installation that no node (alive or not) has an
  output for (a `virtual` universe: a single node owns everything, as before).
- Only a node listed as a standby at the holder's last renewal may take an expired
  lease: a node that joined later cannot know whether the holder, cut off from the
  database, is still sending. The holder lists the living nodes that want the same
  resource; a device universe (USB) has no standbys: it belongs to the node it is
  plugged into. A lease that is free (released by a clean stop) goes to anyone.
- A holder that cannot renew gives a resource up on its own clock, a quarter lease
  before the database lets a standby take it, but only when it listed a standby for
  it: with nobody to take over, a node rides out a database outage as one bridge
  always has. `Output.send_until` backs this up frame by frame.
- Nor does it give up while every standby it listed says, over MQTT, that it has lost
  the database too (`peer_database`: a report at most a quarter lease old, by both
  clocks): when PostgreSQL is away for everyone, nobody could take over, and the
  universes keep being sent. A node that gets the database back says so and takes no
  expired lease of another node for one lease, by when every holder that counted on
  its report has stopped (or renewed, if it got the database back too).
- A returning node never takes back a held lease.

`on_change(owned universes, leader)` runs in the event loop after every change.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import asyncpg

from tau import __version__
from tau.db import leases
from tau.db.connect import explain, plain_dsn, reason
from tau.db.leases import LEADER, Registration, View, resource_universe, universe_resource
from tau.errors import ConfigurationError, DatabaseError
from tau.nodes.rules import DEVICE_DRIVERS, Reporter, wanted
from tau.supervisor import Spawn, checkpoint, finish, unsupervised

log = logging.getLogger("tau.nodes")

OnChange = Callable[[frozenset[int], bool], None]


@dataclass(slots=True)
class _Held:
    deadline: float  # monotonic: give it up by then unless renewed (if it has standbys)
    standbys: set[str] = field(default_factory=set)  # listed in any tick since the last success


def _running(pid: int) -> bool:
    """Whether a process with this id runs on this computer."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's
    return True


class Cluster:
    def __init__(
        self,
        url: str,
        name: str,
        configured: Mapping[int, str],
        installation_universes: Callable[[], frozenset[int]],
        lease_s: float = 2.0,
        http: str | None = None,
    ) -> None:
        self._url = url
        self.name = name
        self.configured = dict(configured)  # universe -> driver
        self._installation_universes = installation_universes
        self.lease_s = lease_s
        self.tick_s = lease_s / 8
        self.margin_s = lease_s / 4
        self._http = http
        self._conn: asyncpg.Connection | None = None
        self._held: dict[str, _Held] = {}
        self._wanted: dict[str, list[str]] = {}
        self._listeners: list[OnChange] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()  # one tick at a time
        self._reporter = Reporter(name, self.configured)
        self.view = View({}, {})
        self.database_ok = False
        self.last_tick_t = 0.0
        self._lost_at: float | None = None
        self._takeover_after = 0.0  # monotonic: no expired lease of another node before
        # peer -> (monotonic time its report arrived, it has lost the database)
        self._peer_reports: dict[str, tuple[float, bool]] = {}
        # Called each round with this node's own database state, to tell the others.
        self.report_database: Callable[[bool], object] = lambda _lost: None

    # ------------------------------------------------------------------ queries
    @property
    def owned(self) -> frozenset[int]:
        return frozenset(u for r in self._held if (u := resource_universe(r)) is not None)

    @property
    def leader(self) -> bool:
        return LEADER in self._held

    @property
    def peers(self) -> list[str]:
        """Other nodes alive at the last tick."""
        return [n.name for n in self.view.nodes.values() if n.alive and n.name != self.name]

    @property
    def alone(self) -> bool:
        return not self.peers

    def standby(self) -> frozenset[int]:
        """Universes this node wants and another node holds."""
        return frozenset(
            u
            for r in self._wanted
            if r not in self._held and (u := resource_universe(r)) is not None
        )

    def unattended(self) -> frozenset[int]:
        """Universes this node sends that no living node could take over.

        Judged on the same view as `alone`: a standby listed at the round before (held
        standbys come from the view the round started from) that this round no longer
        saw alive takes nothing over, so its universe goes dark with this node."""
        alive = set(self.peers)
        return frozenset(
            u
            for r, h in self._held.items()
            if (u := resource_universe(r)) is not None and not h.standbys & alive
        )

    def deadline(self, universe: int) -> float | None:
        """When this node must stop sending `universe` unless the lease is renewed
        (None: no limit, since nobody could take it over)."""
        resource = universe_resource(universe)
        held = self._held.get(resource)
        if held is None or not self._may_give_up(resource, held):
            return None
        return self._effective_deadline(held, time.monotonic())

    def peer_database(self, node: str, lost: bool, sent_at: float) -> None:
        """Another node's report of its database connection (`sent_at`: its wall clock)."""
        if node == self.name or abs(time.time() - sent_at) > self.margin_s:
            return  # late (queued while the broker was away) or a clock too far off
        self._peer_reports[node] = (time.monotonic(), lost)

    def peer_lost_until(self, node: str) -> float | None:
        """Until when (monotonic) a report says `node` has lost the database; None if no
        report says so."""
        report = self._peer_reports.get(node)
        if report is None or not report[1]:
            return None
        return report[0] + self.margin_s

    def _effective_deadline(self, held: _Held, now: float) -> float:
        """The lease's own deadline, or later while every standby has reported, within the
        last quarter lease, that it lost the database too (nobody could take over)."""
        if now < held.deadline:
            return held.deadline
        until = float("inf")
        for standby in held.standbys:
            lost_until = self.peer_lost_until(standby)
            if lost_until is None:
                return held.deadline
            until = min(until, lost_until)
        return max(held.deadline, until)

    def add_listener(self, on_change: OnChange) -> None:
        self._listeners.append(on_change)

    # ---------------------------------------------------------------- lifecycle
    async def start(self, spawn: Spawn = unsupervised) -> None:
        """Register (waiting out a crashed predecessor's heartbeat) and take a first
        round of leases before the first frame; then keep ticking."""
        try:
            self._conn = await self._connect(5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise DatabaseError(explain(exc, self._url)) from None
        me = self._registration()
        give_up = time.monotonic() + self.lease_s + 1.0
        while (other := await leases.register(self._conn, me, self.lease_s)) is not None:
            if other.host == me.host and other.pid is not None and not _running(other.pid):
                # This computer's previous bridge under this name died (kill -9, a crash):
                # no need to wait for its heartbeat to run out.
                await leases.register(self._conn, me, self.lease_s, force=True)
                break
            if time.monotonic() > give_up:
                raise ConfigurationError(
                    f"node name {self.name!r} is in use by a running bridge on {other.host} "
                    f"(pid {other.pid}): give each bridge its own TAU_NODE__NAME"
                )
            await asyncio.sleep(self.tick_s)
        await self._tick()
        self._tasks = [spawn("cluster", self._run), spawn("cluster-deadlines", self._watch)]

    def _registration(self) -> Registration:
        return Registration(
            self.name, socket.gethostname(), os.getpid(), __version__, self.configured, self._http
        )

    async def _connect(self, connect_s: float) -> asyncpg.Connection:
        # Never wait on a lock longer than a round may take: a round that cannot finish
        # is retried at the next tick, and the deadlines decide meanwhile.
        wait_ms = str(int(self.margin_s * 1000))
        return await asyncpg.connect(
            plain_dsn(self._url),
            timeout=connect_s,
            server_settings={
                "lock_timeout": wait_ms,
                "idle_in_transaction_session_timeout": wait_ms,
                "application_name": f"tau node {self.name}"[:63],
            },
        )

    async def refresh(self) -> None:
        """Tick now (after an installation reload: new universes are owned at once).

        Only the round itself is timed: waiting for a round under way (the lock) is not
        the database being slow, and must not end a healthy lease connection."""
        try:
            await self._tick(timed=True)
        except Exception as exc:  # noqa: BLE001 - the loop retries
            self._lost_database(exc)

    async def halt(self) -> None:
        """Stop renewing and release nothing, as a crash would (tests of failover)."""
        tasks, self._tasks = self._tasks, []
        await finish(tasks, "cluster")
        if self._conn is not None:
            self._conn.terminate()

    async def stop(self) -> None:
        """Release every lease at once (the caller stopped sending first)."""
        tasks, self._tasks = self._tasks, []
        await finish(tasks, "cluster")
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await self._connect(2)
            await asyncio.wait_for(leases.stop(self._conn, self.name), timeout=2)
            log.info("event=node_stopped node=%s released=%d", self.name, len(self._held))
        except Exception as exc:  # noqa: BLE001 - the leases then expire by themselves
            log.warning(
                "event=node_stop_unrecorded node=%s error=%s: leases expire in %.1f s",
                self.name,
                reason(exc),
                self.lease_s,
            )
        finally:
            self._held.clear()
            if self._conn is not None:
                self._conn.terminate()

    # --------------------------------------------------------------------- loop
    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            checkpoint("cluster")
            try:
                await self._tick(timed=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported, then retried next tick
                self._lost_database(exc)

    async def _watch(self) -> None:
        """Give leases up on time even while a tick hangs on a database that went silent."""
        beat = 0
        while True:
            await asyncio.sleep(self.tick_s / 4)
            checkpoint("cluster-deadlines")
            self._check_deadlines()
            beat += 1
            if beat % 4 == 0 and not self.database_ok:
                self.report_database(True)  # each tick, however long a round hangs

    async def _tick(self, timed: bool = False) -> None:
        """One round, after any round under way; `timed`: the round (not the wait for
        the lock) must end within a quarter lease."""
        async with self._lock:
            if not timed:
                await self._tick_once()
                return
            async with asyncio.timeout(self.margin_s):
                await self._tick_once()

    async def _tick_once(self) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect(self.margin_s)
            if self._lost_at is not None:
                # Back after an outage: a holder may be sending on the strength of this
                # node's last "lost" report for a quarter lease yet; take nothing of
                # another node's before it has surely stopped.
                self._takeover_after = time.monotonic() + self.lease_s
                self.report_database(False)
        wanted = self._compute_wanted()
        for resource, held in self._held.items():
            held.standbys |= set(wanted.get(resource, ()))
        sent = time.monotonic()
        takeover = sent >= self._takeover_after
        try:
            got, view = await leases.tick(self._conn, self.name, self.lease_s, wanted, takeover)
        except LookupError:  # forgotten (`tau nodes forget`) while cut off: register again
            log.warning("event=node_reregistered node=%s: its row was gone", self.name)
            await leases.register(self._conn, self._registration(), self.lease_s)
            got, view = await leases.tick(self._conn, self.name, self.lease_s, wanted, takeover)
        self.view, self._wanted = view, wanted
        self.last_tick_t = time.monotonic()
        if self._lost_at is not None:
            log.info(
                "event=node_database_ok node=%s after=%.1fs",
                self.name,
                self.last_tick_t - self._lost_at,
            )
            self._lost_at = None
        self.database_ok = True
        before = (self.owned, self.leader)
        deadline = sent + self.lease_s - self.margin_s
        self._held = {r: _Held(deadline, set(wanted.get(r, ()))) for r in got}
        self._report(view)
        if (self.owned, self.leader) != before:
            self._changed(before)

    def _compute_wanted(self) -> dict[str, list[str]]:
        return wanted(self.view, self.name, self.configured, self._installation_universes())

    def _may_give_up(self, resource: str, held: _Held) -> bool:
        universe = resource_universe(resource)
        device = universe is not None and self.configured.get(universe) in DEVICE_DRIVERS
        return bool(held.standbys) and not device

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        lost = [
            r
            for r, h in self._held.items()
            if self._may_give_up(r, h) and now >= self._effective_deadline(h, now)
        ]
        if not lost:
            return
        before = (self.owned, self.leader)
        for resource in lost:
            standbys = sorted(self._held.pop(resource).standbys)
            log.warning(
                "event=lease_given_up node=%s resource=%s standbys=%s: the database has not "
                "confirmed this node's lease for %.1f s, so it stops here before a standby "
                "may take over",
                self.name,
                resource,
                ",".join(standbys),
                self.lease_s - self.margin_s,
            )
        self._changed(before)

    def _lost_database(self, exc: BaseException) -> None:
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.warning(
                "event=node_database_lost node=%s error=%s: keeping what no standby could "
                "take over; giving up the rest before their leases expire",
                self.name,
                reason(exc) if not isinstance(exc, TimeoutError) else "no answer in time",
            )
        self.database_ok = False
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    def _changed(self, before: tuple[frozenset[int], bool]) -> None:
        owned, leader = self.owned, self.leader
        gained, lost = sorted(owned - before[0]), sorted(before[0] - owned)
        if gained or lost or leader != before[1]:
            log.info(
                "event=node_changed node=%s leader=%s owns=%s gained=%s lost=%s",
                self.name,
                leader,
                sorted(owned),
                gained,
                lost,
            )
        for listener in self._listeners:
            try:
                listener(owned, leader)
            except Exception:
                log.exception("event=node_listener_failed node=%s", self.name)

    def _report(self, view: View) -> None:
        """Say once who holds what this node wants and does not hold."""
        for resource in self._wanted:
            if resource in self._held:
                self._reporter.held(resource)
            else:
                self._reporter.report(view, resource)
