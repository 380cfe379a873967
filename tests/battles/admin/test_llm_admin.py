"""The LLM admin: add, edit as new versions, retire, write-only API keys, test connection."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from battles.catalog import keys, llms
from battles.egress.providers import ChatResult
from battles.generation import connection_check
from battles.models import LLM
from tests.factories import make_llm, make_user
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

CANARY = "canaryAdminKeyW4sJ8kD2hF6gZ1"
PASTED_KEY = "sk-proj-canaryPastedQ3rT7uV1xY5"


@pytest.fixture
def fernet_keys(settings):
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    return settings


@pytest.fixture
def fake(fake_provider):
    fake_provider.reset()
    return fake_provider


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def form_data(**overrides):
    data = {
        "name": "alpha",
        "provider": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "status": "active",
        "model_id": "alpha-1",
        "temperature": "",
        "max_tokens": "1024",
        "system_prompt": "",
        "api_key_env": "",
        "api_key": "",
        "price_input_per_mtok": "0",
        "price_output_per_mtok": "0",
        "max_concurrency": "50",
        "requests_per_minute": "0",
        "tokens_per_minute": "0",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def change_url(llm):
    return reverse("admin:battles_llm_change", args=[llm.pk])


def connection_url(llm):
    return reverse("admin:battles_llm_test_connection", args=[llm.pk])


def errors_of(response):
    form = response.context["adminform"].form
    return {field: " ".join(messages) for field, messages in form.errors.items()}


# --- add, edit, retire ------------------------------------------------------------


def test_adding_an_llm_creates_version_one_with_its_key_stored_encrypted(staff, fernet_keys):
    response = staff.post(reverse("admin:battles_llm_add"), form_data(api_key=CANARY))
    assert response.status_code == 302, errors_of(response)
    llm = LLM.objects.get(name="alpha")
    assert [v.number for v in llm.versions.all()] == [1]
    assert llm.current_version().model_id == "alpha-1"
    assert llm.key_source == "stored" and CANARY not in llm.api_key_encrypted
    assert keys.decrypt(llm.api_key_encrypted) == CANARY
    # Error reports (DEBUG pages, admin e-mails) hide the field; the admin's history names it only.
    assert response.wsgi_request.sensitive_post_parameters == ("api_key",)
    assert CANARY not in repr(list(LogEntry.objects.values()))


def test_the_change_page_and_the_list_say_a_key_is_stored_but_never_show_it(staff, fernet_keys):
    llm = make_llm("alpha", api_key=CANARY)
    page = staff.get(change_url(llm)).content.decode()
    assert "A key is stored (set on" in page
    assert CANARY not in page and llm.api_key_encrypted not in page

    listing = staff.get(reverse("admin:battles_llm_changelist")).content.decode()
    assert "stored (encrypted)" in listing
    assert CANARY not in listing and llm.api_key_encrypted not in listing


def test_the_list_shows_provider_model_id_version_status_and_key_source(staff, fernet_keys):

    stored = make_llm("alpha", model_id="alpha-model-id", api_key=CANARY)
    llms.update_llm_settings(llm=stored, model_id="alpha-model-id-2")
    make_llm("beta", provider="anthropic", model_id="beta-model-id", api_key_env="BETA_KEY")
    make_llm("gamma", model_id="gamma-model-id")
    listing = staff.get(reverse("admin:battles_llm_changelist")).content.decode()
    for text in (
        "alpha-model-id-2",
        "beta-model-id",
        "Anthropic",
        "env: BETA_KEY",
        "none",
        'class="field-current_version_number">2<',
        "Active",
    ):
        assert text in listing


def test_editing_a_versioned_setting_makes_a_new_version_and_keeps_the_stored_key(staff, fernet_keys):
    llm = make_llm("alpha", model_id="alpha-1", api_key=CANARY)
    token = llm.api_key_encrypted
    response = staff.post(change_url(llm), form_data(model_id="alpha-2", temperature="0.3"))
    assert response.status_code == 302, errors_of(response)
    llm.refresh_from_db()
    assert [v.number for v in llm.versions.order_by("number")] == [1, 2]
    assert (llm.current_version().model_id, llm.current_version().temperature) == ("alpha-2", 0.3)
    assert llm.versions.get(number=1).model_id == "alpha-1"
    assert llm.api_key_encrypted == token


def test_saving_unchanged_settings_keeps_the_version(staff, fernet_keys):
    llm = make_llm("alpha", model_id="alpha-1")
    response = staff.post(change_url(llm), form_data(model_id="alpha-1"))
    assert response.status_code == 302, errors_of(response)
    assert llm.versions.count() == 1


def test_a_new_key_replaces_the_stored_one_and_clearing_removes_it(staff, fernet_keys):
    llm = make_llm("alpha", model_id="alpha-1", api_key=CANARY)
    staff.post(change_url(llm), form_data(api_key="a-brand-new-key-42"))
    llm.refresh_from_db()
    assert keys.decrypt(llm.api_key_encrypted) == "a-brand-new-key-42"

    staff.post(change_url(llm), form_data(clear_api_key="on"))
    llm.refresh_from_db()
    assert (llm.api_key_encrypted, llm.api_key_set_at, llm.key_source) == ("", None, "")
    assert llm.versions.count() == 1


def test_switching_from_a_stored_key_to_a_variable_needs_clearing_the_key(staff, fernet_keys):
    llm = make_llm("alpha", model_id="alpha-1", api_key=CANARY)
    refused = staff.post(change_url(llm), form_data(api_key_env="OPENAI_API_KEY"))
    assert refused.status_code == 200 and "not both" in errors_of(refused)["api_key_env"]

    switched = staff.post(change_url(llm), form_data(api_key_env="OPENAI_API_KEY", clear_api_key="on"))
    assert switched.status_code == 302, errors_of(switched)
    llm.refresh_from_db()
    assert (llm.key_source, llm.api_key_env, llm.api_key_encrypted) == ("env", "OPENAI_API_KEY", "")


def test_a_key_pasted_as_the_variable_name_is_refused_and_never_shown_back(staff, fernet_keys, caplog):
    caplog.set_level(logging.DEBUG)
    response = staff.post(reverse("admin:battles_llm_add"), form_data(api_key_env=PASTED_KEY))
    assert response.status_code == 200
    assert "looks like an API key" in errors_of(response)["api_key_env"]
    assert PASTED_KEY not in response.content.decode()
    assert PASTED_KEY not in caplog.text
    assert not LLM.objects.exists()


def test_a_typed_key_is_not_rendered_back_when_another_field_is_wrong(staff, fernet_keys):
    response = staff.post(reverse("admin:battles_llm_add"), form_data(api_key=CANARY, model_id=""))
    assert response.status_code == 200 and "model_id" in errors_of(response)
    assert CANARY not in response.content.decode()


def test_a_stored_key_cannot_be_set_without_fernet_keys(staff, settings):
    settings.ARENA_FERNET_KEYS = []
    response = staff.post(reverse("admin:battles_llm_add"), form_data(api_key=CANARY))
    assert response.status_code == 200
    assert "ARENA_FERNET_KEYS" in errors_of(response)["api_key"]
    assert CANARY not in response.content.decode()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[::ffff:a9fe:a9fe]/", "metadata"),
        ("http://2852039166/", "four decimal numbers"),
        ("http://evil@169.254.169.254/", "User names and passwords"),
        ("file:///etc/passwd", "Only http"),
    ],
)
def test_the_admin_refuses_dangerous_base_urls(staff, url, reason):
    response = staff.post(reverse("admin:battles_llm_add"), form_data(base_url=url))
    assert response.status_code == 200
    assert reason in errors_of(response)["base_url"]
    assert not LLM.objects.exists()


def test_loopback_base_urls_need_the_private_endpoints_setting(staff, settings):
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = False
    response = staff.post(reverse("admin:battles_llm_add"), form_data(base_url="http://127.0.0.1:11434/v1"))
    assert "ARENA_ALLOW_PRIVATE_ENDPOINTS" in errors_of(response)["base_url"]
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = True
    response = staff.post(reverse("admin:battles_llm_add"), form_data(base_url="http://127.0.0.1:11434/v1"))
    assert response.status_code == 302


def test_a_host_that_does_not_resolve_is_saved_with_a_warning(staff):
    response = staff.post(
        reverse("admin:battles_llm_add"), form_data(base_url="http://vllm-not-up.invalid:8000/v1"), follow=True
    )
    assert LLM.objects.filter(name="alpha").exists()
    assert "could not be resolved" in response.content.decode()


def test_retiring_keeps_the_llm_and_its_versions(staff):
    llm = make_llm("alpha")
    response = staff.post(reverse("admin:battles_llm_changelist"), {"action": "retire", "_selected_action": [llm.pk]})
    assert response.status_code == 302
    llm.refresh_from_db()
    assert llm.status == "retired" and llm.versions.count() == 1


# --- test connection -----------------------------------------------------------------


def test_test_connection_shows_the_answer_and_the_latency(staff, fake):
    llm = make_llm("alpha", base_url=fake.base_url("openai"), model_id="conn-model")
    response = staff.post(connection_url(llm))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-ok="true"' in page and " ms<" in page
    sent = fake.last_request("conn-model")
    assert sent["body"]["max_tokens"] == connection_check.TEST_MAX_TOKENS
    assert sent["body"]["messages"][-1]["content"] == connection_check.TEST_PROMPT


def test_test_connection_works_for_anthropic_too(staff, fake):
    llm = make_llm("alpha", provider="anthropic", base_url=fake.base_url("anthropic"), model_id="conn-claude")
    page = staff.post(connection_url(llm)).content.decode()
    assert 'data-ok="true"' in page


def test_the_answer_is_escaped(staff, monkeypatch):
    llm = make_llm("alpha")
    monkeypatch.setattr(
        connection_check,
        "call_provider",
        lambda kind, request, client: ChatResult(
            text="<script>alert(1)</script>",
            tokens_in=1,
            tokens_out=1,
            latency_ms=5,
            ttft_ms=None,
            finish_reason="stop",
        ),
    )
    page = staff.post(connection_url(llm)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_rejected_key_shows_the_reason_and_never_the_key(staff, fake, fernet_keys, caplog):
    caplog.set_level(logging.DEBUG)
    llm = make_llm("alpha", base_url=fake.base_url("openai"), model_id="conn-401", api_key=CANARY)
    fake.set_faults("conn-401", ["401"])
    response = staff.post(connection_url(llm))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-ok="false"' in page and "401" in page
    assert fake.last_request("conn-401")["auth"]["key_sha256"]  # the key was sent...
    assert CANARY not in page  # ...and the provider echoed it, but it is not shown
    assert CANARY not in caplog.text


@pytest.mark.parametrize(
    "setup, expected",
    [
        ("refused_url", "base URL refused"),
        ("dns", "could not be resolved"),
        ("closed_port", "connection failed"),
        ("timeout", "exceeded"),
        ("undecryptable", "cannot be decrypted"),
        ("no_base_url", "no base URL"),
        ("server_error", "HTTP 500"),
        ("redirect", "redirect not followed"),
        ("unexpected", "Unexpected error"),
    ],
)
def test_test_connection_reports_every_failure_without_a_500(staff, fake, settings, monkeypatch, setup, expected):
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    llm = make_llm("alpha", base_url=fake.base_url("openai"), model_id="conn-fail")
    if setup == "refused_url":
        settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = False
    elif setup == "dns":
        LLM.objects.filter(pk=llm.pk).update(base_url="http://no-such-host.invalid/v1")
    elif setup == "closed_port":
        LLM.objects.filter(pk=llm.pk).update(base_url="http://127.0.0.1:9/v1")
    elif setup == "timeout":
        settings.ARENA_TEST_CONNECTION_DEADLINE = 0.5
        fake.set_faults("conn-fail", ["hang:5"])
    elif setup == "undecryptable":
        LLM.objects.filter(pk=llm.pk).update(api_key_encrypted=keys.encrypt(CANARY))
        settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    elif setup == "no_base_url":
        LLM.objects.filter(pk=llm.pk).update(base_url="")
    elif setup == "server_error":
        fake.set_faults("conn-fail", ["500"])
    elif setup == "redirect":
        fake.set_faults("conn-fail", ["302"])
    elif setup == "unexpected":

        def explode(kind, request, client):
            raise RuntimeError("boom")

        monkeypatch.setattr(connection_check, "call_provider", explode)
    response = staff.post(connection_url(llm))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-ok="false"' in page and expected in page, page[page.find("connection-result") :][:600]
    assert CANARY not in page


def test_loading_the_test_page_makes_no_call(staff, fake):
    llm = make_llm("alpha", base_url=fake.base_url("openai"), model_id="conn-get")
    response = staff.get(connection_url(llm))
    assert response.status_code == 200 and "connection-result" not in response.content.decode()
    assert fake.stats()["requests"].get("conn-get", 0) == 0


def test_the_change_page_has_a_test_connection_button(staff):
    llm = make_llm("alpha")
    assert connection_url(llm) in staff.get(change_url(llm)).content.decode()


def test_voters_cannot_test_connections(client, fake):
    llm = make_llm("alpha", base_url=fake.base_url("openai"), model_id="conn-voter")
    client.force_login(make_user("someone", role="voter"))
    response = client.post(connection_url(llm))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert fake.stats()["requests"].get("conn-voter", 0) == 0


def test_the_test_connection_action_reports_each_selected_llm(staff, fake, fernet_keys, caplog):
    caplog.set_level(logging.DEBUG)
    good = make_llm("alpha", base_url=fake.base_url("openai"), model_id="act-ok")
    bad = make_llm(
        "beta", base_url=fake.base_url("anthropic"), provider="anthropic", model_id="act-401", api_key=CANARY
    )
    fake.set_faults("act-401", ["401"])
    response = staff.post(
        reverse("admin:battles_llm_changelist"),
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Connection OK: alpha (act-ok) answered in" in page
    assert "Connection failed: beta: HTTP 401" in page
    assert CANARY not in page and CANARY not in caplog.text
