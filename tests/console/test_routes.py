"""The console's guards, without a browser: sign-in, same-origin posts, the cookie's reach."""
from __future__ import annotations

from tests.support.api import BOOTSTRAP_KEY, new_workflow, submit

SAME = {"Origin": "http://localhost"}


def signed_in(stack):
    browser = stack.app.test_client()
    assert browser.post("/ui/login", data={"api_key": BOOTSTRAP_KEY}, headers=SAME).status_code == 302
    return browser


def test_pages_need_a_signed_in_key_and_a_bad_key_is_refused(stack):
    browser = stack.app.test_client()
    response = browser.get("/ui/schedules")
    assert response.status_code == 302 and response.headers["Location"] == "/ui/login?next=/ui/schedules"
    refused = browser.post("/ui/login", data={"api_key": "ork_nope"}, headers=SAME)
    assert refused.status_code == 401 and b"not valid" in refused.data
    assert browser.post("/ui/login", data={"api_key": BOOTSTRAP_KEY}).status_code == 403      # no Origin
    assert browser.post("/ui/login?next=//evil.example/x", data={"api_key": BOOTSTRAP_KEY},
                        headers=SAME).headers["Location"] == "/ui/executions"


def test_posts_come_from_the_console_itself(stack, client):
    execution = submit(client, new_workflow(client, "approval")).json["id"]
    stack.run()
    browser = signed_in(stack)
    assert browser.post(f"/ui/executions/{execution}/pause", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get(f"/api/v1/executions/{execution}").json["status"] == "running"
    assert browser.post(f"/ui/executions/{execution}/cancel", headers=SAME).status_code == 302
    assert client.get(f"/api/v1/executions/{execution}").json["status"] == "cancelled"
    again = browser.post(f"/ui/executions/{execution}/cancel", headers=SAME)
    assert again.status_code == 409 and b"Not done" in again.data


def test_the_cookie_reads_the_api_but_changes_nothing(stack, client):
    execution = submit(client, new_workflow(client, "approval")).json["id"]
    browser = signed_in(stack)
    assert browser.get(f"/api/v1/executions/{execution}").status_code == 200
    assert browser.post(f"/api/v1/executions/{execution}/cancel").status_code == 401


def test_another_owners_execution_is_404_in_the_console(stack, client, other):
    execution = submit(client, new_workflow(client, "chain"), {"n": 1}).json["id"]
    browser = stack.app.test_client()
    key = stack.new_key("third@example.com")
    browser.post("/ui/login", data={"api_key": key}, headers=SAME)
    response = browser.get(f"/ui/executions/{execution}")
    assert response.status_code == 404 and b"Not found" in response.data and b"Sign out" in response.data
    assert browser.get(f"/ui/executions/{execution}/growing").status_code == 404


def test_the_usage_page_refuses_a_range_that_ends_before_it_starts(stack):
    browser = signed_in(stack)
    refused = browser.get("/ui/usage?from=2020-02-01&to=2020-01-01")
    assert refused.status_code == 422 and b"from is after to" in refused.data
    shown = browser.get("/ui/usage?from=not-a-day&to=2020-01-31")          # a day it cannot read: the default
    assert shown.status_code == 200 and b"2020-01-02 to 2020-01-31" in shown.data
    assert browser.get("/ui/usage?to=0001-01-01").status_code == 422         # no 30 days end there


def test_the_agents_page_lists_agents_tools_and_teams_but_no_tool_config(stack, client):
    tool = {"name": "lookup", "description": "Looks an item up", "visibility": "shared",
            "config": {"kind": "http", "url": "http://127.0.0.1:9/items", "headers": {"X-Token": "tok-never-shown"}}}
    assert client.post("/api/v1/tools", json=tool).status_code == 201
    assert client.post("/api/v1/agents", json={"name": "writer", "model": "acme/m1", "goal": "Write it up",
                                               "tools": ["lookup"]}).status_code == 201
    assert client.post("/api/v1/teams", json={"name": "desk", "topology_config": {
        "type": "sequential", "members": [{"name": "first", "agent": "writer"}]}}).status_code == 201
    page = signed_in(stack).get("/ui/agents").get_data(as_text=True)
    for shown in ("writer", "acme/m1", "Write it up", "lookup", "Looks an item up", "shared", "desk", "sequential",
                  "first"):
        assert shown in page
    assert "tok-never-shown" not in page and "127.0.0.1:9" not in page


def test_an_unknown_console_path_is_an_html_404_and_the_api_keeps_its_json_one(stack):
    browser = signed_in(stack)
    for path in ("/ui/nope", "/ui/executions/not-an-id", "/ui/workflows/x/y/z"):
        page = browser.get(path)
        assert page.status_code == 404 and page.mimetype == "text/html", path
        assert b"Page not found" in page.data and b'href="/ui/"' in page.data
    assert stack.app.test_client().get("/ui/nope").status_code == 404                 # signed out too
    api = browser.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json["message"] == "not found: no such URL"


def test_the_list_fragment_filters_as_the_page_and_a_backwards_range_is_named(stack, client):
    done = stack.start(client, input={"n": 1})
    browser = signed_in(stack)
    rows = browser.get("/ui/executions/rows?q=chain").get_data(as_text=True)
    assert rows.strip().startswith("<tbody>") and done in rows and "<html" not in rows
    assert done not in browser.get("/ui/executions/rows?q=nothing-matches").get_data(as_text=True)
    backwards = browser.get("/ui/executions?range=custom&from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z")
    assert backwards.status_code == 422 and b"to: is before from" in backwards.data
    unreadable = browser.get("/ui/executions?range=custom&from=yesterday")
    assert unreadable.status_code == 422 and b"from: &#39;yesterday&#39; is not a date and time" in unreadable.data


def test_the_run_form_answers_422_with_the_problems_and_posts_only_from_the_console(stack, client):
    workflow = new_workflow(client, "fails")                 # input_schema: n, an integer, required
    browser = signed_in(stack)
    assert b'name="$.n"' in browser.get(f"/ui/workflows/{workflow}/run").data
    refused = browser.post(f"/ui/workflows/{workflow}/run", data={"$.n": "two", "mode": "form"}, headers=SAME)
    assert refused.status_code == 422 and b"&#39;two&#39; is not of type &#39;integer&#39;" in refused.data
    assert browser.post(f"/ui/workflows/{workflow}/run", data={"raw": "[1]", "mode": "json"},
                        headers=SAME).status_code == 422
    assert browser.post(f"/ui/workflows/{workflow}/run", data={"$.n": "2"}, headers={"Origin": "http://evil.example"}
                        ).status_code == 403
    assert client.get(f"/api/v1/executions?workflow_id={workflow}").json["items"] == []
    started = browser.post(f"/ui/workflows/{workflow}/run", data={"$.n": "2", "mode": "form"}, headers=SAME)
    assert started.status_code == 302 and started.headers["Location"].startswith("/ui/executions/")


def test_schedule_buttons_act_for_the_owner_only(stack, client, other):
    workflow = new_workflow(client, "chain")
    schedule = client.post(f"/api/v1/workflows/{workflow}/schedules", json={"cron_expression": "0 3 * * *",
                                                                            "input": {"n": 1}}).json["id"]
    browser = stack.app.test_client()
    browser.post("/ui/login", data={"api_key": stack.new_key("third@example.com")}, headers=SAME)
    assert browser.post(f"/ui/schedules/{schedule}/trigger", headers=SAME).status_code == 404
    assert browser.post(f"/ui/schedules/{schedule}/pause", headers=SAME).status_code == 404
    assert client.get(f"/api/v1/executions?workflow_id={workflow}").json["items"] == []
    assert signed_in(stack).post(f"/ui/schedules/{schedule}/trigger", headers=SAME).status_code == 302
    assert len(client.get(f"/api/v1/executions?workflow_id={workflow}").json["items"]) == 1
