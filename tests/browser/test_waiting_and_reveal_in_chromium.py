"""Waiting for a live battle's answers, the turn limit, and the reveal's recap (issue 12, point 8).

The progressive release of live answers needs the websocket: tests/pipeline/test_live_reveal_in_chromium.py.
"""

import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from battles.models import BattleTurn
from tests.browser.voter_pages import live_battle, wide_answers_arena
from tests.factories import make_user
from tests.support.accessibility import SIZES
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZE_PARAMS = [pytest.param(size, id=name) for name, size in SIZES.items()]


def _seconds(text: str) -> int:
    """ "1 min 05 s" or "42 s" → seconds."""
    parts = text.replace("min", "").replace("s", "").split()
    return int(parts[0]) * 60 + int(parts[1]) if len(parts) == 2 else int(parts[0])


@pytest.mark.parametrize("size", SIZE_PARAMS)
def test_while_both_models_write_the_page_shows_the_time_waited(app_server, browser, size):
    browser.set_window_size(*size)
    voter = make_user("patient", password="a-long-password")
    battle = live_battle(voter, turns_done=1, waiting=True)
    BattleTurn.objects.filter(battle=battle, number=2).update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=65)
    )
    log_in(browser, app_server.url, "patient", "a-long-password")
    browser.get(f"{app_server.url}/live/{battle.code}/")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-elapsed]"))
    status = browser.find_element(By.CSS_SELECTOR, ".waiting-status").text
    assert "Both models are writing" in status, status
    assert [p.text for p in browser.find_elements(By.CSS_SELECTOR, ".answers.waiting .thinking")] == ["Writing…"] * 2
    first = _seconds(browser.find_element(By.CSS_SELECTOR, "[data-elapsed]").text)
    assert 64 <= first <= 75, first
    _wait(browser, lambda d: _seconds(d.find_element(By.CSS_SELECTOR, "[data-elapsed]").text) >= first + 2, timeout=6)
    # Screen readers hear it too, from a live region outside the replaced panel.
    announcer = browser.find_element(By.ID, "live-announcer")
    assert announcer.get_attribute("aria-live") == "polite"
    _wait(browser, lambda d: "writing" in d.find_element(By.ID, "live-announcer").get_attribute("textContent"))
    assert browser.find_element(By.CSS_SELECTOR, ".answers.waiting").get_attribute("aria-busy") == "true"


@pytest.mark.parametrize("size", SIZE_PARAMS)
def test_at_the_turn_limit_the_follow_up_form_gives_way_to_a_clear_message(app_server, browser, size, settings):
    settings.ARENA_LIVE_MAX_TURNS = 3
    browser.set_window_size(*size)
    voter = make_user("talker", password="a-long-password")
    battle = live_battle(voter, turns_done=3, waiting=False)
    log_in(browser, app_server.url, "talker", "a-long-password")
    browser.get(f"{app_server.url}/live/{battle.code}/")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    assert not browser.find_elements(By.ID, "follow-up-form")
    limit = browser.find_element(By.CSS_SELECTOR, "[data-turn-limit]")
    assert limit.is_displayed() and "limit of 3 turns" in limit.text, limit.text
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", SIZE_PARAMS)
def test_the_reveal_recaps_the_voters_choice_reasons_and_comment(app_server, browser, size):
    browser.set_window_size(*size)
    wide_answers_arena()
    make_user("recapper", password="a-long-password")
    log_in(browser, app_server.url, "recapper", "a-long-password")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    browser.find_element(By.TAG_NAME, "body").send_keys("1")
    _wait(browser, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    browser.find_element(By.CSS_SELECTOR, 'input[name="reasons_a"][value="correct"]').click()
    browser.find_element(By.CSS_SELECTOR, 'input[name="reasons_a"][value="concise"]').click()
    browser.find_element(By.CSS_SELECTOR, 'input[name="reasons_b"][value="tone"]').click()
    browser.find_element(By.NAME, "comment").send_keys("The table was too wide to read")
    browser.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)
    _wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))

    for page in ("fragment", "reloaded page"):
        assert browser.find_element(By.CSS_SELECTOR, '[data-recap="outcome"]').text == "A is better"
        recap = browser.find_element(By.CSS_SELECTOR, '[data-recap="reasons"]').text
        assert "model A" in recap and "Correct, Concise" in recap, (page, recap)
        assert "model B" in recap and "Good tone" in recap, (page, recap)
        assert browser.find_element(By.CSS_SELECTOR, '[data-recap="comment"]').text == "The table was too wide to read"
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), page
        browser.refresh()
        _wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))
