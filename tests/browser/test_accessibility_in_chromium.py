"""axe-core finds no serious or critical violation on the voter's pages, the login page and the leaderboard,
at desktop and phone sizes, in light and dark colour schemes; each page has exactly one h1."""

import pytest
from selenium.webdriver.common.by import By

from tests.browser.voter_pages import live_battle, wide_answers_arena
from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, make_llms, strong_weak
from tests.support.accessibility import SIZES, assert_no_serious_violations, emulate
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMES = ["light", "dark"]


def _check(driver, where):
    assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1, f"{where}: one h1 per page"
    unscoped = driver.execute_script("return [...document.querySelectorAll('th:not([scope])')].map(t => t.outerHTML)")
    assert not unscoped, f"{where}: table headers without scope: {unscoped[:3]}"
    assert_no_serious_violations(driver, where)


# The element that has keyboard focus, and whether it is drawn with a focus ring (outline) that stands out.
FOCUSED = """
const el = document.activeElement;
const style = getComputedStyle(el);
return {tag: el.tagName, text: (el.textContent || '').trim().slice(0, 30),
        ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
"""


def _focus_is_visible_on_every_stop(driver, where, stops=14):
    """Tab through the page: every control that takes focus shows it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    seen = set()
    for _ in range(stops):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.execute_script(FOCUSED)
        if focused["tag"] == "BODY":
            continue
        assert focused["ring"], f"{where}: no visible focus on {focused}"
        seen.add(focused["tag"])
    assert {"A", "BUTTON"} <= seen, seen
    driver.execute_script("document.activeElement.blur()")


def _views(size, scheme):
    return [pytest.param(size, scheme, id=f"{name}-{scheme}") for name, size in SIZES.items() for scheme in SCHEMES]


@pytest.mark.parametrize(("size", "scheme"), _views(None, None))
def test_voter_pages_have_no_serious_accessibility_violation(app_server, browser, size, scheme):
    browser.set_window_size(*size)
    wide_answers_arena()
    voter = make_user("a11yvoter", password="a-long-password")
    waiting = live_battle(voter, turns_done=1, waiting=True)
    browser.get(f"{app_server.url}/accounts/login/")
    emulate(browser, scheme=scheme)
    _check(browser, "login")
    log_in(browser, app_server.url, "a11yvoter", "a-long-password")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    _check(browser, "battle")
    _focus_is_visible_on_every_stop(browser, "battle")
    browser.find_element(By.TAG_NAME, "body").send_keys("2")
    _wait(browser, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    _check(browser, "battle with the reasons open")
    browser.switch_to.active_element.send_keys("\ue007")
    _wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))
    _check(browser, "reveal")
    browser.get(f"{app_server.url}/live/{waiting.code}/")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-waiting]"))
    _check(browser, "live, waiting")
    ready = live_battle(voter, turns_done=2, waiting=False, names=("livegamma", "livedelta"))
    browser.get(f"{app_server.url}/live/{ready.code}/")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    _check(browser, "live, ready")
    browser.get(f"{app_server.url}/live/")
    _check(browser, "live start")
    browser.get(f"{app_server.url}/me/")
    _check(browser, "/me/")


@pytest.mark.parametrize(("size", "scheme"), _views(None, None))
def test_leaderboard_has_no_serious_accessibility_violation(app_server, browser, size, scheme):
    browser.set_window_size(*size)
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, strong_weak("alpha", "beta") + strong_weak("beta", "gamma") + strong_weak("alpha", "gamma"))
    make_user("a11ylead", role="eval_lead", password="a-long-password")
    log_in(browser, app_server.url, "a11ylead", "a-long-password")
    emulate(browser, scheme=scheme)
    browser.get(f"{app_server.url}/leaderboard/")
    _check(browser, "leaderboard")
