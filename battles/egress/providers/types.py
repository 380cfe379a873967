"""What goes into a provider call and what comes out of it: ChatRequest, its
validation, and ChatResult. Plain frozen dataclasses, no I/O."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["ChatRequest", "ChatResult", "OnDelta"]

# Called with each piece of streamed text; may return an awaitable in ``achat``.
OnDelta = Callable[[str], "None | Awaitable[None]"]


@dataclass(frozen=True)
class ChatRequest:
    """One chat call. ``deadline`` is the wall-clock budget of the whole call in
    seconds, streaming included; the connect and read timeouts bound the
    individual network steps inside it."""

    base_url: str
    model_id: str
    messages: list[dict]
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int = 1024
    api_key: str = field(default="", repr=False)
    stream: bool = True
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    deadline: float = 180.0

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        if not isinstance(self.model_id, str) or not self.model_id.strip():
            raise ValueError("model_id must be a non-empty string")
        if not isinstance(self.messages, list) or not self.messages:
            raise ValueError("messages must be a non-empty list")
        for index, message in enumerate(self.messages):
            if not isinstance(message, dict):
                raise ValueError(f"messages[{index}] must be a dict")
            if message.get("role") not in ("user", "assistant"):
                raise ValueError(f"messages[{index}].role must be 'user' or 'assistant'")
            if not isinstance(message.get("content"), str):
                raise ValueError(f"messages[{index}].content must be a string")
        if not isinstance(self.system_prompt, str):
            raise ValueError("system_prompt must be a string")
        if self.temperature is not None and not (
            isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 2
        ):
            raise ValueError("temperature must be None or between 0 and 2")
        if not isinstance(self.max_tokens, int) or isinstance(self.max_tokens, bool) or self.max_tokens < 1:
            raise ValueError("max_tokens must be a positive integer")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
                raise ValueError(f"{name} must be a positive number of seconds")


@dataclass(frozen=True)
class ChatResult:
    """A complete answer.

    ``latency_ms`` runs from the start of the call to the complete answer;
    ``ttft_ms`` to the first non-empty text delta of a stream, and is None for a
    non-streamed call (no token arrives before the whole body does).
    ``finish_reason`` is the provider's own word ("stop", "length", "end_turn",
    "max_tokens", …) or None when it sent none; a truncated-by-length answer is
    still a complete result and the caller decides what to make of it.
    """

    text: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int
    ttft_ms: int | None
    finish_reason: str | None
