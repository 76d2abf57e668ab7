"""What a step's stored input masks: secrets found by key, by header, and by their shape."""
from __future__ import annotations

import json

import pytest

from orchestrator.redaction import MASK, redact


@pytest.mark.parametrize("config, secret", [
    ({"headers": {"Authentication": "hunter2"}}, "hunter2"),
    ({"auth": {"Authorization": "tok-in-a-dict"}}, "tok-in-a-dict"),
    ({"params": {"authorization": "tok-2"}}, "tok-2"),
    ({"headers": {"X-Signature": "sha256=abc123"}}, "abc123"),
    ({"headers": {"X-Custom-Auth-Thing": "opaque-key-1"}}, "opaque-key-1"),
    ({"url": "http://user:PASS123@api.example.com/x"}, "PASS123"),
    ({"url": "https://api.example.com/v1?q=cats&api_key=K3Y-val"}, "K3Y-val"),
    ({"url": "https://api.example.com/v1?access_token=tok.en"}, "tok.en"),
    ({"body": "user=alice&pass=s3cr3t"}, "s3cr3t"),
    ({"body": "grant_type=client_credentials&client_secret=CS-1"}, "CS-1"),
    ({"json": {"client_credentials": "id:sec-val"}}, "sec-val"),
    ({"json": {"client_credentials": {"id": "i", "value": "sec-obj"}}}, "sec-obj"),
    ({"body": json.dumps({"auth": {"password": "pw-in-json"}})}, "pw-in-json"),
    ({"output": "call it with Bearer eyJhbGciOi.x.y"}, "eyJhbGciOi.x.y"),
    ({"notes": ["Basic dXNlcjpwYXNz"]}, "dXNlcjpwYXNz"),
])
def test_a_secret_is_masked_wherever_it_sits(config, secret):
    stored = json.dumps(redact(config))
    assert secret not in stored
    assert MASK in stored


def test_what_is_not_secret_stays_readable():
    config = {"method": "POST", "url": "https://api.example.com/v1/items?page=2&sort=name",
              "headers": {"Content-Type": "application/json", "Accept": "text/csv", "Idempotency-Key": "e:n:1"},
              "json": {"author": "Ann", "max_tokens": 100, "items": [1, 2]}, "timeout_seconds": 5}
    assert redact(config) == config
    assert redact({"url": "https://user:pw@h.example/p"})["url"] == f"https://user:{MASK}@h.example/p"
    assert redact({"url": "https://h.example/?a=1&token=t&b=2"})["url"] == f"https://h.example/?a=1&token={MASK}&b=2"
