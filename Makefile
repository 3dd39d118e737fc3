# `make demo` runs the routine against the bundled sandbox; `make test` runs the checks.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench setup setup-test lint sandbox clean

demo: setup
	$(BIN)/rpa demo

test: setup-test
	$(BIN)/ruff check rpa flows tests
	$(BIN)/mypy rpa flows
	$(BIN)/pytest -q

# Timings on this machine (not a test): the buyer-messages flow on fifty threads.
bench: setup
	$(BIN)/python bench/buyer_messages.py

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

sandbox: setup
	$(BIN)/rpa sandbox

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
