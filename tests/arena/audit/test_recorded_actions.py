"""Every change to what is measured is recorded, through the real admin pages, commands and services."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from arena.audit.models import AuditEvent
from battles.models import LLM, GenerationJob, Prompt, Vote
from ratings import quality
from ratings.models import ApiToken
from tests.arena.audit.helpers import admin_action, entries, everything_recorded, only
from tests.battles.admin.test_llm_admin import change_url, form_data
from tests.battles.catalog.imports.helpers import jsonl, write
from tests.factories import make_llm, make_pool, make_prompt, make_user

pytestmark = pytest.mark.django_db

A = AuditEvent.Action
KEY = "sk-canary-audit-key-Q7wE2rT9yU4iO"  # a canary, not a real key
OTHER_KEY = "sk-canary-audit-key-Z1xC3vB5nM7"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def fernet_keys(settings):
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]


# --- LLMs and keys ---------------------------------------------------------------------------


def test_an_llm_added_in_the_admin_is_recorded_with_its_settings_and_the_admin_as_actor(staff, admin_user):
    response = staff.post("/admin/battles/llm/add/", form_data(name="added", model_id="added-1"))
    assert response.status_code == 302
    entry = only(A.LLM_CREATED)
    llm = LLM.objects.get(name="added")
    assert (entry.actor, entry.actor_label) == (admin_user, admin_user.username)
    assert (entry.object_type, entry.object_id, entry.object_repr) == ("llm", str(llm.pk), "added")
    assert entry.before is None
    assert entry.after["model_id"] == "added-1" and entry.after["version"] == 1 and entry.after["key"] == "none"


def test_an_edit_records_before_and_after_and_the_new_version(staff):
    llm = make_llm("edited", model_id="edited-1")
    data = form_data(name="edited", model_id="edited-2", price_output_per_mtok="2.5")
    assert staff.post(change_url(llm), data).status_code == 302
    entry = only(A.LLM_EDITED)
    assert entry.before == {"model_id": "edited-1", "version": 1, "price_output_per_mtok": "0"}
    assert entry.after == {"model_id": "edited-2", "version": 2, "price_output_per_mtok": "2.5"}
    assert entry.note == "settings saved as version 2"


def test_saving_an_unchanged_llm_records_nothing(staff):
    llm = make_llm("steady", model_id="steady-1")
    before = AuditEvent.objects.count()
    assert staff.post(change_url(llm), form_data(name="steady", model_id="steady-1")).status_code == 302
    assert AuditEvent.objects.count() == before


def test_retiring_in_the_admin_list_and_in_the_form_is_recorded(staff):
    first, second = make_llm("retire-me"), make_llm("retire-me-too")
    admin_action(staff, "/admin/battles/llm/", "retire", [first])
    assert only(A.LLM_RETIRED, object_id=str(first.pk)).after == {"status": "retired"}
    staff.post(change_url(second), form_data(name="retire-me-too", model_id="retire-me-too", status="retired"))
    entry = only(A.LLM_RETIRED, object_id=str(second.pk))
    assert (entry.before, entry.after) == ({"status": "active"}, {"status": "retired"})
    assert not entries(A.LLM_EDITED)  # the retirement is its own entry


def test_a_key_set_replaced_and_cleared_is_recorded_and_never_the_key(staff, fernet_keys):
    llm = make_llm("keyed", model_id="keyed-1")
    url = change_url(llm)
    assert staff.post(url, form_data(name="keyed", model_id="keyed-1", api_key=KEY)).status_code == 302
    assert staff.post(url, form_data(name="keyed", model_id="keyed-1", api_key=OTHER_KEY)).status_code == 302
    assert staff.post(url, form_data(name="keyed", model_id="keyed-1", clear_api_key="on")).status_code == 302
    set_, replaced, cleared = only(A.KEY_SET), only(A.KEY_ROTATED), only(A.KEY_CLEARED)
    assert (set_.before, set_.after) == ({"key": "none"}, {"key": "stored"})
    assert (replaced.before, replaced.after) == ({"key": "stored"}, {"key": "stored"})
    assert (cleared.before, cleared.after) == ({"key": "stored"}, {"key": "none"})
    recorded = everything_recorded()
    assert KEY not in recorded and OTHER_KEY not in recorded
    assert LLM.objects.get(pk=llm.pk).api_key_encrypted == ""
    assert "gAAAA" not in recorded  # nor a Fernet token


def test_an_llm_added_with_a_key_records_that_a_key_was_set(staff, fernet_keys):
    data = form_data(name="born-keyed", model_id="born-keyed-1", api_key=KEY)
    assert staff.post("/admin/battles/llm/add/", data).status_code == 302
    assert only(A.LLM_CREATED).after["key"] == "stored"
    assert (only(A.KEY_SET).before, only(A.KEY_SET).after) == ({"key": "none"}, {"key": "stored"})
    assert KEY not in everything_recorded()


def test_re_encrypting_stored_keys_is_recorded_per_llm(fernet_keys, settings):
    llm = make_llm("rotated", api_key=KEY)
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode(), *settings.ARENA_FERNET_KEYS]
    call_command("rotate_api_keys", stdout=io.StringIO())
    assert only(A.KEY_REENCRYPTED).object_id == str(llm.pk)
    assert KEY not in everything_recorded()


def test_resetting_a_breaker_is_recorded_with_the_reason_it_had(staff):
    llm = make_llm("tripped")
    LLM.objects.filter(pk=llm.pk).update(breaker_opened_at=timezone.now(), breaker_reason="3 failed in a row")
    admin_action(staff, "/admin/battles/llm/", "reset_breaker", [llm])
    entry = only(A.BREAKER_RESET)
    assert entry.before == {"breaker": "open", "reason": "3 failed in a row"}
    assert entry.after == {"breaker": "closed"}


# --- pools, prompts and imports ---------------------------------------------------------------


def test_an_uploaded_pool_is_recorded_with_its_counts(staff, settings, tmp_path, admin_user):
    settings.ARENA_UPLOAD_DIR = tmp_path / "uploads"
    content = b"text,category\nFirst uploaded question?,a\nSecond uploaded question?,b\nFirst uploaded question?,a\n"
    response = staff.post(
        "/admin/battles/promptpool/upload/",
        {"pool": "uploaded", "category_default": "", "file": SimpleUploadedFile("pool.csv", content)},
    )
    assert staff.post(response["Location"], {"action": "all"}).status_code == 302
    entry = only(A.POOL_UPLOADED)
    assert entry.actor == admin_user and entry.object_repr == "uploaded"
    assert entry.after == {"imported": 2, "duplicates": 1, "bad_rows_skipped": 0, "file": "pool.csv"}


def test_hiding_and_showing_prompts_in_the_admin_is_recorded_per_prompt(staff):
    pool = make_pool("hiding")
    prompts = [make_prompt(pool, f"Hide me {i}?") for i in range(3)]
    admin_action(staff, "/admin/battles/prompt/", "hide_prompts", prompts[:2])
    assert Prompt.objects.filter(hidden=True).count() == 2
    hidden = entries(A.PROMPT_HIDDEN)
    assert sorted(e.object_id for e in hidden) == sorted(str(p.pk) for p in prompts[:2])
    assert all(e.before == {"hidden": False} and e.after == {"hidden": True} for e in hidden)
    admin_action(staff, "/admin/battles/prompt/", "show_prompts", prompts)  # only the two hidden change
    assert len(entries(A.PROMPT_SHOWN)) == 2


def test_editing_a_prompt_in_the_admin_records_the_text_before_and_after(staff):
    prompt = make_prompt(make_pool("editing"), "What is two plus two?")
    data = {"pool": prompt.pool_id, "text": "What is two plus three?", "category": "writing", "tags": "[]"}
    assert staff.post(f"/admin/battles/prompt/{prompt.pk}/change/", {**data, "external_id": ""}).status_code == 302
    entry = only(A.PROMPT_EDITED)
    assert (entry.before, entry.after) == ({"text": "What is two plus two?"}, {"text": "What is two plus three?"})


def test_imports_of_generations_votes_and_benchmarks_are_recorded(tmp_path):
    pool = make_pool("answers")
    make_prompt(pool, "Capital of France?")
    call_command(
        "import_generations",
        write(tmp_path, "g.jsonl", jsonl({"prompt": "Capital of France?", "model": "imp", "response": "Paris."})),
        "--pool",
        "answers",
        stdout=io.StringIO(),
    )
    assert only(A.GENERATIONS_IMPORTED).after["imported"] == 1
    assert only(A.LLM_CREATED).object_repr == "imp"  # the import made the LLM
    votes = write(tmp_path, "v.csv", "model_a,model_b,winner\nimp,other,model_a\nimp,other,tie\n")
    call_command("import_votes", votes, stdout=io.StringIO())
    entry = only(A.VOTES_IMPORTED)
    assert entry.after["imported"] == 2 and entry.after["file"] == votes
    scores = write(tmp_path, "s.csv", "model,benchmark,score\nimp,MMLU,80\nother,MMLU,70\n")
    call_command("import_benchmarks", scores, stdout=io.StringIO())
    entry = only(A.BENCHMARKS_IMPORTED)
    assert (
        entry.object_repr == "MMLU" and entry.after["scores_added"] == 2 and entry.after["new_benchmarks"] == ["MMLU"]
    )
    assert {e.actor_label for e in entries()} == {"system"}  # no request, not under manage.py


def test_a_dry_run_or_a_refused_import_records_nothing(tmp_path):
    out = io.StringIO()
    call_command(
        "import_votes", write(tmp_path, "v.csv", "model_a,model_b,winner\na,b,model_a\n"), "--dry-run", stdout=out
    )
    with pytest.raises(CommandError):
        call_command("import_votes", write(tmp_path, "w.csv", "model_a,model_b,winner\na,b,nobody\n"), stdout=out)
    assert not entries()


# --- jobs --------------------------------------------------------------------------------------


def test_starting_cancelling_and_re_running_a_job_in_the_admin_is_recorded(staff, admin_user):
    pool = make_pool("jobs")
    make_prompt(pool, "Job question?")
    make_llm("worker-a")
    admin_action(staff, "/admin/battles/promptpool/", "generate_for_active_llms", [pool])
    job = GenerationJob.objects.get()
    started = only(A.JOB_STARTED)
    assert started.object_id == str(job.code) and started.actor == admin_user
    assert started.after == {"pool": "jobs", "versions": ["worker-a"], "samples": 1, "queued": 1}
    assert staff.post(f"/admin/battles/generationjob/{job.code}/cancel/").status_code == 302
    cancelled = only(A.JOB_CANCELLED)
    assert (cancelled.before, cancelled.after) == ({"status": "running"}, {"status": "cancelled"})
    assert cancelled.note == "1 pending generation(s) cancelled"
    assert staff.post(f"/admin/battles/generationjob/{job.code}/rerun/").status_code == 302
    rerun = only(A.JOB_RERUN)
    assert rerun.note == f"runs job {str(job.code)[:8]} again" and rerun.after["queued"] == 1


# --- votes -------------------------------------------------------------------------------------


def make_vote(a, b, **fields):
    return Vote.objects.create(outcome="a", version_a=a.current_version(), version_b=b.current_version(), **fields)


def test_excluding_and_restoring_votes_in_the_admin_is_recorded_and_reaches_the_vote(staff):
    a, b = make_llm("va"), make_llm("vb")
    kept, excluded = make_vote(a, b), make_vote(a, b, flagged=True, flags=["identity_leak"])
    admin_action(staff, "/admin/battles/vote/", "exclude_selected", [kept])
    kept.refresh_from_db()
    assert kept.flagged and kept.flags == ["excluded_by_admin"]
    entry = only(A.VOTE_EXCLUDED)
    assert entry.before == {"flagged": False, "flags": []}
    assert entry.after == {"flagged": True, "flags": ["excluded_by_admin"]}
    assert entry.object_repr == f"vote {kept.pk}: va vs vb (a)"
    admin_action(staff, "/admin/battles/vote/", "restore_selected", [kept, excluded])
    restored = entries(A.VOTE_RESTORED)
    assert sorted(e.object_id for e in restored) == sorted([str(kept.pk), str(excluded.pk)])
    excluded.refresh_from_db()
    assert not excluded.flagged and excluded.flags == ["restored_by_admin"]


def test_the_outlier_check_records_the_votes_it_excludes_and_leaves_restored_votes_counted(settings):
    settings.ARENA_OUTLIER_ALPHA = 0.5
    a, b = make_llm("strong"), make_llm("weak")
    honest = [make_user() for _ in range(6)]
    contrarian = make_user()
    for voter in honest:
        for _ in range(30):
            make_vote(a, b, voter=voter)
    votes = [
        Vote.objects.create(outcome="b", version_a=a.current_version(), version_b=b.current_version(), voter=contrarian)
        for _ in range(30)
    ]
    Vote.objects.filter(pk=votes[0].pk).update(flags=["restored_by_admin"])
    quality.detect_outlier_voters()
    excluded = entries(A.VOTE_EXCLUDED)
    assert len(excluded) == 29 and all(e.note == "outlier voter check" for e in excluded)
    assert str(votes[0].pk) not in {e.object_id for e in excluded}
    assert not Vote.objects.get(pk=votes[0].pk).flagged


# --- API tokens --------------------------------------------------------------------------------


def test_api_tokens_made_and_revoked_in_the_admin_are_recorded_without_the_token(staff):
    lead = make_user("lead-with-token", role="eval_lead")
    response = staff.post("/admin/ratings/apitoken/add/", {"owner": lead.pk, "name": "ci"})
    assert response.status_code == 200
    token = ApiToken.objects.get()
    raw = response.context["raw_token"]
    admin_action(staff, "/admin/ratings/apitoken/", "revoke_tokens", [token])
    assert only(A.API_TOKEN_CREATED).after == {"owner": "lead-with-token", "name": "ci", "revoked": False}
    assert only(A.API_TOKEN_REVOKED).after["revoked"] is True
    assert raw not in everything_recorded() and token.token_hash not in everything_recorded()
