"""Reads of battles' data that other apps may use (with the models and ``battles.signals``).

``ratings`` imports nothing else of battles but the pure pairing policy (an import-linter
contract holds it). ``generation_summary``: cost and latency of generations per LLM version,
the one read path for these numbers (the job page, the admin summary and the eval lead's
pages all call it).
"""

from __future__ import annotations

import math
from decimal import Decimal

from django.db.models import Count

from arena.db import stream
from battles.models import Generation, LLMVersion


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) of already sorted values, interpolating linearly; None if empty."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(sorted_values[low])
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def generation_summary(version_ids=None, *, include_imported: bool = False) -> list[dict]:
    """Per LLM version, over its completed answers (those made by Arena unless ``include_imported``).

    Each dict: ``version_id``, ``label``, ``llm`` (name), ``answers`` (done),
    ``failed``, ``p50_latency_ms``, ``p95_latency_ms``, ``p50_ttft_ms``,
    ``p95_ttft_ms``, ``mean_tokens_in``, ``mean_tokens_out``, ``tokens_in``,
    ``tokens_out`` (totals), ``cost`` (total, Decimal) and ``cost_per_1000``
    (mean cost of an answer × 1,000, i.e. the cost of answering 1,000 prompts
    once). A figure with no data is None. Versions asked for by id are always
    listed; otherwise every version with at least one finished generation.
    Ordered by label.
    """
    generations = Generation.objects.all()
    if not include_imported:
        generations = generations.filter(imported=False)
    if version_ids is not None:
        version_ids = list(version_ids)
        generations = generations.filter(llm_version_id__in=version_ids)
    data: dict[int, dict[str, list]] = {}

    def bucket(version_id: int) -> dict[str, list]:
        return data.setdefault(version_id, {"latency": [], "ttft": [], "in": [], "out": [], "cost": []})

    rows = generations.filter(status=Generation.Status.DONE).values_list(
        "llm_version_id", "latency_ms", "ttft_ms", "tokens_in", "tokens_out", "cost"
    )
    answers: dict[int, int] = {}
    for version_id, latency, ttft, tokens_in, tokens_out, cost in stream(rows, 5000):
        values = bucket(version_id)
        answers[version_id] = answers.get(version_id, 0) + 1
        for key, value in (
            ("latency", latency),
            ("ttft", ttft),
            ("in", tokens_in),
            ("out", tokens_out),
            ("cost", cost),
        ):
            if value is not None:
                values[key].append(value)
    failed = dict(
        generations.filter(status=Generation.Status.FAILED)
        .values_list("llm_version_id")
        .annotate(n=Count("id"))
        .values_list("llm_version_id", "n")
    )
    wanted = set(version_ids) if version_ids is not None else set(answers) | set(failed)
    versions = LLMVersion.objects.filter(pk__in=wanted).select_related("llm")
    summary = []
    for version in versions:
        values = bucket(version.pk)
        latency, ttft = sorted(values["latency"]), sorted(values["ttft"])
        costs: list[Decimal] = values["cost"]
        mean_cost = sum(costs, Decimal(0)) / len(costs) if costs else None
        summary.append(
            {
                "version_id": version.pk,
                "label": version.label,
                "llm": version.llm.name,
                "answers": answers.get(version.pk, 0),
                "failed": failed.get(version.pk, 0),
                "p50_latency_ms": percentile(latency, 50),
                "p95_latency_ms": percentile(latency, 95),
                "p50_ttft_ms": percentile(ttft, 50),
                "p95_ttft_ms": percentile(ttft, 95),
                "mean_tokens_in": _mean(values["in"]),
                "mean_tokens_out": _mean(values["out"]),
                "tokens_in": sum(values["in"]),
                "tokens_out": sum(values["out"]),
                "cost": sum(costs, Decimal(0)) if costs else None,
                "cost_per_1000": mean_cost * 1000 if mean_cost is not None else None,
            }
        )
    summary.sort(key=lambda row: (row["label"].casefold(), row["version_id"]))
    return summary
