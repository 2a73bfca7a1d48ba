# make serve: run the host with the example plugins.  make test: the whole suite.
# make bench: the benchmarks (bench/, a few minutes); writes bench/RESULTS.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(sort $(wildcard plugins/*))
STAMP := $(VENV)/.installed
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: serve test lint bench clean

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]' $(addprefix -e ,$(PLUGINS))
	touch $@

serve: $(STAMP)
	$(BIN)/apphost serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	command -v wrk >/dev/null || $(SUDO) apt-get install -y wrk || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info plugins/*/*.egg-info plugins/*/build .pytest_cache .mypy_cache .hypothesis .ruff_cache
