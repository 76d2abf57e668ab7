"""The CLI's one client of the REST API: every command that reads or changes a resource goes
through it (``run``, ``executions tail`` and the resource commands). It is the SDK's REST
client (``orchestrator.sdk.rest``, which the typed ``orchestrator.sdk.Client`` uses too) with
the CLI's hints and lookups."""
from __future__ import annotations

from typing import Any, Iterable

from orchestrator.sdk.rest import ApiError, RestClient, Row, is_id

__all__ = ["ApiError", "Client", "Row", "is_id"]


class Client(RestClient):
    """The shared REST client with the CLI's hints, and the lookups its commands make."""

    unreachable_hint = "; start it with `orchestrator standalone`, or pass --url (env ORCHESTRATOR_URL)"
    status_hints = {**RestClient.status_hints, 401: "; check --api-key or ORCHESTRATOR_API_KEY"}

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
