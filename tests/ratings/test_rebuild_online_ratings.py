"""rebuild_online_ratings: Elo and TrueSkill replayed over the counted votes, as if each vote had
moved them when it was cast (the demo's history is loaded this way)."""

import pytest
from django.core.management import call_command

from ratings import online
from ratings.models import OnlineRating
from tests.ratings.board_factories import cast_votes, make_llms

pytestmark = pytest.mark.django_db


def test_the_rebuilt_ratings_are_those_the_votes_made_one_by_one():
    llms = make_llms("alpha", "beta", "gamma")
    votes = cast_votes(llms, [("alpha", "beta", "a", 12), ("beta", "gamma", "b", 7), ("alpha", "gamma", "tie", 5)])
    votes += cast_votes(llms, [("gamma", "alpha", "a", 9)], insider=True)
    online.apply_pending(batch_size=1, settle_seconds=0)  # the worker's way: one vote at a time, in order
    one_by_one = {r.llm_version_id: (r.elo, r.votes) for r in OnlineRating.objects.all()}
    OnlineRating.objects.update(elo=1000.0, votes=0)

    call_command("rebuild_online_ratings", stdout=None)

    rebuilt = {r.llm_version_id: (r.elo, r.votes) for r in OnlineRating.objects.all()}
    assert rebuilt.keys() == one_by_one.keys()
    for version_id, (elo, count) in one_by_one.items():
        assert rebuilt[version_id][0] == pytest.approx(elo) and rebuilt[version_id][1] == count
    alpha, gamma = (llms[name].current_version().online_rating for name in ("alpha", "gamma"))
    assert alpha.trueskill_mu > gamma.trueskill_mu  # the insider votes for gamma do not count


def test_after_a_rebuild_the_worker_counts_no_vote_twice():
    llms = make_llms("alpha", "beta")
    cast_votes(llms, [("alpha", "beta", "a", 10)])
    call_command("rebuild_online_ratings", stdout=None)
    rebuilt = {r.llm_version_id: (r.elo, r.votes) for r in OnlineRating.objects.all()}

    assert online.apply_pending(settle_seconds=0).applied == 0

    assert {r.llm_version_id: (r.elo, r.votes) for r in OnlineRating.objects.all()} == rebuilt
