"""Aggregated vote counts: equal to a recount after votes, exclusions and imports; folded exactly
once whatever the commit order; drift detected, logged and repaired; boards fitted from them."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from battles.models import Vote
from battles.signals import votes_imported
from ratings import counts, fits, services, tasks
from ratings.filters import BoardFilter
from ratings.models import CountsState, DailyVoteCount, VoteTotal
from ratings.signals import votes_reflagged
from tests.factories import make_pool, make_user
from tests.ratings.board_factories import cast_votes, import_votes, make_llms

pytestmark = pytest.mark.django_db


def _filters(pool_code: str) -> list[BoardFilter]:
    today = timezone.localdate()
    return [
        BoardFilter(),
        BoardFilter(category="code"),
        BoardFilter(category="writing", include_insider=True),
        BoardFilter(pool=pool_code),
        BoardFilter(include_flagged=True, include_insider=True),
        BoardFilter(include_live=False),
        BoardFilter(date_from=today - dt.timedelta(days=3)),
        BoardFilter(date_to=today - dt.timedelta(days=3), include_insider=True),
        BoardFilter(date_from=today - dt.timedelta(days=9), date_to=today, category="code", include_live=False),
    ]


def _assert_counts_equal_a_recount(pool_code: str) -> None:
    for flt in _filters(pool_code):
        assert counts.filter_counts(flt) == services.aggregated_counts(flt.votes()), flt
    per_category = counts.category_counts(BoardFilter())
    assert per_category is not None
    for category, category_counts in per_category.items():
        assert category_counts == services.aggregated_counts(BoardFilter(category=category).votes())


@pytest.fixture
def arena():
    llms = make_llms("alpha", "beta", "gamma")
    pool = make_pool("counted")
    week_ago = timezone.now() - dt.timedelta(days=7)
    cast_votes(llms, [("alpha", "beta", "a", 5), ("beta", "gamma", "tie", 2)], category="writing", pool=pool)
    cast_votes(llms, [("gamma", "alpha", "b", 3)], category="code", when=week_ago)
    cast_votes(llms, [("alpha", "gamma", "both_bad", 2)], category="code", insider=True)
    cast_votes(llms, [("beta", "alpha", "a", 4)], category="writing", live=True, flags=["too_fast"])
    import_votes(llms, [("alpha", "beta", "b", 3)])
    return llms, str(pool.code)


def test_folded_counts_equal_a_recount_of_every_filter(arena):
    llms, pool_code = arena
    counts.fold()
    _assert_counts_equal_a_recount(pool_code)
    # More votes, folded on top: still equal, and folding again changes nothing (exactly once).
    cast_votes(llms, [("gamma", "beta", "a", 6)], category="code", pool=make_pool())
    counts.fold()
    counts.fold()
    _assert_counts_equal_a_recount(pool_code)
    assert sum(VoteTotal.objects.values_list("n", flat=True)) == Vote.objects.count()
    assert sum(DailyVoteCount.objects.values_list("n", flat=True)) == Vote.objects.count()


def test_votes_folded_into_cells_that_exist_add_to_them(arena):
    """A fold of votes in cells the counts already have (the usual case) adds to those rows, never replaces them."""
    from battles.models import PromptPool

    llms, pool_code = arena
    counts.fold()
    cells_before = VoteTotal.objects.count(), DailyVoteCount.objects.count()
    pool = PromptPool.objects.get(code=pool_code)
    cast_votes(llms, [("alpha", "beta", "a", 3), ("beta", "gamma", "tie", 1)], category="writing", pool=pool)
    counts.fold()
    assert (VoteTotal.objects.count(), DailyVoteCount.objects.count()) == cells_before
    _assert_counts_equal_a_recount(pool_code)
    assert counts.reconcile(reason="check").votes == 0


def test_exclusions_and_restores_reach_the_counts_through_the_signal(arena, django_capture_on_commit_callbacks):
    _, pool_code = arena
    counts.fold()
    epoch = CountsState.objects.get().epoch
    excluded = list(Vote.objects.filter(flagged=False, insider=False).values_list("pk", flat=True)[:4])
    Vote.objects.filter(pk__in=excluded).update(flagged=True, flags=["outlier_voter"])
    votes_reflagged.send(sender=Vote, count=len(excluded))  # eager Celery: the rebuild runs here
    _assert_counts_equal_a_recount(pool_code)
    assert CountsState.objects.get().epoch == epoch + 1  # every snapshot of the old counts is stale
    Vote.objects.filter(pk__in=excluded).update(flagged=False, flags=[])
    votes_reflagged.send(sender=Vote, count=len(excluded))
    _assert_counts_equal_a_recount(pool_code)


def test_imported_votes_reach_the_counts(arena):
    llms, pool_code = arena
    counts.fold()
    import_votes(llms, [("gamma", "alpha", "tie", 7)])
    votes_imported.send(sender=Vote, count=7)
    _assert_counts_equal_a_recount(pool_code)


@pytest.mark.django_db(transaction=True)
def test_a_vote_committed_after_a_later_one_is_counted_exactly_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: no commit can overtake another")
    llms = make_llms("alpha", "beta")
    cast_votes(llms, [("alpha", "beta", "a", 2)])
    counts.fold()
    inserted, release = threading.Event(), threading.Event()

    def slow_vote():
        try:
            with transaction.atomic():
                cast_votes(llms, [("alpha", "beta", "b", 1)])  # takes its id now, commits later
                inserted.set()
                release.wait(30)
        finally:
            connection.close()

    slow = threading.Thread(target=slow_vote)
    slow.start()
    assert inserted.wait(30)
    cast_votes(llms, [("alpha", "beta", "tie", 1)])  # a higher id, committed first
    mark = counts.fold()
    assert mark.gaps  # the slow vote's id: not visible yet, looked for again
    assert counts.filter_counts(BoardFilter()) == services.aggregated_counts(BoardFilter().votes())
    release.set()
    slow.join(30)
    assert Vote.objects.count() == 4
    mark = counts.fold()
    assert mark.gaps == ()
    assert counts.filter_counts(BoardFilter()) == services.aggregated_counts(BoardFilter().votes())
    counts.fold()
    assert sum(VoteTotal.objects.values_list("n", flat=True)) == 4


def test_an_id_never_committed_is_dropped_from_the_gaps_after_a_while(settings):
    llms = make_llms("alpha", "beta")
    counts.fold()  # the first fold counts everything there is; later ones fold from the watermark
    votes = cast_votes(llms, [("alpha", "beta", "a", 3)])
    Vote.objects.filter(pk=votes[1].pk).delete()  # as if its transaction had rolled back
    assert (votes[1].pk, votes[1].pk) in counts.fold().gaps
    settings.ARENA_COUNTS_GAP_SECONDS = 0
    assert counts.fold().gaps == ()
    assert sum(VoteTotal.objects.values_list("n", flat=True)) == 2


def test_drift_is_detected_logged_and_repaired(arena, caplog):
    _, pool_code = arena
    counts.fold()
    assert not counts.reconcile(reason="check")  # nothing to repair
    epoch = CountsState.objects.get().epoch
    # A vote changed behind every signal's back, and a cell tampered with.
    vote = Vote.objects.filter(outcome="a", flagged=False, insider=False).first()
    Vote.objects.filter(pk=vote.pk).update(outcome="b")
    cell = VoteTotal.objects.order_by("pk").first()
    VoteTotal.objects.filter(pk=cell.pk).update(n=cell.n + 5)
    with caplog.at_level(logging.WARNING, logger="ratings.counts"):
        assert tasks.check_vote_counts() > 0  # the beat task
    assert "vote counts drifted from the votes" in caplog.text
    _assert_counts_equal_a_recount(pool_code)
    assert CountsState.objects.get().epoch == epoch + 1
    assert not counts.reconcile(reason="check")


def test_the_check_and_the_rebuild_are_there_to_run(settings, arena):
    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries["ratings.tasks.check_vote_counts"]["schedule"] > 0
    _, pool_code = arena
    VoteTotal.objects.all().delete()
    call_command("rebuild_vote_counts", verbosity=0)
    _assert_counts_equal_a_recount(pool_code)


def test_the_default_board_fitted_from_the_counts_equals_the_board_fitted_from_the_votes(arena):
    from_counts = fits.fit_board(BoardFilter())
    from_votes = services.compute_snapshot(scope="raw-votes", votes=services.counted_votes())
    assert from_counts.vote_hash == from_votes.vote_hash
    assert from_counts.vote_count == from_votes.vote_count == services.counted_votes().count()
    assert from_counts.payload["rows"] == from_votes.payload["rows"]
    assert from_counts.payload["pairs"] == from_votes.payload["pairs"]


def test_a_filtered_board_from_the_counts_equals_the_board_from_the_votes(arena):
    flt = BoardFilter(category="writing", include_insider=True, include_flagged=True)
    from_counts = fits.fit_board(flt)
    from_votes = services.compute_snapshot(scope="raw-votes", votes=flt.votes(), online=True)
    assert from_counts.vote_hash == from_votes.vote_hash
    assert from_counts.payload["rows"] == from_votes.payload["rows"]
    assert from_counts.payload["online"] == from_votes.payload["online"]


def test_a_group_board_is_fitted_from_the_votes(arena):
    make_user("lead", role="eval_lead")
    flt = BoardFilter(group="voter")
    assert counts.filter_counts(flt) is None
    snapshot = fits.fit_board(flt)
    assert snapshot.vote_hash == services.vote_set_hash(services.aggregated_counts(flt.votes()))
