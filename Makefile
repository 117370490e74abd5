# tierwise — see README.md. `make run` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
# Python 3.11 or 3.12 (durable-rules fails on 3.13) that can make a venv: the distribution's own
# first (Debian and Ubuntu build it with profile-guided and link-time optimisation: 5-14 % less
# CPU per offer than a pyenv build without --enable-optimizations; docs/benchmarks.md), then
# whatever PATH offers. `make PYTHON=...` picks another.
PYTHON ?= $(shell for p in /usr/bin/python3.12 /usr/bin/python3.11 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys, ensurepip; sys.exit(not ((3,11) <= sys.version_info[:2] < (3,13)))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/tierwise_test
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# durable-rules' per-decision allocations are steadier with these (../shared/DESIGN.md).
export GLIBC_TUNABLES ?= glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=268435456

.PHONY: install run test lint check-migrations pytest fuzz stress bench bench-compare clean

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "need Python 3.11 or 3.12 (durable-rules fails on 3.13)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the API with a seeded demo tenant on the embedded default (SQLite, in-process cache).
run: install
	TIERWISE_MODE=embedded $(BIN)/tierwise demo
	TIERWISE_MODE=embedded $(BIN)/tierwise serve --host 127.0.0.1 --port 8000

## The whole suite against real PostgreSQL and Redis (lint, migration drift, tests).
test: install lint check-migrations pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy pricing rules storage app config

check-migrations: install
	$(BIN)/python -m tests.support.migrations_check

## Two xdist workers (PYTEST_WORKERS=0: one process), each on a database and a Redis database
## of its own (tests/support/databases.py); a module's tests stay on one worker (loadscope).
PYTEST_WORKERS ?= 2
pytest: install
	$(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

## The long fuzz runs (`make test` runs a short pass of each):
## * schemathesis over every operation of the OpenAPI (tests/fuzz): 100 generated requests per
##   operation, valid and invalid, and 100 stateful scenarios following the links;
## * the ruleset fuzzer (tests/unit/test_rule_fuzz.py): 500 random valid rulesets up to every
##   limit, each compiled on durable-rules and held to the engine ceilings (compile <= 100 ms,
##   p50 decision <= 1 ms, <= 5 MiB; prints the worst seen).
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} FUZZ_STATEFUL_EXAMPLES=$${FUZZ_STATEFUL_EXAMPLES:-100} \
		$(BIN)/pytest -q -p no:cacheprovider -rA tests/fuzz
	RULESET_FUZZ_EXAMPLES=$${RULESET_FUZZ_EXAMPLES:-500} $(BIN)/pytest -q -s -p no:cacheprovider \
		tests/unit/test_rule_fuzz.py

## The booking races (tests/integration/test_booking_races.py), each scenario 50 times, and the
## revenue property test with 200 examples: prints per race its runs and invariant violations.
stress: install
	STRESS_RUNS=$${STRESS_RUNS:-50} MONEY_EXAMPLES=$${MONEY_EXAMPLES:-200} $(BIN)/pytest -q \
		-p no:cacheprovider tests/integration/test_booking_races.py tests/api/test_revenue_money.py


## Benchmarks (print numbers; need PostgreSQL, Redis, wrk and redis-server): rules engine, offers,
## faults, webhook deliveries by one worker, the decision log partitioned or not (and its disk),
## the decision append's PostgreSQL CPU (migration 0022 against 0010), what metrics and rate limits
## cost per request.
bench: install
	$(BIN)/python -m bench.rules_bench
	$(BIN)/python -m bench.offers_bench
	$(BIN)/python -m bench.storefront_bench
	$(BIN)/python -m bench.faults_bench
	$(BIN)/python -m bench.events_bench
	$(BIN)/python -m bench.decisions_bench
	$(BIN)/python -m bench.append_bench
	$(BIN)/python -m bench.observability_bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache

## Offers before and after a change, interleaved in one run (BEFORE=<git revision>, default main):
## checks the revision out under var/bench/before with its own venv.
BEFORE ?= main
bench-compare: install
	rm -rf var/bench/before && mkdir -p var/bench
	git worktree prune && git worktree add --force --detach var/bench/before $(BEFORE)
	$(MAKE) -C var/bench/before install PYTHON=$(PYTHON)
	$(BIN)/python -m bench.compare_trees --before var/bench/before --after .
	git worktree remove --force var/bench/before
