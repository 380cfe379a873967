"""The ``oidc_provider`` fixture: a real OpenID provider process (node-oidc-provider) on a free port.

Import it into a conftest.py or test module::

    from tests.support.oidc_provider import oidc_provider, sso_settings  # noqa: F401  (fixtures)

The provider's packages are pinned in tests/support/node_oidc/package-lock.json and installed with
``npm ci`` into its (git-ignored) node_modules on first use. It signs ID tokens with an RSA key the
fixture makes, so a test can also sign a token with the provider's own key (an expired one) or with
another key. Accounts and their claims (groups included) are set per test with ``set_account``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.private_redis import free_port

NODE_DIR = Path(__file__).resolve().parent / "node_oidc"
CLIENT_ID = "arena-tests"
CLIENT_SECRET = "arena-tests-secret-that-is-long-enough"


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def install_provider_packages() -> None:
    """``npm ci`` once: the lock file pins every package and its integrity hash."""
    installed = NODE_DIR / "node_modules" / "oidc-provider" / "package.json"
    lock = NODE_DIR / "package-lock.json"
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    if installed.exists() and marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None or not shutil.which("node"):
        _unavailable("Node.js 20 and npm are needed for the single sign-on tests (a real OpenID provider)")
        return
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        _unavailable(f"npm ci for the test OpenID provider failed:\n{result.stdout}\n{result.stderr}")


class OidcProvider:
    """A running node-oidc-provider: ``issuer``, ``client_id``, ``client_secret``, ``signing_key``."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.signing_key = RSAKey.generate_key(2048, parameters={"kid": "provider-key", "use": "sig", "alg": "RS256"})
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> OidcProvider:
        config = {
            "port": self.port,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "jwks": {"keys": [self.signing_key.as_dict(private=True)]},
        }
        config_path = self.workdir / "provider.json"
        config_path.write_text(json.dumps(config))
        self.log_path = self.workdir / "provider.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                ["node", str(NODE_DIR / "provider.mjs"), str(config_path)],
                cwd=NODE_DIR,
                stdin=subprocess.PIPE,  # closed when this process ends: the provider then exits too
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NODE_ENV": "development"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the test OpenID provider exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the test OpenID provider did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def set_account(self, login: str, *, email: str | None = None, groups=(), **claims) -> None:
        """Creates or replaces the account ``login``; its claims are read at every sign-in."""
        body = {"email_verified": True, "name": login.title(), "groups": list(groups), **claims}
        if email is not None:
            body["email"] = email
        httpx.put(f"{self.issuer}/__test__/accounts/{login}", json=body, timeout=5).raise_for_status()

    def serve_next_id_token(self, id_token: str) -> None:
        """The next token response carries ``id_token`` instead of the one the provider made."""
        httpx.post(f"{self.issuer}/__test__/next-id-token", json={"id_token": id_token}, timeout=5).raise_for_status()

    def browse(
        self, authorize_url: str, login: str, *, decline: bool = False, agent: httpx.Client | None = None
    ) -> str:
        """Goes through the provider's own pages as a person would, from the authorization URL the app
        redirected to: signs in as ``login`` (any password), consents, or declines (the login page's
        Cancel); returns the address the provider sends the browser back to (the app's callback).
        ``agent`` keeps the provider's cookies between calls (its session), like one browser."""
        agent = agent or httpx.Client()
        url = authorize_url
        for _ in range(12):
            response = agent.get(url, follow_redirects=False)
            while response.status_code == 200 and "/interaction/" in url:
                page = response.text
                if decline:
                    abort = re.search(r'href="([^"]*/abort)"', page)
                    assert abort, page
                    response = agent.get(httpx.URL(url).join(abort.group(1)), follow_redirects=False)
                    break
                action = re.search(r'<form[^>]*action="([^"]+)"', page)
                assert action, page
                prompt = "login" if 'name="login"' in page else "consent"
                form = (
                    {"prompt": prompt, "login": login, "password": "any"} if prompt == "login" else {"prompt": prompt}
                )
                response = agent.post(httpx.URL(url).join(action.group(1)), data=form, follow_redirects=False)
            location = response.headers.get("location")
            assert response.is_redirect and location, f"{response.status_code} at {url}: {response.text[:500]}"
            url = str(httpx.URL(url).join(location))
            if not url.startswith(self.issuer):
                return url
        raise AssertionError(f"the provider never sent the browser back (last at {url})")

    def sign(self, claims: dict, key: RSAKey | None = None) -> str:
        """A JWT over ``claims`` signed with ``key`` (default: the provider's own signing key)."""
        key = key or self.signing_key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


@pytest.fixture(scope="session")
def oidc_provider():
    install_provider_packages()
    workdir = Path(tempfile.mkdtemp(prefix="arena-oidc-"))
    provider = OidcProvider(workdir).start()
    yield provider
    provider.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def sso_settings(settings, oidc_provider):
    """Arena configured for the test provider (groups ``arena-admins`` and ``arena-leads``)."""
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_CLIENT_ID = oidc_provider.client_id
    settings.OIDC_CLIENT_SECRET = oidc_provider.client_secret
    settings.OIDC_SCOPES = "openid email profile"
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_ADMIN_GROUPS = ["arena-admins"]
    settings.OIDC_EVAL_LEAD_GROUPS = ["arena-leads"]
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = []
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    return settings
