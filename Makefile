# The two entry points of the README. Both create ./.venv with the project and its
# dependencies installed, so they work on a fresh machine that only has Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: setup demo test lint bench skill year clean

$(BIN)/riskcast: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/riskcast

demo: setup
	$(BIN)/riskcast demo --out $(OUT)

# ruff: pyflakes, import order and pycodestyle's errors (pyproject.toml [tool.ruff]); CI runs it with the tests
lint: setup
	$(BIN)/ruff check src tests benchmarks

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
