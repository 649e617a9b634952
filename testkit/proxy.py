"""`TcpProxy`: a TCP forwarder in front of the broker or PostgreSQL that a test can break.

proxy = TcpProxy(("127.0.0.1", 5432))
url = f"postgresql://postgres@127.0.0.1:{proxy.port}/tau_test"   # the bridge's DSN
proxy.blackhole()   # the database goes silent for this client only
proxy.restore()
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress


class TcpProxy:
    """A TCP forwarder the test can cut, stall or make short-lived.

    - `cut()` closes every forwarded connection and the listening socket (new
      connections are refused, as by a host that is down) until `restore()` listens
      again on the same port; the broker behind it keeps running, with its sessions.
    - `stall(direction)` stops forwarding on the connections open now, without closing
      them (a frozen peer, a dead network path): what they carry from then on is never
      delivered. "up" is client -> target, "down" target -> client, "both" both. New
      connections forward normally. `resume()` lets stalled connections flow again
      (a peer that only read slowly); `drop_stalled()` closes them.
    - `blackhole()` stalls every open connection and every one accepted from then on
      (a host gone silent: connects may even succeed, nothing ever answers) until
      `restore()`, which lets everything flow again.
    - `lifetime_s`: every connection is closed this long after it was accepted (a
      broker that drops the client right after accepting it).
    - `accepted` lists the monotonic times of the connections accepted.
    """

    def __init__(self, target: tuple[str, int], *, lifetime_s: float | None = None) -> None:
        self.target = target
        self.lifetime_s = lifetime_s
        self.accepted: list[float] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._gates: dict[tuple[int, str], threading.Event] = {}
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._silent = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._listen(self._listener)

    def _listen(self, listener: socket.socket) -> None:
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self.accepted.append(time.monotonic())
                self._open |= {client, upstream}
                self._pairs.append((client, upstream))
                up, down = threading.Event(), threading.Event()
                if not self._silent:
                    up.set()
                    down.set()
                self._gates[(id(client), "up")] = up
                self._gates[(id(client), "down")] = down
            threading.Thread(target=self._pump, args=(client, upstream, up), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, down), daemon=True).start()
            if self.lifetime_s is not None:
                timer = threading.Timer(self.lifetime_s, self._drop, (client, upstream))
                timer.daemon = True
                timer.start()

    def _pump(self, src: socket.socket, dst: socket.socket, gate: threading.Event) -> None:
        try:
            while chunk := src.recv(65536):
                gate.wait()
                if src not in self._open:
                    return  # dropped while stalled: what it carried is lost
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _drop(self, *socks: socket.socket) -> None:
        for sock in socks:
            with self._lock:
                self._open.discard(sock)
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stall(self, direction: str = "both") -> None:
        with self._lock:
            for client, _ in self._pairs:
                for way in ("up", "down"):
                    if direction in (way, "both"):
                        self._gates[(id(client), way)].clear()

    def blackhole(self) -> None:
        with self._lock:
            self._silent = True
        self.stall("both")

    def resume(self) -> None:
        with self._lock:
            self._silent = False
            gates = list(self._gates.values())
        for gate in gates:
            gate.set()

    def drop_stalled(self) -> None:
        with self._lock:
            stalled = [
                pair
                for pair in self._pairs
                if any(not self._gates[(id(pair[0]), w)].is_set() for w in ("up", "down"))
            ]
        for client, upstream in stalled:
            self._drop(client, upstream)
        self.resume()  # wakes the pumps, which find their sockets gone

    def cut(self) -> None:
        with suppress(OSError):  # wakes the blocked accept(); close() alone would not
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            socks = list(self._open)
        self._drop(*socks)

    def restore(self) -> None:
        """Undo `cut()` (listen again) or `blackhole()` (let everything flow)."""
        if self._silent:
            self.resume()
            return
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listen(self._listener)

    def close(self) -> None:
        self.cut()
        self.resume()
