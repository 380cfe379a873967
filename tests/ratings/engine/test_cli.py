import json
import subprocess
import sys
from pathlib import Path

import pytest

from ratings.cli import main
from ratings.engine import fit_bradley_terry

from .factories import make_log, write_votes_csv

ROOT = Path(__file__).resolve().parents[3]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def votes_csv(tmp_path):
    log = make_log(5, 600, seed=3)
    path = tmp_path / "votes.csv"
    write_votes_csv(path, log)
    return path, log


def test_leaderboard_prints_one_row_per_model_best_first(capsys, votes_csv):
    path, log = votes_csv
    code, out, err = run(capsys, "leaderboard", str(path))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "model,rating,lower,upper,rank,votes"
    board = fit_bradley_terry(log.to_table())
    expected = [f"{r.model},{r.rating:.2f},{r.lower:.2f},{r.upper:.2f},{r.rank},{r.votes}" for r in board.rows]
    assert lines[1:] == expected


def test_leaderboard_json_with_bootstrap_anchor_and_seed(capsys, votes_csv):
    path, _ = votes_csv
    code, out, _ = run(
        capsys, "leaderboard", str(path), "--bootstrap", "30", "--seed", "4", "--anchor", "m01=1114", "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["settings"]["ci"] == "bootstrap" and data["settings"]["bootstrap_rounds"] == 30
    assert data["settings"]["seed"] == 4
    assert {r["model"]: r["rating"] for r in data["rows"]}["m01"] == pytest.approx(1114.0)
    assert data["robustness"]["leader"] == data["rows"][0]["model"]
    _, again, _ = run(
        capsys, "leaderboard", str(path), "--bootstrap", "30", "--seed", "4", "--anchor", "m01=1114", "--format", "json"
    )
    assert again == out


def test_both_winner_spellings_of_both_bad_and_extra_columns_are_accepted(capsys, tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(
        "id,model_a,winner,model_b,judge\n1,x,tie (bothbad),y,u\n2,x,both_bad,y,u\n3,y,model_a,x,u\n"
        "4,x,model_b,y,u\n5,x,tie,y,u\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "leaderboard", str(path), "--format", "json")
    assert code == 0, err
    rows = {r["model"]: r for r in json.loads(out)["rows"]}
    assert rows["x"]["both_bad"] == 2 and rows["x"]["ties"] == 1 and rows["y"]["wins"] == 2


def test_bom_and_crlf_files_read_like_plain_ones(capsys, tmp_path, votes_csv):
    path, _ = votes_csv
    plain = path.read_text(encoding="utf-8")
    odd = tmp_path / "odd.csv"
    odd.write_bytes(b"\xef\xbb\xbf" + plain.replace("\n", "\r\n").encode("utf-8"))
    assert run(capsys, "leaderboard", str(odd)) == run(capsys, "leaderboard", str(path))


@pytest.mark.parametrize(
    "content,line,message",
    [
        ("model_a,model_b,winner\nx,y,model_a\nx,y,model_c\n", 3, "unknown winner 'model_c'"),
        ("model_a,model_b,winner\nx,y,model_a\nx,y\n", 3, "expected 3 fields"),
        ("model_a,model_b,winner\nx,y,model_a,extra\n", 2, "expected 3 fields"),
        ("model_a,model_b,winner\nx,x,model_a\n", 2, "same model"),
        ("model_a,model_b,winner\n,y,model_a\n", 2, "model_a is empty"),
        ("model_a,model_b,winner\nx,y,\n", 2, "unknown winner ''"),
        ("model_a,winner\nx,model_a\n", 1, "missing column(s) model_b"),
        ('model_a,model_b,winner\nx,"y"z,tie\n', 2, "malformed CSV"),
        ("", 1, "the file is empty"),
    ],
)
def test_bad_input_names_the_line_and_exits_2(capsys, tmp_path, content, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "leaderboard", str(path))
    assert code == 2
    assert f"line {line}: " in err and message in err
    assert "Traceback" not in err and out == ""


def test_invalid_utf8_names_the_line(capsys, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("model_a,model_b,winner\nx,y,tie\ncaf\u00e9,y,tie\n".encode("latin-1"))
    code, _, err = run(capsys, "leaderboard", str(path))
    assert code == 2 and "line 3" in err and "UTF-8" in err


def test_header_only_file_gives_an_empty_leaderboard(capsys, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("model_a,model_b,winner\n", encoding="utf-8")
    assert run(capsys, "leaderboard", str(path)) == (0, "model,rating,lower,upper,rank,votes\n", "")


def test_missing_file_and_unknown_anchor_are_errors(capsys, tmp_path, votes_csv):
    code, _, err = run(capsys, "leaderboard", str(tmp_path / "nope.csv"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "leaderboard", str(votes_csv[0]), "--anchor", "ghost=1000")
    assert code == 2 and "ghost" in err


def test_bad_flags_exit_2_without_a_traceback(tmp_path, votes_csv):
    for argv in (["--anchor", "m01"], ["--ci", "jackknife"], ["--bootstrap", "0"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ratings", "leaderboard", str(votes_csv[0]), *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr


def test_python_dash_m_ratings_runs_as_a_program(votes_csv):
    proc = subprocess.run(
        [sys.executable, "-m", "ratings", "leaderboard", str(votes_csv[0]), "--format", "csv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("model,rating,lower,upper,rank,votes\n")
    assert len(proc.stdout.strip().splitlines()) == 6


def test_simulate_prints_votes_needed_and_kendall_tau(capsys):
    code, out, err = run(
        capsys,
        "simulate",
        "--policy",
        "uniform",
        "--models",
        "6",
        "--seed",
        "3",
        "--format",
        "json",
        "--target-halfwidth",
        "40",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["policy"] == "uniform" and data["models"] == 6
    assert data["votes_needed"] > 0 and data["max_halfwidth"] < 40
    assert -1 <= data["kendall_tau"] <= 1


def test_simulate_on_the_strengths_of_a_leaderboard_file(capsys, votes_csv, tmp_path):
    path, _ = votes_csv
    code, board_csv, err = run(capsys, "leaderboard", str(path), "--format", "csv")
    assert code == 0, err
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(board_csv)
    code, out, err = run(
        capsys, "simulate", "--policy", "active", "--strengths", str(ratings), "--seed", "1", "--target-halfwidth", "60"
    )
    assert code == 0, err
    data = json.loads(out)
    expected = {row.split(",")[0]: float(row.split(",")[1]) for row in board_csv.strip().splitlines()[1:]}
    assert data["truth"] == pytest.approx(expected) and data["models"] == 5
    assert data["votes_needed"] > 0


def test_simulate_oracle_uses_the_true_strengths(capsys):
    code, out, err = run(
        capsys, "simulate", "--policy", "oracle", "--models", "5", "--seed", "2", "--target-halfwidth", "60"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["policy"] == "oracle" and data["votes_needed"] > 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("model,rating\na,1000\na,1100\n", "line 3: model 'a' appears twice"),
        ("model,rating\na,1000\nb,high\n", "line 3: rating 'high' is not a number"),
        ("model,rating\na,1000\nb,nan\n", "line 3: rating 'nan' is not a finite number"),
        ("name,score\na,1000\n", "line 1: missing column(s) model, rating"),
        ("model,rating\na,1000\n", "need at least two models"),
        ("model,rating\na,1000\nb\n", "line 3: expected 2 columns, got 1"),
        ("", "the file is empty"),
    ],
)
def test_simulate_reports_what_is_wrong_with_a_strengths_file(capsys, tmp_path, text, message):
    path = tmp_path / "ratings.csv"
    path.write_text(text)
    code, out, err = run(capsys, "simulate", "--strengths", str(path))
    assert code == 2 and out == ""
    assert message in err


def test_simulate_refuses_strengths_with_models_or_spread(capsys, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("model,rating\na,1000\nb,1100\n")
    for extra in (["--models", "4"], ["--spread", "50"]):
        code, out, err = run(capsys, "simulate", "--strengths", str(path), *extra)
        assert code == 2 and "leave out --models and --spread" in err
    code, out, err = run(capsys, "simulate", "--strengths", str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err


def test_leaderboard_keeps_plain_maximum_likelihood_by_default_and_prior_changes_it(capsys, tmp_path):
    log = make_log(5, 40, seed=8)
    path = tmp_path / "votes.csv"
    write_votes_csv(path, log)
    code, plain, err = run(capsys, "leaderboard", str(path), "--format", "json")
    assert code == 0, err
    code, with_prior, err = run(capsys, "leaderboard", str(path), "--prior", "150", "--format", "json")
    assert code == 0, err
    plain_rows = {r["model"]: r["rating"] for r in json.loads(plain)["rows"]}
    prior_rows = {r["model"]: r["rating"] for r in json.loads(with_prior)["rows"]}
    table = log.to_table()
    assert plain_rows == {r.model: r.rating for r in fit_bradley_terry(table).rows}
    assert prior_rows == {r.model: r.rating for r in fit_bradley_terry(table, prior_points=150).rows}
    assert json.loads(plain)["settings"]["prior_points"] is None
    assert json.loads(with_prior)["settings"]["prior_points"] == 150.0
    assert max(abs(prior_rows[m] - plain_rows[m]) for m in plain_rows) > 1


@pytest.mark.parametrize("bad", ["-5", "0", "wide", "inf"])
def test_leaderboard_refuses_a_prior_that_is_not_a_positive_number(capsys, votes_csv, bad):
    path, _ = votes_csv
    with pytest.raises(SystemExit) as exit_info:
        main(["leaderboard", str(path), "--prior", bad])
    assert exit_info.value.code == 2
    assert "--prior" in capsys.readouterr().err


def test_simulate_with_the_top1_objective_prints_votes_needed(capsys):
    from ratings.cli import main

    assert (
        main(
            [
                "simulate",
                "--objective",
                "top1",
                "--epsilon",
                "25",
                "--policy",
                "active",
                "--models",
                "8",
                "--seed",
                "1",
                "--format",
                "json",
            ]
        )
        == 0
    )
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["objective"] == "top1" and data["epsilon"] == 25.0 and data["votes_needed"] > 0
    assert main(["simulate", "--objective", "top1", "--epsilon", "-3"]) != 0
