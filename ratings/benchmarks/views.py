"""Benchmark comparison pages for eval leads and admins."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from arena.roles import ADMIN, roles_of
from ratings.access import insiders_only
from ratings.benchmarks import services
from ratings.benchmarks.charts import slope_chart
from ratings.models import Benchmark


def _context(request, report, **extra) -> dict:
    return {
        "report": report,
        "board": report.board,
        "style": report.board.style_control,
        **services.vibes_gap_terms(),
        "is_admin": ADMIN in roles_of(request.user) and request.user.is_staff,
        **extra,
    }


def _style(request) -> bool:
    return request.GET.get("style") == "1"


@insiders_only
def index(request):
    report = services.compare(style_control=_style(request))
    codes = dict(Benchmark.objects.values_list("name", "code"))
    benchmarks = [(c, codes.get(c.benchmark)) for c in report.comparisons if c.benchmark != services.COMPOSITE]
    composite = report.get(services.COMPOSITE)
    return render(
        request,
        "ratings/benchmarks/index.html",
        _context(
            request,
            report,
            benchmarks=benchmarks,
            composite=composite,
            composite_chart=mark_safe(slope_chart(composite)) if composite else "",
        ),
    )


@insiders_only
def detail(request, code):
    bench = get_object_or_404(Benchmark, code=code)
    report = services.compare(benchmark=bench.name, style_control=_style(request), composite=False)
    comparison = report.get(bench.name)
    return render(
        request,
        "ratings/benchmarks/detail.html",
        _context(
            request,
            report,
            benchmark=bench,
            comparison=comparison,
            chart=mark_safe(slope_chart(comparison)) if comparison else "",
        ),
    )


@insiders_only
def composite(request):
    report = services.compare(benchmark=services.COMPOSITE, style_control=_style(request))
    comparison = report.get(services.COMPOSITE)
    weights = list(Benchmark.objects.order_by("name").values_list("name", "weight", "higher_is_better", "code"))
    return render(
        request,
        "ratings/benchmarks/detail.html",
        _context(
            request,
            report,
            benchmark=None,
            comparison=comparison,
            weights=weights,
            chart=mark_safe(slope_chart(comparison, label="Weighted composite against arena rank"))
            if comparison
            else "",
        ),
    )
