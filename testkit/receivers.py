"""Strict loopback Art-Net and sACN receivers.

Each binds a UDP socket on 127.0.0.1 (ephemeral port), decodes every datagram
field by field in a thread, records valid packets with their arrival time and
their sender's address ("host:port": each bridge process sends from its own
socket, so two senders on one universe are told apart) and records anything
malformed in `errors` (tests assert it stays empty). sACN packets also carry the
sender's CID and source name.

    with ArtNetReceiver() as rx:
        config = {"driver": "artnet", "host": "127.0.0.1", "port": rx.port, "universe": 3}
        ...
        packet = rx.wait_for_packet(lambda p: p.data[0] == 255)
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

ARTNET_ID = b"Art-Net\x00"
ACN_ID = b"ASC-E1.17\x00\x00\x00"


class MalformedError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ArtDmx:
    t: float
    sequence: int
    physical: int
    port_address: int  # 15 bits: net << 8 | sub-net << 4 | universe
    data: bytes  # the slots as sent (even length 2-512)
    source: str = ""  # the sender's "host:port"

    @property
    def slots(self) -> bytes:
        """All 512 slots (a shorter packet leaves the rest at 0, as a receiver reads it)."""
        return self.data.ljust(512, b"\x00")

    def slot(self, channel: int) -> int:
        """Value of 1-based DMX `channel`."""
        return self.data[channel - 1] if channel <= len(self.data) else 0

    @property
    def net(self) -> int:
        return self.port_address >> 8

    @property
    def subnet(self) -> int:
        return (self.port_address >> 4) & 0xF

    @property
    def universe(self) -> int:
        return self.port_address & 0xF


@dataclass(frozen=True, slots=True)
class E131:
    t: float
    cid: uuid.UUID
    source_name: str
    priority: int
    sync_address: int
    sequence: int
    options: int
    universe: int
    data: bytes  # 512 slots, start code stripped
    source: str = ""  # the sender's "host:port"

    @property
    def slots(self) -> bytes:
        return self.data

    def slot(self, channel: int) -> int:
        """Value of 1-based DMX `channel`."""
        return self.data[channel - 1]

    @property
    def sender(self) -> tuple[uuid.UUID, str]:
        """What identifies an sACN source to a receiver: its CID and source name."""
        return self.cid, self.source_name

    @property
    def terminated(self) -> bool:
        return bool(self.options & 0x40)


def decode_artdmx(datagram: bytes, t: float, source: str = "") -> ArtDmx:
    if len(datagram) < 18:
        raise MalformedError(f"ArtDmx too short: {len(datagram)} bytes")
    if datagram[:8] != ARTNET_ID:
        raise MalformedError(f"bad Art-Net id {datagram[:8]!r}")
    (opcode,) = struct.unpack_from("<H", datagram, 8)
    if opcode != 0x5000:
        raise MalformedError(f"OpCode 0x{opcode:04x}, expected ArtDmx 0x5000 (little-endian)")
    hi, lo = datagram[10], datagram[11]
    if (hi, lo) != (0, 14):
        raise MalformedError(f"ProtVer {hi}.{lo}, expected 0.14")
    sequence, physical = datagram[12], datagram[13]
    sub_uni, net = datagram[14], datagram[15]
    if net & 0x80:
        raise MalformedError(f"Net 0x{net:02x} has bit 7 set (port-address is 15 bits)")
    (length,) = struct.unpack_from(">H", datagram, 16)
    if length % 2 or not 2 <= length <= 512:
        raise MalformedError(f"Length {length}: must be even, 2-512")
    if len(datagram) != 18 + length:
        raise MalformedError(f"Length {length} but {len(datagram) - 18} data bytes")
    return ArtDmx(t, sequence, physical, net << 8 | sub_uni, bytes(datagram[18:]), source)


def _flags_length(datagram: bytes, offset: int, expect: int, layer: str) -> None:
    (value,) = struct.unpack_from(">H", datagram, offset)
    if value >> 12 != 0x7:
        raise MalformedError(f"{layer} flags 0x{value >> 12:x}, expected 0x7")
    if value & 0x0FFF != expect:
        raise MalformedError(f"{layer} length {value & 0xFFF}, expected {expect}")


def decode_e131(datagram: bytes, t: float, source: str = "") -> E131:
    n = len(datagram)
    if n < 126:
        raise MalformedError(f"E1.31 packet too short: {n} bytes")
    preamble, postamble = struct.unpack_from(">HH", datagram, 0)
    if (preamble, postamble) != (0x0010, 0):
        raise MalformedError(f"preamble/postamble {preamble:#x}/{postamble:#x}")
    if datagram[4:16] != ACN_ID:
        raise MalformedError(f"ACN packet identifier {datagram[4:16]!r}")
    _flags_length(datagram, 16, n - 16, "root")
    (root_vector,) = struct.unpack_from(">I", datagram, 18)
    if root_vector != 0x00000004:
        raise MalformedError(f"root vector {root_vector:#x}, expected VECTOR_ROOT_E131_DATA")
    cid = uuid.UUID(bytes=bytes(datagram[22:38]))
    _flags_length(datagram, 38, n - 38, "framing")
    (framing_vector,) = struct.unpack_from(">I", datagram, 40)
    if framing_vector != 0x00000002:
        raise MalformedError(f"framing vector {framing_vector:#x}, expected E131_DATA_PACKET")
    raw_name = datagram[44:108]
    if b"\x00" not in raw_name:
        raise MalformedError("source name is not null-terminated")
    name = raw_name.split(b"\x00", 1)[0].decode("utf-8")
    priority = datagram[108]
    if priority > 200:
        raise MalformedError(f"priority {priority} > 200")
    (sync,) = struct.unpack_from(">H", datagram, 109)
    sequence, options = datagram[111], datagram[112]
    if options & 0x3F:
        raise MalformedError(f"reserved option bits set: {options:#x}")
    (universe,) = struct.unpack_from(">H", datagram, 113)
    if not 1 <= universe <= 63999:
        raise MalformedError(f"universe {universe} outside 1-63999")
    _flags_length(datagram, 115, n - 115, "DMP")
    if datagram[117] != 0x02 or datagram[118] != 0xA1:
        raise MalformedError(f"DMP vector/type {datagram[117]:#x}/{datagram[118]:#x}")
    first, increment, count = struct.unpack_from(">HHH", datagram, 119)
    if (first, increment) != (0, 1):
        raise MalformedError(f"first address {first}, increment {increment}")
    if not 1 <= count <= 513 or n != 125 + count:
        raise MalformedError(f"property count {count} for {n - 125} bytes")
    if datagram[125] != 0:
        raise MalformedError(f"start code {datagram[125]:#x}")
    data = bytes(datagram[126:]).ljust(512, b"\x00")
    return E131(t, cid, name, priority, sync, sequence, options, universe, data, source)


P = TypeVar("P")


class _Receiver(Generic[P]):
    def __init__(self, decode: Callable[[bytes, float, str], P]) -> None:
        self._decode = decode
        self.packets: list[P] = []
        self.errors: list[str] = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.host = "127.0.0.1"
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="udp-receiver", daemon=True)

    def __enter__(self) -> _Receiver[P]:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            datagram, (host, port) = self._sock.recvfrom(65535)
            now = time.monotonic()
            with self._cond:
                try:
                    self.packets.append(self._decode(datagram, now, f"{host}:{port}"))
                except (MalformedError, UnicodeDecodeError) as exc:
                    self.errors.append(str(exc))
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_for_packet(self, predicate: Callable[[P], bool], timeout: float = 2.0) -> P:
        """The first recorded packet (old or new) matching `predicate`."""
        found: list[P] = []

        def check() -> bool:
            found[:] = [p for p in self.packets if predicate(p)][:1]
            return bool(found)

        if not self.wait_for(check, timeout):
            raise AssertionError(f"no matching packet within {timeout}s ({len(self.packets)} seen)")
        return found[0]

    async def wait_for_async(self, predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
        return await asyncio.to_thread(self.wait_for, predicate, timeout_s)

    async def wait_for_packet_async(
        self, predicate: Callable[[P], bool], timeout_s: float = 2.0
    ) -> P:
        return await asyncio.to_thread(self.wait_for_packet, predicate, timeout_s)

    def snapshot(self) -> list[P]:
        with self._cond:
            return list(self.packets)


class ArtNetReceiver(_Receiver[ArtDmx]):
    def __init__(self) -> None:
        super().__init__(decode_artdmx)

    def __enter__(self) -> ArtNetReceiver:
        self.start()
        return self


class SacnReceiver(_Receiver[E131]):
    def __init__(self) -> None:
        super().__init__(decode_e131)

    def __enter__(self) -> SacnReceiver:
        self.start()
        return self
