"""A page that takes the signed-in user from its own row (arena.request_user) checks the session as Django does."""

import pytest

from battles.models import Battle
from tests.factories import make_arena

pytestmark = pytest.mark.django_db


def _battle_url(client, voter) -> str:
    make_arena()
    client.force_login(voter)
    url = client.get("/")["Location"]
    assert client.get(url).status_code == 200
    return url


def test_a_password_changed_elsewhere_ends_the_session_on_the_battle_page(client, voter):
    url = _battle_url(client, voter)
    voter.set_password("changed-elsewhere")
    voter.save()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_deactivated_voter_is_signed_out_on_the_battle_page(client, voter):
    url = _battle_url(client, voter)
    type(voter).objects.filter(pk=voter.pk).update(is_active=False)
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_someone_elses_session_does_not_open_the_battle(client, voter, django_user_model):
    url = _battle_url(client, voter)
    other = django_user_model.objects.create_user("other", password="pw-for-tests")
    client.force_login(other)
    assert client.get(url).status_code == 404
    assert Battle.objects.filter(voter=voter).count() == 1
