"""What Art-Net and sACN share: a non-blocking UDP socket and counters."""

from __future__ import annotations

import logging
import socket

from tau.dmx.drivers.base import Output, OutputState, OutputStatus

log = logging.getLogger("tau.dmx.output")

KEEPALIVE_S = 1.0  # both protocols expect a refresh at least this often


class UdpOutput(Output):
    keepalive_s = KEEPALIVE_S

    def __init__(self, universe: int, host: str, port: int) -> None:
        super().__init__(universe)
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._state: OutputState = "failed"
        self._detail = "not opened yet"
        self._packets = 0
        self._last_error: str | None = None
        self._warned = False

    def _make_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        return sock

    def _describe(self) -> str:
        return f"{self.driver} to {self.host}:{self.port}"

    async def open(self) -> None:
        try:
            self._sock = self._make_socket()
        except OSError as exc:
            self._fail(f"cannot open a UDP socket: {exc}")
            return
        self._state, self._detail = "ok", self._describe()
        log.info(
            "%s event=output_connected universe=%d driver=%s",
            self._detail,
            self.universe,
            self.driver,
        )

    def _sendto(self, payload: bytes) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(payload, (self.host, self.port))
        except OSError as exc:
            # Datagrams are fire-and-forget: a full buffer or an unreachable network drops
            # this packet; the next change or keep-alive tries again.
            self._fail(f"send to {self.host}:{self.port} failed: {exc}")
            return
        self._packets += 1
        if self._state != "ok":
            self._state, self._detail, self._warned = "ok", self._describe(), False
            log.info(
                "%s event=output_reconnected universe=%d driver=%s",
                self._detail,
                self.universe,
                self.driver,
            )

    def _fail(self, message: str) -> None:
        self._state = "failed" if self._sock is None else "reconnecting"
        self._detail = self._last_error = message
        if not self._warned:
            self._warned = True
            log.warning(
                "%s event=output_unavailable universe=%d driver=%s",
                message,
                self.universe,
                self.driver,
            )

    async def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    @property
    def status(self) -> OutputStatus:
        return OutputStatus(self._state, self._detail, self._packets, self._last_error)
