"""What this bridge speaks for when several share an installation.

Every bridge applies every light command and renders every universe, but only the
universes it owns are sent, and only their fixtures' states are published and
written by it; groups, discovery and the work done once belong to the leader. A
bridge alone owns everything (`whole`), and then nothing is narrowed at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from tau.core.events import ChangeBatch
from tau.core.model import Installation


class Scope:
    def __init__(self, installation: Callable[[], Installation]) -> None:
        self._installation = installation
        self.universes: frozenset[int] | None = None  # None: every universe
        self.leader = True

    def set(self, universes: frozenset[int] | None, leader: bool) -> None:
        self.universes, self.leader = universes, leader

    @property
    def whole(self) -> bool:
        return self.universes is None and self.leader

    def owns_fixture(self, fixture_id: int) -> bool:
        if self.universes is None:
            return True
        fixture = self._installation().fixtures.get(fixture_id)
        return fixture is not None and fixture.universe in self.universes

    def fixtures(self, ids: Iterable[int]) -> frozenset[int]:
        if self.universes is None:
            return frozenset(ids)
        return frozenset(f for f in ids if self.owns_fixture(f))

    def narrow(self, batch: ChangeBatch) -> ChangeBatch | None:
        """The part of `batch` this bridge publishes and writes (None: nothing)."""
        if self.whole:
            return batch
        fixtures = self.fixtures(batch.fixture_ids)
        groups = batch.group_ids if self.leader else frozenset()
        if not fixtures and not groups:
            return None
        return dataclasses.replace(
            batch,
            fixture_ids=fixtures,
            group_ids=groups,
            commanded_groups=batch.commanded_groups if self.leader else frozenset(),
        )

    def narrowed(self, subscriber: Callable[[ChangeBatch], None]) -> Callable[[ChangeBatch], None]:
        """`subscriber`, fed only this bridge's part of each batch."""

        def handle(batch: ChangeBatch) -> None:
            part = self.narrow(batch)
            if part is not None:
                subscriber(part)

        return handle
