"""The read-only JSON API: leaderboards, models, votes, benchmark comparisons.

Built with django-ninja: each endpoint's query parameters are a class in
``ratings.api.params`` and its answers classes in ``ratings.api.schemas``; the same classes
validate and make the OpenAPI document served at /api/schema/ (ninja's own document and docs
pages are off: the docs page loads its assets from a CDN).

Every endpoint but the schema needs ``Authorization: Bearer <token>`` (see
``ratings.api.auth``); session cookies are not accepted, so there is no CSRF surface. Errors
are JSON: ``{"error": code, "detail": message}`` plus ``parameter`` for a bad query
parameter. Answers are never cached (``Cache-Control: no-store``). Only GET is answered; see
``ratings.api.urls``.
"""

from functools import wraps
from typing import Any
from urllib.parse import urlencode

from ninja import NinjaAPI, Query, Router, Status
from ninja.errors import ValidationError
from ninja.renderers import JSONRenderer

from battles.models import LLM, LLMVersion
from ratings.api.auth import AuthError, BearerToken
from ratings.api.params import (
    BadParameter,
    BenchmarkQuery,
    LeaderboardQuery,
    VoteQuery,
    default_page_size,
    refuse_unknown,
)
from ratings.api.schemas import BenchmarkReport, Error, Leaderboard, ModelList, VotePage
from ratings.benchmarks import services as benchmark_services
from ratings.exports import records
from ratings.filter_params import within_calendar
from ratings.models import Benchmark

DESCRIPTION = (
    "Read-only access to the arena's leaderboards, models, votes and benchmark comparison. "
    "Authenticate with `Authorization: Bearer <token>` (tokens: admin, or `manage.py "
    "create_api_token USER`). Vote filters use the leaderboard pages' parameter names. Votes are "
    "paginated by page number in the order they were stored (stable: votes are never deleted)."
)


class Renderer(JSONRenderer):
    # Names stay readable, and a NaN (not JSON) fails loudly instead of reaching a client.
    json_dumps_params = {"ensure_ascii": False, "allow_nan": False}


class ArenaAPI(NinjaAPI):
    def get_content_type(self) -> str:
        # JSON has no charset parameter (RFC 8259): plain application/json
        assert self.renderer.media_type is not None  # the API's renderer is a JSONRenderer
        return self.renderer.media_type


api = ArenaAPI(
    title="Arena API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api",
    openapi_url=None,
    docs_url=None,
    servers=[{"url": "/"}],
    renderer=Renderer(),
)


def error(request, status: int, code: str, detail: str, **extra):
    return api.create_response(request, {"error": code, "detail": detail, **extra}, status=status)


@api.exception_handler(AuthError)
def refuse_access(request, exc: AuthError):
    response = error(request, exc.status, exc.code, exc.detail)
    if exc.status == 401:
        challenge = 'Bearer realm="arena"'
        if exc.code == "invalid_token":
            challenge += ', error="invalid_token"'
        response["WWW-Authenticate"] = challenge
    return response


@api.exception_handler(BadParameter)
def refuse_parameter(request, exc: BadParameter):
    return error(request, 400, "bad_request", exc.detail, parameter=exc.parameter)


@api.exception_handler(ValidationError)
def refuse_value(request, exc: ValidationError):
    # The first bad parameter, in the order the query class declares them; the message of
    # each type is a predicate that follows the parameter's name.
    first = exc.errors[0]
    parameter = str(first["loc"][-1])
    return error(request, 400, "bad_request", f"{parameter} {first['msg']}", parameter=parameter)


def no_store(run):
    @wraps(run)
    def wrapped(request, *args, **kwargs):
        response = run(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def documented(descriptions: dict[int, str]) -> dict:
    """``openapi_extra`` describing each response (status → text)."""
    responses: dict[int, dict[str, Any]] = {status: {"description": text} for status, text in descriptions.items()}
    if 401 in responses:
        responses[401]["headers"] = {
            "WWW-Authenticate": {
                "description": "Bearer challenge (RFC 6750).",
                "required": True,
                "schema": {"type": "string"},
            }
        }
    return {"responses": responses}


ERRORS = {400: Error, 401: Error, 403: Error}
REFUSALS = {
    400: "A query parameter is malformed or unknown; `parameter` names it.",
    401: "No token, a malformed Authorization header, or an unknown or revoked token.",
    403: "The token's owner is no longer an active eval lead or admin.",
}

# Everything but the schema: token required, and never cached (errors included: the
# decorator wraps ninja's whole handling of a request, authentication and parsing too).
data = Router(auth=BearerToken())
data.add_decorator(no_store, mode="view")


@api.get(
    "/schema/",
    auth=None,
    response=dict[str, Any],
    operation_id="schema",
    summary="This document",
    openapi_extra=documented({200: "The OpenAPI document."}),
)
def schema(request):
    return api.get_openapi_schema()


@data.get(
    "/leaderboard/",
    response={200: Leaderboard, **ERRORS},
    operation_id="leaderboard",
    summary="The Bradley–Terry leaderboard for a vote filter",
    openapi_extra=documented({200: "The board, best first, with its provenance.", **REFUSALS}),
)
def leaderboard(request, query: Query[LeaderboardQuery]):
    meta, rows = records.leaderboard(within_calendar(query.board_filter()), style_control=query.style_control)
    return {**meta, "rows": rows}


@data.get(
    "/models/",
    response={200: ModelList, **ERRORS},
    operation_id="models",
    summary="Every LLM with its versions",
    openapi_extra=documented({200: "All LLMs by name.", **REFUSALS}),
)
def models(request):
    # No parameters, so no query class to refuse unknown ones.
    refuse_unknown(request.GET, ())
    versions: dict[int, list[dict]] = {}
    for version in LLMVersion.objects.select_related("llm").order_by("llm_id", "number"):
        versions.setdefault(version.llm_id, []).append(
            {
                "number": version.number,
                "label": version.label,
                "model_id": version.model_id,
                "created_at": version.created_at.isoformat(),
            }
        )
    results = [
        {
            "code": llm.code,
            "name": llm.name,
            "provider": llm.provider,
            "status": llm.status,
            "imported": llm.imported,
            "price_input_per_mtok": float(llm.price_input_per_mtok),
            "price_output_per_mtok": float(llm.price_output_per_mtok),
            "created_at": llm.created_at.isoformat(),
            "versions": versions.get(llm.pk, []),
        }
        for llm in LLM.objects.order_by("name")
    ]
    return {"count": len(results), "results": results}


def page_link(request, number: int) -> str:
    query = request.GET.copy()
    query["page"] = str(number)
    return f"{request.path}?{urlencode(sorted(query.lists()), doseq=True)}"


@data.get(
    "/votes/",
    response={200: VotePage, **ERRORS},
    operation_id="votes",
    summary="Votes, with reasons, comment and flags, one page at a time",
    openapi_extra=documented({200: "A page of votes, oldest first.", **REFUSALS}),
)
def votes(request, query: Query[VoteQuery]):
    flt = within_calendar(query.board_filter())
    number, size = query.page, query.page_size or default_page_size()
    count = records.filtered_votes(flt, model=query.model).count()
    start = (number - 1) * size
    page = list(records.vote_queryset(flt, model=query.model)[start : start + size]) if start < count else []
    return {
        "count": count,
        "page": number,
        "page_size": size,
        "next": page_link(request, number + 1) if start + size < count else None,
        "previous": page_link(request, number - 1) if number > 1 else None,
        "results": list(map(records.vote_recorder(), page)),
    }


@data.get(
    "/benchmarks/",
    response={200: BenchmarkReport, 404: Error, **ERRORS},
    operation_id="benchmarks",
    summary="Benchmark ranks against arena ranks: vibes gap, flags, rank correlations",
    openapi_extra=documented(
        {
            200: "One comparison per benchmark, and the weighted composite.",
            **REFUSALS,
            404: "No benchmark has that name.",
        }
    ),
)
def benchmarks(request, query: Query[BenchmarkQuery]):
    try:
        report = benchmark_services.compare(benchmark=query.benchmark or None, style_control=query.style_control)
    except Benchmark.DoesNotExist:
        detail = f"no benchmark named {query.benchmark!r}"
        return Status(404, {"error": "not_found", "detail": detail, "parameter": "benchmark"})
    composite = None
    if report.composite is not None:
        composite = {
            "weights": report.composite.weights,
            "coverage": report.composite.coverage,
            "left_out": report.composite.left_out,
            "min_coverage": benchmark_services.COMPOSITE_MIN_COVERAGE,
        }
    return {
        "style_control": query.style_control,
        "board": records.provenance(report.board.snapshot),
        "settings": report.settings,
        "comparisons": [c.to_dict() for c in report.comparisons],
        "composite": composite,
        "notes": report.notes,
    }


api.add_router("", data)
