"""The web console in Debian's chromium (headless, driven by selenium) against a real API server.

Screenshots (execution-page.png; model-calls.png, the page of an execution that called models;
usage-page.png) are saved under $TEST_ARTIFACTS (default: the system's temp
directory)/orchestrator-console/ and their paths printed."""
from __future__ import annotations

import time

from examples import llm_server as llm
from tests.console.conftest import NEEDS_CHROMIUM, screenshot, sign_in, text_of, wait_for
from tests.support.api import new_workflow, submit

pytestmark = NEEDS_CHROMIUM


def test_login_takes_the_key_into_an_http_only_cookie(browser, served):
    from selenium.webdriver.common.by import By
    browser.get(served.url + "/ui/workflows")
    assert browser.current_url.startswith(served.url + "/ui/login")
    sign_in(browser, served, key="ork_not_a_key", then="/ui/login", accepted=False)
    assert "not valid" in wait_for(lambda: text_of(browser, "[role=alert]"), what="the sign-in error")
    sign_in(browser, served, then="/ui/login?next=/ui/workflows")
    wait_for(lambda: browser.current_url == served.url + "/ui/workflows", what="the workflows page")
    assert "No workflows yet" in wait_for(lambda: text_of(browser, "#workflows"), what="the workflows list")
    cookie = next(c for c in browser.get_cookies() if c["name"] == "orchestrator_console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""          # scripts cannot read it
    browser.find_element(By.CSS_SELECTOR, ".who button").click()
    browser.get(served.url + "/ui/executions")
    assert browser.current_url.startswith(served.url + "/ui/login")


def test_executions_list_with_filters_and_workflow_pages(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    client = served.client()
    done = submit(client, new_workflow(client, "chain"), {"n": 1}).json["id"]
    waiting = submit(client, new_workflow(client, "approval")).json["id"]
    served.run()
    sign_in(browser, served)
    rows = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#executions tbody tr"), what="rows")
    assert len(rows) == 2 and "completed" in text_of(browser, "#executions") and "running" in text_of(browser, "#executions")
    Select(browser.find_element(By.NAME, "status")).select_by_visible_text("completed")
    browser.find_element(By.CSS_SELECTOR, ".filters button").click()
    wait_for(lambda: "status=completed" in browser.current_url, what="the filter")
    rows = browser.find_elements(By.CSS_SELECTOR, "#executions tbody tr")
    assert len(rows) == 1 and done[:8] in rows[0].text and "chain" in rows[0].text
    assert waiting[:8] not in text_of(browser, "#executions")

    rows[0].find_element(By.LINK_TEXT, "chain").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#versions"), what="the workflow page")
    assert "Publish" in text_of(browser, "#versions")
    browser.find_element(By.CSS_SELECTOR, "#versions button").click()
    wait_for(lambda: "published" in text_of(browser, "#versions") and "Publish" not in text_of(browser, "#versions"),
             what="the version published")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.dag g.node")) == 3


def test_the_execution_page_follows_the_run_live_to_completed(browser, served):
    from selenium.webdriver.common.by import By
    client = served.client()
    execution = submit(client, new_workflow(client, "console"), {"n": 1}).json["id"]
    sign_in(browser, served, then=f"/ui/executions/{execution}")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.dag g.node"), what="the graph")
    assert text_of(browser, "#live") == "live"
    assert "status-queued" in browser.find_element(By.CSS_SELECTOR, 'g.node[data-node="prepare"]').get_attribute("class")
    time.sleep(0.3)                                  # the event stream is open
    served.run()                                     # the steps run while the page watches
    wait_for(lambda: text_of(browser, "#execution-status") == "completed" and text_of(browser, "#live") == "ended",
             what="the page to show the execution completed")
    wait_for(lambda: browser.find_element(By.ID, "events").get_attribute("data-stream") == "",
             what="the page to reload as ended")
    classes = {box.get_attribute("data-node"): box.get_attribute("class")
               for box in browser.find_elements(By.CSS_SELECTOR, "svg.dag g.node")}
    assert classes == {"prepare": "node status-completed", "agents": "node status-completed",
                       "python": "node status-completed", "flaky": "node status-failed",
                       "digest": "node status-completed"}
    steps = text_of(browser, "#steps")
    assert "digest" in steps and "failed" in steps
    assert "input.missing" in text_of(browser, ".step-error summary")
    assert '"total": 5' in text_of(browser, "#output")
    events = text_of(browser, "#events")
    assert "execution_completed" in events and "step_failed flaky" in events
    screenshot(browser, "execution-page.png")


def test_approving_from_the_page(browser, served):
    from selenium.webdriver.common.by import By
    client = served.client()
    execution = submit(client, new_workflow(client, "approval")).json["id"]
    served.run()
    sign_in(browser, served, then="/ui/approvals")
    wait_for(lambda: "boss@example.com" in text_of(browser, "#approvals"), what="the pending approval")
    browser.find_element(By.LINK_TEXT, execution[:12] + "…").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#approvals button.approve"), what="the approve button")
    assert "status-waiting" in browser.find_element(By.CSS_SELECTOR, 'g.node[data-node="ask"]').get_attribute("class")
    browser.find_element(By.CSS_SELECTOR, "#approvals button.approve").click()
    wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, "#approvals"), what="the approval to go")
    served.run()
    wait_for(lambda: text_of(browser, "#execution-status") == "completed", what="the execution to complete")
    answer = client.get(f"/api/v1/executions/{execution}").json
    assert answer["status"] == "completed" and answer["output"] == {"go": {"approved": True, "decided_by": "console"}}


KEYS = ("acme-console-key-one-0001", "acme-console-key-two-0002")
# Two model calls, then a decision: the execution runs on, so the page must show the calls live.
ASK_THEN_APPROVE = {"name": "ask-models", "nodes": [
    {"id": "ask", "type": "llm", "config": {"model": "acme/m1", "prompt": "{{ input.question }}"}},
    {"id": "check", "type": "llm", "config": {"model": "acme/m2", "prompt": "Check: {{ nodes.ask.output.text }}"}},
    {"id": "approve", "type": "human_approval", "config": {"approver_email": "boss@example.com"}}],
    "edges": [{"source": "ask", "target": "check"}, {"source": "check", "target": "approve"}]}


def offline_provider(client, server) -> None:
    """The offline model server as provider acme (m1: 0.5/1.5, m2: 1/2 per 1,000 tokens), two keys."""
    provider = client.post("/api/v1/providers", json={"name": "acme", "type": "openai"}).json["id"]
    assert client.post(f"/api/v1/providers/{provider}/endpoints",
                       json={"name": "main", "base_url": f"{server.url}/v1"}).status_code == 201
    for model_id, prices in (("m1", (0.5, 1.5)), ("m2", (1, 2))):
        assert client.post(f"/api/v1/providers/{provider}/models", json={
            "model_id": model_id, "input_price": prices[0], "output_price": prices[1]}).status_code == 201
    for i, key in enumerate(KEYS, 1):
        assert client.post(f"/api/v1/providers/{provider}/credentials",
                           json={"alias": f"k{i}", "api_key": key}).status_code == 201


def assert_on_screen(browser, *selectors: str) -> None:
    """Each element inside its card and the window, and the page no wider than the window."""
    from selenium.webdriver.common.by import By
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    for selector in selectors:
        element = browser.find_element(By.CSS_SELECTOR, selector)
        right = browser.execute_script("return arguments[0].getBoundingClientRect().right", element)
        card = browser.execute_script("return arguments[0].closest('.card').getBoundingClientRect().right", element)
        assert right <= card <= width, (selector, right, card, width)


def test_model_calls_appear_live_on_the_execution_page_and_add_up_on_the_usage_page(browser, served, llm_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    client = served.client()
    offline_provider(client, llm_server)
    llm_server.script(llm.error(401, f"key {KEYS[0]} revoked"),       # the first key: the second is tried
                      llm.text("Sent.", usage={"prompt_tokens": 120, "completion_tokens": 30}),
                      llm.text("Fine.", usage={"prompt_tokens": 40, "completion_tokens": 10}))
    workflow = client.post("/api/v1/workflows", json={"definition": ASK_THEN_APPROVE}).json["id"]
    question = "Mail jane.doe@example.com the summary " + "of-a-long-line " * 200       # one line of 3,000 characters
    execution = submit(client, workflow, {"question": question}).json["id"]
    sign_in(browser, served, then=f"/ui/executions/{execution}")
    assert "No model calls." in wait_for(lambda: text_of(browser, "#calls"), what="the calls section")
    assert text_of(browser, "#totals") == ""
    browser.execute_script("window.stillThisPage = true")
    time.sleep(0.3)                                  # the event stream is open
    served.run()                                     # ask and check call models; approve waits
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#calls tr.call")) == 3, what="three calls")
    wait_for(lambda: "200 tokens · cost 0.165" in text_of(browser, "#totals"), what="the totals")
    assert browser.execute_script("return window.stillThisPage") is True          # swapped in, not reloaded
    # A later step event (the approval) may swap the card in again while it is read: read again.
    rows = wait_for(lambda: [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#calls tr.call")],
                    what="the calls' rows")
    assert "ask 1 · 0 acme/m1 error" in rows[0] and "key [REDACTED] revoked" in rows[0]
    assert "ask 1 · 0 acme/m1 ok 120 30 0.105" in rows[1]
    assert "check 1 · 0 acme/m2 ok 40 10 0.06" in rows[2]

    def opened_second_call() -> str | None:
        """Its request and response, once open (a swap makes the element stale or closes it)."""
        content = browser.find_elements(By.CSS_SELECTOR, "#calls details")[1]
        content.find_element(By.TAG_NAME, "summary").click()
        return content.text if '"Sent."' in content.text else None
    shown = wait_for(opened_second_call, what="the second call's request and response")
    assert "[REDACTED:email]" in shown and "jane.doe" not in shown
    assert_on_screen(browser, "#calls th:nth-child(8)", "#calls tr.call:nth-of-type(3) td:nth-child(8)")
    assert not any(key in browser.page_source for key in KEYS)

    browser.refresh()                                # the approval shows on a new load of the page
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#approvals button.approve"), what="the approve button")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#calls tr.call")) == 3
    browser.find_element(By.CSS_SELECTOR, "#approvals button.approve").click()
    wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, "#approvals"), what="the approval to go")
    served.run()
    wait_for(lambda: browser.find_element(By.ID, "events").get_attribute("data-stream") == "",
             what="the page to reload as ended")
    assert text_of(browser, "#execution-status") == "completed"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#calls tr.call")) == 3            # as stored
    assert "200 tokens · cost 0.165" in text_of(browser, "#totals")
    screenshot(browser, "model-calls.png")

    browser.find_element(By.LINK_TEXT, "Usage").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#usage"), what="the usage page")
    today = client.get(f"/api/v1/executions/{execution}").json["created_at"][:10]
    assert [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#usage tbody tr")] == \
        [f"{today} acme m1 2 120 30 150 0.105", f"{today} acme m2 1 40 10 50 0.06"]
    assert text_of(browser, "#usage tfoot") == "Total 3 160 40 200 0.165"
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.bars rect")) == 1
    screenshot(browser, "usage-page.png")
    Select(browser.find_element(By.NAME, "model")).select_by_visible_text("m2")
    browser.find_element(By.CSS_SELECTOR, ".filters button").click()
    wait_for(lambda: "model=m2" in browser.current_url, what="the model filter")
    assert [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#usage tbody tr")] == \
        [f"{today} acme m2 1 40 10 50 0.06"]
    assert "Requests\n1" in text_of(browser, "#usage-totals") and "Cost\n0.06" in text_of(browser, "#usage-totals")
    for name, day in (("from", "2020-01-01"), ("to", "2020-01-31")):
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.NAME, name), day)
    browser.find_element(By.CSS_SELECTOR, ".filters button").click()
    wait_for(lambda: "from=2020-01-01" in browser.current_url, what="the date filter")
    assert "No model calls in these days by this provider or model" in text_of(browser, "#usage")
    assert "No call with a known price" in text_of(browser, "main")


def test_an_unknown_console_path_answers_the_consoles_own_404_page(browser, served):
    from selenium.webdriver.common.by import By
    browser.get(served.url + "/ui/no/such/page")                          # signed out: no sign-in detour
    assert browser.title.startswith("Page not found") and "/ui/no/such/page" in text_of(browser, "[role=alert]")
    sign_in(browser, served, then="/ui/login")
    for path in ("/ui/workflow", "/ui/executions/not-an-id", "/ui/static/nothing.css"):
        browser.get(served.url + path)
        assert browser.title.startswith("Page not found"), path
        assert ("Sign out" in text_of(browser, "header")) == ("static" not in path), path    # the nav when signed in
    browser.find_element(By.ID, "back").click()
    wait_for(lambda: browser.current_url == served.url + "/ui/executions", what="the way home")
    screenshot(browser, "not-found.png")


LONG = "summarise_every_customer_ticket_of_the_quarter_by_region_and_product_line"
UNBROKEN = "FetchTheQuarterlyRevenueFiguresFromTheFinanceWarehouseAndNormalise"


def test_long_node_names_stay_inside_their_boxes_and_show_whole_on_hover(browser, served):
    from selenium.webdriver.common.by import By
    client = served.client()
    workflow = client.post("/api/v1/workflows", json={"definition": {"name": "long-names", "nodes": [
        {"id": LONG, "type": "noop"}, {"id": UNBROKEN, "type": "noop"},
        {"id": "end", "type": "human_approval", "config": {}}],
        "edges": [{"source": LONG, "target": "end"}, {"source": UNBROKEN, "target": "end"}]}}).json["id"]
    sign_in(browser, served, then=f"/ui/workflows/{workflow}")
    boxes = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "svg.dag g.node"), what="the graph")
    for box in boxes:
        name = box.get_attribute("data-node")
        label = box.find_element(By.CSS_SELECTOR, ".node-id")
        for words in (label, box.find_element(By.CSS_SELECTOR, ".node-meta")):
            inside = browser.execute_script(
                "var l = arguments[0].getBoundingClientRect(), r = arguments[1].getBoundingClientRect();"
                "return l.left >= r.left && l.right <= r.right && l.top >= r.top && l.bottom <= r.bottom;",
                words, box.find_element(By.TAG_NAME, "rect"))
            assert inside, name
        assert label.get_attribute("title") == name                       # the whole name on hover
        clipped = browser.execute_script("return arguments[0].scrollHeight > arguments[0].clientHeight", label)
        assert clipped == (name != "end"), name                           # ellipsized past two lines
    screenshot(browser, "graph-long-names.png")
