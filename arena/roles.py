"""Roles are Django groups created by a migration: voter, eval_lead, admin."""

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


def remember_roles(user, names) -> None:
    """Give ``user`` the roles a query already read (role names among its groups): no query of its own."""
    roles = set(names) & set(ALL_ROLES)
    if user.is_superuser:
        roles.add(ADMIN)
    user._arena_roles = roles


def is_insider(user) -> bool:
    """Eval leads and admins know the models; their votes are flagged."""
    return bool(roles_of(user) & {EVAL_LEAD, ADMIN})


def can_see_leaderboard(user) -> bool:
    return is_insider(user)
