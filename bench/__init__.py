"""Tau benchmarks: latency, throughput and scale against real Mosquitto and PostgreSQL.

`python -m bench` (or `make bench`) runs every scenario; `--quick` a short version.
Benchmarks print figures and never fail on a number.
"""
