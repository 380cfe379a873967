"""Quotas on live battles: each one calls two paid models, so a voter holds a few and starts a few a day."""

from datetime import timedelta

import pytest
from django.utils import timezone

from battles.models import Battle, BattleTurn
from battles.voting import live
from tests.factories import make_llm
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_llms(fake_provider):
    fake_provider.reset()
    return [
        make_llm(name, provider="openai", base_url=fake_provider.base_url("openai"), model_id=f"{name}-model")
        for name in ("quota-a", "quota-b", "quota-c")
    ]


def test_a_voter_holding_the_most_open_live_battles_is_asked_to_finish_one_first(client, voter, live_llms, settings):
    settings.ARENA_LIVE_MAX_OPEN = 3
    client.force_login(voter)
    for n in range(3):
        assert client.post("/live/", {"prompt": f"Question {n}?"}).status_code == 302
    refused = client.post("/live/", {"prompt": "A fourth question?"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "You have 3 live battles waiting for your vote" in page
    assert Battle.objects.filter(live=True).count() == 3
    oldest = Battle.objects.filter(live=True).order_by("created_at").first()
    assert page.count("Set aside") == 3 and f"/live/{oldest.code}/" in page
    assert client.post(f"/battle/{oldest.code}/skip/")["Location"] == "/live/"
    oldest.refresh_from_db()
    assert oldest.status == Battle.Status.SKIPPED  # set aside, not deleted
    assert client.post("/live/", {"prompt": "A fourth question?"}).status_code == 302


def test_live_starts_per_day_are_capped_and_yesterdays_do_not_count(client, voter, live_llms, settings):
    settings.ARENA_LIVE_MAX_OPEN = 10
    settings.ARENA_LIVE_DAILY_CAP = 2
    client.force_login(voter)
    for n in range(2):
        assert client.post("/live/", {"prompt": f"Question {n}?"}).status_code == 302
    refused = client.post("/live/", {"prompt": "One more?"})
    assert refused.status_code == 400 and "the daily limit" in refused.content.decode()
    Battle.objects.update(created_at=timezone.now() - timedelta(days=1))
    assert client.post("/live/", {"prompt": "One more?"}).status_code == 302


def test_a_follow_up_that_would_send_too_long_a_conversation_is_refused(voter, live_llms, settings):
    battle = live.start_live_battle(voter=voter, text="Explain TCP slow start.")
    turn = battle.turns.get()
    sent = len(turn.prompt.text) + max(len(turn.generation_a.text), len(turn.generation_b.text))
    settings.ARENA_LIVE_MAX_CONVERSATION_CHARS = sent + len("Shorter?")
    live.add_follow_up(battle_code=battle.code, voter=voter, text="Shorter?")  # exactly at the cap: sent
    with pytest.raises(live.LiveBattleError, match="too long to send again"):
        live.add_follow_up(battle_code=battle.code, voter=voter, text="And shorter still?")
    assert BattleTurn.objects.filter(battle=battle).count() == 2
