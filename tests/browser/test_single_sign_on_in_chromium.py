"""Single sign-on in Chromium against a real OpenID provider (node-oidc-provider, its own pages):
sign in, land with the role the groups give, lose the role when the group goes, log out everywhere."""

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import app_server, browser  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait
from tests.support.oidc_provider import oidc_provider, sso_settings  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait(driver, condition, what: str):
    try:
        return _wait(driver, condition)
    except Exception as exc:
        raise AssertionError(
            f"waiting for {what} at {driver.current_url}:\n{driver.find_element(By.TAG_NAME, 'body').text[:1500]}"
        ) from exc


def at_provider(driver, provider) -> bool:
    return driver.current_url.startswith(provider.issuer)


def provider_login(driver, provider, login: str) -> None:
    """The provider's development login page (any password), then its consent page if it asks."""
    wait(driver, lambda d: at_provider(d, provider) and d.find_elements(By.NAME, "login"), "the provider's login")
    driver.find_element(By.NAME, "login").send_keys(login)
    driver.find_element(By.NAME, "password").send_keys("any password")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, lambda d: not d.find_elements(By.NAME, "login"), "the login to be accepted")
    consent_if_asked(driver, provider)


def consent_if_asked(driver, provider) -> None:
    """The provider asks a native (loopback) client to confirm at every sign-in."""
    if at_provider(driver, provider) and driver.find_elements(By.CSS_SELECTOR, "input[name=prompt][value=consent]"):
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def nav_links(driver) -> list[str]:
    return [link.text for link in driver.find_elements(By.CSS_SELECTOR, "header nav a")]


def test_sign_in_role_from_groups_group_removed_then_logout_everywhere(
    browser, app_server, sso_settings, oidc_provider
):
    sso_settings.PASSWORD_LOGIN = False
    oidc_provider.set_account("grace", email="grace@corp.example", groups=["arena-leads", "engineering"])

    # A page for eval leads: the sign-in page offers single sign-on only and comes back to that page.
    browser.get(f"{app_server.url}/leaderboard/")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "a.sso"), "the sign-in page")
    assert not browser.find_elements(By.NAME, "password")
    button = browser.find_element(By.CSS_SELECTOR, "a.sso")
    assert button.text == "Sign in with Test IdP"
    button.click()
    provider_login(browser, oidc_provider, "grace")
    wait(browser, lambda d: d.current_url == f"{app_server.url}/leaderboard/", "the leaderboard")
    assert "Leaderboard" in nav_links(browser)
    assert browser.find_element(By.CSS_SELECTOR, "header .who").text == "grace@corp.example"

    # The group goes at the provider; the next sign-in (the provider's session is still open) drops the role.
    oidc_provider.set_account("grace", email="grace@corp.example", groups=["engineering"])
    browser.get(f"{app_server.url}/oidc/login/?next=/leaderboard/")
    assert not browser.find_elements(By.NAME, "login")  # no password asked: the provider still knows grace
    consent_if_asked(browser, oidc_provider)
    wait(browser, lambda d: d.current_url.startswith(app_server.url) and d.find_elements(By.TAG_NAME, "h1"), "Arena")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"  # the leaderboard is for eval leads
    assert "Leaderboard" not in nav_links(browser) and "Vote" in nav_links(browser)

    # Logging out ends the provider's session too, and comes back to Arena's sign-in page.
    browser.find_element(By.CSS_SELECTOR, "header form button").click()
    wait(browser, lambda d: at_provider(d, oidc_provider) and d.find_elements(By.NAME, "logout"), "the provider")
    browser.find_element(By.CSS_SELECTOR, "button[name=logout][value=yes]").click()
    wait(browser, lambda d: d.current_url.startswith(f"{app_server.url}/accounts/login/"), "the sign-in page")
    browser.get(f"{app_server.url}/")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "a.sso"), "the sign-in page again")
    browser.find_element(By.CSS_SELECTOR, "a.sso").click()
    # The provider asks for the login again: its session is over.
    wait(browser, lambda d: at_provider(d, oidc_provider) and d.find_elements(By.NAME, "login"), "a new login")
