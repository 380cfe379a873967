"""LLMs an admin configures: create, version their settings, rotate stored keys, retire.

Every write checks first (base URL policy, key reference), then writes in one
transaction. Settings that change what a model answers are versioned, so
answers and votes keep pointing at the version that produced them. Every change
is recorded in the audit trail (``record_llm_saved``): that a key was set,
replaced or cleared, never the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from arena.audit.recording import Action, changed_fields, record
from battles.catalog import keys
from battles.core.integrity import identity_terms as build_identity_terms
from battles.egress import endpoints, url_policy
from battles.models import LLM, Generation, LLMVersion

VERSIONED_FIELDS = ("model_id", "temperature", "max_tokens", "system_prompt")
AUDITED_LLM_FIELDS = (
    "name",
    "provider",
    "base_url",
    "status",
    "api_key_env",
    "price_input_per_mtok",
    "price_output_per_mtok",
    "max_concurrency",
    "requests_per_minute",
    "tokens_per_minute",
    "monthly_spend_cap",
)
# Compared to tell a key set, replaced or cleared; never recorded as such.
KEY_MARKERS = ("key", "key_set_at")


class InvalidLLMSettings(ValueError):
    """An LLM configuration that was not saved; ``message`` is safe to show (never a key)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_llm_endpoint(*, base_url: str, api_key_env: str, has_stored_key: bool) -> str | None:
    """Raise InvalidLLMSettings for a refused base URL or key reference.

    Returns a warning when the URL's host does not resolve from here (saved
    anyway: every call checks the URL again).
    """
    if api_key_env:
        problem = keys.env_name_problem(api_key_env)
        if problem:
            raise InvalidLLMSettings(problem)
        if has_stored_key:
            raise InvalidLLMSettings("Use either an environment variable or a stored API key, not both.")
    if not base_url:
        return None
    try:
        return endpoints.configuration_warning(base_url)
    except url_policy.URLRefused as exc:
        raise InvalidLLMSettings(f"Base URL refused: {exc.reason}") from None


@sensitive_variables("api_key")
def create_llm(
    *,
    name: str,
    provider: str,
    base_url: str,
    model_id: str,
    api_key_env: str = "",
    api_key: str = "",
    temperature: float | None = None,
    max_tokens: int = 1024,
    system_prompt: str = "",
    price_input_per_mtok: Decimal | float = 0,
    price_output_per_mtok: Decimal | float = 0,
    imported: bool = False,
    status: str = LLM.Status.ACTIVE,
) -> LLM:
    """Create an LLM and its version 1.

    ``api_key`` is stored encrypted (see ``battles.keys``); ``api_key_env``
    names a variable instead. Raises InvalidLLMSettings for a refused base URL
    or key reference, and keys.KeyStoreError when a key is given but no
    Fernet key is configured.
    """
    check_llm_endpoint(base_url=base_url, api_key_env=api_key_env, has_stored_key=bool(api_key))
    problem = keys.api_key_problem(api_key) if api_key else None
    if problem:
        raise InvalidLLMSettings(problem)
    encrypted = keys.encrypt(api_key) if api_key else ""
    with transaction.atomic():
        llm = LLM.objects.create(
            name=name,
            provider=provider,
            base_url=base_url,
            api_key_env=api_key_env,
            api_key_encrypted=encrypted,
            api_key_set_at=timezone.now() if encrypted else None,
            price_input_per_mtok=Decimal(str(price_input_per_mtok)),
            price_output_per_mtok=Decimal(str(price_output_per_mtok)),
            imported=imported,
            status=status,
        )
        LLMVersion.objects.create(
            llm=llm,
            number=1,
            model_id=model_id,
            temperature=temperature,
            max_tokens=max_tokens,
            system_prompt=system_prompt,
        )
        record_llm_saved(llm=llm, before=None)
    return llm


def audit_state(llm: LLM) -> dict:
    """What the audit trail compares for an LLM: its settings and current version, the key's source only."""
    version = llm.current_version()
    state = {field: getattr(llm, field) for field in AUDITED_LLM_FIELDS}
    state["key"] = llm.key_source or "none"
    state["key_set_at"] = llm.api_key_set_at
    state["version"] = version.number if version else None
    for field in VERSIONED_FIELDS:
        state[field] = getattr(version, field) if version else None
    return state


def key_action(before: dict, after: dict) -> str | None:
    if after["key"] == "stored" and before["key"] != "stored":
        return Action.KEY_SET
    if after["key"] == "stored" and before["key_set_at"] != after["key_set_at"]:
        return Action.KEY_ROTATED
    if before["key"] == "stored" and after["key"] != "stored":
        return Action.KEY_CLEARED
    return None


def record_llm_saved(*, llm: LLM, before: dict | None) -> None:
    """Record what changed on ``llm`` since ``before`` (its ``audit_state``; None when just created).

    Call in the transaction that saved it. A retirement, a key change and the
    other changes are separate entries, so that each can be filtered for.
    """
    after = audit_state(llm)
    target: dict[str, Any] = {"object_type": "llm", "object_id": llm.pk, "object_repr": llm.name}
    if before is None:
        record(Action.LLM_CREATED, after={k: v for k, v in after.items() if k != "key_set_at"}, **target)
        if after["key"] == "stored":
            record(Action.KEY_SET, before={"key": "none"}, after={"key": "stored"}, **target)
        return
    action = key_action(before, after)
    if action:
        record(action, before={"key": before["key"]}, after={"key": after["key"]}, **target)
    old, new = changed_fields(
        {k: v for k, v in before.items() if k not in KEY_MARKERS},
        {k: v for k, v in after.items() if k not in KEY_MARKERS},
    )
    if new.get("status") == LLM.Status.RETIRED:
        record(Action.LLM_RETIRED, before={"status": old.pop("status")}, after={"status": new.pop("status")}, **target)
    if new or old:
        note = f"settings saved as version {after['version']}" if "version" in new else ""
        record(Action.LLM_EDITED, before=old, after=new, note=note, **target)


def retire_llm(*, llm: LLM) -> bool:
    """Retire an active LLM (kept for history, no longer served); False when it was not active."""
    with transaction.atomic():
        if not LLM.objects.filter(pk=llm.pk, status=LLM.Status.ACTIVE).update(status=LLM.Status.RETIRED):
            return False
        target: dict[str, Any] = {"object_type": "llm", "object_id": llm.pk, "object_repr": llm.name}
        record(Action.LLM_RETIRED, before={"status": LLM.Status.ACTIVE}, after={"status": LLM.Status.RETIRED}, **target)
    return True


def update_llm_settings(*, llm: LLM, **changes) -> LLMVersion:
    """Apply versioned changes; returns the current version, new if anything changed.

    Answers and votes keep pointing at the version that produced them, so a
    changed model id, sampling setting or system prompt never rewrites history.
    """
    unknown = set(changes) - set(VERSIONED_FIELDS)
    if unknown:
        raise ValueError(f"not versioned settings: {sorted(unknown)}")
    with transaction.atomic():
        LLM.objects.select_for_update().get(pk=llm.pk)
        current = llm.versions.order_by("-number").first()
        if current is None:  # every LLM is created with its version 1
            raise ValueError(f"LLM {llm.pk} has no version")
        values = {field: getattr(current, field) for field in VERSIONED_FIELDS}
        values.update(changes)
        if all(getattr(current, f) == values[f] for f in VERSIONED_FIELDS):
            return current
        return LLMVersion.objects.create(llm=llm, number=current.number + 1, **values)


@dataclass(frozen=True)
class KeyRotation:
    rotated: int
    undecryptable: list[str]  # names of LLMs whose key no configured Fernet key opens


def rotate_stored_api_keys() -> KeyRotation:
    """Re-encrypt every stored API key under the first key of ARENA_FERNET_KEYS.

    Each row moves by compare-and-set on its old token, so a key changed by an
    admin meanwhile is left as the admin set it. Raises keys.KeysNotConfigured
    when no Fernet key is configured.
    """
    keys.encrypt("")  # fail early and clearly when nothing is configured
    rotated, undecryptable = 0, []
    for pk, name, token in LLM.objects.exclude(api_key_encrypted="").values_list("pk", "name", "api_key_encrypted"):
        try:
            new_token = keys.rotate(token)
        except keys.UndecryptableKey:
            undecryptable.append(name)
            continue
        with transaction.atomic():
            if LLM.objects.filter(pk=pk, api_key_encrypted=token).update(api_key_encrypted=new_token):
                rotated += 1
                record(
                    Action.KEY_REENCRYPTED,
                    object_type="llm",
                    object_id=pk,
                    object_repr=name,
                    note="stored key re-encrypted under the first key of ARENA_FERNET_KEYS (the key itself unchanged)",
                )
    return KeyRotation(rotated=rotated, undecryptable=undecryptable)


def retire_or_delete_llm(*, llm: LLM) -> str:
    """Delete an LLM nothing depends on; retire one with answers or votes."""
    has_history = Generation.objects.filter(llm_version__llm=llm).exists()
    if has_history:
        retire_llm(llm=llm)
        return "retired"
    with transaction.atomic():
        before = audit_state(llm)
        pk = llm.pk
        llm.versions.all().delete()
        llm.delete()
        record(Action.LLM_DELETED, object_type="llm", object_id=pk, object_repr=before["name"], before=before)
    return "deleted"


def identity_terms() -> set[str]:
    """Every name or model id an answer could use to give its model away (plus the configured aliases)."""
    names = []
    for name, model_id in LLMVersion.objects.values_list("llm__name", "model_id"):
        names += [name, model_id]
    return build_identity_terms(names, extra=settings.ARENA_IDENTITY_ALIASES)
