"""Plain factories for the generation job tests."""

from battles.demo.fake_provider.answers import answer
from battles.models import LLM
from tests.factories import make_llm, make_pool, make_prompt


def llm_on(provider, name, *, kind="openai", **fields):
    """An LLM served by the fake provider; ``fields`` set limits or breaker state directly."""
    llm = make_llm(name, provider=kind, base_url=provider.base_url(kind), model_id=f"{name}-id")
    if fields:
        LLM.objects.filter(pk=llm.pk).update(**fields)
        llm.refresh_from_db()
    return llm


def pool_with(n, *, name=None, text="Prompt {i}: what makes a good commit message?"):
    pool = make_pool(name)
    for i in range(n):
        make_prompt(pool, text.format(i=i))
    return pool


def expected_answer(generation):
    return answer(generation.llm_version.model_id, [{"role": "user", "content": generation.prompt.text}])


def wait_for_status(job, status, timeout=10.0):
    """Jobs are finished by the progress sender's thread, a moment after their last answer."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == status:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job.code} is {job.status}, not {status}")
