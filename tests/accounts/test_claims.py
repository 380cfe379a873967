"""What the claims of an ID token mean for Arena (pure functions, no database)."""

import pytest

from accounts.claims import email_allowed, groups_from_claims, is_true, role_for_groups


@pytest.mark.parametrize(
    ("claims", "claim", "groups"),
    [
        ({"groups": ["a", "b"]}, "groups", ["a", "b"]),
        ({"groups": "a"}, "groups", ["a"]),
        ({"groups": ["a", 3, None]}, "groups", ["a"]),
        ({}, "groups", []),
        ({"groups": {"a": 1}}, "groups", []),
        ({"realm_access": {"roles": ["arena-admins"]}}, "realm_access.roles", ["arena-admins"]),
        ({"realm_access": "x"}, "realm_access.roles", []),
    ],
)
def test_groups_are_read_from_the_configured_claim(claims, claim, groups):
    assert groups_from_claims(claims, claim) == groups


@pytest.mark.parametrize(
    ("groups", "role"),
    [(["admins", "leads"], "admin"), (["leads"], "eval_lead"), (["staff"], "voter"), ([], "voter")],
)
def test_one_role_from_the_groups_admin_first(groups, role):
    assert role_for_groups(groups, admin_groups=["admins"], eval_lead_groups=["leads"]) == role


def test_group_names_match_exactly():
    assert role_for_groups(["Admins", "admins-old"], admin_groups=["admins"], eval_lead_groups=[]) == "voter"


@pytest.mark.parametrize(
    ("email", "allowed", "ok"),
    [
        ("a@corp.example", [], True),
        ("a@Corp.Example", ["corp.example"], True),
        ("a@corp.example", ["@corp.example"], True),
        ("a@sub.corp.example", ["corp.example"], False),
        ("a@corp.example.evil.example", ["corp.example"], False),
        ("a@other.example", ["corp.example", "other.example"], True),
    ],
)
def test_email_domains(email, allowed, ok):
    assert email_allowed(email, allowed) is ok


@pytest.mark.parametrize(
    ("value", "verified"),
    [(True, True), ("true", True), ("TRUE", True), (False, False), ("false", False), (None, False), (1, False)],
)
def test_email_verified_accepts_a_boolean_or_the_string_true(value, verified):
    assert is_true(value) is verified
