"""Roles and access recorded where they change: group membership, permissions and the user's staff flags.

Roles are Django groups (``arena.roles``), so listening to the membership
itself catches every path: the user admin, a sign-in that re-syncs groups from
the identity provider, a command, a data fix. The actor is the current one
(``arena.audit.context``): the signed-in admin, "sign-in", or the command.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_save, pre_save

from arena.audit.recording import Action, record

ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser")
PRE = {"pre_add": "post_add", "pre_remove": "post_remove", "pre_clear": "post_clear"}


def group_names(user_ids) -> dict[int, set[str]]:
    User = get_user_model()
    names: dict[int, set[str]] = {pk: set() for pk in user_ids}
    for pk, name in User.groups.through.objects.filter(user_id__in=list(user_ids)).values_list(
        "user_id", "group__name"
    ):
        names[pk].add(name)
    return names


def affected_users(instance, reverse: bool, pk_set) -> list[int]:
    if not reverse:
        return [instance.pk]
    if pk_set is None:  # clearing a group: every member is affected
        return list(instance.user_set.values_list("pk", flat=True))
    return list(pk_set)


def on_groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action in PRE:
        instance.audit_groups_before = group_names(affected_users(instance, reverse, pk_set))
        return
    if action not in PRE.values():
        return
    before: dict[int, set[str]] = getattr(instance, "audit_groups_before", None) or {}
    instance.audit_groups_before = None
    after = group_names(before)
    usernames = dict(get_user_model().objects.filter(pk__in=list(before)).values_list("pk", "username"))
    for pk, old in before.items():
        new = after.get(pk, set())
        if old != new:
            record(
                Action.ROLES_CHANGED,
                object_type="user",
                object_id=pk,
                object_repr=usernames.get(pk, ""),
                before={"groups": old},
                after={"groups": new},
            )


def permission_names(instance, relation: str) -> set[str]:
    rows = getattr(instance, relation).values_list("content_type__app_label", "codename")
    return {f"{app}.{codename}" for app, codename in rows}


class PermissionsChanged:
    """Receiver for a user's or a group's own permissions (changes made from the Permission side are rare
    and not recorded). Before → after lists the permissions taken away and given."""

    def __init__(self, relation: str, action: str, object_type: str):
        self.relation, self.action, self.object_type = relation, action, object_type

    def __call__(self, sender, instance, action, reverse, **kwargs):
        if reverse:
            return
        if action in PRE:
            instance.audit_permissions_before = permission_names(instance, self.relation)
            return
        if action not in PRE.values():
            return
        before = getattr(instance, "audit_permissions_before", None) or set()
        instance.audit_permissions_before = None
        after = permission_names(instance, self.relation)
        if before != after:
            record(
                self.action,
                object_type=self.object_type,
                object_id=instance.pk,
                object_repr=str(instance),
                before={"permissions": before - after},
                after={"permissions": after - before},
            )


def on_user_saving(sender, instance, update_fields=None, raw=False, **kwargs):
    instance.audit_access_before = None
    if raw or instance.pk is None or (update_fields is not None and not set(update_fields) & set(ACCESS_FIELDS)):
        return  # e.g. a sign-in stamping last_login: no query
    instance.audit_access_before = sender.objects.filter(pk=instance.pk).values(*ACCESS_FIELDS).first()


def on_user_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    after = {name: getattr(instance, name) for name in ACCESS_FIELDS}
    if created:
        if instance.is_staff or instance.is_superuser:
            record(
                Action.ACCESS_CHANGED,
                object_type="user",
                object_id=instance.pk,
                object_repr=instance.get_username(),
                before=None,
                after=after,
                note="user created",
            )
        return
    before = getattr(instance, "audit_access_before", None)
    instance.audit_access_before = None
    if before is None:
        return
    changed = {name: after[name] for name in ACCESS_FIELDS if before[name] != after[name]}
    if changed:
        record(
            Action.ACCESS_CHANGED,
            object_type="user",
            object_id=instance.pk,
            object_repr=instance.get_username(),
            before={name: before[name] for name in changed},
            after=changed,
        )


def connect() -> None:
    User = get_user_model()
    m2m_changed.connect(on_groups_changed, sender=User.groups.through, dispatch_uid="audit.groups")
    m2m_changed.connect(
        PermissionsChanged("user_permissions", Action.USER_PERMISSIONS, "user"),
        sender=User.user_permissions.through,
        dispatch_uid="audit.user_permissions",
        weak=False,
    )
    m2m_changed.connect(
        PermissionsChanged("permissions", Action.GROUP_PERMISSIONS, "group"),
        sender=Group.permissions.through,
        dispatch_uid="audit.group_permissions",
        weak=False,
    )
    pre_save.connect(on_user_saving, sender=User, dispatch_uid="audit.user_saving")
    post_save.connect(on_user_saved, sender=User, dispatch_uid="audit.user_saved")
