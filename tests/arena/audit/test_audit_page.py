"""The audit page: admins only, filters, a formula-safe CSV export; entries cannot be changed or deleted."""

import csv
import datetime as dt
import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from arena.audit.models import AppendOnlyError, AuditEvent
from tests.arena.audit.helpers import only
from tests.battles.admin.test_llm_admin import form_data
from tests.factories import make_llm, make_user

pytestmark = pytest.mark.django_db

PAGE = "/admin/audit/auditevent/"
EXPORT = "/admin/audit/auditevent/export.csv"
A = AuditEvent.Action


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def entry(action, *, actor="alice", at=None, object_repr="thing", object_type="llm", object_id="1"):
    event = AuditEvent(
        action=action,
        actor_label=actor,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        after={"status": "retired"},
    )
    if at is not None:
        event.at = at
    event.save()
    return event


def rows_of(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


# --- append-only -------------------------------------------------------------------------------


def test_entries_refuse_to_be_changed_or_deleted_through_the_orm():
    event = entry(A.LLM_RETIRED)
    event.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(note="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).note == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is Postgres-only")
@pytest.mark.parametrize(
    "sql", ["UPDATE audit_auditevent SET note = 'rewritten'", "DELETE FROM audit_auditevent"], ids=["update", "delete"]
)
def test_the_database_refuses_update_and_delete_whoever_sends_them(sql):
    event = entry(A.LLM_RETIRED)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).note == ""


def test_a_user_who_acted_cannot_be_deleted(staff, admin_user):
    staff.post("/admin/battles/llm/add/", form_data(name="kept-link", model_id="kept"))
    response = staff.post(f"/admin/auth/user/{admin_user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200 and "Cannot delete user" in response.content.decode()
    assert only(A.LLM_CREATED).actor == admin_user


def test_the_admin_offers_no_add_edit_or_delete(staff):
    event = entry(A.LLM_RETIRED)
    count = AuditEvent.objects.count()
    page = staff.get(PAGE).content.decode()
    assert "Add audit entry" not in page and "delete_selected" not in page
    for url in (f"{PAGE}add/", f"{PAGE}{event.pk}/change/", f"{PAGE}{event.pk}/delete/"):
        response = staff.post(url, {"note": "rewritten", "post": "yes"})
        assert response.status_code in (302, 403, 404)
    assert AuditEvent.objects.get(pk=event.pk).note == "" and AuditEvent.objects.count() == count


@pytest.mark.parametrize("role,staff_flag", [("eval_lead", True), ("voter", False), ("admin", False)])
def test_only_active_staff_admins_read_the_trail(client, role, staff_flag):
    entry(A.LLM_RETIRED, object_repr="secret-plan")
    client.force_login(make_user(role=role, is_staff=staff_flag))
    for url in (PAGE, EXPORT):
        response = client.get(url)
        assert response.status_code in (302, 403)
        assert b"secret-plan" not in b"".join(getattr(response, "streaming_content", [response.content]))


# --- filters -----------------------------------------------------------------------------------


def test_filters_by_actor_action_object_and_date_range(staff):
    now = timezone.now()
    entry(A.LLM_RETIRED, actor="alice", object_repr="alpha", at=now - dt.timedelta(days=10))
    entry(A.LLM_EDITED, actor="bob", object_repr="beta", at=now - dt.timedelta(days=3))
    entry(A.LLM_RETIRED, actor="bob", object_repr="gamma", at=now)
    entry(A.POOL_UPLOADED, actor="sign-in", object_repr="pool-x", object_type="pool", at=now)

    def shown(**query):
        page = staff.get(PAGE, query)
        assert page.status_code == 200
        return sorted(e.object_repr for e in page.context["page"])

    assert {"alpha", "beta", "gamma", "pool-x"} <= set(shown())  # with the admin's own creation
    assert shown(actor="BOB") == ["beta", "gamma"]
    assert shown(action=A.LLM_RETIRED) == ["alpha", "gamma"]
    assert shown(object="gam") == ["gamma"]
    assert shown(object_type="pool") == ["pool-x"]
    today = timezone.localdate()
    assert shown(since=str(today - dt.timedelta(days=5)), until=str(today - dt.timedelta(days=1))) == ["beta"]
    assert shown(until=str(today - dt.timedelta(days=5))) == ["alpha"]
    assert shown(actor="bob", action=A.LLM_RETIRED, since=str(today)) == ["gamma"]


def test_bad_filters_get_a_clear_message_not_an_error(staff):
    entry(A.LLM_RETIRED)
    page = staff.get(PAGE, {"since": "2026-13-45", "action": "nonsense"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Enter a valid date." in html and "Select a valid choice." in html
    backwards = staff.get(PAGE, {"since": "2026-05-02", "until": "2026-05-01"})
    assert "The end of the range is before its start." in backwards.content.decode()
    assert staff.get(EXPORT, {"since": "not a date"}).status_code == 302  # back to the page with the message


# --- export ------------------------------------------------------------------------------------


def test_the_export_has_the_filtered_entries_with_formulas_neutralised(staff):
    staff.post("/admin/battles/llm/add/", form_data(name='=HYPERLINK("http://x")', model_id="@SUM(A1)"))
    entry(A.LLM_RETIRED, object_repr="other")
    response = staff.get(EXPORT, {"action": A.LLM_CREATED})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = rows_of(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["object"] == '\'=HYPERLINK("http://x")'
    assert row["actor"] == "admin1" and row["action"] == "llm.created" and row["action_label"] == "LLM created"
    assert '"model_id": "@SUM(A1)"' in row["after"]  # inside JSON text, which starts with {
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_the_admin_index_links_to_the_trail(staff):
    assert f'href="{PAGE}"' in staff.get("/admin/").content.decode()


def test_the_page_shows_before_and_after(staff):
    llm = make_llm("shown", model_id="shown-1")
    staff.post(f"/admin/battles/llm/{llm.pk}/change/", form_data(name="shown", model_id="shown-2"))
    html = staff.get(PAGE, {"action": A.LLM_EDITED}).content.decode()
    assert "shown-1" in html and "shown-2" in html and "LLM edited" in html
