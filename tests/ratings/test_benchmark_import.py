"""Importing benchmark scores: row-level errors, resolution of model names, the command and the admin."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from arena.files.uploads import UploadStore
from ratings.benchmarks import parsing
from ratings.benchmarks.services import import_benchmarks, resolve_stored_scores
from ratings.models import Benchmark, BenchmarkScore, ModelAlias
from tests.factories import make_llm
from tests.ratings.helpers import csv_file

pytestmark = pytest.mark.django_db

GOOD = (
    "model,benchmark,score,higher_is_better,source,date\n"
    "alpha,MMLU,82.5,true,https://example.org/mmlu,2024-05-01\n"
    "BETA,MMLU,79,,,\n"
    "gamma-2024-06,MMLU,70.25,,,\n"
    "alpha,LatencyBench,1.5,false,,\n"
)


def run(text, **kwargs):
    return import_benchmarks(source=csv_file(text), filename="scores.csv", **kwargs)


def test_a_valid_file_imports_every_score_and_creates_the_benchmarks():
    make_llm("alpha")
    report = run(GOOD)
    assert report.ok and report.imported == 4
    mmlu = Benchmark.objects.get(name="MMLU")
    assert mmlu.higher_is_better and mmlu.source == "https://example.org/mmlu"
    assert not Benchmark.objects.get(name="LatencyBench").higher_is_better
    score = BenchmarkScore.objects.get(benchmark=mmlu, model_name="alpha")
    assert score.score == 82.5 and str(score.date) == "2024-05-01"


def test_names_resolve_exactly_then_ignoring_case_then_through_aliases():
    alpha, beta, gamma = make_llm("alpha"), make_llm("beta"), make_llm("gamma")
    ModelAlias.objects.create(name="Gamma-2024-06", llm=gamma)
    run(GOOD)
    resolved = dict(BenchmarkScore.objects.filter(benchmark__name="MMLU").values_list("model_name", "llm"))
    assert resolved == {"alpha": alpha.pk, "BETA": beta.pk, "gamma-2024-06": gamma.pk}


def test_unresolved_names_are_kept_reported_and_resolve_once_an_alias_exists():
    make_llm("alpha")
    report = run(GOOD)
    assert report.imported == 4
    note = " ".join(report.notes)
    assert "match no LLM" in note and "'BETA'" in note and "'gamma-2024-06'" in note
    assert BenchmarkScore.objects.filter(llm__isnull=True).count() == 2
    beta = make_llm("beta")
    ModelAlias.objects.create(name="gamma-2024-06", llm=beta)
    assert resolve_stored_scores() == 2
    assert BenchmarkScore.objects.filter(llm__isnull=True).count() == 0


def test_a_name_matching_two_llms_ignoring_case_stays_unresolved():
    make_llm("Delta")
    make_llm("delta")
    report = run("model,benchmark,score\nDELTA,X,1\n")
    assert BenchmarkScore.objects.get().llm is None
    assert any("several LLMs" in note for note in report.notes)


def test_importing_again_replaces_the_stored_score():
    run("model,benchmark,score\nalpha,MMLU,50\n")
    report = run("model,benchmark,score\nALPHA,mmlu,60\n")
    assert report.imported == 1
    score = BenchmarkScore.objects.get()
    assert (score.model_name, score.score, score.benchmark.name) == ("ALPHA", 60, "MMLU")
    assert Benchmark.objects.count() == 1
    assert any("replaced" in note for note in report.notes)


@pytest.mark.parametrize(
    "row, reason",
    [
        ("alpha,MMLU,abc", "score 'abc' is not a number"),
        ("alpha,MMLU,85%", "without %"),
        ("alpha,MMLU,85,3", "expected 3 fields"),
        ('alpha,MMLU,"85,3"', "use a dot for decimals"),
        ("alpha,MMLU,nan", "not a number"),
        ("alpha,MMLU,1e999", "out of range"),
        ("alpha,MMLU,", "score is empty"),
        (",MMLU,85", "model is empty"),
        ("alpha,  ,85", "benchmark is empty"),
        ("alpha,composite,85", "reserved"),
        ("x" * 201 + ",MMLU,85", "longer than 200"),
    ],
)
def test_bad_rows_are_reported_by_line_and_nothing_is_imported(row, reason):
    report = run(f"model,benchmark,score\nbeta,MMLU,70\n{row}\n")
    assert not report.ok and report.imported == 0
    line, message = report.errors[0]
    assert line == 3 and reason in message
    assert BenchmarkScore.objects.count() == 0 and Benchmark.objects.count() == 0


def test_valid_only_imports_the_good_rows():
    report = run("model,benchmark,score\nbeta,MMLU,70\nalpha,MMLU,oops\ngamma,MMLU,60\n", valid_only=True)
    assert report.imported == 2 and report.error_count == 1
    assert set(BenchmarkScore.objects.values_list("model_name", flat=True)) == {"beta", "gamma"}


def test_bad_dates_and_directions_are_row_errors():
    report = run("model,benchmark,score,higher_is_better,date\na,X,1,maybe,\nb,X,1,,2024-13-01\nc,X,1,,01/05/2024\n")
    assert [line for line, _ in report.sorted_errors()] == [2, 3, 4]
    assert "higher_is_better 'maybe'" in report.errors[0][1]
    assert "not a date" in report.errors[1][1] and "not a date" in report.errors[2][1]


def test_duplicate_and_contradicting_rows_in_one_file_are_errors():
    report = run("model,benchmark,score,higher_is_better\na,X,1,true\nA,x,2,\nb,X,3,false\n")
    errors = dict(report.errors)
    assert "already has a score" in errors[3] and "line 2" in errors[3]
    assert "contradicts line 2" in errors[4]


def test_a_row_contradicting_a_stored_benchmark_direction_is_an_error():
    Benchmark.objects.create(name="Latency", higher_is_better=False)
    report = run("model,benchmark,score,higher_is_better\na,latency,1,true\n")
    assert report.errors == [
        (2, "benchmark 'Latency' is stored as lower is better; change it in the admin first or fix the file")
    ]


def test_an_unknown_column_is_an_error_on_the_header_unless_valid_rows_are_imported():
    text = "model,benchmark,score,notes\nalpha,MMLU,80,keep this\n"
    report = run(text)
    assert report.imported == 0 and report.errors[0][0] == 1 and "unknown column 'notes'" in report.errors[0][1]
    assert report.rows == 1
    report = run(text, valid_only=True)
    assert report.imported == 1


def test_bom_crlf_semicolons_and_quoted_names_are_read():
    text = 'Model;Benchmark;Score\r\n"Big; model";MMLU;80\r\nsmall;MMLU;70\r\n'
    report = import_benchmarks(source=csv_file(text, bom=True), filename="scores.csv")
    assert report.ok and report.imported == 2
    assert set(BenchmarkScore.objects.values_list("model_name", flat=True)) == {"Big; model", "small"}


def test_a_line_that_is_not_utf8_is_reported_by_line():
    data = "model,benchmark,score\nalpha,MMLU,80\ncaf\u00e9,MMLU,70\n".encode("latin-1")
    report = import_benchmarks(source=io.BytesIO(data), filename="scores.csv")
    assert report.imported == 0
    assert report.errors[0][0] == 3 and "not valid UTF-8" in report.errors[0][1]


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"model,benchmark,score\n", "no scores"),
        (b'{"model": "a", "benchmark": "b", "score": 1}\n', "looks like JSON"),
        ("model,benchmark,score\n".encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04" + b"\x00" * 20, "ZIP"),
        (b"\x00\x01\x02binary", "binary"),
        (b"name,value\nalpha,1\n", "missing column(s) model, benchmark, score"),
    ],
)
def test_files_that_are_not_score_csv_are_refused_whole(data, reason):
    report = import_benchmarks(source=io.BytesIO(data), filename="scores.csv")
    assert report.rejected and report.imported == 0
    assert reason in report.errors[0][1]


def test_a_file_over_the_limit_is_refused():
    report = import_benchmarks(source=csv_file("model,benchmark,score\n" + "a,b,1\n" * 100), max_bytes=50)
    assert report.rejected and "larger than the limit" in report.errors[0][1]


def test_dry_run_stores_nothing():
    report = run(GOOD, dry_run=True)
    assert report.valid == 4 and report.imported == 0
    assert not Benchmark.objects.exists()


def test_the_parser_limits_match_the_model_fields():
    assert BenchmarkScore._meta.get_field("model_name").max_length == parsing.MODEL_NAME_MAX
    assert Benchmark._meta.get_field("name").max_length == parsing.BENCHMARK_NAME_MAX
    assert BenchmarkScore._meta.get_field("source").max_length == parsing.SOURCE_MAX


# --- the command -------------------------------------------------------------------------


def test_the_command_imports_and_prints_the_report(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text(GOOD, encoding="utf-8")
    out = io.StringIO()
    call_command("import_benchmarks", str(path), stdout=out)
    assert "4 imported" in out.getvalue()
    assert BenchmarkScore.objects.count() == 4


def test_the_command_fails_with_line_numbers_and_imports_nothing(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("model,benchmark,score\na,X,1\nb,X,bad\n", encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(CommandError, match="--valid-only"):
        call_command("import_benchmarks", str(path), stdout=out)
    assert "line 3: score 'bad' is not a number" in out.getvalue()
    assert not BenchmarkScore.objects.exists()
    call_command("import_benchmarks", str(path), "--valid-only", stdout=io.StringIO())
    assert BenchmarkScore.objects.count() == 1


def test_the_command_names_a_missing_file():
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_benchmarks", "/nonexistent/scores.csv")


# --- the admin ---------------------------------------------------------------------------


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.ARENA_UPLOAD_DIR = tmp_path / "uploads"
    return settings.ARENA_UPLOAD_DIR


def _upload(client, text, name="scores.csv"):
    file = io.BytesIO(text.encode())
    file.name = name
    return client.post("/admin/ratings/benchmark/upload/", {"file": file})


def test_admin_upload_previews_errors_by_line_then_imports_the_valid_rows(client, admin_user, upload_dir):
    client.force_login(admin_user)
    response = _upload(client, "model,benchmark,score\nalpha,MMLU,80\nbeta,MMLU,eighty\n")
    assert response.status_code == 302
    preview_url = response["Location"]
    page = client.get(preview_url).content.decode()
    assert "line 3: score &#x27;eighty&#x27; is not a number" in page
    assert not BenchmarkScore.objects.exists()
    response = client.post(preview_url, {"action": "all"})
    assert not BenchmarkScore.objects.exists()
    response = client.post(preview_url, {"action": "valid"})
    assert response.status_code == 302
    assert list(BenchmarkScore.objects.values_list("model_name", flat=True)) == ["alpha"]
    assert not any(UploadStore(upload_dir).directory.glob("*.upload"))


def test_admin_upload_is_for_admins_only(client, eval_lead, upload_dir):
    eval_lead.is_staff = True
    eval_lead.save()
    client.force_login(eval_lead)
    assert _upload(client, GOOD).status_code == 403


def test_admin_preview_refuses_a_prompt_upload_token(client, admin_user, upload_dir):
    client.force_login(admin_user)
    store = UploadStore(upload_dir)
    store.ensure()
    token = store.new_token()
    store.data_path(token).write_bytes(GOOD.encode())
    store.save_meta(token, {"user": admin_user.pk, "pool": "p", "filename": "x.csv"})
    response = client.get(f"/admin/ratings/benchmark/upload/{token}/")
    assert response.status_code == 302 and response["Location"].endswith("/admin/ratings/benchmark/upload/")


def test_saving_an_alias_in_the_admin_resolves_stored_scores(client, admin_user):
    run("model,benchmark,score\nOpenModel-7B-Instruct,MMLU,60\n")
    llm = make_llm("open-7b")
    client.force_login(admin_user)
    response = client.post("/admin/ratings/modelalias/add/", {"name": "OpenModel-7B-Instruct", "llm": llm.pk})
    assert response.status_code == 302
    assert BenchmarkScore.objects.get().llm == llm


def test_alias_names_are_unique_ignoring_case(client, admin_user):
    llm = make_llm("open-7b")
    ModelAlias.objects.create(name="Open", llm=llm)
    client.force_login(admin_user)
    response = client.post("/admin/ratings/modelalias/add/", {"name": "OPEN", "llm": llm.pk})
    assert response.status_code == 200 and re.search(r"already exists", response.content.decode())


def test_benchmark_weights_are_editable_in_the_admin(client, admin_user):
    bench = Benchmark.objects.create(name="IFEval")
    client.force_login(admin_user)
    response = client.post(
        f"/admin/ratings/benchmark/{bench.pk}/change/",
        {
            "name": "IFEval",
            "higher_is_better": "on",
            "weight": "2.5",
            "source": "",
            "scores-TOTAL_FORMS": "0",
            "scores-INITIAL_FORMS": "0",
            "scores-MIN_NUM_FORMS": "0",
            "scores-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    bench.refresh_from_db()
    assert bench.weight == 2.5
