"""Single sign-on against a real OpenID provider process (node-oidc-provider), through its own pages.

The app's side runs in Django's test client, as http://127.0.0.1 (the provider accepts loopback
redirect URIs on any port); the provider redirects to http://127.0.0.1/oidc/callback/, which the test
then opens in that client, as a browser would.
"""

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from joserfc.jwk import RSAKey

from accounts.models import OidcIdentity
from arena.roles import roles_of
from tests.factories import make_user
from tests.support.oidc_provider import oidc_provider, sso_settings  # noqa: F401  (fixtures)
from tests.support.private_redis import free_port


def Browser() -> Client:
    return Client(SERVER_NAME="127.0.0.1")


pytestmark = pytest.mark.django_db


def start(client: Client, next_url: str | None = None) -> str:
    response = client.get("/oidc/login/", {"next": next_url} if next_url else {})
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"]


def callback(client: Client, url: str):
    parts = urlsplit(url)
    assert parts.path == "/oidc/callback/", url
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client, provider, login, *, next_url=None, agent=None):
    return callback(client, provider.browse(start(client, next_url), login, agent=agent))


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_first_sign_in_creates_the_user_with_the_role_its_groups_give(sso_settings, oidc_provider):
    oidc_provider.set_account("ada", email="Ada@Corp.example", groups=["arena-admins", "staff"])
    oidc_provider.set_account("grace", email="grace@corp.example", groups=["arena-leads"])
    oidc_provider.set_account("linus", email="linus@corp.example", groups=["staff"])
    for login, role in (("ada", "admin"), ("grace", "eval_lead"), ("linus", "voter")):
        client = Browser()
        response = sign_in(client, oidc_provider, login)
        assert response.status_code == 302 and response["Location"] == "/"
        user = signed_in_user(client)
        assert user is not None and roles_of(user) == {role}
        assert user.is_staff == (role == "admin") and not user.is_superuser
        assert not user.has_usable_password()  # no password to guess: it signs in through the provider
    ada = User.objects.get(email="ada@corp.example")
    assert ada.username == "ada@corp.example"
    identity = OidcIdentity.objects.get(user=ada)
    assert (identity.issuer, identity.subject, identity.groups) == (
        oidc_provider.issuer,
        "ada",
        ["arena-admins", "staff"],
    )


def test_a_group_removed_at_the_provider_removes_the_role_at_the_next_sign_in(sso_settings, oidc_provider):
    oidc_provider.set_account("hopper", email="hopper@corp.example", groups=["arena-leads"])
    agent = httpx.Client()
    first = Browser()
    sign_in(first, oidc_provider, "hopper", agent=agent)
    assert roles_of(signed_in_user(first)) == {"eval_lead"}
    assert first.get("/leaderboard/").status_code == 200

    oidc_provider.set_account("hopper", email="hopper@corp.example", groups=[])
    second = Browser()
    sign_in(second, oidc_provider, "hopper", agent=agent)  # the provider's session is still open
    user = signed_in_user(second)
    assert roles_of(user) == {"voter"} and User.objects.count() == 1
    assert second.get("/leaderboard/").status_code == 403


def test_the_page_asked_for_survives_the_round_trip(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    login_page = client.get("/accounts/login/", {"next": "/live/?from=expired"}).content.decode()
    assert 'href="/oidc/login/?next=%2Flive%2F%3Ffrom%3Dexpired"' in login_page
    response = sign_in(client, oidc_provider, "kay", next_url="/live/?from=expired")
    assert response["Location"] == "/live/?from=expired"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_a_next_page_elsewhere_is_replaced_by_the_arena(sso_settings, oidc_provider, next_url):
    oidc_provider.set_account("kay", email="kay@corp.example")
    response = sign_in(Browser(), oidc_provider, "kay", next_url=next_url)
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_flow_asks_for_pkce_state_and_nonce(sso_settings, oidc_provider):
    query = parse_qs(urlsplit(start(Browser())).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["scope"] == ["openid email profile"] and query["response_type"] == ["code"]


def assert_refused(response, status: int, title: str):
    page = response.content.decode()
    assert response.status_code == status, page[:1000]
    assert f"<h1>{title}</h1>" in page and "Traceback" not in page
    assert 'href="/accounts/login/"' in page  # a way back, in the site's own layout
    assert "_auth_user_id" not in response.wsgi_request.session


def test_a_tampered_state_is_refused(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    returned = oidc_provider.browse(start(client), "kay")
    state = parse_qs(urlsplit(returned).query)["state"][0]
    assert_refused(callback(client, with_query(returned, state=state[:-2] + "xx")), 400, "Sign-in expired")
    # The genuine answer still works once; played again it is refused.
    assert callback(client, returned).status_code == 302
    client.logout()
    assert_refused(callback(client, returned), 400, "Sign-in expired")


def test_an_answer_started_in_another_browser_is_refused(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    returned = oidc_provider.browse(start(Browser()), "kay")
    assert_refused(callback(Browser(), returned), 400, "Sign-in expired")


def test_an_id_token_with_another_nonce_is_refused(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    # The provider puts the nonce of the request it received into the token: not the one Arena sent.
    authorize = with_query(start(client), nonce="a-nonce-arena-never-sent")
    assert_refused(callback(client, oidc_provider.browse(authorize, "kay")), 400, "Sign-in could not be verified")


def crafted_claims(provider, authorize_url: str, **changes) -> dict:
    now = int(time.time())
    nonce = parse_qs(urlsplit(authorize_url).query)["nonce"][0]
    claims = {
        "iss": provider.issuer,
        "sub": "kay",
        "aud": provider.client_id,
        "iat": now,
        "exp": now + 600,
        "nonce": nonce,
        "email": "kay@corp.example",
        "groups": ["arena-admins"],
    }
    claims.update(changes)
    return claims


def sign_in_with_crafted_token(provider, client, key=None, **changes):
    authorize = start(client)
    returned = provider.browse(authorize, "kay")
    provider.serve_next_id_token(provider.sign(crafted_claims(provider, authorize, **changes), key))
    return callback(client, returned)


def test_a_crafted_token_signed_with_the_providers_key_is_accepted(sso_settings, oidc_provider):
    """The control for the two tests below: the crafted token is right in all but what they change."""
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    assert sign_in_with_crafted_token(oidc_provider, client).status_code == 302
    assert roles_of(signed_in_user(client)) == {"admin"}


def test_an_id_token_signed_by_another_key_is_refused(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    # Same key id as the provider's, so the signature check itself has to catch it.
    impostor = RSAKey.generate_key(2048, parameters={"kid": oidc_provider.signing_key.kid, "alg": "RS256"})
    client = Browser()
    assert_refused(sign_in_with_crafted_token(oidc_provider, client, impostor), 400, "Sign-in could not be verified")
    unknown = RSAKey.generate_key(2048, parameters={"kid": "some-other-key", "alg": "RS256"})
    assert_refused(sign_in_with_crafted_token(oidc_provider, client, unknown), 400, "Sign-in could not be verified")
    assert not User.objects.exists()


def test_an_expired_id_token_is_refused(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    now = int(time.time())
    client = Browser()
    response = sign_in_with_crafted_token(oidc_provider, client, iat=now - 7200, exp=now - 3600)
    assert_refused(response, 400, "Sign-in could not be verified")
    assert not User.objects.exists()


def test_an_id_token_for_another_client_or_issuer_is_refused(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    assert_refused(
        sign_in_with_crafted_token(oidc_provider, client, aud="another-app"), 400, "Sign-in could not be verified"
    )
    assert_refused(
        sign_in_with_crafted_token(oidc_provider, client, iss="https://idp.evil.example"),
        400,
        "Sign-in could not be verified",
    )


def test_a_refused_consent_gets_a_clear_page(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    returned = oidc_provider.browse(start(client), "kay", decline=True)
    assert parse_qs(urlsplit(returned).query)["error"] == ["access_denied"]
    assert_refused(callback(client, returned), 403, "Sign-in cancelled")


def test_a_provider_error_without_a_known_state_gets_a_clear_page(sso_settings):
    response = Browser().get("/oidc/callback/", {"error": "server_error", "error_description": "<b>boom</b>"})
    assert_refused(response, 400, "Sign-in failed")
    assert "<b>" not in response.content.decode()


def test_a_missing_email_gets_a_clear_page(sso_settings, oidc_provider):
    oidc_provider.set_account("noemail", groups=["arena-admins"])
    assert_refused(sign_in(Browser(), oidc_provider, "noemail"), 403, "No email address")
    assert not User.objects.exists()


def test_an_email_outside_the_allowed_domains_gets_a_clear_page(sso_settings, oidc_provider):
    sso_settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["corp.example"]
    oidc_provider.set_account("mallory", email="mallory@sub.corp.example.evil.example")
    oidc_provider.set_account("kay", email="kay@CORP.example")
    response = sign_in(Browser(), oidc_provider, "mallory")
    assert_refused(response, 403, "This account cannot sign in here")
    assert "corp.example" in response.content.decode()
    assert sign_in(Browser(), oidc_provider, "kay").status_code == 302


def test_a_provider_that_is_down_gets_a_clear_page(sso_settings):
    sso_settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    response = Browser().get("/oidc/login/", {"next": "/live/"})
    assert_refused(response, 503, "Sign-in is unavailable")
    assert "/oidc/login/?next=%2Flive%2F" in response.content.decode()  # try again, same page afterwards


@pytest.fixture
def captive_portal():
    """A real HTTP server that answers every request with an HTML page (a proxy's login page, say)."""

    class Portal(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body>Please sign in to the network</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_provider_answering_with_something_else_than_its_discovery_document_gets_a_clear_page(
    sso_settings, captive_portal
):
    sso_settings.OIDC_ISSUER = captive_portal
    assert_refused(Browser().get("/oidc/login/"), 503, "Sign-in is unavailable")


def test_a_provider_that_hangs_gets_a_clear_page_after_oidc_timeout(sso_settings):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        sso_settings.OIDC_ISSUER = f"http://127.0.0.1:{silent.getsockname()[1]}"
        sso_settings.OIDC_TIMEOUT = 0.5
        started = time.monotonic()
        assert_refused(Browser().get("/oidc/login/"), 503, "Sign-in is unavailable")
        assert time.monotonic() - started < 5


def test_a_provider_that_goes_down_before_the_code_exchange_gets_a_clear_page(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    returned = oidc_provider.browse(start(client), "kay")
    sso_settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"  # a fresh client: it must read discovery again
    assert_refused(callback(client, returned), 503, "Sign-in is unavailable")


def test_a_deactivated_user_is_refused(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    sign_in(Browser(), oidc_provider, "kay")
    User.objects.filter(email="kay@corp.example").update(is_active=False)
    assert_refused(sign_in(Browser(), oidc_provider, "kay"), 403, "Account disabled")


def test_an_existing_account_with_that_verified_email_is_taken_over_but_never_a_superuser(sso_settings, oidc_provider):
    existing = make_user("kay", role="eval_lead", email="kay@corp.example")
    make_user("root", role="admin", email="root@corp.example", is_superuser=True, is_staff=True)
    oidc_provider.set_account("kay", email="kay@corp.example", groups=[])
    oidc_provider.set_account("root", email="root@corp.example", groups=[])
    client = Browser()
    sign_in(client, oidc_provider, "kay")
    assert signed_in_user(client) == existing and roles_of(existing) == {"voter"}
    client = Browser()
    sign_in(client, oidc_provider, "root")
    newcomer = signed_in_user(client)
    assert newcomer.username == "root@corp.example" and not newcomer.is_superuser


def test_an_unverified_email_does_not_take_over_an_account(sso_settings, oidc_provider):
    existing = make_user("kay", email="kay@corp.example")
    oidc_provider.set_account("kay", email="kay@corp.example", email_verified=False)
    client = Browser()
    sign_in(client, oidc_provider, "kay")
    assert signed_in_user(client) != existing


def test_an_admin_from_single_sign_on_can_use_the_admin_pages_but_not_users(sso_settings, oidc_provider):
    oidc_provider.set_account("ada", email="ada@corp.example", groups=["arena-admins"])
    client = Browser()
    sign_in(client, oidc_provider, "ada")
    assert client.get("/admin/battles/llm/add/").status_code == 200
    assert client.get("/admin/battles/promptpool/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403


def test_logout_ends_the_session_at_the_provider_too(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    agent = httpx.Client()
    client = Browser()
    sign_in(client, oidc_provider, "kay", agent=agent)
    response = client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session
    end_session = response["Location"]
    assert end_session.startswith(f"{oidc_provider.issuer}/session/end?")
    query = parse_qs(urlsplit(end_session).query)
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1/accounts/login/"]
    assert query["id_token_hint"][0].count(".") == 2

    confirm = agent.get(end_session)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm.text))
    action = re.search(r'<form[^>]*action="([^"]+)"', confirm.text).group(1)
    done = agent.post(httpx.URL(end_session).join(action), data={**form, "logout": "yes"}, follow_redirects=False)
    assert done.headers["location"].startswith("http://127.0.0.1/accounts/login/")  # back to Arena's sign-in page

    # The provider's session is over: signing in again asks for the login once more.
    again = agent.get(start(Browser()), follow_redirects=True)
    assert 'name="login"' in again.text


def test_logout_without_single_sign_on_stays_here(sso_settings):
    client = Browser()
    client.force_login(make_user("local"))
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/" and "_auth_user_id" not in client.session
    assert client.get("/accounts/logout/")["Location"] == "/"


def test_logout_while_the_provider_is_down_still_signs_out_here(sso_settings, oidc_provider):
    oidc_provider.set_account("kay", email="kay@corp.example")
    client = Browser()
    sign_in(client, oidc_provider, "kay")
    sso_settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"  # a fresh client that cannot read discovery
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/" and "_auth_user_id" not in client.session


def test_the_admins_log_out_ends_the_session_at_the_provider_too(sso_settings, oidc_provider):
    oidc_provider.set_account("ada", email="ada@corp.example", groups=["arena-admins"])
    client = Browser()
    sign_in(client, oidc_provider, "ada")
    assert 'action="/admin/logout/"' in client.get("/admin/").content.decode()
    response = client.post("/admin/logout/")
    assert response["Location"].startswith(f"{oidc_provider.issuer}/session/end?")
    assert "_auth_user_id" not in client.session
