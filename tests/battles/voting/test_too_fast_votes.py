"""Too-fast votes (issue 12, point 10): the rule depends on what there was to read, a careful reader
is never flagged, and a voter who votes faster than anyone reads is asked to take their time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from battles.models import Battle, BattleTurn, Generation, Prompt
from battles.voting import serving, votes
from tests.factories import make_arena, make_generation, make_llm, make_prompt

pytestmark = pytest.mark.django_db

SHORT = "Yes: restart the worker after the deploy, then check the queue depth. " * 4  # 284 characters
LONG = "First drain the queue, then deploy, then restart the workers one at a time; watch the lag. " * 14


def _battle_with(voter, text_a: str, text_b: str) -> Battle:
    _, (alpha, beta), (prompt,) = make_arena(llms=("alpha", "beta"), prompts=1)
    prompt.generations.filter(llm_version__llm=alpha).update(text=text_a)
    prompt.generations.filter(llm_version__llm=beta).update(text=text_b)
    battle = serving.serve_battle(voter=voter).battle
    assert battle is not None
    return battle


def _served_seconds_ago(battle: Battle, seconds: float) -> None:
    Battle.objects.filter(pk=battle.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))


def test_a_reader_at_40_characters_a_second_of_the_longer_answer_is_not_flagged(voter):
    battle = _battle_with(voter, SHORT, LONG)
    _served_seconds_ago(battle, len(LONG) / 40)
    vote = votes.record_vote(battle_code=battle.code, voter=voter, outcome="b").vote
    assert not vote.flagged and vote.flags == []


def test_the_same_time_on_two_long_answers_is_still_enough(voter):
    battle = _battle_with(voter, LONG, LONG)
    _served_seconds_ago(battle, len(LONG) / 40)
    assert not votes.record_vote(battle_code=battle.code, voter=voter, outcome="tie").vote.flagged


def test_a_few_seconds_on_two_long_answers_is_too_fast(voter):
    battle = _battle_with(voter, LONG, LONG)
    _served_seconds_ago(battle, 4)
    assert votes.record_vote(battle_code=battle.code, voter=voter, outcome="a").vote.flags == ["too_fast"]


def test_a_few_seconds_on_two_short_answers_is_enough(voter):
    battle = _battle_with(voter, "Paris.", "It is Paris, on the Seine.")
    _served_seconds_ago(battle, 2)
    assert not votes.record_vote(battle_code=battle.code, voter=voter, outcome="a").vote.flagged


def _live_battle(voter, turns: list[tuple[str, str]]) -> Battle:
    alpha, beta = make_llm("alpha"), make_llm("beta")
    long_ago = timezone.now() - timedelta(minutes=10)
    battle: Battle | None = None
    for number, (text_a, text_b) in enumerate(turns, start=1):
        prompt = make_prompt(None, f"Live question {number}", category="live")
        Prompt.objects.filter(pk=prompt.pk).update(hidden=True)
        answered_at = timezone.now() - timedelta(seconds=3) if number == len(turns) else long_ago
        a = make_generation(prompt, alpha, text=text_a, finished_at=answered_at)
        b = make_generation(prompt, beta, text=text_b, finished_at=answered_at)
        if battle is None:
            battle = Battle.objects.create(
                prompt=prompt,
                generation_a=a,
                generation_b=b,
                version_a=a.llm_version,
                version_b=b.llm_version,
                voter=voter,
                live=True,
            )
        BattleTurn.objects.create(battle=battle, number=number, prompt=prompt, generation_a=a, generation_b=b)
    assert battle is not None
    Battle.objects.filter(pk=battle.pk).update(created_at=long_ago)
    return battle


def test_a_live_battle_asks_time_for_its_last_turn_only(voter):
    # Two long first answers were read while the follow-up was written; the last pair is short.
    battle = _live_battle(voter, [(LONG, LONG), ("Yes, it is.", "No, it is not.")])
    assert Generation.objects.filter(status=Generation.Status.DONE).count() == 4
    vote = votes.record_vote(battle_code=battle.code, voter=voter, outcome="a").vote
    assert vote.live and not vote.flagged, vote.flags


def test_a_live_battle_voted_at_once_after_long_last_answers_is_too_fast(voter):
    battle = _live_battle(voter, [("Hi.", "Hello."), (LONG, LONG)])
    assert votes.record_vote(battle_code=battle.code, voter=voter, outcome="a").vote.flags == ["too_fast"]


def test_the_reveal_of_a_too_fast_vote_asks_to_take_time_and_says_nothing_of_exclusion(client, voter):
    make_arena()
    client.force_login(voter)
    battle = serving.serve_battle(voter=voter).battle
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"}, headers={"X-Arena-Fragment": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="take-your-time"' in page and "take a moment to read both answers" in page
    for word in ("exclud", "not count", "discard", "flag", "ignored"):
        assert word not in page.lower()
    # The battle's own page (Back, Reload, a vote without JavaScript) shows the same reveal.
    assert 'id="take-your-time"' in client.get(f"/battle/{battle.code}/").content.decode()


def test_the_reveal_of_a_careful_vote_has_no_such_message(client, voter):
    make_arena()
    client.force_login(voter)
    battle = serving.serve_battle(voter=voter).battle
    _served_seconds_ago(battle, 60)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"}, headers={"X-Arena-Fragment": "1"})
    assert response.status_code == 200 and "take-your-time" not in response.content.decode()
