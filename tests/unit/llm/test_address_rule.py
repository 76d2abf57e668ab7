"""Model calls obey the address rule all the way, through the real SDKs against real servers:
a redirect to a loopback server and a DNS answer that changes to loopback (rebinding) both
leave that server untouched.

The model endpoint listens on 127.0.0.2, which the rule is told to take for a public address;
127.0.0.1 stays loopback, and a server there counts every request that reaches it."""
from __future__ import annotations

from dataclasses import replace

import openai
import pytest

from examples import llm_server as llm
from examples.llm_server import LLMServer
from orchestrator.security import network
from tests.support.httpserver import LocalHTTPServer

# Where a call goes has nothing to do with the database: SQLite only.
sqlite_only = pytest.mark.parametrize("migrated_settings", ["sqlite"], indirect=True)
PUBLIC = "127.0.0.2"
HOST = "models.example.test"
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


@pytest.fixture
def endpoint(monkeypatch):
    """The model server on PUBLIC, and the rule taking PUBLIC for a public address."""
    real = network.blocked_reason
    monkeypatch.setattr(network, "blocked_reason", lambda ip: None if str(ip) == PUBLIC else real(ip))
    server = LLMServer(host=PUBLIC).start()
    yield server
    server.close()


@pytest.fixture
def internal(endpoint):
    """A server on 127.0.0.1, on the endpoint's port, that must never be reached."""
    server = LocalHTTPServer(endpoint.server_address[1])
    yield server
    server.close()


def strict(world):
    world.settings = replace(world.settings, llm_allow_private=False)    # ORCHESTRATOR_LLM_ALLOW_PRIVATE=0
    return world


def base_url(protocol: str, root: str) -> str:
    return f"{root}/v1" if protocol == "openai" else root


@sqlite_only
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_loopback_is_not_followed(world, endpoint, internal, protocol, status):
    strict(world).provider(type=protocol, base_url=base_url(protocol, endpoint.url))
    target = f"{internal.url}{PATHS[protocol]}"
    endpoint.script(llm.redirect(target, status=status))
    turns = world.run({"model": "acme/m1", "prompt": "the plan for tomorrow"})
    assert f"answered {status}, a redirect to {target}: model calls do not follow redirects" in str(turns.error)
    assert turns.error.retryable is False
    assert len(endpoint.requests) == 1 and sum(internal.hits.values()) == 0
    assert turns.calls[0].status == "error"


def test_what_the_sdk_alone_would_do_with_that_redirect(endpoint, internal):
    """The same 307 through a plain openai client: the prompt lands on the loopback server."""
    endpoint.script(llm.redirect(f"{internal.url}/v1/chat/completions"))
    plain = openai.OpenAI(api_key="sk-plain", base_url=f"{endpoint.url}/v1", max_retries=0)
    plain.chat.completions.create(model="m1", messages=[{"role": "user", "content": "the plan for tomorrow"}])
    assert internal.hits["/v1/chat/completions"] == 1


@sqlite_only
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_dns_rebinding_cannot_move_a_model_call_to_loopback(world, endpoint, internal, monkeypatch, protocol):
    """The resolver answers PUBLIC when the endpoint is saved and when the first connection is
    made, then 127.0.0.1. The first call goes to the address its connection checked, the second
    reuses that connection, and the third, on a new connection, is refused."""
    answers = iter([[PUBLIC], [PUBLIC]])
    lookups = []
    real = network.resolve

    def resolve(host: str, port: int) -> list[str]:
        if host != HOST:
            return real(host, port)
        lookups.append(host)
        return next(answers, ["127.0.0.1"])

    monkeypatch.setattr(network, "resolve", resolve)
    strict(world).provider(type=protocol, base_url=base_url(protocol, f"http://{HOST}:{endpoint.server_address[1]}"))
    assert len(lookups) == 1                                   # checked when saved
    ask = {"model": "acme/m1", "prompt": "the plan for tomorrow"}
    assert world.run(ask).output["text"] == "offline reply to: the plan for tomorrow"
    endpoint.script(llm.stream(["last ", "answer"], interval=0))   # answered with Connection: close
    assert world.run({**ask, "stream": True}).output["text"] == "last answer"
    assert len(lookups) == 2                                   # one connection, checked once
    turns = world.run(ask)
    assert f"refusing to connect to 127.0.0.1 (loopback address) for host {HOST}" in str(turns.error)
    assert "ORCHESTRATOR_LLM_ALLOW_PRIVATE=1" in str(turns.error) and turns.error.retryable is False
    assert len(endpoint.requests) == 2 and sum(internal.hits.values()) == 0

