# `make run` starts the whole service locally; `make test` installs what it needs and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint services test-tools bench bench-latency chaos compose-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(BIN)/python scripts/devstack.py

services:
	@scripts/ensure-services.sh

# Debian's chromium (browser tests), promtool (alert rules) and RabbitMQ (broker chaos test),
# installed with apt-get when missing (as root); RabbitMQ started if stopped.
test-tools:
	@scripts/ensure-test-tools.sh

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports --no-cache --no-logo
	DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres $(BIN)/python manage.py makemigrations --check --dry-run
	POSTGRES_PASSWORD=check RABBITMQ_PASSWORD=check SECRET_KEY=check FLOWER_BASIC_AUTH=check:check $(BIN)/docker-compose -f docker-compose.yml config --quiet

test: $(VENV)/.dev-installed services test-tools lint
	$(BIN)/pytest -m "not soak"

# Only the chaos tests (also part of `make test`, but for the slow `soak` comparisons), with each
# one's recovery time printed.
chaos: $(VENV)/.dev-installed services
	$(BIN)/pytest -m chaos -rA tests/workers

# Builds the image and runs docker-compose.yml under podman (tests/deploy/test_compose_stack.py,
# also part of `make test`); the first run also builds the local base images (deploy/compose/).
compose-test: $(VENV)/.dev-installed services test-tools
	$(BIN)/pytest -m compose -rA tests/deploy

bench: $(VENV)/.dev-installed services
	DJANGO_SETTINGS_MODULE=tests.settings REDIS_URL=redis://127.0.0.1:6379/9 $(BIN)/python bench/breaker.py
	$(BIN)/python bench/send_path.py

# Deliveries at a provider's latency: ours against a bare provider call (200 ms, every provider),
# then the load test at 100, 200 and 500 ms (about 15 minutes; bench/README.md has the results).
bench-latency: $(VENV)/.dev-installed services
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/load.py --delays 0.1,0.2,0.5

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
