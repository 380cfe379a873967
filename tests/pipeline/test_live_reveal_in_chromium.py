"""A live battle's answers are released together and shown progressively at the same pace on both sides
(issue 12, point 8), through daphne, a real Celery worker and the fake provider, in headless Chromium.

While both models write, the page shows the time waited. When both answers are complete, both appear
in the same frame and grow by the same number of characters until each is shown in full: at any moment
both sides show the same count, unless one is already complete. With prefers-reduced-motion both
appear in full at once. A live region announces the news.
"""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from selenium.webdriver.common.by import By

from tests.factories import make_llm, make_user
from tests.support.accessibility import SIZES, emulate
from tests.support.browser import browser, log_in, wait  # noqa: F401  (fixture)

pytestmark = [pytest.mark.pipeline, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Characters shown on each side now (the copy buttons are the page's, not the answer's), and their total
# once revealed; read in one script so both sides are measured in the same instant.
SHOWN = """
const sides = [...document.querySelectorAll('#battle-panel .answers[data-turn="' + arguments[0] + '"] .md')];
return {
  shown: sides.map(md => {
    const copy = md.cloneNode(true);
    copy.querySelectorAll('.copy-code').forEach(b => b.remove());
    return copy.textContent.length;
  }),
  revealing: !!document.querySelector('[data-revealing]'),
};
"""


def _voter():
    voter = make_user("revealvoter")
    # The tests hash with MD5 for speed; daphne runs the real settings, so store a hash it knows.
    voter.password = PBKDF2PasswordHasher().encode("a-long-password", PBKDF2PasswordHasher().salt())
    voter.save(update_fields=["password"])


def _samples_until_revealed(driver, turn: int) -> list[dict]:
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'#battle-panel .answers[data-turn="{turn}"]'), timeout=60)
    samples = []
    for _ in range(2000):
        sample = driver.execute_script(SHOWN, turn)
        samples.append(sample)
        if not sample["revealing"]:
            break
    return samples


@pytest.mark.parametrize("size", [pytest.param(size, id=name) for name, size in SIZES.items()])
def test_live_answers_are_released_together_and_revealed_at_the_same_pace(
    daphne_server, celery_worker_process, fake_provider, browser, size
):
    browser.set_window_size(*size)
    fake_provider.reset()
    fake_provider.configure(latency=2.5, tokens_per_second=0)
    for name, kind in (("revealowl", "openai"), ("revealfox", "anthropic")):
        make_llm(name, provider=kind, base_url=fake_provider.base_url(kind), model_id=f"{name}-id")
    _voter()
    log_in(browser, daphne_server.url, "revealvoter", "a-long-password")
    browser.get(f"{daphne_server.url}/live/")
    wait(browser, lambda d: d.find_elements(By.NAME, "prompt"))
    browser.find_element(By.NAME, "prompt").send_keys("Explain how a hash map handles collisions, with an example.")
    browser.find_element(By.CSS_SELECTOR, ".live-form button[type=submit]").click()

    # Waiting: both sides writing, and a clock that moves.
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".waiting-status [data-elapsed]"), timeout=20)
    # Read through wait(): a push can replace the status between finding it and reading it.
    wait(browser, lambda d: "Both models are writing" in d.find_element(By.CSS_SELECTOR, ".waiting-status").text)
    wait(browser, lambda d: "writing" in d.find_element(By.ID, "live-announcer").get_attribute("textContent"))

    samples = _samples_until_revealed(browser, 1)
    final = samples[-1]["shown"]
    assert not samples[-1]["revealing"] and min(final) > 0, samples[-1]
    partial = [s["shown"] for s in samples if s["revealing"]]
    # It was progressive: seen part-way, on both sides at once, more than once.
    assert sum(1 for a, b in partial if 0 < a < final[0] and 0 < b < final[1]) >= 3, (final, partial[:20])
    for a, b in partial:
        if a < final[0] and b < final[1]:
            assert a == b, f"one side ran ahead: {a} vs {b} (totals {final})"
        else:  # one side is complete; the other goes on at the same count
            assert max(a, b) <= max(final), (a, b, final)
    wait(browser, lambda d: "ready" in d.find_element(By.ID, "live-announcer").get_attribute("textContent"))
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    # With reduced motion, a follow-up's answers appear in full at once.
    emulate(browser, reduced_motion=True)
    browser.find_element(By.CSS_SELECTOR, "#follow-up-form textarea[name=prompt]").send_keys("Now in one sentence.")
    browser.find_element(By.CSS_SELECTOR, "#follow-up-form button[type=submit]").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".answers.waiting"), timeout=20)
    samples = _samples_until_revealed(browser, 2)
    assert len(samples) == 1 and min(samples[0]["shown"]) > 0, samples
