"""`manage.py check --deploy` with the production settings of .env.example: clean once SECRET_KEY is set."""

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def _check_deploy(**overrides):
    # Only what .env.example says (plus PATH): nothing of the test run's own environment leaks in.
    env = {"PATH": "/usr/bin:/bin", **_env_example(), **overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_settings_of_env_example():
    result = _check_deploy(SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_refuses_the_placeholder_secret_key():
    result = _check_deploy()
    assert result.returncode != 0
    assert "arena.E005" in result.stderr


def test_check_deploy_warns_when_served_over_plain_http():
    result = _check_deploy(SECRET_KEY=secrets.token_urlsafe(50), SECURE_COOKIES="0", SECURE_SSL_REDIRECT="0")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


@pytest.mark.django_db
def test_https_redirect_spares_the_health_check_and_metrics(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # a new handler: the security middleware reads the setting when it is built
    page = client.get("/accounts/login/")
    assert page.status_code == 301 and page["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200
    # The header is not trusted until SECURE_PROXY_SSL_HEADER names it.
    assert client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"}).status_code == 301
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"}).status_code == 200
