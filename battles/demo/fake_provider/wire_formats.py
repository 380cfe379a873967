"""The two wire formats the fake provider speaks, OpenAI-compatible chat
completions and Anthropic Messages: request validation, error bodies, whole
JSON answers and the frames of a stream. Pure functions of the request and the
prepared answer; no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from battles.demo.fake_provider import answers

_OPENAI_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: {key}."),
    403: ("permission_error", None, "You are not allowed to use this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("server_error", None, "Request timed out."),
    409: ("server_error", None, "Conflict; please retry."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    529: ("server_error", None, "Overloaded."),
}
_ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key: {key}"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    408: ("timeout_error", "Request timed out."),
    409: ("api_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error."),
    529: ("overloaded_error", "Overloaded"),
}


@dataclass
class PreparedAnswer:
    """An answer ready to send in either format: the text, its tokens and the bookkeeping around them."""

    model: str
    text: str
    pieces: list[str]
    tokens_in: int
    finish_reason: str
    include_usage: bool
    request_id: str
    created: int
    epoch: int

    @property
    def tokens_out(self) -> int:
        return len(self.pieces)


class WireFormat:
    """What differs between the two formats, as pure functions of the request."""

    name = ""
    stop_reason = ""
    length_reason = ""

    def validate(self, body: dict, headers) -> str | None:
        raise NotImplementedError

    def max_tokens(self, body: dict) -> int | None:
        value = body.get("max_tokens")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def prompt_text(self, body: dict) -> str:
        raise NotImplementedError

    def error_body(self, status: int, key: str, message: str | None = None) -> dict:
        raise NotImplementedError

    def body(self, ctx: PreparedAnswer) -> dict:
        raise NotImplementedError

    def malformed_body(self) -> dict:
        return {"id": "fake", "object": "unexpected", "result": None}

    def stream_head(self, ctx: PreparedAnswer) -> list[bytes]:
        raise NotImplementedError

    def stream_delta(self, ctx: PreparedAnswer, text: str) -> bytes:
        raise NotImplementedError

    def stream_tail(self, ctx: PreparedAnswer) -> list[bytes]:
        raise NotImplementedError

    def stream_error(self) -> bytes:
        raise NotImplementedError


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


class OpenAIWire(WireFormat):
    name = "openai"
    length_reason = "length"
    stop_reason = "stop"

    def validate(self, body: dict, headers) -> str | None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array"
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                return f"messages[{index}] must be an object"
            if message.get("role") not in ("system", "developer", "user", "assistant", "tool"):
                return f"messages[{index}].role is invalid"
            content = message.get("content")
            if not isinstance(content, (str, list)) and not (content is None and message["role"] == "assistant"):
                return f"messages[{index}].content must be a string or an array"
        for key in ("max_tokens", "max_completion_tokens"):
            value = body.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                return f"'{key}' must be a positive integer"
        if "stream" in body and not isinstance(body["stream"], bool):
            return "'stream' must be a boolean"
        temperature = body.get("temperature")
        if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 2):
            return "'temperature' must be between 0 and 2"
        return None

    def max_tokens(self, body: dict) -> int | None:
        value = body.get("max_completion_tokens", body.get("max_tokens"))
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def prompt_text(self, body: dict) -> str:
        return "\n".join(answers.message_text(m.get("content")) for m in body["messages"])

    def error_body(self, status: int, key: str, message: str | None = None) -> dict:
        kind, code, default = _OPENAI_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
        )
        if message is None:
            message = (
                default.format(key=key)
                if key
                else ("You didn't provide an API key." if status == 401 else default.format(key=""))
            )
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _chunk(self, ctx: PreparedAnswer, delta: dict, finish_reason: str | None = None) -> dict:
        return {
            "id": ctx.request_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    def _usage(self, ctx: PreparedAnswer) -> dict:
        return {
            "prompt_tokens": ctx.tokens_in,
            "completion_tokens": ctx.tokens_out,
            "total_tokens": ctx.tokens_in + ctx.tokens_out,
        }

    def body(self, ctx: PreparedAnswer) -> dict:
        return {
            "id": ctx.request_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ctx.text},
                    "finish_reason": ctx.finish_reason,
                }
            ],
            "usage": self._usage(ctx),
        }

    def stream_head(self, ctx: PreparedAnswer) -> list[bytes]:
        # A comment first, as several hosted APIs send: clients must skip it.
        return [b": fake-provider\n\n", _sse(self._chunk(ctx, {"role": "assistant", "content": ""}))]

    def stream_delta(self, ctx: PreparedAnswer, text: str) -> bytes:
        return _sse(self._chunk(ctx, {"content": text}))

    def stream_tail(self, ctx: PreparedAnswer) -> list[bytes]:
        frames = [_sse(self._chunk(ctx, {}, ctx.finish_reason))]
        if ctx.include_usage:
            frames.append(
                _sse(
                    {
                        "id": ctx.request_id,
                        "object": "chat.completion.chunk",
                        "created": ctx.created,
                        "model": ctx.model,
                        "choices": [],
                        "usage": self._usage(ctx),
                    }
                )
            )
        frames.append(_sse("[DONE]"))
        return frames

    def stream_error(self) -> bytes:
        return _sse(
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        )


class AnthropicWire(WireFormat):
    name = "anthropic"
    length_reason = "max_tokens"
    stop_reason = "end_turn"

    def validate(self, body: dict, headers) -> str | None:
        if not headers.get("anthropic-version"):
            return "anthropic-version: header is required"
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return "max_tokens: Field required (a positive integer)"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                return f"messages.{index}: must be an object"
            role = message.get("role")
            if role == "system":
                return (
                    f'messages.{index}.role: Unexpected role "system". The Messages API accepts '
                    'a top-level `system` parameter, not "system" as an input message role.'
                )
            if role not in ("user", "assistant"):
                return f"messages.{index}.role: must be 'user' or 'assistant'"
            if not isinstance(message.get("content"), (str, list)):
                return f"messages.{index}.content: must be a string or an array"
        system = body.get("system")
        if system is not None and not isinstance(system, (str, list)):
            return "system: must be a string or an array"
        if "stream" in body and not isinstance(body["stream"], bool):
            return "stream: must be a boolean"
        temperature = body.get("temperature")
        if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 1):
            return "temperature: must be between 0 and 1"
        return None

    def prompt_text(self, body: dict) -> str:
        system = answers.message_text(body.get("system"))
        return "\n".join([system] + [answers.message_text(m.get("content")) for m in body["messages"]])

    def error_body(self, status: int, key: str, message: str | None = None) -> dict:
        kind, default = _ANTHROPIC_ERRORS.get(
            status, ("api_error" if status >= 500 else "invalid_request_error", "Error.")
        )
        if message is None:
            message = (
                default.format(key=key)
                if key
                else ("x-api-key header is required" if status == 401 else default.format(key=""))
            )
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _message(self, ctx: PreparedAnswer, content: list, stop_reason: str | None, output_tokens: int) -> dict:
        return {
            "id": ctx.request_id,
            "type": "message",
            "role": "assistant",
            "model": ctx.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": ctx.tokens_in, "output_tokens": output_tokens},
        }

    def body(self, ctx: PreparedAnswer) -> dict:
        return self._message(ctx, [{"type": "text", "text": ctx.text}], ctx.finish_reason, ctx.tokens_out)

    def stream_head(self, ctx: PreparedAnswer) -> list[bytes]:
        return [
            _sse({"type": "message_start", "message": self._message(ctx, [], None, 1)}, "message_start"),
            _sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            ),
            _sse({"type": "ping"}, "ping"),
        ]

    def stream_delta(self, ctx: PreparedAnswer, text: str) -> bytes:
        return _sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            "content_block_delta",
        )

    def stream_tail(self, ctx: PreparedAnswer) -> list[bytes]:
        return [
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": ctx.finish_reason, "stop_sequence": None},
                    "usage": {"output_tokens": ctx.tokens_out},
                },
                "message_delta",
            ),
            _sse({"type": "message_stop"}, "message_stop"),
        ]

    def stream_error(self) -> bytes:
        return _sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")


# The wire format of each generation endpoint, by request path.
WIRE_FORMATS = {"/v1/chat/completions": OpenAIWire(), "/v1/messages": AnthropicWire()}
