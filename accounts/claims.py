"""What an ID token's claims mean for Arena: the role its groups give, and whether its email may
sign in. Pure functions over plain data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from arena.roles import ADMIN, EVAL_LEAD, VOTER


def groups_from_claims(claims: Mapping, claim: str) -> list[str]:
    """The groups under ``claim``; a dotted name reaches into nested claims (Keycloak's
    ``realm_access.roles``). A single string counts as one group; anything else as none."""
    value: object = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def role_for_groups(groups: Iterable[str], *, admin_groups: Iterable[str], eval_lead_groups: Iterable[str]) -> str:
    """One role: admin if any group is an admin group, else eval lead if any is an eval-lead group,
    else voter."""
    member_of = set(groups)
    if member_of & set(admin_groups):
        return ADMIN
    if member_of & set(eval_lead_groups):
        return EVAL_LEAD
    return VOTER


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def email_allowed(email: str, allowed_domains: Iterable[str]) -> bool:
    """Any address when no domain is listed; otherwise only an exact domain match (a subdomain is a
    different domain)."""
    allowed = {domain.strip().lower().lstrip("@") for domain in allowed_domains if domain.strip()}
    return not allowed or email_domain(email) in allowed


def is_true(value: object) -> bool:
    """``email_verified`` arrives as a boolean, or from some providers as the string "true"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
