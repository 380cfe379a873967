import numpy as np
import pytest

from battles.models import Vote
from ratings import quality, services, tasks
from ratings.models import VoterCheck
from tests.factories import make_llm, make_user

pytestmark = pytest.mark.django_db


def _votes(contrarian_votes=60, honest=20, each=40, seed=0):
    rng = np.random.default_rng(seed)
    llms = [make_llm(f"q{i}") for i in range(4)]
    versions = [llm.current_version() for llm in llms]
    strength = {v.pk: 4 - i for i, v in enumerate(versions)}
    rows = []
    voters = [make_user(f"honest{i}") for i in range(honest)]
    contrarian = make_user("contrarian")
    for voter, count in [(v, each) for v in voters] + [(contrarian, contrarian_votes)]:
        for _ in range(count):
            a, b = rng.choice(versions, 2, replace=False)
            better_a = strength[a.pk] > strength[b.pk]
            if voter == contrarian:
                outcome = "b" if better_a else "a"
            else:
                outcome = ("a" if better_a else "b") if rng.random() < 0.8 else ("b" if better_a else "a")
            rows.append(Vote(voter=voter, version_a=a, version_b=b, outcome=outcome))
    rng.shuffle(rows)
    Vote.objects.bulk_create(rows)
    return contrarian


def test_contrarian_voter_is_flagged_and_their_votes_leave_the_board():
    contrarian = _votes()
    before = services.compute_snapshot().vote_count
    flagged = quality.detect_outlier_voters()
    assert [c.voter_id for c in flagged] == [contrarian.pk]
    assert all("outlier_voter" in v.flags and v.flagged for v in Vote.objects.filter(voter=contrarian))
    assert not Vote.objects.exclude(voter=contrarian).filter(flagged=True).exists()
    assert services.compute_snapshot().vote_count == before - 60


def test_a_voter_no_longer_flagged_gets_their_votes_back():
    contrarian = _votes()
    quality.detect_outlier_voters()
    quality.detect_outlier_voters(alpha=1e-300)  # nobody passes an impossible threshold
    assert not VoterCheck.objects.filter(flagged=True).exists()
    assert not Vote.objects.filter(voter=contrarian, flagged=True).exists()


def test_integrity_page_lists_outlier_voters_for_eval_leads_only(client):
    _votes()
    quality.detect_outlier_voters()
    client.force_login(make_user("plain-voter"))
    assert client.get("/leaderboard/integrity/").status_code == 403
    client.force_login(make_user("lead", role="eval_lead"))
    page = client.get("/leaderboard/integrity/")
    assert page.status_code == 200 and b"contrarian" in page.content and b"outlier_voter" in page.content


def test_flagging_votes_queues_one_recomputation_after_the_commit(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    _votes()
    calls = []
    monkeypatch.setattr(tasks.rebuild_vote_counts, "apply_async", lambda *args, **kw: calls.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        quality.detect_outlier_voters()
    # The counts are rebuilt (the flagged votes leave the default board's cells), then the board refitted.
    assert calls == [(("exclusions",),)]
    with django_capture_on_commit_callbacks(execute=True):
        quality.detect_outlier_voters()  # the same voters: no vote changes, nothing queued
    assert len(calls) == 1
