"""Environment parsing and the env → configuration decisions.

Every function here is pure apart from reading ``os.environ`` in the
``env_*`` helpers, so the decisions can be tested without Django settings.
A malformed value raises ``ImproperlyConfigured`` naming the variable, at
startup, rather than surfacing later as odd behaviour.
"""

from __future__ import annotations

import base64
import math
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def env_spread(name: str, default: float) -> float:
    """A finite number ≥ 0 (a spread or a width; 0 switches the thing off)."""
    value = env_float(name, default)
    if not (math.isfinite(value) and value >= 0):
        raise ImproperlyConfigured(f"{name}={os.environ.get(name)!r} must be a finite number of at least 0")
    return value


def env_probability(name: str, default: float) -> float:
    """A number strictly between 0 and 1 (a confidence level)."""
    value = env_float(name, default)
    if not 0 < value < 1:
        raise ImproperlyConfigured(f"{name}={os.environ.get(name)!r} must be a number between 0 and 1 (exclusive)")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """``HEADER,value`` (e.g. ``HTTP_X_FORWARDED_PROTO,https``): the request header a TLS-terminating
    proxy sets, and the value that means the client used HTTPS. Unset or empty: None."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    header, _, value = (part.strip() for part in raw.partition(","))
    if not header.startswith("HTTP_") or not value or "," in value:
        raise ImproperlyConfigured(
            f"{name}={raw!r} must be HEADER,value with a request.META name, e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    return header, value


def embedded_secret_key(base_dir: Path) -> str:
    """A per-checkout secret for embedded mode, kept in ``var/secret_key``.

    Real deployments set ``SECRET_KEY``; the system checks refuse a missing
    one when a real database is configured.
    """
    path = base_dir / "var" / "secret_key"
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        # Created readable by its owner only: the key signs sessions. O_EXCL: two processes starting
        # at once must not write two different keys.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
        return key
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # written by an earlier version, readable by others
    return key


def database(url: str, sqlite_path: Path) -> dict:
    """Django DATABASES entry for ``DATABASE_URL``, SQLite when unset."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(sqlite_path),
            "OPTIONS": {"timeout": 20},
        }
    scheme = urlsplit(url).scheme
    if scheme not in {"postgres", "postgresql", "sqlite"}:
        raise ImproperlyConfigured(f"DATABASE_URL scheme {scheme!r} is not supported (use postgres://… or sqlite:///…)")
    try:
        parsed = dj_database_url.parse(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if parsed["ENGINE"].endswith("postgresql"):
        parsed["CONN_MAX_AGE"] = 60
        parsed["CONN_HEALTH_CHECKS"] = True
    return dict(parsed)


def _check_redis_url(url: str) -> None:
    if urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")


def cache(redis_url: str, *, timeout: float = 0.2, retry_after: float = 2.0) -> dict:
    """The cache: Redis when configured, with ``timeout`` seconds per socket operation and, after a
    failure, skipped for ``retry_after`` seconds (``arena.redis_cache``: a miss, never an error)."""
    if not redis_url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    _check_redis_url(redis_url)
    return {
        "BACKEND": "arena.redis_cache.FailSoftRedisCache",
        "LOCATION": redis_url,
        "OPTIONS": {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry_after": retry_after},
    }


def channel_layer(redis_url: str) -> dict:
    if not redis_url:
        return {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    _check_redis_url(redis_url)
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [redis_url]},
    }


def configuration_problems(
    *, database_engine: str, broker_url: str, channel_backend: str, cache_backend: str, secret_key_from_env: bool
) -> list[tuple[str, str]]:
    """Half-configured combinations, as (id, message) pairs.

    A Celery broker means work happens in another process; that process can
    only reach browsers through a shared channel layer and only sees the same
    data through a shared database. Each mismatch silently drops progress
    updates or votes, so it is an error, not a warning.
    """
    problems = []
    in_memory_layer = channel_backend.endswith("InMemoryChannelLayer")
    if broker_url and in_memory_layer:
        problems.append(
            (
                "arena.E001",
                "CELERY_BROKER_URL is set but the channel layer is in-memory: workers could not "
                "reach websockets. Set REDIS_URL so channels-redis is used.",
            )
        )
    if broker_url and database_engine.endswith("sqlite3"):
        problems.append(
            (
                "arena.E002",
                "A Celery broker is configured with a SQLite database: workers and web would not "
                "share data reliably. Set DATABASE_URL to Postgres.",
            )
        )
    if broker_url and cache_backend.endswith("LocMemCache"):
        problems.append(
            (
                "arena.E003",
                "A Celery broker is configured with a per-process cache: rate limits and debouncing "
                "would not be shared. Set REDIS_URL.",
            )
        )
    if database_engine.endswith("postgresql") and not secret_key_from_env:
        problems.append(
            (
                "arena.E004",
                "DATABASE_URL points at a real database but SECRET_KEY is not set.",
            )
        )
    return problems


def embedded_fernet_key(base_dir: Path) -> str:
    """A per-checkout key for stored API keys in embedded mode, kept in ``var/fernet_key``.

    Real deployments set ``ARENA_FERNET_KEYS``; a key made here must be copied
    into it (first or last) before moving the database elsewhere.
    """
    path = base_dir / "var" / "fernet_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as f:
        f.write(key)
    return key
