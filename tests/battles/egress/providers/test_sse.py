"""The SSE decoder shared by both providers (pure: no server needed)."""

import pytest

from battles.egress.providers.sse import ServerSentEvent, SSEDecoder, iter_events


def events(*chunks):
    return list(iter_events(chunks))


def test_one_event_per_blank_line():
    assert events(b"data: one\n\ndata: two\n\n") == [ServerSentEvent("one"), ServerSentEvent("two")]


def test_multi_line_data_is_joined_with_newlines():
    assert events(b"data: first\ndata: second\ndata:\n\n") == [ServerSentEvent("first\nsecond\n")]


def test_comments_and_unknown_fields_are_ignored():
    stream = b": keep-alive\n\n: OPENROUTER PROCESSING\nfoo: bar\ndata: x\n\n"
    assert events(stream) == [ServerSentEvent("x")]


def test_event_name_and_id_are_kept_and_the_name_resets_after_dispatch():
    stream = b"event: message_start\nid: 7\ndata: {}\n\ndata: plain\n\n"
    assert events(stream) == [
        ServerSentEvent("{}", event="message_start", id="7"),
        ServerSentEvent("plain", event="message", id="7"),
    ]


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"])
def test_crlf_cr_and_lf_line_endings_are_equivalent(newline):
    stream = b"event: e" + newline + b"data: a" + newline + b"data: b" + newline + newline
    assert events(stream) == [ServerSentEvent("a\nb", event="e")]


def test_crlf_split_between_two_chunks_is_one_line_ending():
    assert events(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n") == [ServerSentEvent("a"), ServerSentEvent("b")]


def test_events_split_at_every_byte_decode_the_same():
    stream = 'event: x\r\ndata: héllo ✓\r\n\r\n: c\n\ndata: {"a": 1}\n\n'.encode()
    whole = events(stream)
    assert events(*[stream[i : i + 1] for i in range(len(stream))]) == whole
    assert whole == [ServerSentEvent("héllo ✓", event="x"), ServerSentEvent('{"a": 1}')]


def test_only_one_leading_space_after_the_colon_is_removed():
    assert events(b"data:no-space\n\ndata:  two-spaces\n\n") == [
        ServerSentEvent("no-space"),
        ServerSentEvent(" two-spaces"),
    ]


def test_event_without_data_is_not_dispatched():
    assert events(b"event: ping\n\n") == []


def test_unfinished_last_event_is_discarded_and_reported():
    decoder = SSEDecoder()
    assert decoder.feed(b'data: complete\n\ndata: {"half": ') == [ServerSentEvent("complete")]
    assert decoder.close() is True


def test_clean_end_reports_nothing_unfinished():
    decoder = SSEDecoder()
    decoder.feed(b"data: [DONE]\n\n")
    assert decoder.close() is False


def test_byte_order_mark_at_the_start_is_skipped():
    assert events(b"\xef\xbb\xbfdata: x\n\n") == [ServerSentEvent("x")]


def test_str_chunks_are_accepted():
    assert events("data: a\n", "\n") == [ServerSentEvent("a")]


def test_retry_field_is_read_when_numeric():
    assert events(b"retry: 1500\ndata: x\n\nretry: soon\ndata: y\n\n") == [
        ServerSentEvent("x", retry=1500),
        ServerSentEvent("y", retry=1500),
    ]
