"""Roles are Django groups created by a migration: voter, eval_lead, admin.

Change a user's role only through ``assign_role``: it adds and removes the groups themselves, so
whatever listens to group membership (the audit trail) sees every change, including sign-in's.
"""

VOTER = "voter"
EVAL_LEAD = "eval_lead"
ADMIN = "admin"
ALL_ROLES = (VOTER, EVAL_LEAD, ADMIN)


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_arena_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._arena_roles = cached
    return cached


def is_insider(user) -> bool:
    """Eval leads and admins know the models; their votes are flagged."""
    return bool(roles_of(user) & {EVAL_LEAD, ADMIN})


def can_see_leaderboard(user) -> bool:
    return is_insider(user)


def assign_role(user, role: str) -> bool:
    """Makes ``role`` the user's one role: its group is added, the other role groups removed, and
    the user is staff exactly when an admin (a superuser stays staff). Groups that are not roles
    are left alone. Returns whether anything changed."""
    if role not in ALL_ROLES:
        raise ValueError(f"unknown role {role!r}")
    groups = user.groups.model.objects
    current = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
    stale = current - {role}
    if stale:
        user.groups.remove(*groups.filter(name__in=stale))
    if role not in current:
        user.groups.add(groups.get_or_create(name=role)[0])
    staff = role == ADMIN or user.is_superuser
    staff_changed = user.is_staff != staff
    if staff_changed:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
    user.__dict__.pop("_arena_roles", None)
    return bool(stale) or role not in current or staff_changed
