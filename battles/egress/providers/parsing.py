"""What a wire format's parsers hand back (Completion) and implement
(StreamParser), with the reading helpers both formats share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from battles.egress.providers.errors import shape_error
from battles.egress.providers.sse import ServerSentEvent

__all__ = ["Completion", "StreamParser", "load_json", "token_count"]


@dataclass
class Completion:
    """What a wire format yields: text plus the bookkeeping around it."""

    text: str
    finish_reason: str | None
    tokens_in: int | None
    tokens_out: int | None


class StreamParser:
    """Reads one provider's events. ``feed`` returns the text delta of an event
    ("" for none) or raises ProviderError for an error event or a malformed one;
    ``finish`` raises unless the terminal event was seen."""

    def feed(self, event: ServerSentEvent) -> str:
        raise NotImplementedError

    def finish(self) -> Completion:
        """Return a Completion with empty text (the driver fills it in)."""
        raise NotImplementedError


def load_json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise shape_error(f"{what} is not valid JSON") from None


def token_count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
