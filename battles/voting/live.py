"""Live battles: the voter's own prompt, answered by two anonymous LLMs.

Both answers of a turn are released together, only once both are complete,
so that neither streaming speed nor finishing order can tell the models
apart; the voter hears nothing from the server before that moment. A side
that fails on the first turn is replaced by another LLM (the voter never saw
it); a failure later in the conversation ends the battle, which can then
never be voted on.
"""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from arena.publishing import publish
from battles.catalog import spend
from battles.catalog.llms import identity_terms
from battles.core.exposure import appearances, exposure_cap
from battles.core.integrity import find_identity_mentions
from battles.core.text import prompt_hash
from battles.generation import tasks
from battles.models import LLM, Battle, BattleTurn, Generation, LLMVersion, Prompt
from battles.signals import live_battle_changed
from battles.voting.progress import votes_today
from battles.voting.serving import choose_versions, recent_battles, recent_pairs, secure_rng
from battles.voting.tallies import start_of_today

logger = logging.getLogger(__name__)

MAX_REPLACEMENTS = 2


class LiveBattleError(Exception):
    """Shown to the voter; nothing was started."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


OVER_BUDGET = (
    "Live battles are paused: too few models are within this month's spending budget. Pool battles are still open."
)


def _live_candidates(exclude_llms=()) -> list[LLMVersion]:
    """Current versions of active LLMs that can be called (not at their monthly spend cap)."""
    versions = []
    for llm in (
        LLM.objects.filter(status=LLM.Status.ACTIVE, imported=False)
        .exclude(base_url="")
        .exclude(pk__in=[*exclude_llms, *spend.capped_llm_ids()])
    ):
        version = llm.current_version()
        if version is not None:
            versions.append(version)
    return versions


def _choose_two(voter, versions: list[LLMVersion]) -> tuple[LLMVersion, LLMVersion]:
    """Two LLMs by the pairing policy, within the exposure cap of the voter's last battles (pool and live)."""
    rng = np.random.default_rng(secure_rng.getrandbits(64))
    pair = choose_versions([(v.pk, v.llm_id) for v in versions], recent_battles(voter), rng)
    if pair is None:
        raise LiveBattleError("At least two active models are needed for a live battle.")
    chosen = [versions[pair[0]], versions[pair[1]]]
    secure_rng.shuffle(chosen)  # which one is A: cryptographic RNG
    return chosen[0], chosen[1]


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise LiveBattleError("Type a prompt first.")
    if len(text) > settings.ARENA_MAX_PROMPT_CHARS:
        raise LiveBattleError(f"That prompt is too long (at most {settings.ARENA_MAX_PROMPT_CHARS} characters).")
    if "\x00" in text:
        raise LiveBattleError("The prompt contains a NUL character, which cannot be stored; remove it and send again.")
    return text


def _new_prompt(text: str) -> Prompt:
    return Prompt.objects.create(pool=None, text=text, hidden=True, text_hash=prompt_hash(text), category="live")


def _enqueue(*generation_ids: int) -> None:
    # A publish the broker did not take leaves the generation pending: the reconciler queues it again.
    for generation_id in generation_ids:
        publish(tasks.generate_answer, (generation_id,))


def open_live_battles(voter) -> list[Battle]:
    """The voter's live battles still waiting for a vote, oldest first."""
    return list(
        Battle.objects.filter(voter=voter, live=True, status=Battle.Status.OPEN)
        .order_by("created_at")
        .only("code", "created_at")
    )


def _check_live_quota(voter) -> None:
    """Every live battle calls two paid models: a voter may hold a few open and start a few a day."""
    open_count = Battle.objects.filter(voter=voter, live=True, status=Battle.Status.OPEN).count()
    if open_count >= settings.ARENA_LIVE_MAX_OPEN:
        raise LiveBattleError(
            f"You have {open_count} live battles waiting for your vote; vote on one or set one aside "
            "before asking something new."
        )
    started = Battle.objects.filter(voter=voter, live=True, created_at__gte=start_of_today()).count()
    if started >= settings.ARENA_LIVE_DAILY_CAP:
        raise LiveBattleError(
            f"You have asked {started} prompts of your own today, the daily limit; pool battles are still "
            "open, and you can ask again tomorrow."
        )


def start_live_battle(*, voter, text: str) -> Battle:
    text = _clean_text(text)
    if votes_today(voter) >= settings.ARENA_DAILY_VOTE_CAP:
        raise LiveBattleError("You have reached today's vote limit; come back tomorrow.")
    versions = _live_candidates()
    if len({v.llm_id for v in versions}) < 2:
        if spend.capped_llm_ids():
            raise LiveBattleError(OVER_BUDGET)
        raise LiveBattleError("At least two active models are needed for a live battle.")
    version_a, version_b = _choose_two(voter, versions)
    with transaction.atomic():
        # The voter's row is the lock: two quick submits cannot both pass the quota.
        get_user_model().objects.select_for_update().filter(pk=voter.pk).first()
        _check_live_quota(voter)
        prompt = _new_prompt(text)
        generation_a = Generation.objects.create(prompt=prompt, llm_version=version_a)
        generation_b = Generation.objects.create(prompt=prompt, llm_version=version_b)
        battle = Battle.objects.create(
            prompt=prompt,
            generation_a=generation_a,
            generation_b=generation_b,
            version_a=version_a,
            version_b=version_b,
            voter=voter,
            live=True,
        )
        BattleTurn.objects.create(
            battle=battle, number=1, prompt=prompt, generation_a=generation_a, generation_b=generation_b
        )
        transaction.on_commit(lambda: _enqueue(generation_a.pk, generation_b.pk))
    return battle


def _history(turns: list[BattleTurn], side: str) -> list[dict]:
    messages = []
    for turn in turns:
        generation = getattr(turn, f"generation_{side}")
        messages += [
            {"role": "user", "content": turn.prompt.text},
            {"role": "assistant", "content": generation.text},
        ]
    return messages


def add_follow_up(*, battle_code, voter, text: str) -> BattleTurn:
    """Both sides answer a follow-up, each seeing its own earlier answers."""
    text = _clean_text(text)
    with transaction.atomic():
        battle = Battle.objects.select_for_update().filter(code=battle_code, live=True).first()
        if battle is None or battle.voter_id != voter.pk:
            raise LiveBattleError("This live battle is not yours.")
        if battle.status != Battle.Status.OPEN:
            raise LiveBattleError("This battle is closed; start a new one.")
        turns = list(battle.turns.select_related("prompt", "generation_a", "generation_b"))
        if len(turns) >= settings.ARENA_LIVE_MAX_TURNS:
            raise LiveBattleError(f"A live battle has at most {settings.ARENA_LIVE_MAX_TURNS} turns; please vote.")
        if any(g.status != Generation.Status.DONE for t in turns for g in (t.generation_a, t.generation_b)):
            raise LiveBattleError("Wait until both answers are complete before sending a follow-up.")
        if spend.capped(LLM.objects.filter(versions__in=[battle.version_a_id, battle.version_b_id])):
            # Says neither which side nor which model: the battle is still blind.
            raise LiveBattleError(
                "A model in this battle has used up this month's spending budget and cannot answer more; "
                "vote on the answers so far, or start a new battle."
            )
        history = sum(len(t.prompt.text) + max(len(t.generation_a.text), len(t.generation_b.text)) for t in turns)
        if history + len(text) > settings.ARENA_LIVE_MAX_CONVERSATION_CHARS:
            raise LiveBattleError(
                "This conversation is now too long to send again to both models; please vote on it, or start a new one."
            )
        prompt = _new_prompt(text)
        generation_a = Generation.objects.create(
            prompt=prompt, llm_version_id=battle.version_a_id, context=_history(turns, "a")
        )
        generation_b = Generation.objects.create(
            prompt=prompt, llm_version_id=battle.version_b_id, context=_history(turns, "b")
        )
        turn = BattleTurn.objects.create(
            battle=battle,
            number=len(turns) + 1,
            prompt=prompt,
            generation_a=generation_a,
            generation_b=generation_b,
        )
        transaction.on_commit(lambda: _enqueue(generation_a.pk, generation_b.pk))
    return turn


def generation_finished(generation_id: int) -> None:
    """Called when a live generation reached done or failed (from the worker)."""
    turn = (
        BattleTurn.objects.filter(Q(generation_a_id=generation_id) | Q(generation_b_id=generation_id))
        .select_related("battle", "generation_a", "generation_b")
        .first()
    )
    if turn is None:
        return
    battle = turn.battle
    if battle.status != Battle.Status.OPEN:
        return
    sides = {"a": turn.generation_a, "b": turn.generation_b}
    failed = [side for side, g in sides.items() if g.status == Generation.Status.FAILED]
    if failed:
        for side in failed:
            if not _replace_side(turn, side):
                _fail_battle(battle, sides[side].error)
                return
        return  # the replacement is generating; nothing to show yet
    if all(g.status == Generation.Status.DONE for g in sides.values()):
        _check_identity(battle, [sides["a"].text, sides["b"].text])
        notify(battle)


def _replace_side(turn: BattleTurn, side: str) -> bool:
    """Swap a failed first-turn side for another LLM; False when that is not possible."""
    battle = turn.battle
    if turn.number != 1:
        return False
    used_llms = set(Generation.objects.filter(prompt=turn.prompt).values_list("llm_version__llm_id", flat=True))
    if len(used_llms) - 2 >= MAX_REPLACEMENTS:
        return False
    candidates = _live_candidates(exclude_llms=used_llms)
    if not candidates:
        return False
    # Within the exposure cap when some candidate allows it (the voter never saw the failed side).
    cap = exposure_cap(len(candidates) + len(used_llms))
    counts = appearances(recent_pairs([b for b in recent_battles(battle.voter_id) if b.pk != battle.pk]))
    under_cap = [v for v in candidates if cap is None or counts[v.llm_id] < cap]
    replacement = secure_rng.choice(under_cap or candidates)
    failed_generation = getattr(turn, f"generation_{side}")
    with transaction.atomic():
        generation = Generation.objects.create(prompt=turn.prompt, llm_version=replacement)
        moved = BattleTurn.objects.filter(pk=turn.pk, **{f"generation_{side}": failed_generation}).update(
            **{f"generation_{side}": generation}
        )
        if not moved:
            return True  # another process already replaced it
        Battle.objects.filter(pk=battle.pk).update(**{f"generation_{side}": generation, f"version_{side}": replacement})
        transaction.on_commit(lambda: _enqueue(generation.pk))
    logger.info("live battle %s: side %s replaced after a failure", battle.code, side)
    return True


def _fail_battle(battle: Battle, reason: str) -> None:
    if Battle.objects.filter(pk=battle.pk, status=Battle.Status.OPEN).update(
        status=Battle.Status.FAILED, closed_at=timezone.now()
    ):
        logger.info("live battle %s failed: %s", battle.code, reason)
        notify(battle)


def _check_identity(battle: Battle, texts: list[str]) -> None:
    terms = identity_terms()
    found = sorted({term for text in texts for term in find_identity_mentions(text, terms)})
    if found:
        merged = sorted(set(battle.leaked_terms or []) | set(found))
        Battle.objects.filter(pk=battle.pk).update(identity_leak=True, leaked_terms=merged)


def notify(battle: Battle) -> None:
    """Tell the voter's open page to re-render from the database (after commit)."""
    code = battle.code
    transaction.on_commit(lambda: live_battle_changed.send(sender=Battle, battle_code=code))


def on_generation_finished(sender, generation_id: int, pool_id: int | None, **kwargs) -> None:
    """Receiver of ``generation_finished``: a live battle may wait for this answer (or for news of its failure)."""
    if pool_id is None:
        generation_finished(generation_id)


def battle_view(battle: Battle) -> dict:
    """What the live panel shows: turns whose both answers are complete, and the state."""
    turns = list(battle.turns.select_related("prompt", "generation_a", "generation_b"))
    shown, waiting = [], None
    for turn in turns:
        if turn.generation_a.status == Generation.Status.DONE and turn.generation_b.status == Generation.Status.DONE:
            shown.append(turn)
        else:
            waiting = turn
            break
    return {
        "battle": battle,
        "turns": shown,
        "waiting_turn": waiting,
        "failed": battle.status == Battle.Status.FAILED,
        "ready": battle.status == Battle.Status.OPEN and waiting is None and bool(shown),
        "can_follow_up": battle.status == Battle.Status.OPEN
        and waiting is None
        and len(turns) < settings.ARENA_LIVE_MAX_TURNS,
        "turn_limit_reached": battle.status == Battle.Status.OPEN
        and waiting is None
        and len(turns) >= settings.ARENA_LIVE_MAX_TURNS,
        "max_turns": settings.ARENA_LIVE_MAX_TURNS,
    }
