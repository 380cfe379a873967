"""The admin upload: upload, preview with the full report, confirm; hostile files; access."""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from battles.models import Prompt, PromptPool
from tests.factories import make_pool, make_prompt, make_user

pytestmark = pytest.mark.django_db

UPLOAD = "/admin/battles/promptpool/upload/"


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path):
    settings.ARENA_UPLOAD_DIR = tmp_path / "uploads"
    return settings.ARENA_UPLOAD_DIR


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def upload(client, content, *, name="prompts.csv", pool="imported", **extra):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(UPLOAD, {"pool": pool, "category_default": "", **extra, "file": SimpleUploadedFile(name, data)})


def import_all_disabled(html: str) -> bool:
    return re.search(r'<button[^>]*value="all"[^>]*\bdisabled\b', html) is not None


def leftover_files(upload_dir):
    return sorted(p.name for p in upload_dir.iterdir()) if upload_dir.exists() else []


def test_admin_previews_then_confirms_an_upload(admin_client, upload_dir):
    rows = "".join(f'"Prompt number {i},\nwith a second line",cat{i % 2},"a;b"\n' for i in range(12))
    response = upload(admin_client, "\ufefftext,category,tags\n" + rows)
    assert response.status_code == 302
    preview_url = response["Location"]
    assert preview_url.startswith(UPLOAD)

    page = admin_client.get(preview_url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "12 rows read, 12 would be imported, 0 duplicates, 0 errors" in html
    assert html.count("Prompt number") == 10  # the first 10 rows only
    assert "Import all 12 prompts" in html and not import_all_disabled(html)
    assert not Prompt.objects.exists()

    done = admin_client.post(preview_url, {"action": "all"})
    assert done.status_code == 302 and done["Location"] == reverse("admin:battles_promptpool_changelist")
    assert PromptPool.objects.get(name="imported").prompts.count() == 12
    assert leftover_files(upload_dir) == []
    assert "Imported 12 prompt(s)" in admin_client.get(done["Location"]).content.decode()


def test_preview_lists_every_error_and_offers_only_the_valid_rows(admin_client):
    make_prompt(make_pool("imported"), "already here")
    content = 'text,category\nfine,a\n,a\nalready here,a\n"never closed,a\n'
    preview_url = upload(admin_client, content)["Location"]
    html = admin_client.get(preview_url).content.decode()
    assert "line 3: empty text" in html
    assert "line 5: malformed CSV: a quoted field is never closed" in html
    assert "line 4: already in pool" in html
    assert import_all_disabled(html)
    assert "Import the 1 valid row" in html

    refused = admin_client.post(preview_url, {"action": "all"})
    assert refused.status_code == 200
    assert "Nothing was imported" in refused.content.decode()
    assert Prompt.objects.count() == 1

    done = admin_client.post(preview_url, {"action": "valid"})
    assert done.status_code == 302
    assert sorted(Prompt.objects.values_list("text", flat=True)) == ["already here", "fine"]


def test_cancel_deletes_the_upload(admin_client, upload_dir):
    preview_url = upload(admin_client, "text\na\n")["Location"]
    assert admin_client.post(preview_url, {"action": "cancel"}).status_code == 302
    assert leftover_files(upload_dir) == []
    assert admin_client.get(preview_url)["Location"] == UPLOAD
    assert not Prompt.objects.exists()


def test_a_confirmed_upload_cannot_be_imported_twice(admin_client):
    preview_url = upload(admin_client, "text\na\n")["Location"]
    admin_client.post(preview_url, {"action": "all"})
    again = admin_client.post(preview_url, {"action": "all"})
    assert again.status_code == 302 and again["Location"] == UPLOAD
    assert Prompt.objects.count() == 1


def test_file_over_the_limit_is_refused_while_receiving(admin_client, settings, upload_dir):
    settings.ARENA_MAX_UPLOAD_BYTES = 1000
    response = upload(admin_client, "text\n" + "a prompt\n" * 1000)
    assert response.status_code == 400
    assert "larger than the limit of 1000 bytes" in response.content.decode()
    assert leftover_files(upload_dir) == []


@pytest.mark.parametrize(
    ("name", "content", "message", "outcome"),
    [
        ("bin.csv", b"text\nok\n\x00\x00\x01\x02", "binary file", "refused"),
        ("img.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image", "refused"),
        ("book.csv", b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive", "refused"),
        ("latin.csv", "text\ncafé\n".encode("latin-1"), "line 2: not valid UTF-8", "bad rows"),
        ("utf16.csv", "text\nhello\n".encode("utf-16"), "UTF-16", "refused"),
        ("empty.csv", b"", "the file is empty", "refused"),
        ("prose.txt", b"Dear admin, here are my prompts.\n", "neither CSV", "refused"),
        ("array.json", b'[{"text": "a"}]', "JSON array", "refused"),
        ("deep.jsonl", b"[" * 100_000, "JSON array", "refused"),
        ("deep2.jsonl", b'{"text": ' + b"[" * 100_000 + b"\n", "nested too deeply", "bad rows"),
        ("script.csv", b'text\n"<script>alert(1)</script>"\n', "1 would be imported", "good"),
        ("../../../etc/passwd", b"text\nhi\n", "1 would be imported", "good"),
        ("quotes.csv", b'text\n"unterminated\n' + b"x\n" * 10, "never closed", "bad rows"),
    ],
)
def test_hostile_files_get_a_report_never_a_500(admin_client, upload_dir, name, content, message, outcome):
    response = upload(admin_client, content, name=name)
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert message in html
    assert "<script>alert(1)</script>" not in html
    # A file refused whole offers no import; one with bad rows offers only the valid rows.
    assert ("cannot be imported" in html) == (outcome == "refused")
    assert ('value="all"' in html) == (outcome != "refused")
    assert import_all_disabled(html) == (outcome == "bad rows")
    # A file refused whole is deleted at once; one that can still be imported waits for the admin.
    assert (leftover_files(upload_dir) == []) == (outcome == "refused")


def test_missing_file_or_pool_is_a_form_error(admin_client, upload_dir):
    no_file = admin_client.post(UPLOAD, {"pool": "p"})
    assert no_file.status_code == 400 and "Choose a CSV or JSONL file" in no_file.content.decode()
    no_pool = upload(admin_client, "text\na\n", pool="")
    assert no_pool.status_code == 400 and "This field is required" in no_pool.content.decode()
    assert leftover_files(upload_dir) == []


def test_malformed_multipart_body_is_a_400(admin_client):
    response = admin_client.generic(
        "POST",
        UPLOAD,
        b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--xx--",
        content_type="multipart/form-data; boundary=xx",
    )
    assert response.status_code == 400


def test_unknown_or_malformed_tokens_lead_back_to_the_upload_page(admin_client):
    for token in ("nope", "A" * 32, "..%2F..%2Fsecret"):
        response = admin_client.get(f"{UPLOAD}{token}/")
        assert response.status_code in (302, 404)


def test_another_admins_upload_cannot_be_confirmed(admin_client, client):
    preview_url = upload(admin_client, "text\na\n")["Location"]
    other = Client()
    other.force_login(make_user("admin2", role="admin", is_staff=True))
    response = other.post(preview_url, {"action": "all"})
    assert response.status_code == 302 and response["Location"] == UPLOAD
    assert not Prompt.objects.exists()


def test_upload_is_refused_to_voters_and_to_staff_without_the_admin_role(client):
    assert client.get(UPLOAD).status_code == 302  # anonymous: to the login page
    client.force_login(make_user("v", role="voter"))
    assert client.get(UPLOAD).status_code == 302
    assert upload(client, "text\na\n").status_code == 302
    client.force_login(make_user("lead", role="eval_lead", is_staff=True))
    assert client.get(UPLOAD).status_code == 403
    assert upload(client, "text\na\n").status_code == 403
    assert not Prompt.objects.exists()


def test_changelist_links_to_the_upload_for_admins_only(admin_client, client):
    assert UPLOAD in admin_client.get("/admin/battles/promptpool/").content.decode()
    lead = make_user("lead", role="eval_lead", is_staff=True, is_superuser=False)
    lead.user_permissions.add(Permission.objects.get(codename="view_promptpool"))
    client.force_login(lead)
    page = client.get("/admin/battles/promptpool/")
    assert page.status_code == 200
    assert UPLOAD not in page.content.decode()


def test_csrf_is_checked_after_the_upload_handler_is_in_place(admin_user, settings):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    browser.get(UPLOAD)
    token = browser.cookies["csrftoken"].value
    without = browser.post(UPLOAD, {"pool": "p", "file": SimpleUploadedFile("a.csv", b"text\na\n")})
    assert without.status_code == 403
    ok = browser.post(
        UPLOAD, {"csrfmiddlewaretoken": token, "pool": "p", "file": SimpleUploadedFile("a.csv", b"text\na\n")}
    )
    assert ok.status_code == 302
    settings.ARENA_MAX_UPLOAD_BYTES = 100
    too_big = browser.post(
        UPLOAD,
        {"csrfmiddlewaretoken": token, "pool": "p", "file": SimpleUploadedFile("a.csv", b"text\n" + b"x\n" * 500)},
    )
    assert too_big.status_code == 400
    assert "larger than the limit" in too_big.content.decode()


def test_upload_metadata_records_the_uploader(admin_client, admin_user, upload_dir):
    preview_url = upload(admin_client, "text\na\n", pool="  spaced  ")["Location"]
    token = preview_url.rstrip("/").rsplit("/", 1)[-1]
    meta = json.loads((upload_dir / f"{token}.json").read_text())
    assert (meta["user"], meta["pool"]) == (admin_user.pk, "spaced")


def test_abandoned_uploads_are_swept_but_foreign_files_are_kept(admin_client, upload_dir):
    import os
    import time

    stale = upload(admin_client, "text\na\n")["Location"].rstrip("/").rsplit("/", 1)[-1]
    foreign = upload_dir / "keep-me.txt"
    foreign.write_text("not ours")
    old = time.time() - 2 * 24 * 3600
    for path in upload_dir.iterdir():
        os.utime(path, (old, old))
    upload(admin_client, "text\nb\n")
    names = leftover_files(upload_dir)
    assert "keep-me.txt" in names
    assert not any(name.startswith(stale) for name in names)
    assert len([name for name in names if name.endswith(".upload")]) == 1
