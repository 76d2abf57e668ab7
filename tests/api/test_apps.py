"""Apps, their keys, workflow groups and app licenses (seed 004), and what an app key may do."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from orchestrator.db import AppKey, AuditLog, Workflow
from tests.support.api import new_workflow, submit

API = "/api/v1"


def published(client, name="chain"):
    workflow_id = new_workflow(client, name)
    assert client.post(f"{API}/workflows/{workflow_id}/publish").status_code == 200
    return workflow_id


def group_with(client, name, *workflow_ids):
    group = client.post(f"{API}/groups", json={"name": name}).json
    for workflow_id in workflow_ids:
        assert client.post(f"{API}/groups/{group['id']}/workflows", json={"workflow_id": workflow_id}).status_code == 200
    return group["id"]


def app_with_key(stack, client, name="Web shop", *group_ids):
    app = client.post(f"{API}/apps", json={"name": name}).json
    key = client.post(f"{API}/apps/{app['id']}/keys", json={"name": "production"}).json
    for group_id in group_ids:
        assert client.post(f"{API}/apps/{app['id']}/licenses", json={"group_id": group_id}).status_code == 201
    return app, stack.client(key["key"]), key


def test_an_app_key_runs_the_published_workflows_of_its_licensed_groups_and_nothing_else(stack, client):
    licensed = published(client)
    unlicensed = published(client)
    ungrouped = published(client)
    group_id = group_with(client, "storefront", licensed)
    group_with(client, "internal", unlicensed)
    app, as_app, _ = app_with_key(stack, client, "Web shop", group_id)

    listed = as_app.get(f"{API}/app/workflows").json["items"]
    assert [(w["id"], w["version"], w["group_id"]) for w in listed] == [(licensed, 1, group_id)]
    assert listed[0]["released_at"] is not None

    submitted = as_app.post(f"{API}/app/workflows/{licensed}/executions", json={"input": {"n": 2}})
    assert submitted.status_code == 202, submitted.json
    stack.run()
    execution = as_app.get(f"{API}/app/executions/{submitted.json['id']}").json
    assert (execution["status"], execution["output"]) == ("completed", {"result": 30})
    assert [e["id"] for e in as_app.get(f"{API}/app/executions").json["items"]] == [submitted.json["id"]]

    refused = as_app.post(f"{API}/app/workflows/{unlicensed}/executions", json={"input": {"n": 1}})
    assert refused.status_code == 403
    assert refused.json["message"] == ("app 'web-shop' holds no license for group 'internal' of workflow 'chain'")
    refused = as_app.post(f"{API}/app/workflows/{ungrouped}/executions", json={"input": {"n": 1}})
    assert refused.status_code == 403 and "is in no group" in refused.json["message"]
    # the owner sees the app's execution as their own, started by the app
    lineage = client.get(f"{API}/executions/{submitted.json['id']}/lineage").json
    assert [(o["kind"], o["ref_id"], o["label"]) for o in lineage["started_by"]] == [
        ("app", app["id"], "app web-shop (Web shop)")]


def test_a_workflow_that_is_not_published_or_not_the_owners_is_refused(stack, client, other):
    draft = new_workflow(client)
    theirs = published(other)
    app, as_app, _ = app_with_key(stack, client, "shop", group_with(client, "g", draft))
    answer = as_app.post(f"{API}/app/workflows/{draft}/executions", json={})
    assert answer.status_code == 409 and answer.json["message"] == (
        "workflow 'chain' is draft: an app runs published workflows only")
    assert as_app.post(f"{API}/app/workflows/{theirs}/executions", json={}).status_code == 404
    assert as_app.get(f"{API}/app/workflows").json["items"] == []


def test_revoked_keys_disabled_apps_and_revoked_licenses_are_refused(stack, client):
    workflow_id = published(client)
    group_id = group_with(client, "g", workflow_id)
    app, as_app, key = app_with_key(stack, client, "shop", group_id)
    assert as_app.post(f"{API}/app/workflows/{workflow_id}/executions", json={}).status_code == 202

    assert client.patch(f"{API}/apps/{app['id']}", json={"status": "disabled"}).json["status"] == "disabled"
    disabled = as_app.get(f"{API}/app/workflows")
    assert disabled.status_code == 403 and disabled.json["message"].startswith("app 'shop' is disabled")
    client.patch(f"{API}/apps/{app['id']}", json={"status": "active"})
    assert as_app.get(f"{API}/app/workflows").status_code == 200

    [license] = client.get(f"{API}/apps/{app['id']}/licenses").json["items"]
    assert client.delete(f"{API}/apps/{app['id']}/licenses/{license['id']}").status_code == 204
    assert as_app.post(f"{API}/app/workflows/{workflow_id}/executions", json={}).status_code == 403

    revoked = client.delete(f"{API}/apps/{app['id']}/keys/{key['id']}")
    assert revoked.status_code == 200 and revoked.json["revoked_at"] is not None
    answer = as_app.get(f"{API}/app/workflows")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


def test_user_keys_cannot_use_app_routes_nor_app_keys_user_routes(stack, client, anonymous):
    workflow_id = published(client)
    _, as_app, _ = app_with_key(stack, client, "shop", group_with(client, "g", workflow_id))
    user_on_app = client.get(f"{API}/app/workflows")
    assert user_on_app.status_code == 403 and "app's key (orkapp_" in user_on_app.json["message"]
    for method, path in (("get", "/workflows"), ("post", f"/workflows/{workflow_id}/executions"),
                         ("get", "/apps"), ("get", "/executions")):
        answer = getattr(as_app, method)(f"{API}{path}", json={} if method == "post" else None)
        assert answer.status_code == 403, path
        assert answer.json["message"].startswith("an app key calls only /api/v1/app/")
    assert anonymous.get(f"{API}/app/workflows").status_code == 401
    assert stack.client("orkapp_not-a-real-key-at-all").get(f"{API}/app/executions").status_code == 401


def test_an_app_reads_only_the_executions_it_started(stack, client):
    workflow_id = published(client)
    group_id = group_with(client, "g", workflow_id)
    _, shop, _ = app_with_key(stack, client, "shop", group_id)
    _, kiosk, _ = app_with_key(stack, client, "kiosk", group_id)
    mine = shop.post(f"{API}/app/workflows/{workflow_id}/executions", json={"input": {"n": 1}}).json["id"]
    theirs = kiosk.post(f"{API}/app/workflows/{workflow_id}/executions", json={"input": {"n": 1}}).json["id"]
    owners = submit(client, workflow_id, {"n": 1}).json["id"]
    assert shop.get(f"{API}/app/executions/{mine}").status_code == 200
    for other_id in (theirs, owners):
        assert shop.get(f"{API}/app/executions/{other_id}").status_code == 404
    assert [e["id"] for e in shop.get(f"{API}/app/executions").json["items"]] == [mine]
    assert {e["id"] for e in client.get(f"{API}/executions").json["items"]} == {mine, theirs, owners}


def test_an_apps_idempotency_keys_are_its_own(stack, client):
    workflow_id = published(client)
    _, shop, _ = app_with_key(stack, client, "shop", group_with(client, "g", workflow_id))
    headers = {"Idempotency-Key": "order-17"}
    first = shop.post(f"{API}/app/workflows/{workflow_id}/executions", json={"input": {"n": 1}}, headers=headers)
    again = shop.post(f"{API}/app/workflows/{workflow_id}/executions", json={"input": {"n": 1}}, headers=headers)
    assert first.status_code == again.status_code == 202 and first.json["id"] == again.json["id"]
    other_body = shop.post(f"{API}/app/workflows/{workflow_id}/executions", json={"input": {"n": 2}}, headers=headers)
    assert other_body.status_code == 409
    owners = submit(client, workflow_id, {"n": 1}, key="order-17")
    assert owners.status_code == 202 and owners.json["id"] != first.json["id"]


def test_app_keys_are_shown_once_and_stored_hashed(stack, client):
    app = client.post(f"{API}/apps", json={"name": "shop"}).json
    made = client.post(f"{API}/apps/{app['id']}/keys", json={"name": "ci"}).json
    assert made["key"].startswith("orkapp_") and made["key"].startswith(made["prefix"])
    [listed] = client.get(f"{API}/apps/{app['id']}/keys").json["items"]
    assert "key" not in listed and listed["prefix"] == made["prefix"]
    with stack.engine.sessions() as session:
        stored = session.scalar(select(AppKey))
    assert made["key"] not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64


def test_apps_groups_and_licenses_belong_to_their_owner(stack, client, other):
    workflow_id = published(client)
    group_id = group_with(client, "g", workflow_id)
    app = client.post(f"{API}/apps", json={"name": "shop"}).json
    their_group = other.post(f"{API}/groups", json={"name": "g"}).json["id"]
    for path in (f"/apps/{app['id']}", f"/groups/{group_id}", f"/apps/{app['id']}/keys",
                 f"/apps/{app['id']}/licenses", f"/groups/{group_id}/workflows"):
        assert other.get(f"{API}{path}").status_code == 404, path
    assert client.post(f"{API}/apps/{app['id']}/licenses", json={"group_id": their_group}).status_code == 404
    assert other.post(f"{API}/groups/{their_group}/workflows", json={"workflow_id": workflow_id}).status_code == 404
    assert other.get(f"{API}/apps").json["items"] == [] and len(other.get(f"{API}/groups").json["items"]) == 1


def test_bad_input_names_the_problem(stack, client):
    workflow_id = published(client)
    app = client.post(f"{API}/apps", json={"name": "shop", "alias_id": "shop"}).json
    assert client.post(f"{API}/apps", json={"name": "Shop"}).json["message"] == "an app with alias_id 'shop' already exists"
    answer = client.post(f"{API}/apps", json={"name": "x", "alias_id": "no spaces", "audit_policy": "some"})
    assert answer.status_code == 422 and set(answer.json["errors"]) == {"alias_id", "audit_policy"}
    assert client.patch(f"{API}/apps/{app['id']}", json={"status": "paused"}).status_code == 422
    answer = client.post(f"{API}/apps/{app['id']}/keys", json={"name": "k", "user_email": "admin@localhost"})
    assert answer.status_code == 422 and set(answer.json["errors"]) == {"user_email"}     # a user's key's field
    group_id = group_with(client, "g", workflow_id)
    assert client.post(f"{API}/groups", json={"name": "g"}).status_code == 409
    other_group = client.post(f"{API}/groups", json={"name": "h"}).json["id"]
    moved = client.post(f"{API}/groups/{other_group}/workflows", json={"workflow_id": workflow_id})
    assert moved.status_code == 409 and "in one group at most" in moved.json["message"]
    assert client.post(f"{API}/apps/{app['id']}/licenses", json={"group_id": group_id}).status_code == 201
    assert client.post(f"{API}/apps/{app['id']}/licenses", json={"group_id": group_id}).status_code == 409
    _, as_app, _ = app_with_key(stack, client, "kiosk", group_id)
    answer = as_app.post(f"{API}/app/workflows/{workflow_id}/executions", json={"input": [1]})
    assert answer.status_code == 422 and "input" in answer.json["errors"]
    long_key = {"Idempotency-Key": "k" * 201}
    assert as_app.post(f"{API}/app/workflows/{workflow_id}/executions", json={}, headers=long_key).status_code == 422


def test_deleting_a_group_leaves_its_workflows_in_none_and_ends_its_licenses(stack, client):
    workflow_id = published(client)
    group_id = group_with(client, "g", workflow_id)
    app, as_app, _ = app_with_key(stack, client, "shop", group_id)
    assert client.get(f"{API}/groups/{group_id}/workflows").json["items"][0]["id"] == workflow_id
    assert client.delete(f"{API}/groups/{group_id}").status_code == 204
    assert client.get(f"{API}/workflows/{workflow_id}").json["group_id"] is None
    assert client.get(f"{API}/apps/{app['id']}/licenses").json["items"] == []
    assert as_app.post(f"{API}/app/workflows/{workflow_id}/executions", json={}).status_code == 403


def test_changes_are_audited_with_the_app_that_acted_and_reads_by_policy(stack, client):
    workflow_id = published(client)
    group_id = group_with(client, "g", workflow_id)
    app, as_app, _ = app_with_key(stack, client, "shop", group_id)
    execution_id = as_app.post(f"{API}/app/workflows/{workflow_id}/executions", json={}).json["id"]
    as_app.get(f"{API}/app/executions/{execution_id}")
    client.patch(f"{API}/apps/{app['id']}", json={"audit_policy": "all"})
    as_app.get(f"{API}/app/executions/{execution_id}")
    with stack.engine.sessions() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.created_at)).all()
        owner_id = session.scalar(select(Workflow.owner_id).where(Workflow.id == uuid.UUID(workflow_id)))
    actions = [r.action for r in rows]
    assert actions[actions.index("group.create"):] == [
        "group.create", "group.add_workflow", "app.create", "app_key.create", "app_license.create",
        "execution.create", "app.update", "app.read_execution"]
    by_app = [r for r in rows if r.app_id is not None]
    assert [r.action for r in by_app] == ["execution.create", "app.read_execution"]
    assert all(str(r.app_id) == app["id"] and r.user_id == owner_id and r.api_key_id is None for r in by_app)
    assert by_app[-1].object_id == execution_id
    shown = client.get(f"{API}/audit-logs", query_string={"action": "app.read_execution"}).json["items"]
    assert [(e["app_id"], e["api_key_id"], e["object_id"]) for e in shown] == [(app["id"], None, execution_id)]
