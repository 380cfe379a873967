"""Plain factories for tests: make_* functions with sensible defaults."""

import html
import itertools
import re

import pytest
from django.contrib.auth.models import Group, User

from battles.catalog import llms
from battles.core.text import prompt_hash
from battles.models import LLM, Generation, Prompt, PromptPool

_seq = itertools.count(1)


def make_user(username=None, *, role="voter", password="pw-for-tests", **extra) -> User:
    user = User.objects.create_user(username=username or f"user{next(_seq)}", password=password, **extra)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def make_llm(name=None, *, provider="openai", base_url="http://127.0.0.1:9/v1", model_id=None, **extra) -> LLM:
    name = name or f"llm-{next(_seq)}"
    return llms.create_llm(name=name, provider=provider, base_url=base_url, model_id=model_id or name, **extra)


def make_pool(name=None) -> PromptPool:
    return PromptPool.objects.create(name=name or f"pool-{next(_seq)}")


def make_prompt(pool=None, text=None, *, category="writing") -> Prompt:
    pool = pool or make_pool()
    text = text or f"Prompt number {next(_seq)}: explain something."
    return Prompt.objects.create(pool=pool, text=text, category=category, text_hash=prompt_hash(text))


def make_generation(prompt, llm, *, text=None, status=Generation.Status.DONE, **extra) -> Generation:
    return Generation.objects.create(
        prompt=prompt,
        llm_version=llm.current_version(),
        status=status,
        text=text if text is not None else f"An answer to {prompt.pk} by a model.",
        **extra,
    )


def make_arena(*, llms=("alpha", "beta", "gamma"), prompts=5, pool=None):
    """A pool whose prompts all have finished answers from every LLM."""
    pool = pool or make_pool()
    models = [make_llm(name) for name in llms]
    prompt_rows = [make_prompt(pool, f"Question {i} for {pool.name}: what is {i} + {i}?") for i in range(prompts)]
    for prompt in prompt_rows:
        for llm in models:
            make_generation(prompt, llm, text=f"The answer is {2 * prompt.pk}. (style of {llm.pk})")
    return pool, models, prompt_rows


@pytest.fixture
def voter(db):
    return make_user("voter1", role="voter")


@pytest.fixture
def eval_lead(db):
    return make_user("lead1", role="eval_lead")


@pytest.fixture
def admin_user(db):
    return make_user("admin1", role="admin", is_staff=True, is_superuser=True)


def own_battle_url(response) -> str:
    """The address of the battle a page shows (``data-battle-url``): ``/`` renders a battle without redirecting."""
    assert response.status_code == 200, response.status_code
    found = re.search(r'data-battle-url="([^"]+)"', response.content.decode())
    assert found, "the page shows no battle"
    return html.unescape(found.group(1))


def open_battle_url(client, path="/") -> str:
    """Open ``path`` (a new battle, or the voter's open one) and return that battle's own address."""
    return own_battle_url(client.get(path))
