"""The console's browser tests share one headless chromium (Debian's, driven by selenium),
started for the first test that needs it and closed after the last test of tests/console; each
test gets it with no cookies, the light colour scheme, UTC and its usual window size.

Screenshots go to $TEST_ARTIFACTS (default: the system's temp directory)/orchestrator-console/."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.api.conftest import anonymous, client, other, stack  # noqa: F401  (the same fixtures)
from tests.support.api import BOOTSTRAP_KEY

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
NEEDS_CHROMIUM = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason=(
    "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"))
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", tempfile.gettempdir())) / "orchestrator-console"
SIZE = (1280, 1100)


@pytest.fixture(scope="package")
def chromium(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
                 "--window-size={},{}".format(*SIZE)):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium):
    """The module's browser, as if new: no cookies, light, UTC, its usual window."""
    chromium.get("about:blank")
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chromium.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                           "value": "light"}]})
    chromium.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})
    chromium.set_window_size(*SIZE)
    return chromium


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


def sign_in(browser, served, key: str = BOOTSTRAP_KEY, then: str = "/ui/executions", accepted: bool = True):
    """Open ``then`` and sign in on the form it leads to; wait for the page it goes on to."""
    from selenium.webdriver.common.by import By
    browser.get(served.url + then)
    browser.find_element(By.NAME, "api_key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    if accepted:
        wait_for(lambda: "/ui/login" not in browser.current_url, what="the page after signing in")


def screenshot(browser, name: str) -> None:
    """The whole page, into ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    browser.set_window_size(SIZE[0], browser.execute_script("return document.documentElement.scrollHeight") + 140)
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot: {shot}")
