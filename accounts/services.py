"""Signing a person in from an OpenID provider's verified claims: find or create the user, and set
their role from the groups claim (at every sign-in, so a group removed at the provider removes the
role)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.claims import email_allowed, groups_from_claims, is_true, role_for_groups
from accounts.models import OidcIdentity
from arena.roles import assign_role


class SignInRefused(Exception):
    """A sign-in that Arena refuses, with what to tell the person."""

    def __init__(self, title: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


@dataclass(frozen=True)
class RolePolicy:
    groups_claim: str
    admin_groups: tuple[str, ...]
    eval_lead_groups: tuple[str, ...]
    allowed_domains: tuple[str, ...]


def sign_in_from_claims(*, issuer: str, claims: Mapping, policy: RolePolicy):
    """The user these verified ID-token claims sign in as, with their role synced.

    Refuses (``SignInRefused``) a token without an email, an email outside the allowed domains, and
    a deactivated user. A first sign-in creates the user, or takes over the one existing account
    with that email when the provider says the email is verified (so that earlier votes stay with
    the person); superusers are never taken over: they are the break-glass accounts.
    """
    subject = str(claims.get("sub") or "")
    email = str(claims.get("email") or "").strip().lower()
    if not subject:
        raise SignInRefused("Sign-in failed", "The identity provider did not say who you are (no subject).", 400)
    if not email or "@" not in email:
        raise SignInRefused(
            "No email address",
            "Your identity provider did not share an email address, which Arena needs to sign you in. "
            "Ask your administrator to release the email claim to Arena.",
        )
    if not email_allowed(email, policy.allowed_domains):
        raise SignInRefused(
            "This account cannot sign in here",
            f"Sign-in is open to addresses at {', '.join(policy.allowed_domains)} only; you signed in as {email}.",
        )
    groups = groups_from_claims(claims, policy.groups_claim)
    role = role_for_groups(groups, admin_groups=policy.admin_groups, eval_lead_groups=policy.eval_lead_groups)
    try:
        return _sign_in(issuer, subject, email, claims, groups, role)
    except IntegrityError:
        # The same person's first sign-in in two tabs at once: the other one created the identity.
        return _sign_in(issuer, subject, email, claims, groups, role)


@transaction.atomic
def _sign_in(issuer: str, subject: str, email: str, claims: Mapping, groups: list[str], role: str):
    now = timezone.now()
    identity = (
        OidcIdentity.objects.select_for_update().select_related("user").filter(issuer=issuer, subject=subject).first()
    )
    if identity is None:
        user = _account_to_take_over(issuer, email, claims) or _new_user(email)
        identity = OidcIdentity.objects.create(
            user=user, issuer=issuer, subject=subject, groups=groups, last_sign_in=now
        )
    user = identity.user
    if not user.is_active:
        raise SignInRefused(
            "Account disabled", "Your Arena account has been disabled. Ask an admin if this is a mistake."
        )
    _update_profile(user, email, claims)
    assign_role(user, role)
    identity.groups = groups
    identity.last_sign_in = now
    identity.save(update_fields=["groups", "last_sign_in"])
    return user


def _account_to_take_over(issuer: str, email: str, claims: Mapping):
    if not is_true(claims.get("email_verified")):
        return None
    candidates = list(
        get_user_model()
        .objects.filter(email__iexact=email, is_superuser=False)
        .exclude(oidc_identities__issuer=issuer)[:2]
    )
    return candidates[0] if len(candidates) == 1 else None


def _new_user(email: str):
    users = get_user_model().objects
    username = email
    suffix = 1
    while users.filter(username__iexact=username).exists():
        suffix += 1
        username = f"{email}-{suffix}"
    return users.create_user(username=username, email=email)  # no password: it signs in through the provider


def _update_profile(user, email: str, claims: Mapping) -> None:
    values = {
        "email": email,
        "first_name": str(claims.get("given_name") or claims.get("name") or user.first_name)[:150],
        "last_name": str(claims.get("family_name") or user.last_name)[:150],
    }
    changed = [field for field, value in values.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, values[field])
    if changed:
        user.save(update_fields=changed)
