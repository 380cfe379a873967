"""A vote whose session expired, without JavaScript: nothing is stored, and after signing in the voter
is back on the same battle with word that the vote was not stored (issue 12, point 6)."""

import pytest

from battles.models import Vote
from tests.factories import make_arena, make_user, open_battle_url

pytestmark = pytest.mark.django_db


def test_a_vote_posted_after_the_session_expired_is_refused_and_said_so_after_signing_in(client):
    make_arena(prompts=2)
    voter = make_user("nojs", password="a-long-password")
    client.force_login(voter)
    battle_url = open_battle_url(client)
    code = battle_url.rstrip("/").split("/")[-1]
    client.logout()  # the session is gone, as when it expires

    response = client.post(f"/battle/{code}/vote/", {"outcome": "a"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    assert not Vote.objects.exists()

    signed_in = client.post(
        "/accounts/login/", {"username": "nojs", "password": "a-long-password", "next": f"/battle/{code}/vote/"}
    )
    page = client.get(signed_in["Location"], follow=True)
    assert page.redirect_chain[-1][0] == f"/battle/{code}/"
    assert "was not stored" in page.content.decode()
    assert 'id="vote-form"' in page.content.decode()


def test_reopening_the_vote_address_of_a_voted_battle_says_nothing_of_a_lost_vote(client):
    make_arena(prompts=2)
    voter = make_user("reopener")
    client.force_login(voter)
    code = open_battle_url(client).rstrip("/").split("/")[-1]
    client.post(f"/battle/{code}/vote/", {"outcome": "b"})
    page = client.get(f"/battle/{code}/vote/", follow=True)
    assert page.redirect_chain[-1][0] == f"/battle/{code}/"
    assert "was not stored" not in page.content.decode()
    assert Vote.objects.get().outcome == "b"
