"""The read-only JSON API: leaderboards, models, votes, benchmark comparisons.

Every endpoint but the schema needs ``Authorization: Bearer <token>`` (see
``ratings.api.auth``); session cookies are not accepted, so there is no CSRF surface.
Errors are JSON: ``{"error": code, "detail": message}`` plus ``parameter`` for a bad query
parameter. The OpenAPI document in ``ratings.api.schema`` describes all of it, and the tests
hold the views to it with schemathesis.
"""

from __future__ import annotations

import functools
import json
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from battles.models import LLM, LLMVersion
from ratings.api import params
from ratings.api.auth import AuthError, authenticate
from ratings.api.schema import openapi_document
from ratings.benchmarks import services as benchmark_services
from ratings.exports import records
from ratings.models import Benchmark


def error(status: int, code: str, detail: str, **extra) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _json(data: dict) -> JsonResponse:
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "allow_nan": False})
    response["Cache-Control"] = "no-store"
    return response


FILTER_PARAMETERS = ("category", "pool", "from", "to", "group", "insider", "flagged", "nolive")


def api_view(*, parameters: tuple[str, ...] = ()):
    """GET only, bearer token required; parameter errors become 400 JSON.

    A query parameter not in ``parameters`` is refused: a misspelt filter would otherwise be
    ignored silently and the answer would look right while covering other votes.
    """
    return functools.partial(_api_view, parameters=frozenset(parameters))


def _api_view(view, *, parameters: frozenset[str]):
    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "GET":
            response = error(405, "method_not_allowed", "this endpoint only answers GET")
            response["Allow"] = "GET"
            return response
        try:
            request.api_token = authenticate(request.headers.get("Authorization"))
        except AuthError as exc:
            response = error(exc.status, exc.code, exc.detail)
            if exc.status == 401:
                challenge = 'Bearer realm="arena"'
                if exc.code == "invalid_token":
                    challenge += ', error="invalid_token"'
                response["WWW-Authenticate"] = challenge
            return response
        try:
            unknown = sorted(set(request.GET) - parameters)
            if unknown:
                known = ", ".join(sorted(parameters)) or "none"
                raise params.ParameterError(unknown[0], f"unknown parameter {unknown[0]!r} (known: {known})")
            return view(request, *args, **kwargs)
        except params.ParameterError as exc:
            return error(400, "bad_request", exc.detail, parameter=exc.parameter)

    return wrapped


@csrf_exempt
def schema(request):
    if request.method != "GET":
        response = error(405, "method_not_allowed", "this endpoint only answers GET")
        response["Allow"] = "GET"
        return response
    body = json.dumps(openapi_document(), ensure_ascii=False, indent=1)
    return HttpResponse(body, content_type="application/json")


@api_view(parameters=(*FILTER_PARAMETERS, "style_control"))
def leaderboard(request):
    flt = params.board_filter(request.GET)
    style = params.boolean(request.GET, "style_control", False)
    meta, rows = records.leaderboard(flt, style_control=style)
    return _json({**meta, "rows": rows})


@api_view()
def models(request):
    versions: dict[int, list[dict]] = {}
    for version in LLMVersion.objects.select_related("llm").order_by("llm_id", "number"):
        versions.setdefault(version.llm_id, []).append({
            "number": version.number, "label": version.label, "model_id": version.model_id,
            "created_at": version.created_at.isoformat(),
        })
    results = [{
        "code": str(llm.code),
        "name": llm.name,
        "provider": llm.provider,
        "status": llm.status,
        "imported": llm.imported,
        "price_input_per_mtok": float(llm.price_input_per_mtok),
        "price_output_per_mtok": float(llm.price_output_per_mtok),
        "created_at": llm.created_at.isoformat(),
        "versions": versions.get(llm.pk, []),
    } for llm in LLM.objects.order_by("name")]
    return _json({"count": len(results), "results": results})


def _page_link(request, number: int) -> str:
    query = request.GET.copy()
    query["page"] = str(number)
    return f"{request.path}?{urlencode(sorted(query.lists()), doseq=True)}"


@api_view(parameters=(*FILTER_PARAMETERS, "model", "page", "page_size"))
def votes(request):
    flt = params.board_filter(request.GET)
    model = params.code(request.GET, "model")
    number, size = params.page(request.GET)
    queryset = records.filtered_votes(flt, model=model)
    count = queryset.count()
    start = (number - 1) * size
    page = list(records.vote_queryset(flt, model=model)[start:start + size]) if start < count else []
    return _json({
        "count": count,
        "page": number,
        "page_size": size,
        "next": _page_link(request, number + 1) if start + size < count else None,
        "previous": _page_link(request, number - 1) if number > 1 else None,
        "results": list(map(records.vote_recorder(), page)),
    })


@api_view(parameters=("benchmark", "style_control"))
def benchmarks(request):
    name = params.text(request.GET, "benchmark", max_length=params.MAX_NAME_CHARS, min_length=1)
    style = params.boolean(request.GET, "style_control", False)
    try:
        report = benchmark_services.compare(benchmark=name or None, style_control=style)
    except Benchmark.DoesNotExist:
        return error(404, "not_found", f"no benchmark named {name!r}", parameter="benchmark")
    composite = None
    if report.composite is not None:
        composite = {
            "weights": report.composite.weights,
            "coverage": report.composite.coverage,
            "left_out": report.composite.left_out,
            "min_coverage": benchmark_services.COMPOSITE_MIN_COVERAGE,
        }
    return _json({
        "style_control": style,
        "board": records.provenance(report.board.snapshot),
        "settings": report.settings,
        "comparisons": [c.to_dict() for c in report.comparisons],
        "composite": composite,
        "notes": report.notes,
    })
