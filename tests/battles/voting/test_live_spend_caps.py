"""Live battles never call an LLM at its monthly spend cap, and say so without naming it."""

from decimal import Decimal

import pytest
from django.utils import timezone

from battles.models import LLM, Battle
from tests.factories import make_generation, make_llm, make_pool, make_prompt
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_llms(fake_provider):
    fake_provider.reset()
    return [
        make_llm(name, provider="openai", base_url=fake_provider.base_url("openai"), model_id=f"{name}-model")
        for name in ("cap-a", "cap-b", "cap-c")
    ]


def spend_out(llm):
    LLM.objects.filter(pk=llm.pk).update(monthly_spend_cap=Decimal("1"))
    make_generation(make_prompt(make_pool()), llm, cost=Decimal("1"), finished_at=timezone.now())


def test_live_battles_choose_only_llms_within_their_budget(client, voter, live_llms, settings):
    settings.ARENA_LIVE_MAX_OPEN = settings.ARENA_LIVE_DAILY_CAP = 20
    spend_out(live_llms[0])
    client.force_login(voter)
    for n in range(8):
        assert client.post("/live/", {"prompt": f"Question {n}?"}).status_code == 302
    used = set()
    for battle in Battle.objects.filter(live=True):
        used |= {battle.version_a.llm.name, battle.version_b.llm.name}
    assert used == {"cap-b", "cap-c"}


def test_with_too_few_llms_within_budget_the_voter_is_told_and_nothing_is_called(
    client, voter, live_llms, fake_provider
):
    spend_out(live_llms[0])
    spend_out(live_llms[1])
    client.force_login(voter)
    refused = client.post("/live/", {"prompt": "Anyone there?"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "Live battles are paused: too few models are within this month&#x27;s spending budget" in page
    assert not any(name in page for name in ("cap-a", "cap-b", "cap-c"))
    assert not Battle.objects.exists()
    assert fake_provider.stats()["requests"] == {}


def test_a_follow_up_to_a_model_at_its_cap_is_refused_without_saying_which(client, voter, live_llms):
    client.force_login(voter)
    assert client.post("/live/", {"prompt": "First question?"}).status_code == 302
    battle = Battle.objects.get()
    for generation in (battle.generation_a, battle.generation_b):
        type(generation).objects.filter(pk=generation.pk).update(status="done", text="An answer.")
    spend_out(battle.version_b.llm)
    response = client.post(f"/live/{battle.code}/follow-up/", {"prompt": "And then?"}, follow=True)
    page = response.content.decode()
    assert "A model in this battle has used up this month&#x27;s spending budget" in page
    assert battle.turns.count() == 1
    assert battle.version_b.llm.name not in page and battle.version_a.llm.name not in page
