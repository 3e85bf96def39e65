# The two entry points of the README. Both create ./.venv with the project and its
# dependencies installed, so they work on a fresh machine that only has Python 3.11+.
# `make demo` installs what the main job needs (riskcast and its PDF renderer); `make test` and
# the other targets add the extras and the test tools (pyproject.toml [project.optional-dependencies]).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: setup demo test lint bench skill year clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-main: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[pdf]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-main

setup: $(VENV)/.installed-dev

demo: $(VENV)/.installed-main
	$(BIN)/riskcast demo --out $(OUT)

# ruff: pyflakes, import order and pycodestyle's errors, and the formatter's layout
# (pyproject.toml [tool.ruff]); CI runs both with the tests
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: setup lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: setup
	$(BIN)/python benchmarks/run_all.py

# The skill card (reports/skill_card.md): every model on the demo and the real Sahel configs.
skill: setup
	$(BIN)/python benchmarks/skill.py

# A simulated year of the scheduled job (reports/simulated_year.md).
year: setup
	$(BIN)/python benchmarks/simulate_year.py

clean:
	rm -rf $(VENV) out
