"""The lease rules that need no database: what a node wants (and who could take each
resource over from it), and what it says about resources another node holds."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from tau.db.leases import LEADER, View, resource_universe, universe_resource

log = logging.getLogger("tau.nodes")

# Outputs that drive a line plugged into this computer: never failed over.
DEVICE_DRIVERS = frozenset({"enttec_pro", "open_dmx"})


def wanted(
    view: View, me: str, configured: Mapping[int, str], installation: frozenset[int]
) -> dict[str, list[str]]:
    """resource -> the living nodes that could take it over from `me`: the leader role
    (any of them), each universe `me` has an output for (those with a network output
    there; nobody for a device), and each installation universe no node has an output
    for (virtual: any of them)."""
    others = [n for n in view.nodes.values() if n.alive and n.name != me]
    result: dict[str, list[str]] = {LEADER: [n.name for n in others]}
    for universe, driver in configured.items():
        if driver in DEVICE_DRIVERS:
            result[universe_resource(universe)] = []
        else:
            result[universe_resource(universe)] = [
                n.name
                for n in others
                if (d := n.universes.get(universe)) is not None and d not in DEVICE_DRIVERS
            ]
    with_output = {u for n in view.nodes.values() for u in n.universes}
    for universe in installation - with_output - set(configured):
        result[universe_resource(universe)] = [n.name for n in others]
    return result


class Reporter:
    """Logs, once per change, who holds a resource this node wants and does not hold:
    INFO for a standby, ERROR for a device universe another node outputs, WARNING for
    a lease this node may never take (its holder stopped renewing before this node
    joined as its standby)."""

    def __init__(self, me: str, configured: Mapping[int, str]) -> None:
        self._me = me
        self._configured = configured
        self._said: dict[str, str | None] = {}  # resource -> what was last logged

    def held(self, resource: str) -> None:
        """This node holds it now: whoever holds it next is said again."""
        self._said[resource] = None

    def report(self, view: View, resource: str) -> None:
        holder = view.holder(resource)
        lease = view.leases.get(resource)
        orphan = (
            holder is None
            and lease is not None
            and self._me not in lease.standbys
            and lease.holder in view.nodes
            and not view.nodes[lease.holder].stopped
        )
        said = f"orphan:{lease.holder}" if orphan and lease is not None else holder
        if self._said.get(resource, "-") == said:
            return
        self._said[resource] = said
        if orphan and lease is not None:
            log.warning(
                "event=lease_orphaned node=%s resource=%s holder=%s: node %r stopped "
                "renewing %s before this node joined as its standby, so it may still be "
                "running, cut off from the database; if it is gone for good, run "
                "`tau nodes forget %s`",
                self._me,
                resource,
                lease.holder,
                lease.holder,
                resource,
                lease.holder,
            )
            return
        if holder is None:
            return
        universe = resource_universe(resource)
        owner = view.nodes.get(holder)
        # A holder without an output there holds it as a virtual universe (it ticked
        # before this node registered its device): no conflict, it lets go next tick.
        has_output = owner is not None and universe in owner.universes
        if has_output and self._configured.get(universe or -1) in DEVICE_DRIVERS:
            log.error(
                "event=device_universe_taken node=%s universe=%d owner=%s: universe %d "
                "is a USB device universe on this node, but node %r outputs it; a device "
                "universe belongs to the node it is plugged into: remove it from "
                "TAU_DMX__UNIVERSES on one of them",
                self._me,
                universe,
                holder,
                universe,
                holder,
            )
        else:
            log.info("event=node_standby node=%s resource=%s owner=%s", self._me, resource, holder)
