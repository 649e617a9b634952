"""Fixtures shared by the bridge's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from testkit.enttec import EnttecEmulator


@pytest.fixture
def widgets(tmp_path) -> Iterator[tuple[EnttecEmulator, EnttecEmulator]]:
    """Two emulated DMX USB Pro widgets (serial numbers 1 and 2) that must see no error."""
    with (
        EnttecEmulator(tmp_path / "w1") as one,
        EnttecEmulator(tmp_path / "w2", serial_number=2) as two,
    ):
        yield one, two
        assert one.errors == [] and two.errors == []
