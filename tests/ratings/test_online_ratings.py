"""Online Elo/TrueSkill: applied off the vote request, in batches, in vote order, exactly once per vote."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from battles.models import Vote
from battles.voting import serving, votes
from ratings import online, tasks
from ratings.engine import VoteLog, online_elo
from ratings.models import OnlineRating, OnlineRatingWatermark
from tests.factories import make_arena, make_llm, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _votes(outcomes, **fields) -> list[Vote]:
    alpha, beta = make_llm("alpha").current_version(), make_llm("beta").current_version()
    return [Vote.objects.create(outcome=o, version_a=alpha, version_b=beta, **fields) for o in outcomes]


def _elo() -> dict[str, float]:
    return {r.llm_version.llm.name: r.elo for r in OnlineRating.objects.select_related("llm_version__llm")}


def test_a_batch_applies_votes_in_vote_order_like_a_replay(settings):
    outcomes = ["a", "a", "b", "tie", "a", "both_bad", "b", "a"]
    _votes(outcomes)
    progress = online.apply_pending(batch_size=3, settle_seconds=0)
    assert progress.applied == len(outcomes) and not progress.waiting
    replay = online_elo(VoteLog.from_votes(["alpha"] * 8, ["beta"] * 8, outcomes), k=settings.ARENA_ELO_K)
    assert _elo() == pytest.approx(replay)
    assert sum(r.votes for r in OnlineRating.objects.all()) == 16


def test_a_vote_is_applied_once_however_often_the_task_runs():
    _votes(["a", "a"])
    online.apply_pending(settle_seconds=0)
    before = _elo()
    assert online.apply_pending(settle_seconds=0).applied == 0
    tasks.apply_online_ratings.apply()
    assert _elo() == before
    assert OnlineRatingWatermark.objects.get().last_vote_id == Vote.objects.latest("pk").pk


def test_insider_and_flagged_votes_move_nothing_but_are_passed():
    (insider,) = _votes(["a"], insider=True)
    pair = {"version_a_id": insider.version_a_id, "version_b_id": insider.version_b_id}
    Vote.objects.create(outcome="a", flagged=True, **pair)
    assert online.apply_pending(settle_seconds=0).applied == 2
    assert OnlineRating.objects.count() == 0


def test_imported_votes_count_and_an_import_replays_every_vote_in_timestamp_order(settings):
    """Issue 14: Elo and TrueSkill include imported votes, in the order of their timestamps."""
    (live,) = _votes(["b"])  # cast now
    online.apply_pending(settle_seconds=0)
    pair = {"version_a_id": live.version_a_id, "version_b_id": live.version_b_id}
    long_ago = timezone.now() - datetime.timedelta(days=30)
    for outcome in ("a", "a", "a"):  # imported later, but cast a month earlier
        Vote.objects.create(outcome=outcome, imported=True, created_at=long_ago, **pair)

    tasks.rebuild_vote_counts.apply(args=("import",))

    in_time_order = ["a", "a", "a", "b"]
    replay = online_elo(VoteLog.from_votes(["alpha"] * 4, ["beta"] * 4, in_time_order), k=settings.ARENA_ELO_K)
    assert _elo() == pytest.approx(replay)
    in_id_order = online_elo(
        VoteLog.from_votes(["alpha"] * 4, ["beta"] * 4, ["b", "a", "a", "a"]), k=settings.ARENA_ELO_K
    )
    assert _elo() != pytest.approx(in_id_order)
    assert sum(r.votes for r in OnlineRating.objects.all()) == 8
    assert online.apply_pending(settle_seconds=0).applied == 0  # nothing counts twice afterwards


def test_votes_after_a_gap_in_the_ids_wait_until_the_gap_has_settled():
    first, second, third = _votes(["a", "a", "a"])
    online.apply_pending(settle_seconds=0)  # the watermark now sits past all three
    OnlineRatingWatermark.objects.update(last_vote_id=first.pk)
    # The second vote "has not committed yet": the third waits behind the gap while it is young.
    Vote.objects.filter(pk=second.pk).delete()
    OnlineRating.objects.all().delete()
    progress = online.apply_pending(settle_seconds=60)
    assert progress.applied == 0 and progress.waiting
    Vote.objects.filter(pk=third.pk).update(created_at=timezone.now() - datetime.timedelta(seconds=61))
    progress = online.apply_pending(settle_seconds=60)
    assert progress.applied == 1 and not progress.waiting
    assert OnlineRatingWatermark.objects.get().last_vote_id == third.pk


def test_a_vote_recorded_through_the_service_reaches_the_online_ratings_through_the_task(settings):
    # Eager Celery (embedded mode): the task runs in-process once the vote has committed.
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12
    make_arena(llms=("alpha", "beta"), prompts=2)
    voter = make_user("v")
    battle = serving.serve_battle(voter=voter).battle
    votes.record_vote(battle_code=battle.code, voter=voter, outcome="a")
    winner = battle.generation_a.llm_version.llm.name
    assert _elo()[winner] > 1000
