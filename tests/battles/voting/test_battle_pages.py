"""Each battle has its own page: categories, redirects, Back/Reload and methods, through the test client."""

import uuid

import pytest
from django.test import Client

from battles.models import Battle, Vote
from battles.voting import serving
from tests.factories import (
    make_generation,
    make_llm,
    make_pool,
    make_prompt,
    make_user,
    open_battle_url,
    own_battle_url,
)

pytestmark = pytest.mark.django_db


def _two_category_arena(per_category=3):
    pool = make_pool()
    llms = [make_llm("alpha"), make_llm("beta"), make_llm("gamma")]
    for category in ("reasoning", "writing"):
        for n in range(per_category):
            prompt = make_prompt(pool, f"A {category} question, number {n}.", category=category)
            for llm in llms:
                make_generation(prompt, llm, text=f"{llm.name}-free answer {n} about {category}.")
    return llms


def _open_battle(voter):
    return Battle.objects.get(voter=voter, status=Battle.Status.OPEN)


def test_root_shows_the_open_battle_and_names_its_own_page(client, voter):
    _two_category_arena()
    client.force_login(voter)
    first = client.get("/")
    battle = _open_battle(voter)
    assert own_battle_url(first) == f"/battle/{battle.code}/"
    assert battle.generation_a.text in first.content.decode() and battle.generation_b.text in first.content.decode()
    # A reload of "/" (without JavaScript the address stays "/") shows the same battle, read as its own page reads it.
    again = client.get("/")
    assert own_battle_url(again) == own_battle_url(first)
    assert battle.generation_a.text in again.content.decode() and battle.prompt.text in again.content.decode()
    assert Battle.objects.filter(voter=voter).count() == 1


def test_reload_of_an_open_battle_shows_the_same_pair(client, voter):
    _two_category_arena()
    client.force_login(voter)
    url = open_battle_url(client)
    pages = [client.get(url).content.decode() for _ in range(2)]
    battle = _open_battle(voter)
    for page in pages:
        assert battle.generation_a.text in page and battle.generation_b.text in page
    assert Battle.objects.filter(voter=voter).count() == 1


def test_choosing_a_category_sets_the_open_battle_of_another_aside_as_skipped(client, voter):
    _two_category_arena()
    client.force_login(voter)
    client.get("/?category=reasoning")
    reasoning = _open_battle(voter)
    assert reasoning.prompt.category == "reasoning"
    response = client.get("/?category=writing")
    writing = _open_battle(voter)
    assert writing.prompt.category == "writing"
    assert own_battle_url(response) == f"/battle/{writing.code}/?category=writing"
    reasoning.refresh_from_db()
    # Skipped, not deleted: the set-aside battle stays in the data.
    assert reasoning.status == Battle.Status.SKIPPED and reasoning.closed_at is not None
    assert Battle.objects.filter(voter=voter).count() == 2


def test_choosing_the_open_battles_own_category_keeps_it(client, voter):
    _two_category_arena()
    client.force_login(voter)
    client.get("/")
    battle = _open_battle(voter)
    client.get(f"/?category={battle.prompt.category}")
    assert _open_battle(voter) == battle


def test_a_category_with_nothing_left_keeps_the_open_battle_open(client, voter):
    _two_category_arena(per_category=1)
    client.force_login(voter)
    client.get("/?category=writing")
    writing = _open_battle(voter)
    serving.skip_battle(battle_code=writing.code, voter=voter)
    client.get("/?category=reasoning")
    reasoning = _open_battle(voter)
    response = client.get("/?category=writing")
    assert response.status_code == 200 and "Nothing left to vote on" in response.content.decode()
    assert _open_battle(voter) == reasoning


def test_an_unknown_category_gets_a_clear_message_and_no_battle(client, voter):
    _two_category_arena()
    client.force_login(voter)
    response = client.get("/?category=poetry")
    text = response.content.decode()
    assert response.status_code == 404
    assert "No category “poetry”" in text
    assert "?category=writing" in text and "?category=reasoning" in text
    assert not Battle.objects.exists()


def test_the_select_vote_and_skip_forms_keep_the_category(client, voter):
    _two_category_arena()
    client.force_login(voter)
    page = client.get("/?category=writing", follow=True).content.decode()
    battle = _open_battle(voter)
    assert '<option value="writing" selected>' in page
    assert f'action="/battle/{battle.code}/vote/?category=writing"' in page
    assert f'action="/battle/{battle.code}/skip/?category=writing"' in page
    skipped = client.post(f"/battle/{battle.code}/skip/?category=writing")
    assert skipped["Location"] == "/?category=writing"
    follow = client.get(skipped["Location"])
    assert _open_battle(voter).prompt.category == "writing"
    assert own_battle_url(follow).endswith("?category=writing")


def test_the_reveal_leads_to_the_next_battle_of_the_same_category(client, voter):
    _two_category_arena()
    client.force_login(voter)
    client.get("/?category=writing")
    battle = _open_battle(voter)
    fragment = client.post(
        f"/battle/{battle.code}/vote/?category=writing", {"outcome": "a"}, HTTP_X_ARENA_FRAGMENT="1"
    ).content.decode()
    assert 'href="/?category=writing"' in fragment and "<html" not in fragment
    page = client.get(f"/battle/{battle.code}/?category=writing").content.decode()
    assert 'href="/?category=writing"' in page


def test_a_vote_without_javascript_redirects_to_the_battle_page(client, voter):
    _two_category_arena()
    client.force_login(voter)
    client.get("/?category=writing")
    battle = _open_battle(voter)
    response = client.post(f"/battle/{battle.code}/vote/?category=writing", {"outcome": "tie"})
    assert response.status_code == 302
    assert response["Location"] == f"/battle/{battle.code}/?category=writing"
    reveal = client.get(response["Location"])
    names = {battle.version_a.llm.name, battle.version_b.llm.name}
    assert b"data-revealed" in reveal.content and all(name.encode() in reveal.content for name in names)


def test_get_on_post_only_addresses_redirects_to_the_battle(client, voter):
    _two_category_arena()
    client.force_login(voter)
    client.get("/")
    battle = _open_battle(voter)
    for action in ("vote", "skip"):
        response = client.get(f"/battle/{battle.code}/{action}/")
        assert response.status_code == 302 and response["Location"] == f"/battle/{battle.code}/"
    code = uuid.uuid4()
    assert client.get(f"/live/{code}/follow-up/")["Location"] == f"/live/{code}/"
    # The GET changed nothing.
    assert _open_battle(voter) == battle and not Vote.objects.exists()


def test_put_on_the_battle_page_is_a_405_page_in_the_sites_style(voter):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(voter)
    for method, path in (("put", "/"), ("delete", "/"), ("put", f"/battle/{uuid.uuid4()}/vote/"), ("patch", "/me/")):
        response = getattr(csrf_client, method)(path)
        text = response.content.decode()
        assert response.status_code == 405, (method, path)
        assert "Page expired" not in text
        assert "Not possible here" in text and 'class="topbar"' in text
        assert "GET" in response["Allow"] or "POST" in response["Allow"]


def test_post_on_the_battle_page_is_a_405_page(client, voter):
    client.force_login(voter)
    response = client.post("/")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert b"Not possible here" in response.content


def test_someone_elses_battle_page_is_not_found(client, voter):
    _two_category_arena()
    other = make_user("someone-else")
    battle = serving.serve_battle(voter=other).battle
    client.force_login(voter)
    assert client.get(f"/battle/{battle.code}/").status_code == 404


def test_a_skipped_battles_page_leads_to_the_current_one(client, voter):
    _two_category_arena()
    client.force_login(voter)
    client.get("/")
    battle = _open_battle(voter)
    serving.skip_battle(battle_code=battle.code, voter=voter)
    response = client.get(f"/battle/{battle.code}/?category=writing")
    assert response["Location"] == "/?category=writing"
    assert b"was skipped" in client.get(response["Location"], follow=True).content


def test_prompts_keep_their_lines_and_indentation_and_text_direction_is_per_text(client, voter):
    pool = make_pool()
    prompt = make_prompt(pool, "Fix this:\n\ndef f(x):\n    return x +\n\nמה לא בסדר?", category="coding")
    make_generation(prompt, make_llm("alpha"), text="שלום, the bug is on line 2.")
    make_generation(prompt, make_llm("beta"), text="Line 2 is incomplete.")
    client.force_login(voter)
    page = client.get("/", follow=True).content.decode()
    assert '<div class="prompt-text" dir="auto">Fix this:\n\ndef f(x):\n    return x +\n\nמה לא בסדר?</div>' in page
    assert page.count('<div class="md" dir="auto">') == 2
