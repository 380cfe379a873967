"""Leaderboard pages for eval leads and admins (post-vote pages: they name models).

Every page reads the same filter from the query string (see ``ratings.filter_params``) and
shows the snapshot it was computed from: vote count, vote-set hash, engine settings, time.
"""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe

from arena.roles import ALL_ROLES
from battles.models import LLM, PromptPool
from ratings import analysis, boards, charts, decisions, fits
from ratings.access import insiders_may_change, insiders_only
from ratings.benchmarks.services import model_benchmark_ranks, vibes_gap_terms
from ratings.filter_params import page_filter
from ratings.filters import known_categories, without_unknown_values
from ratings.model_pages import model_page as build_model_page
from ratings.quality import integrity_summary
from ratings.scopes import BOARD, STYLE
from ratings.style_gate import style_provisional, style_status, style_votes

TABS = (
    ("ratings:leaderboard", "Board"),
    ("ratings:pairs", "Head to head"),
    ("ratings:history", "Over time"),
    ("ratings:cost", "Cost & latency"),
    ("ratings:decision", "Decision"),
    ("ratings:quality", "Data quality"),
)


def _page(request, *, style_toggle: bool = False) -> dict:
    """The filter and what the filter form needs (two queries: categories and pools)."""
    flt, errors = page_filter(request.GET)
    flt, unknown = without_unknown_values(flt)
    errors = errors + unknown
    style = style_toggle and request.GET.get("style") == "1"
    extra = {"style": "1"} if style else {}
    return {
        "filter": flt,
        "filter_errors": errors,
        "style": style,
        "style_toggle": style_toggle,
        "query": flt.query_string(**extra),
        "filter_query": flt.query_string(),
        "tabs": TABS,
        "categories": known_categories(),
        "pools": list(PromptPool.objects.order_by("name").values_list("code", "name")),
        "groups": ALL_ROLES,
        "min_votes": settings.ARENA_MIN_VOTES,
    }


def _served(context: dict, *served: boards.Served) -> None:
    """What the freshness note needs: each board's lag, and a reload while one waits for its first fit."""
    context["served"] = [s for s in served if s.stale]
    if any(s.waiting for s in served):
        context["refresh_seconds"] = settings.ARENA_BOARD_REFRESH_SECONDS


@insiders_only
def leaderboard(request):
    context = _page(request, style_toggle=True)
    flt = context["filter"]
    served = boards.serve(flt, BOARD)
    snapshot = served.snapshot
    style_served = boards.serve(flt, STYLE) if context["style"] else None
    style = style_served.snapshot if style_served else None
    _served(context, served, *([style_served] if style_served else []))
    rows = boards.board_rows(snapshot, style=style)
    context.update(style_status(style))
    if style is not None:
        for row in rows:
            row["style_provisional"] = context["style_provisional"]
    context.update(
        {
            "snapshot": snapshot,
            "style_snapshot": style,
            "rows": rows,
            "robustness": boards.robustness_of(snapshot),
            "interval_chart": mark_safe(charts.interval_chart(rows)),
            "style_chart": mark_safe(
                charts.interval_chart(
                    style.data.rows,
                    label="Style-controlled ratings with 95% intervals"
                    + (f" (provisional: {style_votes(style)} votes)" if style_provisional(style) else ""),
                )
            )
            if style
            else "",
            # In the engine's order (a snapshot read back from Postgres has its JSON keys reordered).
            "style_coefficients": [
                (name, style.data.coefficients[name])
                for name in fits.STYLE_FEATURES
                if style and style.data.coefficients and name in style.data.coefficients
            ],
            "has_cost": any(r["cost_per_1000"] is not None for r in rows),
            "has_latency": any(r["latency_p50_ms"] is not None for r in rows),
        }
    )
    return render(request, "ratings/leaderboard.html", context)


def _matrix(models, value, tone, text) -> list[dict]:
    out = []
    for i, name in enumerate(models):
        cells = []
        for j in range(len(models)):
            v = value(i, j)
            cells.append(
                {
                    "text": text(v) if i != j else "",
                    "tone": tone(v) if i != j else "heat-self",
                    "title": f"{name} vs {models[j]}",
                }
            )
        out.append({"model": name, "cells": cells})
    return out


@insiders_only
def pairs(request):
    context = _page(request)
    served = boards.serve(context["filter"], BOARD)
    _served(context, served)
    snapshot = served.snapshot
    table = boards.head_to_head(snapshot)
    if table is not None:
        models = table.models
        ratings = snapshot.data.ratings()
        predicted = analysis.predicted_matrix(models, ratings)
        most = max((max(row) for row in table.battles), default=0)
        context.update(
            {
                "models": models,
                "win_rates": _matrix(models, table.win_rate, charts.diverging_tone, percent),
                "battles": _matrix(
                    models,
                    lambda i, j: table.battles[i][j],
                    lambda v: charts.sequential_tone(v, most),
                    lambda v: str(v) if v else "",
                ),
                "predicted": _matrix(models, lambda i, j: predicted[i][j], charts.diverging_tone, percent),
            }
        )
    context["snapshot"] = snapshot
    return render(request, "ratings/pairs.html", context)


@insiders_only
def history(request):
    context = _page(request)
    served = boards.serve_history(context["filter"])
    _served(context, served)
    data = boards.rating_history_of(served)
    context.update(
        {
            "history": data,
            "chart": mark_safe(charts.line_chart(data["labels"], data["series"], bands=len(data["series"]) <= 3)),
        }
    )
    return render(request, "ratings/history.html", context)


@insiders_only
def cost(request):
    context = _page(request)
    served = boards.serve(context["filter"], BOARD)
    _served(context, served)
    snapshot = served.snapshot
    rows = boards.board_rows(snapshot)
    cost_points = [
        {"key": r["model"], "x": r["cost_per_1000"], "y": r["rating"], "low": r["lower"], "high": r["upper"]}
        for r in rows
        if r["cost_per_1000"] is not None
    ]
    latency_points = [
        {"key": r["model"], "x": r["latency_p50_ms"], "y": r["rating"], "low": r["lower"], "high": r["upper"]}
        for r in rows
        if r["latency_p50_ms"] is not None
    ]
    cost_front = analysis.pareto_front((p["key"], p["x"], p["y"]) for p in cost_points)
    latency_front = analysis.pareto_front((p["key"], p["x"], p["y"]) for p in latency_points)
    log_cost = _spread(p["x"] for p in cost_points)
    context.update(
        {
            "snapshot": snapshot,
            "rows": rows,
            "cost_front": cost_front,
            "latency_front": latency_front,
            "cost_chart": mark_safe(
                charts.scatter_chart(
                    cost_points,
                    x_label="cost per 1,000 prompts" + (" (log scale)" if log_cost else ""),
                    y_label="rating",
                    front=cost_front,
                    log_x=log_cost,
                )
            ),
            "latency_chart": mark_safe(
                charts.scatter_chart(latency_points, x_label="p50 latency, ms", y_label="rating", front=latency_front)
            ),
        }
    )
    return render(request, "ratings/cost.html", context)


def _spread(values) -> bool:
    """A log axis when the values span more than a factor of 20."""
    values = [v for v in values if v and v > 0]
    return bool(values) and max(values) / min(values) > 20


@insiders_only
def decision(request):
    context = _page(request)
    result = boards.decision(context["filter"])
    if result.served is not None:
        _served(context, result.served)
    context.update(
        {
            "decision": result,
            "snapshot": result.snapshot,
            "objectives": decisions.objective_statuses(),
            "default_epsilon": settings.ARENA_DECISION_EPSILON,
            "decision_confidence": round(100 * settings.ARENA_DECISION_CONFIDENCE),
        }
    )
    return render(request, "ratings/decision.html", context)


@insiders_may_change
def decision_objective(request):
    """Set or clear a "best within ε" objective; back to the decision page with what happened."""
    category = request.POST.get("category", "")
    if request.POST.get("action") == "clear":
        decisions.clear_objective(category=category)
        messages.success(request, f"Objective cleared for {category or 'the whole arena'}.")
        return redirect("ratings:decision")
    try:
        epsilon = float(request.POST.get("epsilon", ""))
        objective = decisions.set_objective(category=category, epsilon=epsilon, by=request.user)
    except ValueError as exc:
        text = str(exc) if isinstance(exc, decisions.ObjectiveError) else "ε must be a number of rating points."
        messages.error(request, text)
    else:
        messages.success(request, f"Objective set: {objective}.")
    return redirect("ratings:decision")


@insiders_only
def quality(request):
    context = _page(request)
    served = boards.serve(context["filter"], BOARD)
    _served(context, served)
    snapshot = served.snapshot
    totals = (snapshot.data.outcome_totals or {}) if snapshot else {}
    context.update(
        {
            "snapshot": snapshot,
            "bias": analysis.position_bias(totals),
            "totals": totals,
            "integrity": integrity_summary(),
        }
    )
    return render(request, "ratings/quality.html", context)


@insiders_only
def model_page(request, code):
    llm = get_object_or_404(LLM, code=code)
    context = _page(request)
    data = build_model_page(llm, context["filter"])
    history = data["history"]
    context.update(data)
    _served(context, data["served_board"])
    context["history_chart"] = mark_safe(charts.line_chart(history["labels"], history["series"], bands=True))
    # SLOT benchmark_ranks: the benchmark comparison puts this model's benchmark ranks against
    # its arena rank here (see templates/ratings/model.html); nothing is shown while it is absent.
    context["benchmark_ranks"] = model_benchmark_ranks(llm)
    context.update(vibes_gap_terms())
    return render(request, "ratings/model.html", context)


@insiders_only
def integrity(request):
    return render(request, "ratings/integrity.html", integrity_summary())


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f}%"
