"""The style features a style-controlled fit reads: per battle, both answers' ``style_counts``, kept per process."""

import numpy as np
import pytest

from battles.models import Battle, Generation
from ratings.engine import style_counts
from ratings.models import GenerationStyle
from ratings.style_features import FEATURES, FeatureCache, id_ranges, store_style_features
from tests.ratings.board_factories import cast_votes, make_llms

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("max_span", [5000, 300])
@pytest.mark.parametrize("seed", range(10))
def test_id_ranges_cover_every_id_within_their_gap_and_span(seed, max_span):
    rng = np.random.default_rng(seed)
    # Runs of ids with gaps of every size, as a board's battles come.
    steps = rng.choice([1, 1, 1, 2, 5, 200, 257, 3000], size=int(rng.integers(1, 4000)))
    ids = np.cumsum(steps) + int(rng.integers(0, 10**6))
    ranges = id_ranges(ids, max_gap=256, max_span=max_span)
    covered = np.zeros(ids.size, dtype=bool)
    for first, last in ranges:
        inside = (ids >= first) & (ids <= last)
        assert inside.any() and first in ids and last in ids  # each range starts and ends on a wanted id
        assert last - first < max_span
        assert not (covered & inside).any()  # no id read twice
        covered |= inside
        wanted = ids[inside]
        assert (np.diff(wanted) <= 256).all()  # no wide gap inside a range
    assert covered.all()
    # Fewer reads than ids whenever the ids come in runs.
    assert len(ranges) <= ids.size


def test_id_ranges_of_nothing_and_of_one_id():
    assert id_ranges(np.array([], dtype=np.int64)) == []
    assert id_ranges(np.array([7])) == [(7, 7)]


def _answer_features(answer) -> list[float]:
    return [float(x) for x in style_counts(answer.text)]


def test_features_are_both_answers_style_in_the_order_asked_and_nan_for_unknown_battles():
    llms = make_llms("plain", "fancy")
    texts = {"plain": "Just text.", "fancy": "# Title\n\n**Bold** words\n\n- one\n- two\n- three"}
    votes = cast_votes(llms, [("plain", "fancy", "a", 3), ("fancy", "plain", "b", 2)], texts=texts)
    battles = [Battle.objects.get(pk=v.battle_id) for v in votes]
    asked = np.array([battles[4].pk, 10**9, battles[0].pk, battles[0].pk], dtype=np.int64)
    got = FeatureCache().lookup(asked)
    assert got.shape == (4, 8)
    for row, battle in ((0, battles[4]), (2, battles[0]), (3, battles[0])):
        expected = _answer_features(battle.generation_a) + _answer_features(battle.generation_b)
        assert got[row].tolist() == expected
    assert np.isnan(got[1]).all()
    assert got[0, 0] != got[0, 4]  # the sides are not mixed up (fancy is A in the later battles)


def test_answers_without_stored_features_are_measured_and_stored_once():
    llms = make_llms("one", "two")
    votes = cast_votes(llms, [("one", "two", "a", 4)])
    GenerationStyle.objects.all().delete()
    cache = FeatureCache()
    got = cache.lookup(np.array([v.battle_id for v in votes], dtype=np.int64))
    assert not np.isnan(got).any()
    assert GenerationStyle.objects.count() == 2
    battle = Battle.objects.get(pk=votes[0].battle_id)
    assert got[0].tolist() == _answer_features(battle.generation_a) + _answer_features(battle.generation_b)


def test_a_second_lookup_reads_only_battles_and_answers_it_has_not_seen(django_assert_num_queries):
    llms = make_llms("x", "y", "z")
    first = cast_votes(llms, [("x", "y", "a", 5)])
    cache = FeatureCache()
    first_ids = np.array([v.battle_id for v in first], dtype=np.int64)
    cache.lookup(first_ids)
    with django_assert_num_queries(0):
        again = cache.lookup(first_ids[::-1])
    assert not np.isnan(again).any()
    later = cast_votes(llms, [("y", "z", "b", 3)])
    # As when the worker stored the new prompt's answers (``on_answers_stored``).
    store_style_features(
        Generation.objects.filter(prompt__battles__in=[v.battle_id for v in later]).values_list("pk", flat=True)
    )
    # The new battles (one range of ids) and their new prompt's answers (one range): two reads.
    with django_assert_num_queries(2):
        got = cache.lookup(np.array([v.battle_id for v in later], dtype=np.int64))
    assert not np.isnan(got).any()


def test_the_process_cache_is_the_one_style_fits_use():
    from ratings import fits

    assert fits.FEATURES is FEATURES


def test_the_style_vote_hash_is_each_cells_count_and_id_sum_as_postgres_adds_them():
    """Computed while the fit reads its votes; the same as the GROUP BY it replaces (old snapshots stay reusable)."""
    import hashlib
    import json

    from django.db.models import Count, Sum

    from battles.models import Vote
    from ratings import counts, fits
    from ratings.filters import BoardFilter
    from ratings.vote_archive import ARCHIVE
    from tests.ratings.board_factories import import_votes

    llms = make_llms("p", "q", "r")
    cast_votes(llms, [("p", "q", "a", 3), ("q", "r", "tie", 2), ("r", "p", "both_bad", 1), ("p", "q", "b", 2)])
    import_votes(llms, [("p", "r", "a", 2)])
    rows = (
        Vote.objects.values_list("version_a_id", "version_b_id", "outcome")
        .annotate(n=Count("id"), ids=Sum("id"))
        .order_by("version_a_id", "version_b_id", "outcome")
    )
    cells = [[a, b, outcome, n, int(ids)] for a, b, outcome, n, ids in rows]
    expected = hashlib.sha256(json.dumps(cells, separators=(",", ":")).encode()).hexdigest()
    every = BoardFilter(include_insider=True, include_flagged=True)
    read = fits.style_votes(ARCHIVE.votes(counts.fold(), every))
    assert read.digest == expected
    assert read.without_battle == 2
    assert sorted(read.battle_ids) == sorted(Vote.objects.filter(battle__isnull=False).values_list("battle", flat=True))
    Vote.objects.filter(outcome="tie").update(flagged=True)
    counts.reconcile(reason="exclusions")  # as the exclusions' signal has the worker do
    assert fits.style_votes(ARCHIVE.votes(counts.fold(), BoardFilter())).digest != expected


def test_a_table_finds_the_same_rows_by_slot_and_by_search():
    """Dense ids are found through a slot per id, sparse ones by a binary search: the same rows either way."""
    from ratings import style_features

    rng = np.random.default_rng(3)
    dense_ids = rng.choice(5000, size=3000, replace=False) + 1
    sparse_ids = dense_ids * (style_features.DENSE_FLOOR // 100)  # beyond the floor and 8 slots a row
    asked = np.concatenate([rng.integers(-5, 5200, size=4000), [-1, 0, 10**12]])
    answers = {}
    for ids in (dense_ids, sparse_ids):
        table = style_features._Table(2, np.int64)
        rows = [[int(i), int(i) * 7] for i in ids]
        table.add(ids[:1000].tolist(), rows[:1000])
        table.add(ids[500:].tolist(), rows[500:])  # rows read twice are kept once
        assert (table.slots is not None) == (ids is dense_ids)
        scaled = asked if ids is dense_ids else np.where(asked > 0, asked * (style_features.DENSE_FLOOR // 100), asked)
        found, positions = table.find(scaled)
        assert found.tolist() == np.isin(scaled, ids).tolist()
        assert (table.rows[positions[found], 0] == scaled[found]).all()
        answers[ids is dense_ids] = (found, table.rows[positions[found], 1] // 7)
    assert answers[True][0].tolist() == answers[False][0].tolist()
    assert answers[True][1].tolist() == (answers[False][1] // (style_features.DENSE_FLOOR // 100)).tolist()
