"""A live battle in headless Chromium, with every real component in between.

The browser talks to daphne (the ASGI server that serves websockets in production) running
the project's ASGI application; daphne enqueues generations on Redis for a real Celery worker,
which calls the fake provider over HTTP and announces finished answers on the Redis channel
layer, from which daphne pushes the panel down the websocket. Nothing is mocked.
"""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from battles.models import Battle, Vote
from tests.factories import make_llm, make_user
from tests.support.browser import browser, csp_violations, log_in, wait, watch_csp_violations  # noqa: F401  (fixture)

pytestmark = [pytest.mark.pipeline, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANARIES = ("canarykestrel", "canarymarmot")


def test_live_battle_with_a_follow_up_voted_by_keyboard(daphne_server, celery_worker_process, fake_provider, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    fake_provider.reset()
    fake_provider.configure(latency=0.8, tokens_per_second=300)
    for name, kind in zip(CANARIES, ("openai", "anthropic")):
        make_llm(name, provider=kind, base_url=fake_provider.base_url(kind), model_id=f"{name}-id")
    voter = make_user("livevoter")
    # The tests hash with MD5 for speed; daphne runs the real settings, so store a hash it knows.
    voter.password = PBKDF2PasswordHasher().encode("a-long-password", PBKDF2PasswordHasher().salt())
    voter.save(update_fields=["password"])

    def diagnostics() -> str:
        battles = [
            (b.code, b.status, [(t.generation_a.status, t.generation_b.status) for t in b.turns.all()])
            for b in Battle.objects.all()
        ]
        return (
            f"battles: {battles}\ndaphne log:\n{daphne_server.log_path.read_text()[-3000:]}\n"
            f"worker log:\n{celery_worker_process.output()[-3000:]}"
        )

    def panel_ready(turns: int):
        try:
            wait(
                browser,
                lambda d: (
                    d.find_elements(By.ID, "vote-form")
                    and len(d.find_elements(By.CSS_SELECTOR, "#battle-panel .answers:not(.waiting)")) == turns
                ),
                timeout=60,
            )
        except Exception as exc:
            raise AssertionError(f"the answers of turn {turns} never arrived ({exc!r})\n{diagnostics()}") from exc

    log_in(browser, daphne_server.url, "livevoter", "a-long-password")
    watch_csp_violations(browser)  # the answers stream over a websocket under the page's policy
    browser.get(f"{daphne_server.url}/live/")
    wait(browser, lambda d: d.find_elements(By.NAME, "prompt"))
    browser.find_element(By.NAME, "prompt").send_keys("Suggest three names for a code review bot.")
    browser.find_element(By.CSS_SELECTOR, ".live-form button[type=submit]").click()

    # The page opens while both models are writing, and the answers arrive over the websocket.
    wait(browser, lambda d: "/live/" in d.current_url and d.current_url.rstrip("/") != f"{daphne_server.url}/live")
    panel_ready(turns=1)
    page = browser.page_source.lower()
    assert not any(canary in page for canary in CANARIES), "a model name reached the page before the vote"
    answers = browser.find_elements(By.CSS_SELECTOR, "#battle-panel .answer .md")
    assert len(answers) == 2 and all(a.text.strip() for a in answers)

    # A follow-up goes to both models; voting waits for both answers again.
    follow_up = browser.find_element(By.CSS_SELECTOR, "#follow-up-form textarea[name=prompt]")
    follow_up.send_keys("Make them shorter.")
    browser.find_element(By.CSS_SELECTOR, "#follow-up-form button[type=submit]").click()
    panel_ready(turns=2)
    page = browser.page_source.lower()
    assert "follow-up 1" in page and "make them shorter." in page
    assert not any(canary in page for canary in CANARIES), "a model name reached the page before the vote"

    # Vote for A with the keyboard, confirm, and see both names revealed.
    browser.find_element(By.TAG_NAME, "body").send_keys("1")
    wait(browser, lambda d: d.find_element(By.ID, "reasons").is_displayed())
    browser.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda d: d.find_elements(By.ID, "next-battle"), timeout=20)
    revealed = browser.find_element(By.ID, "battle-panel").text.lower()
    assert all(canary in revealed for canary in CANARIES), revealed

    assert csp_violations(browser) == []
    vote = Vote.objects.get()
    assert vote.outcome == "a" and vote.live and vote.battle.live
    assert vote.battle.turns.count() == 2
