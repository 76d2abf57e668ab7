"""The executions list in the browser: live without a reload, search, a workflow chosen by name,
time ranges (the last hour, or between two local times) and every time in the browser's zone."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tests.console.conftest import NEEDS_CHROMIUM, screenshot, sign_in, text_of, wait_for
from tests.support.api import new_workflow, submit

pytestmark = NEEDS_CHROMIUM


def rows(browser) -> dict[str, str]:
    """The list's rows by execution id: their text."""
    from selenium.webdriver.common.by import By
    return {row.get_attribute("data-execution"): row.text
            for row in browser.find_elements(By.CSS_SELECTOR, "#executions tbody tr[data-execution]")}


def filter_by(browser, served, **fields: str) -> None:
    """Fill the filter form as a person would (selects by their visible text) and send it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    for name, value in fields.items():
        element = browser.find_element(By.NAME, name)
        if element.tag_name == "select":
            Select(element).select_by_visible_text(value)
        else:
            element.clear()
            element.send_keys(value)
    browser.execute_script("window.samePage = true")
    browser.find_element(By.CSS_SELECTOR, ".filters button[type=submit]").click()
    wait_for(lambda: browser.execute_script("return window.samePage") is None, what="the filtered page")


def test_the_list_follows_runs_and_new_executions_without_a_reload(browser, served):
    client = served.client()
    chain = new_workflow(client, "chain")
    first = submit(client, chain, {"n": 1}).json["id"]
    waits = submit(client, new_workflow(client, "approval")).json["id"]
    sign_in(browser, served)
    wait_for(lambda: set(rows(browser)) == {first, waits}, what="both executions")
    assert "pending" in rows(browser)[first] and "live" == text_of(browser, "#live-list")
    browser.execute_script("window.stillThisPage = true")
    served.run()                                          # the chain ends; the approval waits
    wait_for(lambda: "completed" in rows(browser)[first] and "running" in rows(browser)[waits],
             what="the rows to show the runs' new statuses")
    later = submit(client, chain, {"n": 2}).json["id"]
    wait_for(lambda: list(rows(browser)) == [later, waits, first], what="the new execution on top")
    assert browser.execute_script("return window.stillThisPage") is True          # never reloaded
    screenshot(browser, "executions-live.png")


def test_search_narrows_the_list_and_a_workflow_is_chosen_by_name(browser, served):
    client = served.client()
    done = submit(client, new_workflow(client, "chain"), {"n": 1}).json["id"]
    failed = submit(client, new_workflow(client, "fails"), {"n": 1}).json["id"]
    served.run()
    sign_in(browser, served)
    wait_for(lambda: set(rows(browser)) == {done, failed}, what="both executions")
    for query, found in ((done[:8], {done}), ("CHAIN", {done}), ("missing", {failed}), ("failed", {failed}),
                         ("nothing like it", set())):
        filter_by(browser, served, q=query)
        assert set(rows(browser)) == found, query
    assert "No executions match." in text_of(browser, "#executions")
    filter_by(browser, served, q="")
    assert set(rows(browser)) == {done, failed}
    filter_by(browser, served, workflow_id="fails")                   # the workflow's name, never its id
    assert set(rows(browser)) == {failed} and f"workflow_id={failed}" not in browser.current_url
    filter_by(browser, served, workflow_id="any", status="completed")
    assert set(rows(browser)) == {done}
    screenshot(browser, "executions-search.png")


def local_input(browser, name: str, value: datetime) -> None:
    """Type a local wall time into the custom range's field ``name`` (as the date picker would)."""
    from selenium.webdriver.common.by import By
    field = browser.find_element(By.CSS_SELECTOR, f'input[data-instant="{name}"]')
    browser.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                           field, value.strftime("%Y-%m-%dT%H:%M:%S"))


def test_time_ranges_and_times_in_the_browsers_zone(browser, served):
    from selenium.webdriver.common.by import By
    client = served.client()
    execution = client.get(f"/api/v1/executions/{submit(client, new_workflow(client, 'chain'), {'n': 1}).json['id']}").json
    created = datetime.fromisoformat(execution["created_at"])
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
    sign_in(browser, served)
    wait_for(lambda: execution["id"] in rows(browser), what="the execution")
    shown = browser.find_element(By.CSS_SELECTOR, f'tr[data-execution="{execution["id"]}"] time')
    kolkata = created.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert shown.text == kolkata.strftime("%Y-%m-%d %H:%M:%S GMT+5:30")
    assert shown.get_attribute("title") == created.isoformat()                  # the ISO value on hover
    assert re.search(r"your time zone, Asia/(Kolkata|Calcutta) \(GMT\+5:30\)", text_of(browser, "footer"))

    filter_by(browser, served, range="in the last hour")
    assert list(rows(browser)) == [execution["id"]]
    assert not browser.find_element(By.ID, "custom-range").is_displayed()
    filter_by(browser, served, range="between…")
    assert browser.find_element(By.ID, "custom-range").is_displayed()
    local = kolkata.replace(tzinfo=None, microsecond=0)
    for start, end, found in ((local - timedelta(minutes=1), local + timedelta(minutes=1), [execution["id"]]),
                              (local - timedelta(hours=6), local - timedelta(hours=5), [])):
        local_input(browser, "from", start)
        local_input(browser, "to", end)
        filter_by(browser, served)
        assert list(rows(browser)) == found
        assert browser.find_element(By.NAME, "from").get_attribute("value").startswith(
            (start - timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"))      # sent as UTC
        assert browser.find_element(By.CSS_SELECTOR, 'input[data-instant="from"]').get_attribute("value") == \
            start.strftime("%Y-%m-%dT%H:%M:%S")                                          # shown as local
    local_input(browser, "from", local + timedelta(hours=1))
    local_input(browser, "to", local)
    filter_by(browser, served)
    assert "to: is before from" in text_of(browser, "#filter-problems")
    screenshot(browser, "executions-range.png")
