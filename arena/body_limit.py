"""Request bodies over ``ARENA_MAX_REQUEST_BYTES`` are refused with a 413 page before they are read.

Django reads a body lazily under WSGI (gunicorn), so there a middleware that looks at Content-Length
is enough. Under ASGI, Django's handler reads the whole body (spooling to disk past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any middleware runs, so ``ASGIBodyLimit`` wraps the application:
a declared Content-Length over the limit is answered at once, without reading, and a body without one
(chunked) is counted as it streams and cut off at the limit. Both need a server that streams the body
to the application rather than buffering it first: gunicorn and uvicorn do, daphne does not (it
queues the whole body in memory), which is why the embedded demo is served by uvicorn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TITLE = "Too large"


def too_large_message() -> str:
    limit_mib = settings.ARENA_MAX_REQUEST_BYTES / (1024 * 1024)
    return f"This request is larger than the limit of {limit_mib:.0f} MiB; send a smaller file or less text."


def too_large_page() -> str:
    try:
        return render_to_string(
            "error.html", {"title": TITLE, "message": too_large_message(), "SITE_NAME": settings.SITE_NAME}
        )
    except Exception:  # noqa: BLE001  (the error page itself must not fail)
        return f"{TITLE}: {too_large_message()}"


def declared_length(value: str | bytes | None) -> int | None:
    """The Content-Length as a number; None when absent or not a plain number (the server rejects those)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return int(text) if text.strip().isdigit() else None


class BodyLimitMiddleware:
    """WSGI: refuses a declared body over the limit before anything reads it (first in MIDDLEWARE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        length = declared_length(request.META.get("CONTENT_LENGTH"))
        if length is not None and length > settings.ARENA_MAX_REQUEST_BYTES:
            response = HttpResponse(too_large_page(), status=413)
            response["Connection"] = "close"  # the unread body must not be taken for the next request
            return response
        return self.get_response(request)


class ASGIBodyLimit:
    """ASGI: the same limit in front of Django's handler, on the declared length and on the bytes received."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.ARENA_MAX_REQUEST_BYTES
        length = declared_length(dict(scope.get("headers", [])).get(b"content-length"))
        if length is not None and length > limit:
            await _send_too_large(send)
            return
        received = 0
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django stops reading on a disconnect and answers nothing; the 413 is sent below.
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted_receive, send)
        if refused:
            await _send_too_large(send)


async def _send_too_large(send: Send) -> None:
    body = too_large_page().encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                # What Django's middleware would have added to a page: the same policy, no sniffing.
                (b"content-security-policy", build_policy().encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
