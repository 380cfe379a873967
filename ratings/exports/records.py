"""Votes, battles and leaderboard rows as flat records: what the exports and the API send.

Querysets are ordered by vote id (the order votes were stored, stable under pagination
because votes are never deleted) and read with ``iterator()``, so a caller can stream any
number of them in constant memory.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.utils.crypto import salted_hmac

from battles.models import Vote
from ratings import boards
from ratings.filters import BoardFilter

VOTE_FIELDS = (
    "id", "created_at", "outcome", "winner", "model_a", "model_b", "version_a", "version_b",
    "reasons_a", "reasons_b", "comment", "flagged", "flags", "insider", "live", "imported",
    "time_to_vote_ms", "battle", "category", "pool", "voter",
)
BATTLE_FIELDS = (
    "battle", "created_at", "category", "pool", "prompt", "model_a", "model_b", "version_a", "version_b",
    "answer_a", "answer_b", "outcome", "winner", "vote_id", "voted_at", "live", "identity_leak", "flagged",
    "insider",
)
LEADERBOARD_FIELDS = (
    "rank", "model", "llm", "rating", "lower", "upper", "votes", "wins", "losses", "ties", "both_bad",
    "win_rate", "provisional", "elo", "trueskill_mu", "trueskill_sigma", "style_rating", "style_lower",
    "style_upper", "style_rank", "latency_p50_ms", "cost_per_1000",
)
LIST_FIELDS = ("reasons_a", "reasons_b", "flags")


def voter_pseudonym(voter_id: int | None) -> str | None:
    """A stable pseudonym per voter (HMAC with the secret key): voters can be told apart
    across an export without the export naming anyone."""
    if voter_id is None:
        return None
    return salted_hmac("ratings.exports.voter", str(voter_id)).hexdigest()[:16]


def _winner(vote: Vote) -> str:
    if vote.outcome == Vote.Outcome.A:
        return vote.version_a.llm.name
    if vote.outcome == Vote.Outcome.B:
        return vote.version_b.llm.name
    return vote.outcome


def _strings(value) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def filtered_votes(flt: BoardFilter, *, model: uuid.UUID | None = None) -> QuerySet:
    votes = flt.votes()
    if model is not None:
        votes = votes.filter(Q(version_a__llm__code=model) | Q(version_b__llm__code=model))
    return votes.order_by("id")


def vote_queryset(flt: BoardFilter, *, model: uuid.UUID | None = None) -> QuerySet:
    return filtered_votes(flt, model=model).select_related(
        "version_a__llm", "version_b__llm", "battle__prompt__pool"
    )


def vote_record(vote: Vote) -> dict:
    battle = vote.battle
    prompt = battle.prompt if battle is not None else None
    return {
        "id": vote.pk,
        "created_at": vote.created_at.isoformat(),
        "outcome": vote.outcome,
        "winner": _winner(vote),
        "model_a": vote.version_a.llm.name,
        "model_b": vote.version_b.llm.name,
        "version_a": vote.version_a.label,
        "version_b": vote.version_b.label,
        "reasons_a": _strings(vote.reasons_a),
        "reasons_b": _strings(vote.reasons_b),
        "comment": vote.comment,
        "flagged": vote.flagged,
        "flags": _strings(vote.flags),
        "insider": vote.insider,
        "live": vote.live,
        "imported": vote.imported,
        "time_to_vote_ms": vote.time_to_vote_ms,
        "battle": str(battle.code) if battle is not None else None,
        "category": prompt.category if prompt is not None else None,
        "pool": prompt.pool.name if prompt is not None and prompt.pool is not None else None,
        "voter": voter_pseudonym(vote.voter_id),
    }


def battle_queryset(flt: BoardFilter, *, model: uuid.UUID | None = None) -> QuerySet:
    """Voted battles (votes that have a battle), with the prompt and both answers."""
    return filtered_votes(flt, model=model).filter(battle__isnull=False).select_related(
        "version_a__llm", "version_b__llm", "battle__prompt__pool", "battle__generation_a",
        "battle__generation_b",
    )


def battle_record(vote: Vote) -> dict:
    """A voted battle: prompt, both answers, outcome. A live battle's follow-up turns are not
    included (its first prompt and answers are)."""
    battle = vote.battle
    prompt = battle.prompt
    return {
        "battle": str(battle.code),
        "created_at": battle.created_at.isoformat(),
        "category": prompt.category,
        "pool": prompt.pool.name if prompt.pool is not None else None,
        "prompt": prompt.text,
        "model_a": vote.version_a.llm.name,
        "model_b": vote.version_b.llm.name,
        "version_a": vote.version_a.label,
        "version_b": vote.version_b.label,
        "answer_a": battle.generation_a.text,
        "answer_b": battle.generation_b.text,
        "outcome": vote.outcome,
        "winner": _winner(vote),
        "vote_id": vote.pk,
        "voted_at": vote.created_at.isoformat(),
        "live": battle.live,
        "identity_leak": battle.identity_leak,
        "flagged": vote.flagged,
        "insider": vote.insider,
    }


def leaderboard(flt: BoardFilter, *, style_control: bool = False) -> tuple[dict, list[dict]]:
    """(the board's provenance, its rows best first) for ``flt``; rows carry ``LEADERBOARD_FIELDS``.

    With ``style_control`` the style-controlled rating, interval and rank sit beside the raw
    ones (``style_*``), and the provenance is that of both snapshots.
    """
    snapshot = boards.board_snapshot(flt)
    style = boards.style_snapshot(flt) if style_control else None
    rows = boards.board_rows(snapshot, style=style)
    records = []
    for row in rows:
        record = {name: row.get(name) for name in LEADERBOARD_FIELDS}
        record["llm"] = str(row["llm_code"]) if row.get("llm_code") else None
        records.append(record)
    meta = {
        "filter": flt.params(),
        "style_control": style_control,
        "board": provenance(snapshot),
        "style_board": provenance(style) if style is not None else None,
    }
    return meta, records


def provenance(snapshot) -> dict | None:
    """What makes a snapshot reproducible: its vote count, vote-set hash, engine settings, time."""
    if snapshot is None:
        return None
    return {
        "scope": snapshot.scope,
        "computed_at": snapshot.computed_at.isoformat(),
        "vote_count": snapshot.vote_count,
        "vote_hash": snapshot.vote_hash,
        "settings": snapshot.settings,
    }
