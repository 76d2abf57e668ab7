"""The offline provider, driven by the official SDKs over real HTTP."""
from __future__ import annotations

import anthropic
import openai
import pytest

from examples import llm_server as llm


@pytest.fixture
def provider():
    server = llm.LLMServer().start()
    yield server
    server.close()


def _openai(server):
    return openai.OpenAI(api_key="sk-test-1", base_url=f"{server.url}/v1", max_retries=0, timeout=5)


def _anthropic(server):
    return anthropic.Anthropic(api_key="sk-ant-test-1", base_url=server.url, max_retries=0, timeout=5)


def test_default_reply_is_deterministic_with_word_usage(provider):
    answer = _openai(provider).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == "offline reply to: hello there"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (2, 5)
    assert provider.requests[0].api_key == "sk-test-1"


def test_default_reply_satisfies_a_requested_schema_on_both_protocols(provider):
    schema = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"},
                                                                       "n": {"type": "integer"}}}
    answer = _openai(provider).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "a page about agents"}],
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": schema}})
    assert answer.choices[0].message.content == '{"title": "a page about agents", "n": 0}'
    message = _anthropic(provider).messages.create(
        model="c", max_tokens=100, system=f"Be brief. {llm.SCHEMA_MARKER}\n{{\"type\": \"object\", "
                                          '"properties": {"t": {"type": "string"}}}',
        messages=[{"role": "user", "content": "x y"}])
    assert message.content[0].text == '{"t": "x y"}'


def test_scripted_error_carries_retry_after_headers(provider):
    provider.script(llm.error(429, "slow down", retry_after=2, retry_after_ms=1500))
    with pytest.raises(openai.RateLimitError) as caught:
        _openai(provider).chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.response.headers["retry-after-ms"] == "1500"
    provider.script(llm.error(529, "overloaded"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        _anthropic(provider).messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "q"}])
    assert caught.value.status_code == 529


def test_openai_stream_with_usage_and_tool_calls(provider):
    provider.script(llm.stream(["Hel", "lo"], interval=0.01), llm.tool_call("search", {"q": "x"}))
    client = _openai(provider)
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}],
                                                 stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert chunks[-1].usage.completion_tokens == 1
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    call = answer.choices[0].message.tool_calls[0]
    assert (answer.choices[0].finish_reason, call.function.name, call.function.arguments) == \
        ("tool_calls", "search", '{"q": "x"}')


def test_anthropic_stream_events(provider):
    provider.script(llm.stream(["a", "b", "c"], interval=0.01))
    with _anthropic(provider).messages.stream(model="c", max_tokens=10,
                                              messages=[{"role": "user", "content": "q"}]) as events:
        assert "".join(events.text_stream) == "abc"
        final = events.get_final_message()
    assert (final.stop_reason, final.usage.output_tokens) == ("end_turn", 1)


def test_replies_scripted_for_a_model_wait_for_it(provider):
    provider.script(llm.text("for b", model="b"))
    client = _openai(provider)
    def ask(model):
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "q"}])
    assert ask("a").choices[0].message.content == "offline reply to: q"
    assert ask("b").choices[0].message.content == "for b"


def test_a_hung_request_times_out_and_is_not_recorded(provider):
    provider.script(llm.hang())
    client = openai.OpenAI(api_key="k", base_url=f"{provider.url}/v1", max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert provider.requests == []
