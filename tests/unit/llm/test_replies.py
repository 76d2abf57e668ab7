"""Whatever a provider answers, the step ends with an error that names it: malformed and empty
answers are transient (retried within the turn, then the step fails naming them), refusals,
filtered answers and answers cut off at their token limit fail the step at once. Each through
the real SDKs against the offline provider, scripted to answer so."""
from __future__ import annotations

import pytest

from examples import llm_server as llm

ASK = {"model": "acme/m1", "prompt": "Say hello"}
# What a provider answers has nothing to do with the database: SQLite only.
pytestmark = pytest.mark.parametrize("migrated_settings", ["sqlite"], indirect=True)
SCHEMA = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}
STREAM_CUT_SHORT = 'data: {"choices": [{"index": 0, "delta": {"content": "half"}}]}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("protocol, reply, named", [
    ("openai", llm.raw("{}"), "acme/m1 answered without choices"),
    ("openai", llm.raw('{"choices": []}'), "acme/m1 answered without choices"),
    ("openai", llm.raw('{"choices": [{"index": 0, "finish_reason": "stop"}]}'),
     "acme/m1 answered a choice without a message"),
    ("openai", llm.raw('{"choices": [{"message": {"content": 5}, "finish_reason": "stop"}]}'),
     "acme/m1 answered content that is not text (int)"),
    ("openai", llm.raw('{"choices": [{"message": {"tool_calls": [{"id": "c1"}]}, "finish_reason": "tool_calls"}]}'),
     "acme/m1 answered a tool call without a function name"),
    ("openai", llm.raw("upstream gateway said no"), "answered something that is not JSON"),
    ("openai", llm.raw("upstream gateway said no", content_type="text/plain"), "acme/m1 answered without choices"),
    ("openai", llm.raw(STREAM_CUT_SHORT, content_type="text/event-stream"),
     "the answer of acme/m1 ended before it was finished (no finish_reason)"),
    ("openai", llm.text(""), "acme/m1 answered nothing: no text and no tool call"),
    ("anthropic", llm.raw("{}"), "acme/m1 answered without content"),
    ("anthropic", llm.raw('{"type": "message", "content": [{"type": "text"}], "stop_reason": "end_turn"}'),
     "acme/m1 answered nothing: no text and no tool call"),
    ("anthropic", llm.raw("upstream gateway said no"), "answered something that is not JSON"),
    ("anthropic", llm.text("   "), "acme/m1 answered nothing: no text and no tool call"),
])
def test_a_malformed_or_empty_answer_is_retried_then_fails_naming_it(world, protocol, reply, named):
    world.provider(type=protocol, retry_count=1)
    stream = "event-stream" in reply.get("content_type", "")
    world.server.script(reply, reply)
    turns = world.run({**ASK, "stream": stream})
    assert f"{named} (after 1 retries)" in str(turns.error)
    assert turns.error.retryable is True                   # transient: the step's retry policy applies
    assert len(world.server.requests) == 2
    assert [c.status for c in turns.calls] == ["error", "error"] and named in turns.calls[0].error


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_malformed_answer_then_a_good_one_completes_the_step(world, protocol):
    world.provider(type=protocol, retry_count=1)
    world.server.script(llm.raw("{}"), llm.text("hello there"))
    turns = world.run(ASK)
    assert turns.output["text"] == "hello there"
    assert [c.status for c in turns.calls] == ["error", "ok"]


@pytest.mark.parametrize("protocol, stream", [("openai", False), ("openai", True), ("anthropic", False),
                                              ("anthropic", True)])
def test_a_refusal_fails_the_step_at_once(world, protocol, stream):
    world.provider(type=protocol, models={"m1": (0.5, 1.5), "m2": (0.5, 1.5)})
    world.server.script(llm.refusal("I cannot help with that request."))
    turns = world.run({**ASK, "fallbacks": ["acme/m2"], "stream": stream})
    assert str(turns.error) == "acme/m1 refused to answer: I cannot help with that request."
    assert turns.error.retryable is False
    assert len(world.server.requests) == 1                  # no retry, no fallback
    [call] = turns.calls
    assert call.status == "error" and call.usage["total_tokens"] > 0 and call.cost is not None   # it was paid for


@pytest.mark.parametrize("protocol, named", [
    ("openai", "the answer of acme/m1 was withheld by the provider's content filter (finish_reason content_filter)"),
    ("anthropic", "acme/m1 refused to answer: partial"),        # Anthropic says stop_reason refusal
])
def test_a_filtered_answer_fails_the_step_at_once(world, protocol, named):
    world.provider(type=protocol)
    world.server.script(llm.text("partial", finish_reason="content_filter"))
    turns = world.run(ASK)
    assert str(turns.error) == named and turns.error.retryable is False
    assert len(world.server.requests) == 1


@pytest.mark.parametrize("protocol, reason, limit", [("openai", "length", 400), ("anthropic", "max_tokens", 400)])
def test_an_answer_cut_off_at_its_token_limit_fails_naming_the_limit(world, protocol, reason, limit):
    world.provider(type=protocol)
    world.server.script(llm.text("The first half of", finish_reason="length"))
    turns = world.run({**ASK, "params": {"max_tokens": limit}})
    assert str(turns.error) == (f"the answer of acme/m1 was cut off (finish_reason {reason}, max_tokens {limit}): "
                                "raise params.max_tokens (or the model's max_output_tokens), or ask for a shorter answer")
    assert turns.error.retryable is False and len(world.server.requests) == 1


def test_a_truncated_json_answer_is_not_repaired_but_named(world):
    world.provider()
    world.server.script(llm.text('{"title": "The first ha', finish_reason="length"))
    turns = world.run({**ASK, "output_schema": SCHEMA, "repair_attempts": 2})
    assert "was cut off (finish_reason length); its JSON is incomplete" in str(turns.error)
    assert len(turns.results) == 1 and len(world.server.requests) == 1      # no repair turn
