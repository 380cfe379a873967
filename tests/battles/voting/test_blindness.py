"""Before a vote nothing the browser receives may identify a model."""

import pytest

from battles.models import Battle
from tests.factories import make_generation, make_llm, make_pool, make_prompt, own_battle_url

pytestmark = pytest.mark.django_db

CANARIES = ("canaryzephyr", "canaryquokka")


def _canary_arena():
    pool = make_pool("pool-x")
    llms = [
        make_llm(CANARIES[0], model_id=f"{CANARIES[0]}-model-id", base_url=f"http://{CANARIES[0]}.invalid/v1"),
        make_llm(CANARIES[1], model_id=f"{CANARIES[1]}-model-id", base_url=f"http://{CANARIES[1]}.invalid/v1"),
    ]
    prompt = make_prompt(pool, "Write a short greeting for new employees.")
    for llm in llms:
        make_generation(prompt, llm, text="Welcome aboard! We are glad you are here.")
    return llms


def _assert_no_canary(response):
    blob = response.content.decode().lower()
    headers = "\n".join(f"{k}: {v}" for k, v in response.items()).lower()
    cookies = str(response.cookies).lower()
    for canary in CANARIES:
        assert canary not in blob
        assert canary not in headers
        assert canary not in cookies


def test_battle_page_before_the_vote_names_no_model(client, voter):
    llms = _canary_arena()
    client.force_login(voter)
    new = client.get("/")
    battle = Battle.objects.get()
    # The battle's own address carries only its opaque code.
    assert own_battle_url(new) == f"/battle/{battle.code}/"
    # The page at "/" (a new battle) and the battle's own page (its reload) alike.
    for response in (new, client.get(f"/battle/{battle.code}/")):
        assert response.status_code == 200
        assert b"Model A" in response.content and b"Model B" in response.content
        _assert_no_canary(response)
        # No database ids of models, versions or generations either: only the opaque code.
        assert str(battle.code) in response.content.decode()
        for llm in llms:
            assert f"/{llm.pk}/" not in response.content.decode()


def test_battle_urls_with_a_category_name_no_model(client, voter):
    _canary_arena()
    client.force_login(voter)
    new = client.get("/?category=writing")
    battle = Battle.objects.get()
    assert own_battle_url(new) == f"/battle/{battle.code}/?category=writing"
    _assert_no_canary(new)
    page = client.get(own_battle_url(new))
    _assert_no_canary(page)
    # A GET on the vote address sends the browser back to the same opaque page, nothing more.
    bounced = client.get(f"/battle/{battle.code}/vote/?category=writing")
    assert bounced["Location"] == f"/battle/{battle.code}/?category=writing"
    _assert_no_canary(bounced)


def test_reveal_after_the_vote_names_both_models(client, voter):
    _canary_arena()
    client.force_login(voter)
    client.get("/")
    battle = Battle.objects.get()
    for fragment in ("1", ""):
        response = client.post(
            f"/battle/{battle.code}/vote/", {"outcome": "a"}, HTTP_X_ARENA_FRAGMENT=fragment, follow=True
        )
        text = response.content.decode()
        assert all(canary in text for canary in CANARIES)
    # The battle's own page shows the reveal once voted (Back and Reload land there).
    text = client.get(f"/battle/{battle.code}/").content.decode()
    assert all(canary in text for canary in CANARIES)


def test_static_assets_name_no_model(client, voter):
    _canary_arena()
    client.force_login(voter)
    for path in ("/static/js/battle.js", "/static/css/arena.css"):
        response = client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200
        for canary in CANARIES:
            assert canary.encode() not in body.lower()
