"""Static files: hashed names from the manifest, cached for ever, served compressed."""

import re

import pytest

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_pages_name_static_files_by_their_hash_and_they_are_cached_for_ever(client):
    client.force_login(make_user("static-voter"))
    page = client.get("/").content.decode()
    script = re.search(r'src="(/static/js/battle\.[0-9a-f]{12}\.js)"', page)
    assert script, "the battle page should load its script under a hashed name"
    response = client.get(script.group(1))
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"] and "max-age=315360000" in response["Cache-Control"]
    compressed = client.get(script.group(1), HTTP_ACCEPT_ENCODING="gzip")
    assert compressed["Content-Encoding"] == "gzip"


def test_the_unhashed_name_is_not_cached_for_ever(client):
    response = client.get("/static/js/battle.js")
    assert response.status_code == 200
    assert "immutable" not in response.get("Cache-Control", "")
