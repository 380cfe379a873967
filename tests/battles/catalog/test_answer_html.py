"""Answers' stored HTML: rendered off the voters' requests, used only while it matches the text and renderer."""

from __future__ import annotations

import pytest

from battles.catalog import answer_html, tasks
from battles.catalog.answer_html import render_answers, without_html
from battles.core import rendering
from battles.models import Generation, Prompt
from tests.battles.catalog.imports.helpers import jsonl, run, write
from tests.factories import make_arena, make_llm, make_pool, make_prompt, own_battle_url

pytestmark = pytest.mark.django_db

HOSTILE = 'Fine answer.\n\n<script>alert(1)</script> <img src=x onerror="alert(2)">\n\n```python\nprint("hi")\n```'


def test_imported_answers_get_their_html_from_the_task_queued_after_the_import(
    tmp_path, django_capture_on_commit_callbacks
):
    pool = make_pool("main")
    prompt = make_prompt(pool, "What is the capital of France?")
    Prompt.objects.filter(pk=prompt.pk).update(external_id="p1")
    make_llm("alpha")
    path = write(tmp_path, "g.jsonl", jsonl({"prompt_id": "p1", "model": "alpha", "answer": HOSTILE}))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        code, out = run("import_generations", path)
    assert code == 0, out
    assert queued, "the import queued nothing"
    generation = Generation.objects.get()
    assert (generation.html, generation.html_key) == rendering.stored_html(HOSTILE)
    assert "<script" not in generation.html and "<img" not in generation.html  # shown as text, escaped
    assert "&lt;script&gt;" in generation.html and '<span class="nb">print</span>' in generation.html


def test_only_answers_without_html_are_rendered_unless_stale_ones_are_asked_for():
    make_arena(llms=("alpha", "beta"), prompts=3)
    assert render_answers() == 6
    assert render_answers() == 0
    first, second = Generation.objects.order_by("pk")[:2]
    Generation.objects.filter(pk=first.pk).update(html="", html_key="")
    # Rendered by another renderer (or for another text): a key that is not the current one.
    Generation.objects.filter(pk=second.pk).update(html="<p>old</p>", html_key="0" * 32)
    assert render_answers() == 1
    assert Generation.objects.get(pk=second.pk).html == "<p>old</p>"
    assert render_answers(stale=True) == 1
    for generation in Generation.objects.all():
        assert (generation.html, generation.html_key) == rendering.stored_html(generation.text)


def test_the_command_renders_stale_answers():
    make_arena(llms=("alpha", "beta"), prompts=1)
    Generation.objects.update(html="<p>old</p>", html_key="0" * 32)
    code, out = run("render_answers", "--stale")
    assert code == 0 and "rendered the HTML of 2 answers" in out
    assert not Generation.objects.filter(html="<p>old</p>").exists()


def test_pages_show_the_stored_html_only_under_its_current_key(client, voter):
    make_arena(llms=("alpha", "beta"), prompts=1)
    for generation in Generation.objects.all():
        marker = f"<p>stored html of answer {generation.pk}</p>"
        Generation.objects.filter(pk=generation.pk).update(html=marker, html_key=rendering.html_key(generation.text))
    client.force_login(voter)
    page = client.get("/")
    battle_page = page.content.decode()
    for generation in Generation.objects.all():
        assert f"stored html of answer {generation.pk}" in battle_page
    # The text changed since (or the renderer did): its key no longer matches, and the text is rendered.
    changed = Generation.objects.order_by("pk").first()
    Generation.objects.filter(pk=changed.pk).update(text=HOSTILE)
    again = client.get(own_battle_url(page)).content.decode()
    assert f"stored html of answer {changed.pk}" not in again
    assert rendering.render_markdown(HOSTILE) in again and "<script>alert" not in again


def test_a_key_depends_on_the_text_and_on_the_renderers_revision(monkeypatch):
    key = rendering.html_key("Some answer.")
    assert key == rendering.html_key("Some answer.") and key != rendering.html_key("Some answer!")
    monkeypatch.setattr(rendering, "RENDERING_REVISION", rendering.RENDERING_REVISION + "-next")
    rendering._renderer_identity.cache_clear()
    try:
        assert rendering.html_key("Some answer.") != key
        # HTML stored under the old key is not used: the text is rendered again.
        assert rendering.html_of("Some answer.", "<p>stale</p>", key) == rendering.render_markdown("Some answer.")
    finally:
        monkeypatch.undo()
        rendering._renderer_identity.cache_clear()


def test_a_run_with_a_time_limit_renders_a_batch_at_least_and_the_task_chains_runs_until_none_is_left(monkeypatch):
    make_arena(llms=("alpha", "beta"), prompts=5)
    assert render_answers(seconds=0, batch_size=3) == 3  # one batch, whatever the limit
    assert without_html().count() == 7
    runs = []
    monkeypatch.setattr(answer_html, "BATCH", 2)
    monkeypatch.setattr(tasks, "RUN_SECONDS", 0.0)
    monkeypatch.setattr(answer_html, "render_answers", lambda **kw: runs.append(kw) or render_answers(**kw))
    tasks.render_answers_html.delay()  # in-process here: each run queues the next while answers are left
    assert not without_html().exists() and len(runs) == 4  # 7 answers, 2 a run


def test_an_answer_the_renderer_fails_on_is_set_aside_and_the_others_are_rendered(monkeypatch):
    make_arena(llms=("alpha", "beta"), prompts=2)
    broken = Generation.objects.order_by("pk").first()
    real = rendering.render_uncached

    def failing_on_one(text):
        if text == broken.text:
            raise ValueError("a renderer bug")
        return real(text)

    monkeypatch.setattr(rendering, "render_uncached", failing_on_one)
    assert render_answers() == 4
    assert not without_html().exists()  # not tried again by every run
    stored = Generation.objects.get(pk=broken.pk)
    assert stored.html == "" and rendering.html_of(stored.text, stored.html, stored.html_key) == real(stored.text)
