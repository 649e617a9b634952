"""Prometheus metrics: one registry per process, names in one place."""

from __future__ import annotations

import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.023, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.commands = Counter("tau_commands", "Commands handled", ["kind"], registry=r)
        self.rejected = Counter(
            "tau_commands_rejected", "Inputs rejected, by topic kind", ["reason"], registry=r
        )
        self.command_to_frame = Histogram(
            "tau_command_to_frame_seconds",
            "From a change batch to the DMX frame carrying it",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.frames = Counter("tau_frames_sent", "DMX frames sent", ["universe"], registry=r)
        self.output_errors = Gauge(
            "tau_output_up", "1 when the universe's output is working", ["universe"], registry=r
        )
        self.db_batch = Histogram(
            "tau_db_write_batch_seconds",
            "State write-behind batch duration",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.db_rows = Counter("tau_db_rows_written", "State rows written", registry=r)
        self.db_queue = Gauge("tau_db_write_queue", "Objects waiting to be written", registry=r)
        self.mqtt_reconnects = Counter("tau_mqtt_reconnects", "Broker reconnects", registry=r)
        self.mqtt_connected = Gauge(
            "tau_mqtt_connected", "1 while the broker connection is up", registry=r
        )
        self.mqtt_queued = Gauge(
            "tau_mqtt_queued", "Messages waiting for the broker (outbox)", registry=r
        )
        self.broker_dropped = Counter(
            "tau_broker_dropped_messages",
            "Messages the MQTT broker dropped (its $SYS count rose: max_queued_messages)",
            registry=r,
        )
        self.circadian_tick = Gauge(
            "tau_circadian_tick_seconds", "Duration of the last circadian tick", registry=r
        )
        self.node_leader = Gauge(
            "tau_node_leader", "1 while this bridge leads (several bridges)", registry=r
        )
        self.universe_owned = Gauge(
            "tau_universe_owned",
            "1 while this bridge outputs the universe, 0 while it stands by",
            ["universe"],
            registry=r,
        )
        self.task_restarts = Counter(
            "tau_task_restarts",
            "Long-running parts of the bridge restarted after an unexpected exception",
            ["part"],
            registry=r,
        )
        self._pending: deque[tuple[int, float]] = deque(maxlen=10_000)
        self._last_frame = 0
        self._last_sent_at = 0.0

    def batch_applied(self, frame_no: int, started: float | None = None) -> None:
        """A batch handed to the renderer at `started`, due in frame `frame_no` (which the
        renderer may already have sent, inside the same call)."""
        started = time.monotonic() if started is None else started
        if frame_no <= self._last_frame:
            self.command_to_frame.observe(max(0.0, self._last_sent_at - started))
        else:
            self._pending.append((frame_no, started))

    def frame_sent(self, frame_no: int, sent_at: float, universes: frozenset[int]) -> None:
        self._last_frame, self._last_sent_at = frame_no, sent_at
        for universe in universes:
            self.frames.labels(str(universe)).inc()
        while self._pending and self._pending[0][0] <= frame_no:
            _, started = self._pending.popleft()
            self.command_to_frame.observe(max(0.0, sent_at - started))
