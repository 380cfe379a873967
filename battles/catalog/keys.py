"""Provider API keys: an environment variable's name, or the key encrypted at rest.

Stored keys are Fernet tokens made with the keys in ``ARENA_FERNET_KEYS``
(comma-separated): the first key encrypts, every key decrypts, so a new key
is put first, ``manage.py rotate_api_keys`` re-encrypts the stored keys with
it, and only then is the old key removed. A plain key lives only in memory,
for the duration of one call; nothing here logs it or puts it in a message.
"""

from __future__ import annotations

import os
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class KeyStoreError(Exception):
    """A stored key that cannot be used; ``message`` is safe to show and log."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class KeysNotConfigured(KeyStoreError):
    pass


class UndecryptableKey(KeyStoreError):
    pass


# Shapes of provider keys that an admin may paste into the variable-name field.
# Keys carry lower-case vendor prefixes (sk-, sk_live_, hf_, gsk_, ...); variable names are
# conventionally upper case (HF_TOKEN), so the prefix test is case-sensitive.
_KEY_PREFIXES = re.compile(r"^(sk|pk|rk|hf|gsk|xai|ghp|gho|glpat)[-_]|^(AKIA|ASIA)[A-Z0-9]{16}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def fernet_key_problems(values: list[str]) -> list[str]:
    """Why the configured Fernet keys are unusable, by position (never by value)."""
    problems = []
    for position, value in enumerate(values, start=1):
        try:
            Fernet(value)
        except (ValueError, TypeError):
            problems.append(
                f"ARENA_FERNET_KEYS entry {position} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')."
            )
    return problems


def is_configured() -> bool:
    return bool(settings.ARENA_FERNET_KEYS)


def _multifernet() -> MultiFernet:
    values = list(settings.ARENA_FERNET_KEYS)
    if not values:
        raise KeysNotConfigured(
            "Stored API keys need ARENA_FERNET_KEYS, which is not set. Set it, or name an "
            "environment variable that holds the key instead."
        )
    problems = fernet_key_problems(values)
    if problems:
        raise KeysNotConfigured(problems[0])
    return MultiFernet([Fernet(value) for value in values])


@sensitive_variables("plain")
def encrypt(plain: str) -> str:
    """The Fernet token of ``plain`` under the first configured key."""
    return _multifernet().encrypt(plain.encode("utf-8")).decode("ascii")


@sensitive_variables("plain")
def decrypt(token: str) -> str:
    try:
        plain = _multifernet().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        raise UndecryptableKey(
            "The stored API key cannot be decrypted with ARENA_FERNET_KEYS (was the key it was "
            "encrypted with removed before rotate_api_keys ran?)."
        ) from None
    return plain.decode("utf-8")


def rotate(token: str) -> str:
    """``token`` re-encrypted under the first configured key."""
    try:
        return _multifernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise UndecryptableKey("The stored API key cannot be decrypted with any key of ARENA_FERNET_KEYS.") from None


def can_decrypt(token: str) -> bool:
    try:
        _multifernet().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError, KeysNotConfigured):
        return False
    return True


def api_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be sent in an HTTP header, or None. Never repeats the key."""
    if not key.isascii() or not key.isprintable() or " " in key or len(key) > 1000:
        return "An API key is at most 1000 printable ASCII characters, without spaces."
    return None


def env_name_problem(name: str) -> str | None:
    """Why ``name`` is not acceptable as the name of a key variable, or None.

    The message never repeats the value: a pasted key must not be shown back.
    """
    longest_word = max(re.split(r"[^A-Za-z0-9]+", name), key=len)
    looks_random = (
        len(longest_word) >= 20
        and (
            any(c.islower() for c in longest_word)
            + any(c.isupper() for c in longest_word)
            + any(c.isdigit() for c in longest_word)
        )
        >= 2
    )
    if _KEY_PREFIXES.match(name) or looks_random:
        return (
            "This looks like an API key, not the name of an environment variable. Put a key in "
            "'API key (stored encrypted)', or name the variable that holds it, e.g. OPENAI_API_KEY."
        )
    if not _ENV_NAME.match(name) or len(name) > 100:
        return "Enter the NAME of an environment variable (letters, digits and _, not starting with a digit)."
    return None


@sensitive_variables()
def api_key_of(llm) -> str:
    """The key to send for ``llm``: its stored key, else its variable's value, else "".

    Raises KeyStoreError when a stored key cannot be decrypted.
    """
    if llm.api_key_encrypted:
        return decrypt(llm.api_key_encrypted)
    if llm.api_key_env:
        # A value read from a file often ends in a newline, which is not allowed in a header (and
        # header errors quote the value).
        return os.environ.get(llm.api_key_env, "").strip()
    return ""
