"""Bulk loading of a synthetic arena for the benchmarks that run against a real Postgres.

Callers set up Django first (``django.setup()`` against a scratch database); these functions import
Django code only when called for that reason.
"""

from __future__ import annotations

import hashlib
import json
import time

VOTERS = 200


def load_arena(n_llms: int, n_prompts: int, *, base_url: str, categories: tuple[str, ...] = ("writing",)) -> None:
    """``n_llms`` LLMs with one answer each to ``n_prompts`` pool prompts (bulk insert, then ANALYZE)."""
    from django.db import connection

    from battles.catalog import llms
    from battles.models import Generation, Prompt, PromptPool

    started = time.perf_counter()
    pool = PromptPool.objects.create(name="bench")
    versions = [
        llms.create_llm(
            name=f"model-{k}", provider="openai", base_url=base_url, model_id=f"model-{k}"
        ).current_version()
        for k in range(n_llms)
    ]
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                pool=pool,
                text=f"Prompt {i}: explain topic {i} briefly.",
                category=categories[i % len(categories)],
                text_hash=hashlib.sha256(f"prompt {i}".encode()).hexdigest(),
            )
            for i in range(n_prompts)
        ],
        batch_size=2000,
    )
    texts = _answer_texts()
    Generation.objects.bulk_create(
        (
            Generation(
                prompt=p,
                llm_version=v,
                status="done",
                text=_answer(texts, i, k),
                latency_ms=900,
                tokens_out=120,
            )
            for i, p in enumerate(prompts)
            for k, v in enumerate(versions)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"loaded {n_llms} LLMs × {n_prompts} prompts = {n_llms * n_prompts:,} answers "
        f"in {time.perf_counter() - started:.0f} s"
    )


def _answer_texts() -> list[str]:
    """The demo's hand-written answers (Markdown with lists, tables and code, as LLMs write)."""
    from battles.demo.seed import DEMO_DIR

    with open(DEMO_DIR / "answers.jsonl", encoding="utf-8") as rows:
        return [json.loads(row)["text"] for row in rows if row.strip()]


def _answer(texts: list[str], prompt: int, version: int) -> str:
    """A distinct answer for each prompt and version, ~1.2 kB of Markdown: three of the demo's answers, by
    the pair's own numbers, and a line of its own. Pages render (or read) each answer's own HTML, as with
    real answers; one repeated text would let a renderer's cache hide what rendering costs."""
    parts = [texts[(prompt * 7 + version * 13 + j * 31) % len(texts)] for j in range(3)]
    return f"Answer {version} to prompt {prompt}.\n\n" + "\n\n".join(parts)


def load_votes(n_llms: int, n_prompts: int, n_votes: int, *, mixed: bool = False) -> None:
    """``n_votes`` voted battles between answers to the same prompt, by ``VOTERS`` voters, in SQL.

    ``mixed``: every 10th battle live, every 20th vote an insider's, every 50th flagged (what the
    boards' filters select on); otherwise every vote is a plain pool vote.
    """
    live, insider, flagged = ("s.n % 10 = 0", "b.id % 20 = 0", "b.id % 50 = 0") if mixed else ("false",) * 3
    from django.contrib.auth.models import Group, User
    from django.db import connection

    started = time.perf_counter()
    group = Group.objects.get(name="voter")
    users = User.objects.bulk_create([User(username=f"bench-{k}", password="!") for k in range(VOTERS)])
    group.user_set.add(*users)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM battles_generation")
        first = cursor.fetchone()[0]
        # Answers were inserted prompt by prompt, version by version: id = first + prompt·L + version.
        # Version k has strength k/L logits above version 0; ties are 30% of the votes.
        cursor.execute(f"""
            INSERT INTO battles_battle (code, prompt_id, generation_a_id, generation_b_id, version_a_id,
                                        version_b_id, voter_id, status, live, identity_leak, leaked_terms,
                                        created_at, closed_at)
            SELECT gen_random_uuid(), ga.prompt_id, ga.id, gb.id, ga.llm_version_id, gb.llm_version_id,
                   {users[0].pk} + (s.n % {VOTERS}), 'voted', {live}, false, '[]', s.at, s.at
            FROM (SELECT n, now() - (n % 180) * interval '1 day' - (n % 86400) * interval '1 second' AS at,
                         {first} + (n % {n_prompts}) * {n_llms} + (n % {n_llms}) AS a,
                         {first} + (n % {n_prompts}) * {n_llms}
                           + ((n % {n_llms}) + 1 + (n / {n_llms}) % {n_llms - 1}) % {n_llms} AS b
                  FROM generate_series(1, {n_votes}) AS n) s
            JOIN battles_generation ga ON ga.id = s.a JOIN battles_generation gb ON gb.id = s.b
        """)
        cursor.execute(f"""
            INSERT INTO battles_vote (battle_id, voter_id, outcome, version_a_id, version_b_id, time_to_vote_ms,
                                      reasons_a, reasons_b, comment, insider, live, flagged, flags, imported,
                                      created_at)
            SELECT b.id, b.voter_id,
                   CASE WHEN u < 0.3 THEN 'tie'
                        WHEN u < 0.3 + 0.7 / (1 + exp(-((b.generation_a_id - {first}) % {n_llms}
                                                       - (b.generation_b_id - {first}) % {n_llms})::float
                                                      / {n_llms})) THEN 'a'
                        ELSE 'b' END,
                   b.version_a_id, b.version_b_id, 20000, '[]', '[]', '', {insider}, b.live, {flagged}, '[]',
                   false, b.created_at
            FROM (SELECT *, random() AS u FROM battles_battle
                  WHERE status = 'voted' AND voter_id >= {users[0].pk}) b
        """)
        # As autovacuum does after bulk inserts: statistics, and the visibility map index-only scans need.
        cursor.execute("VACUUM ANALYZE")
    from battles.voting.tallies import recount

    recount([user.pk for user in users])  # the voters' counts, as their votes would have kept them
    print(f"\nloaded {n_votes:,} voted battles in {time.perf_counter() - started:.0f} s")
