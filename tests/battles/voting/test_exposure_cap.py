"""Blind-safe boosts (issue 12, point 9), in a running arena: a new LLM is boosted, never in more
than 1.5x its uniform share of any 20 consecutive battles of a voter, pool and live mixed."""

from __future__ import annotations

import pytest

from battles.core.exposure import exposure_cap
from battles.models import LLM, Battle
from ratings import services
from tests.factories import make_generation, make_llm, make_pool, make_prompt, make_user, open_battle_url
from tests.ratings.helpers import make_votes
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

SETTLED = ("anchor", "bolt", "cedar", "dune", "ember")


@pytest.fixture
def running_arena(fake_provider, settings):
    """Five LLMs with hundreds of votes each and a board; a pool they all answered."""
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12
    fake_provider.reset()
    url = fake_provider.base_url("openai")
    for name in SETTLED:
        make_llm(name, base_url=url, model_id=f"{name}-model")
    make_votes(dict.fromkeys(SETTLED, 1000.0), per_pair=60)
    services.compute_snapshot()
    pool = make_pool()
    prompts = [make_prompt(pool, f"Question {i}: what is {i} squared?") for i in range(90)]
    for prompt in prompts:
        for llm in LLM.objects.all():
            make_generation(prompt, llm)
    return prompts, url


def _pool_battle(client) -> Battle:
    battle = Battle.objects.get(code=open_battle_url(client).split("/")[2])
    assert not battle.live
    return battle


def _live_battle(client, n: int) -> Battle:
    response = client.post("/live/", {"prompt": f"My own question number {n}?"})
    assert response.status_code == 302, response.content[:300]
    return Battle.objects.get(code=response["Location"].split("/")[2])


def test_a_new_llm_is_boosted_within_the_cap_across_pool_and_live_battles(client, running_arena):
    prompts, url = running_arena
    newcomer = make_llm("newcomer", base_url=url, model_id="newcomer-model")
    for prompt in prompts:
        make_generation(prompt, newcomer)
    voter = make_user("reader")
    client.force_login(voter)
    for n in range(64):
        battle = _live_battle(client, n) if n % 4 == 3 else _pool_battle(client)
        response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"}, headers={"X-Arena-Fragment": "1"})
        assert response.status_code == 200, response.content[:300]

    served = list(
        Battle.objects.filter(voter=voter).order_by("created_at", "pk").select_related("version_a", "version_b")
    )
    assert len(served) == 64 and sum(b.live for b in served) == 16
    llms = [{b.version_a.llm_id, b.version_b.llm_id} for b in served]
    cap = exposure_cap(6)
    for start in range(len(served) - 20 + 1):
        window = llms[start : start + 20]
        for llm in LLM.objects.all():
            assert sum(llm.pk in pair for pair in window) <= cap, (
                f"{llm.name} over the cap in battles {start}–{start + 19}"
            )
    # The boost still works within the cap: the newcomer is well above its uniform share (2/6 of battles).
    assert sum(newcomer.pk in pair for pair in llms) >= 0.4 * len(llms)
