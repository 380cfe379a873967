"""The ``browser`` fixture: Debian's headless Chromium through Selenium, and a wait helper.

Import it into a test module or conftest.py::

    from tests.support.browser import app_server, browser, wait  # noqa: F401  (fixtures)

``app_server`` serves the whole WSGI app on a free port, static files included through
WhiteNoise and the collected manifest, as in production (pytest-django's ``live_server``
answers /static/ from the finders, which know no hashed names).

Without chromium and chromium-driver the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from django.test.testcases import LiveServerThread


@pytest.fixture
def app_server(transactional_db):
    """The app on 127.0.0.1: ``.url``; the database is the test's (transactional) one."""
    thread = LiveServerThread("127.0.0.1", static_handler=lambda handler: handler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    thread.url = f"http://127.0.0.1:{thread.port}"
    yield thread
    thread.terminate()


@pytest.fixture
def browser():
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        message = "Debian's chromium and chromium-driver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="arena-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, timeout=10):
    """Poll ``condition`` until it is true. An element of a page that is being replaced (a navigation, a
    fragment swap) goes stale between finding and reading it: that means "not yet", so poll again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def log_in(driver, base_url: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(f"{base_url}/")
    wait(driver, lambda d: d.find_elements(By.NAME, "username"))
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password, Keys.ENTER)
    try:
        wait(driver, lambda d: not d.find_elements(By.NAME, "password"))
    except Exception as exc:
        raise AssertionError(
            f"logging in as {username} failed at {driver.current_url}:\n"
            f"{driver.find_element(By.TAG_NAME, 'body').text[:2000]}"
        ) from exc


# Content-Security-Policy violations, recorded by a listener installed in every document before its
# own scripts run (DevTools' Page.addScriptToEvaluateOnNewDocument, which the policy does not govern).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(
    e.effectiveDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber
    + " " + (e.sample || "")
  );
});
"""


def watch_csp_violations(driver) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_LISTENER})


def csp_violations(driver) -> list[str]:
    found = driver.execute_script("return window.__cspViolations")
    assert found is not None, f"the violation listener is missing on {driver.current_url}"
    return found
