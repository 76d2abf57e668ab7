"""The web console in Debian's chromium (headless, driven by selenium) against a real API server.

The execution page's screenshot is saved under $TEST_ARTIFACTS (default: the system's temp
directory)/orchestrator-console/ and its path printed."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.api import BOOTSTRAP_KEY, new_workflow, submit

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", tempfile.gettempdir())) / "orchestrator-console"


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except Exception:      # the page is reloading: elements come and go
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def text_of(browser, selector: str) -> str:
    from selenium.webdriver.common.by import By
    return browser.find_element(By.CSS_SELECTOR, selector).text


def sign_in(browser, served, key: str = BOOTSTRAP_KEY, then: str = "/ui/executions"):
    from selenium.webdriver.common.by import By
    browser.get(served.url + then)
    browser.find_element(By.NAME, "api_key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def test_login_takes_the_key_into_an_http_only_cookie(browser, served):
    from selenium.webdriver.common.by import By
    browser.get(served.url + "/ui/workflows")
    assert browser.current_url.startswith(served.url + "/ui/login")
    sign_in(browser, served, key="ork_not_a_key", then="/ui/login")
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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "execution-page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot of the execution page: {shot}")


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
