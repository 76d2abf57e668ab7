"""The CLI's one client of the REST API: every command that reads or changes a resource goes
through it (``run``, ``executions tail`` and the resource commands)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import requests

from orchestrator.definitions import WorkflowDefinition

PAGE_SIZE = 200         # the API's largest page

Row = dict[str, Any]


class ApiError(RuntimeError):
    """The API answered with an error, or could not be reached; the message says which, with a
    hint. ``status`` is the HTTP status (None when there was no answer)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _hint(status: int) -> str:
    if status == 401:
        return "; check --api-key or ORCHESTRATOR_API_KEY"
    if status == 404:
        return "; check the id (another owner's ids answer 404 too)"
    return ""


def _texts(errors: Any) -> list[str]:
    """Every message in the API's ``errors`` (nested by field)."""
    if isinstance(errors, dict):
        return [text for value in errors.values() for text in _texts(value)]
    if isinstance(errors, list):
        return [text for value in errors for text in _texts(value)]
    return [str(errors)]


def _detail(response: requests.Response) -> str:
    """The API's message, and its field errors unless the message says them already."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    detail, errors = body.get("message", ""), body.get("errors")
    if errors and not all(text in detail for text in _texts(errors)):
        detail += f": {json.dumps(errors)}"
    return detail


def is_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


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
            raise ApiError(f"{method} {path}: {response.status_code} {_detail(response)}{_hint(response.status_code)}",
                           response.status_code)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return response.json() if response.content else None

    def page(self, path: str, params: dict[str, Any] | None = None, limit: int | None = None,
             cursor: str | None = None) -> Row:
        """Up to ``limit`` items (all when None) from ``cursor`` on, as the API pages them:
        ``{items, next_cursor}``, the cursor continuing after the last item given."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        items: list[Row] = []
        while True:
            params["limit"] = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(items))
            if cursor:
                params["cursor"] = cursor
            page = self.call("GET", path, params=params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor or (limit is not None and len(items) >= limit):
                return {"items": items, "next_cursor": cursor}

    def items(self, path: str, params: dict[str, Any] | None = None) -> list[Row]:
        """Every item of a list resource."""
        return self.page(path, params)["items"]

    def named(self, path: str, name: str, what: str, hint: str) -> Row:
        """The item of the list resource at ``path`` with this name or id; else an error naming
        ``what`` was looked for and ``hint`` (how to list them)."""
        for item in self.items(path):
            if name in (item.get("name"), item["id"]):
                return item
        raise ApiError(f"no {what} named {name!r} (see `{hint}`)", 404)

    def workflow_id(self, ref: str) -> str:
        """A workflow's id from its id or its name (the newest not archived of that name)."""
        if is_id(ref):
            return ref
        same_name = [w for w in self.items("/workflows", {"name": ref}) if w["status"] != "archived"]
        if not same_name:
            raise ApiError(f"no workflow named {ref!r} (see `orchestrator workflows list`)", 404)
        return same_name[0]["id"]

    def workflow_names(self, ids: Iterable[str]) -> dict[str, str]:
        """Each workflow's name by id; one the caller cannot read (another owner's, run under a
        license) keeps its id."""
        names = {}
        for workflow_id in set(ids):
            try:
                names[workflow_id] = self.call("GET", f"/workflows/{workflow_id}")["name"]
            except ApiError as exc:
                if exc.status not in (403, 404):
                    raise
                names[workflow_id] = workflow_id
        return names

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

    def submit(self, workflow_id: str, input: Any, version: int | None = None) -> Row:
        body: Row = {"input": input}
        if version is not None:
            body["version"] = version
        return self.call("POST", f"/workflows/{workflow_id}/executions", json=body)

    def execution(self, execution_id: str) -> Row:
        return self.call("GET", f"/executions/{execution_id}")

    def steps(self, execution_id: str) -> list[Row]:
        return self.call("GET", f"/executions/{execution_id}/steps")["items"]

    def approvals(self) -> list[Row]:
        return self.items("/approvals", {"status": "pending"})

    def decide(self, approval_id: str, approve: bool, decision_data: Row | None = None) -> Row:
        return self.call("POST", f"/approvals/{approval_id}/{'approve' if approve else 'reject'}",
                         json={"decision_data": decision_data or {}})

    def events(self, execution_id: str, after: int = 0) -> Iterator[Row]:
        """Follow the execution's event stream (server-sent events) until it ends."""
        response = self._send("GET", f"/executions/{execution_id}/events", params={"after": after},
                              headers={"Accept": "text/event-stream"}, stream=True, timeout=(self.timeout, None))
        with response:
            for line in response.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    yield json.loads(line[5:].strip())
