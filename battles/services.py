"""Write paths of the battles app: check, write in a transaction, notify on commit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from battles.models import LLM, Battle, Generation, LLMVersion, Prompt, PromptPool, Vote
from battles.roles import is_insider
from battles.signals import vote_recorded
from battles.text import prompt_hash

_rng = secrets.SystemRandom()


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


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    replayed: bool  # True when this was a repeat of an already stored vote


# --- LLMs -----------------------------------------------------------------

VERSIONED_FIELDS = ("model_id", "temperature", "max_tokens", "system_prompt")


def create_llm(*, name: str, provider: str, base_url: str, model_id: str, api_key_env: str = "",
               temperature: float | None = None, max_tokens: int = 1024, system_prompt: str = "",
               price_input_per_mtok: Decimal | float = 0, price_output_per_mtok: Decimal | float = 0,
               imported: bool = False, status: str = LLM.Status.ACTIVE) -> LLM:
    with transaction.atomic():
        llm = LLM.objects.create(
            name=name, provider=provider, base_url=base_url, api_key_env=api_key_env,
            price_input_per_mtok=Decimal(str(price_input_per_mtok)),
            price_output_per_mtok=Decimal(str(price_output_per_mtok)),
            imported=imported, status=status,
        )
        LLMVersion.objects.create(
            llm=llm, number=1, model_id=model_id, temperature=temperature,
            max_tokens=max_tokens, system_prompt=system_prompt,
        )
    return llm


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
        values = {field: getattr(current, field) for field in VERSIONED_FIELDS}
        values.update(changes)
        if all(getattr(current, f) == values[f] for f in VERSIONED_FIELDS):
            return current
        return LLMVersion.objects.create(llm=llm, number=current.number + 1, **values)


def retire_or_delete_llm(*, llm: LLM) -> str:
    """Delete an LLM nothing depends on; retire one with answers or votes."""
    has_history = Generation.objects.filter(llm_version__llm=llm).exists()
    if has_history:
        LLM.objects.filter(pk=llm.pk).update(status=LLM.Status.RETIRED)
        return "retired"
    with transaction.atomic():
        llm.versions.all().delete()
        llm.delete()
    return "deleted"


# --- Prompts --------------------------------------------------------------

def add_prompt(*, pool: PromptPool, text: str, category: str = "", tags=(), external_id: str = "") -> Prompt | None:
    """Store a prompt unless the pool already has the same normalised text."""
    try:
        with transaction.atomic():
            return Prompt.objects.create(
                pool=pool, text=text, category=category, tags=list(tags),
                external_id=external_id, text_hash=prompt_hash(text),
            )
    except IntegrityError:
        return None


# --- Generations ----------------------------------------------------------

def enqueue_generations(*, pool: PromptPool, versions: list[LLMVersion], samples: int = 1) -> int:
    """Create the missing generations of a pool × versions and queue every unfinished one.

    Returns how many generations were queued. Existing finished answers are
    kept; the unique constraint makes a second call harmless.
    """
    from battles import tasks

    prompt_ids = list(pool.prompts.filter(hidden=False).values_list("id", flat=True))
    with transaction.atomic():
        Generation.objects.bulk_create(
            [
                Generation(prompt_id=pid, llm_version=version, sample=sample)
                for version in versions
                for pid in prompt_ids
                for sample in range(samples)
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        todo = list(
            Generation.objects.filter(
                prompt__pool=pool, llm_version__in=versions,
                status__in=[Generation.Status.PENDING, Generation.Status.FAILED],
            ).values_list("id", flat=True)
        )
        Generation.objects.filter(id__in=todo, status=Generation.Status.FAILED).update(
            status=Generation.Status.PENDING, error=""
        )
        transaction.on_commit(lambda: [tasks.generate_answer.delay(gid) for gid in todo])
    return len(todo)


# --- Battles --------------------------------------------------------------

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


def start_battle(*, voter, category: str | None = None) -> Battle | None:
    """Serve the voter a battle: their open one, or a new one from two finished answers.

    A new battle uses a prompt this voter has not battled on yet, with answers
    from two different LLMs; which answer is shown as A is drawn from a
    cryptographic RNG. Returns None when nothing is left to vote on.
    """
    existing = current_battle(voter=voter)
    if existing is not None:
        return existing
    seen = Battle.objects.filter(voter=voter).values("prompt_id")
    candidates = (
        _eligible_generations()
        .exclude(prompt_id__in=seen)
        .values("prompt_id")
        .annotate(llms=Count("llm_version__llm", distinct=True))
        .filter(llms__gte=2)
    )
    if category:
        candidates = candidates.filter(prompt__category=category)
    prompt_ids = list(candidates.values_list("prompt_id", flat=True))
    if not prompt_ids:
        return None
    prompt_id = _rng.choice(prompt_ids)
    answers = list(_eligible_generations().filter(prompt_id=prompt_id).select_related("llm_version"))
    by_llm: dict[int, list[Generation]] = {}
    for generation in answers:
        by_llm.setdefault(generation.llm_version.llm_id, []).append(generation)
    first_llm, second_llm = _rng.sample(sorted(by_llm), 2)
    pair = [_rng.choice(by_llm[first_llm]), _rng.choice(by_llm[second_llm])]
    _rng.shuffle(pair)
    left, right = pair
    return Battle.objects.create(
        prompt_id=prompt_id, generation_a=left, generation_b=right,
        version_a_id=left.llm_version_id, version_b_id=right.llm_version_id, voter=voter,
    )


def skip_battle(*, battle_code, voter) -> bool:
    return bool(
        Battle.objects.filter(code=battle_code, voter=voter, status=Battle.Status.OPEN).update(
            status=Battle.Status.SKIPPED, closed_at=timezone.now()
        )
    )


# --- Votes ----------------------------------------------------------------

def record_vote(*, battle_code, voter, outcome: str, reasons_a=(), reasons_b=(), comment: str = "") -> VoteResult:
    """Store the one vote of a battle, closing the battle in the same transaction.

    Sending the same outcome again returns the stored vote (``replayed``);
    a different outcome raises ``VoteConflict``. A battle served to someone
    else raises ``VoteNotAllowed``. Listeners hear ``vote_recorded`` only
    after commit.
    """
    if outcome not in Vote.Outcome.values:
        raise VoteError("That is not a valid choice.")
    try:
        with transaction.atomic():
            battle = (
                Battle.objects.select_for_update().filter(code=battle_code).first()
            )
            if battle is None:
                raise VoteError("This battle does not exist.")
            if battle.voter_id != voter.pk:
                raise VoteNotAllowed("This battle was served to someone else; your vote was not stored.")
            existing = Vote.objects.filter(battle=battle).first()
            if existing is not None:
                return _replay(existing, outcome)
            if battle.status != Battle.Status.OPEN:
                raise VoteConflict("This battle was skipped; your vote was not stored.")
            now = timezone.now()
            closed = Battle.objects.filter(pk=battle.pk, status=Battle.Status.OPEN).update(
                status=Battle.Status.VOTED, closed_at=now
            )
            if not closed:
                raise VoteConflict("This battle is already closed; your vote was not stored.")
            vote = Vote.objects.create(
                battle=battle, voter=voter, outcome=outcome,
                version_a_id=battle.version_a_id, version_b_id=battle.version_b_id,
                time_to_vote_ms=int((now - battle.created_at).total_seconds() * 1000),
                reasons_a=list(reasons_a), reasons_b=list(reasons_b), comment=comment,
                insider=is_insider(voter), live=battle.live,
            )
            transaction.on_commit(lambda: vote_recorded.send(sender=Vote, vote=vote))
            return VoteResult(vote=vote, replayed=False)
    except IntegrityError:
        # A concurrent request stored the vote first (the one-vote constraint).
        existing = Vote.objects.filter(battle__code=battle_code).first()
        if existing is None:
            raise
        return _replay(existing, outcome)


def _replay(existing: Vote, outcome: str) -> VoteResult:
    if existing.outcome != outcome:
        raise VoteConflict(
            "You already voted on this battle with a different choice; a vote cannot be changed."
        )
    return VoteResult(vote=existing, replayed=True)
