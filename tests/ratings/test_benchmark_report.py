"""The benchmark comparison against the real board: the service, the report command, the pages."""

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from battles.voting import serving, votes
from ratings.benchmarks import services
from ratings.benchmarks.services import board_from_rows
from ratings.models import Benchmark
from tests.factories import make_arena, make_llm, make_user
from tests.ratings.helpers import csv_file, make_board

pytestmark = pytest.mark.django_db

# Eight models 120 points apart: the board orders them m00 (best) .. m07 with narrow intervals.
STRENGTHS = {f"m{k:02d}": 1000.0 - 120 * k for k in range(8)}


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.ARENA_MIN_VOTES = 30
    settings.ARENA_VIBES_GAP_DRAWS = 500


def import_scores(text):
    report = services.import_benchmarks(source=csv_file(text), filename="scores.csv")
    assert report.ok, report.lines()


def scores_csv(benchmark, scores, *, higher_is_better="true", header=True):
    lines = ["model,benchmark,score,higher_is_better"] if header else []
    lines += [f"{model},{benchmark},{score},{higher_is_better}" for model, score in scores.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def board():
    return make_board(STRENGTHS, per_pair=25)


def agreeing():
    return {model: 100 - k for k, model in enumerate(STRENGTHS)}


def disagreeing_about_the_leader():
    scores = agreeing()
    scores["m00"] = 0  # the arena's best model is the benchmark's worst
    return scores


def report_rows(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("benchmark_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_benchmark_that_agrees_with_the_arena_correlates_and_flags_nothing(board):
    import_scores(scores_csv("Agree", agreeing()))
    comparison = services.compare(benchmark="agree").get("Agree")
    assert [row.model for row in comparison.rows] == list(STRENGTHS)
    assert all(row.gap == 0 for row in comparison.rows)
    assert comparison.spearman.estimate == pytest.approx(1.0)
    assert comparison.kendall.estimate == pytest.approx(1.0)
    assert not comparison.flagged


def test_the_arena_leader_ranked_last_by_a_benchmark_is_flagged(board):
    import_scores(scores_csv("Knowledge", disagreeing_about_the_leader()))
    comparison = services.compare(benchmark="Knowledge").get("Knowledge")
    leader = next(row for row in comparison.rows if row.model == "m00")
    assert leader.benchmark_rank == 8 and leader.arena_rank == 1
    assert leader.arena_rank_best == 1 and leader.arena_rank_worst <= 2
    assert leader.gap == 7 and leader.flagged
    assert [row.model for row in comparison.flagged] == ["m00"]
    assert comparison.spearman.estimate < 0.9


def test_models_below_the_minimum_votes_are_not_flagged(board, settings):
    settings.ARENA_MIN_VOTES = 10_000
    import_scores(scores_csv("Knowledge", disagreeing_about_the_leader()))
    assert not services.compare(benchmark="Knowledge").get("Knowledge").flagged


def test_the_thresholds_are_settings(board, settings):
    import_scores(scores_csv("Knowledge", disagreeing_about_the_leader()))
    settings.ARENA_VIBES_GAP_MIN_PLACES = 8  # the leader is misplaced by 7 places
    assert not services.compare(benchmark="Knowledge").get("Knowledge").flagged
    settings.ARENA_VIBES_GAP_MIN_PLACES = 2
    settings.ARENA_VIBES_GAP_MIN_SHARE = 1.0  # 8 places for 8 models
    assert not services.compare(benchmark="Knowledge").get("Knowledge").flagged
    settings.ARENA_VIBES_GAP_MIN_SHARE = 0.2
    settings.ARENA_VIBES_GAP_CONFIDENCE = 0.9
    settings.ARENA_VIBES_GAP_DRAWS = 500
    comparison = services.compare(benchmark="Knowledge").get("Knowledge")
    assert comparison.flagged
    assert (comparison.settings["confidence"], comparison.settings["posterior_draws"]) == (0.9, 500)
    assert comparison.settings["posterior"].startswith("joint")  # the default board keeps its covariance


def test_the_report_prints_one_csv_row_per_model_and_benchmark(board):
    import_scores(
        scores_csv("Knowledge", disagreeing_about_the_leader())
        + "m00,Latency,0.2,false\nm01,Latency,0.5,false\nm02,Latency,0.9,false\n"
    )
    out, err = report_rows("--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "model",
        "benchmark",
        "benchmark_rank",
        "arena_rank",
        "arena_rank_best",
        "arena_rank_worst",
        "gap",
        "flagged",
    ]
    by_benchmark = {}
    for row in rows:
        by_benchmark.setdefault(row["benchmark"], []).append(row)
    assert len(by_benchmark["Knowledge"]) == 8 and len(by_benchmark["Latency"]) == 3
    assert len(by_benchmark["composite"]) == 8
    leader = next(r for r in by_benchmark["Knowledge"] if r["model"] == "m00")
    assert (leader["benchmark_rank"], leader["arena_rank"], leader["gap"], leader["flagged"]) == ("8", "1", "7", "true")
    assert [r["benchmark_rank"] for r in by_benchmark["Latency"]] == ["1", "2", "3"]
    summary = [line for line in err.splitlines() if line.startswith("Knowledge:")][0]
    assert "8 models" in summary and "Spearman" in summary and "Kendall" in summary and "1 flagged" in summary
    assert "[" in summary  # the bootstrap interval


def test_the_report_as_json_for_one_benchmark(board):
    import_scores(scores_csv("Knowledge", disagreeing_about_the_leader()) + "m00,Other,1,true\n")
    out, err = report_rows("--benchmark", "knowledge", "--format", "json")
    rows = json.loads(out)
    assert {row["benchmark"] for row in rows} == {"Knowledge"}
    assert len(rows) == 8
    assert set(rows[0]) == {
        "model",
        "benchmark",
        "benchmark_rank",
        "arena_rank",
        "arena_rank_best",
        "arena_rank_worst",
        "gap",
        "flagged",
    }
    assert err.count("Spearman") == 1


def test_the_report_refuses_an_unknown_benchmark_and_an_empty_arena():
    import_scores(scores_csv("Knowledge", {"m00": 1}))
    with pytest.raises(CommandError, match="no benchmark named 'nope'.*Knowledge"):
        report_rows("--benchmark", "nope")
    with pytest.raises(CommandError, match="no leaderboard yet"):
        report_rows()


def test_ties_in_benchmark_scores_share_the_average_rank(board):
    scores = agreeing()
    scores["m01"] = scores["m02"]
    import_scores(scores_csv("Tied", scores))
    ranks = {row.model: row.benchmark_rank for row in services.compare(benchmark="Tied").get("Tied").rows}
    assert ranks["m01"] == ranks["m02"] == 2.5


def test_scores_under_an_alias_or_another_spelling_count_for_the_llm(board):
    from battles.models import LLM
    from ratings.models import ModelAlias

    ModelAlias.objects.create(name="Model Zero (2024-06)", llm=LLM.objects.get(name="m00"))
    import_scores("model,benchmark,score\nModel Zero (2024-06),B,1\nM01,B,2\nm02,B,3\nunknown,B,4\n")
    comparison = services.compare(benchmark="B").get("B")
    assert {row.model for row in comparison.rows} == {"m00", "m01", "m02"}


def test_the_composite_weights_benchmarks_and_is_compared_like_one(board):
    import_scores(scores_csv("Coding", agreeing()) + scores_csv("Recall", disagreeing_about_the_leader(), header=False))
    Benchmark.objects.filter(name="Coding").update(weight=10)
    Benchmark.objects.filter(name="Recall").update(weight=0.1)
    heavy_coding = services.compare(benchmark="composite").get("composite")
    assert heavy_coding.rows[0].model == "m00" and not heavy_coding.flagged
    Benchmark.objects.filter(name="Coding").update(weight=0.1)
    Benchmark.objects.filter(name="Recall").update(weight=10)
    heavy_recall = services.compare(benchmark="composite").get("composite")
    assert next(r for r in heavy_recall.rows if r.model == "m00").flagged


def test_style_controlled_ranks_come_from_the_style_board():
    """An engine fit: 'verbose' wins by length alone, so it leads the raw board only."""
    from ratings.engine import fit_style_controlled, simulate_style_votes

    strengths = {"verbose": 0, "m1": 40, "m2": 80, "m3": 120, "m4": 160}
    for name in strengths:
        make_llm(name)
    means = np.array([[8, 1, 1, 1]] + [[1, 1, 1, 1]] * 4, float)
    sim = simulate_style_votes(strengths, 4000, [1.0, 0, 0, 0], style_means=means, seed=1)
    fit = fit_style_controlled(sim.votes, sim.style_a, sim.style_b)
    style_rows = [
        {"model": r.model, "rating": r.rating, "lower": r.lower, "upper": r.upper, "votes": r.votes} for r in fit.rows
    ]
    raw_rows = [
        {"model": r.model, "rating": r.raw_rating, "lower": r.raw_lower, "upper": r.raw_upper, "votes": r.votes}
        for r in fit.rows
    ]
    import_scores(scores_csv("Truth", strengths))
    raw = services.compare(benchmark="Truth", board=board_from_rows(raw_rows)).get("Truth")
    styled = services.compare(benchmark="Truth", board=board_from_rows(style_rows, style_control=True)).get("Truth")
    assert {r.model: r.arena_rank for r in raw.rows}["verbose"] == 1
    assert {r.model: r.arena_rank for r in styled.rows}["verbose"] == 5
    assert styled.spearman.estimate > raw.spearman.estimate


def test_the_report_with_style_control_uses_the_style_controlled_snapshot(settings):
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12
    make_arena(llms=("alpha", "beta", "gamma"), prompts=4)
    strength = {"alpha": 3, "beta": 2, "gamma": 1}
    for n in range(2):
        voter = make_user(f"v{n}")
        while (battle := serving.serve_battle(voter=voter).battle) is not None:
            a = battle.generation_a.llm_version.llm.name
            b = battle.generation_b.llm_version.llm.name
            votes.record_vote(battle_code=battle.code, voter=voter, outcome="a" if strength[a] > strength[b] else "b")
    import_scores(scores_csv("Truth", {"alpha": 3, "beta": 2, "gamma": 1}))
    out, err = report_rows("--style-control")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["model"] for r in rows} == {"alpha", "beta", "gamma"}
    assert "(style-controlled)" in err
    assert "note: the style-controlled board is provisional: fitted on" in err  # a handful of votes, not 200
    from ratings import boards
    from ratings.filters import BoardFilter

    style = boards.style_snapshot(BoardFilter())
    expected = {row["model"]: row["rating"] for row in style.payload["rows"]}
    arena_order = [r["model"] for r in sorted(rows, key=lambda r: float(r["arena_rank"]))]
    assert arena_order == sorted(expected, key=lambda m: -expected[m])


# --- pages -------------------------------------------------------------------------------


def test_the_comparison_pages_are_for_eval_leads_and_admins(client, board, voter, eval_lead):
    import_scores(scores_csv("Knowledge", disagreeing_about_the_leader()))
    bench = Benchmark.objects.get()
    client.force_login(voter)
    assert client.get("/benchmarks/").status_code == 403
    assert client.get(f"/benchmarks/{bench.code}/").status_code == 403
    client.force_login(eval_lead)
    page = client.get("/benchmarks/").content.decode()
    assert "Knowledge" in page and "flagged-model" in page
    assert "The vibes gap</strong> is how many places a benchmark puts a model" in page


def test_the_benchmark_page_shows_the_slope_chart_with_the_flagged_model_highlighted(client, board, eval_lead):
    import_scores(scores_csv("Knowledge", disagreeing_about_the_leader()))
    bench = Benchmark.objects.get()
    client.force_login(eval_lead)
    page = client.get(f"/benchmarks/{bench.code}/").content.decode()
    assert "<svg" in page and 'class="slope flagged"' in page
    assert page.count('class="slope flagged"') == 1
    assert '<tr class="flagged">' in page
    style_page = client.get(f"/benchmarks/{bench.code}/?style=1")
    assert style_page.status_code == 200


def test_hostile_model_names_are_escaped_in_the_chart(client, eval_lead):
    make_board({"<script>alert(1)</script>": 1000, "b": 900, "c": 800}, per_pair=20)
    import_scores('model,benchmark,score\n"<script>alert(1)</script>",K,1\nb,K,2\nc,K,3\n')
    client.force_login(eval_lead)
    page = client.get(f"/benchmarks/{Benchmark.objects.get().code}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_the_composite_page_lists_the_weights(client, board, eval_lead):
    import_scores(scores_csv("Coding", agreeing()) + "m00,Recall,1,true\nm01,Recall,2,true\nm02,Recall,3,true\n")
    client.force_login(eval_lead)
    page = client.get("/benchmarks/composite/").content.decode()
    assert 'id="composite-weights"' in page and "Coding" in page and "Recall" in page
    assert "<svg" in page


def test_the_model_page_shows_its_benchmark_ranks(client, board, eval_lead):
    from battles.models import LLM

    import_scores(scores_csv("Knowledge", disagreeing_about_the_leader()))
    client.force_login(eval_lead)
    page = client.get(f"/leaderboard/models/{LLM.objects.get(name='m00').code}/").content.decode()
    section = page.split('id="benchmark-ranks"')[1].split("</section>")[0]
    assert "Knowledge" in section and "8 of 8" in section and "+7" in section and "evaluate by hand" in section
    assert "The vibes gap</strong> is how many places" in section


def test_the_pages_render_before_any_vote_or_score(client, eval_lead):
    client.force_login(eval_lead)
    for url in ("/benchmarks/", "/benchmarks/composite/", "/benchmarks/?style=1"):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "No benchmark scores yet" in client.get("/benchmarks/").content.decode()
    import_scores(scores_csv("Knowledge", {"m00": 1, "m01": 2}))
    page = client.get(f"/benchmarks/{Benchmark.objects.get().code}/").content.decode()
    assert "no leaderboard yet" in page


def test_a_small_arena_with_a_reversed_benchmark_flags_both_ends_and_is_too_small_to_correlate(client, eval_lead):
    """Four models with about 300 votes each: the old rule ("more than 5 places outside the rank
    interval") could not flag anything with fewer than 7 models."""
    strengths = {"w": 1150.0, "x": 1050.0, "y": 950.0, "z": 850.0}
    make_board(strengths, per_pair=100)
    import_scores(scores_csv("Reversed", {"w": 1, "x": 2, "y": 3, "z": 4}))
    comparison = services.compare(benchmark="Reversed").get("Reversed")
    assert {row.model for row in comparison.flagged} >= {"w", "z"}
    assert comparison.too_few_to_correlate and comparison.spearman.estimate is None
    client.force_login(eval_lead)
    page = client.get(f"/benchmarks/{Benchmark.objects.get().code}/").content.decode()
    assert "too few models to correlate" in page and "the vibes gap" in page.lower()
    assert page.count('<tr class="flagged">') >= 2


def test_five_compared_models_get_correlations_with_an_interval(client, eval_lead):
    strengths = {f"n{k}": 1200.0 - 100 * k for k in range(5)}
    make_board(strengths, per_pair=40)
    import_scores(scores_csv("Reversed", {f"n{k}": k for k in range(5)}))
    comparison = services.compare(benchmark="Reversed").get("Reversed")
    assert not comparison.too_few_to_correlate
    rho = comparison.spearman
    assert rho.estimate == pytest.approx(-1.0) and rho.lower is not None and rho.draws > 0
    client.force_login(eval_lead)
    page = client.get("/benchmarks/").content.decode()
    assert "too few models to correlate" not in page and "-1.00" in page
