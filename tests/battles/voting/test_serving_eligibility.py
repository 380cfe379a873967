"""A new battle is chosen on the eligibility each process keeps, but never serves what the database no longer does.

The kept eligibility (``battles.voting.eligibility``) may be seconds stale; these tests fill it,
change the database under it, and check what a voter is served.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from battles.catalog import llms
from battles.core.exposure import WINDOW
from battles.models import Battle, Prompt
from battles.voting import eligibility, serving, votes
from tests.factories import make_arena, make_generation, make_llm, make_pool, make_prompt, make_user

pytestmark = pytest.mark.django_db


def _serve_all(voter, category=None) -> list[Battle]:
    """Every battle the voter is served, voting on each, until nothing is left."""
    served = []
    while (battle := serving.serve_battle(voter=voter, category=category).battle) is not None:
        served.append(battle)
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="tie")
        assert len(served) < 100, "the same battle served again and again"
    return served


def test_a_prompt_hidden_after_the_eligibility_was_kept_is_never_served(voter):
    _, _, prompts = make_arena(prompts=4)
    eligibility.current()
    hidden = [p.pk for p in prompts[:3]]
    Prompt.objects.filter(pk__in=hidden).update(hidden=True)
    served = _serve_all(voter)
    assert [b.prompt_id for b in served] == [prompts[3].pk]
    assert hidden[0] not in eligibility.current().prompts[eligibility.ANY_CATEGORY][served[0].version_a_id]


def test_an_llm_retired_after_the_eligibility_was_kept_is_never_served(voter):
    _, (alpha, beta, gamma), prompts = make_arena(prompts=6)
    eligibility.current()
    llms.retire_or_delete_llm(llm=gamma)
    served = _serve_all(voter)
    assert len(served) == len(prompts)
    assert all({b.version_a.llm_id, b.version_b.llm_id} == {alpha.pk, beta.pk} for b in served)


def test_the_last_prompt_hidden_after_the_eligibility_was_kept_leaves_nothing(voter):
    _, _, (prompt,) = make_arena(prompts=1)
    eligibility.current()
    Prompt.objects.filter(pk=prompt.pk).update(hidden=True)
    assert serving.serve_battle(voter=voter).battle is None


def test_a_prompt_moved_to_another_category_after_the_eligibility_was_kept_is_not_served_in_the_old_one(voter):
    _, _, prompts = make_arena(prompts=3)
    eligibility.current()
    Prompt.objects.filter(pk__in=[p.pk for p in prompts[:2]]).update(category="reasoning")
    served = _serve_all(voter, category="writing")
    assert [b.prompt_id for b in served] == [prompts[2].pk]


def test_a_voter_is_never_served_a_prompt_they_battled_on_skipped_or_in_another_process(voter):
    _, (alpha, beta, _gamma), prompts = make_arena(prompts=6)
    eligibility.current()
    # A battle created elsewhere (another worker) after this process kept its eligibility.
    elsewhere = Battle.objects.create(
        prompt=prompts[0],
        generation_a=prompts[0].generations.get(llm_version__llm=alpha),
        generation_b=prompts[0].generations.get(llm_version__llm=beta),
        version_a=alpha.current_version(),
        version_b=beta.current_version(),
        voter=voter,
        status=Battle.Status.VOTED,
    )
    served = []
    while (battle := serving.serve_battle(voter=voter).battle) is not None:
        served.append(battle.prompt_id)
        serving.skip_battle(battle_code=battle.code, voter=voter)
        assert len(served) < 100
    assert sorted(served) == sorted(p.pk for p in prompts if p.pk != elsewhere.prompt_id)


def test_the_category_filter_serves_only_that_category_and_then_nothing():
    pool = make_pool()
    models = [make_llm(name) for name in ("alpha", "beta", "gamma")]
    by_category: dict[str, list[int]] = {"reasoning": [], "writing": []}
    for category, count in (("reasoning", 3), ("writing", 2)):
        for n in range(count):
            prompt = make_prompt(pool, f"A {category} question, number {n}.", category=category)
            by_category[category].append(prompt.pk)
            for llm in models:
                make_generation(prompt, llm)
    voter = make_user("categorical", role="voter")
    reasoning = _serve_all(voter, category="reasoning")
    assert sorted(b.prompt_id for b in reasoning) == sorted(by_category["reasoning"])
    assert serving.serve_battle(voter=voter, category="reasoning").battle is None
    assert serving.serve_battle(voter=voter, category="no-such-category").battle is None
    writing = _serve_all(voter)
    assert sorted(b.prompt_id for b in writing) == sorted(by_category["writing"])
    assert serving.serve_battle(voter=voter).battle is None


def test_nothing_left_when_no_two_llms_answered_a_prompt_the_voter_has_not_seen(voter):
    assert serving.serve_battle(voter=voter).battle is None
    pool = make_pool()
    alpha, beta = make_llm("alpha"), make_llm("beta")
    # Each LLM answered a different prompt: no prompt is shared.
    make_generation(make_prompt(pool, "Only alpha answered this."), alpha)
    make_generation(make_prompt(pool, "Only beta answered this."), beta)
    eligibility.current.clear()
    assert serving.serve_battle(voter=voter).battle is None


def _battle(voter, prompt, first, second, **fields) -> Battle:
    return Battle.objects.create(
        prompt=prompt,
        generation_a=prompt.generations.get(llm_version=first),
        generation_b=prompt.generations.get(llm_version=second),
        version_a=first,
        version_b=second,
        voter=voter,
        **fields,
    )


def test_recent_battles_are_the_last_window_and_the_open_pool_battle_newest_first(voter):
    _, (alpha, beta, _gamma), prompts = make_arena(prompts=WINDOW + 5)
    first, second = alpha.current_version(), beta.current_version()
    opened = _battle(voter, prompts[0], first, second)
    later = [_battle(voter, p, first, second, status=Battle.Status.VOTED) for p in prompts[1:]]
    for n, battle in enumerate([opened, *later]):
        Battle.objects.filter(pk=battle.pk).update(created_at=timezone.now() - timedelta(minutes=100 - n))
    recent = serving.recent_battles(voter)
    assert [b.pk for b in recent] == [b.pk for b in reversed(later)][:WINDOW] + [opened.pk]
    assert serving.current_battle(voter=voter, recent=recent) == opened
    assert serving.recent_pairs(recent) == [(alpha.pk, beta.pk)] * WINDOW


def test_a_version_newer_than_the_kept_table_of_versions_is_counted_under_its_llm(voter):
    _, (alpha, beta, _gamma), _ = make_arena(prompts=1)
    assert serving.recent_pairs(serving.recent_battles(voter)) == []  # keeps the table of versions
    newer = llms.update_llm_settings(llm=alpha, temperature=0.3)
    prompt = make_prompt(make_pool(), "A question for the newer version.")
    make_generation(prompt, alpha)
    make_generation(prompt, beta)
    _battle(voter, prompt, newer, beta.current_version())
    assert serving.recent_pairs(serving.recent_battles(voter)) == [(alpha.pk, beta.pk)]
