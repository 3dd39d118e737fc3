# `make demo` runs the routine against the bundled sandbox; `make test` runs the checks.
VENV ?= .venv
BIN := $(VENV)/bin
# The suite and the benches start many Python processes (workers, `rpa` commands): their
# compiled modules are kept, in the venv rather than beside the sources, even where the
# environment turns that off (PYTHONDONTWRITEBYTECODE): each process would compile every
# module and rewrite every test's asserts again, seconds each.
KEEP_PYC := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(abspath $(VENV))/pycache

.PHONY: demo demo-scale test bench setup setup-test setup-bench lint sandbox clean

demo: setup
	$(BIN)/rpa demo

# Six sandbox sellers, one account each, three at a time: the per-account table.
demo-scale: setup
	$(BIN)/rpa demo --accounts 6 --concurrency 3

test: setup-test
	$(BIN)/ruff check rpa flows tests bench
	$(BIN)/mypy rpa flows
	$(KEEP_PYC) $(BIN)/pytest -q

# Timings on this machine (not tests): the mailbox triage against imapfilter at 1k, 10k and
# 50k messages, then the buyer-messages flow on fifty threads, the routine's memory, and six
# accounts three at a time against one at a time, and twelve through two queue workers.
bench: setup-bench
	$(KEEP_PYC) $(BIN)/python bench/mailbox.py
	$(KEEP_PYC) $(BIN)/python bench/buyer_messages.py
	$(KEEP_PYC) $(BIN)/python bench/routine_memory.py
	$(KEEP_PYC) $(BIN)/python bench/many_accounts.py
	$(KEEP_PYC) $(BIN)/python bench/queue_workers.py

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

setup-bench:
	@bash scripts/setup.sh --bench

sandbox: setup
	$(BIN)/rpa sandbox

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
