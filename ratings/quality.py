"""Voter quality: the outlier test over the stored votes, and the integrity summary."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.db import transaction

from arena.audit.recording import Action, Entry, record_many
from arena.db import stream
from battles.models import ADMIN_RESTORED_FLAG, Battle, Vote
from ratings.engine.outliers import sequential_outlier_test
from ratings.models import VoterCheck
from ratings.signals import votes_reflagged

OUTLIER_FLAG = "outlier_voter"


def detect_outlier_voters(*, alpha: float | None = None) -> list[VoterCheck]:
    """Test every non-insider voter; flag (keep, exclude) the votes of implausible ones.

    Returns the checks of the flagged voters. Votes of a voter who is no
    longer flagged lose the outlier flag again; votes an admin restored are
    left alone. Each vote that changes is recorded in the audit trail.
    """
    alpha = settings.ARENA_OUTLIER_ALPHA if alpha is None else alpha
    rows = (
        Vote.objects.filter(insider=False, imported=False, voter__isnull=False)
        .order_by("created_at", "id")
        .values_list("voter_id", "version_a_id", "version_b_id", "outcome")
    )
    results = sequential_outlier_test(stream(rows, 10_000), alpha=alpha)
    flagged_voters = {r.voter for r in results if r.flagged}
    with transaction.atomic():
        for result in results:
            VoterCheck.objects.update_or_create(
                voter_id=result.voter,
                defaults={
                    "votes": result.votes,
                    "statistic": result.statistic,
                    "p_value": result.p_value,
                    "flagged": result.flagged,
                },
            )
        entries = []
        for vote in Vote.objects.filter(voter_id__in=flagged_voters).only("flags", "flagged"):
            if OUTLIER_FLAG not in vote.flags and ADMIN_RESTORED_FLAG not in vote.flags:
                entries.append(reflagged(vote, [*vote.flags, OUTLIER_FLAG], Action.VOTE_EXCLUDED))
        for vote in Vote.objects.exclude(voter_id__in=flagged_voters).filter(flagged=True).only("flags", "flagged"):
            if OUTLIER_FLAG in vote.flags:
                entries.append(reflagged(vote, [f for f in vote.flags if f != OUTLIER_FLAG], Action.VOTE_RESTORED))
        changed = record_many(entries)
    if changed:
        transaction.on_commit(lambda: votes_reflagged.send(sender=Vote, count=changed))
    return list(VoterCheck.objects.filter(flagged=True).select_related("voter"))


def reflagged(vote: Vote, flags: list[str], action: str) -> Entry:
    """Save the vote's new flags; the audit entry to record for it."""
    before = {"flagged": vote.flagged, "flags": list(vote.flags)}
    vote.flags, vote.flagged = flags, bool(flags)
    vote.save(update_fields=["flags", "flagged"])
    after = {"flagged": vote.flagged, "flags": flags}
    return Entry(action, "vote", vote.pk, f"vote {vote.pk}", before, after, "outlier voter check")


def integrity_summary() -> dict:
    flag_counts: Counter[str] = Counter()
    for flags in stream(Vote.objects.filter(flagged=True).values_list("flags", flat=True), 5000):
        flag_counts.update(flags)
    return {
        "votes": Vote.objects.count(),
        "flagged_votes": Vote.objects.filter(flagged=True).count(),
        "insider_votes": Vote.objects.filter(insider=True).count(),
        "flags": sorted(flag_counts.items(), key=lambda item: -item[1]),
        "leak_battles": Battle.objects.filter(identity_leak=True).count(),
        "recent_leaks": list(
            Battle.objects.filter(identity_leak=True)
            .select_related("version_a__llm", "version_b__llm")
            .order_by("-created_at")[:20]
        ),
        "outlier_voters": list(VoterCheck.objects.filter(flagged=True).select_related("voter").order_by("p_value")),
    }
