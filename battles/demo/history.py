"""The demo's history: a dozen demo voters and several weeks of votes, so that every eval-lead
page has something to show on first open.

Deterministic: one RNG seeded with ``SEED`` draws every prompt, answer length, pair, outcome,
reason, comment and time; only the dates move with the day of loading (the history ends the
day before). Everything is written with ``bulk_create`` in one transaction: a few thousand
votes load in seconds. Every name says "demo": the voters, the pool, the benchmark sources.

The votes follow hidden strengths per LLM and category (a Bradley–Terry model, with ties and
"both bad"), so the boards, the per-category routes and the over-time history show real
differences; ``granite-r1`` is the vibes-gap case: top of the demo benchmarks, near the bottom
of the voters' preference.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from battles.catalog.tasks import render_answers_after_commit
from battles.core.integrity import minimum_vote_ms
from battles.core.text import prompt_hash
from battles.demo.fake_provider.answers import count_tokens, generate
from battles.demo.history_prompts import history_prompts
from battles.models import LLM, Battle, Generation, LLMVersion, Prompt, PromptPool, Vote
from battles.signals import answers_stored, votes_imported
from battles.voting import tallies

SEED = 20251206
WEEKS = 6
HISTORY_POOL = "Demo history (archived)"
PROMPTS_PER_CATEGORY = 60
# (username, role, votes over the weeks): a few keen voters, many occasional ones, two eval leads.
DEMO_VOTERS = (
    ("demo.amara", "voter", 270),
    ("demo.bastien", "voter", 260),
    ("demo.chen", "voter", 250),
    ("demo.dalia", "voter", 240),
    ("demo.erik", "voter", 220),
    ("demo.farah", "voter", 200),
    ("demo.goran", "voter", 170),
    ("demo.hana", "voter", 140),
    ("demo.ines", "voter", 110),
    ("demo.jonas", "voter", 80),
    ("demo.kofi", "eval_lead", 100),
    ("demo.lena", "eval_lead", 70),
)
DEMO_LOGIN_VOTES = 30  # the demo login's own past votes: enough for its board at /me/

# Hidden strength (rating points) per LLM, and its lead or lag per category.
STRENGTH = {
    "aurora-large": 1110,
    "fjord-pro": 1090,
    "ember-70b": 1070,
    "basalt-mini": 1040,
    "cedar-chat": 1030,
    "heron-lite": 960,
    "drift-7b": 900,
    "granite-r1": 790,
}
CATEGORY_LEAD = {
    ("cedar-chat", "writing"): 80,
    ("cedar-chat", "coding"): -60,
    ("ember-70b", "coding"): 70,
    ("basalt-mini", "instruction_following"): 70,
    ("fjord-pro", "reasoning"): 60,
    ("granite-r1", "reasoning"): 70,
    ("aurora-large", "instruction_following"): -50,
}
# fjord-pro joined the arena in the third week: its first votes come then.
JOINED_WEEK = {"fjord-pro": 2}
# Latency (median ms, spread) of each LLM's answers.
LATENCY = {
    "aurora-large": (4200, 1500),
    "basalt-mini": (900, 300),
    "cedar-chat": (2100, 700),
    "drift-7b": (600, 200),
    "ember-70b": (3100, 900),
    "fjord-pro": (3600, 1100),
    "granite-r1": (7800, 2500),
    "heron-lite": (800, 250),
}
GOOD_REASONS = {
    "aurora-large": ["correct", "formatting", "clear"],
    "basalt-mini": ["concise", "follows_instructions", "correct"],
    "cedar-chat": ["tone", "clear"],
    "drift-7b": ["concise"],
    "ember-70b": ["correct", "clear"],
    "fjord-pro": ["correct", "follows_instructions", "clear"],
    "granite-r1": ["correct"],
    "heron-lite": ["concise", "tone"],
}
BAD_REASONS = {"drift-7b": ["hallucinated"], "granite-r1": ["hallucinated"], "heron-lite": ["hallucinated"]}
COMMENTS = {
    "a": [
        "A got to the point; B buried the answer.",
        "A's steps actually work, I checked the second one.",
        "A is easier to scan.",
        "B missed part of the question.",
        "A sounds like a person wrote it.",
    ],
    "b": [
        "B answered what I asked, A answered something nearby.",
        "B is shorter and still complete.",
        "A is terse to the point of being rude; B is fine.",
        "B's example is the one I would paste into a review.",
        "A invented a flag that does not exist.",
    ],
    "tie": ["Both fine, honestly.", "Same content, different order.", "Hard to tell them apart."],
    "both_bad": ["Neither followed the word limit.", "Both missed the point of the question."],
}


@dataclass(frozen=True)
class HistoryReport:
    prompts: int
    answers: int
    voters: int
    votes: int


def _demo_voters() -> list[tuple[User, str, int]]:
    voters = []
    for username, role, count in DEMO_VOTERS:
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": "Demo voter"})
        if created:
            user.set_unusable_password()  # demo voters never sign in; they only have a past
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        voters.append((user, role, count))
    return voters


def _history_pool(rng: random.Random) -> tuple[PromptPool, list[Prompt]]:
    pool, _ = PromptPool.objects.get_or_create(
        name=HISTORY_POOL,
        defaults={
            "description": "Demo data: last quarter's prompts, generated for the demo's vote history; "
            "archived (hidden), so they are no longer served."
        },
    )
    rows = history_prompts(PROMPTS_PER_CATEGORY, seed=rng.randrange(2**32))
    prompts = Prompt.objects.bulk_create(
        Prompt(
            pool=pool,
            text=row["text"],
            category=row["category"],
            tags=row["tags"],
            external_id=row["id"],
            text_hash=prompt_hash(row["text"]),
            hidden=True,
        )
        for row in rows
    )
    return pool, prompts


def _answers(rng: random.Random, prompts: list[Prompt], versions: list[LLMVersion], start) -> list[Generation]:
    rows = []
    for prompt in prompts:
        for version in versions:
            text = generate(version.model_id, prompt.text)
            median, spread = LATENCY.get(version.llm.name, (2000, 600))
            latency = max(150, int(rng.gauss(median, spread)))
            tokens_in, tokens_out = count_tokens(prompt.text) + 12, count_tokens(text)
            price_in, price_out = version.llm.price_input_per_mtok, version.llm.price_output_per_mtok
            finished = start - dt.timedelta(days=1, seconds=rng.randrange(86400))
            rows.append(
                Generation(
                    prompt=prompt,
                    llm_version=version,
                    status=Generation.Status.DONE,
                    text=text,
                    attempts=1,
                    latency_ms=latency,
                    ttft_ms=int(latency * rng.uniform(0.08, 0.25)),
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                    cost=(tokens_in * Decimal(price_in) + tokens_out * Decimal(price_out)) / Decimal(1_000_000),
                    started_at=finished - dt.timedelta(milliseconds=latency),
                    finished_at=finished,
                )
            )
    return Generation.objects.bulk_create(rows, batch_size=500)


def _strength(name: str, category: str) -> float:
    return STRENGTH.get(name, 1000) + CATEGORY_LEAD.get((name, category), 0)


def _outcome(rng: random.Random, a: float, b: float) -> str:
    if max(a, b) < 960 and rng.random() < 0.25:
        return "both_bad"
    if rng.random() < 0.12:
        return "tie"
    return "a" if rng.random() < 1 / (1 + 10 ** ((b - a) / 400)) else "b"


def _when(rng: random.Random, start: dt.datetime, earliest_day: int) -> dt.datetime:
    """A working-hours moment of a weekday from ``earliest_day`` days after ``start`` on."""
    while True:
        day = rng.randrange(earliest_day, WEEKS * 7)
        moment = start + dt.timedelta(days=day, hours=rng.triangular(8, 19, 11), seconds=rng.randrange(3600))
        if moment.weekday() < 5 or rng.random() < 0.08:
            return moment


def _reasons(rng: random.Random, winner: str, loser: str) -> tuple[list[str], list[str]]:
    if rng.random() > 0.4:
        return [], []
    good = rng.sample(GOOD_REASONS[winner], k=min(len(GOOD_REASONS[winner]), rng.randint(1, 2)))
    bad = BAD_REASONS.get(loser, []) if rng.random() < 0.3 else []
    return good, bad


def load_history(*, llms: list[LLM], demo_login: User | None, live_pool: PromptPool) -> HistoryReport:
    """Write the history once; a second call finds the history pool filled and changes nothing."""
    if PromptPool.objects.filter(name=HISTORY_POOL, prompts__isnull=False).exists():
        return HistoryReport(0, 0, 0, 0)
    rng = random.Random(SEED)
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - dt.timedelta(weeks=WEEKS)
    versions = [llm.current_version() for llm in llms]
    with transaction.atomic():
        voters = _demo_voters()
        pool, history = _history_pool(rng)
        generations = _answers(rng, history, versions, start)
        answers: dict[tuple[int, int], Generation] = {(g.prompt_id, g.llm_version_id): g for g in generations}
        for g in Generation.objects.filter(prompt__pool=live_pool, status=Generation.Status.DONE):
            answers[(g.prompt_id, g.llm_version_id)] = g
        live_prompts = list(live_pool.prompts.filter(hidden=False).order_by("pk"))
        people = list(voters)
        if demo_login is not None:
            people.append((demo_login, "voter", DEMO_LOGIN_VOTES))
        battles, votes = [], []
        for user, role, count in people:
            # Each voter meets a prompt once; the demo login only met archived ones, so every
            # prompt of the demo pool is still new to it.
            choices = history + ([] if user is demo_login else live_prompts)
            for prompt in rng.sample(choices, k=min(count, len(choices))):
                # On the demo prompts only the LLMs that answered them meet.
                left, right = rng.sample([v for v in versions if (prompt.pk, v.pk) in answers], 2)
                moment = _when(rng, start, max(JOINED_WEEK.get(v.llm.name, 0) * 7 for v in (left, right)))
                a, b = answers[(prompt.pk, left.pk)], answers[(prompt.pk, right.pk)]
                category = prompt.category
                outcome = _outcome(rng, _strength(left.llm.name, category), _strength(right.llm.name, category))
                minimum = minimum_vote_ms([len(a.text), len(b.text)])
                hasty = rng.random() < 0.04
                time_to_vote = int(minimum * (rng.uniform(0.2, 0.8) if hasty else rng.uniform(1.1, 3.5))) + 800
                reasons_a: list[str] = []
                reasons_b: list[str] = []
                if outcome in ("a", "b"):
                    winner, loser = (left, right) if outcome == "a" else (right, left)
                    good, bad = _reasons(rng, winner.llm.name, loser.llm.name)
                    reasons_a, reasons_b = (good, bad) if outcome == "a" else (bad, good)
                comment = rng.choice(COMMENTS[outcome]) if rng.random() < 0.12 else ""
                battle = Battle(
                    prompt=prompt,
                    generation_a=a,
                    generation_b=b,
                    version_a=left,
                    version_b=right,
                    voter=user,
                    status=Battle.Status.VOTED,
                    closed_at=moment,
                )
                battle.created_at = moment - dt.timedelta(milliseconds=time_to_vote)
                battles.append(battle)
                votes.append(
                    Vote(
                        voter=user,
                        outcome=outcome,
                        version_a=left,
                        version_b=right,
                        time_to_vote_ms=time_to_vote,
                        reasons_a=reasons_a,
                        reasons_b=reasons_b,
                        comment=comment,
                        insider=role != "voter",
                        flagged=time_to_vote < minimum,
                        flags=["too_fast"] if time_to_vote < minimum else [],
                        created_at=moment,
                    )
                )
        created_at = [b.created_at for b in battles]
        Battle.objects.bulk_create(battles, batch_size=500)
        # created_at is auto_now_add: bulk_create stamped "now"; the battles keep their own moment.
        for battle, moment in zip(battles, created_at):
            battle.created_at = moment
        Battle.objects.bulk_update(battles, ["created_at"], batch_size=500)
        for battle, vote in zip(battles, votes):
            vote.battle = battle
        Vote.objects.bulk_create(votes, batch_size=500)
        tallies.recount(sorted({vote.voter_id for vote in votes}))
        ids = [g.pk for g in generations]
        transaction.on_commit(lambda: answers_stored.send(sender=Generation, generation_ids=ids))
        render_answers_after_commit()  # the history's answers were stored without their HTML
        transaction.on_commit(lambda: votes_imported.send(sender=Vote, count=len(votes)))
    return HistoryReport(len(history), len(generations), len(voters), len(votes))
