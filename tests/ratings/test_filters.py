import datetime as dt
from typing import get_args

import pytest
from django.contrib.auth.models import Group
from django.http import QueryDict
from django.utils import timezone

from arena.roles import ALL_ROLES
from ratings import boards, scopes, services
from ratings.filter_params import FLAG_VALUES, FilterParams, FlagSpelling, GroupName, page_filter
from ratings.filters import BoardFilter
from tests.factories import make_pool, make_user
from tests.ratings.board_factories import cast_votes, days_ago, import_votes, make_llms, strong_weak

pytestmark = pytest.mark.django_db


def _filter(query: str) -> BoardFilter:
    flt, errors = page_filter(QueryDict(query))
    assert errors == []
    return flt


def _count(query: str) -> int:
    return _filter(query).votes().count()


def _board_votes(query: str) -> int:
    snapshot = boards.board_snapshot(_filter(query))
    assert snapshot is not None
    return snapshot.vote_count


# --- parsing and scopes (no votes needed) ---------------------------------------------------


def test_no_parameters_is_the_default_board():
    flt = _filter("")
    assert flt.is_default and flt.scope() == scopes.DEFAULT_SCOPE
    assert str(flt.votes().query) == str(services.counted_votes().query)


def test_the_spelled_out_values_are_those_of_their_sources():
    # In the same order: it is the order of the enum in the API's schema.
    assert get_args(GroupName) == ALL_ROLES
    assert get_args(FlagSpelling) == tuple(FLAG_VALUES)


def test_equal_filters_give_the_same_scope_whatever_the_parameter_order():
    one = _filter("category=coding&insider=1&from=2025-01-01")
    two = _filter("from=2025-01-01&insider=on&category=coding&unknown=x")
    assert one.scope() == two.scope() != scopes.DEFAULT_SCOPE
    assert _filter("category=coding").scope() != _filter("category=writing").scope()


def test_bad_parameters_are_reported_and_ignored():
    flt, errors = page_filter(QueryDict("from=yesterday&pool=nope&group=ceo&category=" + "x" * 60))
    assert errors == [
        "That category name is too long.",
        "Unknown prompt pool.",
        "“yesterday” is not a date (use YYYY-MM-DD).",
        "Unknown voter group.",
    ]
    assert flt.is_default


def test_a_start_date_after_the_end_date_is_refused():
    flt, errors = page_filter(QueryDict("from=2025-02-01&to=2025-01-01"))
    assert errors and flt.date_from is None and flt.date_to is None


def test_choosing_the_eval_lead_group_includes_insider_votes():
    assert _filter("group=eval_lead").include_insider
    assert not _filter("group=voter").include_insider


def test_a_filter_too_long_to_name_in_full_gets_a_scope_that_fits():
    flt = _filter("category=" + "\N{GRINNING FACE}" * 50 + "&insider=1")
    assert flt.category == "\N{GRINNING FACE}" * 50
    assert flt.scope().startswith("votes#") and len(flt.scope()) < 190
    assert flt.scope() == _filter("insider=1&category=" + "\N{GRINNING FACE}" * 50).scope()
    assert flt.scope() != flt.with_changes(include_insider=False).scope()


def test_a_bad_parameter_leaves_the_others_in_place():
    flt, errors = page_filter(QueryDict("category=a%00b&to=2025-02-30&group=voter&from=2025-01-01"))
    assert errors == ["Unknown category.", "“2025-02-30” is not a date (use YYYY-MM-DD)."]
    assert flt == BoardFilter(group="voter", date_from=dt.date(2025, 1, 1))


def test_the_pages_read_a_query_as_a_form_sends_it():
    flt = _filter("category=+coding+&pool=&from=&group=+voter&insider=ON&flagged=yes&nolive=off")
    assert flt == BoardFilter(category="coding", group="voter", include_insider=True, include_flagged=True)
    assert _filter("insider=maybe&flagged=0") == BoardFilter()


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("category=" + "x" * 51, "category"),
        ("category=a%00b", "category"),
        ("pool=nope", "pool"),
        ("pool=12345678123456781234567812345678", "pool"),
        ("from=2025-1-1", "from"),
        ("to=20250101", "to"),
        ("group=ceo", "group"),
    ],
)
def test_what_the_api_refuses_the_pages_report_and_leave_out(query, parameter):
    flt, errors = page_filter(QueryDict(query))
    assert len(errors) == 1 and flt.is_default
    with pytest.raises(ValueError) as refused:
        FilterParams.model_validate(QueryDict(query).dict())
    assert [error["loc"] for error in refused.value.errors()] == [(parameter,)]


def test_the_api_and_the_pages_read_a_good_query_alike():
    query = QueryDict(
        "category=coding&pool=0b6f5a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b&from=2025-01-01&to=2025-02-01"
        "&group=eval_lead&flagged=1&nolive=true"
    )
    assert FilterParams.model_validate(query.dict()).board_filter() == _filter(query.urlencode())
    assert _filter(query.urlencode()).include_insider  # eval_lead votes are insider votes


# --- the vote set ------------------------------------------------------------------------


@pytest.fixture
def arena():
    llms = make_llms("alpha", "beta")
    cast_votes(llms, [("alpha", "beta", "a", 5)])
    cast_votes(llms, [("alpha", "beta", "b", 2)], insider=True)
    cast_votes(llms, [("alpha", "beta", "tie", 3)], flags=["too_fast"])
    cast_votes(llms, [("beta", "alpha", "a", 4)], live=True, category="live")
    return llms


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", 9),  # default: plain votes and live battles
        ("insider=1", 11),
        ("flagged=1", 12),
        ("insider=1&flagged=1", 14),
        ("nolive=1", 5),
    ],
)
def test_toggles_change_the_vote_set(arena, query, expected):
    assert _count(query) == expected
    assert _board_votes(query) == expected


def test_the_default_filter_excludes_insider_and_flagged_votes(arena):
    assert _board_votes("") == services.counted_votes().count() == 9


def test_category_filter_counts_only_battles_on_that_category(arena):
    import_votes(arena, [("alpha", "beta", "a", 6)])  # no battle, no category
    cast_votes(arena, [("alpha", "beta", "b", 7)], category="coding")
    assert _board_votes("category=coding") == 7
    assert _board_votes("category=writing") == 5
    assert _board_votes("") == 9 + 6 + 7


def test_pool_filter_counts_only_prompts_of_that_pool(arena):
    pool = make_pool("support tickets")
    cast_votes(arena, [("alpha", "beta", "b", 3)], pool=pool)
    assert _board_votes(f"pool={pool.code}") == 3


def test_date_range_is_inclusive_of_both_days():
    llms = make_llms("alpha", "beta")
    cast_votes(llms, [("alpha", "beta", "a", 1)], when=days_ago(10))
    cast_votes(llms, [("alpha", "beta", "a", 2)], when=days_ago(5))
    cast_votes(llms, [("alpha", "beta", "a", 4)], when=days_ago(0))
    today = timezone.localdate()
    five = (today - dt.timedelta(days=5)).isoformat()
    assert _board_votes(f"from={five}") == 6
    assert _board_votes(f"from={five}&to={five}") == 2
    assert _board_votes(f"to={(today - dt.timedelta(days=6)).isoformat()}") == 1


def test_voter_group_filter_counts_the_votes_of_that_group_once():
    llms = make_llms("alpha", "beta")
    voter = make_user("both-groups", role="voter")
    voter.groups.add(Group.objects.get_or_create(name="admin")[0])  # two groups: still one vote each
    cast_votes(llms, [("alpha", "beta", "a", 3)], voter=voter)
    cast_votes(llms, [("alpha", "beta", "b", 2)], insider=True)
    assert _board_votes("group=voter") == 3
    assert _board_votes("group=eval_lead") == 2


def test_an_empty_filtered_board_is_stored_once():
    make_llms("alpha", "beta")
    flt = _filter("category=nothing-here")
    first = boards.board_snapshot(flt)
    assert first.vote_count == 0 and first.payload["rows"] == []
    assert boards.board_snapshot(flt).pk == first.pk


@pytest.mark.parametrize("query", ["?to=9999-12-31", "?from=0001-01-01", "?from=0001-01-01&to=9999-12-31"])
def test_dates_at_the_ends_of_the_calendar_do_not_break_the_pages(client, query):
    client.force_login(make_user("lead-calendar", role="eval_lead"))
    for page in ("/leaderboard/", "/leaderboard/pairs/", "/leaderboard/quality/", "/leaderboard/decision/"):
        assert client.get(page + query).status_code == 200


def test_a_long_category_in_a_non_latin_script_does_not_break_the_board(client, eval_lead):
    make_llms("alpha", "beta")
    client.force_login(eval_lead)
    assert client.get("/leaderboard/", {"category": "\N{GRINNING FACE}" * 50, "style": "1"}).status_code == 200


def test_an_unknown_category_on_a_board_is_a_warning_not_an_empty_board(client):
    llms = make_llms("alpha", "beta")
    cast_votes(llms, strong_weak("alpha", "beta"), category="coding")
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/?category=Coding")
    page = response.content.decode()
    assert "No prompt has the category “Coding”, so it was not applied. Did you mean “coding”?" in page
    assert "Categories: coding." in page
    assert [row["model"] for row in response.context["rows"]] == ["alpha", "beta"]  # the whole board, not empty
    assert "No prompt has the category" not in client.get("/leaderboard/?category=coding").content.decode()
    assert (
        "No prompt pool has that code"
        in client.get("/leaderboard/?pool=00000000-0000-0000-0000-000000000000").content.decode()
    )


def test_an_unknown_category_typed_on_the_exports_page_is_refused_with_the_known_ones(client):
    llms = make_llms("alpha", "beta")
    cast_votes(llms, strong_weak("alpha", "beta"), category="coding")
    client.force_login(make_user(role="eval_lead"))
    index = client.get("/exports/").content.decode()
    assert '<datalist id="known-categories"><option value="coding">' in index
    for kind in ("votes", "battles", "leaderboard"):
        response = client.get(f"/exports/{kind}.csv?category=codng")
        assert response.status_code == 400, kind
        assert "No prompt has the category “codng”" in response.content.decode() and "Categories: coding." in (
            response.content.decode()
        )
    assert client.get("/exports/votes.csv?category=coding").status_code == 200
