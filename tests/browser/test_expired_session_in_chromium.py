"""An expired session during a vote (issue 12, point 6): the voter signs in again and lands on the same
battle with the choice filled in and told it was not stored yet; never the login page inside the panel."""

import re

import pytest
from django.contrib.sessions.models import Session
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from battles.models import Battle, Vote
from tests.browser.voter_pages import live_battle, wide_answers_arena
from tests.factories import make_user
from tests.support.accessibility import SIZES
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZE_PARAMS = [pytest.param(size, id=name) for name, size in SIZES.items()]


def _sign_in_on_the_login_page(driver, username):
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys("a-long-password", Keys.ENTER)


def _choose_b_with_reasons(driver):
    driver.find_element(By.TAG_NAME, "body").send_keys("2")
    _wait(driver, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    driver.find_element(By.CSS_SELECTOR, 'input[name="reasons_b"][value="clear"]').click()
    driver.find_element(By.NAME, "comment").send_keys("B explains it better")
    driver.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)


@pytest.mark.parametrize("size", SIZE_PARAMS)
def test_a_vote_after_the_session_expired_goes_through_login_back_to_the_same_battle(app_server, browser, size):
    browser.set_window_size(*size)
    wide_answers_arena()
    make_user("sleepy", password="a-long-password")
    log_in(browser, app_server.url, "sleepy", "a-long-password")
    browser.get(f"{app_server.url}/?category=coding")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    code = browser.find_element(By.CSS_SELECTOR, "[data-battle]").get_attribute("data-battle")

    Session.objects.all().delete()  # the server forgets the session, as when it expires
    _choose_b_with_reasons(browser)

    # The whole page goes to the login form, which will send the voter back to this battle.
    _wait(browser, lambda d: "/accounts/login/" in d.current_url)
    assert re.search(rf"next=%2Fbattle%2F{code}%2F%3Fcategory%3Dcoding", browser.current_url), browser.current_url
    assert not browser.find_elements(By.ID, "battle-panel"), "the login page was put inside the battle's panel"
    assert not Vote.objects.exists()

    _sign_in_on_the_login_page(browser, "sleepy")
    _wait(browser, lambda d: f"/battle/{code}/" in d.current_url and d.find_elements(By.ID, "vote-form"))
    assert "category=coding" in browser.current_url
    status = browser.find_element(By.ID, "vote-status").text
    assert "not stored" in status, status
    # The choice, its reason and the comment are filled in again; one key sends them.
    assert "selected" in browser.find_element(By.CSS_SELECTOR, "button.choice-b").get_attribute("class")
    assert browser.find_element(By.CSS_SELECTOR, 'input[name="reasons_b"][value="clear"]').is_selected()
    assert browser.find_element(By.NAME, "comment").get_attribute("value") == "B explains it better"
    assert not Vote.objects.exists()
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))

    vote = Vote.objects.get()
    assert (str(vote.battle.code), vote.outcome) == (code, "b")
    assert vote.reasons_b == ["clear"] and vote.comment == "B explains it better"
    assert Battle.objects.count() == 1


def test_a_vote_with_a_stale_form_token_reloads_the_battle_and_keeps_the_choice(app_server, browser):
    browser.set_window_size(*SIZES["desktop"])
    wide_answers_arena()
    make_user("twotabs", password="a-long-password")
    log_in(browser, app_server.url, "twotabs", "a-long-password")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    url = browser.current_url
    # Signed in again in another tab: the token this page holds is no longer the valid one.
    browser.execute_script("document.querySelector('meta[name=csrf-token]').content = 'x'.repeat(64);")
    browser.execute_script(
        "document.querySelectorAll('input[name=csrfmiddlewaretoken]').forEach(i => i.value = 'x'.repeat(64));"
    )
    browser.delete_cookie("csrftoken")
    _choose_b_with_reasons(browser)
    _wait(browser, lambda d: "not stored" in d.find_element(By.ID, "vote-status").text)
    assert browser.current_url == url
    assert "selected" in browser.find_element(By.CSS_SELECTOR, "button.choice-b").get_attribute("class")
    assert not Vote.objects.exists()
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))
    assert Vote.objects.get().outcome == "b"


@pytest.mark.parametrize("size", SIZE_PARAMS)
def test_a_follow_up_after_the_session_expired_is_kept_through_login(app_server, browser, size):
    browser.set_window_size(*size)
    voter = make_user("livesleeper", password="a-long-password")
    battle = live_battle(voter, turns_done=1, waiting=False)
    log_in(browser, app_server.url, "livesleeper", "a-long-password")
    browser.get(f"{app_server.url}/live/{battle.code}/")
    _wait(browser, lambda d: d.find_elements(By.ID, "follow-up-form"))
    Session.objects.all().delete()
    browser.find_element(By.CSS_SELECTOR, "#follow-up-form textarea").send_keys("And in the Baltic?")
    browser.find_element(By.CSS_SELECTOR, "#follow-up-form button[type=submit]").click()
    _wait(browser, lambda d: "/accounts/login/" in d.current_url)
    _sign_in_on_the_login_page(browser, "livesleeper")
    _wait(browser, lambda d: f"/live/{battle.code}/" in d.current_url and d.find_elements(By.ID, "follow-up-form"))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".follow-up-status"))
    assert "not sent" in browser.find_element(By.CSS_SELECTOR, ".follow-up-status").text
    value = browser.find_element(By.CSS_SELECTOR, "#follow-up-form textarea").get_attribute("value")
    assert value == "And in the Baltic?"
    assert battle.turns.count() == 1
