"""The read-only JSON API: tokens, endpoints, filters, pagination, and conformance to its own schema."""

import io
from datetime import timedelta
from typing import get_args

import pytest
import schemathesis
from django.core.management import CommandError, call_command
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from battles.models import LLM, Vote
from ratings import services
from ratings.api.auth import create_token, hash_token, revoke
from ratings.api.schemas import ModelStatus, VoteOutcome
from ratings.benchmarks.services import import_benchmarks
from ratings.models import ApiToken
from tests.ratings.helpers import csv_file, make_votes

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(eval_lead):
    return create_token(owner=eval_lead, name="tests")[1]


def get(client, path, token=None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(path, params, headers=headers)


# --- authentication ----------------------------------------------------------------------


def test_requests_without_a_token_get_401_with_a_bearer_challenge(client):
    response = client.get("/api/votes/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Basic dXNlcjpwdw==", "Bearer not-a-real-token"])
def test_malformed_and_unknown_tokens_get_401(client, header):
    response = client.get("/api/votes/", headers={"Authorization": header})
    assert response.status_code == 401
    assert set(response.json()) >= {"error", "detail"}


def test_a_session_login_is_not_enough(client, eval_lead):
    client.force_login(eval_lead)
    assert client.get("/api/models/").status_code == 401


def test_a_revoked_token_gets_401(client, eval_lead):
    row, raw = create_token(owner=eval_lead)
    assert get(client, "/api/models/", raw).status_code == 200
    assert revoke(row) and not revoke(row)
    response = get(client, "/api/models/", raw)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_token_stops_working_when_its_owner_loses_the_role(client, eval_lead, token):
    eval_lead.groups.clear()
    response = get(client, "/api/models/", token)
    assert response.status_code == 403 and response.json()["error"] == "forbidden"


def test_only_the_hash_of_a_token_is_stored_and_use_is_recorded(client, token):
    row = ApiToken.objects.get()
    assert row.token_hash == hash_token(token) and token not in (row.token_hash, row.prefix, row.name)
    assert token.startswith(row.prefix) and row.last_used_at is None
    get(client, "/api/models/", token)
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_create_api_token_prints_the_token_once(eval_lead, client):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "lead1", "--name", "nightly", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("arena_") and "shown only this once" in err.getvalue()
    assert ApiToken.objects.get().name == "nightly"
    assert get(client, "/api/models/", raw).status_code == 200


def test_create_api_token_refuses_voters_and_unknown_users(voter):
    with pytest.raises(CommandError, match="not an active eval lead or admin"):
        call_command("create_api_token", "voter1")
    with pytest.raises(CommandError, match="no user named"):
        call_command("create_api_token", "nobody")


def test_the_admin_shows_a_new_token_once(client, admin_user, eval_lead):
    client.force_login(admin_user)
    response = client.post("/admin/ratings/apitoken/add/", {"owner": eval_lead.pk, "name": "ci"})
    assert response.status_code == 200
    page = response.content.decode()
    row = ApiToken.objects.get()
    raw = page.split('id="new-token"')[1].split(">", 1)[1].split("<", 1)[0]
    assert hash_token(raw) == row.token_hash
    assert raw not in client.get(f"/admin/ratings/apitoken/{row.pk}/change/").content.decode()
    client.post("/admin/ratings/apitoken/", {"action": "revoke_tokens", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_non_get_methods_are_refused(client, token):
    response = client.post("/api/votes/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405 and response["Allow"] == "GET"


# --- endpoints ---------------------------------------------------------------------------


def test_votes_are_paginated_in_a_stable_order_without_gaps_or_repeats(client, token):
    make_votes({"alpha": 1000, "beta": 900, "gamma": 800}, per_pair=7)  # 21 votes
    seen, page = [], get(client, "/api/votes/", token, page_size=5).json()
    assert page["count"] == 21 and page["previous"] is None
    while True:
        seen += [vote["id"] for vote in page["results"]]
        if page["next"] is None:
            break
        page = get(client, page["next"], token).json()
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 21
    assert page["page"] == 5 and len(page["results"]) == 1 and page["previous"].endswith("page=4&page_size=5")
    beyond = get(client, "/api/votes/", token, page=99, page_size=5).json()
    assert beyond["results"] == [] and beyond["next"] is None and beyond["count"] == 21


def test_votes_carry_reasons_comment_flags_and_names(client, token):
    make_votes(
        {"alpha": 1000, "beta": 900},
        per_pair=1,
        comment="too long",
        flags=["too_fast"],
        flagged=True,
        reasons_a=["concise"],
    )
    vote = get(client, "/api/votes/", token, flagged="true").json()["results"][0]
    assert vote["comment"] == "too long" and vote["flags"] == ["too_fast"] and vote["flagged"] is True
    assert vote["reasons_a"] == ["concise"] and {vote["model_a"], vote["model_b"]} == {"alpha", "beta"}
    assert vote["winner"] in ("alpha", "beta") and vote["battle"] is None and vote["voter"] is None


def test_vote_filters(client, token):
    llms = make_votes({"alpha": 1000, "beta": 900, "gamma": 800}, per_pair=2)
    make_votes({"alpha": 1000, "beta": 900}, per_pair=1, insider=True)
    Vote.objects.filter(pk=Vote.objects.order_by("id").first().pk).update(
        created_at=timezone.now() - timedelta(days=30)
    )
    assert get(client, "/api/votes/", token).json()["count"] == 6
    assert get(client, "/api/votes/", token, insider="true").json()["count"] == 7
    assert get(client, "/api/votes/", token, insider="1").json()["count"] == 7
    assert get(client, "/api/votes/", token, model=str(llms["gamma"].code)).json()["count"] == 4
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert get(client, "/api/votes/", token, **{"from": since}).json()["count"] == 5
    assert get(client, "/api/votes/", token, **{"from": "2030-01-02", "to": "2030-01-01"}).json()["count"] == 0
    assert get(client, "/api/votes/", token, category="writing").json()["count"] == 0  # imported: no prompt


def test_dates_at_the_ends_of_the_calendar_are_answered(client, token):
    make_votes({"alpha": 1000, "beta": 900}, per_pair=2)
    for path in ("/api/votes/", "/api/leaderboard/"):
        response = get(client, path, token, **{"from": "0001-01-01", "to": "9999-12-31"})
        assert response.status_code == 200, path


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2024-02-30"}, "to"),
        ({"page": "0"}, "page"),
        ({"page_size": "100000"}, "page_size"),
        ({"page": "1.5"}, "page"),
        ({"insider": "yes"}, "insider"),
        ({"pool": "not-a-uuid"}, "pool"),
        ({"group": "everyone"}, "group"),
        ({"category": "a\x00b"}, "category"),
        ({"category": "x" * 51}, "category"),
    ],
)
def test_malformed_parameters_get_400_naming_the_parameter(client, token, params, parameter):
    response = get(client, "/api/votes/", token, **params)
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "detail": response.json()["detail"], "parameter": parameter}


def test_the_leaderboard_endpoint_gives_rows_and_provenance(client, token):
    make_votes({"alpha": 1100, "beta": 1000, "gamma": 900}, per_pair=30)
    snapshot = services.compute_snapshot()
    data = get(client, "/api/leaderboard/", token).json()
    assert [row["model"] for row in data["rows"]] == ["alpha", "beta", "gamma"]
    assert data["board"]["vote_hash"] == snapshot.vote_hash and data["filter"] == {}
    filtered = get(client, "/api/leaderboard/", token, insider="true").json()
    assert filtered["filter"] == {"insider": "1"} and filtered["board"]["scope"] != "default"


def test_the_models_endpoint_lists_llms_with_versions(client, token):
    make_votes({"alpha": 1000, "beta": 900}, per_pair=1)
    data = get(client, "/api/models/", token).json()
    assert [m["name"] for m in data["results"]] == ["alpha", "beta"]
    assert data["results"][0]["versions"][0]["number"] == 1
    assert "api_key_env" not in data["results"][0] and "base_url" not in data["results"][0]


def test_the_benchmarks_endpoint_compares_and_404s_an_unknown_benchmark(client, token):
    make_votes({"alpha": 1100, "beta": 1000, "gamma": 900}, per_pair=30)
    services.compute_snapshot()
    import_benchmarks(source=csv_file("model,benchmark,score\nalpha,K,1\nbeta,K,2\ngamma,K,3\n"))
    data = get(client, "/api/benchmarks/", token, benchmark="k").json()
    (comparison,) = data["comparisons"]
    assert comparison["benchmark"] == "K" and comparison["too_few_to_correlate"]
    assert comparison["spearman"]["estimate"] is None  # three models: too few to correlate
    assert [row["model"] for row in comparison["rows"]] == ["gamma", "beta", "alpha"]
    assert {row["model"] for row in comparison["rows"] if row["flagged"]} <= {"alpha", "gamma"}
    assert 0 <= comparison["rows"][0]["p_agree"] <= 1
    response = get(client, "/api/benchmarks/", token, benchmark="nope")
    assert response.status_code == 404 and response.json()["parameter"] == "benchmark"


def test_the_schema_names_the_values_of_the_model_choices():
    # In the same order: it is the order of the enum in the schema.
    assert get_args(ModelStatus) == tuple(LLM.Status.values)
    assert get_args(VoteOutcome) == tuple(Vote.Outcome.values)


def test_the_schema_is_openapi_3_1_and_describes_every_endpoint(client):
    schema = client.get("/api/schema/").json()
    assert schema["openapi"].startswith("3.1")
    assert set(schema["paths"]) == {
        "/api/leaderboard/",
        "/api/models/",
        "/api/votes/",
        "/api/benchmarks/",
        "/api/schema/",
    }
    for path, item in schema["paths"].items():
        if path != "/api/schema/":
            assert {"401"} <= set(item["get"]["responses"])


# --- conformance -------------------------------------------------------------------------


# The schema is loaded through the WSGI app at import (no database needed for it); each test
# run then gets its own data and token.
from arena.wsgi import application  # noqa: E402

api_schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def api_data(eval_lead, settings):
    """Votes, a board, two benchmarks and a token; returns the Authorization header."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    settings.ARENA_VIBES_GAP_DRAWS = 50
    make_votes({"alpha": 1100, "beta": 1000, "gamma": 900}, per_pair=10, comment="=cmd", reasons_a=["clear"])
    services.compute_snapshot()
    import_benchmarks(source=csv_file("model,benchmark,score\nalpha,K,1\nbeta,K,2\ngamma,K,3\nalpha,L,3\n"))
    _, raw = create_token(owner=eval_lead)
    # As Django's test client does: the app must not close the test's connection (and with it
    # the transaction holding this data) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Bearer {raw}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@api_schema.parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_every_response_conforms_to_the_schema(case, api_data):
    case.call_and_validate(headers=api_data)
