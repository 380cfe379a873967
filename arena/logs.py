"""Logs: one JSON object per line when ``LOG_FORMAT=json``, each carrying the request (or task) id.

``RequestIdMiddleware`` takes the proxy's ``X-Request-ID`` when it sent a sane one (nginx:
``proxy_set_header X-Request-ID $request_id``) or makes one, answers with it, and logs one access
line per request (``arena.access``), so that a request's lines can be found together. In a Celery
worker the task id takes its place.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from celery import current_task
from django.http import HttpRequest

request_id: ContextVar[str] = ContextVar("request_id", default="")
access_log = logging.getLogger("arena.access")

SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
QUIET_PATHS = frozenset({"/healthz", "/metrics"})  # polled every few seconds: not worth a line each
# Attributes every LogRecord has; anything else was passed as ``extra`` and goes into the object.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def current_id() -> str:
    """The id of the request or Celery task this code runs for ("" outside both)."""
    value = request_id.get()
    if value:
        return value
    task = current_task
    return str(getattr(task.request, "id", "") or "") if task else ""


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        given = request.headers.get("X-Request-ID", "")
        value = given if SANE_ID.match(given) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a refused request ("Not Found: …") after the
        # middleware has returned, and the next request of this thread or task sets its own.
        request_id.set(value)
        started = time.monotonic()
        response = self.get_response(request)
        response["X-Request-ID"] = value
        if request.path not in QUIET_PATHS:
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
        return response


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time, level, logger, message, request_id, extras, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = current_id()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES and key not in entry and isinstance(value, str | int | float | bool):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(*, log_format: str, level: str) -> dict:
    """Django's LOGGING for ``LOG_FORMAT`` (plain or json) and ``LOG_LEVEL``."""
    formatter = (
        {"()": "arena.logs.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.server": {"level": "WARNING"},
            # httpx logs every request at INFO; provider calls are summarised by our own code.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
