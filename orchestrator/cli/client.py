"""A small client of the REST API, for the CLI (``run`` and the resource commands)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import requests

from orchestrator.definitions import WorkflowDefinition


class ApiError(RuntimeError):
    """The API answered with an error, or could not be reached; the message says which, with a hint."""


def _hint(status: int) -> str:
    if status == 401:
        return "; check --api-key or ORCHESTRATOR_API_KEY"
    if status == 404:
        return "; check the id (another owner's ids answer 404 too)"
    return ""


@dataclass
class Client:
    url: str
    api_key: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    def close(self) -> None:
        self.session.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, f"{self.url}/api/v1{path}", **{"timeout": self.timeout, **kwargs})
        except requests.ConnectionError:
            raise ApiError(f"cannot reach the API at {self.url}; start it with `orchestrator standalone`, "
                           "or pass --url (env ORCHESTRATOR_URL)") from None
        except requests.Timeout:
            raise ApiError(f"the API at {self.url} did not answer in {self.timeout:g} s") from None
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = body.get("message", "")
                if body.get("errors"):
                    detail += f": {json.dumps(body['errors'])}"
            except ValueError:
                detail = response.text[:500]
            raise ApiError(f"{method} {path}: {response.status_code} {detail}{_hint(response.status_code)}")
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return response.json() if response.content else None

    def items(self, path: str, params: dict[str, Any] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Every item of a list resource, following ``next_cursor`` (up to ``limit`` items)."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        found: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", path, params=params)
            found.extend(page["items"])
            if not page.get("next_cursor") or (limit is not None and len(found) >= limit):
                return found[:limit] if limit is not None else found
            params["cursor"] = page["next_cursor"]

    def save_workflow(self, definition: WorkflowDefinition, definition_text: str) -> tuple[str, int]:
        """Create the workflow, or add a version to the one of the same name unless its latest
        version is this definition already; returns (id, version)."""
        same_name = self.call("GET", "/workflows", params={"name": definition.name})["items"]
        existing = next((w for w in same_name if w["status"] != "archived"), None)
        if existing is None:
            created = self.call("POST", "/workflows", json={"name": definition.name, "definition": definition_text})
            return created["id"], created["latest_version"]
        latest = self.call("GET", f"/workflows/{existing['id']}")
        if latest["definition"] == definition.to_dict():
            return latest["id"], latest["latest_version"]
        updated = self.call("PUT", f"/workflows/{existing['id']}", json={"definition": definition_text})
        return updated["id"], updated["latest_version"]

    def submit(self, workflow_id: str, input: Any, version: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"input": input}
        if version is not None:
            body["version"] = version
        return self.call("POST", f"/workflows/{workflow_id}/executions", json=body)

    def execution(self, execution_id: str) -> dict[str, Any]:
        return self.call("GET", f"/executions/{execution_id}")

    def steps(self, execution_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/executions/{execution_id}/steps")["items"]

    def approvals(self) -> list[dict[str, Any]]:
        return self.items("/approvals", {"status": "pending"})

    def decide(self, approval_id: str, approve: bool, decision_data: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call("POST", f"/approvals/{approval_id}/{'approve' if approve else 'reject'}",
                         json={"decision_data": decision_data or {}})

    def events(self, execution_id: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """Follow the execution's event stream (server-sent events) until it ends."""
        response = self._send("GET", f"/executions/{execution_id}/events", params={"after": after},
                              headers={"Accept": "text/event-stream"}, stream=True, timeout=(self.timeout, None))
        with response:
            for line in response.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    yield json.loads(line[5:].strip())
