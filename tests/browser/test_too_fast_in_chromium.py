"""Too-fast votes in headless Chromium (issue 12, point 10).

The careful reader's model: once the answers are on screen it spends len(longer answer) / 40
seconds (400 words a minute over the longer answer while taking in the shorter one, i.e. both
answers at a combined 80 characters a second or less), then votes by keyboard. It is never
asked to slow down. A voter who votes as soon as the page appears is, on the reveal.
"""

import time

import pytest

from battles.models import Vote
from tests.factories import make_generation, make_llm, make_pool, make_prompt, make_user
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SENTENCES = [
    "Restart the worker after the deploy.",
    "Check the queue depth before and after.",
    "Roll back if the error rate doubles within ten minutes.",
    "Tell the on-call channel what changed and when.",
    "Keep the old configuration for a day in case it is needed.",
    "The migration is safe to run twice.",
]


def _answer(length: int, shift: int) -> str:
    """Plain prose of about ``length`` characters (what is counted is what is shown)."""
    words: list[str] = []
    k = shift
    while len(" ".join(words)) < length:
        words.append(SENTENCES[k % len(SENTENCES)])
        k += 1
    return " ".join(words)[:length].rstrip() + "."


def _arena(prompts: int, *, shortest: int = 40, longest: int = 280) -> None:
    pool = make_pool("Reading pool")
    llms = [make_llm(name) for name in ("canaryzephyr", "canaryquokka", "canaryibis")]
    step = (longest - shortest) // 4
    for i in range(prompts):
        prompt = make_prompt(pool, f"Question {i}: how should the team roll out change number {i}?")
        for j, llm in enumerate(llms):
            # Lengths from ``shortest`` to ``longest`` characters, equal pairs among them (the worst case of the rule).
            make_generation(prompt, llm, text=_answer(shortest + step * ((i + j * (i % 3)) % 5), i + j))


def _answers_on_screen(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, "#battle-panel .answer .md")]


def _vote(driver, key: str) -> str:
    """Choose with ``key``, send with Ctrl+Enter; the reveal panel's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.find_element(By.TAG_NAME, "body").send_keys(key)
    _wait(driver, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    driver.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)
    _wait(driver, lambda d: d.find_elements(By.ID, "next-battle"))
    return driver.find_element(By.ID, "battle-panel").text


def _next(driver) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)


def test_a_careful_reader_is_never_asked_to_slow_down_over_20_battles(app_server, browser):
    from selenium.webdriver.common.by import By

    _arena(prompts=22)
    make_user("reader", password="a-long-password")
    log_in(browser, app_server.url, "reader", "a-long-password")
    for number in range(1, 21):
        _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
        answers = _answers_on_screen(browser)
        assert len(answers) == 2 and all(answers)
        time.sleep(max(len(text) for text in answers) / 40)
        revealed = _vote(browser, "123"[number % 3])
        assert "take a moment" not in revealed, f"battle {number} ({[len(a) for a in answers]} characters)"
        assert not browser.find_elements(By.ID, "take-your-time")
        _next(browser)
    votes = list(Vote.objects.all())
    assert len(votes) == 20
    assert [v.flags for v in votes if v.flagged] == []


def test_a_voter_who_votes_at_once_is_asked_to_take_their_time(app_server, browser):
    from selenium.webdriver.common.by import By

    # Long enough answers that a busy machine's page load alone is not "reading" them.
    _arena(prompts=4, shortest=800, longest=1600)
    make_user("hasty", password="a-long-password")
    log_in(browser, app_server.url, "hasty", "a-long-password")
    for _ in range(2):
        _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
        revealed = _vote(browser, "1")
        assert browser.find_element(By.ID, "take-your-time").is_displayed()
        assert "take a moment to read both answers" in revealed
        assert "exclud" not in revealed.lower() and "not count" not in revealed.lower()
        _next(browser)
    assert [v.flags for v in Vote.objects.order_by("id")] == [["too_fast"], ["too_fast"]]
