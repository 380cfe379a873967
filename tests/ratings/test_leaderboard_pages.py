import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ratings import boards, scopes, services
from ratings.filters import BoardFilter
from ratings.models import GenerationStyle, RatingSnapshot
from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, days_ago, import_votes, make_llms, strong_weak

pytestmark = pytest.mark.django_db

PAGES = [
    "/leaderboard/",
    "/leaderboard/?style=1&category=coding",
    "/leaderboard/pairs/",
    "/leaderboard/history/",
    "/leaderboard/cost/",
    "/leaderboard/decision/",
    "/leaderboard/quality/",
    "/leaderboard/integrity/",
]


@pytest.fixture
def three():
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(
        llms,
        strong_weak("alpha", "beta") + strong_weak("beta", "gamma") + strong_weak("alpha", "gamma"),
        answer_stats={
            "alpha": {"latency_ms": 1200, "cost": "0.004"},
            "beta": {"latency_ms": 400, "cost": "0.001"},
            "gamma": {"latency_ms": 900, "cost": "0.003"},
        },
    )
    return llms


def _pages(llms):
    return PAGES + [f"/leaderboard/models/{llms['alpha'].code}/"]


def test_every_leaderboard_page_is_for_eval_leads_and_admins_only(client, three):
    voter = make_user("plain-voter")
    for url in _pages(three):
        client.logout()
        assert client.get(url).status_code == 302, url  # to the login page
        client.force_login(voter)
        assert client.get(url).status_code == 403, url
    for role in ("eval_lead", "admin"):
        client.force_login(make_user(role=role))
        for url in _pages(three):
            assert client.get(url).status_code == 200, url


def test_voters_see_no_link_to_the_leaderboard_pages(client, three):
    client.force_login(make_user("plain-voter"))
    # "/" redirects to the battle's own page when there is one: look at the page itself.
    page = client.get("/", follow=True).content.decode()
    assert "Model A" in page or "Nothing left" in page
    assert "/leaderboard/" not in page
    client.force_login(make_user(role="eval_lead"))
    assert "/leaderboard/decision/" in client.get("/me/").content.decode()


def test_a_filtered_board_is_reused_until_its_votes_change(three):
    flt = BoardFilter(category="writing")
    first = boards.board_snapshot(flt)
    assert first.scope == flt.scope() and first.vote_count == 30
    assert boards.board_snapshot(flt).pk == first.pk
    cast_votes(three, [("alpha", "beta", "a", 1)])
    changed = boards.board_snapshot(flt)
    assert changed.pk != first.pk and changed.vote_count == 31 and changed.vote_hash != first.vote_hash


def test_a_vote_outside_the_filter_does_not_recompute_the_board(three):
    flt = BoardFilter(category="writing")
    first = boards.board_snapshot(flt)
    cast_votes(three, [("alpha", "beta", "a", 3)], category="coding")
    assert boards.board_snapshot(flt).pk == first.pk


def test_the_same_votes_give_the_same_numbers(three):
    flt = BoardFilter(category="writing", include_insider=True)
    first = boards.board_snapshot(flt)
    RatingSnapshot.objects.all().delete()
    again = boards.board_snapshot(flt)
    assert again.pk != first.pk
    assert again.vote_hash == first.vote_hash
    assert again.payload["rows"] == first.payload["rows"]
    assert again.payload["online"] == first.payload["online"]
    # The default board over the same votes agrees too.
    default = services.compute_snapshot()
    assert default.vote_hash == first.vote_hash and default.payload["rows"] == first.payload["rows"]


def test_the_board_page_shows_the_snapshot_count_hash_settings_and_time(client, three):
    client.force_login(make_user(role="eval_lead"))
    page = client.get("/leaderboard/?category=writing").content.decode()
    snapshot = RatingSnapshot.objects.get(scope="votes?category=writing")
    assert snapshot.vote_hash in page and f"{snapshot.vote_count} votes" in page
    assert "min_votes" in page and snapshot.computed_at.strftime("%Y-%m-%d %H:%M") in page
    assert "votes?category=writing" in page


def test_the_board_has_every_column(client, three, settings):
    settings.ARENA_MIN_VOTES = 15
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/?category=writing")
    rows = {row["model"]: row for row in response.context["rows"]}
    alpha = rows["alpha"]
    assert alpha["rank"] == 1 and alpha["lower"] < alpha["rating"] < alpha["upper"]
    assert alpha["votes"] == 20 and alpha["win_rate"] == pytest.approx(16 / 20)
    assert alpha["elo"] > rows["gamma"]["elo"] and alpha["trueskill_sigma"] > 0
    assert alpha["latency_p50_ms"] == 1200 and alpha["cost_per_1000"] == pytest.approx(4.0)
    assert not alpha["provisional"]
    page = response.content.decode()
    for heading in ("Rating", "95% CI", "Votes", "Win rate", "Elo", "TrueSkill", "p50 latency", "Cost / 1,000 prompts"):
        assert heading in page
    assert "1200 ms" in page and "4.00" in page
    assert f"/leaderboard/models/{three['alpha'].code}/" in page
    settings.ARENA_MIN_VOTES = 21  # engine settings changed: the snapshot is refitted
    page = client.get("/leaderboard/?category=writing").content.decode()
    assert page.count('title="fewer than 21 votes">provisional') == 3


def test_style_toggle_fits_the_style_controlled_board_beside_the_raw_one(client):
    llms = make_llms("fancy", "plain", "middle")
    texts = {
        "fancy": "# Title\n\n**bold** and **more**\n\n- one\n- two\n- three\n",
        "plain": "Just an answer.",
        "middle": "## Heading\n\nSome words here, **one bold**.",
    }
    results = (
        strong_weak("fancy", "plain")
        + strong_weak("middle", "plain")
        + strong_weak("fancy", "middle", wins=6, losses=4)
    )
    cast_votes(llms, results, texts=texts)
    cast_votes(llms, results, texts={k: v * 2 for k, v in texts.items()}, category="coding")
    import_votes(llms, [("fancy", "plain", "a", 3)])
    client.force_login(make_user(role="eval_lead"))
    assert "Style-controlled" not in client.get("/leaderboard/").content.decode()
    assert not RatingSnapshot.objects.filter(scope__endswith="|style").exists()

    response = client.get("/leaderboard/?style=1")
    page = response.content.decode()
    assert "Style-controlled" in page and "Style interval rank" in page
    # 60 votes, below STYLE_MIN_VOTES (200): shown, marked provisional with its vote count.
    assert "Style control is provisional:</strong> fitted on 60 votes; it counts as a board from 200" in page
    assert "provisional · 60 votes" in page
    style = RatingSnapshot.objects.get(scope=scopes.STYLE_SCOPE)
    assert style.vote_count == 60 and style.payload["votes_without_answers"] == 3
    assert set(style.payload["coefficients"]) == {"length", "headers", "bold", "list_items"}
    fancy_style = GenerationStyle.objects.filter(
        generation__llm_version__llm__name="fancy", generation__text=texts["fancy"]
    ).get()
    assert (fancy_style.length, fancy_style.headers, fancy_style.bold, fancy_style.list_items) == (
        len(texts["fancy"]),
        1,
        2,
        3,
    )
    rows = {row["model"]: row for row in response.context["rows"]}
    assert all(row["style_rating"] is not None and row["style_rank"] >= 1 for row in rows.values())

    client.get("/leaderboard/?style=1")  # same votes: reused
    assert RatingSnapshot.objects.filter(scope=scopes.STYLE_SCOPE).count() == 1
    client.get("/leaderboard/?style=1&category=coding")
    assert RatingSnapshot.objects.get(scope="votes?category=coding|style").vote_count == 30


def test_first_place_is_flagged_when_a_few_votes_would_change_it(client):
    llms = make_llms("alpha", "beta")
    cast_votes(llms, strong_weak("alpha", "beta", wins=6, losses=4))
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/")
    assert response.context["robustness"]["fragile"]
    assert "First place is fragile" in response.content.decode()


def test_first_place_backed_by_many_votes_is_not_fragile(client):
    llms = make_llms("alpha", "beta")
    cast_votes(llms, strong_weak("alpha", "beta", wins=300, losses=100))
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/")
    assert response.context["robustness"]["votes_to_flip"] >= 20
    assert "First place is fragile" not in response.content.decode()


def test_head_to_head_page_shows_win_rates_counts_and_predictions(client, three):
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/pairs/")
    assert response.context["models"][0] == "alpha"
    win_rates = {row["model"]: [c["text"] for c in row["cells"]] for row in response.context["win_rates"]}
    battles = {row["model"]: [c["text"] for c in row["cells"]] for row in response.context["battles"]}
    assert win_rates["alpha"] == ["", "80%", "80%"] and win_rates["gamma"][0] == "20%"
    assert battles["beta"] == ["10", "", "10"]
    predicted = {row["model"]: row["cells"] for row in response.context["predicted"]}
    assert predicted["alpha"][2]["text"] > "50%"
    assert "Predicted win probability" in response.content.decode()


def test_history_page_refits_the_board_for_each_day(client):
    llms = make_llms("alpha", "beta")
    cast_votes(llms, [("alpha", "beta", "a", 3), ("alpha", "beta", "b", 1)], when=days_ago(4))
    cast_votes(llms, [("alpha", "beta", "b", 6)], when=days_ago(2))
    cast_votes(llms, [("alpha", "beta", "b", 6)], when=days_ago(0))
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/history/")
    history = response.context["history"]
    assert history["period"] == "day" and len(history["labels"]) == 3
    alpha = [point["rating"] for point in history["series"]["alpha"]]
    assert alpha[0] > 1000 > alpha[-1]  # ahead at first, behind by the end
    assert [p["votes"] for p in history["series"]["alpha"]] == [4, 10, 16]
    assert "<svg" in response.content.decode()


def test_cost_page_marks_the_pareto_front(client, three):
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/cost/")
    assert response.context["cost_front"] == {"alpha", "beta"}  # gamma: dearer than beta, worse than alpha
    assert response.context["latency_front"] == {"alpha", "beta"}
    page = response.content.decode()
    assert page.count('class="pareto"') == 2 and "cost front" in page


def test_quality_page_shows_position_bias_rates_and_integrity(client):
    llms = make_llms("alpha", "beta")
    cast_votes(llms, [("alpha", "beta", "a", 70), ("alpha", "beta", "b", 30), ("alpha", "beta", "tie", 10)])
    cast_votes(llms, [("alpha", "beta", "a", 4)], flags=["identity_leak"])
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/quality/")
    bias = response.context["bias"]
    assert bias["decisive"] == 100 and bias["left_rate"] == pytest.approx(0.7) and bias["biased"]
    page = response.content.decode()
    assert "70%" in page and "identity_leak" in page and "/leaderboard/integrity/" in page


def _queries(client, url) -> int:
    client.get(url)  # computes what is stale
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_pages_make_the_same_number_of_queries_for_more_models(client, settings):
    # A cache of this process only: another test run flushing the shared Redis would add queries.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    first = make_llms("m1", "m2", "m3")
    cast_votes(first, strong_weak("m1", "m2") + strong_weak("m2", "m3"), category="coding")
    client.force_login(make_user(role="eval_lead"))
    urls = PAGES + [f"/leaderboard/models/{first['m1'].code}/"]
    before = {url: _queries(client, url) for url in urls}
    more = make_llms("m4", "m5", "m6", "m7")
    cast_votes(
        {**first, **more},
        strong_weak("m3", "m4")
        + strong_weak("m4", "m5")
        + strong_weak("m5", "m6")
        + strong_weak("m6", "m7")
        + strong_weak("m1", "m7"),
        category="coding",
    )
    cast_votes({**first, **more}, strong_weak("m1", "m5") + strong_weak("m2", "m6"), category="writing")
    services.compute_snapshot()  # the background task would have run
    after = {url: _queries(client, url) for url in urls}
    assert after == before
    assert max(after.values()) <= 30, after


def test_every_page_renders_before_the_first_vote(client):
    llm = make_llms("lonely")["lonely"]
    client.force_login(make_user(role="eval_lead"))
    for url in PAGES + [f"/leaderboard/models/{llm.code}/"]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert "No counted votes for this selection" in client.get("/leaderboard/").content.decode()


def test_a_bad_filter_is_explained_not_an_error(client, three):
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/?from=last-week&group=ceo")
    assert response.status_code == 200
    page = response.content.decode()
    assert "is not a date" in page and "Unknown voter group" in page
    assert response.context["filter"].is_default


def test_the_style_controlled_board_is_reproducible(three):
    flt = BoardFilter(category="writing")
    first = boards.style_snapshot(flt)
    RatingSnapshot.objects.all().delete()
    again = boards.style_snapshot(flt)
    assert again.pk != first.pk and again.vote_hash == first.vote_hash
    assert again.payload["rows"] == first.payload["rows"]
    assert again.payload["coefficients"] == first.payload["coefficients"]


def test_the_board_page_shows_the_snapshots_warnings_and_style_details(client):
    llms = make_llms("fancy", "plain", "middle")
    texts = {
        "fancy": "# Title\n\n**bold**\n\n- one\n- two\n",
        "plain": "Just an answer.",
        "middle": "## Heading\n\nSome words, **one bold**.",
    }
    # fancy wins every vote: the board cannot place it yet, and says so.
    cast_votes(
        llms,
        [
            ("fancy", "plain", "a", 6),
            ("fancy", "middle", "a", 6),
            ("middle", "plain", "a", 4),
            ("plain", "middle", "a", 3),
        ],
        texts=texts,
    )
    import_votes(llms, [("fancy", "plain", "a", 2)])
    client.force_login(make_user(role="eval_lead"))
    page = client.get("/leaderboard/?style=1").content.decode()
    assert "Note: the votes do not yet place 2 groups of models against each other" in page
    assert "2 votes without stored answers (imported) are left out of the style-controlled fit." in page
    assert "Style coefficients (log-odds per standard deviation): length " in page


def test_a_board_with_seven_votes_shows_finite_sane_ratings(client, settings):
    # "alpha" won every one of its votes: plain maximum likelihood sends it (and its interval)
    # off by thousands of points; the boards' prior keeps every rating near the others.
    llms = make_llms("alpha", "beta", "gamma", "delta")
    cast_votes(
        llms,
        [("alpha", "beta", "a", 2), ("gamma", "alpha", "b", 1), ("beta", "gamma", "a", 1)]
        + [("gamma", "delta", "a", 1), ("delta", "beta", "a", 1), ("alpha", "delta", "a", 1)],
    )
    client.force_login(make_user("lead7", role="eval_lead"))
    snapshot = boards.board_snapshot(BoardFilter())
    assert snapshot.vote_count == 7
    assert snapshot.settings["prior_points"] == settings.ARENA_RATING_PRIOR_POINTS
    rows = {row["model"]: row for row in snapshot.data.rows}
    for row in rows.values():
        assert 1000 - 3 * 150 < row["lower"] < row["rating"] < row["upper"] < 1000 + 3 * 150
    assert max(rows.values(), key=lambda row: row["rating"])["model"] == "alpha"
    page = client.get("/leaderboard/").content.decode()
    assert "meaningless" not in page
    assert f"{rows['alpha']['rating']:.1f}" in page


def test_changing_the_prior_refits_the_board(settings):
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, strong_weak("alpha", "beta") + strong_weak("beta", "gamma"))
    flt = BoardFilter(category="writing")
    first = boards.board_snapshot(flt)
    assert boards.board_snapshot(flt).pk == first.pk
    settings.ARENA_RATING_PRIOR_POINTS = 0  # plain maximum likelihood
    plain = boards.board_snapshot(flt)
    assert plain.pk != first.pk
    assert plain.settings["prior_points"] is None
    spread = {r["model"]: r["rating"] for r in plain.data.rows}
    shrunk = {r["model"]: r["rating"] for r in first.data.rows}
    # The prior pulls the extremes towards the mean.
    assert spread["alpha"] - spread["gamma"] > shrunk["alpha"] - shrunk["gamma"] > 0


def test_a_style_controlled_board_past_its_threshold_is_shown_without_the_provisional_mark(client, settings):
    settings.ARENA_STYLE_MIN_VOTES = 12
    llms = make_llms("fancy", "plain")
    texts = {"fancy": "# Title\n\n**a** **b**\n\n- x\n- y\n- z\n", "plain": "plain words"}
    cast_votes(llms, strong_weak("fancy", "plain", wins=8, losses=4), texts=texts)
    client.force_login(make_user(role="eval_lead"))
    page = client.get("/leaderboard/?style=1").content.decode()
    assert "Style-controlled" in page and "Style control is provisional" not in page
    settings.ARENA_STYLE_MIN_VOTES = 13
    page = client.get("/leaderboard/?style=1").content.decode()
    assert "Style control is provisional:</strong> fitted on 12 votes" in page


def test_elo_and_trueskill_include_imported_votes_replayed_in_timestamp_order(client, tmp_path):
    from django.core.management import call_command

    from ratings.engine import VoteLog, online_elo

    llms = make_llms("alpha", "beta")
    cast_votes(llms, strong_weak("alpha", "beta", wins=6, losses=4))  # live votes, today
    # An imported model that only ever met alpha, in 2024: before every live vote.
    rows = "".join(f"alpha,old-model,model_b,2024-05-0{day}T12:00:00Z\n" for day in range(1, 7))
    path = tmp_path / "votes.csv"
    path.write_text("model_a,model_b,winner,timestamp\n" + rows)
    call_command("import_votes", str(path), stdout=io.StringIO())
    # What the import queues for a worker: recount, replay Elo/TrueSkill in timestamp order, refit.
    from ratings import tasks

    tasks.rebuild_vote_counts.apply(args=("import",))
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/")
    by_model = {row["model"]: row for row in response.context["rows"]}
    assert by_model["old-model"]["elo"] is not None and by_model["old-model"]["trueskill_mu"] is not None
    assert by_model["old-model"]["elo"] > 1000  # it won all six
    # The same numbers as the engine's replay of the votes in timestamp order (imported first).
    from battles.models import Vote

    ordered = Vote.objects.filter(insider=False, flagged=False).order_by("created_at", "id")
    log = VoteLog.from_votes(
        [v.version_a.label for v in ordered], [v.version_b.label for v in ordered], [v.outcome for v in ordered]
    )
    expected = online_elo(log, k=4.0)
    assert {m: row["elo"] for m, row in by_model.items()} == pytest.approx(expected)
    assert ordered.first().imported  # the imported votes come first: their timestamps are older
    page = response.content.decode()
    assert "imported ones included, in timestamp order" in page


def test_win_rate_counts_ties_as_half_and_every_rank_column_says_which_rank(client):
    llms = make_llms("alpha", "beta")
    cast_votes(llms, [("alpha", "beta", "a", 6), ("alpha", "beta", "tie", 2), ("alpha", "beta", "both_bad", 2)])
    client.force_login(make_user(role="eval_lead"))
    response = client.get("/leaderboard/")
    rows = {row["model"]: row for row in response.context["rows"]}
    assert rows["alpha"]["win_rate"] == pytest.approx(0.8) and rows["beta"]["win_rate"] == pytest.approx(0.2)
    page = response.content.decode()
    assert "Interval rank</th>" in page and ">Rank<" not in page
    assert "Win rate <small>(ties ½)</small>" in page and "80%" in page
    pairs = client.get("/leaderboard/pairs/")
    cells = {row["model"]: [c["text"] for c in row["cells"]] for row in pairs.context["win_rates"]}
    assert "80%" in cells["alpha"] and "20%" in cells["beta"]  # the same win rate head to head
    model_page = client.get(f"/leaderboard/models/{llms['alpha'].code}/").content.decode()
    assert "Interval rank</th>" in model_page and ">Rank<" not in model_page
    assert "Win rate <small>(ties ½)</small>" in model_page and "decisive" not in model_page


def test_the_category_profile_marks_a_model_with_few_votes_provisional(client, settings):
    settings.ARENA_MIN_VOTES = 5
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, strong_weak("alpha", "beta", wins=6, losses=4), category="coding")
    cast_votes(llms, [("gamma", "alpha", "a", 1)], category="writing")
    client.force_login(make_user(role="eval_lead"))
    page = client.get(f"/leaderboard/models/{llms['gamma'].code}/").content.decode()
    profile = page.split("<h2>Category profile</h2>")[1].split("<h2>")[0]
    assert "writing" in profile and ">provisional</span>" in profile
    page = client.get(f"/leaderboard/models/{llms['alpha'].code}/").content.decode()
    profile = page.split("<h2>Category profile</h2>")[1].split("<h2>")[0]
    coding = profile.split("coding")[1].split("</tr>")[0]
    assert "provisional" not in coding  # 11 votes in coding
