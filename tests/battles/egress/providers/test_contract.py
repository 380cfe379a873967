"""The provider contract, run against every provider × streamed or not × sync or
async, over real HTTP against the fake provider server (no mocked transport)."""

import hashlib
import socket
import time
import uuid

import pytest

from battles.demo.fake_provider.answers import answer, count_tokens
from battles.egress.providers import ChatResult, ProviderError
from tests.battles.egress.providers.conftest import USER_PROMPT

STOP_REASONS = {"openai": "stop", "anthropic": "end_turn"}
LENGTH_REASONS = {"openai": "length", "anthropic": "max_tokens"}


def test_returns_the_complete_answer_with_token_counts(fake, kind, stream, call, make_request):
    req = make_request(kind, stream=stream)
    expected = answer("m-contract", req.messages)

    result = call(kind, req)

    assert isinstance(result, ChatResult)
    assert result.text == expected
    assert result.tokens_out == count_tokens(expected)
    assert result.tokens_in == count_tokens(USER_PROMPT)
    assert result.finish_reason == STOP_REASONS[kind]
    assert result.latency_ms >= 0
    assert fake.stats()["completed"] == {"m-contract": 1}


def test_sends_every_turn_of_a_multi_turn_conversation_in_order(fake, kind, stream, call, make_request):
    messages = [
        {"role": "user", "content": "Suggest a name for a hiking club"},
        {"role": "assistant", "content": "How about Summit Seekers?"},
        {"role": "user", "content": "Make it shorter and explain why"},
    ]
    req = make_request(kind, stream=stream, messages=messages)

    result = call(kind, req)

    sent = fake.last_request("m-contract")["body"]["messages"]
    assert sent == messages
    assert result.text == answer("m-contract", messages)
    assert result.tokens_in == sum(count_tokens(m["content"]) for m in messages)


def test_system_prompt_and_settings_reach_the_provider_in_its_own_format(fake, kind, stream, call, make_request):
    req = make_request(kind, stream=stream, system_prompt="Answer like a pirate.", temperature=0.3, max_tokens=321)

    call(kind, req)

    seen = fake.last_request("m-contract")
    body = seen["body"]
    assert body["model"] == "m-contract"
    assert body["max_tokens"] == 321
    assert body["temperature"] == 0.3
    assert body["stream"] is stream
    if kind == "openai":
        assert seen["path"] == "/v1/chat/completions"
        assert body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
        assert body["messages"][1:] == req.messages
        assert ("stream_options" in body) is stream
        if stream:
            assert body["stream_options"] == {"include_usage": True}
    else:
        assert seen["path"] == "/v1/messages"
        assert body["system"] == "Answer like a pirate."
        assert body["messages"] == req.messages
        assert seen["headers"]["anthropic-version"] == "2023-06-01"


def test_empty_system_prompt_and_unset_temperature_are_not_sent(fake, kind, call, make_request):
    call(kind, make_request(kind))

    body = fake.last_request("m-contract")["body"]
    assert "temperature" not in body
    assert "system" not in body
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_api_key_is_sent_in_the_provider_header(fake, kind, call, make_request):
    key = "sk-test-" + uuid.uuid4().hex

    call(kind, make_request(kind, api_key=key))

    auth = fake.last_request("m-contract")["auth"]
    assert auth["scheme"] == {"openai": "bearer", "anthropic": "x-api-key"}[kind]
    assert auth["key_sha256"] == hashlib.sha256(key.encode()).hexdigest()


def test_answer_cut_by_max_tokens_is_complete_with_a_length_finish_reason(fake, kind, stream, call, make_request):
    result = call(kind, make_request(kind, stream=stream, max_tokens=5))

    assert result.tokens_out == 5
    assert count_tokens(result.text) == 5
    assert result.finish_reason == LENGTH_REASONS[kind]


def test_on_delta_receives_the_text_in_order(fake, kind, stream, call, make_request):
    deltas = []

    result = call(kind, make_request(kind, stream=stream), on_delta=deltas.append)

    assert "".join(deltas) == result.text
    assert all(deltas)
    if stream:
        assert len(deltas) > 10  # one event per token from the fake
        assert result.ttft_ms is not None and result.ttft_ms <= result.latency_ms
    else:
        assert len(deltas) == 1
        assert result.ttft_ms is None


def test_async_twin_accepts_a_coroutine_on_delta(fake, kind, make_request):
    import asyncio

    import httpx

    from battles.egress.providers import get_provider

    deltas = []

    async def on_delta(text):
        await asyncio.sleep(0)
        deltas.append(text)

    async def main():
        async with httpx.AsyncClient() as client:
            return await get_provider(kind).achat(client, make_request(kind), on_delta)

    result = asyncio.run(main())
    assert "".join(deltas) == result.text and len(deltas) > 1


def test_time_to_first_token_and_latency_reflect_the_provider_timing(fake, kind, call, make_request):
    fake.configure(latency=0.15, tokens_per_second=400)

    result = call(kind, make_request(kind, stream=True))

    assert 140 <= result.ttft_ms < 500
    # the rest of the answer streams at 400 tokens/s after the first token
    expected_streaming_ms = (result.tokens_out - 1) / 400 * 1000
    assert result.latency_ms - result.ttft_ms >= expected_streaming_ms * 0.8


# --- errors -----------------------------------------------------------------------------


def test_429_is_retryable_and_carries_retry_after(fake, kind, stream, call, make_request):
    fake.set_faults("m-contract", ["429:3"])

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind, stream=stream))

    error = caught.value
    assert error.retryable is True
    assert error.status_code == 429
    assert error.retry_after == pytest.approx(3.0)


@pytest.mark.parametrize("status", ["500", "503", "408", "409"])
def test_server_errors_and_transient_statuses_are_retryable(fake, kind, call, make_request, status):
    fake.set_faults("m-contract", [status])

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind))

    assert caught.value.retryable is True
    assert caught.value.status_code == int(status)
    assert status in caught.value.reason


def test_anthropic_overloaded_529_is_retryable(fake, call, make_request):
    fake.set_faults("m-contract", ["529"])

    with pytest.raises(ProviderError) as caught:
        call("anthropic", make_request("anthropic"))

    assert caught.value.retryable is True
    assert caught.value.status_code == 529
    assert "overloaded" in caught.value.reason.lower()


@pytest.mark.parametrize("status", ["400", "403", "404"])
def test_other_client_errors_are_not_retryable(fake, kind, call, make_request, status):
    fake.set_faults("m-contract", [status])

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind))

    assert caught.value.retryable is False
    assert caught.value.status_code == int(status)


def test_401_is_not_retryable_and_never_shows_the_key(fake, kind, stream, call, make_request):
    canary = "canary-" + uuid.uuid4().hex  # no key-like prefix: only exact scrubbing can hide it
    fake.set_faults("m-contract", ["401"])
    req = make_request(kind, stream=stream, api_key=canary)

    with pytest.raises(ProviderError) as caught:
        call(kind, req)

    error = caught.value
    assert error.retryable is False
    assert error.status_code == 401
    # the fake echoes the key in its 401 body, as some providers do
    assert fake.last_request("m-contract")["auth"]["key_sha256"] == hashlib.sha256(canary.encode()).hexdigest()
    for shown in (str(error), error.reason, repr(error), repr(req)):
        assert canary not in shown
        assert canary[-12:] not in shown
    assert "401" in error.reason


def test_redirect_is_not_followed_even_by_a_client_that_follows_redirects(fake, kind, call, make_request):
    fake.set_faults("m-contract", ["307"])

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind), follow_redirects=True)

    assert caught.value.retryable is False
    assert caught.value.status_code == 307
    assert fake.stats()["requests"] == {"m-contract": 1}


def test_cut_stream_is_a_retryable_error_and_no_partial_answer(fake, kind, stream, call, make_request):
    fake.set_faults("m-contract", ["cut"])
    deltas = []

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind, stream=stream), on_delta=deltas.append)

    assert caught.value.retryable is True
    full = answer("m-contract", make_request(kind).messages)
    assert "".join(deltas) != full  # what on_delta saw was partial, and no result was returned
    assert fake.stats()["completed"] == {}


def test_stream_ending_without_its_terminal_event_is_a_retryable_error(fake, kind, call, make_request):
    fake.set_faults("m-contract", ["truncate"])

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind, stream=True))

    assert caught.value.retryable is True
    assert "ended early" in caught.value.reason


def test_error_event_inside_a_stream_is_a_retryable_error(fake, kind, stream, call, make_request):
    fake.set_faults("m-contract", ["stream_error"])

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind, stream=stream))

    assert caught.value.retryable is True
    # The provider's own words reach the admin (an error event in a stream; a 5xx status without one).
    assert (
        caught.value.reason
        == {
            ("openai", True): "provider error: The server had an error while processing your request. (server_error)",
            ("openai", False): "HTTP 503 Service Unavailable: The engine is currently overloaded, please try again "
            "later. (server_error)",
            ("anthropic", True): "provider error: Overloaded (overloaded_error)",
            ("anthropic", False): "HTTP 529 error: Overloaded (overloaded_error)",
        }[(kind, stream)]
    )


def test_success_status_with_an_unexpected_body_is_not_retryable(fake, kind, stream, call, make_request):
    fake.set_faults("m-contract", ["malformed"])

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind, stream=stream))

    assert caught.value.retryable is False
    assert caught.value.reason.startswith("unexpected response")


def test_slow_drip_past_the_deadline_is_a_retryable_error_on_time(fake, kind, stream, call, make_request):
    # Data every 0.5 s: no read ever times out, so only the deadline can stop
    # the call, and it must not wait for the next piece (at 1.0 s) to do so.
    fake.set_faults("m-contract", ["drip:0.5"])
    req = make_request(kind, stream=stream, deadline=0.6, read_timeout=5.0)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        call(kind, req)
    elapsed = time.monotonic() - started

    assert caught.value.retryable is True
    assert "deadline" in caught.value.reason
    assert 0.55 <= elapsed < 0.6 + 0.3


def test_provider_that_never_answers_hits_the_deadline_before_the_read_timeout(fake, kind, call, make_request):
    fake.set_faults("m-contract", ["hang:5"])
    req = make_request(kind, deadline=0.5, read_timeout=30.0)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        call(kind, req)

    assert caught.value.retryable is True
    assert time.monotonic() - started < 0.5 + 0.4


def test_read_timeout_is_retryable(fake, kind, call, make_request):
    fake.set_faults("m-contract", ["hang:5"])
    req = make_request(kind, read_timeout=0.3, deadline=10.0)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        call(kind, req)

    assert caught.value.retryable is True
    assert "timeout" in caught.value.reason
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_retryable(kind, call, make_request):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}" + ("/v1" if kind == "openai" else "")

    with pytest.raises(ProviderError) as caught:
        call(kind, make_request(kind, base_url=base))

    assert caught.value.retryable is True
    assert caught.value.status_code is None
    assert "connection failed" in caught.value.reason


def test_a_fault_for_one_model_leaves_other_models_alone(fake, kind, call, make_request):
    fake.set_faults("m-broken", ["500"])

    result = call(kind, make_request(kind, model_id="m-fine"))

    assert result.text
    assert fake.stats()["faults_pending"] == {"m-broken": ["500"]}


def test_a_retry_after_a_transient_error_gets_the_same_answer(fake, kind, call, make_request):
    fake.set_faults("m-contract", ["500"])
    req = make_request(kind)

    with pytest.raises(ProviderError):
        call(kind, req)
    result = call(kind, req)

    assert result.text == answer("m-contract", req.messages)
