# make run      - the whole system in the foreground, gateway on 127.0.0.1:$(GATEWAY_PORT)
# make test     - the whole test suite (real PostgreSQL and RabbitMQ)
# make demo     - load a demo network into the running system through its API (docs/demo.md)
# make api-key ROLE=manager|sales|channel|distributor [CHANNEL=tmall] [DISTRIBUTOR=<id>]
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
GATEWAY_PORT ?= 8000
export GATEWAY_PORT
export PYTHON := $(CURDIR)/$(PY)

.PHONY: run test api-key venv bench demo lint dead-letters replay-dead-letters check

venv: $(VENV)/.installed $(VENV)/.packages

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || python3.11 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

# our packages' folders (deploy/packages.txt) on the venv's path, for every command that uses it
$(VENV)/.packages: deploy/packages.txt $(VENV)/.installed
	@sed -e '/^#/d' -e '/^$$/d' -e 's|^|$(CURDIR)/|' deploy/packages.txt \
	  > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dcm.pth"
	@touch $@

# every Procfile service under supervisord (deploy/run): one that dies is restarted, Ctrl-C stops all
run: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(PY) deploy/run

# Tests use the local PostgreSQL and RabbitMQ unless told otherwise; set TEST_PG_URL= and
# TEST_AMQP_URI= (empty) to have testcontainers start them in Docker instead.
# deploy/test-prerequisites checks that they answer and switches on RabbitMQ's management API if needed.
test: venv
	export TEST_PG_URL=$${TEST_PG_URL-postgresql://postgres@127.0.0.1:5432} \
	  TEST_AMQP_URI=$${TEST_AMQP_URI-pyamqp://guest:guest@127.0.0.1:5672}; \
	deploy/test-prerequisites && $(PY) -m pytest $(PYTEST_ARGS)

api-key: venv
	@test -n "$(ROLE)" || { echo "usage: make api-key ROLE=manager|sales|channel|distributor [CHANNEL=..] [DISTRIBUTOR=..]" >&2; exit 2; }
	@DATABASE_URL=$${GATEWAY_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/dcm_gateway} \
	  $(PY) -m gateway.keys --role "$(ROLE)" $(if $(CHANNEL),--channel "$(CHANNEL)") $(if $(DISTRIBUTOR),--distributor "$(DISTRIBUTOR)")

# events a service gave up on (see README, "Failed events")
dead-letters: venv
	@test -n "$(SERVICE)" || { echo "usage: make dead-letters SERVICE=$$($(PY) -m common.topology --backends)" >&2; exit 2; }
	@$(PY) -m common.deadletters list "$(SERVICE)"

replay-dead-letters: venv
	@test -n "$(SERVICE)" || { echo "usage: make replay-dead-letters SERVICE=$$($(PY) -m common.topology --backends)" >&2; exit 2; }
	@$(PY) -m common.deadletters replay "$(SERVICE)"

# the running system's invariants across every service's database (docs/operations.md, "make check")
check: venv
	@$(PY) -m common.check

# issue #14's targets in one run beside a stock nameko reference, one table (docs/benchmarks.md);
# BENCH_ARGS="--quick" for a short smoke run, "--rounds 9 --seconds 4" for tighter intervals.
# The single benchmarks run as scripts: $(PY) bench/quote.py, bench/routing.py, …
bench: venv
	$(PY) bench/all.py $(BENCH_ARGS)

# a believable network loaded into the running system through its HTTP API, then what routing did
# (docs/demo.md); re-running adds nothing. DEMO_ARGS="--distributors 50 --orders 200 --seed 2"
demo: venv
	$(PY) deploy/demo.py $(DEMO_ARGS)

# ruff, then the import boundaries between our packages (.importlinter; tests/test_boundaries.py runs them too)
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
