# Kesher: `make up` runs everything on this machine, `make test` runs every test.
# Both install what is missing first (Debian packages as root, a venv from the lock).
# Settings come from the environment through core/settings.py; nothing here sets them.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KESHER := $(BIN)/python -m kesher

export PIP_DISABLE_PIP_VERSION_CHECK := 1

# nginx: the TLS front door (kesher/frontdoor.py), bookworm's 1.22 from bookworm-security.
# postgresql: the event log on PostgreSQL in the tests (tests/helpers/postgres.py); make up uses SQLite.
APT_PACKAGES := redis-server chromium fonts-noto-core culmus nginx postgresql

.PHONY: up test check install system-deps lint typecheck check-content train shell \
        bench bench-nlu bench-e5 bench-relay bench-channels bench-ship bench-swap bench-kpis bench-heal bench-capacity test-faults ship clean

# `make up REPLICAS=2` runs two of each of rasa run, the action server and the handoff service behind nginx.
up: install
	$(if $(REPLICAS),KESHER_REPLICAS=$(REPLICAS) )$(KESHER) up

# Everything: the fast loop (the fuzz test included), the content check, a trained model, then the tests that
# need them (the whole stack's tests, the front door's among them, on one worker, the ones that train on the other:
# see tests/conftest.py).
test: check check-content train
	$(BIN)/python -m pytest -m "stack or training" -n 2 --dist loadgroup

# kill -9 of each part of `make up REPLICAS=2` mid-conversation, Redis restarted, SMTP down a minute: nothing lost,
# nothing shown twice (tests/e2e/test_faults_live.py; marked `stack` too, so `make test` runs it).
test-faults: install train
	$(BIN)/python -m pytest -m faults -n 0 -s

# The inner loop: lint, types (tests too), and every test that needs neither a model nor the whole stack.
# Four workers on two cores: these tests mostly wait on servers, Redis and the browser.
check: install lint typecheck
	$(BIN)/python -m pytest -m "not stack and not training" -n 4

install: system-deps $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  case " $$missing " in *" nginx "*) systemctl disable --now nginx >/dev/null 2>&1 || true;; esac; \
	  case " $$missing " in *" postgresql "*) systemctl disable --now postgresql >/dev/null 2>&1 || true;; esac; \
	fi

$(STAMP): requirements/lock.txt requirements/rasa.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements/lock.txt
	$(BIN)/python -m pip install -q --no-deps --ignore-requires-python -r requirements/rasa.txt
	touch $@

# ruff, then the layers of the README's picture (import-linter contracts in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Rasa's validation plus the bilingual checks (both languages, examples, articles, texts); see docs/writing.md.
check-content: install
	$(KESHER) check-content

train: $(STAMP)
	$(KESHER) train

shell: install
	$(KESHER) shell

# Benchmarks are not part of `make test`; results go to docs/benchmarks.md.
bench: install
	$(BIN)/python -m bench.turns

bench-nlu: install
	$(BIN)/python -m bench.nlu

bench-e5: install
	$(BIN)/python -m bench.e5

bench-relay: install
	$(BIN)/python -m bench.relay $(if $(REPLICAS),--replicas $(REPLICAS))

bench-channels: install
	$(BIN)/python -m bench.channels

bench-ship: install
	$(BIN)/python -m bench.ship

bench-swap: install
	$(BIN)/python -m bench.swap

bench-kpis: install
	$(BIN)/python -m bench.kpis

# What each part and each conversation costs (RSS, Redis memory, stream lengths): the capacity plan's figures.
bench-capacity: install
	$(BIN)/python -m bench.capacity $(if $(REPLICAS),--replicas $(REPLICAS))

# How long a part killed with kill -9 takes to be back (REPLICAS=2: and back in the balancer's rotation).
bench-heal: install
	$(BIN)/python -m bench.heal $(if $(REPLICAS),--replicas $(REPLICAS))

# Content writers: check | train → conversation tests | NLU gate, side by side → publish; the
# running servers switch to the new model without a restart (writers/ship.py).
ship: install
	$(KESHER) ship $(SHIP_ARGS)

clean:
	rm -rf $(VENV) models/*.tar.gz models/.training-* .rasa results var
