"""What the page of one model shows: its board rows, head-to-head results, category
profile, rating over time, the reasons voters gave, and its latency and cost.

Every part is a fixed number of queries whatever the number of models or votes shown
(the snapshots carry the counts; the reasons are one query over this model's votes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from arena.db import stream
from battles.models import LLM, REASON_TAGS
from ratings import analysis, boards
from ratings.filters import BoardFilter

RECENT_COMMENTS = 10


@dataclass
class ReasonTally:
    """Reason tags voters ticked, from this model's point of view."""

    tags: list[str] = field(default_factory=list)
    own_when_won: Counter = field(default_factory=Counter)  # on its answer, when it won
    own_when_lost: Counter = field(default_factory=Counter)  # on its answer, when it lost
    own_when_drawn: Counter = field(default_factory=Counter)  # on its answer, tie or both bad
    winner_when_lost: Counter = field(default_factory=Counter)  # on the other answer, when it lost
    votes_with_reasons: int = 0

    def table(self) -> list[dict]:
        return [
            {
                "tag": tag,
                "won": self.own_when_won[tag],
                "lost": self.own_when_lost[tag],
                "drawn": self.own_when_drawn[tag],
                "opponent": self.winner_when_lost[tag],
            }
            for tag in self.tags
        ]


def _result(side: str, outcome: str) -> str:
    if outcome in ("tie", "both_bad"):
        return outcome
    return "won" if outcome == side else "lost"


def reason_tally(votes, version_ids: set[int]) -> ReasonTally:
    """Count the reason tags of ``votes`` (already restricted to this model) by result."""
    tally = ReasonTally()
    with_reasons = votes.exclude(Q(reasons_a=[]) & Q(reasons_b=[]))
    rows = with_reasons.values_list("version_a_id", "outcome", "reasons_a", "reasons_b")
    for version_a, outcome, reasons_a, reasons_b in stream(rows, 5000):
        side = "a" if version_a in version_ids else "b"
        own, other = (reasons_a, reasons_b) if side == "a" else (reasons_b, reasons_a)
        result = _result(side, outcome)
        tally.votes_with_reasons += 1
        if result == "won":
            tally.own_when_won.update(own)
        elif result == "lost":
            tally.own_when_lost.update(own)
            tally.winner_when_lost.update(other)
        else:
            tally.own_when_drawn.update(own)
    seen = set(tally.own_when_won) | set(tally.own_when_lost) | set(tally.own_when_drawn) | set(tally.winner_when_lost)
    tally.tags = [tag for tag in REASON_TAGS if tag in seen] + sorted(seen - set(REASON_TAGS))
    return tally


def recent_comments(votes, version_ids: set[int], limit: int = RECENT_COMMENTS) -> list[dict]:
    rows = (
        votes.exclude(comment="")
        .select_related("version_a__llm", "version_b__llm")
        .only(
            "outcome",
            "comment",
            "created_at",
            "version_a__number",
            "version_a__llm__name",
            "version_b__number",
            "version_b__llm__name",
        )
        .order_by("-created_at", "-id")[:limit]
    )
    out = []
    for vote in rows:
        side = "a" if vote.version_a_id in version_ids else "b"
        opponent = vote.version_b if side == "a" else vote.version_a
        out.append(
            {
                "result": _result(side, vote.outcome).replace("_", " "),
                "opponent": opponent.label,
                "comment": vote.comment,
                "created_at": vote.created_at,
            }
        )
    return out


def opponents(snapshot, labels: list[str]) -> list[dict]:
    """Head-to-head of each of ``labels`` against every model it met, most battles first,
    with the Bradley–Terry prediction beside the observed score."""
    table = boards.head_to_head(snapshot)
    if table is None:
        return []
    ratings = snapshot.data.ratings()
    index = {name: k for k, name in enumerate(table.models)}
    out: list[dict[str, Any]] = []
    for label in labels:
        i = index.get(label)
        if i is None:
            continue
        for j, other in enumerate(table.models):
            n = table.battles[i][j]
            if i == j or not n:
                continue
            out.append(
                {
                    "model": label,
                    "opponent": other,
                    "battles": n,
                    "wins": table.wins[i][j],
                    "losses": table.wins[j][i],
                    "draws": table.draws[i][j],
                    "win_rate": table.win_rate(i, j),
                    "predicted": analysis.win_probability(ratings[label], ratings[other]),
                }
            )
    out.sort(key=lambda r: (-r["battles"], r["opponent"]))
    return out


def model_page(llm: LLM, flt: BoardFilter) -> dict:
    versions = list(llm.versions.select_related("llm").order_by("-number"))
    version_ids = {v.pk for v in versions}
    labels = [v.label for v in versions]
    served = boards.serve(flt)
    snapshot = served.snapshot
    stats = boards.generation_stats(version_ids | set(snapshot.data.version_ids.values()) if snapshot else version_ids)
    rows = boards.board_rows(snapshot, stats=stats)
    own_rows = [row for row in rows if row["model"] in labels]
    n_models = len(rows)

    profile = []
    for category, category_snapshot in boards.category_boards(flt):
        category_rows = category_snapshot.data.rows
        for row in category_rows:
            if row["model"] in labels:
                profile.append(
                    {
                        **row,
                        "category": category,
                        "models": len(category_rows),
                        "category_votes": category_snapshot.vote_count,
                        "board_query": flt.with_changes(category=category).query_string(),
                    }
                )
    profile.sort(key=lambda r: (r["model"], -r["rating"]))

    history = boards.rating_history(flt)
    series = {label: history["series"][label] for label in labels if label in history["series"]}

    votes = flt.votes().filter(Q(version_a__in=version_ids) | Q(version_b__in=version_ids))
    return {
        "llm": llm,
        "versions": versions,
        "snapshot": snapshot,
        "served_board": served,
        "rows": own_rows,
        "n_models": n_models,
        "opponents": opponents(snapshot, labels) if snapshot else [],
        "profile": profile,
        "history": {"period": history["period"], "labels": history["labels"], "series": series},
        "reasons": reason_tally(votes, version_ids),
        "comments": recent_comments(votes, version_ids),
        "version_stats": [{"label": v.label, **boards.empty_stats(), **stats.get(v.pk, {})} for v in versions],
    }
