"""Data for the voter-page browser tests: answers that strain the layout, and live battles in a given state."""

from __future__ import annotations

from battles.core.text import prompt_hash
from battles.models import Battle, BattleTurn, Generation, Prompt
from tests.factories import make_generation, make_llm, make_pool, make_prompt

# One code line of about 440 characters and a table of 50 columns.
LONG_CODE_LINE = "```python\nvalues = [" + ", ".join(f"item_{n:03d}" for n in range(44)) + "]\n```"
WIDE_TABLE = (
    "| "
    + " | ".join(f"Heading{n}" for n in range(50))
    + " |\n|"
    + "---|" * 50
    + "\n| "
    + " | ".join(f"Extraordinarily{n} wordy cell" for n in range(50))
    + " |\n"
)
READING = " ".join(f"Sentence {n} of a long answer that takes a while to read on a phone." for n in range(60))


def wide_answers_arena(*, names=("alpha", "beta")):
    """One pool prompt whose answers hold a 400-character code line and a 50-column table, plus long prose."""
    pool = make_pool()
    prompt = make_prompt(pool, "Show me the data, once as code and once as a table.", category="coding")
    llms = [make_llm(name) for name in names]
    make_generation(prompt, llms[0], text="Here it is:\n\n" + LONG_CODE_LINE + "\n\n" + READING)
    make_generation(prompt, llms[1], text="Here it is:\n\n" + WIDE_TABLE + "\n\n" + READING)
    return prompt, llms


def live_battle(voter, *, turns_done: int, waiting: bool, names=("livealpha", "livebeta"), texts=None) -> Battle:
    """A live battle of ``turns_done`` complete turns, and one more whose answers are still being written."""
    llm_a, llm_b = make_llm(names[0]), make_llm(names[1])
    battle = None
    count = turns_done + (1 if waiting else 0)
    for number in range(1, count + 1):
        text = f"Live question number {number}: tell me about tides."
        prompt = Prompt.objects.create(pool=None, text=text, hidden=True, text_hash=prompt_hash(text), category="live")
        pending = number > turns_done
        status = Generation.Status.RUNNING if pending else Generation.Status.DONE
        a_text, b_text = texts or (f"Tides answer {number} from the first side.", f"Tides answer {number}, second.")
        gen_a = make_generation(prompt, llm_a, text="" if pending else a_text, status=status)
        gen_b = make_generation(prompt, llm_b, text="" if pending else b_text, status=status)
        if battle is None:
            battle = Battle.objects.create(
                prompt=prompt,
                generation_a=gen_a,
                generation_b=gen_b,
                version_a=gen_a.llm_version,
                version_b=gen_b.llm_version,
                voter=voter,
                live=True,
            )
        BattleTurn.objects.create(battle=battle, number=number, prompt=prompt, generation_a=gen_a, generation_b=gen_b)
    assert battle is not None, "a live battle has at least one turn"
    return battle
