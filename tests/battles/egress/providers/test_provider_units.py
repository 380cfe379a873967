"""Pure parts of the provider layer: registry, request validation, Retry-After,
redaction, the error type, and the stream parsers' end-of-stream rules."""

import json
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from battles.egress.providers import PROVIDERS, ChatRequest, ProviderError, get_provider, parse_retry_after
from battles.egress.providers.anthropic import AnthropicProvider
from battles.egress.providers.errors import redact
from battles.egress.providers.openai_compatible import OpenAICompatibleProvider
from battles.egress.providers.sse import ServerSentEvent

USER = [{"role": "user", "content": "hi"}]


def test_registry_names_both_wire_formats():
    assert set(PROVIDERS) == {"openai", "anthropic"}
    assert isinstance(get_provider("openai"), OpenAICompatibleProvider)
    assert isinstance(get_provider("anthropic"), AnthropicProvider)


def test_unknown_provider_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="known: anthropic, openai"):
        get_provider("cohere")


@pytest.mark.parametrize(
    "overrides",
    [
        {"base_url": "ftp://example.com"},
        {"model_id": " "},
        {"messages": []},
        {"messages": [{"role": "system", "content": "x"}]},
        {"messages": [{"role": "user", "content": None}]},
        {"max_tokens": 0},
        {"temperature": 3},
        {"deadline": 0},
        {"read_timeout": -1},
    ],
)
def test_invalid_request_is_refused_before_any_call(overrides):
    fields = {"base_url": "http://127.0.0.1:1/v1", "model_id": "m", "messages": USER} | overrides
    with pytest.raises(ValueError):
        ChatRequest(**fields)


def test_request_repr_hides_the_api_key():
    req = ChatRequest(base_url="http://h/v1", model_id="m", messages=USER, api_key="sk-secret-123456789")
    assert "sk-secret" not in repr(req)


def test_anthropic_url_tolerates_a_trailing_v1():
    provider = get_provider("anthropic")
    for base in ("https://api.anthropic.com", "https://api.anthropic.com/", "https://api.anthropic.com/v1"):
        req = ChatRequest(base_url=base, model_id="m", messages=USER)
        assert provider.url(req) == "https://api.anthropic.com/v1/messages"


def test_openai_url_appends_to_the_versioned_base():
    req = ChatRequest(base_url="http://127.0.0.1:11434/v1/", model_id="m", messages=USER)
    assert get_provider("openai").url(req) == "http://127.0.0.1:11434/v1/chat/completions"


def test_openai_sends_no_authorization_header_without_a_key():
    req = ChatRequest(base_url="http://h/v1", model_id="m", messages=USER)
    assert "Authorization" not in get_provider("openai").headers(req)


# --- Retry-After ------------------------------------------------------------------------


def test_retry_after_in_seconds():
    assert parse_retry_after({"Retry-After": "7"}) == 7.0


def test_retry_after_as_an_http_date():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = "Wed, 01 Jan 2025 12:00:30 GMT"
    assert parse_retry_after({"retry-after": later}, now=now) == 30.0


def test_retry_after_date_in_the_past_means_no_wait():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    earlier = (now - timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after({"Retry-After": earlier}, now=now) == 0.0


def test_retry_after_ms_is_preferred_for_its_precision():
    assert parse_retry_after({"Retry-After": "2", "retry-after-ms": "1500"}) == 1.5


@pytest.mark.parametrize("value", ["soon", "-3", "", "nan"])
def test_unreadable_retry_after_is_ignored(value):
    assert parse_retry_after({"Retry-After": value}) is None


def test_no_retry_after_header_gives_none():
    assert parse_retry_after({}) is None


# --- errors -------------------------------------------------------------------------------


def test_redact_removes_the_key_and_key_shaped_strings_and_keeps_one_line():
    text = "bad key sk-live-abcdef123456\nsecond line, key=hunter2hunter2"
    cleaned = redact(text, "hunter2hunter2")
    assert "sk-live" not in cleaned and "hunter2" not in cleaned
    assert "\n" not in cleaned


def test_redact_bounds_the_length():
    assert len(redact("x" * 5000)) <= 300


def test_provider_error_survives_pickling_for_celery():
    error = ProviderError("HTTP 429: slow down", retryable=True, status_code=429, retry_after=2.5)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.retryable, copy.status_code, copy.retry_after) == ("HTTP 429: slow down", True, 429, 2.5)
    assert str(copy) == "HTTP 429: slow down"


# --- stream end rules -----------------------------------------------------------------------


def feed_all(parser, *data, event="message"):
    return "".join(parser.feed(ServerSentEvent(d, event=event)) for d in data)


def test_openai_stream_with_finish_reason_but_no_done_is_complete():
    parser = get_provider("openai").stream_parser()
    text = feed_all(
        parser,
        '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}',
        '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
    )
    assert text == "Hi"
    assert parser.finish().finish_reason == "stop"


def test_openai_stream_with_done_but_no_finish_reason_is_complete():
    parser = get_provider("openai").stream_parser()
    feed_all(parser, '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}', "[DONE]")
    assert parser.finish().finish_reason is None


def test_openai_stream_with_neither_done_nor_finish_reason_ended_early():
    parser = get_provider("openai").stream_parser()
    feed_all(parser, '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}')
    with pytest.raises(ProviderError) as caught:
        parser.finish()
    assert caught.value.retryable is True


def test_openai_usage_chunk_after_finish_reason_gives_token_counts():
    parser = get_provider("openai").stream_parser()
    feed_all(
        parser,
        '{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}',
        '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9}}',
        "[DONE]",
    )
    done = parser.finish()
    assert (done.tokens_in, done.tokens_out, done.finish_reason) == (3, 9, "length")


def test_openai_error_object_in_a_stream_is_an_error():
    parser = get_provider("openai").stream_parser()
    with pytest.raises(ProviderError) as caught:
        feed_all(parser, '{"error":{"message":"upstream exploded","code":502}}')
    assert caught.value.retryable is True
    assert "upstream exploded" in caught.value.reason


def test_anthropic_stream_without_message_stop_ended_early():
    parser = get_provider("anthropic").stream_parser()
    feed_all(
        parser,
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
        '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}',
    )
    with pytest.raises(ProviderError) as caught:
        parser.finish()
    assert caught.value.retryable is True


def test_anthropic_thinking_deltas_are_not_part_of_the_answer():
    parser = get_provider("anthropic").stream_parser()
    text = feed_all(
        parser,
        '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}',
        '{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Answer"}}',
        '{"type":"message_stop"}',
    )
    assert text == "Answer"


@pytest.mark.parametrize(
    "error_type, retryable",
    [("overloaded_error", True), ("api_error", True), ("invalid_request_error", False)],
)
def test_anthropic_error_event_retryability_follows_its_type(error_type, retryable):
    parser = get_provider("anthropic").stream_parser()
    with pytest.raises(ProviderError) as caught:
        event = json.dumps({"type": "error", "error": {"type": error_type, "message": "x"}})
        feed_all(parser, event, event="error")
    assert caught.value.retryable is retryable


def test_anthropic_body_joins_text_blocks_and_counts_cached_input():
    done = get_provider("anthropic").parse_body(
        {
            "type": "message",
            "content": [{"type": "text", "text": "a"}, {"type": "tool_use", "id": "t"}, {"type": "text", "text": "b"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 2},
        }
    )
    assert (done.text, done.tokens_in, done.tokens_out) == ("ab", 105, 2)


@pytest.mark.parametrize("body", [[], {"choices": []}, {"choices": [{"message": {"content": 3}}]}])
def test_openai_body_of_the_wrong_shape_is_not_retryable(body):
    with pytest.raises(ProviderError) as caught:
        get_provider("openai").parse_body(body)
    assert caught.value.retryable is False
