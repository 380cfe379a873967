"""Monthly spend caps: what counts as this month's spend, and where a reached cap stops new calls."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from battles.catalog import spend
from battles.generation import jobs
from battles.models import LLM, GenerationJob
from tests.arena.audit.helpers import admin_action
from tests.battles.admin.test_llm_admin import change_url, form_data
from tests.factories import make_generation, make_llm, make_pool, make_prompt

pytestmark = pytest.mark.django_db


def cost(llm, amount, *, when=None, imported=False, pool=None):
    prompt = make_prompt(pool or make_pool())
    return make_generation(prompt, llm, cost=Decimal(amount), finished_at=when or timezone.now(), imported=imported)


def capped_llm(name, cap, spent):
    llm = make_llm(name)
    LLM.objects.filter(pk=llm.pk).update(monthly_spend_cap=Decimal(cap))
    cost(llm, spent)
    llm.refresh_from_db()
    return llm


def test_the_month_spend_counts_this_months_generated_answers_only():
    llm = make_llm("counted")
    cost(llm, "1.25")
    cost(llm, "0.75")
    cost(llm, "5", when=spend.month_start() - timedelta(seconds=1))  # last month
    cost(llm, "7", imported=True)  # paid elsewhere
    assert spend.month_spend([llm.pk]) == {llm.pk: Decimal("2.00")}
    assert spend.month_spend([make_llm("idle").pk]) == {LLM.objects.get(name="idle").pk: Decimal(0)}


def test_a_cap_is_reached_at_or_above_it_and_only_with_a_cap():
    at_cap, below, uncapped = capped_llm("at", "2", "2"), capped_llm("below", "2", "1.99"), make_llm("free")
    cost(uncapped, "1000")
    assert [s.name for s in spend.capped([at_cap, below, uncapped])] == ["at"]
    assert spend.capped_llm_ids() == {at_cap.pk}
    assert "Monthly spend cap reached: at has cost $2.00 of its $2.00 cap" in spend.cap_reason(at_cap.pk)
    assert spend.cap_reason(below.pk) == "" and spend.cap_reason(uncapped.pk) == ""


def test_a_job_with_an_llm_at_its_cap_is_refused_with_the_reason():
    pool = make_pool("capped-job")
    make_prompt(pool)
    llm = capped_llm("spent-out", "3", "3.5")
    with pytest.raises(jobs.JobError) as refused:
        jobs.start_generation_job(pool=pool, versions=[llm.current_version()])
    assert "reached their monthly spend cap: spent-out ($3.50 this month of $3.00" in refused.value.message
    assert not GenerationJob.objects.exists()


def test_generate_for_every_active_llm_leaves_capped_ones_out_and_says_so(client, admin_user):
    client.force_login(admin_user)
    pool = make_pool("partly")
    make_prompt(pool)
    capped_llm("over", "1", "1")
    make_llm("under")
    response = admin_action(client, "/admin/battles/promptpool/", "generate_for_active_llms", [pool])
    job = GenerationJob.objects.get(pool=pool)
    assert [v.llm.name for v in job.versions.all()] == ["under"]
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(m.startswith("Left out: Monthly spend cap reached: over") for m in messages)


def test_the_llm_admin_sets_the_cap_and_shows_the_spend_and_the_reason(client, admin_user):
    client.force_login(admin_user)
    llm = make_llm("budgeted", model_id="budgeted-1")
    cost(llm, "4.5")
    data = form_data(name="budgeted", model_id="budgeted-1", monthly_spend_cap="4.50")
    assert client.post(change_url(llm), data).status_code == 302
    llm.refresh_from_db()
    assert llm.monthly_spend_cap == Decimal("4.50")
    page = client.get(change_url(llm)).content.decode()
    assert "$4.50 this month of $4.50 — cap reached, calls stopped" in page
    assert "Monthly spend cap reached: budgeted has cost $4.50 of its $4.50 cap" in page
    listing = client.get("/admin/battles/llm/").content.decode()
    assert "$4.50 this month of $4.50" in listing
