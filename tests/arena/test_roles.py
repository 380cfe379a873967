"""assign_role: one role per user, changed through group membership (what the audit trail listens to)."""

import pytest
from django.contrib.auth.models import Group, User
from django.db.models.signals import m2m_changed

from arena.roles import assign_role, roles_of
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_new_role_replaces_the_old_and_leaves_other_groups_alone():
    user = make_user(role="eval_lead")
    user.groups.add(Group.objects.create(name="book-club"))
    assert assign_role(user, "admin") is True
    user = User.objects.get(pk=user.pk)
    assert roles_of(user) == {"admin"} and user.is_staff
    assert set(user.groups.values_list("name", flat=True)) == {"admin", "book-club"}
    assert assign_role(user, "admin") is False  # nothing to change
    assert assign_role(user, "voter") is True
    user = User.objects.get(pk=user.pk)
    assert roles_of(user) == {"voter"} and not user.is_staff


def test_a_superuser_stays_staff_whatever_the_role():
    user = make_user(role="admin", is_superuser=True, is_staff=True)
    assign_role(user, "voter")
    assert User.objects.get(pk=user.pk).is_staff


def test_every_change_is_a_group_membership_signal():
    seen = []

    def record(sender, instance, action, pk_set, **kwargs):
        if action in {"post_add", "post_remove"}:
            seen.append((action, sorted(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))))

    user = make_user(role="eval_lead")
    m2m_changed.connect(record, sender=User.groups.through)
    try:
        assign_role(user, "admin")
    finally:
        m2m_changed.disconnect(record, sender=User.groups.through)
    assert seen == [("post_remove", ["eval_lead"]), ("post_add", ["admin"])]


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="unknown role"):
        assign_role(make_user(), "owner")
