"""python manage.py leaderboard: the board eval leads see, on the command line."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, days_ago, make_llms, strong_weak

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["model", "rating", "lower", "upper", "rank", "votes", "provisional"]
STYLE_COLUMNS = ["style_rating", "style_lower", "style_upper", "style_rank", "style_provisional"]


@pytest.fixture
def arena():
    llms = make_llms("alpha", "beta", "=gamma")  # a name a spreadsheet would run as a formula
    texts = {"alpha": "# Big\n\n- one\n- two\n", "beta": "plain words", "=gamma": "**bold** text"}
    results = strong_weak("alpha", "beta") + strong_weak("beta", "=gamma") + strong_weak("alpha", "=gamma")
    cast_votes(llms, results, texts=texts)
    cast_votes(llms, strong_weak("=gamma", "alpha", wins=6, losses=3), category="coding", when=days_ago(10))
    return llms


def run(*args) -> str:
    out = io.StringIO()
    call_command("leaderboard", *args, stdout=out)
    return out.getvalue()


def page_rows(client, query: str) -> list[dict]:
    client.force_login(make_user(role="eval_lead"))
    return client.get(f"/leaderboard/?{query}").context["rows"]


@pytest.mark.parametrize(
    ("args", "query"),
    [
        ((), ""),
        (("--category", "writing"), "category=writing"),
        (("--category", "coding", "--insider", "--nolive"), "category=coding&insider=1&nolive=1"),
    ],
)
def test_json_rows_equal_the_rows_of_the_page_for_the_same_filter(client, arena, args, query):
    document = json.loads(run(*args, "--format", "json"))
    expected = [{name: row[name] for name in COLUMNS} for row in page_rows(client, query)]
    assert expected and document["rows"] == expected
    assert document["board"]["vote_count"] == sum(row["votes"] for row in expected) // 2


def test_csv_is_the_same_board_with_formula_text_neutralised(client, arena):
    lines = list(csv.reader(io.StringIO(run("--format", "csv"))))
    assert lines[0] == COLUMNS
    expected = page_rows(client, "")
    assert [line[0] for line in lines[1:]] == [
        "'=gamma" if row["model"] == "=gamma" else row["model"] for row in expected
    ]
    for line, row in zip(lines[1:], expected):
        assert float(line[1]) == pytest.approx(row["rating"]) and int(line[4]) == row["rank"]
        assert float(line[2]) == pytest.approx(row["lower"]) and float(line[3]) == pytest.approx(row["upper"])
        assert int(line[5]) == row["votes"] and line[6] == ("true" if row["provisional"] else "false")


def test_a_date_filter_keeps_only_the_votes_of_those_days(client, arena):
    recent = json.loads(run("--from", days_ago(3).date().isoformat(), "--format", "json"))
    assert recent["board"]["vote_count"] == 30
    assert recent["rows"] == [
        {name: row[name] for name in COLUMNS} for row in page_rows(client, f"from={days_ago(3).date().isoformat()}")
    ]


def test_style_adds_the_style_controlled_columns_of_the_page(client, arena):
    lines = list(csv.reader(io.StringIO(run("--style"))))
    assert lines[0] == COLUMNS + STYLE_COLUMNS
    document = json.loads(run("--style", "--format", "json"))
    expected = page_rows(client, "style=1")
    assert document["rows"] == [{name: row[name] for name in COLUMNS + STYLE_COLUMNS} for row in expected]
    assert all(row["style_rating"] is not None for row in document["rows"])
    assert document["style_board"]["vote_count"] == 39
    # 39 votes, below STYLE_MIN_VOTES (200): the style columns are there, marked provisional.
    assert document["style_votes"] == 39 and document["style_provisional"] is True
    assert all(row["style_provisional"] is True for row in document["rows"])
    assert all(line[-1] == "true" for line in lines[1:])


def test_a_style_board_past_the_threshold_is_not_provisional(client, arena, settings):
    settings.ARENA_STYLE_MIN_VOTES = 39
    document = json.loads(run("--style", "--format", "json"))
    assert document["style_provisional"] is False
    assert all(row["style_provisional"] is False for row in document["rows"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--from", "2024-13-01"), "--from must be a date written YYYY-MM-DD"),
        (("--to", "yesterday"), "--to must be a date written YYYY-MM-DD"),
        (("--pool", "not-a-code"), "--pool must be a code (UUID)"),
        (("--group", "boss"), "--group must be one of voter, eval_lead, admin"),
        (("--category", "x" * 51), "--category is longer than 50 characters"),
        (("--from", "2024-02-01", "--to", "2024-01-01"), "--from (2024-02-01) is after --to (2024-01-01)"),
    ],
)
def test_a_bad_filter_value_is_a_command_error_naming_the_option(args, named):
    with pytest.raises(CommandError, match=named.replace("(", r"\(").replace(")", r"\)")):
        run(*args)


def test_a_bad_date_exits_non_zero_with_a_message_and_no_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "leaderboard", "--from", "2024-13-01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--from must be a date written YYYY-MM-DD" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
