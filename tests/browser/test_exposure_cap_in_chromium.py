"""Issue 12, point 9, in Chromium: after an admin adds a new LLM to a running arena, a voter who votes
through battle after battle never sees it (or any LLM) in more than 1.5x its uniform share of any 20
consecutive battles, and still sees it boosted within that cap."""

from __future__ import annotations

import pytest

from battles.core.exposure import exposure_cap
from battles.models import LLM, Battle
from tests.battles.voting.test_exposure_cap import running_arena  # noqa: F401  (fixture)
from tests.factories import make_generation, make_llm, make_user
from tests.support.browser import app_server, browser, log_in, wait  # noqa: F401  (fixtures)
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BATTLES = 26


def test_a_new_llm_stays_within_the_cap_for_a_voter_in_the_browser(app_server, browser, running_arena):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    prompts, url = running_arena
    newcomer = make_llm("newcomer", base_url=url, model_id="newcomer-model")
    for prompt in prompts:
        make_generation(prompt, newcomer)
    make_user("steady", password="a-long-password")
    log_in(browser, app_server.url, "steady", "a-long-password")

    for number in range(1, BATTLES + 1):
        browser.get(f"{app_server.url}/")
        wait(browser, lambda d: d.find_elements(By.ID, "vote-form"))
        assert "newcomer" not in browser.page_source.lower(), "a model name reached the page before the vote"
        browser.find_element(By.TAG_NAME, "body").send_keys("3")
        wait(browser, lambda d: d.find_element(By.ID, "reasons").is_displayed())
        browser.switch_to.active_element.send_keys(Keys.CONTROL, Keys.ENTER)
        wait(browser, lambda d: d.find_elements(By.ID, "next-battle"))
        assert Battle.objects.filter(voter__username="steady", status=Battle.Status.VOTED).count() == number

    served = list(
        Battle.objects.filter(voter__username="steady")
        .order_by("created_at", "pk")
        .select_related("version_a", "version_b")
    )
    pairs = [{b.version_a.llm_id, b.version_b.llm_id} for b in served]
    cap = exposure_cap(LLM.objects.count())  # every LLM here is active and serves this voter
    for start in range(len(pairs) - 20 + 1):
        for llm in LLM.objects.all():
            seen = sum(llm.pk in pair for pair in pairs[start : start + 20])
            assert seen <= cap, f"{llm.name} in {seen} of battles {start + 1}–{start + 20} (cap {cap})"
    uniform_share = 2 / LLM.objects.count()
    assert sum(newcomer.pk in pair for pair in pairs) > 1.2 * uniform_share * len(pairs), "the boost still works"
