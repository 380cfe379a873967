"""Helpers for the leaderboard tests: votes on real battles, created in bulk."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from battles.models import Battle, Vote
from tests.factories import make_generation, make_llm, make_pool, make_prompt, make_user


def make_llms(*names, **extra) -> dict:
    return {name: make_llm(name, **extra) for name in names}


def cast_votes(
    llms: dict,
    results,
    *,
    category="writing",
    pool=None,
    voter=None,
    insider=False,
    flagged=False,
    flags=(),
    live=False,
    when: dt.datetime | None = None,
    texts: dict | None = None,
    answer_stats: dict | None = None,
    reasons_a=(),
    reasons_b=(),
    comment="",
) -> list[Vote]:
    """Votes on battles over one new prompt of ``category``.

    ``results``: ``(name_a, name_b, outcome, count)`` rows. Every LLM in ``llms`` answers
    the prompt once (``texts`` and ``answer_stats`` per name override the answer's text and
    fields such as ``latency_ms`` or ``cost``); each vote gets a battle of its own.
    """
    pool = pool or make_pool()
    prompt = make_prompt(pool, category=category)
    voter = voter or make_user(role="eval_lead" if insider else "voter")
    answers = {}
    for name, llm in llms.items():
        fields = dict((answer_stats or {}).get(name, {}))
        if "cost" in fields:
            fields["cost"] = Decimal(str(fields["cost"]))
        answers[name] = make_generation(prompt, llm, text=(texts or {}).get(name), **fields)
    battles, outcomes = [], []
    for name_a, name_b, outcome, count in results:
        for _ in range(count):
            battles.append(
                Battle(
                    prompt=prompt,
                    generation_a=answers[name_a],
                    generation_b=answers[name_b],
                    version_a=answers[name_a].llm_version,
                    version_b=answers[name_b].llm_version,
                    voter=voter,
                    status=Battle.Status.VOTED,
                    live=live,
                )
            )
            outcomes.append(outcome)
    battles = Battle.objects.bulk_create(battles)
    votes = Vote.objects.bulk_create(
        [
            Vote(
                battle=battle,
                voter=voter,
                outcome=outcome,
                version_a_id=battle.version_a_id,
                version_b_id=battle.version_b_id,
                insider=insider,
                flagged=flagged or bool(flags),
                flags=list(flags),
                live=live,
                reasons_a=list(reasons_a),
                reasons_b=list(reasons_b),
                comment=comment,
            )
            for battle, outcome in zip(battles, outcomes)
        ]
    )
    if when is not None:
        Vote.objects.filter(pk__in=[v.pk for v in votes]).update(created_at=when)
    return votes


def import_votes(llms: dict, results) -> list[Vote]:
    """Historical votes without a battle or voter, as ``import_votes`` stores them."""
    return Vote.objects.bulk_create(
        [
            Vote(
                outcome=outcome, version_a=llms[a].current_version(), version_b=llms[b].current_version(), imported=True
            )
            for a, b, outcome, count in results
            for _ in range(count)
        ]
    )


def strong_weak(a: str, b: str, *, wins=8, losses=2) -> list[tuple]:
    """``a`` beats ``b`` ``wins`` times and loses ``losses`` times, sides alternating."""
    return [
        (a, b, "a", wins // 2),
        (b, a, "b", wins - wins // 2),
        (a, b, "b", losses // 2),
        (b, a, "a", losses - losses // 2),
    ]


def days_ago(n: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)
