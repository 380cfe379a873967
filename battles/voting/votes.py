"""Votes: the one vote of a battle, stored with the battle's closing; the voter's own board."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from arena import hot_reads
from arena.process_cache import cached_in_process
from arena.roles import is_insider
from battles.core.integrity import minimum_vote_ms
from battles.models import REASON_TAGS, Battle, BattleTurn, Generation, LLMVersion, Vote
from battles.signals import vote_recorded
from battles.voting import battle_reads, tallies
from battles.voting.progress import adopt_voter_state


class VoteError(Exception):
    """A vote that was not stored; ``message`` is shown to the voter."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class VoteNotAllowed(VoteError):
    status_code = 403


class VoteConflict(VoteError):
    status_code = 409


class VoteLimitReached(VoteError):
    status_code = 429


class VoterUnconfirmed(Exception):
    """The battle's voter was not confirmed as the one voting (``adopt_voter`` refused, or the battle is
    not theirs or does not exist): nothing was stored; vote again with the voter loaded."""


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    replayed: bool  # True when this was a repeat of an already stored vote
    # What the reveal shows, as the vote read it: the battle (with its prompt, answers, versions
    # and their LLMs), a live battle's turns, and the voter's progress after the vote.
    battle: Battle
    turns: list[BattleTurn] = field(default_factory=list)
    progress: dict = field(default_factory=dict)


def _clean_reasons(values) -> list[str]:
    values = list(dict.fromkeys(values))
    unknown = [v for v in values if v not in REASON_TAGS]
    if unknown:
        raise VoteError(f"Unknown reason: {', '.join(unknown)}.")
    return values


@cached_in_process
def all_versions() -> dict[int, LLMVersion]:
    """Every LLM version with its LLM, by id: a small table the reveal names from."""
    return {v.pk: v for v in LLMVersion.objects.select_related("llm")}


def share_versions(battle: Battle) -> None:
    """Give the battle and its answers their versions (with their LLMs) from ``all_versions``.

    Joining them instead would double the relations of the vote's one query, and Postgres then
    spends longer planning it than running it. A version created since the cache was filled
    reloads it.
    """
    versions = all_versions()
    if battle.version_a_id not in versions or battle.version_b_id not in versions:
        all_versions.clear()
        versions = all_versions()
    battle.version_a, battle.version_b = versions[battle.version_a_id], versions[battle.version_b_id]
    battle.generation_a.llm_version = versions[battle.generation_a.llm_version_id]
    battle.generation_b.llm_version = versions[battle.generation_b.llm_version_id]


def turns_of(battle: Battle) -> list[BattleTurn]:
    """A live battle's turns with their prompts and both answers (a pool battle has none)."""
    if not battle.live:
        return []
    return list(battle.turns.select_related("prompt", "generation_a", "generation_b"))


def stored_vote(battle: Battle) -> Vote | None:
    try:
        return battle.vote
    except Vote.DoesNotExist:
        return None


def _answers_of(battle: Battle, turns: list[BattleTurn]) -> list[Generation]:
    """Every answer the voter saw: both sides of every turn of a live battle."""
    if not battle.live:
        return [battle.generation_a, battle.generation_b]
    return [g for turn in turns for g in (turn.generation_a, turn.generation_b)]


def record_vote(
    *,
    battle_code,
    voter=None,
    voter_id: int | None = None,
    adopt_voter: Callable[[Any], bool] | None = None,
    outcome: str,
    reasons_a=(),
    reasons_b=(),
    comment: str = "",
) -> VoteResult:
    """Store the one vote of a battle, closing the battle in the same transaction.

    The voter: ``voter``, a user; or ``voter_id`` with ``adopt_voter``, which is given the battle's
    voter as the locked read loaded it and answers whether that user is the one voting (a view
    checks the session: ``arena.request_user.adopt_user``), so the request loads no user of its
    own. When it answers False, or the battle is not that voter's or does not exist, nothing is
    stored and ``VoterUnconfirmed`` is raised.

    Sending the same outcome again returns the stored vote (``replayed``);
    a different outcome raises ``VoteConflict``. A battle served to someone
    else raises ``VoteNotAllowed``; a live battle whose answers are not all
    complete cannot be voted on. The vote is flagged (kept, excluded from the
    default board) when an answer names a model or the vote came faster than
    anyone can read. Listeners hear ``vote_recorded`` only after commit.

    Three statements for a pool battle (a live one reads its turns too): the locked read, with
    the voter's counts and roles; the compare-and-set that closes the battle; the vote's INSERT,
    which counts it in the voter's tally too (``battles.voting.tallies``).
    The result carries what the reveal shows, so answering needs no further read.
    """
    if voter is None and (voter_id is None or adopt_voter is None):
        raise TypeError("record_vote() takes a voter, or a voter_id with adopt_voter")
    if outcome not in Vote.Outcome.values:
        raise VoteError("That is not a valid choice.")
    reasons_a, reasons_b = _clean_reasons(reasons_a), _clean_reasons(reasons_b)
    comment = (comment or "").replace("\x00", "").strip()[:2000]  # a NUL cannot be stored, and means nothing
    try:
        with transaction.atomic():
            if voter is None:
                battle = battle_reads.locked_battle(battle_code, voter_id)
                if battle is None or adopt_voter is None or not adopt_voter(battle.voter):
                    raise VoterUnconfirmed
                voter = battle.voter
            else:
                battle = battle_reads.locked_battle(battle_code)
            if battle is None:
                raise VoteError("This battle does not exist.")
            if battle.voter_id != voter.pk:
                raise VoteNotAllowed("This battle was served to someone else; your vote was not stored.")
            progress = adopt_voter_state(voter, battle)
            share_versions(battle)
            turns = turns_of(battle)
            existing = stored_vote(battle)
            if existing is None and battle.status == Battle.Status.VOTED:
                # Locked just after a concurrent vote committed: Postgres re-reads the locked row,
                # not the joined one, so the vote is read on its own (only in this race).
                existing = Vote.objects.filter(battle=battle).first()
            if existing is not None:
                return _replay(existing, outcome, battle, turns, progress)
            if battle.status == Battle.Status.FAILED:
                raise VoteConflict("One side of this battle could not answer, so it cannot be voted on.")
            if battle.status != Battle.Status.OPEN:
                raise VoteConflict("This battle was skipped; your vote was not stored.")
            answers = _answers_of(battle, turns)
            if any(g.status != Generation.Status.DONE for g in answers):
                raise VoteConflict("Both answers must be complete before you vote; your vote was not stored.")
            if progress["today"] >= settings.ARENA_DAILY_VOTE_CAP:
                raise VoteLimitReached(
                    f"You have reached today's limit of {settings.ARENA_DAILY_VOTE_CAP} votes; "
                    "this vote was not stored. Thank you — come back tomorrow!"
                )
            now = timezone.now()
            if not _close_voted(battle.pk, now):
                raise VoteConflict("This battle is already closed; your vote was not stored.")
            battle.status, battle.closed_at = Battle.Status.VOTED, now
            served_at = max([battle.created_at] + [g.finished_at for g in answers if g.finished_at])
            time_to_vote_ms = max(0, int((now - served_at).total_seconds() * 1000))
            flags = []
            if battle.identity_leak:
                flags.append("identity_leak")
            # The clock starts at the last answer, so only the last turn's pair is still to read
            # (a live battle's earlier turns were read while the next ones were written).
            minimum = minimum_vote_ms(
                [len(g.text) for g in answers[-2:]],
                base_ms=settings.ARENA_MIN_VOTE_BASE_MS,
                chars_per_second=settings.ARENA_MIN_VOTE_CHARS_PER_SECOND,
            )
            if time_to_vote_ms < minimum:
                flags.append("too_fast")
            vote = Vote(
                battle=battle,
                voter=voter,
                outcome=outcome,
                version_a_id=battle.version_a_id,
                version_b_id=battle.version_b_id,
                time_to_vote_ms=time_to_vote_ms,
                reasons_a=reasons_a,
                reasons_b=reasons_b,
                comment=comment,
                insider=is_insider(voter),
                live=battle.live,
                flagged=bool(flags),
                flags=flags,
                created_at=now,
            )
            # One statement stores the vote and counts it in the voter's tally.
            counted, counted_params = tallies.count_vote(voter.pk, now)
            hot_reads.insert(vote, with_statement=counted, with_params=counted_params)
            # Robust: the vote is committed by then, and a failing receiver must not turn it into an error.
            transaction.on_commit(lambda: vote_recorded.send(sender=Vote, vote=vote), robust=True)
            progress = {**progress, "today": progress["today"] + 1, "total": progress["total"] + 1}
            return VoteResult(vote=vote, replayed=False, battle=battle, turns=turns, progress=progress)
    except IntegrityError:
        # A concurrent request stored the vote first (the one-vote constraint): answer as a replay.
        with transaction.atomic():
            battle = battle_reads.locked_battle(battle_code)
            existing = stored_vote(battle) if battle is not None else None
            if battle is None or existing is None:
                raise
            share_versions(battle)
            return _replay(existing, outcome, battle, turns_of(battle), adopt_voter_state(voter, battle))


def _close_voted(battle_id: int, now) -> bool:
    """Close the open battle as voted (compare-and-set: False when it was not open), as one prepared statement.

    The ORM compiled this UPDATE on every vote: ~0.34 ms of Python and 0.49 ms in all, against
    0.09 and 0.14 prepared (measured on the 500k-vote database)."""
    return bool(
        hot_reads.execute(_close_sql(connection.vendor), [hot_reads.prep_value(Battle, "closed_at", now), battle_id])
    )


@cache
def _close_sql(vendor: str) -> str:
    """The closing UPDATE's SQL for a database vendor (the cache key; names are quoted the vendor's way)."""
    quote = connection.ops.quote_name
    status, closed_at, pk = (hot_reads.quoted_column(Battle, name) for name in ("status", "closed_at", "id"))
    return (
        f"UPDATE {quote(Battle._meta.db_table)}"
        f" SET {status} = {hot_reads.literal(Battle.Status.VOTED)}, {closed_at} = %s"
        f" WHERE {pk} = %s AND {status} = {hot_reads.literal(Battle.Status.OPEN)}"
    )


def _replay(existing: Vote, outcome: str, battle: Battle, turns: list[BattleTurn], progress: dict) -> VoteResult:
    if existing.outcome != outcome:
        raise VoteConflict("You already voted on this battle with a different choice; a vote cannot be changed.")
    return VoteResult(vote=existing, replayed=True, battle=battle, turns=turns, progress=progress)


def personal_leaderboard(*, voter) -> list[dict]:
    """The voter's own board: a smoothed win rate per LLM version over their votes.

    Ties and both-bad count half a win; the rate is (wins + 1) / (battles + 2),
    so a model seen twice cannot top the board on luck alone.
    """
    rows = (
        Vote.objects.filter(voter=voter)
        .values_list("version_a_id", "version_b_id", "outcome")
        .annotate(n=models.Count("id"))
        .order_by()
    )
    wins: dict[int, float] = {}
    battles: dict[int, int] = {}
    for a, b, outcome, n in rows:
        score_a = {"a": 1.0, "b": 0.0}.get(outcome, 0.5)
        for version, score in ((a, score_a), (b, 1.0 - score_a)):
            wins[version] = wins.get(version, 0.0) + score * n
            battles[version] = battles.get(version, 0) + n
    labels = {v.pk: v.label for v in LLMVersion.objects.filter(pk__in=battles).select_related("llm")}
    board = [
        {"model": labels[v], "battles": battles[v], "wins": wins[v], "rate": (wins[v] + 1) / (battles[v] + 2)}
        for v in battles
    ]
    return sorted(board, key=lambda row: (-row["rate"], row["model"]))
