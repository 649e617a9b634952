"""E1.31 (sACN) data packets, unicast or multicast, with keep-alive and clean termination."""

from __future__ import annotations

import socket
import struct
import uuid

from tau.dmx.drivers.udp import UdpOutput

ACN_PACKET_IDENTIFIER = b"ASC-E1.17\x00\x00\x00"
VECTOR_ROOT_E131_DATA = 0x00000004
VECTOR_E131_DATA_PACKET = 0x00000002
VECTOR_DMP_SET_PROPERTY = 0x02
OPTION_STREAM_TERMINATED = 0x40
TERMINATION_PACKETS = 3
DEFAULT_TTL = 8


def stable_cid(source_name: str, hostname: str | None = None) -> uuid.UUID:
    """A CID that stays the same across restarts of one installation (host + source name)."""
    host = hostname if hostname is not None else socket.gethostname()
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"{source_name}.{host}.sacn.tau")


def multicast_address(universe: int) -> str:
    return f"239.255.{universe >> 8}.{universe & 0xFF}"


def _flags_length(length: int) -> bytes:
    return struct.pack(">H", 0x7000 | length)


def e131_packet(
    *,
    cid: uuid.UUID,
    source_name: str,
    priority: int,
    sequence: int,
    universe: int,
    frame: bytes,
    terminated: bool = False,
) -> bytes:
    """One E1.31 data packet with start code 0 and `frame`'s slots."""
    slots = b"\x00" + frame[:512]
    dmp = bytes((VECTOR_DMP_SET_PROPERTY, 0xA1)) + struct.pack(">HHH", 0, 1, len(slots)) + slots
    dmp = _flags_length(len(dmp) + 2) + dmp
    name = source_name.encode()[:63].ljust(64, b"\x00")
    framing = (
        struct.pack(">I", VECTOR_E131_DATA_PACKET)
        + name
        + bytes((priority,))
        + struct.pack(">H", 0)  # synchronization address: no sync
        + bytes((sequence & 0xFF, OPTION_STREAM_TERMINATED if terminated else 0))
        + struct.pack(">H", universe)
        + dmp
    )
    framing = _flags_length(len(framing) + 2) + framing
    root = struct.pack(">I", VECTOR_ROOT_E131_DATA) + cid.bytes + framing
    root = _flags_length(len(root) + 2) + root
    return struct.pack(">HH", 0x0010, 0x0000) + ACN_PACKET_IDENTIFIER + root


class SacnOutput(UdpOutput):
    driver = "sacn"

    def __init__(
        self,
        universe: int,
        host: str | None = None,
        port: int = 5568,
        sacn_universe: int = 1,
        priority: int = 100,
        source_name: str = "Tau",
        cid: uuid.UUID | None = None,
        ttl: int = DEFAULT_TTL,
    ) -> None:
        self.multicast = host is None
        super().__init__(universe, host or multicast_address(sacn_universe), port)
        self.sacn_universe = sacn_universe
        self.priority = priority
        self.source_name = source_name
        self.cid = cid or stable_cid(source_name)
        self.ttl = ttl
        self._sequence = 0

    def _make_socket(self) -> socket.socket:
        sock = super()._make_socket()
        if self.multicast:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
        return sock

    def _describe(self) -> str:
        how = "multicast" if self.multicast else "unicast"
        return f"sACN universe {self.sacn_universe} {how} to {self.host}:{self.port}"

    def _packet(self, frame: bytes, terminated: bool = False) -> bytes:
        self._sequence = (self._sequence + 1) & 0xFF
        return e131_packet(
            cid=self.cid,
            source_name=self.source_name,
            priority=self.priority,
            sequence=self._sequence,
            universe=self.sacn_universe,
            frame=frame,
            terminated=terminated,
        )

    def _write(self, frame: bytes) -> None:
        self._sendto(self._packet(frame))

    async def close(self) -> None:
        # Receivers drop a terminated source at once instead of holding its last look
        # for the 2.5 s data-loss timeout; unless another bridge takes the universe
        # over, when holding the look until its first packet is exactly what is wanted.
        for _ in range(0 if self.handing_over else TERMINATION_PACKETS):
            self._sendto(self._packet(self.last_frame, terminated=True))
        await super().close()
