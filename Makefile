# hakit: Pacemaker/Corosync HA for OpenStack controllers.
# `make demo` and `make test` work on a fresh Debian 12 machine as root: both
# install what they need first (packaging/ci/install-deps.sh).

SYSTEM_PYTHON ?= /usr/bin/python3
VENV          ?= $(CURDIR)/.venv
PY            := $(VENV)/bin/python
DESTDIR       ?= /
PYTEST_ARGS   ?=

export VENV

.PHONY: help deps test check lint unit contract integration golden demo lab lab-shell install deb rpm bench failover clean

help:
	@echo "make demo        build, verify and simulate the shipped topology; agents on a live node"
	@echo "make lab         the whole 3-node controller cluster live, its failover scenarios, teardown"
	@echo "make lab-shell   the same lab, left running until Ctrl-C; prints how to enter a node"
	@echo "make test        install what the tests need, then lint + the whole suite"
	@echo "make check       lint, unit and contract tests (no daemons)"
	@echo "make integration the tests that run real daemons"
	@echo "make golden      regenerate golden meta-data files"
	@echo "make install     install agents and library under DESTDIR (default /)"
	@echo "make deb         build the .deb packages (and python3-redfish) into dist/deb"
	@echo "make rpm         build the RPM packages for the RHEL 9 family into dist/rpm"
	@echo "make bench       reproducible benchmarks (see bench/README.md)"
	@echo "make failover    failover of the live lab from a client, 5 runs (bench/failover.py)"

deps:
	@packaging/ci/install-deps.sh

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: deps
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

contract: deps
	$(PY) -m pytest tests/contract $(PYTEST_ARGS)

check: lint unit contract

integration: deps
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

# The whole suite: lint, then every tier in one pytest run.
test: lint
	$(PY) -m pytest tests $(PYTEST_ARGS)

golden: deps
	$(PY) tests/contract/golden.py --write
	$(PY) tests/contract/golden_cib.py --write

demo: deps
	$(PY) examples/demo.py

# The whole controller cluster (tests/lab/controllers.py): needs root, the
# cluster packages and the OpenStack test venv (make deps installs them).
lab: deps
	$(PY) -m tests.lab.run_lab

lab-shell: deps
	$(PY) -m tests.lab.run_lab --shell

install:
	$(SYSTEM_PYTHON) packaging/install.py --destdir "$(DESTDIR)"

deb: deps
	packaging/build-deb.sh dist/deb

rpm: deps
	packaging/build-rpm.sh dist/rpm

bench: deps
	bench/run.sh

failover: deps
	$(PY) bench/failover.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
