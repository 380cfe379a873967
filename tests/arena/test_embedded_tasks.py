"""Embedded mode runs tasks on a thread pool after the request (issue 12, point 11): "Generate
answers" and a live battle return at once, and the work finishes in the background."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import async_to_sync

from arena import embedded_tasks
from arena.embedded_layer import ThreadSafeInMemoryChannelLayer
from battles.models import Battle, Generation, GenerationJob
from tests.battles.generation.helpers import llm_on, pool_with, wait_for_status
from tests.support.fake_provider import fake, fake_provider, provider  # noqa: F401  (fixtures)

LATENCY = 1.5


@pytest.fixture
def background(settings):
    settings.ARENA_EMBEDDED_WORKERS = 2
    yield
    assert embedded_tasks.wait_idle(60), "the embedded pool did not drain"


@pytest.mark.django_db(transaction=True)
def test_generate_answers_returns_at_once_and_the_answers_arrive_in_the_background(
    client, admin_user, provider, background
):
    pool = pool_with(3)
    llm_on(provider, "first")
    llm_on(provider, "second", kind="anthropic")
    provider.configure(latency=LATENCY)
    client.force_login(admin_user)
    started = time.monotonic()
    response = client.post(
        "/admin/battles/promptpool/", {"action": "generate_for_active_llms", "_selected_action": [pool.pk]}
    )
    assert time.monotonic() - started < LATENCY, "the request waited for the provider"
    job = GenerationJob.objects.get()
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'class="job-bar"' in page
    assert Generation.objects.filter(status=Generation.Status.DONE).count() < 6
    assert embedded_tasks.wait_idle(60)
    assert Generation.objects.filter(status=Generation.Status.DONE).count() == 6
    wait_for_status(job, GenerationJob.Status.FINISHED)


@pytest.mark.django_db(transaction=True)
def test_a_live_battle_page_opens_while_both_models_are_still_writing(client, voter, provider, background):
    llm_on(provider, "first")
    llm_on(provider, "second", kind="anthropic")
    provider.configure(latency=LATENCY)
    client.force_login(voter)
    started = time.monotonic()
    response = client.post("/live/", {"prompt": "How do I rotate a log file without losing lines?"})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert time.monotonic() - started < LATENCY, "the request waited for the answers"
    assert page.status_code == 200
    battle = Battle.objects.get(live=True)
    assert {battle.generation_a.status, battle.generation_b.status} <= {"pending", "running"}
    assert embedded_tasks.wait_idle(60)
    battle.generation_a.refresh_from_db()
    battle.generation_b.refresh_from_db()
    assert battle.generation_a.status == battle.generation_b.status == Generation.Status.DONE


@pytest.mark.django_db(transaction=True)
def test_run_inline_finishes_the_work_before_returning(provider, settings):
    from battles.generation import jobs

    settings.ARENA_EMBEDDED_WORKERS = 2
    pool = pool_with(2)
    llm = llm_on(provider, "first")
    with embedded_tasks.run_inline():
        jobs.enqueue_generations(pool=pool, versions=[llm.current_version()])
    assert Generation.objects.filter(status=Generation.Status.DONE).count() == 2


@pytest.mark.django_db(transaction=True)
def test_without_embedded_workers_tasks_run_inside_the_request(client, admin_user, provider, settings):
    settings.ARENA_EMBEDDED_WORKERS = 0
    pool = pool_with(1)
    llm_on(provider, "first")
    client.force_login(admin_user)
    client.post("/admin/battles/promptpool/", {"action": "generate_for_active_llms", "_selected_action": [pool.pk]})
    assert Generation.objects.get().status == Generation.Status.DONE


def _receive_a_send_from_another_thread(layer) -> dict:
    async def main():
        channel = await layer.new_channel()
        await layer.group_add("live", channel)
        receiving = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0.05)  # the consumer is waiting on this loop
        # A task thread sends with an event loop of its own, as async_to_sync gives it.
        threading.Thread(target=async_to_sync(layer.group_send), args=("live", {"type": "answers.ready"})).start()
        return await asyncio.wait_for(receiving, 2)

    return asyncio.run(main())


def test_a_send_from_a_task_thread_wakes_the_consumer_at_once():
    started = time.monotonic()
    assert _receive_a_send_from_another_thread(ThreadSafeInMemoryChannelLayer()) == {"type": "answers.ready"}
    assert time.monotonic() - started < 1.0
