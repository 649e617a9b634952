"""Several bridges' leases against a real PostgreSQL: `tau.nodes.cluster` in-process.

Each `Cluster` is one node's lease loop, exactly as `tau run` uses it, with a short
lease (1 s) so failovers take about a second. A node "dies" when its loop is stopped
without releasing anything (kill -9, power loss); a node is "cut off" from the
database by a TCP proxy that stops forwarding.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
import pytest_asyncio
from testkit.proxy import TcpProxy

from tau.db import leases
from tau.db.leases import Registration, universe_resource
from tau.nodes.cluster import Cluster

LEASE_S = 1.0
NETWORK = "artnet"
DEVICE = "enttec_pro"


class Node:
    """One node's cluster, with a record of when it gained and lost what."""

    def __init__(self, url: str, name: str, configured: dict[int, str], universes: set[int]):
        self.cluster = Cluster(url, name, configured, lambda: frozenset(universes), LEASE_S)
        self.changes: list[tuple[float, frozenset[int], bool]] = []
        self.cluster.add_listener(
            lambda owned, lead: self.changes.append((time.monotonic(), owned, lead))
        )

    async def start(self) -> Node:
        await self.cluster.start()
        return self

    async def die(self) -> None:
        """Stop dead: no release, no stopped_at (the leases expire by themselves)."""
        await self.cluster.halt()

    def when(self, predicate: Callable[[frozenset[int], bool], bool]) -> float | None:
        return next((t for t, owned, lead in self.changes if predicate(owned, lead)), None)


async def eventually(check: Callable[[], bool], within_s: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within_s:
            raise AssertionError(f"not within {within_s} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def steadily(check: Callable[[], bool], for_s: float) -> None:
    """`check` holds the whole time (polled): fails at the first moment it does not."""
    start = time.monotonic()
    while time.monotonic() - start < for_s:
        assert check(), f"no longer true after {time.monotonic() - start:.2f} s"
        await asyncio.sleep(0.02)
    assert check()


def _proxied(url: str) -> tuple[TcpProxy, str]:
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    return proxy, url.replace(host_port, f"127.0.0.1:{proxy.port}")


def _cut(proxy: TcpProxy) -> None:
    proxy.stall("both")  # the connection open now goes silent ...
    proxy.cut()  # ... and new ones are refused


@pytest_asyncio.fixture(loop_scope="function")
async def nodes(schema_url: str) -> AsyncIterator[list[Node]]:
    made: list[Node] = []
    yield made
    for node in made:
        await node.die()


async def start(
    nodes: list[Node], url: str, name: str, configured: dict[int, str], universes: set[int]
) -> Node:
    node = Node(url, name, configured, universes)
    nodes.append(node)
    return await node.start()


async def test_a_node_alone_owns_every_universe_and_leads(
    schema_url: str, nodes: list[Node]
) -> None:
    a = await start(nodes, schema_url, "a", {1: NETWORK, 7: DEVICE}, {1, 2, 3})
    assert a.cluster.owned == {1, 2, 3, 7}  # configured ones and the installation's
    assert a.cluster.leader
    assert a.cluster.alone
    conn = await asyncpg.connect(schema_url)
    try:
        view = await leases.read_view(conn)
    finally:
        await conn.close()
    assert view.nodes["a"].alive and view.nodes["a"].universes == {1: NETWORK, 7: DEVICE}
    assert {r: lease.holder for r, lease in view.leases.items()} == {
        "leader": "a",
        "universe:1": "a",
        "universe:2": "a",
        "universe:3": "a",
        "universe:7": "a",
    }


async def test_a_listed_standby_takes_over_a_dead_owner_within_the_lease(
    schema_url: str, nodes: list[Node]
) -> None:
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    b = await start(nodes, schema_url, "b", {1: NETWORK}, {1})
    assert b.cluster.owned == frozenset() and not b.cluster.leader
    assert b.cluster.standby() == {1}
    # a lists b at its next renewal
    await eventually(lambda: a.cluster.view.leases["universe:1"].standbys == ("b",), 2)
    await a.die()
    died = time.monotonic()
    await eventually(lambda: b.cluster.owned == {1} and b.cluster.leader, 3 * LEASE_S)
    took = time.monotonic() - died
    assert took <= LEASE_S + 2 * b.cluster.tick_s + 0.3, took


async def test_a_node_that_joined_after_the_owner_died_takes_nothing_and_says_why(
    schema_url: str, nodes: list[Node], caplog: pytest.LogCaptureFixture
) -> None:
    """It cannot know whether the owner, cut off from the database, still sends."""
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    await a.die()
    with caplog.at_level(logging.WARNING, logger="tau.nodes"):
        b = await start(nodes, schema_url, "b", {1: NETWORK}, {1})
        await steadily(
            lambda: b.cluster.owned == frozenset() and not b.cluster.leader, 2.5 * LEASE_S
        )
    assert b.cluster.owned == frozenset() and not b.cluster.leader
    warnings = [r.getMessage() for r in caplog.records if "lease_orphaned" in r.getMessage()]
    # once per resource (leader, universe:1), not once per tick
    assert len(warnings) == 2, warnings
    assert all("`tau nodes forget a`" in w for w in warnings)


async def test_forgetting_a_dead_node_frees_what_it_held(
    schema_url: str, nodes: list[Node]
) -> None:
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    await a.die()
    b = await start(nodes, schema_url, "b", {1: NETWORK}, {1})
    await steadily(lambda: 1 not in b.cluster.owned, 1.5 * LEASE_S)
    conn = await asyncpg.connect(schema_url)
    try:
        assert await leases.forget(conn, "a")
        assert not await leases.forget(conn, "a")
    finally:
        await conn.close()
    await eventually(lambda: b.cluster.owned == {1} and b.cluster.leader, 2)


async def test_a_returning_node_takes_nothing_back(schema_url: str, nodes: list[Node]) -> None:
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    b = await start(nodes, schema_url, "b", {1: NETWORK}, {1})
    await eventually(lambda: a.cluster.view.leases["universe:1"].standbys == ("b",), 2)
    await a.die()
    await eventually(lambda: b.cluster.owned == {1}, 3 * LEASE_S)
    again = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    await asyncio.sleep(3 * again.cluster.tick_s)
    assert again.cluster.owned == frozenset() and not again.cluster.leader
    assert again.cluster.standby() == {1}
    assert b.cluster.owned == {1} and b.cluster.leader


async def test_a_clean_stop_hands_over_at_the_next_tick(schema_url: str, nodes: list[Node]) -> None:
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    b = await start(nodes, schema_url, "b", {1: NETWORK}, {1})
    await a.cluster.stop()
    took = await eventually(lambda: b.cluster.owned == {1} and b.cluster.leader, 2)
    assert took <= 3 * b.cluster.tick_s, took
    conn = await asyncpg.connect(schema_url)
    try:
        view = await leases.read_view(conn)
    finally:
        await conn.close()
    assert view.nodes["a"].stopped and not view.nodes["a"].alive


async def test_a_universe_whose_standby_stopped_is_unattended_as_soon_as_the_node_is_alone(
    schema_url: str, nodes: list[Node]
) -> None:
    """At a clean stop a node says `offline` for what no living node could take over
    and, alone, `offline` for the bridge: both from one view of who lives (the round
    that first misses the stopped standby must not still count it as one)."""
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    b = await start(nodes, schema_url, "b", {1: NETWORK}, {1})
    await eventually(lambda: a.cluster.view.leases["universe:1"].standbys == ("b",), 2)
    assert a.cluster.unattended() == frozenset() and not a.cluster.alone
    await b.cluster.stop()
    nodes.remove(b)
    await eventually(lambda: a.cluster.alone, 2)
    assert a.cluster.unattended() == {1}  # the very round that saw b gone


async def test_one_device_universe_on_two_nodes_is_an_error_naming_the_owner(
    schema_url: str, nodes: list[Node], caplog: pytest.LogCaptureFixture
) -> None:
    a = await start(nodes, schema_url, "a", {1: DEVICE}, {1})
    with caplog.at_level(logging.ERROR, logger="tau.nodes"):
        b = await start(nodes, schema_url, "b", {1: DEVICE}, {1})
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors
    assert "universe 1 is a USB device universe on this node, but node 'a' outputs it" in errors[0]
    assert "TAU_DMX__UNIVERSES" in errors[0]
    assert 1 not in b.cluster.owned
    # a device universe has no standby: b never takes it, even from a dead a
    await a.die()
    await steadily(lambda: 1 not in b.cluster.owned, 2.5 * LEASE_S)


async def test_cut_off_from_the_database_the_owner_stops_before_the_standby_starts(
    schema_url: str, nodes: list[Node]
) -> None:
    proxy, via_proxy = _proxied(schema_url)
    try:
        a = await start(nodes, via_proxy, "a", {1: NETWORK}, {1})
        b = await start(nodes, schema_url, "b", {1: NETWORK}, {1})
        await eventually(lambda: a.cluster.view.leases["universe:1"].standbys == ("b",), 2)
        deadline = a.cluster.deadline(1)
        assert deadline is not None
        _cut(proxy)
        cut = time.monotonic()
        await eventually(lambda: b.cluster.owned == {1}, 3 * LEASE_S)
        gave_up = a.when(lambda owned, _lead: 1 not in owned)
        took = b.when(lambda owned, _lead: 1 in owned)
        assert gave_up is not None and took is not None
        assert gave_up < took, (gave_up - cut, took - cut)
        assert took - cut <= LEASE_S + 3 * b.cluster.tick_s + 0.3
        # the output's own deadline had passed by then too: no frame after it
        final = a.cluster.deadline(1)
        assert final is None  # given up: nothing left to send
    finally:
        proxy.close()


async def test_without_a_standby_a_node_rides_out_a_database_outage(
    schema_url: str, nodes: list[Node]
) -> None:
    proxy, via_proxy = _proxied(schema_url)
    try:
        a = await start(nodes, via_proxy, "a", {1: NETWORK, 2: DEVICE}, {1, 2})
        _cut(proxy)
        await steadily(lambda: a.cluster.owned == {1, 2} and a.cluster.leader, 3 * LEASE_S)
        assert not a.cluster.database_ok
        assert a.cluster.deadline(1) is None  # nobody could take it over
        proxy.restore()
        await eventually(lambda: a.cluster.database_ok, 3)
        assert a.cluster.owned == {1, 2}
    finally:
        proxy.close()


async def test_a_name_in_use_by_a_living_process_is_refused(schema_url: str) -> None:
    conn = await asyncpg.connect(schema_url)
    try:
        me = Registration("hall", "pi-hall", 4242, "1", {1: NETWORK}, None)
        assert await leases.register(conn, me, 30) is None
        other = Registration("hall", "pi-attic", os.getpid(), "1", {}, None)
        found = await leases.register(conn, other, 30)
        assert found is not None and (found.host, found.pid) == ("pi-hall", 4242)
        # the same process registering again (a restart that kept its pid) is fine
        assert await leases.register(conn, me, 30) is None
        # lease rows name a known resource
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO bridge_leases (resource, holder, expires_at) "
                "VALUES ('universe:x', 'hall', now())"
            )
        assert universe_resource(3) == "universe:3"
    finally:
        await conn.close()


async def test_a_node_forgotten_while_running_registers_again(
    schema_url: str, nodes: list[Node]
) -> None:
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    conn = await asyncpg.connect(schema_url)
    try:
        assert await leases.forget(conn, "a")
        assert "a" not in (await leases.read_view(conn)).nodes
        await asyncio.sleep(3 * a.cluster.tick_s)
        view = await leases.read_view(conn)
    finally:
        await conn.close()
    assert view.nodes["a"].alive
    assert a.cluster.owned == {1} and a.cluster.leader


async def test_with_the_database_away_for_everyone_the_owner_keeps_sending(
    schema_url: str, nodes: list[Node]
) -> None:
    """Every standby says it lost PostgreSQL too (over MQTT, here wired directly): nobody
    could take over, so the owner keeps its universe; when a standby gets the database
    back, the owner stops before that standby may start."""
    proxy_a, url_a = _proxied(schema_url)
    proxy_b, url_b = _proxied(schema_url)
    try:
        a = await start(nodes, url_a, "a", {1: NETWORK}, {1})
        b = await start(nodes, url_b, "b", {1: NETWORK}, {1})
        a.cluster.report_database = lambda lost: b.cluster.peer_database("a", lost, time.time())
        b.cluster.report_database = lambda lost: a.cluster.peer_database("b", lost, time.time())
        await eventually(lambda: a.cluster.view.leases["universe:1"].standbys == ("b",), 2)
        _cut(proxy_a)
        _cut(proxy_b)
        cut = time.monotonic()
        await steadily(lambda: a.cluster.owned == {1} and a.cluster.leader, 3 * LEASE_S)
        until = a.cluster.deadline(1)
        assert until is not None and until > time.monotonic()  # held by b's reports
        assert b.cluster.owned == frozenset()
        # b gets the database back, a does not
        proxy_b.restore()
        back = time.monotonic()
        await eventually(lambda: b.cluster.owned == {1} and b.cluster.leader, 4 * LEASE_S)
        gave_up = a.when(lambda owned, _lead: 1 not in owned)
        took = b.when(lambda owned, _lead: 1 in owned)
        assert gave_up is not None and took is not None
        assert cut + 2.5 * LEASE_S < gave_up < took, (gave_up - back, took - back)
        assert took - back >= LEASE_S  # b waited out a's last reliance on its reports
        assert took - back <= LEASE_S + 1.0
    finally:
        proxy_a.close()
        proxy_b.close()


async def test_a_late_report_counts_for_nothing(schema_url: str, nodes: list[Node]) -> None:
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    a.cluster.peer_database("b", True, time.time() - 5)  # queued while the broker was away
    a.cluster.peer_database("a", True, time.time())  # its own, echoed back
    assert a.cluster._peer_reports == {}


async def test_a_restart_after_a_crash_on_this_computer_takes_the_name_at_once(
    schema_url: str, nodes: list[Node]
) -> None:
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    conn = await asyncpg.connect(schema_url)
    try:
        crashed = Registration("hall", socket.gethostname(), dead.pid, "1", {1: NETWORK}, None)
        assert await leases.register(conn, crashed, 30) is None  # heartbeat good for 30 s
    finally:
        await conn.close()
    started = time.monotonic()
    hall = await start(nodes, schema_url, "hall", {1: NETWORK}, {1})
    assert time.monotonic() - started < LEASE_S
    assert hall.cluster.owned == {1} and hall.cluster.leader


async def test_refresh_times_its_own_round_not_the_wait_for_a_round_under_way(
    schema_url: str, nodes: list[Node], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tau.nodes")
    a = await start(nodes, schema_url, "a", {1: NETWORK}, {1})
    lock = a.cluster._lock  # a slow round under way holds it past the round's timeout
    await lock.acquire()
    refresh = asyncio.create_task(a.cluster.refresh())
    await asyncio.sleep(2 * a.cluster.margin_s)
    lock.release()
    await asyncio.wait_for(refresh, 5)
    assert a.cluster.database_ok
    assert "node_database_lost" not in caplog.text
    assert a.cluster.owned == {1}
