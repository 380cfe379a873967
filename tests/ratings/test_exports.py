"""CSV and JSON exports: access, formula neutralisation, streaming, filters."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arena.csvsafe import csv_line, safe_cell
from battles.models import Battle, Vote
from battles.voting import serving, votes
from ratings import services
from ratings.exports import streams
from tests.factories import make_arena, make_user
from tests.ratings.helpers import make_votes

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture(autouse=True)
def _instant_votes(settings):
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12


def vote_once(voter, *, outcome="a", comment="", reasons_a=()):
    battle = serving.serve_battle(voter=voter).battle
    votes.record_vote(battle_code=battle.code, voter=voter, outcome=outcome, comment=comment, reasons_a=list(reasons_a))
    return Battle.objects.get(pk=battle.pk)


def rows_of(response):
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_cells_starting_with_formula_characters_are_neutralised():
    for text in HOSTILE:
        assert safe_cell(text) == "'" + text
    assert safe_cell("plain") == "plain"
    assert safe_cell(" =leading space") == " =leading space"
    # Numbers the app computes stay numbers.
    assert safe_cell(-3) == -3 and safe_cell(-2.5) == -2.5
    assert csv_line(["=1+1", -3, True, None]) == "'=1+1,-3,true,\r\n"


def test_exports_are_for_eval_leads_and_admins(client, voter, eval_lead):
    assert client.get("/exports/votes.csv").status_code == 302  # to the login page
    client.force_login(voter)
    for path in ("/exports/", "/exports/votes.csv", "/exports/battles.json", "/exports/leaderboard.csv"):
        assert client.get(path).status_code == 403
    client.force_login(eval_lead)
    assert client.get("/exports/").status_code == 200
    assert client.get("/exports/votes.csv").status_code == 200


def test_hostile_comments_and_names_are_neutralised_in_the_votes_csv(client, eval_lead):
    make_arena(llms=("=cmd|' /C calc'!A0", "beta"), prompts=len(HOSTILE))
    voter = make_user("v1")
    for text in HOSTILE:
        battle = vote_once(voter, comment="placeholder", reasons_a=["correct", "clear"])
        # Stored as is: the voting form strips whitespace, other sources (imports, the admin) may not.
        Vote.objects.filter(battle=battle).update(comment=text)
    client.force_login(eval_lead)
    response = client.get("/exports/votes.csv")
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = rows_of(response)
    assert sorted(r["comment"] for r in rows) == sorted("'" + text for text in HOSTILE)
    for row in rows:
        assert row["model_a"] in ("'=cmd|' /C calc'!A0", "beta") and row["model_b"] in ("'=cmd|' /C calc'!A0", "beta")
        assert row["reasons_a"] == "correct;clear"
        assert row["insider"] == "false" and row["outcome"] == "a"
    # No raw cell anywhere starts with a formula character.
    body = b"".join(client.get("/exports/votes.csv").streaming_content).decode()
    for record in csv.reader(io.StringIO(body)):
        for cell in record:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_hostile_prompts_and_answers_are_neutralised_in_the_battles_csv(client, eval_lead):
    pool, llms, prompts = make_arena(llms=("alpha", "beta"), prompts=1)
    prompt = prompts[0]
    prompt.text = '=WEBSERVICE("http://evil")'
    prompt.save()
    for generation in prompt.generations.all():
        generation.text = "@SUM(1+1)*cmd|' /C calc'!A0"
        generation.save()
    battle = vote_once(make_user("v1"), outcome="b")
    client.force_login(eval_lead)
    rows = rows_of(client.get("/exports/battles.csv"))
    assert len(rows) == 1
    row = rows[0]
    assert row["prompt"] == '\'=WEBSERVICE("http://evil")'
    assert row["answer_a"] == row["answer_b"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row["battle"] == str(battle.code) and row["outcome"] == "b"
    assert row["winner"] == battle.version_b.llm.name


def test_the_json_export_is_one_array_and_jsonl_one_object_per_line(client, eval_lead):
    make_arena(llms=("alpha", "beta"), prompts=3)
    voter = make_user("v1")
    for _ in range(3):
        vote_once(voter, comment='multi\nline "quoted"')
    client.force_login(eval_lead)
    body = b"".join(client.get("/exports/votes.json").streaming_content).decode()
    data = json.loads(body)
    assert len(data) == 3 and data[0]["comment"] == 'multi\nline "quoted"'
    assert data[0]["reasons_a"] == [] and isinstance(data[0]["flags"], list)
    lines = b"".join(client.get("/exports/battles.jsonl").streaming_content).decode().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["answer_a"] for line in lines)


def test_exports_are_streamed_and_read_nothing_before_the_body_is_consumed(client, eval_lead, monkeypatch):
    make_votes({"alpha": 1000, "beta": 900}, per_pair=300)
    monkeypatch.setattr(streams, "PIECE_CHARS", 1000)
    client.force_login(eval_lead)
    response = client.get("/exports/votes.csv")
    assert response.streaming
    with CaptureQueriesContext(connection) as queries:
        pieces = response.streaming_content
        first = next(pieces)
    assert any("battles_vote" in q["sql"] for q in queries.captured_queries)
    rest = list(pieces)
    assert len(rest) > 5  # many pieces, not one body
    assert (first + b"".join(rest)).decode().count("\r\n") == 301


def test_export_filters_follow_the_leaderboard_filter(client, eval_lead):
    make_arena(llms=("alpha", "beta"), prompts=4)
    vote_once(make_user("v1"))
    lead_battle = vote_once(eval_lead)  # an insider vote
    old = vote_once(make_user("v2"))
    Vote.objects.filter(battle=old).update(created_at=timezone.now() - timedelta(days=40))
    client.force_login(eval_lead)
    assert len(rows_of(client.get("/exports/votes.csv"))) == 2
    with_insiders = rows_of(client.get("/exports/votes.csv?insider=1"))
    assert len(with_insiders) == 3
    assert any(r["battle"] == str(lead_battle.code) and r["insider"] == "true" for r in with_insiders)
    since = (timezone.localdate() - timedelta(days=10)).isoformat()
    assert len(rows_of(client.get(f"/exports/votes.csv?from={since}"))) == 1
    assert len(rows_of(client.get("/exports/votes.csv?to=9999-12-31"))) == 2
    assert len(rows_of(client.get("/exports/votes.csv?nolive=1"))) == 2


def test_the_model_filter_keeps_votes_of_that_llm(client, eval_lead):
    llms = make_votes({"alpha": 1000, "beta": 900, "gamma": 800}, per_pair=2)
    client.force_login(eval_lead)
    rows = rows_of(client.get(f"/exports/votes.csv?model={llms['gamma'].code}"))
    assert len(rows) == 4 and all("gamma" in (r["model_a"], r["model_b"]) for r in rows)


def test_bad_filters_are_refused_with_a_message(client, eval_lead):
    client.force_login(eval_lead)
    response = client.get("/exports/votes.csv?from=yesterday")
    assert response.status_code == 400 and b"not a date" in response.content
    assert client.get("/exports/votes.csv?model=nope").status_code == 400
    assert client.get("/exports/votes.xlsx").status_code == 404


def test_the_leaderboard_export_carries_the_snapshot_identity(client, eval_lead):
    make_votes({"alpha": 1100, "beta": 1000, "gamma": 900}, per_pair=30)
    snapshot = services.compute_snapshot()
    client.force_login(eval_lead)
    response = client.get("/exports/leaderboard.csv")
    rows = rows_of(response)
    assert [r["model"] for r in rows] == ["alpha", "beta", "gamma"]
    assert response["X-Arena-Vote-Hash"] == snapshot.vote_hash
    assert float(rows[0]["lower"]) <= float(rows[0]["rating"]) <= float(rows[0]["upper"])
    data = json.loads(client.get("/exports/leaderboard.json").content)
    assert data["board"]["vote_hash"] == snapshot.vote_hash and data["board"]["vote_count"] == 90
    assert [r["model"] for r in data["rows"]] == ["alpha", "beta", "gamma"]
    filtered = json.loads(client.get("/exports/leaderboard.json?insider=1").content)
    assert filtered["filter"] == {"insider": "1"}
