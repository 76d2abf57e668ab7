"""Schedules (pause, resume, run now), agents that cannot run saying why, and the light and dark
colour schemes with their contrast measured in the browser."""
from __future__ import annotations

from orchestrator import states
from tests.console.conftest import NEEDS_CHROMIUM, screenshot, sign_in, text_of, wait_for
from tests.support.api import new_workflow, submit

pytestmark = NEEDS_CHROMIUM


def schedule_row(browser, schedule_id: str):
    from selenium.webdriver.common.by import By
    return browser.find_element(By.CSS_SELECTOR, f'tr[data-schedule="{schedule_id}"]')


def press(browser, schedule_id: str, label: str) -> None:
    from selenium.webdriver.common.by import By
    schedule_row(browser, schedule_id).find_element(By.XPATH, f".//button[text()='{label}']").click()


def test_schedules_pause_resume_and_run_now(browser, served):
    client = served.client()
    workflow = new_workflow(client, "chain")
    schedule = client.post(f"/api/v1/workflows/{workflow}/schedules", json={
        "name": "nightly", "cron_expression": "0 3 * * *", "input": {"n": 2}}).json["id"]
    sign_in(browser, served, then="/ui/schedules")
    row = wait_for(lambda: schedule_row(browser, schedule).text, what="the schedule")
    assert "chain" in row and "active" in row and "At 03:00" in row
    press(browser, schedule, "Pause")
    wait_for(lambda: "paused by its owner" in schedule_row(browser, schedule).text, what="the schedule paused")
    assert client.get(f"/api/v1/schedules/{schedule}").json["status"] == "paused"
    screenshot(browser, "schedules.png")

    press(browser, schedule, "Run now")                                 # also while paused
    wait_for(lambda: "/ui/executions/" in browser.current_url, what="the execution it started")
    execution = client.get(f"/api/v1/executions/{browser.current_url.rsplit('/', 1)[1]}").json
    assert (execution["trigger"], execution["input"], execution["workflow_id"]) == ("schedule", {"n": 2}, workflow)
    served.run()
    wait_for(lambda: text_of(browser, "#execution-status") == "completed", what="the run to complete")
    browser.get(served.url + "/ui/schedules")
    row = wait_for(lambda: schedule_row(browser, schedule).text, what="the schedule")
    assert "paused" in row and "completed" in row                        # its last run, recorded
    press(browser, schedule, "Resume")
    wait_for(lambda: "active" in schedule_row(browser, schedule).text, what="the schedule active again")
    actions = [e["action"] for e in client.get("/api/v1/audit-logs").json["items"]]
    assert {"schedule.pause", "schedule.trigger", "schedule.resume"} <= set(actions)


def test_an_agent_that_cannot_run_says_why_as_a_run_would_find_it(browser, served, llm_server):
    client = served.client()
    provider = client.post("/api/v1/providers", json={"name": "acme", "type": "openai"}).json["id"]
    client.post(f"/api/v1/providers/{provider}/endpoints", json={"name": "main", "base_url": f"{llm_server.url}/v1"})
    client.post(f"/api/v1/providers/{provider}/models", json={"model_id": "m1"})
    client.post(f"/api/v1/providers/{provider}/models", json={"model_id": "m0", "status": "deprecated"})
    asleep = client.post("/api/v1/providers", json={"name": "sleepy", "type": "openai", "is_active": False}).json
    assert asleep["is_active"] is False
    for name, model in (("ready", "acme/m1"), ("ghost", "nobody/m1"), ("old", "acme/m0"), ("idle", "sleepy/m1"),
                        ("typo", "acme/m2")):
        assert client.post("/api/v1/agents", json={"name": name, "model": model, "goal": "Write"}).status_code == 201
    sign_in(browser, served, then="/ui/agents")

    def status(name: str) -> str:
        from selenium.webdriver.common.by import By
        return browser.find_element(By.CSS_SELECTOR, f'tr[data-agent="{name}"] .agent-status').text
    wait_for(lambda: status("ready"), what="the agents")
    assert status("ready") == "active"
    assert status("ghost") == "cannot run\nno provider named 'nobody'"
    assert status("old") == "cannot run\nmodel 'acme/m0' is deprecated, not available"
    assert status("idle") == "cannot run\nprovider 'sleepy' is not active"
    assert status("typo") == "cannot run\nprovider 'acme' has no model 'm2'"
    screenshot(browser, "agents.png")


STATUSES = sorted({value for enum in (states.ExecutionStatus, states.StepStatus, states.ApprovalStatus,
                                      states.ScheduleStatus, states.WorkflowStatus, states.AgentStatus)
                   for value in enum.values()} | {"ok", "error"})
# The contrast of an element's text with what is behind it (the nearest background that is not
# transparent), as WCAG 2 defines it.
CONTRAST = """
function rgb(text) { return text.match(/[\\d.]+/g).map(Number); }
function luminance(c) {
  var v = c.slice(0, 3).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function behind(el) {
  for (; el; el = el.parentElement) {
    var c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) { return c; }
  }
  return [255, 255, 255];
}
function ratio(a, b) { var x = luminance(a), y = luminance(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
return Array.prototype.map.call(document.querySelectorAll(arguments[0]), function (el) {
  var back = el.closest('g.node') ? rgb(getComputedStyle(el.closest('g.node').querySelector('rect')).fill) : behind(el);
  return [el.className.baseVal !== undefined ? el.className.baseVal : el.className, el.textContent.trim().slice(0, 30),
          Math.round(ratio(rgb(getComputedStyle(el).color), back) * 100) / 100];
});
"""
READ = ("main .status, .meta, .grid th, .grid td, a, .error, button, .events .seq, .events .msg, footer, "
        "svg.dag .node-id, svg.dag .node-meta, h2 small")


def test_light_and_dark_schemes_keep_every_status_and_text_readable(browser, served):
    from selenium.webdriver.common.by import By
    client = served.client()
    execution = submit(client, new_workflow(client, "console"), {"n": 1}).json["id"]
    served.run()
    sign_in(browser, served, then=f"/ui/executions/{execution}")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.dag g.node"), what="the graph")
    browser.execute_script("""
        var shelf = document.createElement('p'); shelf.id = 'every-status';
        arguments[0].forEach(function (s) {
          var badge = document.createElement('span'); badge.className = 'status status-' + s; badge.textContent = s;
          shelf.appendChild(badge);
        });
        document.querySelector('main .card').appendChild(shelf);""", STATUSES)
    for scheme in ("light", "dark"):
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                             "value": scheme}]})
        page = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert (page == "rgb(20, 23, 31)") == (scheme == "dark"), page
        measured = browser.execute_script(CONTRAST, READ)
        assert len([m for m in measured if "status" in m[0]]) >= len(STATUSES)
        unreadable = [m for m in measured if m[2] < 4.5]
        assert not unreadable, (scheme, unreadable)
        screenshot(browser, f"execution-{scheme}.png")
