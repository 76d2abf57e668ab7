"""Unauthenticated operations: /healthz, /readyz, /metrics, /openapi.json and /docs."""
from __future__ import annotations

import platform

from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from orchestrator import metrics
from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack


def test_healthz(anonymous):
    response = anonymous.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(anonymous):
    assert anonymous.get("/readyz").json == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_answers_503_naming_what_is_down(tmp_path):
    nothing_listens = "127.0.0.1:9"
    stack = api_stack(make_settings(tmp_path, BROKER_URL=f"redis://{nothing_listens}/0"))
    try:
        response = stack.client(None).get("/readyz")
    finally:
        stack.close()
    assert response.status_code == 503
    assert response.json == {"code": 503, "status": "Service Unavailable", "message": "not ready: broker down",
                             "errors": {"broker": ["unavailable"]}}


def test_readyz_and_the_api_answer_503_while_the_database_is_down(tmp_path):
    settings = make_settings(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:9/nothing")
    client = create_app(settings).test_client()
    assert client.get("/readyz").json["message"] == "not ready: database down"
    response = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"})
    assert response.status_code == 503
    assert response.json["message"] == "the database is unavailable; try again"


def metric_samples(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.data.decode()) for s in family.samples}


def test_metrics_show_live_state_and_what_happened(stack, client, anonymous):
    before = metric_samples(anonymous)
    stack.start(client, input={"n": 1})
    stack.start(client, input={"n": 1}, run=False)
    samples = metric_samples(anonymous)
    assert samples[("orchestrator_executions_active", (("status", "pending"),))] == 1
    assert samples[("orchestrator_executions_active", (("status", "running"),))] == 0
    assert samples[("orchestrator_steps_queued", ())] == 1
    assert samples[("orchestrator_approvals_pending", ())] == 0
    assert samples[("orchestrator_schedule_lag_seconds", ())] == 0
    assert samples[("orchestrator_broker_queue_depth", (("queue", "orchestrator"),))] == 0
    assert ("orchestrator_build_info", (("python_version", platform.python_version()),
                                        ("version", metrics.build_version()))) in samples
    submitted = ("orchestrator_executions_submitted_total", (("trigger", "api"),))
    assert samples[submitted] - before.get(submitted, 0) == 2
    posted = ("orchestrator_api_request_duration_seconds_count",
              (("method", "POST"), ("route", "/api/v1/workflows"), ("status", "201")))
    assert samples[posted] - before.get(posted, 0) == 2


def test_openapi_documents_every_operation_with_bearer_auth(anonymous):
    spec = anonymous.get("/openapi.json").json
    assert spec["openapi"] == "3.0.3" and spec["info"]["title"] == "Orchestrator"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]
    operations = {(method.upper(), path) for path, item in spec["paths"].items() for method in item
                  if method != "parameters"}
    assert operations >= {
        ("POST", "/api/v1/workflows"), ("GET", "/api/v1/workflows"), ("GET", "/api/v1/workflows/{workflow_id}"),
        ("PUT", "/api/v1/workflows/{workflow_id}"), ("DELETE", "/api/v1/workflows/{workflow_id}"),
        ("POST", "/api/v1/workflows/{workflow_id}/publish"), ("GET", "/api/v1/workflows/{workflow_id}/versions"),
        ("GET", "/api/v1/workflows/{workflow_id}/versions/{number}"),
        ("POST", "/api/v1/workflows/{workflow_id}/executions"), ("GET", "/api/v1/executions"),
        ("GET", "/api/v1/executions/{execution_id}"), ("GET", "/api/v1/executions/{execution_id}/steps"),
        ("GET", "/api/v1/executions/{execution_id}/events"), ("POST", "/api/v1/executions/{execution_id}/cancel"),
        ("POST", "/api/v1/executions/{execution_id}/pause"), ("POST", "/api/v1/executions/{execution_id}/resume"),
        ("POST", "/api/v1/executions/{execution_id}/retry"), ("GET", "/api/v1/approvals"),
        ("POST", "/api/v1/approvals/{approval_id}/approve"), ("POST", "/api/v1/approvals/{approval_id}/reject"),
        ("POST", "/api/v1/approvals/token/approve"), ("POST", "/api/v1/approvals/token/reject"),
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    }
    assert spec["paths"]["/api/v1/approvals/token/approve"]["post"]["security"] == []
    events = spec["paths"]["/api/v1/executions/{execution_id}/events"]["get"]["responses"]["200"]["content"]
    assert set(events) == {"application/json", "text/event-stream"}
    for name in ("Workflow", "WorkflowDetail", "Execution", "Step", "Event", "Approval", "Error"):
        assert name in spec["components"]["schemas"]


def test_openapi_is_valid_with_an_operation_id_and_the_error_statuses_of_each_operation(anonymous):
    spec = anonymous.get("/openapi.json").json
    validate(spec)
    operations = {(method.upper(), path): op for path, item in spec["paths"].items()
                  for method, op in item.items() if method != "parameters"}
    ids = [op.get("operationId") for op in operations.values()]
    assert all(ids) and len(set(ids)) == len(ids)
    statuses = {key: set(op["responses"]) - {"default"} for key, op in operations.items()}
    assert statuses[("POST", "/api/v1/workflows/{workflow_id}/executions")] == \
        {"202", "400", "401", "404", "409", "413", "422", "429"}
    assert statuses[("GET", "/api/v1/executions/{execution_id}")] == {"200", "401", "404"}
    assert statuses[("POST", "/api/v1/executions/{execution_id}/cancel")] == {"202", "401", "404", "409"}
    assert statuses[("POST", "/api/v1/approvals/token/approve")] == {"200", "400", "404", "409", "413", "422"}
    assert statuses[("POST", "/api/v1/schedules/{schedule_id}/trigger")] == {"202", "401", "404", "409", "422", "429"}
    assert statuses[("GET", "/api/v1/executions/{execution_id}/attempts")] == {"200", "401", "404"}
    assert {"q", "from", "to"} <= {p["name"] for p in spec["paths"]["/api/v1/executions"]["get"]["parameters"]}
    assert statuses[("GET", "/healthz")] == {"200"}
    assert all("401" in codes for (_, path), codes in statuses.items()
               if path.startswith("/api/v1/") and "/token/" not in path)


def test_docs_serve_swagger_ui_from_local_assets(anonymous):
    page = anonymous.get("/docs")
    assert page.status_code == 200 and b"/docs/assets/swagger-ui-bundle.js" in page.data
    assert b"/openapi.json" in page.data
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert anonymous.get(f"/docs/assets/{asset}").status_code == 200
