"""The shared test kit: real PostgreSQL and Mosquitto (local, or owned throwaway ones),
the bridge as a process, an emulated DMX USB Pro widget, Art-Net/sACN receivers and
an MQTT probe.

A top-level package so that both `tests/` and `bench/` import it (`from testkit.bridge
import BridgeProcess`) without the benchmarks depending on the test suite; pytest finds
it through `pythonpath = ["."]` in pyproject.toml, `python -m bench` from the repository
root (bench/harness.py adds the root when run from elsewhere).
"""
