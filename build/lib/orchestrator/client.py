"""A small client of the REST API, for the CLI (``run``, ``executions tail``)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import requests

from orchestrator.definitions import WorkflowDefinition


class ApiError(RuntimeError):
    """The API answered with an error; the message is the API's."""


@dataclass
class Client:
    url: str
    api_key: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}/api/v1{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = body.get("message", "")
                if body.get("errors"):
                    detail += f": {json.dumps(body['errors'])}"
            except ValueError:
                detail = response.text[:500]
            raise ApiError(f"{method} {path}: {response.status_code} {detail}")
        return response.json() if response.content else None

    def save_workflow(self, definition: WorkflowDefinition, definition_text: str) -> tuple[str, int]:
        """Create the workflow, or add a version to the one of the same name unless its latest
        version is this definition already; returns (id, version)."""
        same_name = self._call("GET", "/workflows", params={"name": definition.name})["items"]
        existing = next((w for w in same_name if w["status"] != "archived"), None)
        if existing is None:
            created = self._call("POST", "/workflows", json={"name": definition.name, "definition": definition_text})
            return created["id"], created["latest_version"]
        latest = self._call("GET", f"/workflows/{existing['id']}")
        if latest["definition"] == definition.to_dict():
            return latest["id"], latest["latest_version"]
        updated = self._call("PUT", f"/workflows/{existing['id']}", json={"definition": definition_text})
        return updated["id"], updated["latest_version"]

    def submit(self, workflow_id: str, input: Any, version: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"input": input}
        if version is not None:
            body["version"] = version
        return self._call("POST", f"/workflows/{workflow_id}/executions", json=body)

    def execution(self, execution_id: str) -> dict[str, Any]:
        return self._call("GET", f"/executions/{execution_id}")

    def steps(self, execution_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/executions/{execution_id}/steps")["items"]

    def approvals(self) -> list[dict[str, Any]]:
        return self._call("GET", "/approvals", params={"status": "pending"})["items"]

    def decide(self, approval_id: str, approve: bool, decision_data: dict[str, Any] | None = None) -> None:
        self._call("POST", f"/approvals/{approval_id}/{'approve' if approve else 'reject'}",
                   json={"decision_data": decision_data or {}})

    def events(self, execution_id: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """Follow the execution's event stream (server-sent events) until it ends."""
        response = self.session.get(f"{self.url}/api/v1/executions/{execution_id}/events",
                                    params={"after": after}, headers={"Accept": "text/event-stream"},
                                    stream=True, timeout=(self.timeout, None))
        if response.status_code >= 400:
            raise ApiError(f"GET events: {response.status_code} {response.text[:500]}")
        with response:
            for line in response.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    yield json.loads(line[5:].strip())
