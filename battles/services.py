"""Write paths of the battles app: check, write in a transaction, notify on commit."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from arena.roles import is_insider
from battles import endpoints, keys, url_policy
from battles.integrity import find_identity_mentions, identity_terms, minimum_vote_ms
from battles.models import LLM, REASON_TAGS, Battle, Generation, LLMVersion, Prompt, PromptPool, Vote
from battles.pairing import PairingState, choose_pair
from battles.signals import current_estimates, vote_recorded
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


class VoteLimitReached(VoteError):
    status_code = 429


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    replayed: bool  # True when this was a repeat of an already stored vote


# --- LLMs -----------------------------------------------------------------

VERSIONED_FIELDS = ("model_id", "temperature", "max_tokens", "system_prompt")


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
def create_llm(*, name: str, provider: str, base_url: str, model_id: str, api_key_env: str = "",
               api_key: str = "", temperature: float | None = None, max_tokens: int = 1024,
               system_prompt: str = "", price_input_per_mtok: Decimal | float = 0,
               price_output_per_mtok: Decimal | float = 0, imported: bool = False,
               status: str = LLM.Status.ACTIVE) -> LLM:
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
            name=name, provider=provider, base_url=base_url, api_key_env=api_key_env,
            api_key_encrypted=encrypted, api_key_set_at=timezone.now() if encrypted else None,
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
    for pk, name, token in LLM.objects.exclude(api_key_encrypted="").values_list(
        "pk", "name", "api_key_encrypted"
    ):
        try:
            new_token = keys.rotate(token)
        except keys.UndecryptableKey:
            undecryptable.append(name)
            continue
        rotated += LLM.objects.filter(pk=pk, api_key_encrypted=token).update(api_key_encrypted=new_token)
    return KeyRotation(rotated=rotated, undecryptable=undecryptable)


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
        unfinished = Generation.objects.filter(
            prompt__pool=pool, prompt__hidden=False, llm_version__in=versions, sample__lt=samples,
            status__in=[Generation.Status.PENDING, Generation.Status.FAILED],
        )
        # Queued again now; a failed generation gets a fresh retry budget. (New rows are due now by default.)
        unfinished.filter(status=Generation.Status.PENDING).update(due_at=timezone.now())
        unfinished.filter(status=Generation.Status.FAILED).update(
            status=Generation.Status.PENDING, error="", attempts=0, due_at=timezone.now()
        )
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
                prompt__pool=pool, prompt__hidden=False, llm_version__in=versions, sample__lt=samples,
                status=Generation.Status.PENDING,
            ).order_by("llm_version_id", "prompt_id", "sample").values_list("id", "llm_version_id")
        )
        transaction.on_commit(lambda: tasks.queue_generations(todo))
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


def _pairing_state(version_ids: list[int], families: list[int]) -> PairingState:
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
    return PairingState(ratings, cov, votes, families, state.target_halfwidth)


def start_battle(*, voter, category: str | None = None) -> Battle | None:
    """Serve the voter a battle: their open one, or a new one chosen by the pairing policy.

    The pair comes from ``battles.pairing`` (active sampling with a uniform
    floor and a boost for new LLMs), the prompt is one this voter has not
    battled on with answers from both, and which answer is shown as A is
    drawn from a cryptographic RNG. Returns None when nothing is left.
    """
    existing = current_battle(voter=voter)
    if existing is not None:
        return existing
    seen = Battle.objects.filter(voter=voter).values("prompt_id")
    pool_answers = _eligible_generations().exclude(prompt_id__in=seen)
    if category:
        pool_answers = pool_answers.filter(prompt__category=category)
    # One EXISTS per version stops at its first unseen answer: cheap however large the pools are.
    candidates = list(
        LLMVersion.objects.filter(llm__status=LLM.Status.ACTIVE)
        .filter(Exists(pool_answers.filter(llm_version_id=OuterRef("pk"))))
        .order_by("pk").values_list("pk", "llm_id")
    )
    if len({family for _, family in candidates}) < 2:
        return None
    version_ids = [v for v, _ in candidates]
    state = _pairing_state(version_ids, [family for _, family in candidates])
    rng = np.random.default_rng(_rng.getrandbits(64))
    tried: list[tuple[int, int]] = []
    while True:
        pair = choose_pair(
            state, rng, exclude=tried, floor=settings.ARENA_PAIRING_FLOOR,
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
    prompt_id = _rng.choice(sorted(shared))
    answers = {
        g.llm_version_id: g
        for g in pool_answers.filter(prompt_id=prompt_id, llm_version_id__in=[first, second]).order_by("?")
    }
    pair_of_answers = [answers[first], answers[second]]
    _rng.shuffle(pair_of_answers)
    left, right = pair_of_answers
    terms = _identity_terms()
    leaked = find_identity_mentions(left.text, terms) + find_identity_mentions(right.text, terms)
    return Battle.objects.create(
        prompt_id=prompt_id, generation_a=left, generation_b=right,
        version_a_id=left.llm_version_id, version_b_id=right.llm_version_id, voter=voter,
        identity_leak=bool(leaked), leaked_terms=sorted(set(leaked)),
    )


def _identity_terms() -> set[str]:
    names = []
    for name, model_id in LLMVersion.objects.values_list("llm__name", "model_id"):
        names += [name, model_id]
    return identity_terms(names, extra=settings.ARENA_IDENTITY_ALIASES)


def skip_battle(*, battle_code, voter) -> bool:
    return bool(
        Battle.objects.filter(code=battle_code, voter=voter, status=Battle.Status.OPEN).update(
            status=Battle.Status.SKIPPED, closed_at=timezone.now()
        )
    )


# --- Votes ----------------------------------------------------------------

def votes_today(voter) -> int:
    return Vote.objects.filter(voter=voter, created_at__gte=start_of_today()).count()


def start_of_today():
    """Midnight in the site's time zone: a range bound keeps the (voter, created_at) index usable."""
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))


def _clean_reasons(values) -> list[str]:
    values = list(dict.fromkeys(values))
    unknown = [v for v in values if v not in REASON_TAGS]
    if unknown:
        raise VoteError(f"Unknown reason: {', '.join(unknown)}.")
    return values


def _answers_of(battle: Battle) -> list[Generation]:
    """Every answer the voter saw: both sides of every turn of a live battle."""
    if not battle.live:
        return [battle.generation_a, battle.generation_b]
    answers = []
    for turn in battle.turns.select_related("generation_a", "generation_b"):
        answers += [turn.generation_a, turn.generation_b]
    return answers


def record_vote(*, battle_code, voter, outcome: str, reasons_a=(), reasons_b=(), comment: str = "") -> VoteResult:
    """Store the one vote of a battle, closing the battle in the same transaction.

    Sending the same outcome again returns the stored vote (``replayed``);
    a different outcome raises ``VoteConflict``. A battle served to someone
    else raises ``VoteNotAllowed``; a live battle whose answers are not all
    complete cannot be voted on. The vote is flagged (kept, excluded from the
    default board) when an answer names a model or the vote came faster than
    anyone can read. Listeners hear ``vote_recorded`` only after commit.
    """
    if outcome not in Vote.Outcome.values:
        raise VoteError("That is not a valid choice.")
    reasons_a, reasons_b = _clean_reasons(reasons_a), _clean_reasons(reasons_b)
    comment = (comment or "").replace("\x00", "").strip()[:2000]  # a NUL cannot be stored, and means nothing
    try:
        with transaction.atomic():
            battle = Battle.objects.select_for_update().filter(code=battle_code).first()
            if battle is None:
                raise VoteError("This battle does not exist.")
            if battle.voter_id != voter.pk:
                raise VoteNotAllowed("This battle was served to someone else; your vote was not stored.")
            existing = Vote.objects.filter(battle=battle).first()
            if existing is not None:
                return _replay(existing, outcome)
            if battle.status == Battle.Status.FAILED:
                raise VoteConflict("One side of this battle could not answer, so it cannot be voted on.")
            if battle.status != Battle.Status.OPEN:
                raise VoteConflict("This battle was skipped; your vote was not stored.")
            answers = _answers_of(battle)
            if any(g.status != Generation.Status.DONE for g in answers):
                raise VoteConflict("Both answers must be complete before you vote; your vote was not stored.")
            if votes_today(voter) >= settings.ARENA_DAILY_VOTE_CAP:
                raise VoteLimitReached(
                    f"You have reached today's limit of {settings.ARENA_DAILY_VOTE_CAP} votes; "
                    "this vote was not stored. Thank you — come back tomorrow!"
                )
            now = timezone.now()
            closed = Battle.objects.filter(pk=battle.pk, status=Battle.Status.OPEN).update(
                status=Battle.Status.VOTED, closed_at=now
            )
            if not closed:
                raise VoteConflict("This battle is already closed; your vote was not stored.")
            served_at = max([battle.created_at] + [g.finished_at for g in answers if g.finished_at])
            time_to_vote_ms = max(0, int((now - served_at).total_seconds() * 1000))
            flags = []
            if battle.identity_leak:
                flags.append("identity_leak")
            minimum = minimum_vote_ms(
                sum(len(g.text) for g in answers), base_ms=settings.ARENA_MIN_VOTE_BASE_MS,
                chars_per_second=settings.ARENA_MIN_VOTE_CHARS_PER_SECOND,
            )
            if time_to_vote_ms < minimum:
                flags.append("too_fast")
            vote = Vote.objects.create(
                battle=battle, voter=voter, outcome=outcome,
                version_a_id=battle.version_a_id, version_b_id=battle.version_b_id,
                time_to_vote_ms=time_to_vote_ms, reasons_a=reasons_a, reasons_b=reasons_b, comment=comment,
                insider=is_insider(voter), live=battle.live, flagged=bool(flags), flags=flags,
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


PERSONAL_BOARD_MIN_VOTES = 20


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
