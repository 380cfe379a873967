"""Issue 12, point 11, in Chromium: the demo opens to a living arena. An eval lead's first look at the
board, the benchmark comparison and the decision page shows sane ratings from many votes, the vibes-gap
case flagged, and every page labelled as demo data; the demo voter gets a battle at once."""

from __future__ import annotations

import re
import socket

import pytest

from battles.demo import loading
from tests.support.browser import app_server, browser, log_in, wait  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"-?\d[\d,]*\.\d", text)]


def test_the_demo_opens_to_a_living_arena(app_server, browser):
    from selenium.webdriver.common.by import By

    loading.load_demo(port=_free_port(), with_users=True, with_history=True, say=lambda line: None)

    log_in(browser, app_server.url, "admin", "admin")
    browser.get(f"{app_server.url}/leaderboard/")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "table.board tbody tr"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
    assert len(rows) == 8, "the eight demo LLMs are on the board"
    ratings = [_numbers(row.find_elements(By.TAG_NAME, "td")[2].text)[0] for row in rows]
    assert all(700 < rating < 1300 for rating in ratings), f"sane ratings from the first open: {ratings}"
    votes = sum(int(row.find_elements(By.TAG_NAME, "td")[4].text.replace(",", "")) for row in rows) // 2
    assert votes >= 1000, f"thousands of votes behind the board, found {votes}"

    browser.get(f"{app_server.url}/benchmarks/")
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "demo" in page.lower(), "benchmark tables are labelled as demo data"
    link = browser.find_elements(By.PARTIAL_LINK_TEXT, "ReasonBench")
    assert link, page[:1500]
    link[0].click()
    wait(browser, lambda d: "vibes gap" in d.find_element(By.TAG_NAME, "body").text.lower())
    flagged = browser.find_elements(By.CSS_SELECTOR, "tr.flagged")
    assert [row.text.split()[0] for row in flagged] == ["granite-r1"], [row.text for row in flagged]

    browser.get(f"{app_server.url}/leaderboard/decision/")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Internal Server Error" not in body and "votes" in body.lower()

    browser.delete_all_cookies()
    log_in(browser, app_server.url, "demo", "demo")
    browser.get(f"{app_server.url}/")
    wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    page = browser.page_source.lower()
    assert "granite-r1" not in page and "aurora-large" not in page, "no model name before the vote"
