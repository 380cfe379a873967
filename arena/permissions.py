"""The admin role's permissions: an authentication backend that grants nothing but permissions.

Admins who arrive through single sign-on get the ``admin`` group and staff status from their
identity provider's groups, never superuser status; this backend gives them the permissions of
the arena's own admin pages (LLMs, pools, jobs, benchmarks, sign-in lockouts). Users, groups and
permissions (``auth``) stay with superusers, so an admin cannot promote anyone, themselves included.
"""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from arena.roles import ADMIN, roles_of

ADMIN_ROLE_APPS = frozenset({"battles", "ratings", "axes"})


def has_admin_role(user) -> bool:
    return bool(user.is_active and user.is_staff and ADMIN in roles_of(user))


class AdminRolePermissions(BaseBackend):
    def authenticate(self, request, **credentials):
        return None  # grants permissions only; never signs anyone in

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return has_admin_role(user_obj) and perm.partition(".")[0] in ADMIN_ROLE_APPS

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return has_admin_role(user_obj) and app_label in ADMIN_ROLE_APPS
