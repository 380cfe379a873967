"""Parsing prompt files: every accepted form and every error kind, with its line. No database."""

import io
import json

import pytest

from arena.files.reading import FileRejected
from arena.files.report import RowError
from battles.catalog.imports.prompts import PromptRow, parse_prompts


def parse(data, *, filename="prompts.csv", max_chars=100, max_bytes=10**6, **kwargs):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return list(parse_prompts(io.BytesIO(data), filename=filename, max_chars=max_chars, max_bytes=max_bytes, **kwargs))


def rows(items):
    return [item for item in items if isinstance(item, PromptRow)]


def errors(items):
    return [(item.line, item.reason) for item in items if isinstance(item, RowError)]


def test_csv_with_bom_crlf_and_multiline_quoted_field():
    items = parse(
        b'\xef\xbb\xbftext,category,tags\r\n"Line one\r\nline two, with comma",writing,"a; b"\r\nSecond,code,\r\n'
    )
    assert errors(items) == []
    assert rows(items) == [
        PromptRow(line=2, text="Line one\nline two, with comma", category="writing", tags=("a", "b")),
        PromptRow(line=4, text="Second", category="code", tags=()),
    ]


def test_header_names_are_case_insensitive_and_id_is_the_external_id():
    [row] = rows(parse("Text,ID\nhello,p-1\n"))
    assert (row.text, row.external_id) == ("hello", "p-1")


def test_tags_as_json_list_or_separated_string():
    items = parse('text,tags\none,"[""x"", ""y"", ""x""]"\ntwo,"a, b;c"\n')
    assert [row.tags for row in rows(items)] == [("x", "y"), ("a", "b", "c")]


def test_semicolon_and_tab_delimited_files_are_recognised():
    assert rows(parse("text;category\nbonjour;a\n"))[0].category == "a"
    assert rows(parse("text\tcategory\nhallo\tb\n", filename="p.tsv"))[0].category == "b"


def test_jsonl_with_bom_and_crlf():
    data = (
        "\ufeff"
        + json.dumps({"text": "a", "category": "c", "tags": ["t"], "id": 7})
        + "\r\n\r\n"
        + json.dumps({"text": "b", "external_id": "x"})
        + "\r\n"
    )
    items = parse(data, filename="p.jsonl")
    assert errors(items) == []
    assert [(row.line, row.external_id) for row in rows(items)] == [(1, "7"), (3, "x")]


def test_jsonl_is_recognised_by_content_whatever_the_extension():
    assert rows(parse('{"text": "a"}\n', filename="prompts.txt"))[0].text == "a"


def test_each_csv_error_kind_names_its_line():
    data = (
        "text,category\n"  # 1
        "fine,a\n"  # 2
        ",a\n"  # 3 empty text
        f"{'x' * 101},a\n"  # 4 too long
        "too,many,fields\n"  # 5
        '"broken"quote,a\n'  # 6
        f"ok,{'c' * 51}\n"  # 7 category too long
    )
    found = dict(errors(parse(data)))
    assert found[3] == "empty text"
    assert found[4] == "text too long (101 characters; the limit is 100)"
    assert found[5].startswith("expected 2 fields as in the header, found 3")
    assert found[6].startswith("malformed CSV")
    assert found[7] == "category longer than 50 characters"
    assert sorted(found) == [3, 4, 5, 6, 7]


def test_whitespace_only_text_is_empty():
    assert errors(parse('text,category\n"   \n  ",a\n')) == [(2, "empty text")]


def test_unknown_csv_column_is_an_error_on_line_1_and_rows_still_parse():
    items = parse("text,notes\nhello,private\n")
    assert errors(items) == [
        (1, "unknown column 'notes' (known: text, category, tags, id, external_id); its values are not imported")
    ]
    assert rows(items)[0].text == "hello"


def test_missing_text_column_refuses_the_file():
    with pytest.raises(FileRejected) as caught:
        parse("category,tags\nwriting,a\n")
    assert caught.value.line == 1
    assert "missing column 'text'" in caught.value.reason


def test_jsonl_errors_name_their_lines():
    data = (
        "\n".join(
            [
                '{"text": "ok"}',  # 1
                "[1, 2]",  # 2 not an object
                '{"text": "unclosed',  # 3 invalid JSON
                '{"category": "x"}',  # 4 missing text
                '{"text": "a", "colour": 1}',  # 5 unknown key
                '{"text": 42}',  # 6 not a string
                '"just a string"',  # 7
                "[" * 50_000,  # 8 nested too deeply
                '{"text": "b", "tags": [1]}',  # 9
            ]
        )
        + "\n"
    )
    found = dict(errors(parse(data, filename="p.jsonl")))
    assert found[2] == "expected a JSON object, found a list"
    assert found[3].startswith("invalid JSON (")
    assert found[4] == "missing key 'text' (found: 'category')"
    assert found[5].startswith("unknown key(s) 'colour'")
    assert found[6] == "text must be a string, found a number"
    assert found[7] == "expected a JSON object, found a string"
    assert found[8].startswith("invalid JSON")
    assert found[9] == "tags must be strings, found a number"
    assert [row.line for row in rows(parse(data, filename="p.jsonl"))] == [1]


def test_latin1_row_is_bad_and_names_the_byte_offset():
    items = parse("text\nnaïve\ncafé\n".encode("latin-1"))
    assert [line for line, _ in errors(items)] == [2, 3]
    assert "not valid UTF-8 (byte 0xEF at byte offset 7" in errors(items)[0][1]


def test_latin1_header_refuses_the_file():
    with pytest.raises(FileRejected, match="header"):
        parse("text,catégorie\nx,y\n".encode("latin-1"))


def test_binary_file_is_refused():
    with pytest.raises(FileRejected, match="binary"):
        parse(b"text\n\x00\x01\x02\x03")


@pytest.mark.parametrize("data", ["Just some prose, nothing else.\nMore prose.\n", "<html><body>hi</body></html>\n"])
def test_file_that_is_neither_csv_nor_jsonl_is_refused(data):
    with pytest.raises(FileRejected, match="neither CSV .* nor JSON Lines"):
        parse(data)


def test_json_array_is_refused_with_a_hint():
    with pytest.raises(FileRejected, match="JSON array, not JSON Lines"):
        parse('[{"text": "a"}]\n', filename="p.json")


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_is_refused(data):
    with pytest.raises(FileRejected, match="empty"):
        parse(data)


def test_header_without_rows_is_refused():
    with pytest.raises(FileRejected, match="no prompts"):
        parse("text,category\n\n")


def test_category_default_fills_empty_categories_only():
    items = parse("text,category\na,\nb,code\n", category_default="general")
    assert [row.category for row in rows(items)] == ["general", "code"]


def test_id_and_external_id_must_agree():
    assert errors(parse('{"text": "a", "id": "1", "external_id": "2"}\n')) == [
        (1, "id and external_id differ; give one of them")
    ]
