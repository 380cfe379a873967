import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from battles.catalog import llms
from battles.models import Battle, Vote
from battles.voting import serving, votes
from tests.factories import make_arena, make_user

pytestmark = pytest.mark.django_db


def test_battle_page_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_battle_uses_two_different_llms_on_the_same_prompt(voter):
    make_arena()
    battle = serving.serve_battle(voter=voter).battle
    assert battle.generation_a.prompt_id == battle.generation_b.prompt_id == battle.prompt_id
    assert battle.generation_a.llm_version.llm_id != battle.generation_b.llm_version.llm_id


def test_reload_serves_the_same_open_battle(client, voter):
    make_arena()
    client.force_login(voter)
    client.get("/")
    client.get("/")
    assert Battle.objects.filter(voter=voter).count() == 1


def test_both_positions_occur_for_the_same_pair(voter):
    _, (alpha, beta), _ = make_arena(llms=("alpha", "beta"), prompts=40)
    left_llms = set()
    for _ in range(40):
        battle = serving.serve_battle(voter=voter).battle
        left_llms.add(battle.generation_a.llm_version.llm_id)
        serving.skip_battle(battle_code=battle.code, voter=voter)
    assert left_llms == {alpha.pk, beta.pk}


def test_voter_is_not_served_a_prompt_twice(voter):
    make_arena(prompts=3)
    seen = []
    for _ in range(3):
        battle = serving.serve_battle(voter=voter).battle
        seen.append(battle.prompt_id)
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="a")
    assert len(set(seen)) == 3
    assert serving.serve_battle(voter=voter).battle is None


def test_page_says_so_when_nothing_is_left(client, voter):
    client.force_login(voter)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Nothing left to vote on" in response.content


def test_vote_is_stored_and_closes_the_battle(client, voter):
    make_arena()
    client.force_login(voter)
    client.get("/")
    battle = Battle.objects.get(voter=voter)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "b"})
    # Without JavaScript the vote redirects to the battle's own page, which shows the reveal.
    assert response.status_code == 302 and response["Location"] == f"/battle/{battle.code}/"
    assert b"You voted" in client.get(response["Location"]).content
    vote = Vote.objects.get()
    battle.refresh_from_db()
    assert (vote.outcome, vote.battle_id, battle.status) == ("b", battle.pk, "voted")
    assert vote.version_a_id == battle.generation_a.llm_version_id
    assert vote.time_to_vote_ms is not None
    assert not vote.insider


def test_double_submit_answers_the_same_and_stores_one_vote(client, voter):
    make_arena()
    client.force_login(voter)
    client.get("/")
    battle = Battle.objects.get(voter=voter)
    first = client.post(f"/battle/{battle.code}/vote/", {"outcome": "tie"}, follow=True)
    second = client.post(f"/battle/{battle.code}/vote/", {"outcome": "tie"}, follow=True)
    assert first.status_code == second.status_code == 200
    assert b"counted once" not in first.content
    assert b"counted once" in second.content
    assert Vote.objects.count() == 1


def test_a_different_second_choice_is_refused_with_409(client, voter):
    make_arena()
    client.force_login(voter)
    client.get("/")
    battle = Battle.objects.get(voter=voter)
    client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"})
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "b"})
    assert response.status_code == 409
    assert b"cannot be changed" in response.content
    assert list(Vote.objects.values_list("outcome", flat=True)) == ["a"]


def test_vote_on_someone_elses_battle_is_refused(client, voter):
    make_arena()
    other = make_user("someone-else")
    battle = serving.serve_battle(voter=other).battle
    client.force_login(voter)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"}, HTTP_X_ARENA_FRAGMENT="1")
    assert response.status_code == 403
    assert b"served to someone else" in response.content
    assert Vote.objects.count() == 0


def test_invalid_outcome_is_a_clear_400(client, voter):
    make_arena()
    client.force_login(voter)
    client.get("/")
    battle = Battle.objects.get(voter=voter)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "model_a"})
    assert response.status_code == 400
    assert b"not a valid choice" in response.content
    assert Vote.objects.count() == 0


def test_unknown_battle_is_a_clear_message_not_a_500(client, voter):
    client.force_login(voter)
    response = client.post("/battle/00000000-0000-0000-0000-000000000000/vote/", {"outcome": "a"})
    assert response.status_code == 400
    assert b"does not exist" in response.content


def test_vote_without_csrf_token_is_refused_with_a_friendly_page(voter):
    from django.test import Client

    make_arena()
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(voter)
    battle = serving.serve_battle(voter=voter).battle
    response = csrf_client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"})
    assert response.status_code == 403
    assert b"Reload the page" in response.content
    assert Vote.objects.count() == 0


def test_skipped_battle_cannot_be_voted(voter):
    make_arena()
    battle = serving.serve_battle(voter=voter).battle
    serving.skip_battle(battle_code=battle.code, voter=voter)
    with pytest.raises(votes.VoteConflict):
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="a")


def test_insider_votes_are_flagged_as_insider(eval_lead):
    make_arena()
    battle = serving.serve_battle(voter=eval_lead).battle
    result = votes.record_vote(battle_code=battle.code, voter=eval_lead, outcome="a")
    assert result.vote.insider


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_stores_exactly_one_vote():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs a server database (SQLite serialises writers)")
    make_arena()
    voter = make_user("racer")
    battle = serving.serve_battle(voter=voter).battle
    barrier = threading.Barrier(8)
    results, errors = [], []

    def submit():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            results.append(votes.record_vote(battle_code=battle.code, voter=voter, outcome="a"))
        except Exception as exc:  # noqa: BLE001  (any failure in the thread is reported below)
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Vote.objects.filter(battle=battle).count() == 1
    assert sum(not r.replayed for r in results) == 1


def test_a_vote_faster_than_anyone_can_read_is_stored_but_flagged(voter):
    make_arena()
    battle = serving.serve_battle(voter=voter).battle
    vote = votes.record_vote(battle_code=battle.code, voter=voter, outcome="a").vote
    assert vote.flagged and vote.flags == ["too_fast"]


def test_a_vote_after_reading_is_not_flagged(voter, settings):
    make_arena()
    battle = serving.serve_battle(voter=voter).battle
    Battle.objects.filter(pk=battle.pk).update(created_at=battle.created_at - timedelta(seconds=60))
    vote = votes.record_vote(battle_code=battle.code, voter=voter, outcome="a").vote
    assert not vote.flagged and vote.time_to_vote_ms >= 60_000


def test_an_answer_naming_a_model_flags_the_battle_and_its_vote(voter):
    pool, (alpha, beta), (prompt,) = make_arena(llms=("alpha-one", "beta-two"), prompts=1)
    alpha.current_version().generations.update(text="As Claude, I would say the answer is 4.")
    battle = serving.serve_battle(voter=voter).battle
    assert battle.identity_leak and battle.leaked_terms == ["claude"]
    vote = votes.record_vote(battle_code=battle.code, voter=voter, outcome="a").vote
    assert "identity_leak" in vote.flags and vote.flagged


def test_an_answers_mentions_are_remembered_only_for_its_text_and_the_terms(voter):
    """A new battle scans both answers (remembered per process): a changed text or new terms are scanned again."""
    pool, (alpha, beta), (prompt,) = make_arena(llms=("alpha-one", "beta-two"), prompts=1)
    alpha.current_version().generations.update(text="As Claude, I would say the answer is 4.")
    assert serving.serve_battle(voter=voter).battle.leaked_terms == ["claude"]
    alpha.current_version().generations.update(text="Zephyrine here: the answer is 4.")
    assert serving.serve_battle(voter=make_user()).battle.leaked_terms == []
    # The same text, once an LLM is called Zephyrine: a name it could give away.
    beta.name = "zephyrine"
    beta.save()
    serving.cached_identity_terms.clear()
    assert serving.serve_battle(voter=make_user()).battle.leaked_terms == ["zephyrine"]


def test_daily_cap_refuses_further_votes_with_a_clear_message(client, voter, settings):
    settings.ARENA_DAILY_VOTE_CAP = 2
    make_arena(prompts=4)
    client.force_login(voter)
    for _ in range(2):
        battle = serving.serve_battle(voter=voter).battle
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="tie")
    battle = serving.serve_battle(voter=voter).battle
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"})
    assert response.status_code == 429
    assert b"limit" in response.content
    assert Vote.objects.count() == 2


def test_reasons_and_comment_are_stored(client, voter):
    make_arena()
    client.force_login(voter)
    client.get("/")
    battle = Battle.objects.get(voter=voter)
    client.post(
        f"/battle/{battle.code}/vote/",
        {
            "outcome": "a",
            "reasons_a": ["correct", "concise"],
            "reasons_b": ["hallucinated"],
            "comment": "B invented an API.",
        },
    )
    vote = Vote.objects.get()
    assert (vote.reasons_a, vote.reasons_b, vote.comment) == (
        ["correct", "concise"],
        ["hallucinated"],
        "B invented an API.",
    )


def test_unknown_reason_is_refused_and_nothing_is_stored(client, voter):
    make_arena()
    client.force_login(voter)
    client.get("/")
    battle = Battle.objects.get(voter=voter)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a", "reasons_a": ["<script>"]})
    assert response.status_code == 400
    assert Vote.objects.count() == 0


def test_two_versions_of_one_llm_never_meet(voter):
    from tests.factories import make_generation

    pool, (alpha, beta), prompts = make_arena(llms=("alpha", "beta"), prompts=6)
    llms.update_llm_settings(llm=alpha, temperature=0.1)
    alpha.refresh_from_db()
    for prompt in prompts:
        make_generation(prompt, alpha, text="second version answer")
    for _ in range(6):
        battle = serving.serve_battle(voter=voter).battle
        families = {battle.version_a.llm_id, battle.version_b.llm_id}
        assert families == {alpha.pk, beta.pk}
        serving.skip_battle(battle_code=battle.code, voter=voter)


def test_personal_leaderboard_opens_after_twenty_votes_and_ranks_the_voters_favourite(client, voter):
    _, (alpha, beta, gamma), _ = make_arena(prompts=21)
    client.force_login(voter)
    for n in range(21):
        if n == 19:
            assert b"opens after 20 votes" in client.get("/me/").content
        battle = serving.serve_battle(voter=voter).battle
        a_name = battle.generation_a.llm_version.llm.name
        b_name = battle.generation_b.llm_version.llm.name
        outcome = "a" if a_name == "alpha" else "b" if b_name == "alpha" else "tie"
        votes.record_vote(battle_code=battle.code, voter=voter, outcome=outcome)
    board = votes.personal_leaderboard(voter=voter)
    assert board[0]["model"] == "alpha"
    assert sum(row["battles"] for row in board) == 42
    response = client.get("/me/")
    assert b"Your leaderboard" in response.content and b"alpha" in response.content


def test_a_vote_whose_voter_is_not_confirmed_stores_nothing(voter):
    make_arena()
    battle = serving.serve_battle(voter=voter).battle
    offered = []

    def refuse(user) -> bool:
        offered.append(user)
        return False

    with pytest.raises(votes.VoterUnconfirmed):
        votes.record_vote(battle_code=battle.code, voter_id=voter.pk, adopt_voter=refuse, outcome="a")
    assert [user.pk for user in offered] == [voter.pk]  # the battle's voter, as the locked read loaded it
    other = make_user()
    with pytest.raises(votes.VoterUnconfirmed):  # not their battle: nothing is offered
        votes.record_vote(battle_code=battle.code, voter_id=other.pk, adopt_voter=offered.append, outcome="a")
    assert len(offered) == 1
    assert not Vote.objects.exists() and Battle.objects.get(pk=battle.pk).status == Battle.Status.OPEN
    result = votes.record_vote(battle_code=battle.code, voter_id=voter.pk, adopt_voter=lambda user: True, outcome="a")
    assert result.vote.voter_id == voter.pk and not result.replayed


def test_the_closing_update_is_a_compare_and_set(voter):
    """The vote closes its battle with a prepared UPDATE (votes._close_voted): only an open battle, only once."""
    make_arena(prompts=2)
    skipped = serving.serve_battle(voter=voter).battle
    serving.skip_battle(battle_code=skipped.code, voter=voter)
    battle = serving.serve_battle(voter=voter).battle
    now = timezone.now()
    assert not votes._close_voted(skipped.pk, now)
    assert votes._close_voted(battle.pk, now)
    assert not votes._close_voted(battle.pk, timezone.now())
    stored = Battle.objects.get(pk=battle.pk)
    assert (stored.status, stored.closed_at) == (Battle.Status.VOTED, now)
    assert Battle.objects.get(pk=skipped.pk).status == Battle.Status.SKIPPED
    assert Battle.objects.get(pk=skipped.pk).closed_at != now


def test_a_vote_names_its_voter_one_way_or_the_other(voter):
    make_arena()
    battle = serving.serve_battle(voter=voter).battle
    with pytest.raises(TypeError):
        votes.record_vote(battle_code=battle.code, outcome="a")
    with pytest.raises(TypeError):
        votes.record_vote(battle_code=battle.code, voter_id=voter.pk, outcome="a")
    assert not Vote.objects.exists()
