"""System checks of the battles app: stored API keys need usable Fernet keys."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from battles.catalog import keys
from battles.models import LLM


@register(Tags.security)
def check_fernet_keys(app_configs, **kwargs):
    return [Error(problem, id="battles.E001") for problem in keys.fernet_key_problems(settings.ARENA_FERNET_KEYS)]


@register(Tags.database)
def check_stored_api_keys(app_configs, databases=None, **kwargs):
    """Stored keys that cannot be decrypted make every call of their LLM fail.

    Tagged ``database``: runs with ``migrate`` and ``check --database default``.
    """
    if not databases or "default" not in databases:
        return []
    try:
        tokens = list(LLM.objects.exclude(api_key_encrypted="").values_list("name", "api_key_encrypted"))
    except DatabaseError:
        return []  # not migrated yet: nothing can be stored
    if not tokens:
        return []
    if not settings.ARENA_FERNET_KEYS:
        return [
            Error(
                f"{len(tokens)} LLM(s) have an API key stored encrypted, but ARENA_FERNET_KEYS is not set.",
                hint="Set ARENA_FERNET_KEYS to the Fernet key(s) the keys were stored with.",
                id="battles.E002",
            )
        ]
    if keys.fernet_key_problems(settings.ARENA_FERNET_KEYS):
        return []  # battles.E001 already says why
    unreadable = [name for name, token in tokens if not keys.can_decrypt(token)]
    if unreadable:
        return [
            Error(
                "No key of ARENA_FERNET_KEYS decrypts the stored API key of: " + ", ".join(unreadable) + ".",
                hint="Add back the Fernet key they were stored with (after the current first key), "
                "then run manage.py rotate_api_keys.",
                id="battles.E003",
            )
        ]
    return []
