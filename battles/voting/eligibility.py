"""Which pool prompts each LLM version can be served on, kept per process; which prompts a voter has seen.

Serving a new battle needs, for the voter, the LLM versions with an answer to a prompt they have
not battled on, and the prompts two versions share. Asking the database each time meant reading
every battle of the voter twice and grouping thousands of answers. Instead each process keeps,
for ``ARENA_PROCESS_CACHE_SECONDS``, the prompts of every active version's finished answers to
visible pool prompts (one query), and each request reads only the prompts of the voter's newest
battles (``SeenPrompts``: the rest of the voter's seen prompts are kept too). The sets are
intersected in numpy.

The cache may be seconds stale. Answers, prompts and LLMs added since reach voters when it is read
again. A prompt hidden or an LLM retired since may still be in it, so it only proposes:
``battles.voting.serving`` reads the chosen answers under its conditions again
(``servable_answers()``), and on a miss forgets the cache (``current.clear()``) and chooses again.
"""

from __future__ import annotations

import datetime
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from functools import cache
from typing import cast

import numpy as np
from django.db import connection
from django.utils import timezone

from arena.hot_reads import ModelColumns, datetime_param, fetch_rows, literal
from arena.process_cache import cached_in_process, kept_in_process
from battles.models import LLM, Battle, Generation, LLMVersion, Prompt

# The key of all prompts, whatever their category (a voter who chose none).
ANY_CATEGORY = ""


def eligible_generations():
    """Answers that may be served in a pool battle: finished, of an active LLM, to a visible pool prompt.

    ``servable_answers()`` applies the same conditions as SQL of its own: a condition added here
    must be added there (a test compares the two, and pins these conditions).
    """
    return Generation.objects.filter(
        status=Generation.Status.DONE,
        llm_version__llm__status=LLM.Status.ACTIVE,
        prompt__hidden=False,
        prompt__pool__isnull=False,
    )


# What a new battle, its identity check and its page read of an answer; its other fields load on first access.
ANSWER = ModelColumns(Generation, "g", only=("prompt_id", "llm_version_id", "text", "html", "html_key"))
# The answers' prompt, joined anyway for the eligibility conditions: the new battle's page shows it.
ANSWER_PROMPT = ModelColumns(Prompt, "p")


def servable_answers(prompt_id: int, versions: tuple[int, int], category: str | None) -> list[Generation]:
    """The answers of ``versions`` to the prompt (in ``category``, if given) under ``eligible_generations()``'s
    conditions, by id: what a new battle is made of, read from the database (never from the kept sets).
    Each answer comes with its prompt.

    One prepared statement (``arena.hot_reads``): built by the ORM, compiling its joins cost ~3 ms
    a new battle.
    """
    params: list = [int(prompt_id), *map(int, versions)] + ([category] if category else [])
    rows = fetch_rows(_answers_sql(connection.vendor, with_category=bool(category)), params)
    answers = []
    for row in rows:
        answer = cast(Generation, ANSWER.instance(row, 0))
        answer.prompt = cast(Prompt, ANSWER_PROMPT.instance(row, ANSWER.width))
        answers.append(answer)
    return answers


@cache
def _answers_sql(vendor: str, *, with_category: bool) -> str:
    """The answers' SQL for a database vendor (the cache key; names are quoted the vendor's way)."""
    prompt, version, llm = ANSWER_PROMPT, ModelColumns(LLMVersion, "v"), ModelColumns(LLM, "l")
    return (
        f"SELECT {ANSWER.select()}, {prompt.select()} FROM {ANSWER.table()}"
        f" JOIN {version.table()} ON {version.column('id')} = {ANSWER.column('llm_version')}"
        f" JOIN {llm.table()} ON {llm.column('id')} = {version.column('llm')}"
        f" JOIN {prompt.table()} ON {prompt.column('id')} = {ANSWER.column('prompt')}"
        f" WHERE {ANSWER.column('prompt')} = %s AND {ANSWER.column('llm_version')} IN (%s, %s)"
        # eligible_generations(), condition by condition.
        f" AND {ANSWER.column('status')} = {literal(Generation.Status.DONE)}"
        f" AND {llm.column('status')} = {literal(LLM.Status.ACTIVE)}"
        f" AND NOT {prompt.column('hidden')}"
        f" AND {prompt.column('pool')} IS NOT NULL"
        + (f" AND {prompt.column('category')} = %s" if with_category else "")
        + f" ORDER BY {ANSWER.column('id')}"
    )


@dataclass(frozen=True)
class Eligibility:
    """The LLM of each version with servable answers, and the prompts it answered, by category."""

    families: dict[int, int]  # version id → LLM id
    prompts: dict[str, dict[int, np.ndarray]]  # category (ANY_CATEGORY: all) → version id → sorted prompt ids

    def unseen(self, seen: np.ndarray, category: str | None) -> dict[int, np.ndarray]:
        """For each version with at least one, the prompts it answered (in ``category``) not in ``seen``."""
        left = {}
        for version, prompts in self.prompts.get(category or ANY_CATEGORY, {}).items():
            unseen = prompts[np.isin(prompts, seen, assume_unique=True, invert=True)]
            if unseen.size:
                left[version] = unseen
        return left


@cached_in_process
def current() -> Eligibility:
    """The eligibility of every servable answer: one query, kept ``ARENA_PROCESS_CACHE_SECONDS``."""
    rows = (
        eligible_generations()
        .order_by()
        .values_list("llm_version_id", "llm_version__llm_id", "prompt_id", "prompt__category")
        .distinct()
    )
    families: dict[int, int] = {}
    grouped: defaultdict[str, defaultdict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for version, family, prompt, category in rows:
        families[version] = family
        grouped[ANY_CATEGORY][version].append(prompt)
        if category:
            grouped[category][version].append(prompt)
    prompts = {
        category: {version: np.unique(np.array(ids, dtype=np.int64)) for version, ids in by_version.items()}
        for category, by_version in grouped.items()
    }
    return Eligibility(families, prompts)


def seen_prompts(voter) -> np.ndarray:
    """The sorted ids of the prompts the voter has battled on (pool and live, any state): never served again."""
    return SEEN.of(voter.pk)


# How far before a voter's last read their battles are read again: a battle's created_at is stamped by
# the process that serves it moments before its INSERT commits (and by clocks kept in step).
SEEN_MARGIN = datetime.timedelta(seconds=60)
SEEN_VOTERS_KEPT = 2_000


class SeenPrompts:
    """Each voter's seen prompts, kept in this process and brought up to date with their newest battles.

    A heavy voter has thousands of battles: read whole on every new battle, they cost Postgres time in
    proportion to them (3,000 battles: ~1 ms, a tenth of a voter's cycle). The first read of a voter is
    whole (``battle_voter_prompts``, index only); each later one reads the battles created since the
    last, less ``SEEN_MARGIN`` (``battle_voter_recent``): battles are never deleted nor moved to another
    prompt, so the kept set only grows. One prepared statement either way; the last
    ``SEEN_VOTERS_KEPT`` voters are kept.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: OrderedDict[int, tuple[np.ndarray, datetime.datetime]] = OrderedDict()

    def of(self, voter_id: int) -> np.ndarray:
        read_at = timezone.now()
        with self.lock:
            entry = self.kept.get(voter_id)
        if entry is None:
            seen = _prompt_ids(fetch_rows(_seen_sql(connection.vendor), [voter_id]))
        else:
            kept, last_read = entry
            since = datetime_param(last_read - SEEN_MARGIN)
            new = _prompt_ids(fetch_rows(_seen_since_sql(connection.vendor), [voter_id, since]))
            seen = np.union1d(kept, new) if new.size else kept
        with self.lock:
            self.kept[voter_id] = (seen, read_at)
            self.kept.move_to_end(voter_id)
            while len(self.kept) > SEEN_VOTERS_KEPT:
                self.kept.popitem(last=False)
        return seen

    def clear(self) -> None:
        with self.lock:
            self.kept.clear()


SEEN = kept_in_process(SeenPrompts())


def _prompt_ids(rows: list[tuple]) -> np.ndarray:
    return np.unique(np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)))


@cache
def _seen_since_sql(vendor: str) -> str:
    """The prompts of the voter's battles created after a time, for a database vendor (the cache key)."""
    battles = ModelColumns(Battle, "b")
    return (
        f"SELECT {battles.column('prompt')} FROM {battles.table()}"
        f" WHERE {battles.column('voter')} = %s AND {battles.column('created_at')} > %s"
    )


@cache
def _seen_sql(vendor: str) -> str:
    """The seen prompts' SQL for a database vendor (the cache key; names are quoted the vendor's way)."""
    battles = ModelColumns(Battle, "b")
    return f"SELECT DISTINCT {battles.column('prompt')} FROM {battles.table()} WHERE {battles.column('voter')} = %s"
