"""Prompts of the demo's history pool: templates × fillers, chosen by a seeded RNG.

Pure data and one function; the answers to these prompts come from the fake provider's answer
generator, so they read like the answers a new battle gets when no answer book entry exists.
"""

from __future__ import annotations

import itertools
import random

THINGS = [
    "the office move in March",
    "the new expense policy",
    "the autumn hackathon",
    "the change to the on-call rotation",
    "the holiday support schedule",
    "the move to the new CI runners",
    "the security training deadline",
    "the design review process",
    "the laptop refresh programme",
    "the quarterly planning week",
    "the new incident severity levels",
    "the API deprecation timeline",
    "the switch to the new status page",
    "the mentoring programme for new joiners",
]

TEMPLATES = {
    "writing": [
        "Draft a short announcement to the engineering team about {thing}.",
        "Write a friendly two-sentence Slack reminder about {thing}.",
        "Suggest three subject lines for an email about {thing}.",
        "Write a paragraph for the internal newsletter about {thing}, for people outside engineering.",
        "Rewrite this so it sounds less bureaucratic: 'All staff are hereby reminded of {thing}.'",
        "Write a short FAQ entry answering 'Why are we doing this?' about {thing}.",
    ],
    "coding": [
        "Write a Python function that {task}, with a docstring and one example.",
        "How would you test code that {task}? Give a short pytest example.",
        "Review this approach: a cron job that {task} every minute. What could go wrong?",
        "Write a SQL query for a report that {task}.",
        "Explain to a junior engineer how to write a script that {task}.",
    ],
    "reasoning": [
        "Our team has {n} engineers and {m} open tickets, and each engineer closes about {k} a week. "
        "Roughly when is the backlog empty if {k2} new tickets arrive each week?",
        "A service handles {n}00 requests a second and each instance manages {k}0. How many instances "
        "do we need with one spare per zone across {k2} zones?",
        "We can buy {m} licences at ${n}0 a month each or a flat plan at ${k}00 a month. "
        "At what headcount does the flat plan pay off?",
        "If a flaky test fails {k} times in {n}0 runs, what is the chance that {k2} runs in a row pass?",
    ],
    "instruction_following": [
        "List exactly {k} risks of {thing}, one line each, no more than ten words per line.",
        "Answer with yes or no only: should {thing} be announced before it is final?",
        "Summarise {thing} in exactly two sentences, without using the word 'new'.",
        "Reply only with a JSON object with the keys 'owner', 'date' and 'risk' for {thing}.",
        "Give {k} bullet points about {thing}, each starting with a verb.",
    ],
}

TASKS = [
    "removes duplicate rows from a CSV file",
    "finds the ten slowest endpoints in an access log",
    "retries an HTTP call with exponential backoff",
    "archives tickets older than ninety days",
    "checks that every service has an owner in the catalogue",
    "counts failed logins per user per day",
    "rotates a log file without losing lines",
    "validates the fields of a signup form",
    "merges two sorted lists of timestamps",
    "reports disk usage per directory",
    "parses durations like '1h30m' into seconds",
    "flags invoices paid twice",
    "batches database writes in groups of a thousand",
    "watches a directory for new uploads",
    "redacts email addresses from log lines",
    "compares two JSON configuration files",
]


def history_prompts(count_per_category: int, *, seed: int) -> list[dict]:
    """``count_per_category`` distinct prompts per category, as {"id", "text", "category", "tags"}."""
    rng = random.Random(seed)
    rows = []
    for category, templates in TEMPLATES.items():
        texts: set[str] = set()
        for attempt, template in enumerate(itertools.cycle(templates)):
            if len(texts) >= count_per_category:
                break
            if attempt > 100 * count_per_category:
                raise ValueError(f"the {category} templates give fewer than {count_per_category} prompts")
            n, m, k = rng.randint(3, 12), rng.randint(20, 90), rng.randint(2, 6)
            text = template.format(
                thing=rng.choice(THINGS), task=rng.choice(TASKS), n=n, m=m, k=k, k2=rng.randint(1, k)
            )
            if text in texts:
                continue
            texts.add(text)
            rows.append(
                {
                    "id": f"h-{category[:4]}-{len(texts):03d}",
                    "text": text,
                    "category": category,
                    "tags": ["demo-history"],
                }
            )
    return rows
