"""Scenarios, in run order. Each module has `NAME` and `run(bench) -> list[Row]`."""

from __future__ import annotations

from types import ModuleType

from bench.scenarios import (
    baseline,
    effects,
    group,
    persistence,
    scale,
    scaleout,
    single,
    throughput,
    web,
)

SCENARIOS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (baseline, single, group, effects, throughput, scale, scaleout, persistence, web)
}
# Latencies are reported against the baseline measured in the same run.
NEEDS_BASELINE = {"single", "group"}
