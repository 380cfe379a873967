"""Strict query parameters for the JSON API.

The vote filter uses the leaderboard pages' parameter names (``ratings.filters``), so a
page's query string works on the API as it is: ``category``, ``pool`` (a pool's code),
``from`` and ``to`` (YYYY-MM-DD, inclusive), ``group`` (voter, eval_lead, admin),
``insider``, ``flagged``, ``nolive``. Unlike the pages, the API refuses a malformed value
with HTTP 400 naming the parameter instead of ignoring it; every value the OpenAPI schema
allows is accepted (an unknown pool or a ``from`` after ``to`` simply match no votes).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from django.conf import settings

from arena.roles import ADMIN, ALL_ROLES, EVAL_LEAD
from ratings.filters import CALENDAR_END, CALENDAR_START, MAX_CATEGORY_CHARS, BoardFilter

BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
MAX_PAGE = 10_000_000
MAX_NAME_CHARS = 100  # Benchmark.name
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INTEGER = re.compile(r"0|[1-9][0-9]{0,8}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class ParameterError(ValueError):
    def __init__(self, parameter: str, detail: str):
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


def boolean(params, name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw not in BOOLEANS:
        raise ParameterError(name, f"{name} must be one of true, false, 1, 0")
    return BOOLEANS[raw]


def text(params, name: str, *, max_length: int, min_length: int = 0) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    if len(raw) < min_length:
        raise ParameterError(name, f"{name} must not be empty")
    if "\x00" in raw:
        raise ParameterError(name, f"{name} must not contain NUL characters")
    if len(raw) > max_length:
        raise ParameterError(name, f"{name} is longer than {max_length} characters")
    return raw


def date(params, name: str) -> dt.date | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ParameterError(name, f"{name} must be a date written YYYY-MM-DD") from None


def code(params, name: str) -> uuid.UUID | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not _UUID.fullmatch(raw):
        raise ParameterError(name, f"{name} must be a code (UUID)")
    return uuid.UUID(raw)


def integer(params, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    value = int(raw) if _INTEGER.fullmatch(raw) else None
    if value is None or not minimum <= value <= maximum:
        raise ParameterError(name, f"{name} must be an integer from {minimum} to {maximum}")
    return value


def board_filter(params) -> BoardFilter:
    """The vote filter of a request, strictly parsed."""
    group = params.get("group")
    if group is not None and group not in ALL_ROLES:
        raise ParameterError("group", f"group must be one of {', '.join(ALL_ROLES)}")
    pool = code(params, "pool")
    include_insider = boolean(params, "insider", False)
    if group in (EVAL_LEAD, ADMIN):
        include_insider = True  # as on the pages: these groups' votes are all insider votes
    return within_calendar(BoardFilter(
        category=text(params, "category", max_length=MAX_CATEGORY_CHARS) or "",
        pool=str(pool) if pool else "",
        date_from=date(params, "from"),
        date_to=date(params, "to"),
        group=group or "",
        include_insider=include_insider,
        include_flagged=boolean(params, "flagged", False),
        include_live=not boolean(params, "nolive", False),
    ))


def within_calendar(flt: BoardFilter) -> BoardFilter:
    """``flt`` without date bounds that lie beyond any vote.

    They change nothing, and at the ends of the calendar turning them into aware datetimes
    would overflow.
    """
    changes = {}
    if flt.date_from is not None and flt.date_from <= CALENDAR_START:
        changes["date_from"] = None
    if flt.date_to is not None and flt.date_to >= CALENDAR_END:
        changes["date_to"] = None
    return flt.with_changes(**changes) if changes else flt


def page(params) -> tuple[int, int]:
    number = integer(params, "page", default=1, minimum=1, maximum=MAX_PAGE)
    size = integer(params, "page_size", default=min(settings.ARENA_API_PAGE_SIZE, settings.ARENA_API_MAX_PAGE_SIZE),
                   minimum=1, maximum=settings.ARENA_API_MAX_PAGE_SIZE)
    return number, size
