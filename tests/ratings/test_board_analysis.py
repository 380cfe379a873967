"""Pure summaries and charts of the leaderboard pages: no database."""

import ast
from pathlib import Path

import pytest

from ratings import analysis, charts

ROOT = Path(__file__).resolve().parents[2]


def test_wilson_interval_matches_the_textbook_value():
    low, high = analysis.wilson_interval(60, 100)
    assert low == pytest.approx(0.5020, abs=1e-4)
    assert high == pytest.approx(0.6906, abs=1e-4)
    assert analysis.wilson_interval(0, 0) is None
    assert analysis.wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)


def test_position_bias_is_reported_only_when_the_interval_excludes_a_half():
    fair = analysis.position_bias({"a": 52, "b": 48, "tie": 10, "both_bad": 5})
    assert not fair["biased"] and fair["left_rate"] == pytest.approx(0.52)
    assert fair["tie_rate"] == pytest.approx(10 / 115) and fair["both_bad_rate"] == pytest.approx(5 / 115)
    assert analysis.position_bias({"a": 700, "b": 300})["biased"]
    assert analysis.position_bias({})["left_rate"] is None


def test_predicted_win_probability_follows_the_elo_scale():
    assert analysis.win_probability(1000, 1000) == 0.5
    assert analysis.win_probability(1400, 1000) == pytest.approx(10 / 11)
    matrix = analysis.predicted_matrix(["x", "y"], {"x": 1100, "y": 1000})
    assert matrix[0][0] is None and matrix[0][1] + matrix[1][0] == pytest.approx(1.0)


def test_head_to_head_tables_count_both_directions():
    table = analysis.head_to_head(["a", "b", "c"], [[0, 1, 6, 2, 1, 1]], order=["b", "a", "c"])
    b, a = 0, 1
    assert table.wins[a][b] == 6 and table.wins[b][a] == 2
    assert table.battles[a][b] == table.battles[b][a] == 10
    # One meaning everywhere: wins plus half the draws (1 tie, 1 both-bad), over all 10 votes.
    assert table.win_rate(a, b) == pytest.approx(0.7)
    assert table.win_rate(b, a) == pytest.approx(0.3)
    assert table.win_rate(0, 2) is None


def test_win_rate_counts_ties_and_both_bad_as_half_a_win():
    assert analysis.win_rate(6, 2, 10) == pytest.approx(0.7)
    assert analysis.win_rate(0, 4, 4) == pytest.approx(0.5)
    assert analysis.win_rate(0, 0, 0) is None


def test_pareto_front_keeps_only_models_nothing_beats_on_both_counts():
    points = [
        ("cheap-good", 1.0, 1100),
        ("cheap-bad", 1.0, 1000),
        ("dear-best", 9.0, 1200),
        ("dear-worse", 10.0, 1050),
        ("unknown", None, 1300),
    ]
    assert analysis.pareto_front(points) == {"cheap-good", "dear-best"}


@pytest.mark.parametrize(
    "flip, votes, fragile", [(5, 10_000, True), (50, 10_000, True), (150, 10_000, False), (None, 100, False)]
)
def test_first_place_is_fragile_below_twenty_votes_or_one_percent(flip, votes, fragile):
    robustness = {"votes_to_flip": flip}
    assert analysis.fragile_top(robustness, votes, max_share=0.01, max_votes=20) is fragile


def _row(model, rating, rank, *, cost=None, latency=None, votes=100, provisional=False):
    return {
        "model": model,
        "rating": rating,
        "lower": rating - 20,
        "upper": rating + 20,
        "rank": rank,
        "votes": votes,
        "provisional": provisional,
        "cost_per_1000": cost,
        "latency_p50_ms": latency,
    }


def test_a_clear_leader_is_recommended_whatever_it_costs():
    route = analysis.route(
        "coding", [_row("best", 1100, 1, cost=9), _row("cheap", 1000, 2, cost=1)], votes=500, min_votes=30
    )
    assert route.recommended["model"] == "best" and route.enough_evidence
    assert "Clear leader" in route.reason


def test_the_cheapest_of_the_models_tied_for_first_is_recommended():
    rows = [
        _row("dear", 1050, 1, cost=9, latency=300),
        _row("cheap", 1040, 1, cost=2, latency=900),
        _row("cheapest-but-behind", 900, 3, cost=0.1, latency=100),
    ]
    route = analysis.route("writing", rows, votes=400, min_votes=30)
    assert [r["model"] for r in route.leaders] == ["dear", "cheap"]
    assert route.cheapest["model"] == "cheap" and route.fastest["model"] == "dear"
    assert route.recommended["model"] == "cheap"
    assert "tied for first" in route.reason


def test_without_costs_the_fastest_tied_leader_is_recommended():
    rows = [_row("slow", 1050, 1, latency=900), _row("fast", 1040, 1, latency=200)]
    assert analysis.route("x", rows, votes=400, min_votes=30).recommended["model"] == "fast"


def test_a_recommendation_on_few_votes_is_marked():
    route = analysis.route("x", [_row("only", 1000, 1, votes=4, provisional=True)], votes=4, min_votes=30)
    assert not route.enough_evidence and "Not enough evidence" in route.reason
    assert analysis.route("x", [], votes=0, min_votes=30).recommended is None


def test_charts_escape_model_names():
    name = '<script>alert("x")</script>'
    rows = [
        {"model": name, "rating": 1000, "lower": 990, "upper": 1010},
        {"model": "b", "rating": 990, "lower": 980, "upper": 1000},
    ]
    svgs = [
        charts.interval_chart(rows),
        charts.scatter_chart(
            [{"key": name, "x": 1.0, "y": 1000}, {"key": "b", "x": 2.0, "y": 990}],
            x_label="cost",
            y_label="rating",
            front={name},
        ),
        charts.line_chart(["d1", "d2"], {name: [{"rating": 1, "lower": 0, "upper": 2}, None]}),
    ]
    for svg in svgs:
        assert svg.startswith("<svg") and "<script" not in svg and "&lt;script&gt;" in svg


def test_scatter_chart_draws_the_pareto_front_as_a_line():
    points = [{"key": "a", "x": 1, "y": 1000}, {"key": "b", "x": 5, "y": 1100}, {"key": "c", "x": 6, "y": 900}]
    svg = charts.scatter_chart(points, x_label="cost", y_label="rating", front={"a", "b"})
    assert svg.count('class="pareto"') == 1 and svg.count('class="front"') == 2
    assert charts.scatter_chart([], x_label="x", y_label="y") == ""


def test_heatmap_colours_are_white_at_even_odds_and_readable():
    assert charts.diverging_colour(0.5) == "rgb(255,255,255)"
    assert charts.diverging_colour(1.0) != charts.diverging_colour(0.0)
    assert charts.text_colour(charts.diverging_colour(1.0)) == "#ffffff"
    assert charts.text_colour("#ffffff") == charts.INK


@pytest.mark.parametrize("module", ["analysis.py", "charts.py"])
def test_board_summaries_do_not_import_django(module):
    tree = ast.parse((ROOT / "ratings" / module).read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.split(".")[0] in ("django", "battles", "ratings") for name in names)


def _x_labels(svg: str, y: str) -> list[tuple[float, str]]:
    import re

    return [(float(x), text) for x, text in re.findall(rf'<text x="([\d.]+)" y="{y}"[^>]*>([^<]*)</text>', svg)]


@pytest.mark.parametrize(
    ("count", "label"), [(30, "2026-12-06 14:00"), (30, "2026-12-06"), (12, "2026-W49"), (60, "12-06"), (2, "x")]
)
def test_over_time_charts_thin_their_date_labels_so_that_none_overlap(count, label):
    labels = [f"{label}#{k:02d}" for k in range(count)]
    series = {"m": [{"rating": 1000 + k, "lower": 990, "upper": 1010} for k in range(count)]}
    svg = charts.line_chart(labels, series)
    shown = _x_labels(svg, "318")
    assert len(shown) >= min(count, 3)
    for (x1, text1), (x2, _) in zip(shown, shown[1:]):
        # Centred labels: half of each label's width on either side, never touching.
        assert x2 - x1 >= len(text1) * charts.CHAR_PX, (text1, x1, x2)


def test_every_series_gets_its_own_colour_blind_safe_colour_or_line_style():
    styles = [charts.series_style(k) for k in range(20)]
    assert len(set(styles)) == 20
    assert [colour for colour, _ in styles[:8]] == list(charts.PALETTE) and len(set(charts.PALETTE)) == 8
    assert "#0072b2" in charts.PALETTE and "#d55e00" in charts.PALETTE  # Okabe–Ito
    series = {f"m{k:02d}": [{"rating": 1000 + k, "lower": 990, "upper": 1010}] * 2 for k in range(10)}
    svg = charts.line_chart(["d1", "d2"], series)
    assert svg.count("<polyline") == 10 and svg.count('stroke-dasharray="6 3"') == 4  # 2 lines + 2 legend keys


@pytest.mark.parametrize(("low", "high"), [(0.5, 3000), (120, 900), (1.2, 1.6), (0.001, 1e9), (3, 30), (0.02, 0.09)])
def test_log_axes_carry_at_least_three_readable_ticks(low, high):
    ticks = charts.log_ticks(low, high)
    assert 2 <= len(ticks) <= 8 and all(low <= t <= high for t in ticks)
    assert len(ticks) >= 3 or high / low < 1.5
    assert ticks == sorted(ticks)


def test_a_log_scatter_within_one_decade_still_labels_its_axis():
    points = [{"key": k, "x": x, "y": 1000 + x} for k, x in (("a", 120.0), ("b", 400.0), ("c", 900.0))]
    svg = charts.scatter_chart(points, x_label="cost", y_label="rating", log_x=True)
    ticks = [text for _, text in _x_labels(svg, "348")]
    assert len(ticks) >= 3, ticks
