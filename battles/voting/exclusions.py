"""An admin excludes votes from the boards, or restores them; both are recorded in the audit trail.

An excluded vote is kept, flagged ``excluded_by_admin`` (like any flagged vote it is
left out of the default board). Restoring clears every flag and marks the vote
``restored_by_admin``, so the outlier check does not flag it again. The boards
are recomputed after commit (``vote_flags_changed``).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from arena.audit.recording import Action, Entry, record_many
from battles.models import ADMIN_EXCLUDED_FLAG, ADMIN_RESTORED_FLAG, Vote
from battles.signals import vote_flags_changed


def label(vote: Vote) -> str:
    return f"vote {vote.pk}: {vote.version_a.label} vs {vote.version_b.label} ({vote.outcome})"


def reflag(votes: QuerySet[Vote], change, action: str, note: str) -> int:
    entries = []
    with transaction.atomic():
        for vote in votes.select_for_update(of=("self",)).select_related("version_a__llm", "version_b__llm"):
            before = {"flagged": vote.flagged, "flags": list(vote.flags)}
            flags, flagged = change(list(vote.flags))
            if (flags, flagged) == (before["flags"], before["flagged"]):
                continue
            Vote.objects.filter(pk=vote.pk).update(flags=flags, flagged=flagged)
            entries.append(
                Entry(action, "vote", vote.pk, label(vote), before, {"flagged": flagged, "flags": flags}, note)
            )
        record_many(entries)
        count = len(entries)
        if count:
            transaction.on_commit(lambda: vote_flags_changed.send(sender=Vote, count=count))
    return count


def exclude_votes(*, votes: QuerySet[Vote], note: str = "") -> int:
    """Exclude the votes from the boards (kept, flagged); returns how many changed."""

    def change(flags):
        return [f for f in flags if f not in (ADMIN_EXCLUDED_FLAG, ADMIN_RESTORED_FLAG)] + [ADMIN_EXCLUDED_FLAG], True

    return reflag(votes, change, Action.VOTE_EXCLUDED, note)


def restore_votes(*, votes: QuerySet[Vote], note: str = "") -> int:
    """Count flagged or excluded votes again; returns how many changed."""

    def change(flags):
        return [ADMIN_RESTORED_FLAG], False

    return reflag(votes.filter(flagged=True), change, Action.VOTE_RESTORED, note)
