"""PASSWORD_LOGIN=0 leaves single sign-on as the only way in, except the break-glass page for superusers."""

import pytest
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-right-password"


@pytest.fixture
def sso_only(settings):
    settings.PASSWORD_LOGIN = False
    settings.OIDC_ISSUER = "https://idp.corp.example"
    settings.OIDC_PROVIDER_NAME = "Corp SSO"
    return settings


def test_the_sign_in_page_offers_passwords_until_turned_off(settings):
    page = Client().get("/accounts/login/").content.decode()
    assert 'name="password"' in page and "/oidc/login/" not in page
    settings.OIDC_ISSUER = "https://idp.corp.example"
    settings.OIDC_PROVIDER_NAME = "Corp SSO"
    page = Client().get("/accounts/login/").content.decode()
    assert 'name="password"' in page and "Sign in with Corp SSO" in page


def test_with_password_login_off_the_page_has_only_single_sign_on_and_refuses_passwords(sso_only):
    make_user("kay", password=PASSWORD)
    page = Client().get("/accounts/login/").content.decode()
    assert "Sign in with Corp SSO" in page and 'name="password"' not in page
    response = Client().post("/accounts/login/", {"username": "kay", "password": PASSWORD})
    assert response.status_code == 403 and "Password sign-in is turned off" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_admin_has_no_password_form_of_its_own(sso_only):
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/admin/"


def test_break_glass_lets_a_superuser_in_with_a_password(sso_only):
    make_user("root", role="admin", password=PASSWORD, is_superuser=True, is_staff=True)
    client = Client()
    assert 'name="password"' in client.get("/accounts/break-glass/").content.decode()
    response = client.post("/accounts/break-glass/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_break_glass_refuses_everyone_else_as_it_refuses_a_wrong_password(sso_only):
    make_user("kay", role="admin", password=PASSWORD, is_staff=True)
    make_user("root", password=PASSWORD, is_superuser=True)
    right_password = Client().post("/accounts/break-glass/", {"username": "kay", "password": PASSWORD})
    wrong_password = Client().post("/accounts/break-glass/", {"username": "root", "password": "wrong-password"})
    for response in (right_password, wrong_password):
        assert response.status_code == 200
        assert "Only a superuser&#x27;s username and password work here." in response.content.decode()
        assert "_auth_user_id" not in response.wsgi_request.session


def test_break_glass_is_throttled_like_any_password_sign_in(sso_only):
    make_user("root", password=PASSWORD, is_superuser=True)
    client = Client(REMOTE_ADDR="10.0.0.9")
    for _ in range(10):
        response = client.post("/accounts/break-glass/", {"username": "root", "password": "wrong-password"})
    assert response.status_code == 429
    assert client.post("/accounts/break-glass/", {"username": "root", "password": PASSWORD}).status_code == 429


def test_single_sign_on_addresses_say_so_when_it_is_not_set_up(settings):
    settings.OIDC_ISSUER = ""
    for path in ("/oidc/login/", "/oidc/callback/?code=x&state=y"):
        response = Client().get(path)
        assert response.status_code == 404 and "Single sign-on is not set up" in response.content.decode()
