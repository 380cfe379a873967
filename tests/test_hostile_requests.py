"""Every page, with hostile query strings and bodies, as each kind of user: never a 500.

The pages have tests of their own; this one sweeps what those do not think of: values of the
wrong type or out of range in every filter parameter, unknown formats, codes that do not
exist, empty and malformed POST bodies. A 500 (or an exception escaping the view) fails.
"""

import uuid

import pytest
from django.test import Client

from tests.factories import make_arena, make_user
from tests.ratings.board_factories import cast_votes, make_llms, strong_weak

pytestmark = pytest.mark.django_db

HOSTILE_QUERIES = [
    "",
    "from=yesterday&to=tomorrow",
    "from=2024-13-45&to=0000-00-00",
    "from=9999-12-31&to=0001-01-01",
    "category=%00%ff&pool=<script>alert(1)</script>",
    "pool=00000000-0000-0000-0000-000000000000&group=../../etc",
    "group=admin&insider=maybe&flagged=-1&nolive=2&style=yes",
    "style=1&insider=1&flagged=1",
    "period=century&points=1e309",
    "points=-5&page=-1&limit=99999999999999999999",
    "format=xml&ci=nonsense&seed=abc",
    "category=writing&category=coding&from=2020-01-01&from=2021-01-01",
    "weights=abc&weight=-1&benchmark=%ZZ",
    "model=%00abc&style_control=2&page_size=0",
    "model=00000000-0000-0000-0000-000000000000&category=%00",
    "q=" + "x" * 5000,
]


def _paths(model_code, benchmark_code, battle_code):
    return [
        "/",
        "/me/",
        "/live/",
        f"/live/{battle_code}/",
        f"/live/{uuid.uuid4()}/",
        f"/battle/{battle_code}/",
        f"/battle/{battle_code}/vote/",
        "/leaderboard/",
        "/leaderboard/pairs/",
        "/leaderboard/history/",
        "/leaderboard/cost/",
        "/leaderboard/decision/",
        "/leaderboard/quality/",
        "/leaderboard/integrity/",
        f"/leaderboard/models/{model_code}/",
        f"/leaderboard/models/{uuid.uuid4()}/",
        "/benchmarks/",
        "/benchmarks/composite/",
        f"/benchmarks/{benchmark_code}/",
        "/exports/",
        "/exports/votes.csv",
        "/exports/votes.json",
        "/exports/votes.xml",
        "/exports/battles.csv",
        "/exports/leaderboard.json",
        "/exports/leaderboard.exe",
        "/api/schema/",
        "/api/leaderboard/",
        "/api/models/",
        "/api/votes/",
        "/api/benchmarks/",
        "/healthz",
        "/no-such-page/",
    ]


@pytest.fixture
def arena_with_votes():
    pool, llms, prompts = make_arena(llms=("alpha", "beta", "gamma"), prompts=3)
    voted = make_llms("delta", "epsilon")
    cast_votes(voted, strong_weak("delta", "epsilon", wins=12, losses=4))
    # A second group the votes do not connect to the first (a young arena).
    apart = make_llms("zeta", "eta")
    cast_votes(apart, strong_weak("zeta", "eta", wins=9, losses=5))
    return llms


@pytest.mark.parametrize("role", ["anonymous", "voter", "eval_lead", "admin"])
def test_no_page_answers_a_hostile_request_with_a_500(arena_with_votes, role):
    from battles.models import LLM

    client = Client(raise_request_exception=False)
    if role != "anonymous":
        extra = {"is_staff": True, "is_superuser": True} if role == "admin" else {}
        client.force_login(make_user(f"hostile-{role}", role=role, **extra))
    model_code = LLM.objects.values_list("code", flat=True).get(name="delta")
    failures = []
    for path in _paths(model_code, uuid.uuid4(), uuid.uuid4()):
        for query in HOSTILE_QUERIES:
            url = f"{path}?{query}" if query else path
            response = client.get(url)
            if response.status_code >= 500:
                failures.append(f"GET {url[:120]} → {response.status_code}")
    for path in (
        "/",
        f"/battle/{uuid.uuid4()}/vote/",
        f"/battle/{uuid.uuid4()}/skip/",
        "/live/",
        f"/live/{uuid.uuid4()}/follow-up/",
    ):
        for body in (
            {},
            {"outcome": "<script>", "reasons_a": "x" * 10_000},
            {"prompt": ""},
            {"prompt": "\x00" * 10},
            {"outcome": ["a", "b"]},
        ):
            response = client.post(path, body)
            if response.status_code >= 500:
                failures.append(f"POST {path} {str(body)[:60]} → {response.status_code}")
        response = client.post(path, data=b"\xff\xfe{not json", content_type="application/json")
        if response.status_code >= 500:
            failures.append(f"POST {path} (malformed JSON) → {response.status_code}")
    assert not failures, "\n".join(failures)
