"""The OpenID Connect relying party, through Authlib: Authorization Code with PKCE (S256), state and
nonce kept in the session, the ID token checked against the provider's published keys (signature,
issuer, audience, expiry, nonce). The provider's endpoints come from its discovery document
(``OIDC_ISSUER`` + ``/.well-known/openid-configuration``), read at the first sign-in and kept.

Every way this can fail ends in ``SignInFailed`` with what to tell the person; nothing else escapes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings
from django.http import HttpRequest
from joserfc.errors import JoseError

logger = logging.getLogger(__name__)

CLIENT_NAME = "arena"
# Seconds of clock difference with the provider tolerated on the token's times.
CLOCK_LEEWAY = 60

_lock = threading.Lock()
_clients: dict[tuple, DjangoOAuth2App] = {}


class SignInFailed(Exception):
    def __init__(self, title: str, message: str, status: int) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Completed:
    issuer: str
    claims: dict
    id_token: str
    next_url: str


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _client() -> DjangoOAuth2App:
    """One client per configuration, kept with the provider's metadata and keys it has read."""
    key = (
        settings.OIDC_ISSUER,
        settings.OIDC_CLIENT_ID,
        settings.OIDC_CLIENT_SECRET,
        settings.OIDC_SCOPES,
        settings.OIDC_TIMEOUT,
    )
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = OAuth().register(
                CLIENT_NAME,
                client_id=settings.OIDC_CLIENT_ID,
                client_secret=settings.OIDC_CLIENT_SECRET,
                server_metadata_url=discovery_url(settings.OIDC_ISSUER),
                client_kwargs={
                    "scope": settings.OIDC_SCOPES,
                    "code_challenge_method": "S256",
                    "default_timeout": settings.OIDC_TIMEOUT,
                },
            )
            _clients.clear()
            _clients[key] = client
        return client


def _unreachable(exc: Exception) -> SignInFailed:
    logger.warning("OpenID provider unreachable: %s", exc)
    return SignInFailed(
        "Sign-in is unavailable",
        f"{settings.OIDC_PROVIDER_NAME} could not be reached. Try again in a few minutes; "
        "if it keeps happening, tell your administrator.",
        503,
    )


def authorization_url(request: HttpRequest, *, redirect_uri: str, next_url: str) -> str:
    """The provider's sign-in page for a new flow; its state, nonce, PKCE verifier and the page to
    return to are kept in the session under the state."""
    client = _client()
    try:
        flow = client.create_authorization_url(redirect_uri)
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
        raise _unreachable(exc) from exc
    client.save_authorize_data(request, redirect_uri=redirect_uri, next=next_url, **flow)
    return flow["url"]


def complete(request: HttpRequest) -> Completed:
    """Checks the provider's answer at the callback and exchanges the code for a verified ID token."""
    client = _client()
    state = request.GET.get("state", "")
    flow = client.framework.get_state_data(request.session, state) if state else None
    error = request.GET.get("error", "")
    if error:
        if flow is not None:
            client.framework.clear_state_data(request.session, state)
        raise _provider_refused(error)
    if flow is None:
        raise SignInFailed(
            "Sign-in expired",
            "This sign-in link is no longer valid: it was already used, it expired, or it was started "
            "in another browser. Start again from the sign-in page.",
            400,
        )
    try:
        token = client.authorize_access_token(request, leeway=CLOCK_LEEWAY)
    except requests.RequestException as exc:
        raise _unreachable(exc) from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("OpenID sign-in refused: %s: %s", type(exc).__name__, exc)
        raise SignInFailed(
            "Sign-in could not be verified",
            f"The answer from {settings.OIDC_PROVIDER_NAME} could not be verified, so you were not signed in. "
            "Start again from the sign-in page.",
            400,
        ) from exc
    claims = token.get("userinfo")
    if not claims or not token.get("id_token"):
        raise SignInFailed(
            "Sign-in could not be verified",
            f"{settings.OIDC_PROVIDER_NAME} did not send an ID token, so you were not signed in.",
            400,
        )
    issuer = client.load_server_metadata().get("issuer") or settings.OIDC_ISSUER
    return Completed(issuer=issuer, claims=dict(claims), id_token=token["id_token"], next_url=flow.get("next") or "")


def _provider_refused(error: str) -> SignInFailed:
    if error == "access_denied":
        return SignInFailed(
            "Sign-in cancelled",
            f"{settings.OIDC_PROVIDER_NAME} did not let Arena sign you in: the request was declined or "
            "you do not have access to Arena there. Ask your administrator for access if you need it.",
            403,
        )
    if error in {"login_required", "interaction_required", "consent_required"}:
        return SignInFailed("Sign-in needed", f"Sign in at {settings.OIDC_PROVIDER_NAME} and try again.", 403)
    return SignInFailed(
        "Sign-in failed",
        f"{settings.OIDC_PROVIDER_NAME} refused the sign-in ({error[:80]}). Try again; if it keeps "
        "happening, tell your administrator.",
        400,
    )


def end_session_url(*, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's logout address when it advertises one (RP-initiated logout), else None."""
    client = _client()
    try:
        endpoint = client.load_server_metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        return client.create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri,
            id_token_hint=id_token,
            client_id=settings.OIDC_CLIENT_ID,
        )["url"]
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("OpenID provider unreachable at logout: %s", exc)
        return None
