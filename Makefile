# weather-speed-layer: `make run` starts the pipeline locally, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: help venv run test lint typecheck unit integration kafka-up kafka-down clean

help:
	@echo "make run         local Kafka + one worker with simulated weather + live view (Ctrl-C stops)"
	@echo "make test        lint, types, unit and integration tests (starts its own Kafka)"
	@echo "make kafka-up    start the local Kafka broker (KAFKA_PORT, default 9092)"
	@echo "make kafka-down  stop it"

$(INSTALLED): setup.cfg pyproject.toml
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/venv.sh
	touch $@

venv: $(INSTALLED)

run: venv
	scripts/run.sh

kafka-up:
	scripts/kafka.sh up

kafka-down:
	scripts/kafka.sh down

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit

integration: venv
	$(BIN)/pytest tests/integration

test: lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
