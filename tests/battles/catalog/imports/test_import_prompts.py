"""import_prompts: storing, duplicates, all-or-nothing, --valid-only and exit status."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from battles.models import Prompt, PromptPool
from tests.battles.catalog.imports.helpers import jsonl, run, write
from tests.factories import make_pool, make_prompt

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[4]


def test_csv_is_imported_into_a_new_pool(tmp_path):
    path = write(
        tmp_path,
        "p.csv",
        b'\xef\xbb\xbftext,category,tags,id\r\n"multi\r\nline",writing,"a;b",p1\r\nsecond,code,,p2\r\n',
    )
    code, out = run("import_prompts", "fresh", path)
    assert code == 0, out
    pool = PromptPool.objects.get(name="fresh")
    stored = {p.external_id: p for p in pool.prompts.all()}
    assert stored["p1"].text == "multi\nline"
    assert stored["p1"].tags == ["a", "b"]
    assert stored["p2"].category == "code"
    assert "2 imported" in out


def test_jsonl_is_imported_with_tags_as_a_list(tmp_path):
    path = write(tmp_path, "p.jsonl", jsonl({"text": "one", "tags": ["x", "y"]}, {"text": "two", "tags": "z"}))
    assert run("import_prompts", "pool", path)[0] == 0
    assert sorted(Prompt.objects.values_list("text", "tags")) == [("one", ["x", "y"]), ("two", ["z"])]


def test_a_bad_row_imports_nothing_and_exits_non_zero(tmp_path):
    path = write(tmp_path, "p.csv", "text,category\ngood,a\n,a\nalso good,a\n")
    code, out = run("import_prompts", "pool", path)
    assert code == 1
    assert "line 3: empty text" in out
    assert "--valid-only" in out
    assert not Prompt.objects.exists()
    assert not PromptPool.objects.filter(name="pool").exists()


def test_valid_only_imports_the_good_rows_and_reports_the_bad(tmp_path):
    path = write(tmp_path, "p.csv", "text,category\ngood,a\n,a\nalso good,a\n")
    code, out = run("import_prompts", "pool", path, "--valid-only")
    assert code == 0
    assert "line 3: empty text" in out
    assert sorted(Prompt.objects.values_list("text", flat=True)) == ["also good", "good"]


def test_valid_only_with_no_valid_row_exits_non_zero(tmp_path):
    path = write(tmp_path, "p.jsonl", jsonl({"text": ""}, "not json"))
    code, out = run("import_prompts", "pool", path, "--valid-only")
    assert code == 1
    assert "line 1: empty text" in out and "line 2: invalid JSON" in out


def test_duplicates_within_the_file_are_reported_and_stored_once(tmp_path):
    path = write(tmp_path, "p.csv", "text\nWhat is 2+2?\nsomething else\n  what is   2+2?  \n")
    code, out = run("import_prompts", "pool", path)
    assert code == 0
    assert Prompt.objects.count() == 2
    assert "line 4: duplicate, not stored (same text as line 2)" in out


def test_prompts_already_in_the_pool_are_duplicates(tmp_path):
    pool = make_pool("existing")
    make_prompt(pool, "Explain recursion.")
    path = write(tmp_path, "p.csv", "text\nexplain RECURSION.\nnew one\n")
    code, out = run("import_prompts", "existing", path)
    assert code == 0
    assert "line 2: duplicate, not stored (already in pool 'existing')" in out
    assert pool.prompts.count() == 2


def test_importing_the_same_file_twice_stores_nothing_new(tmp_path):
    path = write(tmp_path, "p.csv", "text\na\nb\n")
    run("import_prompts", "pool", path)
    code, out = run("import_prompts", "pool", path)
    assert code == 0
    assert Prompt.objects.count() == 2
    assert "0 imported, 2 duplicates" in out


def test_same_text_in_another_pool_is_not_a_duplicate(tmp_path):
    make_prompt(make_pool("other"), "shared")
    run("import_prompts", "pool", write(tmp_path, "p.csv", "text\nshared\n"))
    assert PromptPool.objects.get(name="pool").prompts.count() == 1


def test_too_long_text_names_the_line(tmp_path, settings):
    settings.ARENA_MAX_PROMPT_CHARS = 10
    code, out = run("import_prompts", "pool", write(tmp_path, "p.csv", "text\nshort\nthis is far too long\n"))
    assert code == 1
    assert "line 3: text too long (20 characters; the limit is 10)" in out


def test_huge_file_is_refused_by_the_size_setting(tmp_path, settings):
    settings.ARENA_MAX_UPLOAD_BYTES = 1000
    path = write(tmp_path, "p.csv", "text\n" + "a prompt\n" * 5000)
    code, out = run("import_prompts", "pool", path)
    assert code == 1
    assert "larger than the limit of 1000 bytes" in out
    assert not Prompt.objects.exists()


def test_max_bytes_option_overrides_the_setting(tmp_path):
    code, out = run("import_prompts", "pool", write(tmp_path, "p.csv", "text\n" + "x\n" * 100), "--max-bytes", "50")
    assert code == 1 and "larger than the limit of 50 bytes" in out


def test_binary_file_is_refused_even_with_valid_only(tmp_path):
    path = write(tmp_path, "p.csv", b"text\nok\n\x00\x01\x02")
    code, out = run("import_prompts", "pool", path, "--valid-only")
    assert code == 1
    assert "line 3: this is a binary file" in out
    assert not Prompt.objects.exists()


def test_latin1_file_reports_each_bad_line(tmp_path):
    path = write(tmp_path, "p.csv", "text\nplain\ncafé au lait\nnaïve\n".encode("cp1252"))
    code, out = run("import_prompts", "pool", path)
    assert code == 1
    assert "line 3: not valid UTF-8 (byte 0xE9 at byte offset 14" in out
    assert "line 4: not valid UTF-8" in out


def test_unknown_column_blocks_the_import_but_valid_only_ignores_it(tmp_path):
    path = write(tmp_path, "p.csv", "text,notes\nhello,secret\n")
    code, out = run("import_prompts", "pool", path)
    assert code == 1
    assert "line 1: unknown column 'notes'" in out
    assert run("import_prompts", "pool", path, "--valid-only")[0] == 0
    assert Prompt.objects.get().text == "hello"


def test_category_default_option(tmp_path):
    run("import_prompts", "pool", write(tmp_path, "p.csv", "text,category\na,\nb,code\n"), "--category-default", "misc")
    assert dict(Prompt.objects.values_list("text", "category")) == {"a": "misc", "b": "code"}


def test_dry_run_stores_nothing(tmp_path):
    code, out = run("import_prompts", "pool", write(tmp_path, "p.csv", "text\na\n"), "--dry-run")
    assert code == 0 and "1 would be imported" in out
    assert not PromptPool.objects.exists()


def test_missing_file_is_a_clear_error(tmp_path):
    code, out = run("import_prompts", "pool", str(tmp_path / "nope.csv"))
    assert code == 1 and "no such file" in out


def test_command_line_exit_status_and_message_for_a_refused_file(tmp_path):
    path = write(tmp_path, "p.csv", b"\x89PNG\r\n\x1a\n\x00\x00")
    result = subprocess.run(
        [sys.executable, "manage.py", "import_prompts", "pool", path],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "line 1: this file is a PNG image" in result.stdout
    assert "Traceback" not in result.stderr
    assert "nothing was imported" in result.stderr
