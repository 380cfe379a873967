"""Sign-in throttling: ten wrong passwords for one user from one address lock that pair for a while."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings
from django.utils import timezone

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-right-password"


def sign_in(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password})


def fail(username: str, times: int, address: str = "10.0.0.1") -> list[int]:
    return [sign_in(username, "wrong-password", address).status_code for _ in range(times)]


def test_ten_failures_lock_the_user_at_that_address_with_a_clear_page_even_for_the_right_password():
    make_user("target", password=PASSWORD)
    assert fail("target", 9) == [200] * 9  # the form again, with its error
    assert sign_in("target", PASSWORD).status_code == 302  # nine are forgiven, and a success clears them
    assert fail("target", 10) == [200] * 9 + [429]  # the tenth failure locks
    locked = sign_in("target", PASSWORD)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in locked for now" in page and "15 minutes" in page
    assert "_auth_user_id" not in locked.client.session


def test_the_lock_is_per_user_and_address():
    make_user("target", password=PASSWORD)
    make_user("neighbour", password=PASSWORD)
    fail("target", 10, address="10.0.0.1")
    assert sign_in("target", PASSWORD, address="10.0.0.2").status_code == 302  # the employee elsewhere
    assert sign_in("neighbour", PASSWORD, address="10.0.0.1").status_code == 302  # a colleague on the same network
    assert sign_in("target", PASSWORD, address="10.0.0.1").status_code == 429


def test_the_lock_ends_after_the_window():
    make_user("target", password=PASSWORD)
    fail("target", 10)
    assert sign_in("target", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in("target", PASSWORD).status_code == 302


def test_an_admin_can_unlock_before_the_window_ends(admin_user):
    make_user("target", password=PASSWORD)
    fail("target", 10)
    admin = Client()
    admin.force_login(admin_user)
    attempts = admin.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and "target" in attempts.content.decode()
    attempt = AccessAttempt.objects.get(username="target")
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert sign_in("target", PASSWORD).status_code == 302


def test_a_client_cannot_choose_its_address_without_a_trusted_proxy():
    make_user("target", password=PASSWORD)
    client = Client(REMOTE_ADDR="10.0.0.1")
    for n in range(10):
        client.post(
            "/accounts/login/",
            {"username": "target", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    assert sign_in("target", PASSWORD, address="10.0.0.1").status_code == 429


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_the_address_is_the_hop_the_proxy_added():
    """nginx appends the real client to X-Forwarded-For; anything a client put before it is ignored."""
    make_user("target", password=PASSWORD)
    proxy = Client(REMOTE_ADDR="172.18.0.5")
    for n in range(10):
        proxy.post(
            "/accounts/login/",
            {"username": "target", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 10.0.0.7",
        )
    from_client = proxy.post(
        "/accounts/login/", {"username": "target", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="10.0.0.7"
    )
    from_colleague = proxy.post(
        "/accounts/login/", {"username": "target", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="10.0.0.8"
    )
    assert (from_client.status_code, from_colleague.status_code) == (429, 302)
