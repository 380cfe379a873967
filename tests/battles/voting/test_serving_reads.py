"""Serving's hand-written reads (over arena.hot_reads) against the ORM queries they replace.

A new battle reads the voter's recent battles and the chosen answers on every ``GET /``; both are
written once as SQL, so they must give what the ORM gave: the same rows in the same order, the
same loaded and deferred fields with the same values and types.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Model
from django.utils import timezone

from battles.core.exposure import WINDOW
from battles.models import Battle, Generation
from battles.voting import serving
from tests.factories import make_arena, make_user

pytestmark = pytest.mark.django_db


def _same_instance(read: Model, expected: Model) -> None:
    assert type(read) is type(expected) and read.pk == expected.pk
    assert read.get_deferred_fields() == expected.get_deferred_fields()
    assert (read._state.adding, read._state.db) == (expected._state.adding, expected._state.db)
    for field in type(expected)._meta.concrete_fields:
        if field.attname in expected.get_deferred_fields():
            continue
        value, wanted = read.__dict__[field.attname], expected.__dict__[field.attname]
        assert value == wanted and type(value) is type(wanted), field.name


def _battle(voter, prompt, answers: list[Generation], *, minutes_ago: int, **fields) -> Battle:
    first, second = answers
    battle = Battle.objects.create(
        prompt=prompt,
        generation_a=first,
        generation_b=second,
        version_a_id=first.llm_version_id,
        version_b_id=second.llm_version_id,
        voter=voter,
        **fields,
    )
    # created_at is set on insert: moved afterwards, so that the order of the battles is the test's.
    Battle.objects.filter(pk=battle.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return battle


def _orm_recent_battles(voter) -> list[Battle]:
    """What ``recent_battles`` read with the ORM before it was a hot read."""
    last = Battle.objects.filter(voter=voter).order_by("-created_at", "-pk").values_list("pk", flat=True)[:WINDOW]
    open_pool = Battle.objects.filter(voter=voter, status=Battle.Status.OPEN, live=False).values_list("pk", flat=True)
    ids = set(last) | set(open_pool)
    return list(Battle.objects.filter(pk__in=ids).only(*serving.RECENT_FIELDS).order_by("-created_at", "-pk"))


def test_recent_battles_are_the_last_ones_and_the_open_pool_battle_as_the_orm_reads_them(voter):
    _, _, prompts = make_arena(prompts=3)
    answers = {p.pk: list(Generation.objects.filter(prompt=p).order_by("pk")[:2]) for p in prompts}
    other = make_user()
    # The open pool battle is older than the window; an open live battle and skipped ones are in it.
    open_pool = _battle(voter, prompts[0], answers[prompts[0].pk], minutes_ago=500)
    _battle(voter, prompts[1], answers[prompts[1].pk], minutes_ago=600, live=True)  # open, live: left out
    _battle(voter, prompts[2], answers[prompts[2].pk], minutes_ago=700, status=Battle.Status.SKIPPED)
    for i in range(WINDOW + 5):
        prompt = prompts[i % 3]
        status = [Battle.Status.VOTED, Battle.Status.SKIPPED, Battle.Status.FAILED][i % 3]
        _battle(voter, prompt, answers[prompt.pk], minutes_ago=400 - i, status=status, live=i % 4 == 0)
    live_open = _battle(voter, prompts[1], answers[prompts[1].pk], minutes_ago=1, live=True)
    _battle(other, prompts[2], answers[prompts[2].pk], minutes_ago=0)
    # Two battles at the same instant: ordered by id, as the ORM orders them.
    tied = [_battle(voter, prompts[2], answers[prompts[2].pk], minutes_ago=2, status=Battle.Status.VOTED)]
    Battle.objects.filter(pk=tied[0].pk).update(created_at=Battle.objects.get(pk=live_open.pk).created_at)

    read = serving.recent_battles(voter)
    expected = _orm_recent_battles(voter)
    assert [b.pk for b in read] == [b.pk for b in expected]
    assert len(read) == WINDOW + 1 and read[-1].pk == open_pool.pk and read[0].pk == tied[0].pk
    for battle, wanted in zip(read, expected, strict=True):
        _same_instance(battle, wanted)
        assert battle.version_a.pk == battle.version_a_id and battle.version_b.llm_id is not None
    assert serving.current_battle(voter=voter, recent=read).pk == open_pool.pk
    assert [b.pk for b in serving.recent_battles(voter.pk)] == [b.pk for b in read]  # an id, as the ORM takes


def test_recent_battles_of_a_voter_without_battles_are_none(voter):
    make_arena(prompts=1)
    assert serving.recent_battles(voter) == []
