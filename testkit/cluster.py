"""`Cluster`: several bridge nodes sharing one installation (one database, one broker).

    cluster = Cluster(database_url=url, mqtt=mqtt_server, log_dir=tmp_path, nodes=[
        Node("alpha", {"1": {"driver": "enttec_pro", "port": widget.port}, "3": artnet}),
        Node("bravo", {"3": artnet}),
    ])
    cluster.start()                       # every node up and heartbeating
    cluster.wait_holder("universe:3")     # -> "alpha" or "bravo"
    cluster["alpha"].kill()
    cluster.close()

Every node is a `BridgeProcess` with the same base topic and discovery prefix and
its own `TAU_NODE__NAME`; a node may reach the database through its own DSN (a
`TcpProxy` in front of PostgreSQL, to cut that node alone off). Who holds what is
read where the bridges keep it: the `bridge_nodes` and `bridge_leases` tables.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.bridge import BridgeError, BridgeProcess
from testkit.db import sql
from testkit.mqtt import Message, MqttProbe
from testkit.services import MqttServer


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    universes: Mapping[str, Mapping[str, Any]]
    env: Mapping[str, str] = field(default_factory=dict)
    database_url: str | None = None  # default: the cluster's


@dataclass(frozen=True, slots=True)
class Lease:
    resource: str
    holder: str
    standbys: tuple[str, ...]
    expires_in: float  # seconds, by the database's clock (negative: expired)


class Cluster:
    def __init__(
        self,
        *,
        database_url: str,
        mqtt: MqttServer,
        log_dir: Path,
        nodes: Sequence[Node],
        lease_s: float | None = None,
        fps: float | None = None,
        default_transition: float | None = 0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.database_url = database_url
        self.mqtt = mqtt
        self.log_dir = log_dir
        self.base_topic = f"tau-{suffix}"
        self.discovery_prefix = f"ha-{suffix}"
        self._options: dict[str, Any] = {
            "lease_s": lease_s,
            "fps": fps,
            "default_transition": default_transition,
        }
        self._env = dict(env or {})
        self.bridges: dict[str, BridgeProcess] = {}
        for node in nodes:
            self.add(node)

    def add(self, node: Node) -> BridgeProcess:
        """A node (not started) on the same installation, topics and settings."""
        if node.name in self.bridges:
            raise ValueError(f"node {node.name!r} is already in the cluster")
        bridge = BridgeProcess(
            database_url=node.database_url or self.database_url,
            mqtt=self.mqtt,
            log_dir=self.log_dir,
            base_topic=self.base_topic,
            discovery_prefix=self.discovery_prefix,
            universes=node.universes,
            env={**self._env, **node.env},
            node=node.name,
            **self._options,
        )
        self.bridges[node.name] = bridge
        return bridge

    def __getitem__(self, name: str) -> BridgeProcess:
        return self.bridges[name]

    def __iter__(self) -> Iterator[BridgeProcess]:
        return iter(self.bridges.values())

    def topic(self, *parts: str) -> str:
        return "/".join((self.base_topic, *parts))

    # -- lifecycle

    def start(self, names: Sequence[str] | None = None, timeout: float = 60) -> None:
        """Start the nodes (all by default) at once; return when each heartbeats in
        `bridge_nodes` and has said `online` (it publishes that once subscribed)."""
        chosen = list(names or self.bridges)
        state = self.topic("bridge", "state")
        with MqttProbe(self.mqtt.host, self.mqtt.port) as probe:
            probe.subscribe(state)
            for name in chosen:
                self.bridges[name].start()
            self.wait_alive(chosen, timeout)
            # Live (not retained) `online` publishes: one per node started, all sharing
            # the topic, so count them.
            deadline = time.monotonic() + timeout
            while len(self._onlines(probe, state)) < len(chosen):
                for name in chosen:
                    if not self.bridges[name].running:
                        self.bridges[name].fail("exited before going online")
                if time.monotonic() > deadline:
                    self.bridges[chosen[0]].fail(
                        f"{len(self._onlines(probe, state))} of {len(chosen)} nodes online "
                        f"on {state} after {timeout} s"
                    )
                time.sleep(0.05)

    @staticmethod
    def _onlines(probe: MqttProbe, topic: str) -> list[Message]:
        return [m for m in probe.messages(topic) if m.payload == b"online" and not m.retain]

    def wait_alive(self, names: Sequence[str], timeout: float = 60) -> None:
        """Each node's `bridge_nodes` row carries its current pid and an unexpired heartbeat."""
        deadline = time.monotonic() + timeout
        while True:
            alive = self.alive()
            missing = [n for n in names if alive.get(n) != self.bridges[n].pid]
            if not missing:
                return
            for name in missing:
                if not self.bridges[name].running:
                    self.bridges[name].fail("exited before its first heartbeat")
            if time.monotonic() > deadline:
                self.bridges[missing[0]].fail(f"no heartbeat in bridge_nodes after {timeout} s")
            time.sleep(0.1)

    def close(self) -> None:
        for bridge in self.bridges.values():
            bridge.close()

    # -- what the database says

    def alive(self) -> dict[str, int | None]:
        """Node name -> pid of every node whose heartbeat has not expired."""
        rows = sql(
            self.database_url,
            "SELECT name, pid FROM bridge_nodes WHERE expires_at > now() AND stopped_at IS NULL",
        )
        return {r["name"]: r["pid"] for r in rows}

    def leases(self) -> dict[str, Lease]:
        rows = sql(
            self.database_url,
            "SELECT resource, holder, standbys, "
            "extract(epoch FROM expires_at - now())::float8 AS expires_in FROM bridge_leases",
        )
        return {
            r["resource"]: Lease(r["resource"], r["holder"], tuple(r["standbys"]), r["expires_in"])
            for r in rows
        }

    def holder(self, resource: str) -> str | None:
        lease = self.leases().get(resource)
        return lease.holder if lease is not None else None

    def wait_leases(
        self,
        check: Callable[[dict[str, Lease]], bool],
        timeout: float = 10,
        what: str = "leases",
    ) -> dict[str, Lease]:
        deadline = time.monotonic() + timeout
        while True:
            leases = self.leases()
            if check(leases):
                return leases
            if time.monotonic() > deadline:
                seen = {r: (lease.holder, lease.standbys) for r, lease in sorted(leases.items())}
                raise BridgeError(f"{what} not reached within {timeout} s; bridge_leases: {seen}")
            time.sleep(0.05)

    def wait_holder(
        self, resource: str, accept: Callable[[str], bool] = bool, timeout: float = 10
    ) -> str:
        """The holder of `resource` once one is accepted by `accept(holder)`."""
        leases = self.wait_leases(
            lambda ls: resource in ls and accept(ls[resource].holder),
            timeout,
            f"a holder of {resource!r} as expected",
        )
        return leases[resource].holder

    def leader(self, timeout: float = 10) -> str:
        return self.wait_holder("leader", timeout=timeout)
