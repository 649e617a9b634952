# The two commands: `make run` (demo on embedded defaults) and `make test`.
# `make run` installs what Tau needs at run time (with the embedded PostgreSQL and broker
# of the `embedded` extra, which a production install leaves out); the development tools (pytest,
# ruff, mypy, hypothesis, py-spy...) come with the first target that uses them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench bench-quick soak clean venv browser

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tau needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[fast,embedded]'
	@touch $@

$(STAMP): pyproject.toml $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP)

# Debian's chromium for the web page's browser tests (Playwright drives it; no download).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	@/usr/bin/chromium --version

run: $(RUNTIME_STAMP)
	$(BIN)/tau run --demo

lint: $(STAMP)
	$(BIN)/ruff check bridge tests bench testkit
	$(BIN)/ruff format --check bridge tests bench testkit

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite mostly waits on real processes (bridge, broker, PostgreSQL), so three
# pytest-xdist workers fit on two cores (one process: ~800 s; two workers: ~355 s; three:
# ~320 s, each measured beside a running soak); a module's tests stay on one worker (they
# share module-scoped bridges), and the CPU-heavy and millisecond-timing tests hold one
# lock (`quiet_machine` in tests/conftest.py). PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 3

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/results

# A long run under steady mixed load (bench/soak.py): SOAK_MIN minutes, 10 by default.
soak: $(STAMP)
	$(BIN)/python -m bench.soak
