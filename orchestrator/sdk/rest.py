"""The one HTTP client of the REST API, under the CLI's commands (``orchestrator.cli.client``)
and the SDK's typed client (``orchestrator.sdk.client``): the key sent with every request,
an error answer raised as ``ApiError`` with the API's message, pages followed and the event
stream read. Callers above it add their own hints to its messages."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

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
    detail, errors = str(body.get("message", "")), body.get("errors")
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
class RestClient:
    """Requests to the API at ``url`` (without ``/api/v1``) with ``api_key``."""

    url: str
    api_key: str
    timeout: float = 30.0
    session: requests.Session = field(init=False, repr=False)
    # Added to the message of an API that does not answer, and of an error status.
    unreachable_hint: ClassVar[str] = ""
    status_hints: ClassVar[dict[int, str]] = {404: "; check the id (another owner's ids answer 404 too)"}

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
            raise ApiError(f"cannot reach the API at {self.url}{self.unreachable_hint}") from None
        except requests.Timeout:
            raise ApiError(f"the API at {self.url} did not answer in {self.timeout:g} s") from None
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: {response.status_code} {_detail(response)}"
                           f"{self.status_hints.get(response.status_code, '')}", response.status_code)
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
        return list(self.page(path, params)["items"])

    def save_workflow(self, definition: WorkflowDefinition, document: str | Row) -> tuple[str, int]:
        """Create the workflow, or add a version to the one of the same name unless its latest
        version is this definition already; returns (id, version). ``document`` is what is
        sent: the definition's text (YAML or JSON) or its mapping."""
        same_name = self.call("GET", "/workflows", params={"name": definition.name})["items"]
        existing = next((w for w in same_name if w["status"] != "archived"), None)
        if existing is None:
            created = self.call("POST", "/workflows", json={"name": definition.name, "definition": document})
            return created["id"], created["latest_version"]
        latest = self.call("GET", f"/workflows/{existing['id']}")
        if latest["definition"] == definition.to_dict():
            return latest["id"], latest["latest_version"]
        updated = self.call("PUT", f"/workflows/{existing['id']}", json={"definition": document})
        return updated["id"], updated["latest_version"]

    def events(self, execution_id: str, after: int = 0) -> Iterator[Row]:
        """Follow the execution's event stream (server-sent events) until it ends."""
        response = self._send("GET", f"/executions/{execution_id}/events", params={"after": after},
                              headers={"Accept": "text/event-stream"}, stream=True, timeout=(self.timeout, None))
        with response:
            for line in response.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    yield json.loads(line[5:].strip())
