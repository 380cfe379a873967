"""Live battles: the voter's own prompt, answered anonymously, released together."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from arena.asgi import application
from battles.models import Battle, Vote
from battles.voting import live, serving
from tests.factories import make_llm, make_user
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

CANARIES = ("canaryzephyr", "canaryquokka", "canaryibis")


@pytest.fixture
def live_llms(fake_provider):
    fake_provider.reset()
    kinds = ("openai", "anthropic", "openai")
    return [
        make_llm(name, provider=kind, base_url=fake_provider.base_url(kind), model_id=f"{name}-model")
        for name, kind in zip(CANARIES, kinds)
    ]


def _ws(path, client, origin="http://127.0.0.1"):
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if "sessionid" in client.cookies:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def _first_frame(path, client, origin="http://127.0.0.1"):
    async def run():
        communicator = _ws(path, client, origin)
        connected, code = await communicator.connect(timeout=10)
        frame = await communicator.receive_from(timeout=10) if connected else None
        await communicator.disconnect()
        return connected, code, frame

    return async_to_sync(run)()


def _assert_blind(text):
    lowered = text.lower()
    for canary in CANARIES:
        assert canary not in lowered, f"{canary} leaked before the vote"


def test_live_battle_answers_arrive_blind_and_the_vote_reveals(client, voter, live_llms, settings):
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    client.force_login(voter)
    response = client.post("/live/", {"prompt": "How do I undo my last git commit?"})
    battle = Battle.objects.get(live=True)
    assert response.status_code == 302 and response["Location"] == f"/live/{battle.code}/"
    page = client.get(response["Location"])
    _assert_blind(page.content.decode() + str(dict(page.items())))
    assert b"Model A" in page.content and b'id="vote-form"' in page.content
    connected, _, frame = _first_frame(f"/ws/live/{battle.code}/", client)
    assert connected
    _assert_blind(frame)
    assert "vote-form" in frame and "git" in frame
    reveal = client.post(f"/battle/{battle.code}/vote/", {"outcome": "b"}, HTTP_X_ARENA_FRAGMENT="1")
    names = {battle.version_a.llm.name, battle.version_b.llm.name}
    assert all(name in reveal.content.decode() for name in names)
    assert Vote.objects.get().live is True


def test_no_vote_before_both_answers_are_complete(client, voter, live_llms):
    from arena.celery import app

    app.conf.task_always_eager = False  # queued to Redis; no worker runs in this test
    client.force_login(voter)
    battle = live.start_live_battle(voter=voter, text="Explain DNS in one paragraph.")
    page = client.get(f"/live/{battle.code}/")
    assert b"Writing" in page.content and b"vote-form" not in page.content
    connected, _, frame = _first_frame(f"/ws/live/{battle.code}/", client)
    assert connected and "Writing" in frame and "vote-form" not in frame
    _assert_blind(frame)
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"})
    assert response.status_code == 409
    assert Vote.objects.count() == 0


def test_a_failed_first_side_is_replaced_by_another_llm(voter, live_llms, fake_provider):
    from arena.celery import app
    from battles.generation import tasks

    app.conf.task_always_eager = False  # run each generation by hand, in order
    battle = live.start_live_battle(voter=voter, text="Name three sorting algorithms.")
    failing, healthy = battle.generation_a, battle.generation_b
    fake_provider.set_faults(failing.llm_version.model_id, ["401"])
    tasks.generate_answer.apply(args=[failing.pk])
    tasks.generate_answer.apply(args=[healthy.pk])
    battle.refresh_from_db()
    replacement = battle.generation_a
    assert replacement.pk != failing.pk and replacement.status == "pending"
    assert battle.version_a.llm_id not in {failing.llm_version.llm_id, healthy.llm_version.llm_id}
    assert not live.battle_view(battle)["ready"]
    tasks.generate_answer.apply(args=[replacement.pk])
    battle.refresh_from_db()
    view = live.battle_view(battle)
    assert view["ready"] and battle.status == "open"
    assert [t.generation_a_id for t in view["turns"]] == [replacement.pk]


def test_a_side_that_cannot_be_replaced_fails_the_battle_and_it_cannot_be_voted(client, voter, fake_provider):
    fake_provider.reset()
    llms = [make_llm(n, base_url=fake_provider.base_url("openai"), model_id=f"{n}-model") for n in ("solo-a", "solo-b")]
    for llm in llms:
        fake_provider.set_faults(f"{llm.name}-model", ["401"])
    battle = live.start_live_battle(voter=voter, text="Hello?")
    battle.refresh_from_db()
    assert battle.status == "failed"
    client.force_login(voter)
    assert b"cannot be voted on" in client.get(f"/live/{battle.code}/").content
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"})
    assert response.status_code == 409 and Vote.objects.count() == 0


def test_follow_up_is_answered_by_the_same_two_llms_with_their_own_history(client, voter, live_llms, fake_provider):
    client.force_login(voter)
    battle = live.start_live_battle(voter=voter, text="Suggest a name for a cat.")
    battle.refresh_from_db()
    first_a = battle.generation_a.text
    response = client.post(f"/live/{battle.code}/follow-up/", {"prompt": "Shorter, please."})
    assert response.status_code == 302
    turns = list(battle.turns.order_by("number"))
    assert len(turns) == 2
    second = turns[1]
    assert second.generation_a.llm_version_id == battle.version_a_id
    assert second.generation_b.llm_version_id == battle.version_b_id
    sent = fake_provider.last_request(battle.version_a.model_id)
    contents = [m.get("content") for m in sent["body"]["messages"]]
    assert "Suggest a name for a cat." in contents and first_a in contents and "Shorter, please." in contents
    page = client.get(f"/live/{battle.code}/")
    _assert_blind(page.content.decode())
    assert b"Shorter, please." in page.content


def test_live_socket_refuses_other_users_and_other_origins(client, voter, live_llms):
    battle = live.start_live_battle(voter=voter, text="What is a mutex?")
    intruder = make_user("intruder")
    client.force_login(intruder)
    connected, code, _ = _first_frame(f"/ws/live/{battle.code}/", client)
    assert (connected, code) == (False, 4403)
    client.force_login(voter)
    connected, _, _ = _first_frame(f"/ws/live/{battle.code}/", client, origin="http://evil.example")
    assert not connected
    client.logout()
    connected, _, _ = _first_frame(f"/ws/live/{battle.code}/", client)
    assert not connected


def test_empty_or_huge_live_prompt_is_refused_clearly(client, voter, live_llms, settings):
    settings.ARENA_MAX_PROMPT_CHARS = 50
    client.force_login(voter)
    assert b"Type a prompt first" in client.post("/live/", {"prompt": "   "}).content
    response = client.post("/live/", {"prompt": "x" * 51})
    assert response.status_code == 400 and b"too long" in response.content
    assert Battle.objects.count() == 0


def test_live_prompts_are_never_served_in_pool_battles(voter, live_llms):
    live.start_live_battle(voter=voter, text="Private question about my team.")
    other = make_user("other-voter")
    assert serving.serve_battle(voter=other).battle is None


def test_after_the_vote_the_socket_sends_the_reveal_with_names(client, voter, live_llms):
    client.force_login(voter)
    battle = live.start_live_battle(voter=voter, text="What is a race condition?")
    connected, _, before = _first_frame(f"/ws/live/{battle.code}/", client)
    _assert_blind(before)
    client.post(f"/battle/{battle.code}/vote/", {"outcome": "tie"})
    battle.refresh_from_db()
    connected, _, after = _first_frame(f"/ws/live/{battle.code}/", client)
    assert connected
    assert battle.version_a.llm.name in after and battle.version_b.llm.name in after


def test_panels_pushed_over_the_socket_are_votable_with_the_page_token(client, voter, live_llms, settings):
    """Socket-rendered panels carry no form token; the page's meta token (sent as a header) must do."""
    import re

    from django.test import Client

    settings.ARENA_MIN_VOTE_BASE_MS = 0
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(voter)
    battle = live.start_live_battle(voter=voter, text="Explain a mutex in one line.")
    page = strict.get(f"/live/{battle.code}/").content.decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    _, _, frame = _first_frame(f"/ws/live/{battle.code}/", strict)
    assert "vote-form" in frame and "csrfmiddlewaretoken" not in frame
    refused = strict.post(f"/live/{battle.code}/follow-up/", {"prompt": "And a semaphore?"})
    assert refused.status_code == 403
    follow_up = strict.post(
        f"/live/{battle.code}/follow-up/",
        {"prompt": "And a semaphore?"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_X_ARENA_FRAGMENT="1",
    )
    assert follow_up.status_code == 204
    vote = strict.post(
        f"/battle/{battle.code}/vote/", {"outcome": "a"}, HTTP_X_CSRFTOKEN=token, HTTP_X_ARENA_FRAGMENT="1"
    )
    assert vote.status_code == 200 and Vote.objects.count() == 1
