"""Serving a voter a pool battle: their open one, or a new pair chosen by the pairing policy.

Reads are cheap and indexed; the pair comes from ``battles.core.pairing`` with
the latest rating estimates (asked for through ``battles.signals``), and which
answer is A is drawn from a cryptographic RNG.
"""

from __future__ import annotations

import secrets

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from battles.catalog.llms import identity_terms
from battles.core.integrity import find_identity_mentions
from battles.core.pairing import PairingState, choose_pair
from battles.models import LLM, Battle, Generation, LLMVersion, Prompt
from battles.signals import current_estimates

# Which answer is A, which prompt, which pair: all drawn from the system's CSPRNG.
secure_rng = secrets.SystemRandom()


def current_battle(*, voter) -> Battle | None:
    """The voter's open battle, so a reload shows the same pair again."""
    return (
        Battle.objects.filter(voter=voter, status=Battle.Status.OPEN, live=False)
        .select_related("prompt", "generation_a", "generation_b")
        .order_by("-created_at")
        .first()
    )


def _eligible_generations():
    return Generation.objects.filter(
        status=Generation.Status.DONE,
        llm_version__llm__status=LLM.Status.ACTIVE,
        prompt__hidden=False,
        prompt__pool__isnull=False,
    )


def pairing_state(version_ids: list[int], families: list[int]) -> PairingState:
    estimates = current_estimates()
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


def categories() -> list[str]:
    """The categories a voter can choose: those of visible prompts, sorted."""
    return sorted(
        c
        for c in Prompt.objects.filter(hidden=False).exclude(category="").values_list("category", flat=True).distinct()
    )


def start_battle(*, voter, category: str | None = None) -> Battle | None:
    """Serve the voter a battle: their open one, or a new one chosen by the pairing policy.

    An open battle of another category than the one asked for is set aside
    (skipped, so it stays in the data) once a battle of that category exists;
    when the category has nothing left, the open battle stays open for later.
    Returns None when nothing is left.
    """
    existing = current_battle(voter=voter)
    if existing is not None and (not category or existing.prompt.category == category):
        return existing
    with transaction.atomic():
        battle = new_battle(voter=voter, category=category)
        if battle is not None and existing is not None:
            skip_battle(battle_code=existing.code, voter=voter)
    return battle


def new_battle(*, voter, category: str | None = None) -> Battle | None:
    """A new battle chosen by the pairing policy, or None when nothing is left.

    The pair comes from ``battles.core.pairing`` (active sampling with a uniform
    floor and a boost for new LLMs), the prompt is one this voter has not
    battled on with answers from both, and which answer is shown as A is
    drawn from a cryptographic RNG.
    """
    seen = Battle.objects.filter(voter=voter).values("prompt_id")
    pool_answers = _eligible_generations().exclude(prompt_id__in=seen)
    if category:
        pool_answers = pool_answers.filter(prompt__category=category)
    # One EXISTS per version stops at its first unseen answer: cheap however large the pools are.
    candidates = list(
        LLMVersion.objects.filter(llm__status=LLM.Status.ACTIVE)
        .filter(Exists(pool_answers.filter(llm_version_id=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "llm_id")
    )
    if len({family for _, family in candidates}) < 2:
        return None
    version_ids = [v for v, _ in candidates]
    state = pairing_state(version_ids, [family for _, family in candidates])
    rng = np.random.default_rng(secure_rng.getrandbits(64))
    tried: list[tuple[int, int]] = []
    while True:
        pair = choose_pair(
            state,
            rng,
            exclude=tried,
            floor=settings.ARENA_PAIRING_FLOOR,
            boost_votes=settings.ARENA_NEW_LLM_BOOST_VOTES,
            allow_same_family=settings.ARENA_ALLOW_SAME_LLM_PAIRS,
        )
        if pair is None:
            return None
        first, second = version_ids[pair[0]], version_ids[pair[1]]
        # Two index scans of a few thousand ids beat one query with the intersection in SQL.
        shared = set(pool_answers.filter(llm_version_id=first).values_list("prompt_id", flat=True)) & set(
            pool_answers.filter(llm_version_id=second).values_list("prompt_id", flat=True)
        )
        if shared:
            break
        tried.append(pair)
    prompt_id = secure_rng.choice(sorted(shared))
    answers = {
        g.llm_version_id: g
        for g in pool_answers.filter(prompt_id=prompt_id, llm_version_id__in=[first, second]).order_by("?")
    }
    pair_of_answers = [answers[first], answers[second]]
    secure_rng.shuffle(pair_of_answers)
    left, right = pair_of_answers
    terms = identity_terms()
    leaked = find_identity_mentions(left.text, terms) + find_identity_mentions(right.text, terms)
    return Battle.objects.create(
        prompt_id=prompt_id,
        generation_a=left,
        generation_b=right,
        version_a_id=left.llm_version_id,
        version_b_id=right.llm_version_id,
        voter=voter,
        identity_leak=bool(leaked),
        leaked_terms=sorted(set(leaked)),
    )


def skip_battle(*, battle_code, voter) -> bool:
    """Close the voter's open battle unvoted; False when it was not open (voted, skipped, not theirs)."""
    return bool(
        Battle.objects.filter(code=battle_code, voter=voter, status=Battle.Status.OPEN).update(
            status=Battle.Status.SKIPPED, closed_at=timezone.now()
        )
    )
