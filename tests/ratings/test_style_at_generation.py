"""Answers are measured for style when the worker stores them, not at the first style-controlled fit."""

import pytest

from battles.generation import runner
from battles.models import Generation
from ratings.engine import style_counts
from ratings.models import GenerationStyle
from tests.factories import make_llm, make_pool, make_prompt
from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_stored_answer_has_its_style_features_at_once(fake_provider):
    fake_provider.reset()
    llm = make_llm("styled", base_url=fake_provider.base_url("openai"), model_id="styled-model")
    answer = Generation.objects.create(
        prompt=make_prompt(make_pool(), "Explain caching with a list."), llm_version=llm.current_version()
    )
    assert runner.run_generation(generation_id=answer.pk).status == "done"
    answer.refresh_from_db()
    style = GenerationStyle.objects.get(generation=answer)
    assert (style.length, style.headers, style.bold, style.list_items) == tuple(style_counts(answer.text))
    assert style.length > 0
