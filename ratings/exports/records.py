"""Votes, battles and leaderboard rows as flat records: what the exports and the API send.

Querysets are ordered by vote id (the order votes were stored, stable under pagination
because votes are never deleted), yield plain values, and are read with ``arena.db.stream``, so a
caller can stream any number of them in constant memory.
"""

from __future__ import annotations

import functools
import uuid

from django.db.models import Q, QuerySet
from django.utils.crypto import salted_hmac

from battles.models import LLMVersion, Vote
from ratings import boards, fits
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot
from ratings.scopes import BOARD, STYLE
from ratings.style_gate import style_provisional, style_votes

VOTE_FIELDS = (
    "id",
    "created_at",
    "outcome",
    "winner",
    "model_a",
    "model_b",
    "version_a",
    "version_b",
    "reasons_a",
    "reasons_b",
    "comment",
    "flagged",
    "flags",
    "insider",
    "live",
    "imported",
    "time_to_vote_ms",
    "battle",
    "category",
    "pool",
    "voter",
)
BATTLE_FIELDS = (
    "battle",
    "created_at",
    "category",
    "pool",
    "prompt",
    "model_a",
    "model_b",
    "version_a",
    "version_b",
    "answer_a",
    "answer_b",
    "outcome",
    "winner",
    "vote_id",
    "voted_at",
    "live",
    "identity_leak",
    "flagged",
    "insider",
)
LEADERBOARD_FIELDS = (
    "rank",
    "model",
    "llm",
    "rating",
    "lower",
    "upper",
    "votes",
    "wins",
    "losses",
    "ties",
    "both_bad",
    "win_rate",
    "provisional",
    "elo",
    "trueskill_mu",
    "trueskill_sigma",
    "style_rating",
    "style_lower",
    "style_upper",
    "style_rank",
    "style_provisional",
    "latency_p50_ms",
    "cost_per_1000",
)
LIST_FIELDS = ("reasons_a", "reasons_b", "flags")


def voter_pseudonym(voter_id: int | None) -> str | None:
    """A stable pseudonym per voter (HMAC with the secret key): voters can be told apart
    across an export without the export naming anyone."""
    if voter_id is None:
        return None
    return salted_hmac("ratings.exports.voter", str(voter_id)).hexdigest()[:16]


def _strings(value) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def filtered_votes(flt: BoardFilter, *, model: uuid.UUID | None = None) -> QuerySet:
    votes = flt.votes()
    if model is not None:
        votes = votes.filter(Q(version_a__llm__code=model) | Q(version_b__llm__code=model))
    return votes.order_by("id")


# Rows are plain values, not model instances: building eight related objects per vote cost
# most of an export's time. Model names come from one small table of versions.
VOTE_COLUMNS = (
    "pk",
    "created_at",
    "outcome",
    "version_a_id",
    "version_b_id",
    "reasons_a",
    "reasons_b",
    "comment",
    "flagged",
    "flags",
    "insider",
    "live",
    "imported",
    "time_to_vote_ms",
    "voter_id",
    "battle__code",
    "battle__prompt__category",
    "battle__prompt__pool__name",
)
BATTLE_COLUMNS = (
    "pk",
    "created_at",
    "outcome",
    "version_a_id",
    "version_b_id",
    "flagged",
    "insider",
    "battle__code",
    "battle__created_at",
    "battle__live",
    "battle__identity_leak",
    "battle__prompt__category",
    "battle__prompt__pool__name",
    "battle__prompt__text",
    "battle__generation_a__text",
    "battle__generation_b__text",
)


def vote_queryset(flt: BoardFilter, *, model: uuid.UUID | None = None) -> QuerySet:
    return filtered_votes(flt, model=model).values(*VOTE_COLUMNS)


def battle_queryset(flt: BoardFilter, *, model: uuid.UUID | None = None) -> QuerySet:
    """Voted battles (votes that have a battle), with the prompt and both answers."""
    return filtered_votes(flt, model=model).filter(battle__isnull=False).values(*BATTLE_COLUMNS)


class _Versions(dict):
    """version id → (LLM name, board label), loaded on first use of an unknown id."""

    def __missing__(self, version_id):
        for version in LLMVersion.objects.select_related("llm").exclude(pk__in=list(self)):
            self[version.pk] = (version.llm.name, version.label)
        if version_id not in self:
            raise KeyError(version_id)
        return self[version_id]


def _winner(row: dict, versions: _Versions) -> str:
    if row["outcome"] == Vote.Outcome.A:
        return versions[row["version_a_id"]][0]
    if row["outcome"] == Vote.Outcome.B:
        return versions[row["version_b_id"]][0]
    return row["outcome"]


def vote_recorder():
    """A function turning a ``vote_queryset`` row into the export/API record."""
    versions = _Versions()
    pseudonyms = functools.lru_cache(maxsize=100_000)(voter_pseudonym)

    def vote_record(row: dict) -> dict:
        model_a, label_a = versions[row["version_a_id"]]
        model_b, label_b = versions[row["version_b_id"]]
        code = row["battle__code"]
        return {
            "id": row["pk"],
            "created_at": row["created_at"].isoformat(),
            "outcome": row["outcome"],
            "winner": _winner(row, versions),
            "model_a": model_a,
            "model_b": model_b,
            "version_a": label_a,
            "version_b": label_b,
            "reasons_a": _strings(row["reasons_a"]),
            "reasons_b": _strings(row["reasons_b"]),
            "comment": row["comment"],
            "flagged": row["flagged"],
            "flags": _strings(row["flags"]),
            "insider": row["insider"],
            "live": row["live"],
            "imported": row["imported"],
            "time_to_vote_ms": row["time_to_vote_ms"],
            "battle": str(code) if code is not None else None,
            "category": row["battle__prompt__category"],
            "pool": row["battle__prompt__pool__name"],
            "voter": pseudonyms(row["voter_id"]),
        }

    return vote_record


def battle_recorder():
    """A function turning a ``battle_queryset`` row into a voted battle: prompt, both answers,
    outcome. A live battle's follow-up turns are not included (its first prompt and answers are)."""
    versions = _Versions()

    def battle_record(row: dict) -> dict:
        model_a, label_a = versions[row["version_a_id"]]
        model_b, label_b = versions[row["version_b_id"]]
        return {
            "battle": str(row["battle__code"]),
            "created_at": row["battle__created_at"].isoformat(),
            "category": row["battle__prompt__category"],
            "pool": row["battle__prompt__pool__name"],
            "prompt": row["battle__prompt__text"],
            "model_a": model_a,
            "model_b": model_b,
            "version_a": label_a,
            "version_b": label_b,
            "answer_a": row["battle__generation_a__text"],
            "answer_b": row["battle__generation_b__text"],
            "outcome": row["outcome"],
            "winner": _winner(row, versions),
            "vote_id": row["pk"],
            "voted_at": row["created_at"].isoformat(),
            "live": row["battle__live"],
            "identity_leak": row["battle__identity_leak"],
            "flagged": row["flagged"],
            "insider": row["insider"],
        }

    return battle_record


def leaderboard(flt: BoardFilter, *, style_control: bool = False, fit: bool = False) -> tuple[dict, list[dict]]:
    """(the board's provenance, its rows best first) for ``flt``; rows carry ``LEADERBOARD_FIELDS``.

    With ``style_control`` the style-controlled rating, interval and rank sit beside the raw
    ones (``style_*``; ``style_provisional`` below ``ARENA_STYLE_MIN_VOTES``), and the provenance
    is that of both snapshots. The boards are served as pages serve them (``boards.serve``: the
    newest snapshots, a refit queued when behind; the provenance says how far behind); ``fit``:
    fitted now instead (the command line).
    """
    snapshot: RatingSnapshot | None
    if fit:
        snapshot = fits.fit_board(flt)
        style = fits.fit_style(flt) if style_control else None
        served = [boards.Served(snapshot)]
    else:
        served = [boards.serve(flt, BOARD), *([boards.serve(flt, STYLE)] if style_control else [])]
        snapshot = served[0].snapshot
        style = served[1].snapshot if style_control else None
    rows = boards.board_rows(snapshot, style=style)
    provisional_style = style_provisional(style) if style is not None else None
    records = []
    for row in rows:
        record = {name: row.get(name) for name in LEADERBOARD_FIELDS}
        record["llm"] = str(row["llm_code"]) if row.get("llm_code") else None
        record["style_provisional"] = provisional_style
        records.append(record)
    meta = {
        "filter": flt.params(),
        "style_control": style_control,
        "board": provenance(snapshot),
        "style_board": provenance(style) if style is not None else None,
        "freshness": {
            "fitted": not any(board.waiting for board in served),
            "votes_behind": max(board.behind for board in served),
            "vote_set_changed": any(board.changed for board in served),
            "refitting": any(board.refitting for board in served),
        },
        "style_votes": style_votes(style) if style is not None else None,
        "style_provisional": provisional_style,
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
