"""import_votes: historical votes from the ratings CSV format, streamed."""

import datetime as dt

import pytest

from battles.catalog import llms
from battles.models import LLM, Vote
from tests.battles.catalog.imports.helpers import run, write
from tests.factories import make_llm

pytestmark = pytest.mark.django_db

HEADER = "model_a,model_b,winner,judge\n"


def test_votes_are_stored_without_battle_or_voter(tmp_path):
    alpha = make_llm("alpha")
    path = write(
        tmp_path,
        "v.csv",
        HEADER + "alpha,beta,model_a,x\nbeta,alpha,model_b,y\nalpha,beta,tie,z\n"
        "alpha,beta,tie (bothbad),z\nalpha,beta,both_bad,z\n",
    )
    code, out = run("import_votes", path)
    assert code == 0, out
    votes = list(Vote.objects.order_by("pk"))
    assert [v.outcome for v in votes] == ["a", "b", "tie", "both_bad", "both_bad"]
    assert all(v.imported and v.battle is None and v.voter is None for v in votes)
    assert votes[0].version_a == alpha.current_version()
    assert "recomputed in the background" in out


@pytest.mark.django_db(transaction=True)
def test_imported_votes_reach_the_leaderboard(tmp_path):
    from ratings.services import latest_snapshot

    make_llm("alpha")
    rows = "".join("alpha,beta,model_a,\n" for _ in range(6)) + "alpha,beta,model_b,\n"
    code, out = run("import_votes", write(tmp_path, "v.csv", HEADER + rows))
    assert code == 0, out
    snapshot = latest_snapshot()  # eager Celery in tests: the debounced task already ran
    assert snapshot is not None and snapshot.vote_count == 7
    assert [row["model"] for row in snapshot.payload["rows"]] == ["alpha", "beta"]


def test_unknown_names_create_retired_imported_llms(tmp_path):
    make_llm("known")
    run("import_votes", write(tmp_path, "v.csv", HEADER + "known,old-model,model_b,\n"))
    old = LLM.objects.get(name="old-model")
    assert (old.status, old.imported, old.base_url) == ("retired", True, "")
    assert Vote.objects.get().version_b == old.current_version()
    assert LLM.objects.get(name="known").status == "active"


def test_votes_point_at_the_current_version(tmp_path):
    llm = make_llm("alpha")
    llms.update_llm_settings(llm=llm, temperature=0.3)
    run("import_votes", write(tmp_path, "v.csv", HEADER + "alpha,beta,model_a,\n"))
    assert Vote.objects.get().version_a.number == 2


def test_malformed_winner_names_the_line_and_imports_nothing(tmp_path):
    path = write(tmp_path, "v.csv", HEADER + "a,b,model_a,\na,b,draw,\na,a,tie,\n,b,tie,\n")
    code, out = run("import_votes", path)
    assert code == 1
    assert (
        "line 3: unknown winner 'draw'; expected one of 'model_a', 'model_b', 'tie', 'tie (bothbad)', 'both_bad'" in out
    )
    assert "line 4: model_a and model_b are the same model ('a')" in out
    assert "line 5: model_a is empty" in out
    assert not Vote.objects.exists() and not LLM.objects.exists()


def test_valid_only_imports_the_good_votes(tmp_path):
    path = write(tmp_path, "v.csv", HEADER + "a,b,model_a,\na,b,draw,\nb,a,model_b,\n")
    code, out = run("import_votes", path, "--valid-only")
    assert code == 0
    assert Vote.objects.count() == 2
    assert "line 3: unknown winner" in out


def test_missing_column_refuses_the_file(tmp_path):
    code, out = run("import_votes", write(tmp_path, "v.csv", "model_a,model_b,result\na,b,model_a\n"))
    assert code == 1
    assert "line 1: missing column(s) winner in the header" in out


def test_timestamp_column_becomes_the_vote_date(tmp_path):
    path = write(
        tmp_path,
        "v.csv",
        "model_a,model_b,winner,timestamp\r\n"
        "a,b,model_a,2024-03-01T12:30:00Z\r\n"
        "a,b,model_b,1700000000\r\n"
        "a,b,tie,\r\n",
    )
    code, out = run("import_votes", path)
    assert code == 0, out
    dates = [v.created_at for v in Vote.objects.order_by("pk")]
    assert dates[0] == dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.UTC)
    assert dates[1] == dt.datetime.fromtimestamp(1700000000, tz=dt.UTC)
    assert dates[2].year >= 2025


def test_bad_timestamp_names_the_line(tmp_path):
    code, out = run("import_votes", write(tmp_path, "v.csv", "model_a,model_b,winner,timestamp\na,b,tie,yesterday\n"))
    assert code == 1
    assert "line 2: timestamp 'yesterday' is not ISO 8601" in out


def test_votes_are_stored_in_batches(tmp_path):
    rows = "".join(f"m{i % 7},m{(i + 1) % 7},model_a,\n" for i in range(1234))
    code, out = run("import_votes", write(tmp_path, "v.csv", HEADER + rows), "--batch-size", "100")
    assert code == 0, out
    assert Vote.objects.filter(imported=True).count() == 1234
    assert LLM.objects.filter(imported=True).count() == 7


def test_json_given_to_import_votes_is_refused(tmp_path):
    code, out = run("import_votes", write(tmp_path, "v.json", '{"model_a": "a"}\n'))
    assert code == 1 and "votes are read from CSV" in out


def test_votes_file_size_limit(tmp_path, settings):
    settings.ARENA_MAX_VOTES_FILE_BYTES = 100
    code, out = run("import_votes", write(tmp_path, "v.csv", HEADER + "a,b,tie,\n" * 50))
    assert code == 1 and "larger than the limit of 100 bytes" in out
