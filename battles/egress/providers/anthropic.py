"""Anthropic Messages API.

``base_url`` is the host root, e.g. ``https://api.anthropic.com`` (a trailing
``/v1`` is tolerated); the call goes to ``{base_url}/v1/messages`` with
``x-api-key`` and ``anthropic-version: 2023-06-01``. The system prompt is the
top-level ``system`` field and ``max_tokens`` is always sent (the API requires it).

A stream is complete only after ``message_stop``. An ``error`` event inside the
stream is a ProviderError, retryable when the provider was overloaded or failed
internally. ``tokens_in`` counts input tokens including prompt-cache reads and
writes when the provider reports them.
"""

from __future__ import annotations

from typing import Any

from battles.egress.providers.base import Provider
from battles.egress.providers.errors import ProviderError, error_message, redact, shape_error, truncated_error
from battles.egress.providers.parsing import Completion, StreamParser, load_json, token_count
from battles.egress.providers.sse import ServerSentEvent
from battles.egress.providers.types import ChatRequest

ANTHROPIC_VERSION = "2023-06-01"
_RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


class AnthropicProvider(Provider):
    kind = "anthropic"
    label = "Anthropic"

    def url(self, req: ChatRequest) -> str:
        base = req.base_url.rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        return base + "/v1/messages"

    def headers(self, req: ChatRequest) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if req.stream else "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
        }
        if req.api_key:
            headers["x-api-key"] = req.api_key
        return headers

    def payload(self, req: ChatRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": req.model_id,
            "max_tokens": req.max_tokens,
            "messages": [{"role": m["role"], "content": m["content"]} for m in req.messages],
            "stream": req.stream,
        }
        if req.system_prompt:
            payload["system"] = req.system_prompt
        if req.temperature is not None:
            # Anthropic accepts 0..1; the arena's settings allow up to 2 for OpenAI.
            payload["temperature"] = min(float(req.temperature), 1.0)
        return payload

    def parse_body(self, data: Any) -> Completion:
        if not isinstance(data, dict):
            raise shape_error("body is not a JSON object")
        if data.get("type") == "error":
            raise _error_event(data)
        content = data.get("content")
        if not isinstance(content, list):
            raise shape_error("no content list in the body")
        parts = []
        for block in content:
            if not isinstance(block, dict):
                raise shape_error("content block is not an object")
            if block.get("type") == "text":
                if not isinstance(block.get("text"), str):
                    raise shape_error("text block without text")
                parts.append(block["text"])
        stop_reason = data.get("stop_reason")
        usage = data.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        return Completion(
            text="".join(parts),
            finish_reason=stop_reason if isinstance(stop_reason, str) else None,
            tokens_in=_input_tokens(usage),
            tokens_out=token_count(usage.get("output_tokens")),
        )

    def stream_parser(self) -> StreamParser:
        return _AnthropicStream()


class _AnthropicStream(StreamParser):
    def __init__(self) -> None:
        self.stopped = False
        self.stop_reason: str | None = None
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None

    def feed(self, event: ServerSentEvent) -> str:
        if self.stopped:
            return ""
        data = load_json(event.data, "stream event")
        if not isinstance(data, dict):
            raise shape_error("stream event is not a JSON object")
        kind = data.get("type") or event.event
        if kind == "error":
            raise _error_event(data)
        if kind == "message_start":
            message = data.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                self.tokens_in = _input_tokens(usage)
                self.tokens_out = token_count(usage.get("output_tokens"))
        elif kind == "content_block_start":
            block = data.get("content_block")
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                return block["text"]
        elif kind == "content_block_delta":
            delta = data.get("delta")
            if not isinstance(delta, dict):
                raise shape_error("content_block_delta without a delta")
            if delta.get("type") == "text_delta":
                if not isinstance(delta.get("text"), str):
                    raise shape_error("text_delta without text")
                return delta["text"]
            # thinking_delta, input_json_delta, signature_delta: not part of the answer text.
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.stop_reason = delta["stop_reason"]
            usage = data.get("usage")
            if isinstance(usage, dict):
                if token_count(usage.get("output_tokens")) is not None:
                    self.tokens_out = usage["output_tokens"]
                if token_count(usage.get("input_tokens")) is not None:
                    self.tokens_in = _input_tokens(usage)
        elif kind == "message_stop":
            self.stopped = True
        # ping, content_block_stop and unknown future events carry no answer text.
        return ""

    def finish(self) -> Completion:
        if not self.stopped:
            raise truncated_error("no message_stop")
        return Completion(
            text="",
            finish_reason=self.stop_reason,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
        )


def _input_tokens(usage: dict) -> int | None:
    base = token_count(usage.get("input_tokens"))
    if base is None:
        return None
    cached = [token_count(usage.get(k)) for k in ("cache_creation_input_tokens", "cache_read_input_tokens")]
    return base + sum(n for n in cached if n is not None)


def _error_event(data: dict) -> ProviderError:
    error = data.get("error")
    kind = error.get("type") if isinstance(error, dict) else None
    message = error_message(data) or "error"
    return ProviderError(
        redact(f"provider error: {message}"),
        retryable=kind in _RETRYABLE_ERROR_TYPES,
    )
