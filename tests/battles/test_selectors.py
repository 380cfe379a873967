"""Cost and latency per model: the summary the job page and the eval lead's pages show."""

from decimal import Decimal

import pytest

from battles import selectors as stats
from tests.factories import make_generation, make_llm, make_pool, make_prompt


def test_percentiles_interpolate_between_ranks():
    values = [100, 200, 300, 400]
    assert stats.percentile(values, 50) == 250
    assert stats.percentile(values, 95) == pytest.approx(385)
    assert stats.percentile([7], 95) == 7
    assert stats.percentile([], 50) is None


@pytest.mark.django_db
def test_the_summary_gives_latency_percentiles_tokens_and_cost_per_thousand_prompts_per_model():
    pool = make_pool()
    fast, slow = make_llm("fast"), make_llm("slow")
    prompts = [make_prompt(pool, f"Stats prompt {i}") for i in range(4)]
    for i, prompt in enumerate(prompts):
        make_generation(
            prompt,
            fast,
            latency_ms=100 * (i + 1),
            ttft_ms=10 * (i + 1),
            tokens_in=20,
            tokens_out=100 + i,
            cost=Decimal("0.002"),
        )
    make_generation(prompts[0], slow, latency_ms=5000, ttft_ms=None, tokens_in=None, tokens_out=None, cost=None)
    make_generation(prompts[1], slow, status="failed", text="", error="HTTP 500")
    make_generation(prompts[2], slow, imported=True, latency_ms=1, cost=Decimal("9"))  # not ours: left out

    rows = {row["llm"]: row for row in stats.generation_summary()}
    fast_row = rows["fast"]
    assert fast_row["answers"] == 4 and fast_row["failed"] == 0
    assert fast_row["p50_latency_ms"] == 250 and fast_row["p95_latency_ms"] == pytest.approx(385)
    assert fast_row["p50_ttft_ms"] == 25
    assert fast_row["mean_tokens_in"] == 20 and fast_row["mean_tokens_out"] == 101.5
    assert fast_row["cost"] == Decimal("0.008") and fast_row["cost_per_1000"] == Decimal("2.000")
    slow_row = rows["slow"]
    assert (slow_row["answers"], slow_row["failed"], slow_row["p50_latency_ms"]) == (1, 1, 5000)
    assert slow_row["p50_ttft_ms"] is None and slow_row["cost_per_1000"] is None

    only_slow = stats.generation_summary([slow.current_version().pk])
    assert [row["llm"] for row in only_slow] == ["slow"]
    unused = make_llm("unused")
    assert stats.generation_summary([unused.current_version().pk])[0]["answers"] == 0
