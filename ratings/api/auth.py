"""Bearer tokens for the read-only API.

A token is ``arena_`` followed by 43 random URL-safe characters (256 bits). Only its
SHA-256 is stored: a token that random needs no slow hash, and a lookup by hash is one
indexed query. The owner must still be an active eval lead or admin when the token is used,
so removing a role or deactivating a user also stops their tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from ninja.security import HttpBearer

from arena.audit.recording import Action, record
from arena.roles import is_insider
from ratings.models import ApiToken

TOKEN_PREFIX = "arena_"
SHOWN_PREFIX = 12  # characters of the token kept in clear to tell tokens apart
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_raw_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(*, owner, name: str = "") -> tuple[ApiToken, str]:
    """A new token for ``owner``; returns the row and the token itself, which is not stored."""
    raw = new_raw_token()
    token = ApiToken.objects.create(owner=owner, name=name, prefix=raw[:SHOWN_PREFIX], token_hash=hash_token(raw))
    record_token(token, Action.API_TOKEN_CREATED)
    return token, raw


def record_token(token: ApiToken, action: str) -> None:
    """An audit entry for a token made or revoked: its owner, name and shown prefix, never the token."""
    record(
        action,
        object_type="api_token",
        object_id=token.pk,
        object_repr=f"{token.prefix}… ({token.name or 'unnamed'})",
        after={"owner": token.owner.get_username(), "name": token.name, "revoked": token.revoked_at is not None},
    )


def revoke(token: ApiToken) -> bool:
    """Revoke ``token``; False when it was already revoked."""
    now = timezone.now()
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if changed:
            token.revoked_at = now
            record_token(token, Action.API_TOKEN_REVOKED)
    return bool(changed)


def can_use_api(user) -> bool:
    return bool(user is not None and user.is_active and is_insider(user))


class AuthError(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def bearer_token(header: str | None) -> str:
    if not header:
        raise AuthError(401, "unauthorized", "send the token as 'Authorization: Bearer <token>'")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError(401, "unauthorized", "the Authorization header must be 'Bearer <token>'")
    return value.strip()


def active_token(raw: str) -> ApiToken:
    """The active token ``raw``, its owner loaded, its use recorded; raises AuthError."""
    token = ApiToken.objects.select_related("owner").filter(token_hash=hash_token(raw)).first()
    if token is None or token.revoked_at is not None:
        raise AuthError(401, "invalid_token", "the token is unknown or has been revoked")
    if not can_use_api(token.owner):
        raise AuthError(403, "forbidden", "the token's owner is no longer an active eval lead or admin")
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    return token


class BearerToken(HttpBearer):
    """The API's security scheme (``Authorization: Bearer <token>``), for django-ninja.

    Every failure raises ``AuthError``, which says what is wrong: 401 for a missing,
    malformed, unknown or revoked token, 403 for an owner who lost the role.
    """

    def __call__(self, request) -> ApiToken:
        return self.authenticate(request, bearer_token(request.headers.get(self.header)))

    def authenticate(self, request, token: str) -> ApiToken:
        return active_token(token)
