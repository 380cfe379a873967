"""One row per recorded change. Rows are only ever inserted.

Three layers hold that: the model and its queryset refuse update and delete,
the admin has no add, change or delete permission, and on Postgres a trigger
(migration 0002) refuses UPDATE and DELETE on the table whatever the client.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """An attempt to change or delete an audit entry."""


def shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit entries cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Audit entries cannot be changed.")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AppendOnlyError("Audit entries cannot be changed.")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LLM_CREATED = "llm.created", "LLM created"
        LLM_EDITED = "llm.edited", "LLM edited"
        LLM_RETIRED = "llm.retired", "LLM retired"
        LLM_DELETED = "llm.deleted", "LLM deleted"
        KEY_SET = "llm.key_set", "API key set"
        KEY_ROTATED = "llm.key_rotated", "API key replaced"
        KEY_CLEARED = "llm.key_cleared", "API key cleared"
        KEY_REENCRYPTED = "llm.key_reencrypted", "API key re-encrypted"
        POOL_UPLOADED = "pool.uploaded", "Prompts uploaded"
        PROMPT_EDITED = "prompt.edited", "Prompt edited"
        PROMPT_HIDDEN = "prompt.hidden", "Prompt hidden"
        PROMPT_SHOWN = "prompt.shown", "Prompt shown again"
        GENERATIONS_IMPORTED = "generations.imported", "Generations imported"
        VOTES_IMPORTED = "votes.imported", "Votes imported"
        BENCHMARKS_IMPORTED = "benchmarks.imported", "Benchmark scores imported"
        JOB_STARTED = "job.started", "Generation job started"
        JOB_CANCELLED = "job.cancelled", "Generation job cancelled"
        JOB_RERUN = "job.rerun", "Generation job run again"
        BREAKER_RESET = "breaker.reset", "Circuit breaker reset"
        VOTE_EXCLUDED = "vote.excluded", "Vote excluded"
        VOTE_RESTORED = "vote.restored", "Vote restored"
        ROLES_CHANGED = "user.roles", "Roles changed"
        ACCESS_CHANGED = "user.access", "Staff, superuser or active changed"
        USER_PERMISSIONS = "user.permissions", "User permissions changed"
        GROUP_PERMISSIONS = "group.permissions", "Group permissions changed"
        API_TOKEN_CREATED = "api_token.created", "API token created"
        API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # A user who acted cannot be deleted (deactivate them instead): the trail keeps its link.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="The signed-in user who made the change; empty for a sign-in, a command or the system.",
    )
    actor_label = models.CharField(
        "actor",
        max_length=150,
        editable=False,
        help_text="The actor's username at the time, or what acted: sign-in, manage.py <command>, system.",
    )
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True, editable=False)
    object_type = models.CharField(max_length=40, editable=False, help_text="e.g. llm, pool, prompt, job, user.")
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    object_repr = models.CharField("object", max_length=200, blank=True, editable=False)
    before = models.JSONField(null=True, blank=True, editable=False)
    after = models.JSONField(null=True, blank=True, editable=False)
    note = models.TextField(blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label}: {self.get_action_display()} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries cannot be deleted.")

    def changes(self) -> list[tuple[str, str, str]]:
        """(field, before, after) for display; "" where a side has no value."""
        before, after = self.before or {}, self.after or {}
        if not isinstance(before, dict) or not isinstance(after, dict):
            return [("", shown(self.before), shown(self.after))]
        return [(key, shown(before.get(key)), shown(after.get(key))) for key in dict.fromkeys([*before, *after])]
