"""A page that takes the signed-in user from its own row (arena.request_user) checks the session as Django does."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser

from arena.sessions import SessionStore
from battles.models import Battle, Vote
from battles.voting.battle_reads import adopt_session_voter
from tests.factories import make_arena, open_battle_url, own_battle_url

pytestmark = pytest.mark.django_db


def _battle_url(client, voter) -> str:
    make_arena()
    client.force_login(voter)
    url = open_battle_url(client)
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


# The session's user read as one prepared statement with their counts and roles (adopt_session_voter), on a
# new battle (GET /).


def _request_of(client, rf):
    """A request carrying ``client``'s session, as the session middleware gives it to a view."""
    request = rf.get("/")
    request.session = SessionStore(client.session.session_key)
    request.user = AnonymousUser()  # stands for the middleware's lazy user: what is left when nothing is adopted
    return request


def _same_fields(read, expected) -> None:
    for field in type(expected)._meta.concrete_fields:
        value, wanted = getattr(read, field.attname), getattr(expected, field.attname)
        assert value == wanted and type(value) is type(wanted), field.name


def test_the_session_user_is_read_as_django_reads_it(client, voter, rf, django_user_model):
    voter.first_name, voter.email = "Zoë", "zoe@example.test"
    voter.save()
    client.force_login(voter)
    request = _request_of(client, rf)
    assert adopt_session_voter(request) is not None
    assert type(request.user) is django_user_model
    _same_fields(request.user, django_user_model.objects.get(pk=voter.pk))
    assert not request.user._state.adding and request.user.is_authenticated


def test_a_new_battle_takes_its_voter_from_the_prepared_read(client, voter, django_user_model):
    make_arena()
    client.force_login(voter)
    response = client.get("/")
    assert own_battle_url(response).startswith("/battle/") and b'id="vote-form"' in response.content
    # Adopted: a user instance of its own, not the middleware's lazy object.
    assert type(response.wsgi_request.user) is django_user_model and response.wsgi_request.user.pk == voter.pk


def _wrong_hash(client, voter):
    session = client.session
    session[HASH_SESSION_KEY] = "0" * 64
    session.save()


def _inactive(client, voter):
    type(voter).objects.filter(pk=voter.pk).update(is_active=False)


def _unknown_backend(client, voter):
    session = client.session
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.RemoteUserBackend"
    session.save()


def _backend_that_loads_no_users(client, voter):
    # Configured, but its get_user() answers None: Django signs such a session out.
    session = client.session
    session[BACKEND_SESSION_KEY] = "arena.permissions.AdminRolePermissions"
    session.save()


def _user_gone(client, voter):
    session = client.session
    session[SESSION_KEY] = str(voter.pk + 1000)
    session.save()


SIGNED_OUT = [_wrong_hash, _inactive, _unknown_backend, _backend_that_loads_no_users, _user_gone]


@pytest.mark.parametrize("spoil", SIGNED_OUT, ids=lambda spoil: spoil.__name__.strip("_"))
def test_a_session_that_does_not_check_out_is_not_adopted_and_django_signs_it_out(client, voter, rf, spoil):
    make_arena()
    client.force_login(voter)
    spoil(client, voter)
    request = _request_of(client, rf)
    assert adopt_session_voter(request) is None
    assert isinstance(request.user, AnonymousUser)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Battle.objects.filter(voter=voter).exists()


def test_a_session_signed_with_a_rotated_secret_is_left_to_django_which_keeps_it(client, voter, rf, settings):
    make_arena()
    settings.SECRET_KEY = "the-old-secret-key-of-this-test-" * 2
    client.force_login(voter)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-of-this-test-" * 2
    assert adopt_session_voter(_request_of(client, rf)) is None
    response = client.get("/")
    assert response.status_code == 200 and b'id="vote-form"' in response.content
    assert type(response.wsgi_request.user) is not type(voter)  # Django's lazy user, loaded its way


# The vote takes its voter from the battle's locked row (record_vote's adopt_voter).


def _open_battle_of(client, voter) -> Battle:
    make_arena()
    client.force_login(voter)
    assert b'id="vote-form"' in client.get("/").content
    return Battle.objects.get(voter=voter, status=Battle.Status.OPEN)


def test_a_vote_takes_its_voter_from_the_battles_locked_row(client, voter, django_user_model):
    battle = _open_battle_of(client, voter)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"}, headers={"X-Arena-Fragment": "1"})
    assert response.status_code == 200 and b"model-name" in response.content
    assert type(response.wsgi_request.user) is django_user_model and response.wsgi_request.user.pk == voter.pk
    assert Vote.objects.get(battle=battle).voter_id == voter.pk


def test_an_eval_leads_vote_taken_from_the_row_is_an_insider_vote(client, eval_lead):
    battle = _open_battle_of(client, eval_lead)
    assert client.post(f"/battle/{battle.code}/vote/", {"outcome": "tie"}).status_code == 302
    assert Vote.objects.get(battle=battle).insider


@pytest.mark.parametrize("spoil", SIGNED_OUT, ids=lambda spoil: spoil.__name__.strip("_"))
def test_a_vote_whose_session_does_not_check_out_is_not_stored_and_django_signs_it_out(client, voter, spoil):
    battle = _open_battle_of(client, voter)
    spoil(client, voter)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"}, headers={"X-Arena-Fragment": "1"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Vote.objects.exists()
    assert Battle.objects.get(pk=battle.pk).status == Battle.Status.OPEN
