"""Role and access changes are recorded at the group membership, whoever makes them."""

import sys

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.http import HttpResponse
from django.test import RequestFactory

from arena.audit import context
from arena.audit.context import AuditActorMiddleware, acting_as
from arena.audit.models import AuditEvent
from arena.roles import ADMIN, EVAL_LEAD, VOTER
from tests.arena.audit.helpers import entries, only
from tests.factories import make_user

pytestmark = pytest.mark.django_db

A = AuditEvent.Action


def group(name):
    return Group.objects.get_or_create(name=name)[0]


def user_form(user, *, groups, is_staff=False):
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "groups": [g.pk for g in groups],
        "user_permissions": [],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    if is_staff:
        data["is_staff"] = "on"
    return data


def test_an_admin_changing_roles_in_the_user_admin_is_recorded_as_the_actor(client, admin_user):
    target = make_user("promoted", role=VOTER)
    client.force_login(admin_user)
    response = client.post(
        f"/admin/auth/user/{target.pk}/change/", user_form(target, groups=[group(EVAL_LEAD)], is_staff=True)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    changes = entries(A.ROLES_CHANGED, object_id=str(target.pk), actor=admin_user)
    assert changes[0].before == {"groups": [VOTER]}
    assert changes[-1].after == {"groups": [EVAL_LEAD]}
    access = only(A.ACCESS_CHANGED, object_id=str(target.pk))
    assert (access.before, access.after, access.actor) == ({"is_staff": False}, {"is_staff": True}, admin_user)


def test_a_role_change_during_an_anonymous_request_is_recorded_as_a_sign_in():
    """What an identity provider's callback does: create the user and sync their groups, before login."""

    def callback(request):
        user = User.objects.create_user("new-employee")
        user.groups.set([group(VOTER), group(ADMIN)])
        user.groups.remove(group(ADMIN))
        return HttpResponse("signed in")

    request = RequestFactory().get("/oidc/callback/")
    request.user = AnonymousUser()
    AuditActorMiddleware(callback)(request)
    changes = entries(A.ROLES_CHANGED, object_repr="new-employee")
    assert [(e.before, e.after) for e in changes] == [
        ({"groups": []}, {"groups": [ADMIN, VOTER]}),
        ({"groups": [ADMIN, VOTER]}, {"groups": [VOTER]}),
    ]
    assert {(e.actor, e.actor_label) for e in changes} == {(None, "sign-in")}


def test_a_named_actor_wins_and_changes_made_from_a_group_are_recorded_per_user(admin_user):
    first, second = make_user("m1", role=None), make_user("m2", role=None)
    with acting_as("sign-in", user=None):
        group(EVAL_LEAD).user_set.add(first, second)
    assert sorted(e.object_repr for e in entries(A.ROLES_CHANGED, actor_label="sign-in")) == ["m1", "m2"]
    with acting_as("data fix", user=admin_user):
        group(EVAL_LEAD).user_set.clear()
    cleared = entries(A.ROLES_CHANGED, actor_label="data fix")
    assert sorted(e.object_repr for e in cleared) == ["m1", "m2"] and all(e.actor == admin_user for e in cleared)
    assert all(e.after == {"groups": []} for e in cleared)


def test_signing_in_stamps_last_login_without_recording_or_querying_for_access(client, django_assert_num_queries):
    user = make_user("plain", role=VOTER)
    before = AuditEvent.objects.count()
    with django_assert_num_queries(1):  # the UPDATE of last_login, nothing read for the audit
        user.save(update_fields=["last_login"])
    client.force_login(user)
    assert AuditEvent.objects.count() == before


def test_commands_are_named_by_their_manage_py_name(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["manage.py", "createsuperuser", "--noinput"])
    assert context.current_actor().label == "manage.py createsuperuser"
    User.objects.create_superuser("breakglass", password="long-enough-password")
    entry = only(A.ACCESS_CHANGED, object_repr="breakglass")
    assert entry.actor_label == "manage.py createsuperuser" and entry.after["is_superuser"] is True


def test_permissions_given_to_a_group_in_the_admin_or_to_a_user_are_recorded(client, admin_user):
    editors = group("editors")
    change_llm = Permission.objects.get(codename="change_llm")
    view_vote = Permission.objects.get(codename="view_vote")
    client.force_login(admin_user)
    data = {"name": "editors", "permissions": [change_llm.pk, view_vote.pk]}
    assert client.post(f"/admin/auth/group/{editors.pk}/change/", data).status_code == 302
    entry = only(A.GROUP_PERMISSIONS, object_id=str(editors.pk))
    assert entry.actor == admin_user
    assert (entry.before, entry.after) == (
        {"permissions": []},
        {"permissions": ["battles.change_llm", "battles.view_vote"]},
    )
    user = make_user("direct", role=None)
    with acting_as("data fix"):
        user.user_permissions.add(view_vote)
        user.user_permissions.remove(view_vote)
    changes = entries(A.USER_PERMISSIONS, object_repr="direct")
    assert [(e.before, e.after) for e in changes] == [
        ({"permissions": []}, {"permissions": ["battles.view_vote"]}),
        ({"permissions": ["battles.view_vote"]}, {"permissions": []}),
    ]
