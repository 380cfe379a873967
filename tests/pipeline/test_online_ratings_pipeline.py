"""Online Elo/TrueSkill applied by a real worker, off the vote request: in vote order, once per vote."""

from __future__ import annotations

import pytest

from battles.models import Battle, Vote
from ratings.engine import VoteLog, online_elo
from ratings.models import OnlineRating, OnlineRatingWatermark
from tests.factories import make_arena, make_user, open_battle_url
from tests.pipeline.test_generation_pipeline import wait_until

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def test_the_worker_applies_every_vote_once_in_vote_order(celery_worker_process, client, settings):
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12
    make_arena(llms=("first", "second", "third", "fourth"), prompts=8)
    for n in range(2):
        client.force_login(make_user(f"pipeline-voter-{n}"))
        for i in range(8):
            code = open_battle_url(client).split("/")[2]
            outcome = ("a", "b", "tie", "both_bad")[i % 4]
            response = client.post(f"/battle/{code}/vote/", {"outcome": outcome}, headers={"X-Arena-Fragment": "1"})
            assert response.status_code == 200
    assert Battle.objects.filter(status=Battle.Status.VOTED).count() == 16
    last = Vote.objects.latest("pk").pk
    wait_until(
        lambda: OnlineRatingWatermark.objects.filter(last_vote_id=last).exists(),
        timeout=30,
        message="the worker to apply the online ratings",
    )
    wait_until(celery_worker_process.idle, timeout=30, message="the worker to have nothing left to run")
    ordered = list(Vote.objects.order_by("pk").select_related("version_a__llm", "version_b__llm"))
    replay = online_elo(
        VoteLog.from_votes(
            [v.version_a.llm.name for v in ordered],
            [v.version_b.llm.name for v in ordered],
            [v.outcome for v in ordered],
        ),
        k=settings.ARENA_ELO_K,
    )
    applied = {r.llm_version.llm.name: r.elo for r in OnlineRating.objects.select_related("llm_version__llm")}
    assert applied == pytest.approx(replay)
    assert sum(r.votes for r in OnlineRating.objects.all()) == 2 * len(ordered)
