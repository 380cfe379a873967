"""What the voter's pages show, shared by the views and the live panel's consumer."""

from __future__ import annotations

from functools import cache

from django.template.loader import render_to_string

from battles.models import REASON_TAGS, Battle, Vote

VOTE_CHOICES = [
    ("a", "A is better", "1"),
    ("b", "B is better", "2"),
    ("tie", "Tie", "3"),
    ("both_bad", "Both are bad", "4"),
]

REPLAYED_NOTICE = "You had already voted on this battle; your vote was counted once."
VOTE_NOT_STORED = (
    "Your vote on this battle was not stored (your session had expired, or the page was reopened). Vote again below."
)

REASON_LABELS = {
    "correct": "Correct",
    "follows_instructions": "Follows instructions",
    "clear": "Clear",
    "concise": "Concise",
    "tone": "Good tone",
    "formatting": "Good formatting",
    "safe": "Safe",
    "hallucinated": "Hallucinated",
}


@cache
def vote_controls() -> str:
    """The vote form's choices and reasons: the same markup for every battle, so rendered once.

    Most of a battle page's template nodes are these loops; the form around them (its action and
    CSRF token) is rendered with each page.
    """
    return render_to_string(
        "battles/_vote_controls.html",
        {
            "choices": VOTE_CHOICES,
            "reason_tags": [(tag, REASON_LABELS[tag]) for tag in REASON_TAGS],
            "reason_sides": [("A", "reasons_a"), ("B", "reasons_b")],
        },
    )


def vote_form_context() -> dict:
    return {"vote_controls": vote_controls()}


def reveal_context(vote: Vote, *, replayed: bool = False, battle: Battle | None = None, turns=None) -> dict:
    """What the reveal shows: the vote, both names and the answers' costs.

    ``battle``: the vote's battle, already loaded with its prompt, answers, versions and their
    LLMs, with the versions shared with the answers (``battles.voting.votes.share_versions``), and
    ``turns``, a live battle's turns: then nothing is read. Without them they are read here.
    """
    if vote.battle_id is None:
        raise ValueError("an imported vote has no battle to reveal")
    if battle is None:
        battle = Battle.objects.select_related(
            "prompt",
            "version_a__llm",
            "version_b__llm",
            "generation_a__llm_version__llm",
            "generation_b__llm_version__llm",
        ).get(pk=vote.battle_id)
    if turns is None:
        turns = list(battle.turns.select_related("prompt", "generation_a", "generation_b")) if battle.live else []
    return {
        "battle": battle,
        "vote": vote,
        # The voter's own reasons, recapped beside the names.
        "reasons": [
            (side, [REASON_LABELS.get(tag, tag) for tag in tags])
            for side, tags in (("A", vote.reasons_a), ("B", vote.reasons_b))
            if tags
        ],
        # Asked gently, without saying that the vote is set aside: a voter told so learns to game it.
        "take_your_time": "too_fast" in (vote.flags or []),
        "replayed": replayed,
        "turns": turns,
        "sides": [("A", battle.generation_a), ("B", battle.generation_b)],
    }
