"""Provider API keys: encrypted at rest, rotated, resolved at call time, never leaked."""

import hashlib
import http.server
import logging
import os
import threading

import pytest
from celery.signals import before_task_publish, task_prerun
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connection

from arena import config
from battles.catalog import keys, llms
from battles.egress import endpoints
from battles.egress.providers import ProviderError
from battles.generation import connection_check, jobs, requests, runner
from battles.models import LLM, Generation
from tests.factories import make_llm, make_pool, make_prompt
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

# Not shaped like any vendor's key, so only Arena's own scrubbing can keep it out of messages.
CANARY = "canaryKeyQ7tX2mZ9vB4nL8wR3yP6"


@pytest.fixture
def fernet_keys(settings):
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    return settings


@pytest.fixture
def fake(fake_provider):
    fake_provider.reset()
    return fake_provider


def raw_llm_rows() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM battles_llm")
        return repr(cursor.fetchall())


# --- encryption and rotation ------------------------------------------------------


def test_a_stored_key_is_encrypted_in_the_database_and_decrypts_back(fernet_keys, db):
    llm = make_llm("alpha", api_key=CANARY)
    assert llm.key_source == "stored" and llm.api_key_set_at is not None
    assert CANARY not in raw_llm_rows()
    assert keys.decrypt(LLM.objects.get(pk=llm.pk).api_key_encrypted) == CANARY


def test_storing_a_key_without_fernet_keys_is_refused_clearly(settings, db):
    settings.ARENA_FERNET_KEYS = []
    with pytest.raises(keys.KeysNotConfigured, match="ARENA_FERNET_KEYS"):
        make_llm("alpha", api_key=CANARY)
    assert not LLM.objects.exists()


def test_rotation_re_encrypts_every_stored_key_under_the_first_key(settings, db):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ARENA_FERNET_KEYS = [old]
    first = make_llm("alpha", api_key=CANARY)
    second = make_llm("beta", api_key="another-key-123")
    make_llm("gamma", api_key_env="GAMMA_KEY")
    before = {llm.pk: llm.api_key_encrypted for llm in (first, second)}

    settings.ARENA_FERNET_KEYS = [new, old]
    call_command("rotate_api_keys", stdout=open(os.devnull, "w"))

    settings.ARENA_FERNET_KEYS = [new]  # the old key is gone: everything must still decrypt
    for llm in (first, second):
        llm.refresh_from_db()
        assert llm.api_key_encrypted != before[llm.pk]
    assert keys.decrypt(first.api_key_encrypted) == CANARY
    assert keys.decrypt(second.api_key_encrypted) == "another-key-123"
    assert LLM.objects.get(name="gamma").api_key_encrypted == ""


def test_rotation_reports_keys_no_configured_key_can_open(settings, db):
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    make_llm("alpha", api_key=CANARY)
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="alpha"):
        call_command("rotate_api_keys", stdout=open(os.devnull, "w"))


def test_rotation_without_fernet_keys_is_a_clear_command_error(settings, db):
    settings.ARENA_FERNET_KEYS = []
    with pytest.raises(CommandError, match="ARENA_FERNET_KEYS"):
        call_command("rotate_api_keys", stdout=open(os.devnull, "w"))


# --- system checks ------------------------------------------------------------------


def _check_ids(**kwargs):
    return {message.id for message in run_checks(**kwargs)}


def test_stored_keys_without_fernet_keys_are_a_system_check_error(fernet_keys, db):
    make_llm("alpha", api_key=CANARY)
    assert "battles.E002" not in _check_ids(databases=["default"])
    fernet_keys.ARENA_FERNET_KEYS = []
    assert "battles.E002" in _check_ids(databases=["default"])


def test_stored_keys_that_no_configured_key_opens_are_a_system_check_error(fernet_keys, db):
    make_llm("alpha", api_key=CANARY)
    fernet_keys.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    assert "battles.E003" in _check_ids(databases=["default"])


def test_a_malformed_fernet_key_is_a_system_check_error_that_does_not_echo_it(settings):
    settings.ARENA_FERNET_KEYS = [Fernet.generate_key().decode(), "not-a-fernet-key-secretish"]
    errors = [m for m in run_checks() if m.id == "battles.E001"]
    assert len(errors) == 1 and "entry 2" in errors[0].msg
    assert "secretish" not in errors[0].msg


def test_embedded_mode_makes_one_private_fernet_key_per_checkout(tmp_path):
    key = config.embedded_fernet_key(tmp_path)
    Fernet(key)  # a valid key
    assert config.embedded_fernet_key(tmp_path) == key
    assert (tmp_path / "var" / "fernet_key").stat().st_mode & 0o077 == 0


# --- the variable-name field --------------------------------------------------------


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_TOKEN", "MY_VLLM_KEY_2", "_X"])
def test_ordinary_variable_names_are_accepted(name):
    assert keys.env_name_problem(name) is None


@pytest.mark.parametrize(
    "value",
    [
        "sk-proj-abcdefghijklmnop1234",
        "sk_live_51HxYzAbCdEfGhIjKl",
        "sk-ant-api03-abcdef",
        "hf_AbCdEfGhIjKlMnOpQrStUv",
        "gsk_abcdefghijklmnopqrstuvwx",
        "AKIA" + "IOSFODNN7EXAMPLE",  # AWS's documented example key, split so secret scanners stay quiet
        "aB3dE5fG7hJ9kL1mN3pQ5rS7",
        "OPENAI API KEY",
        "1PASSWORD",
        "key=value",
    ],
)
def test_key_shaped_or_malformed_names_are_refused_without_repeating_them(value):
    problem = keys.env_name_problem(value)
    assert problem and value not in problem


def test_a_key_shaped_variable_name_is_refused_by_the_service(db):
    with pytest.raises(llms.InvalidLLMSettings, match="looks like an API key"):
        make_llm("alpha", api_key_env="sk-proj-abcdefghijklmnop1234")


def test_a_variable_and_a_stored_key_together_are_refused(fernet_keys, db):
    with pytest.raises(llms.InvalidLLMSettings, match="not both"):
        make_llm("alpha", api_key_env="OPENAI_API_KEY", api_key=CANARY)
    assert not LLM.objects.exists()


def test_the_database_refuses_both_key_sources_on_one_llm(fernet_keys, db):
    from django.db import IntegrityError, transaction

    llm = make_llm("alpha", api_key=CANARY)
    with pytest.raises(IntegrityError), transaction.atomic():
        LLM.objects.filter(pk=llm.pk).update(api_key_env="OPENAI_API_KEY")


# --- resolution at call time --------------------------------------------------------


def test_the_key_comes_from_the_stored_key_or_the_named_variable(fernet_keys, monkeypatch, db):
    monkeypatch.setenv("ARENA_TEST_KEY_VAR", "value-from-env")
    assert requests.resolve_api_key(make_llm("stored", api_key=CANARY)) == CANARY
    assert requests.resolve_api_key(make_llm("env", api_key_env="ARENA_TEST_KEY_VAR")) == "value-from-env"
    assert requests.resolve_api_key(make_llm("none")) == ""


def test_a_key_variable_read_from_a_file_loses_its_trailing_newline(monkeypatch, db):
    monkeypatch.setenv("ARENA_TEST_KEY_VAR", "value-from-file\n")
    assert requests.resolve_api_key(make_llm("env", api_key_env="ARENA_TEST_KEY_VAR")) == "value-from-file"


@pytest.mark.parametrize("bad_key", ["two words", "line\nbreak", "caf\u00e9-key", "x" * 1001])
def test_a_key_that_cannot_go_in_a_header_is_refused_without_repeating_it(fernet_keys, db, bad_key):
    with pytest.raises(llms.InvalidLLMSettings) as raised:
        make_llm("alpha", api_key=bad_key)
    assert bad_key not in raised.value.message
    assert not LLM.objects.exists()


def test_an_undecryptable_stored_key_is_a_non_retryable_error(fernet_keys, db):
    llm = make_llm("alpha", api_key=CANARY)
    fernet_keys.ARENA_FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ProviderError) as raised:
        requests.resolve_api_key(llm)
    assert not raised.value.retryable and "cannot be decrypted" in raised.value.reason


@pytest.mark.django_db(transaction=True)
def test_a_stored_key_is_sent_but_never_appears_in_errors_logs_task_arguments_or_the_row(fernet_keys, fake, caplog):
    caplog.set_level(logging.DEBUG)
    published = []

    def record_publish(sender=None, body=None, headers=None, **kwargs):
        published.append(repr((sender, body, headers)))

    def record_run(sender=None, task_id=None, task=None, args=None, kwargs=None, **extra):
        published.append(repr((sender, args, kwargs)))

    before_task_publish.connect(record_publish)
    task_prerun.connect(record_run)
    try:
        llm = make_llm("alpha", base_url=fake.base_url("openai"), model_id="keyed-model", api_key=CANARY)
        pool = make_pool()
        make_prompt(pool, "Say hello")
        fake.set_faults("keyed-model", ["401"])
        assert jobs.enqueue_generations(pool=pool, versions=[llm.current_version()]) == 1
    finally:
        before_task_publish.disconnect(record_publish)
        task_prerun.disconnect(record_run)

    answer = Generation.objects.get()
    assert answer.status == "failed" and "401" in answer.error
    assert answer.attempts == 1  # a 401 is not retried
    sent = fake.last_request("keyed-model")
    assert sent["auth"]["key_sha256"] == hashlib.sha256(CANARY.encode()).hexdigest()

    assert published, "the task signals were not seen"
    assert "failed" in caplog.text, "the failure was not logged: caplog saw nothing"
    assert CANARY not in answer.error
    assert CANARY not in "".join(published)
    assert CANARY not in caplog.text
    assert CANARY not in raw_llm_rows()


# --- the URL policy where LLMs are saved and called -----------------------------------


def test_the_service_refuses_a_metadata_url(db):
    with pytest.raises(llms.InvalidLLMSettings, match="metadata"):
        make_llm("alpha", base_url="http://169.254.169.254/latest")
    assert not LLM.objects.exists()


def test_the_service_refuses_loopback_unless_private_endpoints_are_allowed(settings, db):
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = False
    with pytest.raises(llms.InvalidLLMSettings, match="loopback"):
        make_llm("alpha", base_url="http://127.0.0.1:8000/v1")
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = True
    assert make_llm("alpha", base_url="http://127.0.0.1:8000/v1").pk


def test_the_service_accepts_a_name_that_does_not_resolve_yet(db):
    assert make_llm("alpha", base_url="http://not-here-yet.invalid/v1").pk


@pytest.mark.django_db(transaction=True)
def test_a_generation_whose_host_now_resolves_to_metadata_fails_without_a_call(fake, monkeypatch):
    llm = make_llm("alpha", base_url="http://provider.example/v1", model_id="moved-model")
    monkeypatch.setattr(endpoints, "resolve_host", lambda host, port: ["169.254.169.254"])
    prompt = make_prompt(make_pool(), "Say hello")
    answer = Generation.objects.create(prompt=prompt, llm_version=llm.current_version())

    outcome = runner.run_generation(generation_id=answer.pk)

    answer.refresh_from_db()
    assert outcome.status == "failed" and answer.status == "failed"
    assert "base URL refused" in answer.error and "metadata" in answer.error
    assert answer.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_generation_on_loopback_fails_once_private_endpoints_are_disallowed(fake, settings):
    llm = make_llm("alpha", base_url=fake.base_url("openai"), model_id="private-model")
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = False
    prompt = make_prompt(make_pool(), "Say hello")
    answer = Generation.objects.create(prompt=prompt, llm_version=llm.current_version())

    assert runner.run_generation(generation_id=answer.pk).status == "failed"
    answer.refresh_from_db()
    assert "loopback" in answer.error
    assert fake.stats()["requests"].get("private-model", 0) == 0


def _named(base_url: str, name: str) -> str:
    """The fake provider's base URL with its 127.0.0.1 replaced by a host name."""
    return base_url.replace("127.0.0.1", name, 1)


@pytest.mark.django_db(transaction=True)
def test_a_name_that_rebinds_after_the_check_is_not_followed(fake, monkeypatch, settings):
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = False
    llm = make_llm("alpha", base_url=_named(fake.base_url("openai"), "provider.example"), model_id="rebound-model")
    answers = iter([["93.184.216.34"]])  # public for the check, then the fake provider on loopback

    def rebinding(host, port):
        return next(answers, ["127.0.0.1"])

    monkeypatch.setattr(endpoints, "resolve_host", rebinding)
    prompt = make_prompt(make_pool(), "Say hello")
    answer = Generation.objects.create(prompt=prompt, llm_version=llm.current_version())

    assert runner.run_generation(generation_id=answer.pk).status == "failed"
    answer.refresh_from_db()
    assert "refused when connecting" in answer.error and "loopback" in answer.error
    assert fake.stats()["requests"].get("rebound-model", 0) == 0


@pytest.mark.django_db(transaction=True)
def test_calls_connect_to_the_address_the_policy_checked(fake, monkeypatch):
    # provider.example resolves nowhere but through the policy's resolver: the call reaching the
    # fake provider shows that the connection used the checked address, for both clients.
    llm = make_llm(
        "alpha",
        base_url=_named(fake.base_url("anthropic"), "provider.example"),
        model_id="named-model",
        provider="anthropic",
    )
    seen = []

    def resolver(host, port):
        seen.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(endpoints, "resolve_host", resolver)
    prompt = make_prompt(make_pool(), "Say hello")
    answer = Generation.objects.create(prompt=prompt, llm_version=llm.current_version())
    assert runner.run_generation(generation_id=answer.pk).status == "done"
    assert connection_check.check_connection(llm).ok
    assert fake.stats()["requests"]["named-model"] == 2
    assert set(seen) == {"provider.example"} and len(seen) >= 4  # a check and a connection per call


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with "ok" and records its request line (a proxy sees the full URL there)."""

    def do_GET(self):
        self.server.request_lines.append(self.requestline)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    server.request_lines = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_guard_stands_aside_for_an_outbound_proxy(recording_server, monkeypatch, settings):
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = True
    port = recording_server.server_address[1]
    # The loopback address comes first and would be reachable: a guard that connected before
    # checking every address would reach the recording server.
    monkeypatch.setattr(endpoints, "resolve_host", lambda host, port: ["127.0.0.1", "169.254.169.254"])
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    # No proxy: the guard resolves the name itself and refuses it before any connection.
    with endpoints.http_client() as client, pytest.raises(ProviderError) as refused:
        client.get(f"http://provider.example:{port}/v1/models")
    assert refused.value.retryable is False
    assert "refused when connecting" in refused.value.reason and "metadata" in refused.value.reason
    assert recording_server.request_lines == []

    # A proxy: the name goes to the proxy unresolved (the proxy resolves it) and the guard is off.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    with endpoints.http_client() as client:
        assert client.get("http://provider.example/v1/models").text == "ok"
    assert recording_server.request_lines == ["GET http://provider.example/v1/models HTTP/1.1"]


@pytest.mark.django_db(transaction=True)
def test_a_host_that_stops_resolving_is_retried(fake, monkeypatch):
    import socket

    llm = make_llm("alpha", base_url="http://provider.example/v1", model_id="dns-model")

    def no_answer(host, port):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(endpoints, "resolve_host", no_answer)
    prompt = make_prompt(make_pool(), "Say hello")
    answer = Generation.objects.create(prompt=prompt, llm_version=llm.current_version())
    with pytest.raises(runner.RetryableGenerationError, match="could not be resolved"):
        runner.run_generation(generation_id=answer.pk)
    answer.refresh_from_db()
    assert answer.status == "pending"


# --- defaults per mode ----------------------------------------------------------------


def _settings_in_a_fresh_process(**environ):
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CHANNEL_LAYER_URL",
            "ARENA_ALLOW_PRIVATE_ENDPOINTS",
            "ARENA_FERNET_KEYS",
        }
    }
    env.update(environ, DJANGO_SETTINGS_MODULE="arena.settings")
    code = (
        "from django.conf import settings; "
        "print(settings.ARENA_ALLOW_PRIVATE_ENDPOINTS, len(settings.ARENA_FERNET_KEYS))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_embedded_mode_allows_private_endpoints_and_has_a_fernet_key():
    # The demo's fake provider listens on 127.0.0.1, and the demo must be able to store a key.
    assert _settings_in_a_fresh_process() == ["True", "1"]


def test_real_deployments_refuse_private_endpoints_and_need_fernet_keys_set_explicitly():
    assert _settings_in_a_fresh_process(DATABASE_URL="postgres://u@127.0.0.1:5432/x") == ["False", "0"]
    assert _settings_in_a_fresh_process(
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        ARENA_ALLOW_PRIVATE_ENDPOINTS="1",
        ARENA_FERNET_KEYS=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
    ) == ["True", "2"]
