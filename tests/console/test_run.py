"""Running a workflow from its page with a form built from its input_schema (typed values, the
API's 422 beside each field, raw JSON for the rest), and an execution's attempts, turns and
rendered inputs on its page."""
from __future__ import annotations

from examples import llm_server as llm
from tests.console.conftest import NEEDS_CHROMIUM, screenshot, sign_in, text_of, wait_for

pytestmark = NEEDS_CHROMIUM

BRIEF = {"name": "brief", "input_schema": {
    "type": "object", "required": ["topic", "count", "code", "address"], "properties": {
        "topic": {"type": "string", "title": "Topic", "description": "What the brief is about"},
        "count": {"type": "integer", "minimum": 1, "default": 3},
        "ratio": {"type": "number"},
        "draft": {"type": "boolean"},
        "tone": {"enum": ["plain", "warm"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
        "extra": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
    "nodes": [{"id": "echo", "type": "transform", "config": {"output": "{{ input }}"}}]}


def field(browser, path: str):
    from selenium.webdriver.common.by import By
    return browser.find_element(By.CSS_SELECTOR, f'[data-field="{path}"]')


def fill(browser, values: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    for path, value in values.items():
        control = browser.find_element(By.NAME, path)
        if control.tag_name == "select":
            Select(control).select_by_visible_text(value)
        elif control.get_attribute("type") == "checkbox":
            if control.is_selected() != (value == "on"):
                control.click()
        else:
            control.clear()
            control.send_keys(value)


def test_the_run_form_sends_typed_values_and_shows_the_apis_422_beside_each_field(browser, served):
    from selenium.webdriver.common.by import By
    client = served.client()
    workflow = client.post("/api/v1/workflows", json={"definition": BRIEF}).json["id"]
    sign_in(browser, served, then=f"/ui/workflows/{workflow}")
    wait_for(lambda: browser.find_elements(By.ID, "run"), what="the run button").pop().click()
    wait_for(lambda: browser.find_elements(By.ID, "run-form"), what="the run form")
    assert field(browser, "$.topic").find_element(By.CSS_SELECTOR, "abbr.required")       # marked required
    assert not field(browser, "$.ratio").find_elements(By.CSS_SELECTOR, "abbr.required")
    assert browser.find_element(By.NAME, "$.count").get_attribute("value") == "3"        # the schema's default
    assert "What the brief is about" in field(browser, "$.topic").text
    fill(browser, {"$.count": "0", "$.code": "abc", "$.tags": "x\ny"})
    browser.find_element(By.CSS_SELECTOR, "button[value=form]").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".field-error"), what="the API's problems")
    beside = {e.get_attribute("data-for"): e.text for e in browser.find_elements(By.CSS_SELECTOR, ".field-error")}
    assert beside == {"$.topic": "'topic' is a required property", "$.count": "0 is less than the minimum of 1",
                      "$.code": "'abc' does not match '^[A-Z]{3}$'", "$.address.city": "'city' is a required property"}
    assert browser.find_element(By.NAME, "$.code").get_attribute("value") == "abc"        # kept as typed
    assert browser.find_element(By.NAME, "$.tags").get_attribute("value") == "x\ny"
    assert client.get(f"/api/v1/executions?workflow_id={workflow}").json["items"] == []
    screenshot(browser, "run-form-422.png")

    fill(browser, {"$.topic": "Agents", "$.count": "12", "$.ratio": "0.5", "$.draft": "on", "$.tone": "warm",
                   "$.code": "ABC", "$.address.city": "Oslo", "$.extra": "7"})
    browser.find_element(By.CSS_SELECTOR, "button[value=form]").click()
    wait_for(lambda: "/ui/executions/" in browser.current_url, what="the new execution's page")
    execution = browser.current_url.rsplit("/", 1)[1]
    assert client.get(f"/api/v1/executions/{execution}").json["input"] == {
        "topic": "Agents", "count": 12, "ratio": 0.5, "draft": True, "tone": "warm", "tags": ["x", "y"],
        "code": "ABC", "address": {"city": "Oslo"}, "extra": 7}
    served.run()
    wait_for(lambda: text_of(browser, "#execution-status") == "completed", what="the run to complete")


def test_raw_json_runs_what_the_form_cannot_express(browser, served):
    from selenium.webdriver.common.by import By
    client = served.client()
    workflow = client.post("/api/v1/workflows", json={"definition": BRIEF}).json["id"]
    sign_in(browser, served, then=f"/ui/workflows/{workflow}/run")
    browser.find_element(By.CSS_SELECTOR, "details.raw-json summary").click()
    raw = browser.find_element(By.NAME, "raw")
    raw.clear()
    raw.send_keys('{"topic": "x",')
    browser.find_element(By.CSS_SELECTOR, "button[value=json]").click()
    assert "not valid JSON" in wait_for(lambda: text_of(browser, ".field-error"), what="the JSON problem")
    raw = browser.find_element(By.NAME, "raw")
    raw.clear()
    raw.send_keys('{"topic": "x", "count": 2, "code": "XYZ", "address": {"city": "Rome"}, "extra": "free"}')
    browser.find_element(By.CSS_SELECTOR, "button[value=json]").click()
    wait_for(lambda: "/ui/executions/" in browser.current_url, what="the new execution's page")
    assert client.get(f"/api/v1/executions/{browser.current_url.rsplit('/', 1)[1]}").json["input"]["extra"] == "free"


# An llm step that fails once and is tried again, then an agent whose tool is a workflow: its
# turns (ask for the tool, wait for the child, answer) are listed with their calls.
STEPS = {"name": "tries", "nodes": [
    {"id": "ask", "type": "llm", "retry": {"max_attempts": 2, "backoff_seconds": 0.01},
     "config": {"model": "acme/m1", "prompt": "Brief {{ secrets.TOKEN }} on {{ input.topic }}"}},
    {"id": "research", "type": "agent", "config": {"agent": "writer", "prompt": "{{ nodes.ask.output.text }}"}}],
    "edges": [{"source": "ask", "target": "research"}]}
SECRET = "tok-console-3b1f9a"


def test_the_execution_page_lists_each_attempt_its_turns_and_the_masked_input(browser, served, llm_server):
    from selenium.webdriver.common.by import By
    client = served.client()
    provider = client.post("/api/v1/providers", json={"name": "acme", "type": "openai"}).json["id"]
    client.post(f"/api/v1/providers/{provider}/endpoints", json={"name": "main", "base_url": f"{llm_server.url}/v1",
                                                                 "retry_count": 0})
    client.post(f"/api/v1/providers/{provider}/models", json={"model_id": "m1"})
    client.post(f"/api/v1/providers/{provider}/credentials", json={"alias": "k", "api_key": "key-0123456789"})
    client.post("/api/v1/secrets", json={"name": "TOKEN", "value": SECRET})
    child = client.post("/api/v1/workflows", json={"definition": {"name": "lookup", "nodes": [
        {"id": "find", "type": "transform", "config": {"output": {"found": "{{ input.q }}"}}}]}}).json["id"]
    client.post("/api/v1/tools", json={"name": "lookup", "description": "Looks it up", "config": {
        "kind": "workflow", "workflow_id": child}, "input_schema": {"type": "object"}})
    client.post("/api/v1/agents", json={"name": "writer", "model": "acme/m1", "goal": "Answer", "tools": ["lookup"]})
    llm_server.script(llm.error(500, "overloaded"), llm.text("Agents"), llm.tool_call("lookup", {"q": "agents"}),
                      llm.text("Done."))
    workflow = client.post("/api/v1/workflows", json={"definition": STEPS}).json["id"]
    execution = client.post(f"/api/v1/workflows/{workflow}/executions", json={"input": {"topic": "x"}}).json["id"]
    wait_for(lambda: served.run() >= 0 and client.get(f"/api/v1/executions/{execution}").json["status"] == "completed",
             what="the run (a retry after its backoff, a child) to complete")
    sign_in(browser, served, then=f"/ui/executions/{execution}")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".step-history"), what="the steps' histories")
    history = {node: browser.find_element(By.CSS_SELECTOR, f'.step-history[data-node="{node}"]')
               for node in ("ask", "research")}
    for details in history.values():
        details.find_element(By.TAG_NAME, "summary").click()
    attempts = [row.text for row in history["ask"].find_elements(By.CSS_SELECTOR, "tr.attempt")]
    assert len(attempts) == 2 and attempts[0].startswith("1 failed") and "500: overloaded" in attempts[0]
    assert attempts[1].startswith("2 completed")
    assert "Brief [secret] on x" in history["ask"].find_element(By.CSS_SELECTOR, ".step-input").text
    assert SECRET not in browser.page_source
    turns = [li.text for li in history["research"].find_elements(By.CSS_SELECTOR, "ol.turns li")]
    assert len(turns) >= 2 and "1 call" in turns[0] and "asked for lookup" in turns[0], turns
    assert "1 call" in turns[-1]
    screenshot(browser, "execution-attempts.png")
