"""A live battle end to end: real worker, Redis channel layer, websocket frames in the test process."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from arena.asgi import application
from battles.models import Battle
from battles.voting import live
from tests.factories import make_llm

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

CANARIES = ("canarylark", "canaryotter")


def test_both_answers_reach_the_socket_together_and_name_no_model(client, voter, celery_worker_process, fake_provider):
    fake_provider.reset()
    fake_provider.configure(latency=1.5, tokens_per_second=200)
    for name, kind in zip(CANARIES, ("openai", "anthropic")):
        make_llm(name, provider=kind, base_url=fake_provider.base_url(kind), model_id=f"{name}-id")
    client.force_login(voter)
    battle = live.start_live_battle(voter=voter, text="Give me three tips for code review.")
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]

    async def frames_until_ready():
        communicator = WebsocketCommunicator(application, f"/ws/live/{battle.code}/", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        frames = [await communicator.receive_from(timeout=10)]
        while "vote-form" not in frames[-1]:
            frames.append(await communicator.receive_from(timeout=60))
        await communicator.disconnect()
        return frames

    try:
        frames = async_to_sync(frames_until_ready)()
    except Exception as exc:
        battle.refresh_from_db()
        states = [(g.llm_version.model_id, g.status, g.error) for g in (battle.generation_a, battle.generation_b)]
        raise AssertionError(
            f"no complete panel arrived ({exc!r}); generations: {states}\n"
            f"worker log:\n{celery_worker_process.output()[-4000:]}"
        ) from exc
    for frame in frames:
        for canary in CANARIES:
            assert canary not in frame.lower()
    assert "Writing" in frames[0]
    # One push when the turn completed: nothing reached the page when only one side was done.
    assert len(frames) == 2
    battle.refresh_from_db()
    assert battle.generation_a.status == battle.generation_b.status == "done"
    page = client.get(f"/live/{battle.code}/")
    assert all(c not in page.content.decode().lower() for c in CANARIES)
    assert Battle.objects.get(pk=battle.pk).status == "open"
