# Kesher: `make up` runs everything on this machine, `make test` runs every test.
# Both install what is missing first (Debian packages as root, a venv from the lock).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export RASA_TELEMETRY_ENABLED := false
# Rasa evicts training-cache entries beyond 1 GB by default: the current model alone needs ~0.7 GB.
export RASA_MAX_CACHE_SIZE := 4000
export PYTHONPATH := $(CURDIR)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

APT_PACKAGES := redis-server chromium fonts-noto-core culmus

.PHONY: up test install system-deps lint typecheck validate check-content train shell bench bench-nlu bench-relay bench-channels bench-ship ship clean

up: install
	$(BIN)/python -m bot up

test: install lint typecheck check-content train
	$(BIN)/python -m pytest

install: system-deps $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): requirements/lock.txt requirements/rasa.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements/lock.txt
	$(BIN)/python -m pip install -q --no-deps --ignore-requires-python -r requirements/rasa.txt
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/rasa data validate --fail-on-warnings --domain domain --data data

# Rasa's validation plus the bilingual checks (both languages, examples, articles); see docs/writing.md.
check-content: install
	$(BIN)/python -m bot.content_check

train: $(STAMP)
	$(BIN)/python -m bot train

shell: install
	$(BIN)/python -m bot shell

# Benchmarks are not part of `make test`; results go to docs/benchmarks.md.
bench: install
	$(BIN)/python -m bench.turns

bench-nlu: install
	$(BIN)/python -m bench.nlu

bench-relay: install
	$(BIN)/python -m bench.relay

bench-channels: install
	$(BIN)/python -m bench.channels

bench-ship: install
	$(BIN)/python -m bench.ship

# Content writers: check → train → conversation tests + NLU gate → publish; the running
# servers switch to the new model without a restart. SHIP_ARGS=--finetune trains faster.
ship: install
	$(BIN)/python -m bot.ship $(SHIP_ARGS)

clean:
	rm -rf $(VENV) models/*.tar.gz .rasa results var
