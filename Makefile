# make serve: run the host with the example plugins.  make test: the whole suite
# (PYTEST_ARGS='-m "not live"' for the unit tests alone, in seconds).
# make bench: the benchmarks (bench/, a few minutes); writes bench/RESULTS.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(wildcard plugins/*))
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP := $(VENV)/.installed-test
INSTALLED_BY := pyproject.toml $(wildcard plugins/*/pyproject.toml)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: serve test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Serving needs the host and the example plugins only: not the test toolchain.
$(SERVE_STAMP): $(INSTALLED_BY) | $(BIN)/python
	$(BIN)/python -m pip install -q -e . $(addprefix -e ,$(PLUGINS))
	touch $@

# The test extras too (pytest, hypothesis, ruff, mypy, gunicorn, pyuwsgi...),
# whether or not serve installed the rest already.
$(TEST_STAMP): $(INSTALLED_BY) | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]' $(addprefix -e ,$(PLUGINS))
	touch $@

serve: $(SERVE_STAMP)
	$(BIN)/apphost serve $(ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(SERVE_STAMP)
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	command -v wrk >/dev/null || $(SUDO) apt-get install -y wrk || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info plugins/*/build .pytest_cache .mypy_cache .hypothesis .ruff_cache
