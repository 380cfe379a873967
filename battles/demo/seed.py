"""Demo data: a prompt pool, eight LLMs served by the fake provider, and their answers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction

from battles.catalog import pools
from battles.catalog.llms import create_llm
from battles.models import LLM, PromptPool

DEMO_DIR = Path(__file__).resolve().parent / "data"
DEMO_POOL = "Demo prompts"


@dataclass(frozen=True)
class DemoLLM:
    name: str
    provider: str
    price_in: float
    price_out: float


# Both wire formats, so the demo exercises both provider clients. The first four have hand-written
# answers to the demo prompts (data/answers.jsonl) and are generated at load; the others answer the
# archived history prompts and live prompts, and the demo prompts once an admin generates them.
HAND_WRITTEN = 4
DEMO_LLMS = (
    DemoLLM("aurora-large", LLM.Provider.OPENAI, 5.0, 15.0),
    DemoLLM("basalt-mini", LLM.Provider.ANTHROPIC, 0.25, 1.25),
    DemoLLM("cedar-chat", LLM.Provider.OPENAI, 1.0, 3.0),
    DemoLLM("drift-7b", LLM.Provider.ANTHROPIC, 0.1, 0.2),
    DemoLLM("ember-70b", LLM.Provider.OPENAI, 0.9, 0.9),
    DemoLLM("fjord-pro", LLM.Provider.ANTHROPIC, 3.0, 15.0),
    DemoLLM("granite-r1", LLM.Provider.OPENAI, 2.0, 8.0),
    DemoLLM("heron-lite", LLM.Provider.ANTHROPIC, 0.15, 0.6),
)


def fake_provider_port() -> int:
    return int(os.environ.get("FAKE_PROVIDER_PORT", "8765"))


def base_url(provider: str, port: int) -> str:
    root = f"http://127.0.0.1:{port}"
    return f"{root}/v1" if provider == LLM.Provider.OPENAI else root


def load_prompts() -> list[dict]:
    with open(DEMO_DIR / "prompts.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_answer_book(path: Path) -> Path:
    """The fake provider's answer book: demo answers keyed by model and prompt text."""
    prompts = {p["id"]: p["text"] for p in load_prompts()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(DEMO_DIR / "answers.jsonl", encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for line in src:
            if line.strip():
                row = json.loads(line)
                out.write(
                    json.dumps({"model": row["model"], "prompt": prompts[row["prompt_id"]], "text": row["text"]}) + "\n"
                )
    return path


def answer_book_path() -> Path:
    return Path(settings.BASE_DIR) / "var" / "demo_answer_book.jsonl"


def load_pool_and_llms(*, port: int) -> tuple[PromptPool, list[LLM]]:
    with transaction.atomic():
        pool, _ = PromptPool.objects.get_or_create(
            name=DEMO_POOL, defaults={"description": "Demo data: realistic internal prompts written for the demo."}
        )
        for row in load_prompts():
            pools.add_prompt(
                pool=pool,
                text=row["text"],
                category=row["category"],
                tags=row.get("tags", []),
                external_id=row["id"],
            )
    llms: list[LLM] = []
    for demo in DEMO_LLMS:
        llm = LLM.objects.filter(name=demo.name).first()
        if llm is None:
            llm = create_llm(
                name=demo.name,
                provider=demo.provider,
                base_url=base_url(demo.provider, port),
                model_id=demo.name,
                max_tokens=1024,
                price_input_per_mtok=demo.price_in,
                price_output_per_mtok=demo.price_out,
            )
        llms.append(llm)
    repoint_demo_llms(port=port)
    return pool, [LLM.objects.get(pk=llm.pk) for llm in llms]


def repoint_demo_llms(*, port: int) -> int:
    """Point the demo LLMs at the fake provider on ``port`` (a run with another FAKE_PROVIDER_PORT
    must not send their calls to another demo's provider); returns how many moved."""
    moved = 0
    for demo in DEMO_LLMS:
        url = base_url(demo.provider, port)
        moved += LLM.objects.filter(name=demo.name, imported=False).exclude(base_url=url).update(base_url=url)
    return moved


def create_demo_users() -> list[tuple[str, str, str]]:
    """demo/demo (voter) and admin/admin (admin); only ever called in embedded mode."""
    created = []
    for username, role, staff in (("demo", "voter", False), ("admin", "admin", True)):
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(username)
        user.is_staff = user.is_superuser = staff
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        created.append((username, username, role))
    return created


WAITING_POOL = "Demo: support macros (no answers yet)"
WAITING_PROMPTS = (
    ("Write a polite macro telling a customer their refund was processed and when to expect it.", "writing"),
    ("Write a macro asking a customer for the exact error message and a screenshot.", "writing"),
    ("Write a macro explaining that a feature request was logged, without promising a date.", "writing"),
    ("Write a macro for a customer locked out after too many sign-in attempts.", "writing"),
    ("Write a macro apologising for a delayed reply during a holiday week.", "writing"),
    ("List three questions to ask a customer who reports that exports are slow.", "instruction_following"),
    ("Write a macro explaining how to rotate an API key, in four numbered steps.", "instruction_following"),
    ("Write a macro closing a ticket that has had no reply for two weeks.", "writing"),
)


def load_waiting_pool() -> PromptPool:
    """A small pool nobody generated answers for yet: the admin's "Generate answers" has work to show."""
    with transaction.atomic():
        pool, _ = PromptPool.objects.get_or_create(
            name=WAITING_POOL,
            defaults={"description": "Demo data: new prompts waiting for answers (try Generate answers)."},
        )
        for number, (text, category) in enumerate(WAITING_PROMPTS, start=1):
            pools.add_prompt(pool=pool, text=text, category=category, tags=["support"], external_id=f"m{number:02d}")
    return pool
