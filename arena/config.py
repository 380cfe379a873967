"""Environment parsing and the env → configuration decisions.

Every function here is pure apart from reading ``os.environ`` in the
``env_*`` helpers, so the decisions can be tested without Django settings.
A malformed value raises ``ImproperlyConfigured`` naming the variable, at
startup, rather than surfacing later as odd behaviour.
"""

from __future__ import annotations

import base64
import ipaddress
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


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated networks or addresses (``10.0.0.0/8, 192.168.1.7``)."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a network (e.g. 10.0.0.0/8) or an address") from None
    return networks


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
            # Embedded mode runs tasks on threads beside the requests: WAL lets readers go on while
            # one writes, and IMMEDIATE takes the write lock when a transaction starts, so that
            # two writers wait their turn (timeout) instead of failing as "database is locked".
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
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
        # Embedded mode: in this process, safe to send to from the task threads too.
        return {"BACKEND": "arena.embedded_layer.ThreadSafeInMemoryChannelLayer"}
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


_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def oidc_problems(
    *, issuer: str, client_id: str, client_secret: str, scopes: str, password_login: bool
) -> list[tuple[str, str]]:
    """Single sign-on settings that cannot work, as (id, message) pairs. OIDC_ISSUER unset means
    single sign-on is off; then only PASSWORD_LOGIN=0 is a problem (no one but a superuser at the
    break-glass page could sign in)."""
    if not issuer:
        if not password_login:
            return [
                (
                    "arena.E010",
                    "PASSWORD_LOGIN=0 but OIDC_ISSUER is not set: nobody could sign in except a superuser "
                    "at /accounts/break-glass/.",
                )
            ]
        return []
    problems = []
    parts = urlsplit(issuer)
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if not parts.hostname or (parts.scheme != "https" and not loopback) or parts.query or parts.fragment:
        problems.append(
            (
                "arena.E011",
                f"OIDC_ISSUER={issuer!r} must be the provider's https:// issuer URL (its discovery document is "
                "OIDC_ISSUER/.well-known/openid-configuration); plain http only on loopback, for tests.",
            )
        )
    if not client_id or not client_secret:
        problems.append(("arena.E012", "OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too."))
    if "openid" not in scopes.split():
        problems.append(("arena.E013", f"OIDC_SCOPES={scopes!r} must include openid (it asks for the ID token)."))
    return problems


def content_security_policy(*, form_targets: list[str]) -> dict:
    """django-csp's policy: every page's scripts, styles, images, fonts and connections from this
    origin only (websockets included: CSP3 ``'self'`` covers ws/wss to the same host), no inline
    script, handler or style, no plugins, no framing, no ``<base>``.

    ``form_targets``: origins, besides this one, that a form may be sent to; browsers also check
    the redirects that follow a form's POST, so signing out at an identity provider (a POST here,
    then a redirect to its end-session endpoint) needs that provider's origin.
    """
    self_only = ["'self'"]
    return {
        "DIRECTIVES": {
            "default-src": self_only,
            "script-src": self_only,
            "style-src": self_only,
            # data: for the empty favicon of base.html (no request for /favicon.ico).
            "img-src": ["'self'", "data:"],
            "font-src": self_only,
            "connect-src": self_only,
            "object-src": ["'none'"],
            "base-uri": ["'none'"],
            "frame-ancestors": ["'none'"],
            "form-action": ["'self'", *form_targets],
        }
    }


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute http(s) URL; empty for anything else (a malformed
    OIDC_ISSUER is reported by the system checks, arena.E011)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"
