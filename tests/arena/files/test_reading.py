"""The byte-level reader: line numbers, encodings, size limit, binary files. No database."""

import io

import pytest

from arena.files.reading import FileRejected, iter_csv_records, iter_lines


class CountingStream(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def lines_of(data: bytes, **kwargs):
    return list(iter_lines(io.BytesIO(data), max_bytes=kwargs.pop("max_bytes", 10**6), **kwargs))


def test_lf_crlf_and_lone_cr_all_end_lines():
    lines = lines_of(b"a\nb\r\nc\rd")
    assert [(line.number, line.text) for line in lines] == [(1, "a\n"), (2, "b\r\n"), (3, "c\r"), (4, "d")]


def test_crlf_split_across_chunks_is_one_line_ending():
    lines = lines_of(b"ab\r\ncd\r\n", chunk_size=3)
    assert [line.text for line in lines] == ["ab\r\n", "cd\r\n"]


def test_bom_is_removed_and_offsets_count_it():
    lines = lines_of(b"\xef\xbb\xbftext\nx\n")
    assert lines[0].text == "text\n"
    assert lines[1].offset == 8


def test_non_utf8_line_names_the_byte_offset_and_keeps_reading():
    lines = lines_of(b"text\ncaf\xe9\nok\n")
    assert lines[1].problem.startswith("not valid UTF-8 (byte 0xE9 at byte offset 8")
    assert lines[2].problem is None and lines[2].text == "ok\n"


def test_file_over_the_limit_is_refused_without_reading_it_all():
    stream = CountingStream(b"text\n" + b"x" * 10_000_000)
    with pytest.raises(FileRejected, match="larger than the limit of 1 KiB"):
        list(iter_lines(stream, max_bytes=1024, chunk_size=256))
    assert stream.bytes_read <= 1025


def test_file_exactly_at_the_limit_is_accepted():
    assert len(lines_of(b"a\n" * 512, max_bytes=1024)) == 512


def test_nul_byte_refuses_the_file_naming_line_and_offset():
    with pytest.raises(FileRejected) as caught:
        lines_of(b"text\nfine\nbro\x00ken\n")
    assert caught.value.line == 3
    assert "binary" in caught.value.reason and "byte offset 13" in caught.value.reason


@pytest.mark.parametrize(
    ("head", "word"),
    [
        (b"\xff\xfet\x00e\x00", "UTF-16"),
        (b"PK\x03\x04rest", "ZIP"),
        (b"%PDF-1.7\n", "PDF"),
        (b"\x1f\x8b\x08\x00", "gzip"),
    ],
)
def test_known_binary_formats_are_named(head, word):
    with pytest.raises(FileRejected, match=word):
        lines_of(head + b"\n" * 10)


def test_one_huge_line_is_read_in_linear_time():
    lines = lines_of(b"x" * 5_000_000 + b"\nend", max_bytes=10**7, chunk_size=4096)
    assert [len(line.text) for line in lines] == [5_000_001, 3]


def test_csv_record_starts_are_physical_lines_across_quoted_newlines():
    data = b'text,category\r\n"one\r\ntwo\r\nthree",a\r\n\r\nsecond,b\r\n'
    records = list(iter_csv_records(iter_lines(io.BytesIO(data), max_bytes=10**6)))
    assert [(record.line, record.fields) for record in records] == [
        (1, ["text", "category"]),
        (2, ["one\r\ntwo\r\nthree", "a"]),
        (6, ["second", "b"]),
    ]


def test_malformed_csv_record_is_reported_and_reading_goes_on():
    data = b'text\n"bad"x\ngood\n"never closed\nmore\n'
    records = list(iter_csv_records(iter_lines(io.BytesIO(data), max_bytes=10**6)))
    assert [(record.line, record.problem is not None) for record in records] == [
        (1, False),
        (2, True),
        (3, False),
        (4, True),
    ]
    assert "never closed" in records[-1].problem


def test_bad_utf8_inside_a_multiline_record_names_the_physical_line():
    data = b'text\n"first\nsecond \xff"\n'
    record = list(iter_csv_records(iter_lines(io.BytesIO(data), max_bytes=10**6)))[1]
    assert record.line == 2
    assert record.problem.endswith("on line 3")


def test_votes_are_parsed_as_a_stream_not_read_whole():
    from battles.catalog.imports.votes import VoteRow, parse_votes

    stream = CountingStream(b"model_a,model_b,winner\n" + b"alpha,beta,model_a\n" * 500_000)
    first = next(parse_votes(stream, max_bytes=10**9))
    assert first == VoteRow(line=2, model_a="alpha", model_b="beta", outcome="a")
    assert stream.bytes_read <= 2 * 64 * 1024
