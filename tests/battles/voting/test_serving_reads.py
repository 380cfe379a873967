"""Serving's hand-written reads (over arena.hot_reads) against the ORM queries they replace.

A new battle reads the voter's recent battles and the chosen answers on every ``GET /``; both are
written once as SQL, so they must give what the ORM gave: the same rows in the same order, the
same loaded and deferred fields with the same values and types.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from battles.catalog import llms
from battles.core.exposure import WINDOW
from battles.core.text import prompt_hash
from battles.models import LLM, Battle, Generation, Prompt
from battles.voting import eligibility, serving
from tests.factories import make_arena, make_generation, make_llm, make_pool, make_prompt, make_user

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


def test_the_eligibility_conditions_are_the_ones_the_answers_read_applies():
    """``servable_answers()`` writes ``eligible_generations()``'s conditions as SQL of its own: a
    condition added to one and not the other must fail here, whatever the cases below cover."""
    where = eligibility.eligible_generations().query.where
    conditions = {(str(c.lhs.target), c.lookup_name, c.rhs) for c in where.children}
    assert (where.connector, where.negated) == ("AND", False)
    assert conditions == {
        ("battles.Generation.status", "exact", Generation.Status.DONE),
        ("battles.LLM.status", "exact", LLM.Status.ACTIVE),
        ("battles.Prompt.hidden", "exact", False),
        ("battles.Prompt.pool", "isnull", False),
    }


def _orm_answers(prompt_id: int, versions: tuple[int, int], category: str | None) -> list[Generation]:
    """What ``_pair_answers`` read with the ORM before it was a hot read."""
    answers = eligibility.eligible_generations().filter(llm_version_id__in=versions, prompt_id=prompt_id)
    if category:
        answers = answers.filter(prompt__category=category)
    return list(answers.only("prompt_id", "llm_version_id", "text", "html", "html_key").order_by("pk"))


def _answers_arena():
    """Prompts and answers that are servable and that are not, each for one reason."""
    pool = make_pool()
    alpha, beta, gamma = (make_llm(name) for name in ("alpha", "beta", "gamma"))
    visible = make_prompt(pool, "Visible writing prompt", category="writing")
    reasoning = make_prompt(pool, "Visible reasoning prompt", category="reasoning")
    hidden = make_prompt(pool, "Hidden prompt", category="writing")
    text = "A prompt outside any pool"
    poolless = Prompt.objects.create(pool=None, text=text, category="writing", text_hash=prompt_hash(text))
    prompts = [visible, reasoning, hidden, poolless]
    for prompt, llm in itertools.product(prompts, (alpha, beta, gamma)):
        make_generation(prompt, llm, text=f"«{llm.name}» answers {prompt.pk} — it's fine")
    # More samples of alpha's answer to the visible prompt: one more servable, one failed, one pending.
    make_generation(visible, alpha, sample=1, text="second sample")
    make_generation(visible, alpha, sample=2, status=Generation.Status.FAILED, text="")
    make_generation(visible, alpha, sample=3, status=Generation.Status.PENDING, text="")
    make_generation(reasoning, beta, sample=1, status=Generation.Status.RUNNING, text="partial")
    Prompt.objects.filter(pk=hidden.pk).update(hidden=True)
    llms.retire_or_delete_llm(llm=gamma)
    versions = [llm.current_version().pk for llm in (alpha, beta, gamma)]
    return prompts, versions


def test_the_answers_read_gives_what_the_orm_gives_under_the_eligibility_filter(voter):
    prompts, versions = _answers_arena()
    nowhere = max(versions) + 1000
    found = 0
    for prompt, pair, category in itertools.product(
        prompts + [Prompt(pk=max(p.pk for p in prompts) + 1000)],
        list(itertools.combinations(versions + [nowhere], 2)),
        (None, "writing", "reasoning", "unknown"),
    ):
        read = eligibility.servable_answers(prompt.pk, pair, category)
        expected = _orm_answers(prompt.pk, pair, category)
        assert [g.pk for g in read] == [g.pk for g in expected], (prompt.text, pair, category)
        for answer, wanted in zip(read, expected, strict=True):
            _same_instance(answer, wanted)
            # With its prompt, read in the same query: the new battle's page shows it.
            _same_instance(answer.prompt, Prompt.objects.get(pk=wanted.prompt_id))
        found += len(read)
    assert found, "no case read an answer: the comparison proves nothing"


def test_the_answers_read_serves_only_finished_answers_of_active_llms_to_visible_pool_prompts(voter):
    (visible, reasoning, hidden, poolless), (alpha, beta, gamma) = _answers_arena()
    read = eligibility.servable_answers(visible.pk, (alpha, beta), None)
    assert [(g.llm_version_id, g.text) for g in read] == [
        (alpha, f"«alpha» answers {visible.pk} — it's fine"),
        (beta, f"«beta» answers {visible.pk} — it's fine"),
        (alpha, "second sample"),
    ]
    assert [g.llm_version_id for g in eligibility.servable_answers(visible.pk, (alpha, gamma), None)] == [alpha] * 2
    assert eligibility.servable_answers(hidden.pk, (alpha, beta), None) == []
    assert eligibility.servable_answers(poolless.pk, (alpha, beta), None) == []
    assert [g.llm_version_id for g in eligibility.servable_answers(reasoning.pk, (alpha, beta), "reasoning")] == [
        alpha,
        beta,
    ]
    assert eligibility.servable_answers(reasoning.pk, (alpha, beta), "writing") == []


def test_a_prompt_hidden_or_an_llm_retired_a_moment_ago_is_not_read_by_the_prepared_answers_read(voter):
    (visible, reasoning, *_), (alpha, beta, _) = _answers_arena()
    for _ in range(6):  # past psycopg's prepare threshold: the read runs as a prepared statement
        assert eligibility.servable_answers(visible.pk, (alpha, beta), None)
        assert eligibility.servable_answers(reasoning.pk, (alpha, beta), "reasoning")
    Prompt.objects.filter(pk=visible.pk).update(hidden=True)
    assert eligibility.servable_answers(visible.pk, (alpha, beta), None) == []
    LLM.objects.filter(versions__pk=beta).update(status=LLM.Status.RETIRED)
    assert [g.llm_version_id for g in eligibility.servable_answers(reasoning.pk, (alpha, beta), "reasoning")] == [alpha]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            assert any("battles_generation" in row[0] and "hidden" in row[0] for row in cursor.fetchall())


def test_a_battle_and_a_vote_inserted_as_one_statement_are_the_rows_the_orm_saves(voter):
    """``hot_reads.insert`` stores what ``Model.save()`` stores: defaults, ``auto_now_add``, JSON, the new key."""
    from arena.hot_reads import insert
    from battles.models import Vote

    make_arena(llms=("alpha", "beta"), prompts=1)
    first, second = Generation.objects.order_by("pk")[:2]
    before = timezone.now()
    battle = Battle(
        prompt_id=first.prompt_id,
        generation_a=first,
        generation_b=second,
        version_a_id=first.llm_version_id,
        version_b_id=second.llm_version_id,
        voter=voter,
        identity_leak=True,
        leaked_terms=["o'brien", "gpt-4o"],
    )
    insert(battle)
    assert battle.pk is not None and not battle._state.adding and battle._state.db == "default"
    assert before <= battle.created_at <= timezone.now() and battle.status == Battle.Status.OPEN
    stored = Battle.objects.get(pk=battle.pk)
    for field in Battle._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(battle, field.attname), field.name
    vote = Vote(
        battle=battle,
        voter=voter,
        outcome="tie",
        version_a_id=battle.version_a_id,
        version_b_id=battle.version_b_id,
        flags=["too_fast"],
    )
    insert(vote)
    stored_vote = Vote.objects.get(pk=vote.pk)
    for field in Vote._meta.concrete_fields:
        assert getattr(stored_vote, field.attname) == getattr(vote, field.attname), field.name


def test_a_voters_seen_prompts_are_kept_and_brought_up_to_date_with_their_newest_battles(voter, monkeypatch):
    """The first read is whole; later ones read the battles created since the last read, less the margin,
    so a battle another process served (or one whose INSERT committed late) is seen, and no prompt twice."""
    from django.db import connection as db

    make_arena(llms=("alpha", "beta", "gamma"), prompts=8)
    first = serving.serve_battle(voter=voter).battle
    assert eligibility.seen_prompts(voter).tolist() == [first.prompt_id]
    serving.skip_battle(battle_code=first.code, voter=voter)
    second = serving.serve_battle(voter=voter).battle
    late = serving.serve_battle(voter=make_user()).battle
    # A battle stamped before the last read that committed only now, within the margin.
    Battle.objects.filter(pk=late.pk).update(
        voter=voter, created_at=timezone.now() - eligibility.SEEN_MARGIN + timedelta(seconds=5)
    )
    statements = []
    with db.execute_wrapper(lambda execute, sql, *args: statements.append(sql) or execute(sql, *args)):
        seen = eligibility.seen_prompts(voter)
    assert seen.tolist() == sorted({first.prompt_id, second.prompt_id, late.prompt_id})
    assert len(statements) == 1 and "created_at" in statements[0] and "DISTINCT" not in statements[0]
    # A new process (or a voter it no longer keeps) reads them all again, to the same set.
    eligibility.SEEN.clear()
    assert eligibility.seen_prompts(voter).tolist() == seen.tolist()


def test_only_the_last_voters_seen_prompts_are_kept(monkeypatch):
    monkeypatch.setattr(eligibility, "SEEN_VOTERS_KEPT", 2)
    make_arena(llms=("alpha", "beta"), prompts=3)
    voters = [make_user() for _ in range(3)]
    for person in voters:
        serving.serve_battle(voter=person)
        eligibility.seen_prompts(person)
    assert list(eligibility.SEEN.kept) == [voters[1].pk, voters[2].pk]
