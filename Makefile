# `make test` does all the set-up on a fresh machine: a virtual environment with the
# project and its test tools at the versions in constraints.txt, then the whole suite
# (PostgreSQL and Redis at 127.0.0.1 are used when they answer; otherwise the tests start
# their own from the installed binaries).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv test

$(BIN)/orchestrator: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

venv: $(BIN)/orchestrator

test: venv
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

# The examples run on the embedded default (SQLite, no servers) against a small local
# service (examples/service.py) that each target starts and stops.
EXAMPLE_PORT ?= 8765
define with_service
	@$(BIN)/python examples/service.py --port $(EXAMPLE_PORT) >/dev/null 2>&1 & pid=$$!; trap 'kill $$pid' EXIT; \
	ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1 $(BIN)/orchestrator run $(1) --input '{"base_url": "http://127.0.0.1:$(EXAMPLE_PORT)"}' $(2)
endef

.PHONY: demo example-approval example-retry
demo: venv
	$(call with_service,examples/digest.yaml)

example-approval: venv
	$(BIN)/orchestrator run examples/approval.yaml --input '{"title": "Weekly digest"}' --approve approve

example-retry: venv
	$(call with_service,examples/retrying_fetch.yaml)
