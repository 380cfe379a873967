"""Which votes a board counts: the filter of the leaderboard pages and its canonical scope.

A filter comes from the query string (``category``, ``pool``, ``from``, ``to``, ``group``,
``insider``, ``flagged``, ``nolive``, parsed by ``ratings.filter_params``; ``style`` is read by
the views), turns into a vote queryset, and names its cached snapshots by a canonical scope
string: equal filters give equal scopes whatever the order or spelling of the parameters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from battles.models import Prompt, PromptPool, Vote
from ratings.scopes import DEFAULT_SCOPE


@dataclass(frozen=True)
class BoardFilter:
    """The vote set of a board. The default (all fields at their defaults) is exactly the
    default board: no insider votes, nothing flagged, live battles included."""

    category: str = ""
    pool: str = ""  # PromptPool.code, as a string
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    group: str = ""
    include_insider: bool = False
    include_flagged: bool = False
    include_live: bool = True

    @property
    def is_default(self) -> bool:
        return self == BoardFilter()

    def params(self) -> dict[str, str]:
        """The query parameters that differ from the defaults, in canonical order."""
        out = {}
        if self.category:
            out["category"] = self.category
        if self.pool:
            out["pool"] = self.pool
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        if self.group:
            out["group"] = self.group
        if self.include_insider:
            out["insider"] = "1"
        if self.include_flagged:
            out["flagged"] = "1"
        if not self.include_live:
            out["nolive"] = "1"
        return out

    def scope(self) -> str:
        """The canonical snapshot scope: ``default`` or ``votes?<sorted parameters>``, or
        ``votes#<SHA-256 of that>`` when it is too long to store (a category in a non-Latin
        script takes up to 12 characters per letter once percent-encoded)."""
        if self.is_default:
            return DEFAULT_SCOPE
        scope = "votes?" + urlencode(sorted(self.params().items()))
        if len(scope) > MAX_SCOPE_CHARS:
            return "votes#" + hashlib.sha256(scope.encode()).hexdigest()
        return scope

    def query_string(self, **extra) -> str:
        params = {**self.params(), **{k: v for k, v in extra.items() if v}}
        return ("?" + urlencode(params)) if params else ""

    def with_changes(self, **changes) -> BoardFilter:
        return replace(self, **changes)

    def without_category(self) -> BoardFilter:
        return replace(self, category="")

    def describe(self) -> str:
        """A short human summary of the vote set."""
        parts = []
        if self.category:
            parts.append(f"category {self.category}")
        if self.pool:
            parts.append("one prompt pool")
        if self.date_from or self.date_to:
            parts.append(f"{self.date_from or '…'} to {self.date_to or '…'}")
        if self.group:
            parts.append(f"voters in group {self.group}")
        parts.append("insider votes included" if self.include_insider else "insider votes excluded")
        parts.append("flagged votes included" if self.include_flagged else "flagged votes excluded")
        if not self.include_live:
            parts.append("live battles excluded")
        return ", ".join(parts)

    def votes(self) -> QuerySet:
        """The votes of this board (a lazy queryset; no query runs here)."""
        conditions = {}
        if not self.include_insider:
            conditions["insider"] = False
        if not self.include_flagged:
            conditions["flagged"] = False
        if not self.include_live:
            conditions["live"] = False
        votes = Vote.objects.filter(**conditions)
        if self.category:
            votes = votes.filter(battle__prompt__category=self.category)
        if self.pool:
            votes = votes.filter(battle__prompt__pool__code=self.pool)
        zone = timezone.get_current_timezone()
        # Bounds at the ends of the calendar exclude nothing, and converting them would overflow.
        if self.date_from and self.date_from > CALENDAR_START:
            start = dt.datetime.combine(self.date_from, dt.time.min)
            votes = votes.filter(created_at__gte=timezone.make_aware(start, zone))
        if self.date_to and self.date_to < CALENDAR_END:
            end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min)
            votes = votes.filter(created_at__lt=timezone.make_aware(end, zone))
        if self.group:
            # A subquery, not a join, so that a vote is never counted twice.
            members = get_user_model().objects.filter(groups__name=self.group).values("pk")
            votes = votes.filter(voter__in=members)
        return votes


# RatingSnapshot.scope holds 200 characters, and a style-controlled board's scope adds "|style".
MAX_SCOPE_CHARS = 190
CALENDAR_START = dt.date(1900, 1, 2)
CALENDAR_END = dt.date(9999, 12, 30)


MAX_LISTED_CATEGORIES = 12


def known_categories() -> list[str]:
    """Every category a prompt has, sorted."""
    return list(Prompt.objects.exclude(category="").order_by("category").values_list("category", flat=True).distinct())


def without_unknown_values(flt: BoardFilter) -> tuple[BoardFilter, list[str]]:
    """``flt`` without a category or pool that nothing has, and a message per value dropped.

    A category no prompt has (a typo, another spelling) would give an empty board or export that
    looks like "no votes"; a pool code of no pool, the same. The caller shows the messages.
    """
    problems = []
    changes: dict[str, str] = {}
    if flt.category and not Prompt.objects.filter(category=flt.category).exists():
        known = known_categories()
        close = [c for c in known if c.casefold() == flt.category.casefold()]
        hint = f" Did you mean “{close[0]}”?" if close else ""
        listed = ", ".join(known[:MAX_LISTED_CATEGORIES]) + (" …" if len(known) > MAX_LISTED_CATEGORIES else "")
        problems.append(
            f"No prompt has the category “{flt.category}”, so it was not applied.{hint} "
            + (f"Categories: {listed}." if known else "No prompt has a category yet.")
        )
        changes["category"] = ""
    if flt.pool and not PromptPool.objects.filter(code=flt.pool).exists():
        problems.append("No prompt pool has that code, so the pool filter was not applied.")
        changes["pool"] = ""
    return (flt.with_changes(**changes) if changes else flt), problems
