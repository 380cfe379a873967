"""Loading the demo: its pools and LLMs, their answers through the fake provider, the demo logins,
the history of votes, the benchmark tables, and the boards fitted on them.

Every step can run again: nothing is duplicated, the demo LLMs are repointed at the fake
provider's current port, and the history is written only into an empty history pool.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from arena.embedded_tasks import run_inline
from battles.demo import history, seed
from battles.demo.benchmarks import benchmarks_csv
from battles.demo.fake_provider.answers import AnswerBook
from battles.demo.fake_provider.server import FakeProviderServer
from battles.generation import jobs
from battles.models import Generation, Prompt


@dataclass
class DemoLoad:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def benchmarks_path() -> Path:
    return Path(settings.BASE_DIR) / "var" / "demo_benchmarks.csv"


def _quiet(command: str, *args: str) -> None:
    call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())


def load_demo(*, port: int, with_users: bool, with_history: bool, say: Callable[[str], None] = print) -> DemoLoad:
    """Load everything; raises OSError when the fake provider cannot listen on ``port``.

    Tasks run inline here (``run_inline``) even where they normally run in the background,
    so that the answers exist and the boards are fitted when this returns.
    """
    result = DemoLoad()
    with run_inline():
        pool, llms = seed.load_pool_and_llms(port=port)
        say(f"Pool {pool.name!r}: {pool.prompts.count()} prompts; LLMs: {', '.join(llm.name for llm in llms)}")
        book = AnswerBook.load(seed.write_answer_book(seed.answer_book_path()))
        server = FakeProviderServer(host="127.0.0.1", port=port, latency=0.0, tokens_per_second=0, book=book)
        server.start()
        try:
            # Only the LLMs with hand-written answers: the voter's battles read like real ones.
            versions = [llm.current_version() for llm in llms[: seed.HAND_WRITTEN]]
            queued = jobs.enqueue_generations(pool=pool, versions=versions)
            say(f"Generated {queued} answer(s) through the fake provider on port {port}.")
        finally:
            server.stop()
        failed = Generation.objects.filter(prompt__pool=pool, status=Generation.Status.FAILED)
        result.problems += [f"failed: {g.llm_version.label}: {g.error}" for g in failed[:10]]
        seed.load_waiting_pool()
        demo_login = None
        if with_users:
            result.logins = seed.create_demo_users()
            demo_login = User.objects.get(username="demo")
        if with_history:
            report = history.load_history(llms=llms, demo_login=demo_login, live_pool=pool)
            if report.votes:
                # The history's votes were cast over weeks: Elo and TrueSkill as they would have moved.
                _quiet("rebuild_online_ratings")
                say(
                    f"Demo history: {report.votes} votes by {report.voters} demo voters over {history.WEEKS} weeks "
                    f"on {report.prompts} archived prompts ({report.answers} answers)."
                )
            else:
                say("Demo history: already loaded.")
            path = benchmarks_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(benchmarks_csv(), encoding="utf-8")
            _quiet("import_benchmarks", str(path))
            say("Demo benchmarks: ReasonBench, CodeEval-Lite, Judge error rate (fictional scores).")
            # The per-category boards, so that the first visit of the decision page finds them fitted
            # (the default board was fitted when the history's votes were announced).
            categories = Prompt.objects.exclude(category="").values_list("category", flat=True).distinct()
            for category in sorted(set(categories)):
                _quiet("leaderboard", "--category", category, "--format", "json")
            # And the style-controlled board (workers fit it on demand, not with every refit).
            _quiet("leaderboard", "--style", "--format", "json")
            say("Boards fitted.")
    return result
