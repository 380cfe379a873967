"""OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp server,
LiteLLM, OpenRouter and most hosted APIs).

``base_url`` is the API root that ends in the version, e.g.
``https://api.openai.com/v1`` or ``http://127.0.0.1:11434/v1``; the call goes
to ``{base_url}/chat/completions``.

A stream counts as complete only if it sent ``data: [DONE]`` or a choice with a
``finish_reason``; anything else ended early. Token counts come from ``usage``
(requested with ``stream_options.include_usage`` when streaming) and are None
when the server sends none.
"""

from __future__ import annotations

from typing import Any

from battles.egress.providers.base import Provider
from battles.egress.providers.errors import (
    ProviderError,
    error_message,
    redact,
    shape_error,
    status_is_retryable,
    truncated_error,
)
from battles.egress.providers.parsing import Completion, StreamParser, load_json, token_count
from battles.egress.providers.sse import ServerSentEvent
from battles.egress.providers.types import ChatRequest

# Error types/codes that describe the request, not the server: retrying cannot help.
_CLIENT_ERROR_KINDS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "invalid_api_key",
        "context_length_exceeded",
        "model_not_found",
    }
)


class OpenAICompatibleProvider(Provider):
    kind = "openai"
    label = "OpenAI-compatible"

    def url(self, req: ChatRequest) -> str:
        return req.base_url.rstrip("/") + "/chat/completions"

    def headers(self, req: ChatRequest) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if req.stream else "application/json",
        }
        if req.api_key:
            headers["Authorization"] = f"Bearer {req.api_key}"
        return headers

    def payload(self, req: ChatRequest) -> dict[str, Any]:
        messages = [{"role": "system", "content": req.system_prompt}] if req.system_prompt else []
        messages += [{"role": m["role"], "content": m["content"]} for m in req.messages]
        payload: dict[str, Any] = {
            "model": req.model_id,
            "messages": messages,
            "max_tokens": req.max_tokens,
            "stream": req.stream,
        }
        if req.temperature is not None:
            payload["temperature"] = req.temperature
        if req.stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def parse_body(self, data: Any) -> Completion:
        if not isinstance(data, dict):
            raise shape_error("body is not a JSON object")
        if "error" in data and data["error"]:
            raise _error_in_body(data)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise shape_error("no choices in the body")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise shape_error("choice without a message")
        content = message.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise shape_error("message content is not text")
        finish_reason = choices[0].get("finish_reason")
        tokens_in, tokens_out = _usage(data.get("usage"))
        return Completion(
            text=content,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )

    def stream_parser(self) -> StreamParser:
        return _OpenAIStream()


class _OpenAIStream(StreamParser):
    def __init__(self) -> None:
        self.saw_done = False
        self.finish_reason: str | None = None
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None

    def feed(self, event: ServerSentEvent) -> str:
        if self.saw_done:
            return ""
        data = event.data.strip()
        if data == "[DONE]":
            self.saw_done = True
            return ""
        chunk = load_json(data, "stream chunk")
        if not isinstance(chunk, dict):
            raise shape_error("stream chunk is not a JSON object")
        if event.event == "error" or chunk.get("error"):
            raise _error_in_body(chunk)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.tokens_in, self.tokens_out = _usage(usage)
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise shape_error("stream chunk choices is not a list")
        text = ""
        for choice in choices:
            if not isinstance(choice, dict):
                raise shape_error("stream chunk choice is not an object")
            if choice.get("index", 0) != 0:
                continue  # n > 1 is not used; only the first choice is the answer.
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str):
                text += content
            finish_reason = choice.get("finish_reason")
            if isinstance(finish_reason, str) and finish_reason:
                self.finish_reason = finish_reason
        return text

    def finish(self) -> Completion:
        if not self.saw_done and self.finish_reason is None:
            raise truncated_error("no finish_reason and no [DONE]")
        return Completion(
            text="",
            finish_reason=self.finish_reason,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
        )


def _usage(usage: Any) -> tuple[int | None, int | None]:
    if not isinstance(usage, dict):
        return None, None
    return token_count(usage.get("prompt_tokens")), token_count(usage.get("completion_tokens"))


def _error_in_body(data: dict) -> ProviderError:
    """An error object sent with a 200 status or inside a stream (vLLM, OpenRouter,
    LiteLLM do this). Retryable unless it plainly describes a bad request."""
    error = data.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    if status is not None:
        retryable = status_is_retryable(status) or not 400 <= status < 500
    else:
        retryable = kind not in _CLIENT_ERROR_KINDS and code not in _CLIENT_ERROR_KINDS
    message = error_message(data) or "error"
    return ProviderError(
        redact(f"provider error: {message}"),
        retryable=retryable,
    )
