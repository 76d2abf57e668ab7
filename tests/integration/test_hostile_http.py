"""What only a real server shows: gunicorn's threads and chunked bodies, over HTTP."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.api import BOOTSTRAP_KEY
from tests.support.servers import free_port

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
SSE = {**AUTH, "Accept": "text/event-stream"}
MAX_STREAMS = 2       # gunicorn runs with 4 threads (tests.support.workers)


@pytest.fixture(scope="module")
def api(stack):
    return stack.workers.start_api("api-hostile", free_port(), {"ORCHESTRATOR_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
                                                                "ORCHESTRATOR_MAX_EVENT_STREAMS": str(MAX_STREAMS)})


def _waiting_execution(api):
    definition = {"name": "waits", "nodes": [{"id": "wait", "type": "delay", "config": {"seconds": 600}}]}
    workflow = requests.post(f"{api}/api/v1/workflows", json={"definition": definition}, headers=AUTH, timeout=10)
    submitted = requests.post(f"{api}/api/v1/workflows/{workflow.json()['id']}/executions", json={}, headers=AUTH,
                              timeout=10)
    assert submitted.status_code == 202, submitted.text
    return submitted.json()["id"]


def test_event_streams_past_the_cap_are_503_and_the_api_keeps_answering(api):
    execution_id = _waiting_execution(api)
    url = f"{api}/api/v1/executions/{execution_id}/events"
    streams = [requests.get(url, headers=SSE, stream=True, timeout=10) for _ in range(MAX_STREAMS)]
    try:
        assert [s.status_code for s in streams] == [200] * MAX_STREAMS
        refused = requests.get(url, headers=SSE, timeout=5)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert refused.json()["message"].startswith(f"too many open event streams (at most {MAX_STREAMS} per process)")
        for _ in range(10):          # every other request still gets a thread, at once
            started = time.monotonic()
            assert requests.get(f"{api}/healthz", timeout=5).status_code == 200
            assert requests.get(url, headers=AUTH, timeout=5).status_code == 200
            assert time.monotonic() - started < 2
        assert requests.post(f"{api}/api/v1/executions/{execution_id}/cancel", headers=AUTH, timeout=10).ok
        for stream in streams:       # the execution ended: the streams end and give their slots back
            assert list(stream.iter_lines())
    finally:
        for stream in streams:
            stream.close()
    deadline = time.monotonic() + 10
    while (again := requests.get(url, headers=SSE, timeout=5)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert again.status_code == 200


def test_a_chunked_body_over_the_limit_is_413(api):
    def chunks():
        for _ in range(32):
            yield b"x" * 65536          # 2 MiB, no Content-Length

    response = requests.post(f"{api}/api/v1/workflows", data=chunks(), timeout=10,
                             headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["message"] == "request body too large: the limit is 1048576 bytes"
    small = requests.post(f"{api}/api/v1/workflows", timeout=10, headers={**AUTH, "Content-Type": "application/json"},
                          data=iter([b'{"definition": {"name": "c", "nodes": [{"id": "a", "type": "noop"}]}}']))
    assert small.status_code == 201, small.text
