"""DMX output drivers: one small class per protocol behind `Output`."""

from __future__ import annotations

from tau.dmx.drivers.artnet import ArtNetOutput
from tau.dmx.drivers.base import Output, OutputStatus
from tau.dmx.drivers.enttec_pro import EnttecProOutput
from tau.dmx.drivers.open_dmx import OpenDmxOutput
from tau.dmx.drivers.sacn import SacnOutput, stable_cid
from tau.dmx.drivers.virtual import VirtualOutput
from tau.settings import ArtNetOutput as ArtNetConfig
from tau.settings import EnttecProOutput as EnttecProConfig
from tau.settings import OpenDmxOutput as OpenDmxConfig
from tau.settings import SacnOutput as SacnConfig
from tau.settings import UniverseOutput
from tau.settings import VirtualOutput as VirtualConfig

__all__ = [
    "ArtNetOutput",
    "EnttecProOutput",
    "OpenDmxOutput",
    "Output",
    "OutputStatus",
    "SacnOutput",
    "VirtualOutput",
    "build_output",
]


def build_output(
    universe: int, config: UniverseOutput, fps: float = 44.0, node: str | None = None
) -> Output:
    """The driver a universe's configuration names; nothing is opened yet. `node` (the
    bridge's node name, by default the host name) makes each bridge its own sACN source."""
    if isinstance(config, EnttecProConfig):
        return EnttecProOutput(universe, config.port, fps=fps)
    if isinstance(config, OpenDmxConfig):
        return OpenDmxOutput(universe, config.port, fps=fps)
    if isinstance(config, ArtNetConfig):
        return ArtNetOutput(universe, config.host, config.port, port_address=config.universe)
    if isinstance(config, SacnConfig):
        return SacnOutput(
            universe,
            host=config.host,
            port=config.port,
            sacn_universe=config.universe,
            priority=config.priority,
            source_name=config.source_name,
            cid=stable_cid(config.source_name, node),
        )
    if isinstance(config, VirtualConfig):
        return VirtualOutput(universe)
    raise TypeError(f"unknown output configuration {config!r}")
