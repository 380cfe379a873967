"""How a failed call is reported: ProviderError, whether a retry can help
(status codes, Retry-After), and a reason safe to show (no key, one line,
bounded). Shared by every wire format and by the call machinery."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "ProviderError",
    "error_message",
    "parse_retry_after",
    "redact",
    "shape_error",
    "error_kind",
    "status_is_retryable",
    "truncated_error",
]

MAX_REASON_CHARS = 300
RETRYABLE_STATUSES = frozenset({408, 409, 429})


class ProviderError(Exception):
    """A call that produced no answer.

    ``reason`` is short, single-line and safe to show an admin (never the API
    key); ``retryable`` says whether the same call may succeed later;
    ``retry_after`` is the provider's requested wait in seconds, if it gave one.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool = False,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after

    def __reduce__(self):
        # Picklable (Celery stores exceptions): rebuild from the reason, then the attributes.
        return (self.__class__, (self.reason,), self.__dict__.copy())

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.reason!r}, retryable={self.retryable}, "
            f"status_code={self.status_code}, retry_after={self.retry_after})"
        )


# Shapes of common provider keys, redacted even when a provider echoes a key
# other than the one sent (or a transformed one).
_KEY_SHAPES = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.]{6,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def redact(text: str, secret: str = "") -> str:
    """Make ``text`` safe for ``ProviderError.reason``: no secret, one line, bounded."""
    text = str(text)
    if secret:
        text = text.replace(secret, "[redacted]")
    text = _KEY_SHAPES.sub("[redacted]", text)
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "…"
    return text


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait before retrying, from ``retry-after-ms`` (OpenAI-style,
    preferred because it is precise) or ``Retry-After`` (delta-seconds or an
    HTTP date). None when absent or unreadable; never negative."""
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    milliseconds = _non_negative_float(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _non_negative_float(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _non_negative_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return number


def error_kind(error: ProviderError) -> str:
    """A short, bounded name for what went wrong (a metrics label): rate_limited, auth, client_error,
    server_error, network (no HTTP answer, a timeout or a cut stream) or refused (an answer that
    could not be used, or a call that was not allowed)."""
    status = error.status_code
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status is not None and status >= 500:
        return "server_error"
    if status is not None and status >= 400:
        return "client_error"
    return "network" if error.retryable else "refused"


def status_is_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def shape_error(what: str) -> ProviderError:
    """A 200 response that is not what the wire format promises: retrying the
    same request will not change it."""
    return ProviderError(f"unexpected response: {what}", retryable=False)


def truncated_error(what: str) -> ProviderError:
    return ProviderError(f"stream ended early: {what}", retryable=True)


def error_message(data: Any) -> str | None:
    """The human message of an error body in either wire format (or a few common variants)."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type") or error.get("code")
        if isinstance(message, str) and message:
            return f"{message} ({kind})" if isinstance(kind, str) and kind else message
        if isinstance(kind, str):
            return kind
    if isinstance(error, str) and error:
        return error
    for key in ("message", "detail"):
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    return None
