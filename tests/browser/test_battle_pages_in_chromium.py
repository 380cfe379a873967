"""The battle page in Chromium at desktop and phone sizes: category, layout with wide answers, Back and Reload."""

import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from battles.models import Battle
from tests.factories import make_generation, make_llm, make_pool, make_prompt, make_user
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [pytest.param((1400, 1000), id="desktop"), pytest.param((390, 844), id="phone")]

LONG_CODE_LINE = "```python\nvalues = [" + ", ".join(f"item_{n:03d}" for n in range(44)) + "]\n```"
WIDE_TABLE = (
    "| "
    + " | ".join(f"Heading{n}" for n in range(50))
    + " |\n|"
    + "---|" * 50
    + "\n| "
    + " | ".join(f"Extraordinarily{n} wordy cell" for n in range(50))
    + " |\n"
)

# Sizes of both answer cards and of the page, and how the wide content is held.
MEASURE = """
const cards = [...document.querySelectorAll('.answers .answer')].map(c => c.getBoundingClientRect());
const pre = document.querySelector('.answer pre');
const wrapper = document.querySelector('.answer .table-scroll');
const cell = document.querySelector('.answer td');
const word = document.createRange();
word.selectNodeContents(cell);
return {
  widths: cards.map(r => r.width),
  lefts: cards.map(r => r.left),
  rights: cards.map(r => r.right),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  preScrolls: pre.scrollWidth > pre.clientWidth,
  tableScrolls: wrapper.scrollWidth > wrapper.clientWidth,
  cellText: cell.textContent,
  firstWordLines: (() => {
    const text = cell.firstChild;
    const r = document.createRange();
    r.setStart(text, 0);
    r.setEnd(text, text.textContent.indexOf(' '));
    return r.getClientRects().length;
  })(),
};
"""


def _two_category_arena(per_category=4):
    pool = make_pool()
    llms = [make_llm("alpha"), make_llm("beta"), make_llm("gamma")]
    for category in ("reasoning", "writing"):
        for n in range(per_category):
            prompt = make_prompt(pool, f"A {category} question, number {n}.", category=category)
            for llm in llms:
                make_generation(prompt, llm, text=f"Answer {n} on {category}, in its own words.")


def _battle_code(driver):
    return driver.find_element(By.CSS_SELECTOR, "[data-battle]").get_attribute("data-battle")


def _selected_category(driver):
    return Select(driver.find_element(By.ID, "category-select")).first_selected_option.get_attribute("value")


def _vote_with_keys(driver, key):
    driver.find_element(By.TAG_NAME, "body").send_keys(key)
    _wait(driver, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(driver, lambda d: d.find_elements(By.ID, "next-battle"))


@pytest.mark.parametrize("size", SIZES)
def test_category_is_kept_across_vote_reveal_skip_and_next(app_server, browser, size):
    browser.set_window_size(*size)
    _two_category_arena()
    make_user("catvoter", password="a-long-password")
    log_in(browser, app_server.url, "catvoter", "a-long-password")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))

    def choose(category):
        Select(browser.find_element(By.ID, "category-select")).select_by_value(category)
        _wait(browser, lambda d: f"category={category}" in d.current_url and d.find_elements(By.ID, "vote-form"))
        assert _selected_category(browser) == category
        battle = Battle.objects.get(code=_battle_code(browser))
        assert battle.prompt.category == category
        return battle

    reasoning = choose("reasoning")
    writing = choose("writing")
    # The open reasoning battle was set aside as skipped, not deleted.
    reasoning.refresh_from_db()
    assert reasoning.status == Battle.Status.SKIPPED

    _vote_with_keys(browser, "1")
    assert browser.find_element(By.ID, "next-battle").get_attribute("href").endswith("/?category=writing")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form") and _battle_code(d) != str(writing.code))
    assert "category=writing" in browser.current_url
    assert _selected_category(browser) == "writing"
    after_vote = _battle_code(browser)

    browser.find_element(By.CSS_SELECTOR, ".skip-form button").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form") and _battle_code(d) != after_vote)
    assert "category=writing" in browser.current_url
    assert _selected_category(browser) == "writing"
    served = Battle.objects.filter(created_at__gt=reasoning.created_at).order_by("created_at")
    assert [b.prompt.category for b in served] == ["writing"] * 3
    assert Battle.objects.get(code=after_vote).status == Battle.Status.SKIPPED


@pytest.mark.parametrize("size", SIZES)
def test_wide_answers_keep_equal_columns_and_the_page_never_scrolls_sideways(app_server, browser, size):
    browser.set_window_size(*size)
    pool = make_pool()
    prompt = make_prompt(pool, "Show me the data, once as code and once as a table.", category="coding")
    make_generation(prompt, make_llm("alpha"), text="Here it is:\n\n" + LONG_CODE_LINE)
    make_generation(prompt, make_llm("beta"), text="Here it is:\n\n" + WIDE_TABLE)
    make_user("widevoter", password="a-long-password")
    log_in(browser, app_server.url, "widevoter", "a-long-password")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))

    for page in ("battle", "reveal"):
        m = browser.execute_script(MEASURE)
        assert abs(m["widths"][0] - m["widths"][1]) <= 1, (page, m)
        assert m["scrollWidth"] <= m["innerWidth"], (page, m)
        # Both cards lie within the window: nothing is pushed off-screen.
        assert min(m["lefts"]) >= 0 and max(m["rights"]) <= m["innerWidth"], (page, m)
        assert m["preScrolls"] and m["tableScrolls"], (page, m)
        # "Extraordinarily0" stays on one line: cells wrap between words, not inside them.
        assert m["cellText"].startswith("Extraordinarily0") and m["firstWordLines"] == 1, (page, m)
        if size[0] >= 1000:
            assert m["lefts"][0] != m["lefts"][1], "two columns side by side at desktop size"
        if page == "battle":
            _vote_with_keys(browser, "3")


@pytest.mark.parametrize("size", SIZES)
def test_back_after_a_vote_shows_the_previous_battles_reveal(app_server, browser, size):
    browser.set_window_size(*size)
    _two_category_arena(per_category=2)
    make_user("backvoter", password="a-long-password")
    log_in(browser, app_server.url, "backvoter", "a-long-password")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    first = _battle_code(browser)
    assert re.search(rf"/battle/{first}/$", browser.current_url)
    _vote_with_keys(browser, "2")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form") and _battle_code(d) != first)

    browser.back()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-revealed]"))
    assert f"/battle/{first}/" in browser.current_url
    assert not browser.find_elements(By.NAME, "password"), "Back should not reach the login form"
    battle = Battle.objects.select_related("version_a__llm", "version_b__llm").get(code=first)
    panel = browser.find_element(By.ID, "battle-panel").text
    assert battle.version_a.llm.name in panel and battle.version_b.llm.name in panel
    assert not browser.find_elements(By.ID, "vote-form")


@pytest.mark.parametrize("size", SIZES)
def test_reload_of_an_open_battle_shows_the_same_pair(app_server, browser, size):
    browser.set_window_size(*size)
    _two_category_arena(per_category=2)
    make_user("reloadvoter", password="a-long-password")
    log_in(browser, app_server.url, "reloadvoter", "a-long-password")
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    code, url = _battle_code(browser), browser.current_url
    answers = [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".answer .md")]

    browser.refresh()
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    assert (_battle_code(browser), browser.current_url) == (code, url)
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".answer .md")] == answers
    assert Battle.objects.count() == 1
