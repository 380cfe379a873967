"""The admin side of generation jobs: starting one, its live page and socket, the breaker in the LLM list."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from arena.asgi import application
from battles.generation import breaker, job_state, jobs
from battles.models import LLM, GenerationJob
from tests.battles.generation.helpers import llm_on, pool_with, wait_for_status
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def page_of(job):
    return f"/admin/battles/generationjob/{job.code}/progress/"


def socket_frames(client, path, count=1):
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if "sessionid" in client.cookies:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))

    async def run():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=10)
        frames = [await communicator.receive_from(timeout=10) for _ in range(count)] if connected else []
        await communicator.disconnect()
        return connected, code, frames

    return async_to_sync(run)()


def test_the_pool_action_starts_a_job_with_every_active_llm_and_opens_its_page(client, admin_user, provider):
    pool = pool_with(2)
    llm_on(provider, "first")
    llm_on(provider, "second", kind="anthropic")
    llm_on(provider, "gone", status=LLM.Status.RETIRED)
    client.force_login(admin_user)
    response = client.post(
        "/admin/battles/promptpool/", {"action": "generate_for_active_llms", "_selected_action": [pool.pk]}
    )
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == page_of(job)
    assert job.created_by == admin_user and job.queued == 4
    assert sorted(v.llm.name for v in job.versions.all()) == ["first", "second"]
    page = client.get(page_of(job))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-socket="/ws/jobs/{job.code}/"' in html
    assert "first" in html and "second" in html and 'class="job-bar"' in html
    assert 'id="generation-summary"' in html


def test_job_pages_are_for_staff_admins_only(client, provider):
    job = jobs.start_generation_job(pool=pool_with(1), versions=[llm_on(provider, "m").current_version()])
    client.force_login(make_user("plain-voter"))
    assert client.get(page_of(job)).status_code == 302  # to the admin login
    client.force_login(make_user("staff-lead", role="eval_lead", is_staff=True))
    assert client.get(page_of(job)).status_code == 403
    assert client.get("/admin/battles/generationjob/").status_code == 403


def test_the_job_socket_sends_the_current_progress_to_an_admin_and_refuses_anyone_else(client, admin_user, provider):
    job = jobs.start_generation_job(pool=pool_with(2), versions=[llm_on(provider, "socketed").current_version()])
    client.force_login(admin_user)
    connected, _, frames = socket_frames(client, f"/ws/jobs/{job.code}/")
    assert connected
    assert 'data-count="done">2<' in frames[0] and "socketed" in frames[0]

    client.force_login(make_user("curious-voter"))
    connected, code, _ = socket_frames(client, f"/ws/jobs/{job.code}/")
    assert not connected and code == 4403
    client.logout()
    assert not socket_frames(client, f"/ws/jobs/{job.code}/")[0]


def test_the_job_page_buttons_cancel_run_again_and_reset_the_breakers(client, admin_user, provider, settings):
    settings.ARENA_BREAKER_THRESHOLD = 1
    llm = llm_on(provider, "buttons")
    provider.set_faults("buttons-id", ["401"])
    job = jobs.start_generation_job(pool=pool_with(2), versions=[llm.current_version()])
    client.force_login(admin_user)
    assert LLM.objects.get(pk=llm.pk).breaker_opened_at is not None
    assert "Circuit breaker open" in client.get(page_of(job)).content.decode()

    response = client.post(f"/admin/battles/generationjob/{job.code}/reset-breakers/", follow=True)
    assert "Circuit breaker reset for buttons" in response.content.decode()
    assert LLM.objects.get(pk=llm.pk).breaker_opened_at is None

    response = client.post(f"/admin/battles/generationjob/{job.code}/rerun/")
    rerun = GenerationJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == page_of(rerun)
    assert job_state.scope(rerun).filter(status="done").count() == 2

    wait_for_status(rerun, "finished")
    response = client.post(f"/admin/battles/generationjob/{rerun.code}/cancel/", follow=True)
    assert "This job is not running." in response.content.decode()
    assert client.get(f"/admin/battles/generationjob/{job.code}/cancel/").status_code == 405


def test_the_llm_list_shows_an_open_breaker_and_the_reset_action_closes_it(client, admin_user, settings):
    settings.ARENA_BREAKER_THRESHOLD = 2
    llm = llm_on_no_provider("flaky-model")
    breaker.record_failure(llm_id=llm.pk, reason="HTTP 503 Service Unavailable")
    breaker.record_failure(llm_id=llm.pk, reason="HTTP 503 Service Unavailable")
    client.force_login(admin_user)
    listing = client.get("/admin/battles/llm/").content.decode()
    assert "circuit breaker" in listing.lower() and ">open<" in listing
    client.post("/admin/battles/llm/", {"action": "reset_breaker", "_selected_action": [llm.pk]})
    llm.refresh_from_db()
    assert llm.breaker_opened_at is None and llm.consecutive_failures == 0


def test_the_llm_form_edits_the_limits(client, admin_user):
    llm = llm_on_no_provider("limited")
    client.force_login(admin_user)
    form = client.get(f"/admin/battles/llm/{llm.pk}/change/").content.decode()
    for field in ("max_concurrency", "requests_per_minute", "tokens_per_minute"):
        assert f'name="{field}"' in form


def test_the_job_list_shows_the_cost_and_latency_summary(client, admin_user, provider):
    jobs.start_generation_job(pool=pool_with(2), versions=[llm_on(provider, "summarised").current_version()])
    client.force_login(admin_user)
    html = client.get("/admin/battles/generationjob/").content.decode()
    assert "Cost and latency per model" in html and "summarised" in html and "Latency p95" in html


def llm_on_no_provider(name):
    from tests.factories import make_llm

    return make_llm(name, base_url="http://127.0.0.1:9/v1")
