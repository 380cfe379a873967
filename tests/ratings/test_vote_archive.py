"""The refits' archive of votes (``ratings.vote_archive``): for every filter and mark, the same votes in
the same order as the database gives, while reading each vote from the database once per counts epoch."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from battles.models import LLMVersion, Vote
from ratings import counts, fits, services
from ratings.counts import VoteMark
from ratings.filters import BoardFilter
from ratings.models import CountsState
from ratings.vote_archive import NO_ID, VoteArchive, union
from tests.factories import make_pool, make_user
from tests.ratings.board_factories import cast_votes, import_votes, make_llms

pytestmark = pytest.mark.django_db


@pytest.fixture
def arena():
    llms = make_llms("alpha", "beta", "gamma")
    pool = make_pool("archived")
    reviewer = make_user(username="reviewer")
    Group.objects.create(name="reviewers").user_set.add(reviewer)
    week_ago = timezone.now() - dt.timedelta(days=7)
    cast_votes(llms, [("alpha", "beta", "a", 5), ("beta", "gamma", "tie", 2)], category="writing", pool=pool)
    cast_votes(llms, [("gamma", "alpha", "b", 3)], category="code", when=week_ago, voter=reviewer)
    cast_votes(llms, [("alpha", "gamma", "both_bad", 2)], category="code", insider=True)
    cast_votes(llms, [("beta", "alpha", "a", 4)], category="writing", live=True, flags=["too_fast"])
    cast_votes(llms, [("gamma", "beta", "a", 2)], category="", voter=reviewer)
    cast_votes(llms, [("alpha", "gamma", "b", 2)], category="code", live=True)
    # Imported votes keep the time their file gives: older than every vote cast here.
    imported = import_votes(llms, [("alpha", "beta", "b", 3), ("gamma", "alpha", "tie", 1)])
    Vote.objects.filter(pk__in=[v.pk for v in imported]).update(created_at=week_ago - dt.timedelta(days=30))
    return llms, str(pool.code)


def _filters(pool_code: str) -> list[BoardFilter]:
    today = timezone.localdate()
    return [
        BoardFilter(),
        BoardFilter(category="code"),
        BoardFilter(category="writing", include_insider=True),
        BoardFilter(category="nothing-has-this"),
        BoardFilter(pool=pool_code),
        BoardFilter(include_flagged=True, include_insider=True),
        BoardFilter(include_live=False),
        BoardFilter(date_from=today - dt.timedelta(days=3)),
        BoardFilter(date_to=today - dt.timedelta(days=3), include_insider=True),
        BoardFilter(date_from=today - dt.timedelta(days=9), date_to=today, category="code", include_live=False),
        BoardFilter(group="reviewers"),
        BoardFilter(group="reviewers", category="code", include_flagged=True),
        BoardFilter(group="nobody-is-in-this"),
    ]


def _in_time_order(mark: VoteMark, flt: BoardFilter) -> list[int]:
    return list(mark.seen(flt.votes()).order_by("created_at", "id").values_list("pk", flat=True))


def _assert_as_the_database_gives(archive: VoteArchive, mark: VoteMark, pool_code: str) -> None:
    for flt in _filters(pool_code):
        votes = archive.votes(mark, flt)
        assert votes.ids.tolist() == _in_time_order(mark, flt), flt
        assert votes.counts() == services.aggregated_counts(mark.seen(flt.votes())), flt
        replays = services.CategoryReplays(*votes.arrays())
        labels = {pk: f"v{pk}" for pk in set(votes.model_a.tolist()) | set(votes.model_b.tolist())}
        assert replays.of(None, labels) == services.replayed_online_ratings(mark.seen(flt.votes()), labels), flt


def test_every_filter_gives_the_votes_the_database_gives_in_the_same_order(arena):
    llms, pool_code = arena
    archive = VoteArchive()
    mark = counts.fold()
    _assert_as_the_database_gives(archive, mark, pool_code)
    assert archive.reads == Vote.objects.count()

    every = archive.votes(mark, BoardFilter(include_flagged=True, include_insider=True))
    assert (every.battle == NO_ID).sum() == Vote.objects.filter(battle__isnull=True).count() == 4
    per_category = every.category_counts()
    assert per_category == counts.category_counts(BoardFilter(include_flagged=True, include_insider=True))
    assert sorted(per_category) == ["code", "writing"]


def test_newer_votes_are_read_once_and_only_they(arena):
    llms, pool_code = arena
    archive = VoteArchive()
    first = counts.fold()
    archive.votes(first, BoardFilter())
    before = Vote.objects.count()
    cast_votes(llms, [("gamma", "beta", "b", 4)], category="code")
    second = counts.fold()
    # An older mark is still served as it was: the newer votes are not in it.
    assert archive.votes(first, BoardFilter()).ids.tolist() == _in_time_order(first, BoardFilter())
    assert archive.reads == before
    _assert_as_the_database_gives(archive, second, pool_code)
    assert archive.reads == before + 4


def test_votes_in_a_marks_gaps_are_left_out_until_a_mark_holds_them(arena):
    llms, pool_code = arena
    archive = VoteArchive()
    state = counts.current_state()
    ids = sorted(Vote.objects.values_list("pk", flat=True))
    # As a fold would leave it with two votes still committing.
    gap = (ids[3], ids[4])
    with_gap = VoteMark(ids[-1], (gap,), 0, str(state.identity))
    _assert_as_the_database_gives(archive, with_gap, pool_code)
    assert archive.reads == len(ids) - 2
    filled = VoteMark(ids[-1], (), 0, str(state.identity))
    _assert_as_the_database_gives(archive, filled, pool_code)
    assert archive.reads == len(ids)
    # The older mark again (another thread's fold): served from what is held, which it does not shrink.
    _assert_as_the_database_gives(archive, with_gap, pool_code)
    archive.votes(filled, BoardFilter())
    assert archive.reads == len(ids)


def test_another_epoch_another_counts_state_or_an_earlier_mark_reads_everything_again(arena):
    llms, pool_code = arena
    archive = VoteArchive()
    mark = counts.fold()
    archive.votes(mark, BoardFilter())
    total = Vote.objects.count()
    assert archive.reads == total

    # An exclusion rebuilds the counts in a new epoch: the archive's flags are the votes' as they are now.
    Vote.objects.filter(outcome="tie").update(flagged=True)
    counts.reconcile(reason="exclusions")
    rebuilt = counts.fold()
    assert rebuilt.epoch == mark.epoch + 1
    _assert_as_the_database_gives(archive, rebuilt, pool_code)
    assert archive.reads == 2 * total
    assert {outcome for _, _, outcome, _ in archive.votes(rebuilt, BoardFilter()).counts()} == {"a", "b"}

    # A new counts state (a reset, another database) is another identity.
    CountsState.objects.all().delete()
    fresh = counts.fold()
    assert fresh.identity != rebuilt.identity
    archive.votes(fresh, BoardFilter())
    assert archive.reads == 3 * total

    # A mark behind the archive's (a restored database): read again, never mixed with what it held.
    behind = VoteMark(fresh.through_vote_id - 3, (), fresh.epoch, fresh.identity)
    assert archive.votes(behind, BoardFilter(include_flagged=True)).ids.tolist() == _in_time_order(
        behind, BoardFilter(include_flagged=True)
    )
    assert archive.reads == 4 * total - 3


def test_the_union_of_two_marks_holds_what_either_holds():
    assert union(VoteMark(10, ((3, 4), (7, 7))), VoteMark(12, ((4, 5), (11, 11)))) == VoteMark(12, ((4, 4), (11, 11)))
    assert union(VoteMark(12, ((4, 5),)), VoteMark(10, ((2, 8),))) == VoteMark(12, ((4, 5),))
    assert union(VoteMark(5), VoteMark(9, ((6, 9),))) == VoteMark(9, ((6, 9),))
    assert union(VoteMark(5), VoteMark(9, ((2, 3),))) == VoteMark(9)


def test_refits_of_filtered_boards_read_no_vote_twice(arena):
    """A filtered board, a decision page and a style board fitted after new votes read only the new votes."""
    from ratings.vote_archive import ARCHIVE

    llms, _ = arena
    ARCHIVE.clear()
    before = ARCHIVE.reads
    week = BoardFilter(date_from=timezone.localdate() - dt.timedelta(days=3))
    for refit in (fits.fit_board, fits.fit_decision, fits.fit_style):
        refit(week)
    total = Vote.objects.count()
    assert ARCHIVE.reads == before + total
    cast_votes(llms, [("alpha", "gamma", "a", 3)], category="code")
    for refit in (fits.fit_board, fits.fit_decision, fits.fit_style):
        refit(week)
    assert ARCHIVE.reads == before + total + 3
    board = services.latest_snapshot(week.scope())
    assert board is not None and board.vote_count == week.votes().count()
    labels = {v.pk: v.label for v in LLMVersion.objects.select_related("llm")}
    assert board.data.online == services.replayed_online_ratings(week.votes(), labels)


def test_a_warm_up_reads_every_vote_and_the_answers_of_their_battles(arena):
    """What a worker that fits boards does at its start: the first refits then read no vote again."""
    from ratings.style_features import FEATURES
    from ratings.vote_archive import ARCHIVE

    ARCHIVE.clear()
    FEATURES.clear()
    counts.fold()
    before = ARCHIVE.reads
    fits.warm_up()
    assert ARCHIVE.reads == before + Vote.objects.count()
    voted_battles = set(Vote.objects.filter(battle__isnull=False).values_list("battle", flat=True))
    assert set(FEATURES.answers_of.ids.tolist()) == voted_battles
    fits.fit_style(BoardFilter(include_insider=True))
    fits.fit_decision(BoardFilter(category="code"))
    assert ARCHIVE.reads == before + Vote.objects.count()


def test_a_votes_time_is_the_same_microsecond_whichever_way_the_database_gives_it():
    """Postgres gives the number; a plain cursor on SQLite (embedded mode) gives UTC text or a naive time."""
    from ratings.vote_archive import micros

    aware = dt.datetime(2026, 3, 29, 1, 30, 0, 123457, tzinfo=dt.UTC)
    expected = 1774747800123457
    assert micros(aware) == expected
    assert micros(aware.astimezone(dt.timezone(dt.timedelta(hours=-7)))) == expected
    assert micros("2026-03-29 01:30:00.123457") == expected
    assert micros(aware.replace(tzinfo=None)) == expected
    assert micros("2026-03-29 01:30:00") == expected - 123457


def test_the_archive_reads_every_column_the_counts_count_by():
    """A dimension added to the counts' cells must reach the archive too, or its boards would ignore it."""
    from ratings import vote_archive

    assert set(counts.VOTE_COLUMNS) <= set(vote_archive.COLUMNS)


def test_ids_far_apart_are_read_without_a_query_per_empty_window(arena, django_assert_max_num_queries):
    """Votes whose ids jump (a sequence moved on, an old gap beside new votes) cost a query per jump, not one
    per empty window of ids between them."""
    from ratings.vote_archive import READ_WINDOW

    llms, pool_code = arena
    far = cast_votes(llms, [("alpha", "beta", "a", 2)], category="code")
    last = Vote.objects.order_by("-pk").first()
    assert last is not None
    Vote.objects.filter(pk=far[-1].pk).update(id=last.pk + 1000 * READ_WINDOW)
    mark = counts.fold()
    archive = VoteArchive()
    with django_assert_max_num_queries(8):
        votes = archive.votes(mark, BoardFilter(include_insider=True, include_flagged=True))
    assert votes.ids.tolist() == _in_time_order(mark, BoardFilter(include_insider=True, include_flagged=True))
    assert last.pk + 1000 * READ_WINDOW in votes.ids.tolist()


@pytest.mark.parametrize("seed", range(4))
def test_vote_cells_are_what_unique_over_rows_gives(seed):
    """The cells of the votes from one integer key each: those of ``np.unique(rows, axis=0)``, with counts and
    each vote's cell (the style fits' vote-set hash sums ids per cell)."""
    from ratings.vote_archive import vote_cells

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    a = rng.choice([3, 17, 2**40, 9], n)
    b = rng.choice([5, 17, 2**33, 12], n)
    outcome = rng.integers(0, 4, n).astype(np.int8)
    rows = np.stack([a, b, outcome.astype(np.int64)], axis=1)
    expected, expected_inverse, expected_n = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    cells, counts, inverse = vote_cells(a, b, outcome)
    assert cells.tolist() == expected.tolist() and counts.tolist() == expected_n.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()
