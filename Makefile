# `make test` does all the set-up on a fresh machine: a virtual environment with the
# project at the versions in constraints.txt and its test tools at those in
# constraints-test.txt, then the whole suite
# (PostgreSQL and Redis at 127.0.0.1 are used when they answer; otherwise the tests start
# their own from the installed binaries).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv test tools

$(BIN)/orchestrator: pyproject.toml constraints.txt constraints-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -c constraints-test.txt -e '.[test,flower]'
	touch $@

venv: $(BIN)/orchestrator

# ruff, the import-linter layers contract (.importlinter) and mypy ([tool.mypy] in
# pyproject.toml) run first.
test: venv tools
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

# The console's browser tests drive Debian's chromium, and the metrics tests check /metrics
# with promtool (Debian's prometheus): installed here when missing and running as root with
# apt-get; otherwise those tests are skipped, saying why.
tools:
	@missing=""; \
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || missing="chromium chromium-driver"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "not installed: $$missing (their tests will be skipped)"; fi; \
	fi

# The examples run on the embedded default (SQLite, no servers) against a small local
# service (examples/service.py) that each target starts and stops.
EXAMPLE_PORT ?= 8765
define with_service
	@$(BIN)/python examples/service.py --port $(EXAMPLE_PORT) >/dev/null 2>&1 & pid=$$!; trap 'kill $$pid' EXIT; \
	ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1 $(BIN)/orchestrator run $(1) --input '{"base_url": "http://127.0.0.1:$(EXAMPLE_PORT)"}' $(2)
endef

.PHONY: demo example-approval example-retry example-map
demo: venv
	$(call with_service,examples/digest.yaml)

example-approval: venv
	$(BIN)/orchestrator run examples/approval.yaml --input '{"title": "Weekly digest"}' --approve approve

example-retry: venv
	$(call with_service,examples/retrying_fetch.yaml)

example-map: venv
	$(call with_service,examples/topic_map.yaml,--with examples/topic_summary.yaml)

# The llm example, offline: examples/service.py, the offline model provider
# (examples/llm_server.py, OpenAI and Anthropic protocols) and a provider, credential and
# model configured with the CLI on a fresh embedded database that is removed afterwards.
LLM_PORT ?= 8766
.PHONY: example-llm
example-llm: venv
	@data=$$(mktemp -d); \
	$(BIN)/python examples/service.py --port $(EXAMPLE_PORT) >/dev/null 2>&1 & svc=$$!; \
	$(BIN)/python -m examples.llm_server --port $(LLM_PORT) >/dev/null 2>&1 & llm=$$!; \
	trap 'kill $$svc $$llm; rm -rf "$$data"' EXIT; \
	export ORCHESTRATOR_DATA_DIR="$$data" ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1 ORCHESTRATOR_LLM_ALLOW_PRIVATE=1; \
	$(BIN)/orchestrator db upgrade >/dev/null && \
	$(BIN)/orchestrator providers add offline --type openai --base-url http://127.0.0.1:$(LLM_PORT)/v1 && \
	echo sk-offline-example-0000 | $(BIN)/orchestrator credentials add offline --alias example && \
	$(BIN)/orchestrator models add offline digest-1 --input-price 0.15 --output-price 0.6 && \
	$(BIN)/orchestrator run examples/llm_digest.yaml --input '{"base_url": "http://127.0.0.1:$(EXAMPLE_PORT)"}'

# The agent examples, offline the same way; examples/agents_setup.py stores the tools (approved:
# they are the admin's), the agents and the team, and scripts the offline provider's answers.
define with_agents
	@data=$$(mktemp -d); \
	$(BIN)/python examples/service.py --port $(EXAMPLE_PORT) >/dev/null 2>&1 & svc=$$!; \
	$(BIN)/python -m examples.llm_server --port $(LLM_PORT) >/dev/null 2>&1 & llm=$$!; \
	trap 'kill $$svc $$llm; rm -rf "$$data"' EXIT; \
	export ORCHESTRATOR_DATA_DIR="$$data" ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1 ORCHESTRATOR_LLM_ALLOW_PRIVATE=1; \
	$(BIN)/orchestrator db upgrade >/dev/null && \
	$(BIN)/orchestrator providers add offline --type openai --base-url http://127.0.0.1:$(LLM_PORT)/v1 && \
	echo sk-offline-example-0000 | $(BIN)/orchestrator credentials add offline --alias example && \
	$(BIN)/orchestrator models add offline agent-1 --input-price 0.15 --output-price 0.6 && \
	$(BIN)/python -m examples.agents_setup $(1) --service http://127.0.0.1:$(EXAMPLE_PORT) \
		--llm http://127.0.0.1:$(LLM_PORT) && \
	$(BIN)/orchestrator run examples/$(1).yaml
endef

.PHONY: example-agent example-team
example-agent: venv
	$(call with_agents,agent)

example-team: venv
	$(call with_agents,team)
