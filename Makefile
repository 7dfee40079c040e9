# kafka-medic: `make demo` runs the main job, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# `make test` runs its modules in this many processes (pytest-xdist, one module per process at a time):
# two take the suite from ~55-80 to ~31-36 min here (it mostly waits on brokers, Airflow and throttled
# copies). 0 runs it in this process.
TEST_WORKERS ?= 2

.PHONY: install system-packages demo test test-unit lint down

$(BIN)/kafka-medic: pyproject.toml uv.lock
	@command -v uv >/dev/null || python3 -m pip install --quiet --user uv==0.13.9
	PATH="$$HOME/.local/bin:$$PATH" uv sync --frozen --compile-bytecode --python python3.11
	@touch $@

# Bytecode compiled ahead, as pip does at install (the Dockerfile's image has it): where the environment
# sets PYTHONDONTWRITEBYTECODE (this machine does), every process would otherwise compile what it imports
# from source, each time: 3.1 s instead of 1.3 s for Airflow's modules, paid by every Airflow task, DAG
# parse and CLI call. compileall only rewrites what changed; the project is installed editable, so its
# own modules (include/; DAG and plugin files are read by path) are compiled here, not by uv.
install: $(BIN)/kafka-medic
	$(BIN)/python -m compileall -q include

# Servers the real-component tests start (PostgreSQL, Prometheus); apt-get runs only if one is missing.
system-packages:
	bash .ci/install-system-packages

demo: install
	$(BIN)/kafka-medic demo

down: install
	$(BIN)/kafka-medic dev-cluster down

# pytest exits 5 when it collected no test: that must fail, not pass.
test: install system-packages
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-unit: install
	$(BIN)/pytest -m "not kafka and not zk and not postgres" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# ruff, the layer contracts (pyproject.toml [tool.importlinter]) and the type checker on include/.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
