"""Art-Net 4 ArtDmx, unicast over UDP, with a keep-alive re-send every second."""

from __future__ import annotations

import struct

from tau.dmx.drivers.udp import UdpOutput

ARTNET_ID = b"Art-Net\x00"
OP_DMX = 0x5000
PROTOCOL_VERSION = 14


def artdmx_packet(sequence: int, port_address: int, frame: bytes) -> bytes:
    """One ArtDmx packet: `sequence` 1-255 (0 would disable reordering), 15-bit port-address
    (net << 8 | sub-net << 4 | universe), data padded to an even length of 2-512."""
    data = frame[:512]
    if len(data) % 2:
        data += b"\x00"
    if len(data) < 2:
        data = data.ljust(2, b"\x00")
    return (
        ARTNET_ID
        + struct.pack("<H", OP_DMX)
        + struct.pack(">H", PROTOCOL_VERSION)
        + bytes((sequence, 0, port_address & 0xFF, (port_address >> 8) & 0x7F))
        + struct.pack(">H", len(data))
        + data
    )


class ArtNetOutput(UdpOutput):
    driver = "artnet"

    def __init__(self, universe: int, host: str, port: int = 6454, port_address: int = 0) -> None:
        super().__init__(universe, host, port)
        self.port_address = port_address
        self._sequence = 0

    def _describe(self) -> str:
        return f"Art-Net port-address {self.port_address} to {self.host}:{self.port}"

    def _write(self, frame: bytes) -> None:
        self._sequence = self._sequence % 255 + 1
        self._sendto(artdmx_packet(self._sequence, self.port_address, frame))
