"""A voter logs in and votes through battles with the keyboard in headless Chromium."""

import pytest

from battles.models import Vote
from tests.factories import make_arena, make_user
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_voter_votes_with_the_keyboard_and_sees_the_reveal(app_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    make_arena(llms=("canaryzephyr", "canaryquokka", "canaryibis"), prompts=4)
    make_user("kbvoter", password="a-long-password")
    log_in(browser, app_server.url, "kbvoter", "a-long-password")

    keys = ["1", "2", "3"]
    for number, key in enumerate(keys, start=1):
        _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
        page = browser.page_source.lower()
        assert "model a" in page and "model b" in page
        assert "canary" not in page, "a model name reached the page before the vote"
        browser.find_element(By.TAG_NAME, "body").send_keys(key)
        _wait(browser, lambda d: d.find_element(By.ID, "reasons").is_displayed())
        if number == 1:
            browser.find_element(By.CSS_SELECTOR, 'input[name="reasons_a"][value="correct"]').click()
            browser.find_element(By.NAME, "comment").send_keys("clear winner")
        browser.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)
        _wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))
        revealed = browser.find_element(By.ID, "battle-panel").text.lower()
        assert revealed.count("canary") >= 2, "the reveal should name both models"
        assert Vote.objects.count() == number
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)

    votes = list(Vote.objects.order_by("id"))
    assert [v.outcome for v in votes] == ["a", "b", "tie"]
    assert votes[0].reasons_a == ["correct"] and votes[0].comment == "clear winner"
    assert votes[1].reasons_a == [] and votes[1].comment == ""
