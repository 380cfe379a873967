"""Recomputation survives failures: retried with backoff, caught up by the periodic check, pruned."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from battles.voting import serving, votes
from ratings import boards, counts, services, tasks
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot
from ratings.scopes import DEFAULT_SCOPE, STYLE, STYLE_SCOPE
from tests.factories import make_arena, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _instant_votes_are_not_too_fast(settings):
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12


def _vote(voter, n: int = 1) -> None:
    for _ in range(n):
        battle = serving.serve_battle(voter=voter).battle
        assert battle is not None
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="a")


@pytest.fixture
def voted():
    make_arena(prompts=6)
    voter = make_user("fault-voter")
    _vote(voter, 3)
    return voter


@pytest.fixture
def queued(monkeypatch):
    """Recomputations of the default board queued (their options), and other refits (kind, params)."""
    calls: list = []
    monkeypatch.setattr(tasks.recompute_leaderboard, "apply_async", lambda *args, **kw: calls.append(kw))
    monkeypatch.setattr(tasks, "queue_refit", lambda kind, params: calls.append((kind, params)) or True)
    return calls


def _failing_first(monkeypatch, failures: int):
    real = services.compute_snapshot
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) <= failures:
            raise OperationalError("terminating connection due to administrator command")
        return real(**kwargs)

    monkeypatch.setattr(services, "compute_snapshot", flaky)
    return calls


# --- retries ---------------------------------------------------------------------------------


def test_a_recompute_that_hits_a_database_error_is_retried(voted, monkeypatch):
    calls = _failing_first(monkeypatch, failures=1)
    result = tasks.recompute_leaderboard.apply()
    assert result.successful()
    assert len(calls) == 2
    assert RatingSnapshot.objects.filter(scope=DEFAULT_SCOPE, vote_count=3).exists()


def test_retries_are_bounded(voted, monkeypatch, settings):
    settings.ARENA_RECOMPUTE_MAX_RETRIES = 2
    calls = _failing_first(monkeypatch, failures=100)
    result = tasks.recompute_leaderboard.apply()
    assert result.failed() and isinstance(result.result, OperationalError)
    assert len(calls) == 3  # the first attempt and two retries
    assert not RatingSnapshot.objects.filter(scope=DEFAULT_SCOPE).exists()


def test_a_bug_is_not_retried(voted, monkeypatch):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise ValueError("a bug, not a transient failure")

    monkeypatch.setattr(services, "compute_snapshot", broken)
    assert tasks.recompute_leaderboard.apply().failed()
    assert len(calls) == 1


def test_retry_delays_grow_with_jitter_and_stay_capped(settings, monkeypatch):
    settings.ARENA_RECOMPUTE_RETRY_MAX_SECONDS = 30
    delays = {retries: {tasks.retry_delay(retries) for _ in range(200)} for retries in range(8)}
    assert all(0 <= d <= 30 for seen in delays.values() for d in seen)
    assert max(delays[0]) <= 2 < max(delays[3])  # exponential: 2 s at first, up to 16 s by the fourth
    assert len(delays[4]) > 5  # jittered, not one fixed delay


def test_the_retry_is_given_the_backoff_delay(voted, monkeypatch):
    _failing_first(monkeypatch, failures=1)
    asked = []
    monkeypatch.setattr(tasks, "retry_delay", lambda retries: asked.append(retries) or 7)
    assert tasks.recompute_leaderboard.apply().successful()
    assert asked == [0]


# --- catching up -----------------------------------------------------------------------------


def test_lagging_boards_queue_one_recomputation(voted, queued, settings):
    assert tasks.lagging_scopes() == [DEFAULT_SCOPE, STYLE_SCOPE]
    assert tasks.catch_up_boards() is True
    assert [kw["countdown"] for kw in queued if isinstance(kw, dict)] == [0]
    assert queued[1:] == [(STYLE, {})]
    # Deduplicated through the debounce key: a queued recomputation is not queued twice.
    tasks.catch_up_boards()
    assert len([kw for kw in queued if isinstance(kw, dict)]) == 1


def test_current_boards_queue_nothing(voted, queued):
    tasks.recompute_leaderboard()
    tasks.run_refit(STYLE, {})
    assert tasks.lagging_scopes() == []
    assert tasks.catch_up_boards() is False
    assert queued == []


def test_votes_beyond_the_snapshot_are_noticed(voted, queued, django_capture_on_commit_callbacks):
    tasks.recompute_leaderboard()
    tasks.run_refit(STYLE, {})
    with django_capture_on_commit_callbacks(execute=True):
        _vote(voted)  # queues through the debounce; the spy stands in for the task, so it never runs
    assert len(queued) == 1
    tasks.recompute_now()  # as if the queued task had started and then failed: the key is gone
    # (recompute_now fitted the raw board; the style board now lags the new vote)
    assert tasks.lagging_scopes() == [STYLE_SCOPE]
    assert tasks.catch_up_boards() is True
    assert queued[1:] == [(STYLE, {})]


@pytest.mark.served_boards
def test_a_filtered_board_a_page_found_behind_is_caught_up(voted, queued):
    flt = BoardFilter(include_insider=True)
    tasks.run_refit("board", flt.params())
    assert tasks.lagging_scopes() == [DEFAULT_SCOPE, STYLE_SCOPE]  # the filtered board is current
    _vote(voted)
    # Behind, but no page asked: the periodic check leaves it for the next visit.
    assert flt.scope() not in tasks.lagging_scopes()
    served = boards.serve(flt)  # the page's refit is "lost" (the spy queues nothing)
    assert served.behind == 1 and served.refitting
    assert flt.scope() in tasks.lagging_scopes()
    tasks.catch_up_boards()
    assert ("board", flt.params()) in queued


def test_a_changed_vote_set_of_the_same_size_is_noticed(voted, queued):
    tasks.recompute_leaderboard()
    vote = services.counted_votes().order_by("pk").first()
    vote.outcome = "b" if vote.outcome == "a" else "a"
    vote.save(update_fields=["outcome"])  # behind every signal's back: only the counts check sees it
    assert DEFAULT_SCOPE not in tasks.lagging_scopes()
    assert counts.reconcile(reason="check").votes == 2
    assert DEFAULT_SCOPE in tasks.lagging_scopes()


def test_no_votes_no_lag(queued):
    assert tasks.lagging_scopes() == []
    assert tasks.catch_up_boards() is False


def test_the_catch_up_check_is_on_the_beat_schedule(settings):
    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries["ratings.tasks.catch_up_boards"]["schedule"] > 0


# --- pruning ---------------------------------------------------------------------------------


def _old_snapshot(scope: str) -> RatingSnapshot:
    return RatingSnapshot.objects.create(
        scope=scope, settings={}, vote_count=0, vote_hash="old", payload={}, duration_ms=0
    )


def test_recompute_keeps_the_newest_snapshots_of_each_default_board(voted, settings):
    settings.ARENA_SNAPSHOTS_KEPT = 2
    old = {scope: [_old_snapshot(scope) for _ in range(4)] for scope in (DEFAULT_SCOPE, STYLE_SCOPE)}
    filtered = [_old_snapshot("votes?category=x") for _ in range(3)]
    tasks.recompute_leaderboard()
    for scope in (DEFAULT_SCOPE, STYLE_SCOPE):
        kept = list(RatingSnapshot.objects.filter(scope=scope).order_by("-computed_at", "-pk"))
        assert len(kept) == 2
        if scope == DEFAULT_SCOPE:
            assert kept[0].vote_hash != "old"  # the fit just made is the newest, and kept
            assert kept[1].pk == old[scope][-1].pk
        else:  # the style board is fitted when asked for, not by every recomputation
            assert [s.pk for s in kept] == [old[scope][-1].pk, old[scope][-2].pk]
    # Other scopes are pruned by their own rule, when their board is fitted.
    assert RatingSnapshot.objects.filter(pk__in=[s.pk for s in filtered]).count() == 3


def test_pruning_never_deletes_the_newest(settings):
    snapshots = [_old_snapshot(DEFAULT_SCOPE) for _ in range(3)]
    assert services.prune_snapshots(DEFAULT_SCOPE, keep=0) == 2
    assert list(RatingSnapshot.objects.values_list("pk", flat=True)) == [snapshots[-1].pk]
