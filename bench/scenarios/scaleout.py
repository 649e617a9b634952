"""Scale-out: 3 bridge nodes of 8 Art-Net universes on one installation, a 3,000-fixture group.

Nodes alpha, bravo and charlie share one database, one broker and one base topic;
each owns 8 universes (1-8, 9-16, 17-24), every one with its own loopback Art-Net
receiver. Charlie also has universes 1-8 configured, so it stands by for alpha:
alpha starts first and takes them, then the others join.

- spread: per command to the root group (all 3,000 fixtures), the time between the
  first and the last of the 24 universes to carry the new value at its receiver
  (each node renders its universes when the command reaches it; one frame is 23 ms);
- failover: kill -9 of alpha → the first packet of another sender on each of its 8
  universes (the row gives the slowest), with the last levels and no sender overlap.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from dataclasses import asdict
from typing import Any

from testkit.cluster import Cluster, Node
from testkit.receivers import ArtNetReceiver

from bench.harness import Bench, Recorder, Row, Stats, percentile, run_async, stage
from bench.installation import build
from bench.scenarios.group import match, root_commands

NAME = "scaleout"
FIXTURES = 3000
OWN = {"alpha": range(1, 9), "bravo": range(9, 17), "charlie": range(17, 25)}
STANDBY = {"charlie": range(1, 9)}  # charlie can take alpha's universes over
UNIVERSES = list(range(1, 25))
RATE = 4.0  # commands/s: each one renders 3,000 fixtures on every node
FRAME_MS = 23.0
FAILOVER_S = 3.0


def run(bench: Bench) -> list[Row]:
    count = bench.samples(160, 30)
    url = bench.database()
    with stage(bench, f"{NAME}: building {FIXTURES} fixtures on {len(UNIVERSES)} universes"):
        layout = run_async(build(url, FIXTURES, UNIVERSES, tree=True, prefix="s"))
    first = {u: min(s.channel for s in layout.fixtures if s.universe == u) for u in UNIVERSES}
    with ExitStack() as stack:
        receivers = {u: stack.enter_context(ArtNetReceiver()) for u in UNIVERSES}

        def outputs(universes: range) -> dict[str, dict[str, Any]]:
            return {
                str(u): {"driver": "artnet", "host": "127.0.0.1", "port": receivers[u].port}
                | {"universe": u - 1}
                for u in universes
            }

        cluster = Cluster(
            database_url=url,
            mqtt=bench.mqtt,
            log_dir=bench.tmp,
            env=bench.bridge_env(),
            nodes=[
                Node(name, outputs(own) | outputs(STANDBY.get(name, range(0))))
                for name, own in OWN.items()
            ],
        )
        for bridge in cluster:
            bench.adopt(bridge)
        pub = bench.recorder(f"{NAME}-pub")
        try:
            with stage(bench, f"{NAME}: starting 3 nodes"):
                start(bench, cluster)
            topic = cluster.topic("group", layout.root or "", "set")
            sent = commands(bench, pub, topic, count, receivers, first)
            packets = {u: rx.snapshot() for u, rx in receivers.items()}
            with stage(bench, f"{NAME}: kill -9 of alpha"):
                failover = kill_alpha(cluster, receivers, first, sent[-1])
        finally:
            pub.close()
            bench.stop_bridges()
        errors = [e for rx in receivers.values() for e in rx.errors]
    _, spreads, missing = match(sent, packets, first)
    per_node = {  # command → the last of a node's own universes: which node trails
        name: Stats.of(match(sent, {u: packets[u] for u in own}, first)[0])
        for name, own in OWN.items()
    }
    return rows(spreads, missing, failover, errors, per_node)


def start(bench: Bench, cluster: Cluster) -> None:
    """Alpha first (it takes 1-8), then the others; return once the leases are as planned."""
    cluster.start(["alpha"], timeout=120)
    cluster.wait_leases(
        lambda ls: all(ls.get(f"universe:{u}", None) for u in OWN["alpha"]), 60, "alpha's leases"
    )
    cluster.start(["bravo", "charlie"], timeout=120)
    planned = {f"universe:{u}": name for name, own in OWN.items() for u in own}
    cluster.wait_leases(
        lambda ls: (
            all(r in ls and ls[r].holder == h for r, h in planned.items())
            and all("charlie" in ls[f"universe:{u}"].standbys for u in STANDBY["charlie"])
        ),
        60,
        "8 universes per node, charlie standing by for alpha",
    )
    for bridge in cluster:
        bench.profile(bridge)


def commands(
    bench: Bench,
    pub: Recorder,
    topic: str,
    count: int,
    receivers: dict[int, ArtNetReceiver],
    first: dict[int, int],
) -> list[tuple[float, int]]:
    # A warm-up command reaching every universe: every node subscribed and rendering.
    pub.publish(topic, json.dumps({"state": "ON", "brightness": 1}), qos=1)
    for u, rx in receivers.items():
        if not rx.wait_for(lambda rx=rx, u=u: any(p.slot(first[u]) == 1 for p in rx.packets), 30):
            raise TimeoutError(f"universe {u} never showed the warm-up command")
    sent = root_commands(bench, pub, topic, count, RATE, receivers, first)
    time.sleep(0.3)  # every node has applied the last command, not only the owners watched
    return sent


def kill_alpha(
    cluster: Cluster,
    receivers: dict[int, ArtNetReceiver],
    first: dict[int, int],
    last: tuple[float, int],
) -> dict[str, Any]:
    """Kill -9 of alpha; per universe of alpha, the first packet of the new sender, and
    every packet since the last command's level arrived checked for that level."""
    sent, value = last
    alpha = cluster["alpha"]
    old = {u: receivers[u].snapshot()[-1].source for u in OWN["alpha"]}
    alpha.kill()
    killed = alpha.killed_at or time.monotonic()
    takeover: dict[int, float | None] = {}
    wrong = overlap = 0
    for u in OWN["alpha"]:
        rx = receivers[u]
        found = rx.wait_for(lambda rx=rx, u=u: any(p.source != old[u] for p in rx.packets), 10)
        if not found:
            takeover[u] = None
            continue
        new = next(p for p in rx.snapshot() if p.source != old[u])
        takeover[u] = new.t - killed
        packets = rx.snapshot()
        since = next(p.t for p in packets if p.t >= sent and p.slot(first[u]) == value)
        window = [p for p in packets if p.t >= since]
        wrong += sum(1 for p in window if p.slot(first[u]) != value)
        overlap += sum(1 for p in window if p.source == old[u] and p.t >= new.t)
    times = sorted(t for t in takeover.values() if t is not None)
    return {
        "takeover_s": takeover,
        "slowest_s": times[-1] if len(times) == len(takeover) else None,
        "median_s": times[len(times) // 2] if times else None,
        "fastest_s": times[0] if times else None,
        "not_last_levels": wrong,
        "overlapping_packets": overlap,
        "new_holders": sorted({cluster.holder(f"universe:{u}") or "–" for u in OWN["alpha"]}),
    }


def rows(
    spreads: list[float],
    missing: int,
    failover: dict[str, Any],
    errors: list[str],
    per_node: dict[str, Stats],
) -> list[Row]:
    stats = Stats.of(spreads)
    slowest = failover["slowest_s"]
    clean = failover["not_last_levels"] == 0 and failover["overlapping_packets"] == 0
    return [
        Row.latency(
            NAME,
            "root set → spread first..last of 24 universes (3 nodes)",
            stats,
            throughput=f"{RATE:.0f} cmd/s × {FIXTURES} fixtures",
            target=f"p99 ≤ {FRAME_MS:.0f} ms",
            met=stats.p99 is not None and stats.p99 <= FRAME_MS and not missing,
            notes=f"n={stats.n}; missing {missing}; command → a node's universes p50/p99: "
            + ", ".join(f"{n} {s.p50 or 0:.0f}/{s.p99 or 0:.0f} ms" for n, s in per_node.items())
            + (f"; Art-Net errors {len(errors)}" if errors else ""),
            data={
                "stats": asdict(stats),
                "missing": missing,
                "per_node": {n: asdict(s) for n, s in per_node.items()},
                "receiver_errors": errors[:5],
            },
        ),
        Row(
            NAME,
            "failover: kill -9 of a node → standby's first packet on its 8 universes",
            p50=None if failover["median_s"] is None else failover["median_s"] * 1000,
            max=None if slowest is None else slowest * 1000,
            target=f"max ≤ {FAILOVER_S:.0f} s, last levels, no overlap",
            met=slowest is not None and slowest <= FAILOVER_S and clean,
            notes=(
                f"fastest {failover['fastest_s'] or 0:.2f} s; packets not at the last level "
                f"{failover['not_last_levels']}; overlapping {failover['overlapping_packets']}; "
                f"new holder {', '.join(failover['new_holders'])}"
            ),
            data={
                **failover,
                "takeover_s": {str(u): t for u, t in failover["takeover_s"].items()},
                "spread_p50_ms": percentile([s * 1000 for s in spreads], 50),
            },
        ),
    ]
