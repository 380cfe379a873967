"""Serving a voter a pool battle: their open one, or a new pair chosen by the pairing policy.

Cheap by design (``new battle`` ≤ 6 queries with session and user, tests assert it): one query
reads the voter's open battle and last battles (the exposure cap's window), one the ids of the
prompts they have battled on (an index-only scan), one reads both chosen versions' answers to the
chosen prompt, one INSERT. Which versions have answers to prompts the voter has not seen, and
which prompts two versions share, come from ``battles.voting.eligibility`` (kept per process);
the answers are read under the full eligibility filter again, so a prompt hidden or an LLM retired
since that was kept is never served. The rating estimates, the identity terms, the category list
and the LLM versions come from ``arena.process_cache`` (seconds old at most). The
pair comes from ``battles.core.pairing`` under the exposure cap of ``battles.core.exposure``;
the prompt and which answer is A are drawn from a cryptographic RNG.
"""

from __future__ import annotations

import secrets
from functools import cache
from typing import NamedTuple, cast

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from arena.hot_reads import ModelColumns, fetch_rows, insert, literal
from arena.process_cache import cached_in_process
from battles.catalog.llms import identity_terms
from battles.core.exposure import WINDOW, choose_within_cap
from battles.core.integrity import find_identity_mentions
from battles.core.pairing import PairingState
from battles.models import Battle, Generation, Prompt
from battles.signals import current_estimates
from battles.voting import eligibility
from battles.voting.votes import all_versions

# Which answer is A, which pair: drawn from the system's CSPRNG.
secure_rng = secrets.SystemRandom()

cached_estimates = cached_in_process(current_estimates)
cached_identity_terms = cached_in_process(lambda: frozenset(identity_terms()))

# The identity terms each answer mentions, by (answer id, hash of its text, terms): every new battle
# checks both its answers (~0.2 ms each against ~50 terms), and an answer is served in many battles.
_mentions_found: dict[tuple[int, int, frozenset[str]], list[str]] = {}
MENTIONS_KEPT = 50_000


def identity_mentions(answer: Generation, terms: frozenset[str]) -> list[str]:
    """``find_identity_mentions`` of the answer's text, remembered in this process."""
    key = (answer.pk, hash(answer.text), terms)
    found = _mentions_found.get(key)
    if found is None:
        if len(_mentions_found) >= MENTIONS_KEPT:
            _mentions_found.clear()
        found = _mentions_found[key] = find_identity_mentions(answer.text, terms)
    return list(found)


@cached_in_process
def categories() -> list[str]:
    """The categories a voter can choose: those of visible prompts, sorted."""
    return sorted(
        c
        for c in Prompt.objects.filter(hidden=False).exclude(category="").values_list("category", flat=True).distinct()
    )


# What serving, the exposure cap and live battles read of the recent battles. Not the leaked
# terms (JSON), nor the prompt and versions: joining and building them per row cost more than the
# rest of the query (the versions come from ``votes.all_versions``).
RECENT_FIELDS = (
    "code",
    "status",
    "live",
    "created_at",
    "voter_id",
    "prompt_id",
    "generation_a_id",
    "generation_b_id",
    "version_a_id",
    "version_b_id",
)


RECENT = ModelColumns(Battle, "b", only=RECENT_FIELDS)


def recent_battles(voter) -> list[Battle]:
    """The voter's last ``WINDOW`` battles (pool and live, any state) and open pool battle, newest first.

    One prepared statement (``arena.hot_reads``): built by the ORM, compiling the query and
    building the instances cost ~6 ms a request. Only the columns serving uses are read (other
    fields and the prompt load on first access); both versions, with their LLMs (for the
    exposure cap), come from the per-process table.
    """
    voter_id = getattr(voter, "pk", voter)  # a user or, as the ORM takes it, their id
    rows = fetch_rows(_recent_sql(connection.vendor), [voter_id, voter_id])
    battles = [cast(Battle, RECENT.instance(row, 0)) for row in rows]
    _share_versions(battles)
    return battles


@cache
def _recent_sql(vendor: str) -> str:
    """The recent battles' SQL for a database vendor (the cache key; names are quoted the vendor's way).

    "id IN (last WINDOW ids UNION open pool ids)": each branch is one index scan, (voter,
    created_at) and (voter, status), that Postgres knows returns a few rows. An OR of two
    conditions read every battle (an IN-subquery inside it: 57 ms at 500k battles) or, with a
    cut-off time, was guessed at hundreds of rows. The LIMIT sits in a derived table, which
    SQLite (embedded mode) takes inside a UNION too.
    """
    last, open_pool = ModelColumns(Battle, "l"), ModelColumns(Battle, "o")
    return (
        f"SELECT {RECENT.select()} FROM {RECENT.table()} WHERE {RECENT.column('id')} IN ("
        f"SELECT r.id FROM (SELECT {last.column('id')} AS id FROM {last.table()}"
        f" WHERE {last.column('voter')} = %s"
        f" ORDER BY {last.column('created_at')} DESC, {last.column('id')} DESC LIMIT {int(WINDOW)}) r"
        f" UNION SELECT {open_pool.column('id')} FROM {open_pool.table()}"
        f" WHERE {open_pool.column('voter')} = %s AND {open_pool.column('status')} = {literal(Battle.Status.OPEN)}"
        f" AND NOT {open_pool.column('live')})"
        f" ORDER BY {RECENT.column('created_at')} DESC, {RECENT.column('id')} DESC"
    )


def _share_versions(battles: list[Battle]) -> None:
    """Give the battles their versions from ``votes.all_versions`` (read again if a version is newer)."""
    versions = all_versions()
    if any(b.version_a_id not in versions or b.version_b_id not in versions for b in battles):
        all_versions.clear()
        versions = all_versions()
    for b in battles:
        b.version_a, b.version_b = versions[b.version_a_id], versions[b.version_b_id]


def recent_pairs(battles: list[Battle]) -> list[tuple[int, int]]:
    """The LLMs of each of the last ``WINDOW`` battles, newest first (the exposure cap's input)."""
    return [(b.version_a.llm_id, b.version_b.llm_id) for b in battles[:WINDOW]]


def current_battle(*, voter, recent: list[Battle] | None = None) -> Battle | None:
    """The voter's open pool battle, so a reload shows the same pair again."""
    recent = recent_battles(voter) if recent is None else recent
    return next((b for b in recent if b.status == Battle.Status.OPEN and not b.live), None)


def pairing_state(version_ids: list[int], families: list[int]) -> PairingState:
    estimates = cached_estimates()
    state = PairingState.unseen(len(version_ids), families, target_halfwidth=25.0)
    if estimates is None:
        return state
    ratings = np.array([estimates.ratings.get(v, 1000.0) for v in version_ids])
    cov = state.covariance.copy()
    for i, vi in enumerate(version_ids):
        for j, vj in enumerate(version_ids):
            value = estimates.covariance.get((vi, vj))
            if value is not None:
                cov[i, j] = value
    votes = np.array([estimates.votes.get(v, 0) for v in version_ids])
    return PairingState(
        ratings,
        cov,
        votes,
        families,
        state.target_halfwidth,
        top1_epsilon=estimates.top1_epsilon,
        top1_confidence=estimates.top1_confidence,
    )


def choose_versions(versions: list[tuple[int, int]], recent: list[Battle], rng, *, exclude=(), **options):
    """Indices of two of ``versions`` ((version id, LLM id) pairs) by the pairing policy, under the cap."""
    state = pairing_state([v for v, _ in versions], [family for _, family in versions])
    return choose_within_cap(
        state,
        rng,
        recent=recent_pairs(recent),
        exclude=exclude,
        floor=settings.ARENA_PAIRING_FLOOR,
        boost_votes=settings.ARENA_NEW_LLM_BOOST_VOTES,
        **options,
    )


class Served(NamedTuple):
    """What ``serve_battle`` served: a battle (None when nothing is left) and whether it is new.

    A new battle holds its prompt and answers, read with it (its page needs no query more); the
    voter's open battle holds only the columns of ``recent_battles``.
    """

    battle: Battle | None
    new: bool


def serve_battle(*, voter, category: str | None = None) -> Served:
    """Serve the voter a battle: their open one, or a new one chosen by the pairing policy.

    An open battle of another category than the one asked for is set aside
    (skipped, so it stays in the data) once a battle of that category exists;
    when the category has nothing left, the open battle stays open for later.
    The battle is None when nothing is left.
    """
    recent = recent_battles(voter)
    existing = current_battle(voter=voter, recent=recent)
    # The open battle's prompt is read (one query) only when a category is asked.
    if existing is not None and (not category or existing.prompt.category == category):
        return Served(existing, new=False)
    if existing is None:
        # One INSERT: no transaction of its own (BEGIN and COMMIT are two more round trips).
        battle = new_battle(voter=voter, category=category, recent=recent)
        return Served(battle, new=battle is not None)
    with transaction.atomic():
        battle = new_battle(voter=voter, category=category, recent=recent)
        if battle is not None:
            skip_battle(battle_code=existing.code, voter=voter)
    # Nothing new in the category: the open battle stays open, and is not served for it.
    return Served(battle, new=battle is not None)


# Choices on a kept eligibility that the database no longer allows (it changed since): choose
# again on a fresh one, a bounded number of times, rather than serve what is no longer eligible.
CHOICES = 3


class Stale(Exception):
    """The kept eligibility offered answers the database no longer serves."""


def new_battle(*, voter, category: str | None = None, recent: list[Battle] | None = None) -> Battle | None:
    """A new battle chosen by the pairing policy, or None when nothing is left.

    The pair comes from ``battles.core.pairing`` (active sampling with a uniform floor and a
    boost for new LLMs) within the exposure cap of the voter's last battles
    (``battles.core.exposure``), the prompt is one this voter has not battled on with answers
    from both (drawn uniformly), and which answer is shown as A is drawn from a cryptographic RNG.
    """
    recent = recent_battles(voter) if recent is None else recent
    seen = eligibility.seen_prompts(voter)
    for _ in range(CHOICES):
        try:
            answers = _choose_answers(eligibility.current(), seen, recent, category)
        except Stale:
            eligibility.current.clear()
            continue
        return None if answers is None else _create_battle(voter, *answers)
    return None


def _choose_answers(
    kept: eligibility.Eligibility, seen: np.ndarray, recent: list[Battle], category: str | None
) -> tuple[Generation, Generation] | None:
    """One answer of each of two versions to a prompt the voter has not seen, or None when nothing is left.

    Raises ``Stale`` when ``kept`` offered a pair and prompt that the database no longer serves.
    """
    unseen = kept.unseen(seen, category)
    candidates = [(version, kept.families[version]) for version in sorted(unseen)]
    if len({family for _, family in candidates}) < 2:
        return None
    rng = np.random.default_rng(secure_rng.getrandbits(64))
    tried: list[tuple[int, int]] = []
    while True:
        pair = choose_versions(
            candidates, recent, rng, exclude=tried, allow_same_family=settings.ARENA_ALLOW_SAME_LLM_PAIRS
        )
        if pair is None:
            return None
        first, second = candidates[pair[0]][0], candidates[pair[1]][0]
        shared = np.intersect1d(unseen[first], unseen[second], assume_unique=True)
        if shared.size:
            break
        tried.append(pair)
    prompt_id = int(shared[secure_rng.randrange(shared.size)])
    return _pair_answers(prompt_id, first, second, category)


def _pair_answers(prompt_id: int, first: int, second: int, category: str | None) -> tuple[Generation, Generation]:
    """One answer of each version to the prompt, read under the full eligibility filter.

    Raises ``Stale`` when either version has none (the kept eligibility is behind the database).
    """
    rows = eligibility.servable_answers(prompt_id, (first, second), category)
    firsts = [g for g in rows if g.llm_version_id == first]
    seconds = [g for g in rows if g.llm_version_id == second]
    if not firsts or not seconds:
        raise Stale
    # Several samples of one answer may exist: one of each version, at random.
    return secure_rng.choice(firsts), secure_rng.choice(seconds)


def _create_battle(voter, left: Generation, right: Generation) -> Battle:
    """The battle of the two answers; which one is A is drawn from the cryptographic RNG."""
    pair_of_answers = [left, right]
    secure_rng.shuffle(pair_of_answers)
    left, right = pair_of_answers
    terms = cached_identity_terms()
    leaked = identity_mentions(left, terms) + identity_mentions(right, terms)
    battle = Battle(
        # The answers' prompt, read with them: the new battle's page shows it without a query.
        prompt=left.prompt,
        generation_a=left,
        generation_b=right,
        version_a_id=left.llm_version_id,
        version_b_id=right.llm_version_id,
        voter=voter,
        identity_leak=bool(leaked),
        leaked_terms=sorted(set(leaked)),
    )
    insert(battle)
    return battle


def skip_battle(*, battle_code, voter) -> bool:
    """Close the voter's open battle unvoted; False when it was not open (voted, skipped, not theirs)."""
    return bool(
        Battle.objects.filter(code=battle_code, voter=voter, status=Battle.Status.OPEN).update(
            status=Battle.Status.SKIPPED, closed_at=timezone.now()
        )
    )
