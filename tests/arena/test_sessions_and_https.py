"""Sessions end after inactivity, and the HTTPS settings read from the environment."""

import time

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured

from arena import config, sessions
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def expiry_of(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_an_active_session_is_kept_alive_at_most_once_per_refresh_interval(client, monkeypatch):
    client.force_login(make_user("idle-voter"))
    client.get("/me/")  # the first request after sign-in records the refresh
    first = expiry_of(client)
    client.get("/me/")
    assert expiry_of(client) == first  # within the interval: no write
    later = time.time() + sessions.refresh_interval() + 1
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    client.get("/me/")
    assert expiry_of(client) > first  # past it: saved again, the idle window starts over


def test_the_refresh_interval_is_a_tenth_of_the_lifetime_at_most_five_minutes(settings):
    settings.SESSION_COOKIE_AGE = 12 * 3600
    assert sessions.refresh_interval() == 300
    settings.SESSION_COOKIE_AGE = 600
    assert sessions.refresh_interval() == 60


def test_proxy_ssl_header_is_parsed_strictly(monkeypatch):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", " HTTP_X_FORWARDED_PROTO , https ")
    assert config.env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER") == ("HTTP_X_FORWARDED_PROTO", "https")
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "")
    assert config.env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER") is None
    for bad in ("X-Forwarded-Proto,https", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PROTO,https,http"):
        monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", bad)
        with pytest.raises(ImproperlyConfigured, match="SECURE_PROXY_SSL_HEADER"):
            config.env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")


def test_behind_the_proxy_https_requests_get_hsts(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    over_https = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert over_https["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/healthz")  # plain HTTP: never
