"""arena.sessions.SessionStore: Django's database sessions, loaded with one prepared statement."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from arena.sessions import SessionStore
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _saved(data: dict) -> str:
    store = SessionStore()
    store.update(data)
    store.create()
    assert store.session_key is not None
    return store.session_key


def test_a_stored_session_loads_as_djangos_store_loads_it():
    key = _saved({"answer": 42, "name": "ünïcode"})
    assert dict(SessionStore(key).items()) == dict(DjangoSessionStore(key).items()) == {"answer": 42, "name": "ünïcode"}


def test_an_expired_or_unknown_session_is_empty_and_saving_it_makes_a_new_key():
    key = _saved({"answer": 42})
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    for missing in (key, "x" * 32):
        store = SessionStore(missing)
        assert dict(store.items()) == {}
        store["fresh"] = True
        store.save()
        assert store.session_key not in (None, missing)


def test_tampered_session_data_loads_as_empty():
    key = _saved({"answer": 42})
    Session.objects.filter(session_key=key).update(session_data="not-signed-data")
    assert dict(SessionStore(key).items()) == {}


def test_a_signed_in_request_uses_it_and_postgres_prepares_the_read(client):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are a Postgres matter")
    client.force_login(make_user())
    for _ in range(4):
        assert client.get("/me/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("django_session" in statement for statement in prepared)
