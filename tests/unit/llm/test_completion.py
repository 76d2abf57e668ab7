"""The ``llm`` node against the offline provider over HTTP, on PostgreSQL and SQLite."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from examples import llm_server as llm
from orchestrator.db import Credential, Endpoint, Execution, LedgerEntry, LLMModel, Provider, StructuredOutput
from orchestrator.services import usage
from orchestrator.nodes.base import Continue

ASK = {"model": "acme/m1", "prompt": "Say hello"}
SCHEMA = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string", "minLength": 3}}}


def _credential(world, alias):
    with world.sessions() as s:
        return s.scalar(select(Credential).where(Credential.alias == alias))


# resolution: each "nothing usable" names what is missing

@pytest.mark.parametrize("setup, message", [
    (lambda w, s: None, "no provider named 'nobody'"),
    (lambda w, s: s.execute(update(Provider).values(is_active=False)), "provider 'acme' is not active"),
    (lambda w, s: s.execute(update(LLMModel).values(status="deprecated")), "model 'acme/m1' is deprecated"),
    (lambda w, s: s.execute(update(Endpoint).values(is_active=False)), "provider 'acme' has no active default endpoint"),
    (lambda w, s: s.execute(update(Credential).values(is_active=False)), "'k1' is not active"),
    (lambda w, s: s.execute(update(Credential).values(expires_at=datetime(2020, 1, 2, tzinfo=timezone.utc))),
     "'k1' expired at 2020-01-02 00:00 UTC"),
    (lambda w, s: s.execute(update(Credential).values(
        cooldown_until=datetime.now(timezone.utc) + timedelta(hours=1))), "'k1' is cooling down until"),
    (lambda w, s: s.execute(Credential.__table__.delete()), "provider 'acme' has no credential"),
])
def test_nothing_usable_names_what_is_missing(world, setup, message):
    world.provider()
    with world.sessions.begin() as s:
        setup(world, s)
    model = "nobody/m1" if "nobody" in message else "acme/m1"
    turns = world.run({**ASK, "model": model})
    assert message in str(turns.error)
    assert world.server.requests == []


def test_unknown_model_is_named(world):
    world.provider()
    turns = world.run({**ASK, "model": "acme/m9"})
    assert str(turns.error) == "no model could answer: provider 'acme' has no model 'm9'"


# a call: output, usage, cost

def test_a_call_gives_text_usage_and_cost_from_the_prices(world):
    world.provider(keys=("sk-live-abcdefghijklmnop",))
    turns = world.run(ASK)
    assert turns.output == {
        "text": "offline reply to: Say hello", "finish_reason": "stop",
        "model": {"provider": "acme", "model_id": "m1", "fallback_index": 0},
        # prompt: 2 words; answer: 5 words; 2/1000*0.5 + 5/1000*1.5
        "usage": {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7, "cost": 0.0085},
    }
    [call] = turns.calls
    assert (call.kind, call.target, call.status, call.cost, call.meta["credential"]) == ("llm", "acme/m1", "ok",
                                                                                         0.0085, "k1")
    assert [r.api_key for r in world.server.requests] == ["sk-live-abcdefghijklmnop"]
    with world.sessions() as s:      # (the execution's totals are the engine's: see test_llm_e2e)
        entry = s.scalars(select(LedgerEntry)).one()
        assert (entry.id, entry.provider, entry.model, entry.prompt_tokens, entry.completion_tokens, entry.cost,
                entry.settled_at is not None) == (call.id, "acme", "m1", 2, 5, Decimal("0.0085"), True)
        assert entry.reserved > entry.cost          # held the worst case until the turn's commit settled it
        credential = s.scalars(select(Credential)).one()
        assert (credential.quota_used, credential.last_used_at is not None) == (1, True)


def test_cost_is_null_when_a_price_is_unknown(world):
    world.provider(models={"m1": (0.5, None)})
    turns = world.run(ASK)
    assert turns.output["usage"]["cost"] is None
    assert turns.calls[0].cost is None
    with world.sessions() as s:
        assert s.scalars(select(Execution.total_cost)).one() is None
        assert s.scalars(select(LedgerEntry.cost)).one() is None


def test_usage_not_reported_leaves_tokens_and_cost_unknown(world):
    world.provider()
    world.server.script(llm.text("no usage here", report_usage=False))
    turns = world.run(ASK)
    assert turns.output["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": None}
    assert (turns.calls[0].usage, turns.calls[0].cost) == (None, None)


def test_usage_adds_up_per_day_and_model(world):
    world.provider()
    world.run(ASK)
    world.run(ASK)
    with world.sessions() as s:
        today = datetime.now(timezone.utc).date()
        [row] = usage.usage(s, s.merge(world.owner), today, today, "day_model").items
        assert (row["requests"], row["prompt_tokens"], row["completion_tokens"], row["cost"]) == \
            (2, 4, 10, Decimal("0.017"))


def test_anthropic_protocol(world):
    world.provider("claude", "anthropic", models={"haiku": (1, 5)})
    turns = world.run({"model": "claude/haiku", "system": "Be terse.", "prompt": "Name a colour",
                       "output_schema": SCHEMA})
    assert turns.output["structured"] == {"title": "Name a colour"}
    [request] = world.server.requests
    assert request.protocol == "anthropic" and request.body["system"].startswith("Be terse.")
    assert request.body["max_tokens"] == 1024


def test_azure_gets_its_key_in_the_api_key_header_and_the_api_version(world):
    world.provider("az", "azure")
    with world.sessions.begin() as s:
        s.execute(update(Endpoint).values(api_version="2024-10-21"))
    assert world.run({**ASK, "model": "az/m1"}).output["text"]
    [request] = world.server.requests
    assert request.headers["api-key"] == "sk-acme-key-one-0001"
    assert request.query == {"api-version": ["2024-10-21"]}


# failures: 429, 5xx, 401, quota, timeouts

def test_429_with_one_credential_parks_until_retry_after_then_succeeds(world):
    world.provider()
    world.server.script(llm.error(429, "slow down", retry_after=30, retry_after_ms=400))
    before = datetime.now(timezone.utc)
    turns = world.run(ASK)
    park = turns.results[-1]
    assert isinstance(park, Continue)
    assert before + timedelta(seconds=0.3) < park.not_before < before + timedelta(seconds=2)   # ms wins
    assert "rate limited" in park.message
    assert _credential(world, "k1").cooldown_until == park.not_before
    time.sleep(max(0.0, (park.not_before - datetime.now(timezone.utc)).total_seconds()))
    turns = world.run(ASK, execution_id=None, follow_parks=True)
    assert turns.output["text"] == "offline reply to: Say hello"


def test_429_tries_the_next_credential_in_the_same_turn(world):
    world.provider(keys=("sk-first-key-000000001", "sk-second-key-00000002"))
    world.server.script(llm.error(429, retry_after=60))
    turns = world.run(ASK)
    assert turns.output["text"].startswith("offline reply")
    assert [c.status for c in turns.calls] == ["error", "ok"]
    assert [r.api_key for r in world.server.requests] == ["sk-first-key-000000001", "sk-second-key-00000002"]
    assert _credential(world, "k1").cooldown_until > datetime.now(timezone.utc) + timedelta(seconds=50)


def test_5xx_is_retried_then_the_next_model_answers(world):
    world.provider(models={"m1": (1, 1), "m2": (None, None)}, retry_count=2)
    world.server.script(*[llm.error(503, "overloaded", model="m1")] * 3)
    turns = world.run({**ASK, "fallbacks": ["acme/m2"]})
    assert turns.output["model"] == {"provider": "acme", "model_id": "m2", "fallback_index": 1}
    assert [(c.target, c.status) for c in turns.calls] == [("acme/m1", "error")] * 3 + [("acme/m2", "ok")]
    assert "answered 503: overloaded" in turns.calls[0].error


def test_all_models_failing_names_each_reason(world):
    world.provider(models={"m1": (1, 1)}, retry_count=0)
    world.server.script(llm.error(500, "boom"))
    turns = world.run({**ASK, "fallbacks": ["acme/m2"]})
    assert "tried acme/m1, acme/m2" in str(turns.error)
    assert "answered 500: boom (after 0 retries)" in str(turns.error)
    assert "provider 'acme' has no model 'm2'" in str(turns.error)


def test_401_cools_the_credential_down_and_rotates(world):
    world.provider(keys=("sk-revoked-key-0000001", "sk-good-key-000000002"))
    world.server.script(llm.error(401, "invalid api key"))
    turns = world.run(ASK)
    assert turns.output["text"].startswith("offline reply")
    assert _credential(world, "k1").cooldown_until > datetime.now(timezone.utc) + timedelta(seconds=200)
    assert turns.calls[0].meta["http_status"] == 401


def test_daily_quota_exhausted(world):
    world.provider(quota_limit=1)
    assert world.run(ASK).output["text"]
    turns = world.run(ASK)
    assert "'k1' used its daily quota of 1 requests" in str(turns.error)
    assert len(world.server.requests) == 1


def test_a_hung_provider_times_out_per_the_endpoint(world):
    world.provider(retry_count=1, timeout_read=0.3)
    world.server.script(llm.hang(), llm.hang())
    started = time.monotonic()
    turns = world.run(ASK)
    assert "acme/m1 at http://127.0.0.1" in str(turns.error) and "timed out (after 1 retries)" in str(turns.error)
    assert time.monotonic() - started < 3


def test_a_bad_request_fails_without_fallback(world):
    world.provider(models={"m1": (1, 1), "m2": (1, 1)})
    world.server.script(llm.error(400, "temperature must be at most 2"))
    turns = world.run({**ASK, "fallbacks": ["acme/m2"], "params": {"temperature": 9}})
    assert "answered 400: temperature must be at most 2" in str(turns.error)
    assert len(world.server.requests) == 1
    assert world.server.requests[0].body["temperature"] == 9


def test_private_endpoint_refused_unless_allowed(world, migrated_settings):
    world.provider()
    world.settings = migrated_settings            # ORCHESTRATOR_LLM_ALLOW_PRIVATE unset
    turns = world.run(ASK)
    assert "refusing to connect to 127.0.0.1 (loopback address)" in str(turns.error)
    assert world.server.requests == []


# structured output

def test_invalid_structured_output_is_repaired_in_a_second_turn(world):
    world.provider()
    world.server.script(llm.json_reply({"title": "x"}))
    turns = world.run({**ASK, "output_schema": SCHEMA, "repair_attempts": 1})
    first, second = turns.results
    assert isinstance(first, Continue) and first.not_before is None
    title = second["structured"]["title"]           # the offline provider echoes the last user message
    assert title.startswith("Your answer is not valid")
    repair = world.server.requests[1].messages
    assert repair[-2] == {"role": "assistant", "content": '{"title": "x"}'}
    assert "title: 'x' is too short" in repair[-1]["content"]
    assert second["usage"]["total_tokens"] == sum(c.usage["total_tokens"] for c in turns.calls)
    with world.sessions() as s:
        row = s.scalars(select(StructuredOutput)).one()
        assert (row.node_id, row.structured_data, row.schema_valid, row.validation_errors) == \
            ("ask", {"title": title}, True, None)


def test_still_invalid_after_the_repairs_fails_naming_the_schema_error(world):
    world.provider()
    world.server.script(llm.text("not json at all"), llm.json_reply({"name": "no title"}))
    turns = world.run({**ASK, "output_schema": SCHEMA, "repair_attempts": 1})
    assert str(turns.error) == ("the answer of acme/m1 is not valid against output_schema after 1 repair "
                                "attempt(s): (root): 'title' is a required property")
    with world.sessions() as s:
        row = s.scalars(select(StructuredOutput)).one()
        assert (row.structured_data, row.schema_valid, row.validation_errors) == \
            ({"name": "no title"}, False, ["(root): 'title' is a required property"])


def test_a_fenced_json_answer_is_accepted(world):
    world.provider()
    world.server.script(llm.text('```json\n{"title": "fenced"}\n```'))
    assert world.run({**ASK, "output_schema": SCHEMA}).output["structured"] == {"title": "fenced"}


# streaming

def test_streamed_deltas_are_emitted_about_every_200_ms(world):
    world.provider()
    world.server.script(llm.stream([f"w{i} " for i in range(10)], interval=0.06))
    turns = world.run({**ASK, "stream": True})
    assert turns.output["text"] == "".join(f"w{i} " for i in range(10))
    deltas = [data["delta"] for kind, _, data in turns.events if kind == "llm_delta"]
    assert "".join(deltas) == turns.output["text"]
    assert 2 <= len(deltas) <= 5                  # 0.6 s of chunks in batches of ~0.2 s, not 10 events
    assert world.server.requests[0].body["stream"] is True
    assert turns.output["usage"]["completion_tokens"] == 10


# memory

def test_memory_sends_the_previous_pairs_before_the_prompt(world):
    world.provider()
    config = {**ASK, "memory": {"key": "chat-1", "max_messages": 1}}
    world.run({**config, "prompt": "first question"})
    world.run({**config, "prompt": "second question"})
    world.run({**config, "prompt": "third question"})
    world.run({**config, "memory": {"key": "chat-2"}, "prompt": "elsewhere"})
    assert world.server.requests[2].messages == [
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": "offline reply to: second question"},
        {"role": "user", "content": "third question"},
    ]
    assert world.server.requests[3].messages == [{"role": "user", "content": "elsewhere"}]


# redaction

def test_calls_are_stored_redacted(world):
    key = "sk-acme-secret-value-123456"
    world.provider(keys=(key,))
    world.server.script(llm.error(401, f"bad key {key}"), llm.text("mail ops@example.org"))
    world.provider("backup", keys=(key + "-2",))
    turns = world.run({"model": "acme/m1", "fallbacks": ["backup/m1"],
                       "prompt": "Write to jane.doe@example.com, Authorization: Bearer abc.def.ghijklmnop, "
                                 "call +44 20 7946 0958"})
    text = json.dumps([c.__dict__ for c in turns.calls], default=str)
    for secret in (key, "jane.doe@example.com", "abc.def.ghijklmnop", "7946 0958", "ops@example.org"):
        assert secret not in text
    assert "[REDACTED:email]" in text and "Bearer [REDACTED]" in text and "[REDACTED:phone]" in text
    assert turns.output["text"] == "mail ops@example.org"      # the output itself is the node's answer


# size

@pytest.mark.timeout(60)
def test_a_900_kb_prompt_of_one_word_is_answered_and_recorded_promptly(world):
    """Masking e-mail addresses in it used to take minutes (a quadratic pattern)."""
    world.provider()
    prompt = "x" * 900_000
    turns = world.run({**ASK, "prompt": prompt})
    assert turns.output["text"] == "offline reply to: " + "x" * 200
    assert turns.calls[0].request["messages"] == [{"role": "user", "content": prompt}]


def test_messages_over_the_prompt_limit_fail_naming_the_setting(world):
    world.provider()
    world.settings = replace(world.settings, llm_max_prompt_chars=1000)
    turns = world.run({**ASK, "system": "Be brief.", "prompt": "y" * 992})
    assert str(turns.error) == ("the messages for acme/m1 hold 1,001 characters, over ORCHESTRATOR_LLM_MAX_PROMPT_CHARS "
                                "(1,000): shorten the prompt or raise the limit")
    assert turns.error.retryable is False and world.server.requests == []
