"""CSV and JSON exports for eval leads and admins: votes, battles, leaderboards.

The vote set is chosen with the leaderboard pages' filter (``ratings.filter_params``: category,
pool, from, to, group, insider, flagged, nolive), plus ``model`` (an LLM's code) for votes
and battles and ``style=1`` for the leaderboard. Votes and battles are streamed; see
``ratings.exports.streams`` for the formats.
"""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from arena.db import stream
from arena.roles import ALL_ROLES
from battles.models import LLM, PromptPool
from ratings.access import insiders_only
from ratings.exports import records, streams
from ratings.filter_params import page_filter, within_calendar
from ratings.filters import BoardFilter, known_categories, without_unknown_values

CHUNK = 2000


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(f"Cannot export: {message}\n", status=400, content_type="text/plain; charset=utf-8")


def _parse(request) -> tuple[BoardFilter | None, uuid.UUID | None, str | None]:
    flt, errors = page_filter(request.GET)
    if not errors:
        # An export is a file: a filter that cannot apply is refused, not dropped.
        _, errors = without_unknown_values(flt)
    if errors:
        return None, None, " ".join(errors)
    flt = within_calendar(flt)
    model = None
    raw = (request.GET.get("model") or "").strip()
    if raw:
        try:
            model = uuid.UUID(raw)
        except ValueError:
            return None, None, "model must be an LLM's code (UUID)."
    return flt, model, None


def _filename(kind: str, fmt: str) -> str:
    return f"arena-{kind}-{timezone.now():%Y%m%d-%H%M%S}.{fmt}"


def _streaming(kind: str, fmt: str, parts) -> StreamingHttpResponse:
    response = StreamingHttpResponse(parts, content_type=streams.FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{_filename(kind, fmt)}"'
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # let nginx pass the stream on as it comes
    return response


@insiders_only
def index(request):
    kinds = (("votes", "Votes"), ("battles", "Battles"), ("leaderboard", "Leaderboard"))
    return render(
        request,
        "ratings/exports.html",
        {
            "formats": list(streams.FORMATS),
            "links": [
                (label, [(fmt, reverse(f"exports:{kind}", args=[fmt])) for fmt in streams.FORMATS])
                for kind, label in kinds
            ],
            "pools": list(PromptPool.objects.order_by("name").values_list("code", "name")),
            "categories": known_categories(),
            "llms": list(LLM.objects.order_by("name").values_list("code", "name")),
            "groups": ALL_ROLES,
            "query": request.GET.urlencode(),
        },
    )


def _export(request, fmt: str, kind: str, queryset, to_record, fields):
    if fmt not in streams.FORMATS:
        return HttpResponse(
            "Unknown format; use csv, json or jsonl.\n", status=404, content_type="text/plain; charset=utf-8"
        )
    flt, model, problem = _parse(request)
    if problem:
        return _bad_request(problem)
    rows = stream(queryset(flt, model=model), CHUNK)
    return _streaming(kind, fmt, streams.render(fmt, fields, streams.mapped(rows, to_record())))


@insiders_only
def votes(request, fmt):
    return _export(request, fmt, "votes", records.vote_queryset, records.vote_recorder, records.VOTE_FIELDS)


@insiders_only
def battles(request, fmt):
    return _export(request, fmt, "battles", records.battle_queryset, records.battle_recorder, records.BATTLE_FIELDS)


@insiders_only
def leaderboard(request, fmt):
    if fmt not in streams.FORMATS:
        return HttpResponse(
            "Unknown format; use csv, json or jsonl.\n", status=404, content_type="text/plain; charset=utf-8"
        )
    flt, _, problem = _parse(request)
    if problem:
        return _bad_request(problem)
    meta, rows = records.leaderboard(flt, style_control=request.GET.get("style") == "1")
    if not meta["freshness"]["fitted"]:
        # Never fitted before: a worker fits it now (an empty file would read as a board without votes).
        response = HttpResponse(
            "This board is being fitted for the first time; try again in a few seconds.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(settings.ARENA_BOARD_REFRESH_SECONDS)
        return response
    if fmt == "json":
        # Small (one row per model): one document that also says which votes and settings made it.
        body = json.dumps({**meta, "rows": rows}, ensure_ascii=False, indent=1, allow_nan=False)
        response = HttpResponse(body + "\n", content_type=streams.FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="{_filename("leaderboard", fmt)}"'
        response["Cache-Control"] = "no-store"
    else:
        response = _streaming("leaderboard", fmt, streams.render(fmt, records.LEADERBOARD_FIELDS, rows))
    board = meta["board"]
    if board is not None:
        response["X-Arena-Vote-Count"] = str(board["vote_count"])
        response["X-Arena-Vote-Hash"] = board["vote_hash"]
    return response
