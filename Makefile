# Two commands for a fresh machine with Python 3 and make:
#   make demo   set up .venv, install the package, run the main job offline
#   make test   set up .venv with the dev extras, lint, run the whole suite on both backends
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: demo test lint test-tf test-jax bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/transformer-keras demo $(if $(DATA),--data $(DATA))

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test-tf: $(VENV)/.installed-dev
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -q --durations=25 tests

test-jax: $(VENV)/.installed-dev
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -q -m "jax and not tf_only" tests/layers tests/generation tests/models

test: lint test-tf test-jax

$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev,bench]"
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
