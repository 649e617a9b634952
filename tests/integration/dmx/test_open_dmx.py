"""open_dmx against a raw pty: frames arrive whole and continuously; breaks are toggles only.

A pty cannot show a break, so the break/MAB timing is checked on the driver's
`break_condition` toggles, and `send_break` is made to fail the test if used.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from tau.dmx.drivers import OpenDmxOutput
from tau.dmx.render import Renderer

from .conftest import fixture_patch, running, target

FPS = 40.0


class RecordingSerial(serial.Serial):  # type: ignore[misc]
    """pyserial's port, recording break toggles and refusing `send_break`."""

    toggles: list[tuple[float, bool]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.toggles = []
        super().__init__(*args, **kwargs)

    @property
    def break_condition(self) -> bool:
        return bool(serial.Serial.break_condition.fget(self))

    @break_condition.setter
    def break_condition(self, value: bool) -> None:
        self.toggles.append((time.perf_counter(), value))
        serial.Serial.break_condition.fset(self, value)

    def send_break(self, duration: float = 0.25) -> None:
        raise AssertionError("send_break makes a ≥ 250 ms break on POSIX: never use it")


class RawLine:
    """The far end of a pty, collecting every byte the driver writes."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.data = bytearray()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stop.is_set():
            if select.select([self.master], [], [], 0.05)[0]:
                with self.lock:
                    self.data += os.read(self.master, 65536)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(1)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def line() -> Iterator[RawLine]:
    raw = RawLine()
    yield raw
    raw.close()


async def test_frames_are_refreshed_continuously_with_break_toggles(line: RawLine) -> None:
    ports: list[RecordingSerial] = []

    def factory(**kwargs: Any) -> RecordingSerial:
        assert kwargs["baudrate"] == 250_000
        assert kwargs["stopbits"] == serial.STOPBITS_TWO
        assert kwargs["bytesize"] == serial.EIGHTBITS
        assert kwargs["parity"] == serial.PARITY_NONE
        ports.append(RecordingSerial(**kwargs))
        return ports[-1]

    output = OpenDmxOutput(1, line.port, fps=FPS, serial_factory=factory)
    renderer = Renderer({1: output}, 44.0)
    renderer.set_patch([fixture_patch(1, ("dimmer", "dimmer_fine"), start=3)])
    renderer.apply([target(1, 128)])
    async with running(renderer):
        t0 = time.monotonic()
        await _sleep_until(lambda: len(line.data) >= 513 * 20, 2.0)
        elapsed = time.monotonic() - t0
        renderer.apply([target(1, 255)])
        await _sleep_until(lambda: b"\xff\xff" in line.data[-1026:], 1.0)
    with line.lock:
        stream = bytes(line.data)
    assert len(stream) % 513 == 0
    frames = [stream[i : i + 513] for i in range(0, len(stream), 513)]
    assert all(f[0] == 0 for f in frames)  # start code
    assert frames[0][1:] == bytes(2) + b"\x80\x80" + bytes(508)
    assert frames[-1][3:5] == b"\xff\xff"
    # refreshed at about the configured rate even though nothing changed
    assert 20 / elapsed == pytest.approx(FPS, rel=0.35)
    toggles = ports[0].toggles
    assert len(toggles) == 2 * len(frames)
    assert [v for _, v in toggles] == [True, False] * len(frames)
    breaks = [off - on for (on, _), (off, _) in zip(toggles[::2], toggles[1::2], strict=True)]
    assert min(breaks) >= 92e-6


async def test_missing_port_is_reported() -> None:
    output = OpenDmxOutput(1, "/dev/ttyUSB-missing", fps=FPS)
    async with running(Renderer({1: output}, FPS)) as renderer:
        status = renderer.status()[1]
    assert status["driver"] == "open_dmx"
    assert status["state"] == "failed"
    assert status["detail"] == "no such port /dev/ttyUSB-missing — is the widget plugged in?"


async def _sleep_until(predicate: Any, timeout_s: float) -> None:
    import asyncio

    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)
