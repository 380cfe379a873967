"""The living demo (issue 12, point 11): ``load_demo`` writes a realistic, deterministic history that
every eval-lead page can show at once, runs again without duplicating anything, and follows the
fake provider to another port."""

import datetime as dt
import socket

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from battles.demo import history, loading, seed
from battles.models import LLM, Battle, Generation, Prompt, PromptPool, Vote
from ratings.benchmarks.services import compare
from ratings.models import Benchmark, OnlineRating, RatingSnapshot

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load(port=None):
    return loading.load_demo(port=port or free_port(), with_users=True, with_history=True, say=lambda line: None)


def fingerprint() -> list[tuple]:
    """The history as data, without ids and with dates as offsets from its first day."""
    votes = list(
        Vote.objects.select_related("voter", "battle__prompt", "version_a__llm", "version_b__llm").order_by(
            "voter__username", "battle__prompt__external_id"
        )
    )
    first = min(v.created_at for v in votes)
    return [
        (
            v.voter.username if v.voter else "",
            v.battle.prompt.external_id if v.battle else "",
            v.version_a.llm.name,
            v.version_b.llm.name,
            v.outcome,
            tuple(v.reasons_a),
            tuple(v.reasons_b),
            v.comment,
            v.flags == ["too_fast"],
            round((v.created_at - first).total_seconds()),
        )
        for v in votes
    ]


def forget_history() -> None:
    """Remove the history's rows (the demo pool, LLMs and logins stay)."""
    Vote.objects.all().delete()
    Battle.objects.all().delete()
    pool = PromptPool.objects.get(name=history.HISTORY_POOL)
    Generation.objects.filter(prompt__pool=pool).delete()
    Prompt.objects.filter(pool=pool).delete()
    pool.delete()
    User.objects.filter(username__startswith="demo.").delete()


def test_the_demo_history_is_thousands_of_votes_by_a_dozen_voters_over_weeks(client):
    load()
    votes = Vote.objects.all()
    assert votes.count() >= 2000
    voters = set(votes.values_list("voter__username", flat=True))
    assert len({name for name in voters if name.startswith("demo.")}) == 12 and "demo" in voters
    span = votes.order_by("-created_at")[0].created_at - votes.order_by("created_at")[0].created_at
    assert span >= dt.timedelta(weeks=5)
    with_reasons = votes.exclude(reasons_a=[], reasons_b=[]).count()
    assert with_reasons > 0.25 * votes.count() and votes.exclude(comment="").count() > 0.05 * votes.count()
    assert 0 < votes.filter(flagged=True, flags=["too_fast"]).count() < 0.1 * votes.count()
    assert votes.filter(insider=True).exists()
    # Every battle is a complete record: its answers, its voter, a vote after it was served.
    battle = Battle.objects.select_related("vote", "generation_a", "generation_b").first()
    assert battle.generation_a.prompt_id == battle.generation_b.prompt_id == battle.prompt_id
    assert battle.created_at < battle.vote.created_at == battle.closed_at
    # Clearly demo data.
    assert all(pool.description.startswith("Demo data") for pool in PromptPool.objects.all())
    assert {b.name for b in Benchmark.objects.all()} == {
        "ReasonBench (demo)",
        "CodeEval-Lite (demo)",
        "Judge error rate (demo)",
    }
    # The demo login's past is on archived prompts: every prompt of the demo pool is still new to it.
    demo = User.objects.get(username="demo")
    assert votes.filter(voter=demo).count() == history.DEMO_LOGIN_VOTES
    assert not Battle.objects.filter(voter=demo, prompt__pool__name=seed.DEMO_POOL).exists()
    # Boards fitted at load: the default and style-controlled boards and one per category.
    scopes = set(RatingSnapshot.objects.values_list("scope", flat=True))
    assert len(scopes) >= 6
    assert OnlineRating.objects.filter(votes__gt=100).count() == 8
    # The vibes-gap case: granite-r1 tops a benchmark and is flagged against the voters' preference.
    report = compare()
    flagged = {(c.benchmark, row.model) for c in report.comparisons for row in c.flagged}
    assert ("ReasonBench (demo)", "granite-r1") in flagged
    # Pages open meaningful on first visit.
    client.force_login(User.objects.get(username="admin"))
    board = client.get("/leaderboard/").content.decode()
    assert board.count("/leaderboard/models/") >= 8 and "granite-r1" in board
    assert "granite-r1" in client.get("/benchmarks/").content.decode()
    for url in ("/leaderboard/history/", "/leaderboard/decision/", "/leaderboard/?category=coding"):
        assert client.get(url).status_code == 200
    client.force_login(demo)
    assert "ember-70b" in client.get("/me/").content.decode()
    new_battle = client.get("/")
    assert new_battle.status_code == 200 and b'id="vote-form"' in new_battle.content
    # Every answer's HTML was rendered at load (the worker's answers as stored, the history's by the task).
    assert not Generation.objects.filter(status=Generation.Status.DONE, html_key="").exists()
    # The voter's battles are on the demo prompts, between LLMs whose answers were written for them.
    served = Battle.objects.select_related("prompt__pool", "version_a__llm", "version_b__llm").get(
        voter=demo, status=Battle.Status.OPEN
    )
    hand_written = {demo_llm.name for demo_llm in seed.DEMO_LLMS[: seed.HAND_WRITTEN]}
    assert served.prompt.pool.name == seed.DEMO_POOL
    assert {served.version_a.llm.name, served.version_b.llm.name} <= hand_written


def test_load_demo_twice_duplicates_nothing_and_the_history_is_the_same_every_time():
    port = free_port()
    load(port)
    counts = (Vote.objects.count(), Generation.objects.count(), Prompt.objects.count(), User.objects.count())
    first = fingerprint()
    load(port)
    assert (Vote.objects.count(), Generation.objects.count(), Prompt.objects.count(), User.objects.count()) == counts
    forget_history()
    load(port)
    assert fingerprint() == first


def test_a_rerun_on_another_port_repoints_the_demo_llms():
    seed.load_pool_and_llms(port=18001)
    assert set(LLM.objects.values_list("base_url", flat=True)) == {
        "http://127.0.0.1:18001/v1",
        "http://127.0.0.1:18001",
    }
    seed.load_pool_and_llms(port=18002)
    assert all(":18002" in url for url in LLM.objects.values_list("base_url", flat=True))
    assert LLM.objects.count() == len(seed.DEMO_LLMS)
    assert seed.repoint_demo_llms(port=18003) == len(seed.DEMO_LLMS)
    assert seed.repoint_demo_llms(port=18003) == 0


def test_the_waiting_pool_has_prompts_and_no_answers_yet():
    pool = seed.load_waiting_pool()
    assert pool.prompts.count() == len(seed.WAITING_PROMPTS)
    assert not Generation.objects.filter(prompt__pool=pool).exists()


def test_load_demo_refuses_demo_logins_and_votes_on_a_real_database():
    with pytest.raises(CommandError, match="--no-users"):
        call_command("load_demo")
