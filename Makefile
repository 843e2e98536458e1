# weather-speed-layer: `make run` starts the pipeline locally, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: help venv tools run test bench lint typecheck unit integration kafka-up kafka-down cassandra-up cassandra-down stack-up stack-down analytics-up analytics-down clean

help:
	@echo "make run         local Kafka + one worker with simulated weather + live view (Ctrl-C stops)"
	@echo "make test        lint, types, unit and integration tests (starts its own Kafka)"
	@echo "make kafka-up    start the local Kafka broker (KAFKA_PORT, default 9092; KAFKA_NODES=3: three)"
	@echo "make kafka-down  stop it (all of them)"
	@echo "make cassandra-up    start the local Cassandra node (CASSANDRA_PORT, default 9042); make cassandra-down"
	@echo "make stack-up    Kafka + InfluxDB 2 + Telegraf (WITH_WORKER=1: + one worker); make stack-down"
	@echo "make analytics-up    Cassandra + the Spark job: Kafka's weather_data_v2 into the Parquet lake and Cassandra"
	@echo "make analytics-down  stop both (the Spark job first)"
	@echo "make tools       build Telegraf, InfluxDB and the dashboard schema check (Go module proxy; cached, ~8 min once)"
	@echo "make bench       benchmarks into BENCHMARKS.md (~16 min, 12 of them the city sizes)"

$(INSTALLED): setup.cfg pyproject.toml
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/venv.sh
	touch $@

venv: $(INSTALLED)

run: venv
	@# WORKERS=N starts N workers (web ports 6066, 6067, ...)
	scripts/run.sh

# Telegraf and influxd, built once into ~/.cache/weather-speed-layer/bin and reused; the
# dashboard schema checker (Go build cache); Debian's chromium for the web page test.
tools:
	scripts/install-telegraf.sh
	scripts/install-schema-check.sh
	scripts/install-influxdb.sh
	scripts/install-chromium.sh

stack-up: venv tools
	scripts/stack.sh up

stack-down:
	scripts/stack.sh down

kafka-up:
	scripts/kafka.sh up

# The analytics side (README "Analytics (Spark)"): reads Kafka, which must be up (make kafka-up).
analytics-up: venv
	scripts/cassandra.sh up
	scripts/analytics.sh up

analytics-down:
	scripts/analytics.sh down
	scripts/cassandra.sh down

kafka-down:
	scripts/kafka.sh down

cassandra-up:
	scripts/cassandra.sh up

cassandra-down:
	scripts/cassandra.sh down

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit

integration: venv tools
	$(BIN)/pytest tests/integration

test: lint typecheck tools
	$(BIN)/pytest

# Throughput, latency, scaling and memory against a plain aiokafka loop and Quix Streams, on its
# own Kafka; writes BENCHMARKS.md (about 16 minutes on 2 cores, 12 of them the city sizes;
# `BENCH_ARGS=--quick` for a taste, without the city sizes).
BENCH_ARGS ?= --cities 1000,10000,100000
bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
