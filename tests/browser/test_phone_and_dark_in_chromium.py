"""The vote bar stays on screen while reading (issue 12, point 4) and the pages follow the system's dark
colour scheme with readable code, tables and charts (point 5), at desktop and phone sizes."""

import pytest
from selenium.webdriver.common.by import By

from tests.browser.voter_pages import wide_answers_arena
from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, make_llms, strong_weak
from tests.support.accessibility import SIZES, emulate
from tests.support.browser import app_server, browser, log_in  # noqa: F401  (fixtures)
from tests.support.browser import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWS = [
    pytest.param(size, scheme, id=f"{name}-{scheme}") for name, size in SIZES.items() for scheme in ("light", "dark")
]

# Where each choice button is, whether it is the element actually drawn at its centre (nothing covers
# it), and whether the page scrolls sideways.
CHOICES_ON_SCREEN = """
const buttons = [...document.querySelectorAll('.choices button.choice')];
return {
  buttons: buttons.map(b => {
    const r = b.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, drawn: !!top && b.contains(top)};
  }),
  bar: document.getElementById('vote-form').getBoundingClientRect().height,
  innerHeight: window.innerHeight,
  innerWidth: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
};
"""

# WCAG contrast of two CSS colours ("rgb(r, g, b)" as getComputedStyle gives them).
CONTRAST = """
function lum(c) {
  const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a, b) { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); }
"""

COLOURS = (
    CONTRAST
    + """
const style = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
const card = style('.answer.card', 'backgroundColor');
const pre = style('.answer pre', 'backgroundColor');
const tokens = [...document.querySelectorAll('.answer pre span')].map(s => getComputedStyle(s).color);
return {
  bodyLuminance: lum(style('body', 'backgroundColor')),
  text: contrast(style('.answer .md p', 'color'), card),
  cell: contrast(style('.answer td', 'color'), card),
  cellBorder: contrast(style('.answer td', 'borderTopColor'), card),
  code: Math.min(...tokens.map(t => contrast(t, pre))),
  buttonText: contrast(style('button.choice', 'color'), style('button.choice', 'backgroundColor')),
};
"""
)

CHART_COLOURS = (
    CONTRAST
    + """
const bg = getComputedStyle(document.querySelector('main .card') || document.body).backgroundColor;
const page = getComputedStyle(document.body).backgroundColor;
const texts = [...document.querySelectorAll('svg.chart text')].map(t => getComputedStyle(t).fill);
return {count: texts.length, worst: Math.min(...texts.map(t => Math.min(contrast(t, bg), contrast(t, page))))};
"""
)


def _scroll_into(driver, selector, fraction):
    driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "window.scrollTo(0, window.scrollY + r.top + r.height * arguments[1] - window.innerHeight / 2);",
        selector,
        fraction,
    )


@pytest.mark.parametrize(("size", "scheme"), VIEWS)
def test_the_four_choices_stay_on_screen_while_reading_either_answer(app_server, browser, size, scheme):
    browser.set_window_size(*size)
    wide_answers_arena()
    make_user("reader", password="a-long-password")
    log_in(browser, app_server.url, "reader", "a-long-password")
    emulate(browser, scheme=scheme)
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))

    for selector in (".answers .answer:nth-child(1)", ".answers .answer:nth-child(2)"):
        for fraction in (0.2, 0.5, 0.8):
            _scroll_into(browser, selector, fraction)
            m = browser.execute_script(CHOICES_ON_SCREEN)
            assert len(m["buttons"]) == 4
            for button in m["buttons"]:
                assert 0 <= button["top"] and button["bottom"] <= m["innerHeight"], (selector, fraction, m)
                assert 0 <= button["left"] and button["right"] <= m["innerWidth"], (selector, fraction, m)
                assert button["drawn"], f"a choice is covered at {selector} {fraction}: {m}"
            # The bar leaves most of the window to the answers.
            assert m["bar"] <= 0.3 * m["innerHeight"], m
            assert m["scrollWidth"] <= m["innerWidth"], m

    # Choosing opens the reasons; the submit button is then on screen too.
    browser.find_element(By.CSS_SELECTOR, "button.choice-b").click()
    _wait(browser, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    submit = browser.find_element(By.ID, "submit-vote")
    assert browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;", submit
    )
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(("size", "scheme"), VIEWS)
def test_answers_code_and_tables_are_readable_in_both_colour_schemes(app_server, browser, size, scheme):
    browser.set_window_size(*size)
    wide_answers_arena()
    make_user("nightowl", password="a-long-password")
    log_in(browser, app_server.url, "nightowl", "a-long-password")
    emulate(browser, scheme=scheme)
    _wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
    colours = browser.execute_script(COLOURS)
    if scheme == "dark":
        assert colours["bodyLuminance"] < 0.05, colours
    else:
        assert colours["bodyLuminance"] > 0.8, colours
    for name in ("text", "cell", "code", "buttonText"):
        assert colours[name] >= 4.5, (name, colours)
    assert colours["cellBorder"] >= 1.1, colours  # the table grid stays visible


@pytest.mark.parametrize(("size", "scheme"), VIEWS)
def test_leaderboard_charts_are_readable_in_both_colour_schemes(app_server, browser, size, scheme):
    browser.set_window_size(*size)
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(
        llms,
        strong_weak("alpha", "beta") + strong_weak("beta", "gamma") + strong_weak("alpha", "gamma"),
        answer_stats={  # the cost page draws its charts from these
            "alpha": {"latency_ms": 1200, "cost": "0.004"},
            "beta": {"latency_ms": 400, "cost": "0.001"},
            "gamma": {"latency_ms": 900, "cost": "0.003"},
        },
    )
    make_user("chartlead", role="eval_lead", password="a-long-password")
    log_in(browser, app_server.url, "chartlead", "a-long-password")
    emulate(browser, scheme=scheme)
    for path in ("/leaderboard/", "/leaderboard/cost/"):
        browser.get(app_server.url + path)
        charts = browser.execute_script(CHART_COLOURS)
        assert charts["count"], f"{path}: no chart text to check"
        assert charts["worst"] >= 4.5, (path, charts)
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), path
