"""Deterministic answers for the fake provider.

``answer(model_id, messages, book)`` returns the answer book's text for the
model and the last user message when there is one, and otherwise a generated,
plausible-looking Markdown answer that depends only on (model_id, prompt): the
same question to the same model always gets the same answer, two models get
different answers, and each model keeps a recognisable style (terse or
thorough, headings or not) so that votes between fake models mean something.

Generated answers mention the prompt's topic but never the answering model's
id or a vendor or model-family name, so that they cannot break blindness.

Pure code: stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["AnswerBook", "answer", "count_tokens", "last_user_text", "normalise_prompt", "split_tokens"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")


def count_tokens(text: str) -> int:
    """A deliberately simple tokenizer: each word and each punctuation mark is a token."""
    return len(_TOKEN.findall(text))


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into pieces, one token each with its leading whitespace, so
    that ``"".join(split_tokens(t)) == t`` and ``len(...) == count_tokens(t)``
    (trailing whitespace rides on the last piece)."""
    pieces = _PIECE.findall(text)
    if len(pieces) > 1 and not pieces[-1].strip():
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return pieces


def normalise_prompt(text: str) -> str:
    return " ".join(text.casefold().split())


def message_text(content: Any) -> str:
    """Text of a message content: a string, or a list of OpenAI/Anthropic content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(messages: Iterable[dict]) -> str:
    text = ""
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            text = message_text(message.get("content"))
    return text


class AnswerBook:
    """Answers written in advance: JSONL lines of {"model", "prompt", "text"}.

    ``model`` may be "*" to answer for every model. Prompts match after case
    folding and whitespace collapsing.
    """

    def __init__(self, entries: dict[tuple[str, str], str] | None = None) -> None:
        self.entries = dict(entries or {})

    @classmethod
    def load(cls, path: str | Path) -> AnswerBook:
        entries: dict[tuple[str, str], str] = {}
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object")
                for key in ("model", "prompt", "text"):
                    if not isinstance(row.get(key), str) or not row[key].strip():
                        raise ValueError(f"{path}:{number}: {key!r} must be a non-empty string")
                entries[(row["model"], normalise_prompt(row["prompt"]))] = row["text"]
        return cls(entries)

    def lookup(self, model_id: str, prompt: str) -> str | None:
        key = normalise_prompt(prompt)
        found = self.entries.get((model_id, key))
        return found if found is not None else self.entries.get(("*", key))

    def models(self) -> list[str]:
        return sorted({model for model, _ in self.entries if model != "*"})

    def __len__(self) -> int:
        return len(self.entries)


def answer(model_id: str, messages: list[dict], book: AnswerBook | None = None) -> str:
    prompt = last_user_text(messages)
    if book is not None:
        found = book.lookup(model_id, prompt)
        if found is not None:
            return found
    return generate(model_id, prompt)


# --- generation -----------------------------------------------------------------------

# Vendor and model-family names that a generated answer must never contain.
_IDENTIFYING = frozenset(
    """
    openai anthropic claude gpt chatgpt davinci llama meta mistral mixtral gemini gemma bard google
    deepmind palm qwen alibaba deepseek cohere command grok xai phi microsoft copilot falcon yi
    vicuna alpaca ollama vllm huggingface bedrock azure titan nova sonnet opus haiku o1 o3 o4
    """.split()
)

_STOPWORDS = frozenset(
    """
    a an the and or but if then else of to in on at by for with about from into over under as is are was were
    be been being am do does did done doing have has had having can could would should will shall may might
    must i me my mine we us our you your yours he she it its they them their this that these those there here
    what which who whom whose when where why how please kindly tell give show write explain describe list
    summarise summarize compare draft create make help outline suggest propose design review translate
    rewrite generate provide produce find get let lets want need like just some any all each every more most
    very really also so such than too not no yes one two three few many much short brief quick simple
    detailed good best better way ways thing things something anything using use used step steps paragraph
    paragraphs sentence sentences word words version example examples answer question questions
    """.split()
)

_CODE_HINTS = frozenset(
    "code python function sql query regex script bug error class javascript typescript bash api test tests "
    "json yaml dockerfile compile exception stack loop array".split()
)

_OPENERS = [
    "The short answer is that {topic} depends mostly on what you are optimising for.",
    "Good question: {topic} comes up often, and the useful answer is more practical than theoretical.",
    "Here is a clear way to approach {topic}.",
    "There are a few things worth separating when thinking about {topic}.",
    "Most of the confusion around {topic} disappears once the goal is stated precisely.",
    "Let me break {topic} down into the parts that actually matter.",
    "In practice, {topic} is less about the details and more about a few early decisions.",
    "A useful starting point for {topic} is to ask who the result is for.",
]

_POINTS = [
    "Start from the goal and work backwards: {term} only matters insofar as it serves that goal.",
    "Keep the first version small, so that mistakes about {term} are cheap to find and fix.",
    "Write down the assumptions behind {topic}; half of them will turn out to be the real question.",
    "Measure before changing anything, otherwise improvements to {term} are guesses.",
    "Prefer the boring option unless there is a concrete reason not to.",
    "Be explicit about the constraints: time, budget, and who has to maintain {term} afterwards.",
    "Check the edge cases early, because that is where {term} usually breaks.",
    "Ask one person who will use the result to read the plan before committing to it.",
    "Separate what is decided from what is still open, and say so plainly.",
    "Favour clarity over completeness: a reader should grasp the main point about {term} in one pass.",
    "Compare at least two alternatives side by side before settling on one.",
    "Document the reasoning, not only the outcome, so the decision about {term} can be revisited.",
    "Expect the second iteration to be better than the first, and plan time for it.",
    "Look for the simplest version of {topic} that would still be useful.",
    "When in doubt, choose the option that is easiest to undo.",
]

_ASPECTS = [
    "Context",
    "Trade-offs",
    "Risks",
    "Cost",
    "Scope",
    "Evidence",
    "Next steps",
    "Assumptions",
    "Audience",
    "Constraints",
    "Edge cases",
    "Timing",
]

_CLOSERS = [
    "In short: decide what success looks like for {topic}, then pick the simplest path to it.",
    "If you share more about your constraints, the advice on {term} can be made more specific.",
    "That should be enough to make a confident first decision.",
    "Start there, and adjust once you see how it works in practice.",
    "The key is to keep {term} simple until there is evidence it needs to be otherwise.",
    "Overall, a small, well-understood step beats an ambitious plan that nobody can check.",
]

_SNIPPETS = [
    (
        "python",
        "def solve(items):\n    seen = set()\n    result = []\n    for item in items:\n"
        "        if item not in seen:\n            seen.add(item)\n            result.append(item)\n"
        "    return result",
    ),
    (
        "python",
        "from collections import Counter\n\n\ndef top(words, n=3):\n"
        "    return [word for word, _ in Counter(words).most_common(n)]",
    ),
    ("sql", "SELECT category, COUNT(*) AS total\nFROM items\nGROUP BY category\nORDER BY total DESC;"),
    ("bash", 'set -euo pipefail\nfor file in *.log; do\n  grep -c ERROR "$file"\ndone'),
]


def _rng(*parts: str) -> random.Random:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _banned_words(model_id: str) -> set[str]:
    parts = {p for p in re.split(r"[^a-z0-9]+", model_id.casefold()) if len(p) >= 3}
    return set(_IDENTIFYING) | parts


_CLAUSE_BREAKS = frozenset("while because but so that which when if then unless although whereas".split())


def _topic(prompt: str, banned: set[str]) -> tuple[str, str]:
    """A short phrase naming what the prompt is about, and its key term.

    The phrase is the first clause of the prompt without its leading request
    words ("Could you write a …"), at most six words, with identifying names
    left out.
    """
    first_clause = re.split(r"[.?!;:,\n]", prompt.strip(), maxsplit=1)[0] if prompt.strip() else ""
    words = [w.strip("'-") for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9'+#-]*", first_clause)]

    def identifying(word: str) -> bool:
        return any(part in banned for part in re.split(r"[^a-z0-9]+", word.casefold()) if part)

    words = [w for w in words if w and not identifying(w)]
    while words and words[0].casefold() in _STOPWORDS:
        words.pop(0)
    phrase: list[str] = []
    for word in words:
        if word.casefold() in _CLAUSE_BREAKS or len(phrase) == 6:
            break
        phrase.append(word)
    while phrase and phrase[-1].casefold() in _STOPWORDS:
        phrase.pop()
    content = [w for w in phrase if w.casefold() not in _STOPWORDS and len(w) >= 3]
    if not content:
        return "this question", "the approach"
    return " ".join(phrase), max(content, key=len)


def generate(model_id: str, prompt: str) -> str:
    banned = _banned_words(model_id)
    topic, term = _topic(prompt, banned)
    style = _rng("style", model_id)  # stable per model: its "personality"
    rng = _rng("answer", model_id, normalise_prompt(prompt))
    verbosity = style.choice([3, 4, 5, 6])
    uses_headings = style.random() < 0.5
    layout = style.choice(["bullets", "numbered", "prose", "table"])

    def fill(template: str) -> str:
        return template.format(topic=topic, term=term)

    points = [fill(p) for p in rng.sample(_POINTS, k=min(len(_POINTS), verbosity + rng.randint(0, 2)))]
    blocks = []
    if uses_headings:
        blocks.append(f"## {topic[:1].upper() + topic[1:]}")
    blocks.append(fill(rng.choice(_OPENERS)))
    if layout == "bullets":
        aspects = rng.sample(_ASPECTS, k=len(points))
        blocks.append("\n".join(f"- **{a}:** {p}" for a, p in zip(aspects, points)))
    elif layout == "numbered":
        blocks.append("\n".join(f"{i}. {p}" for i, p in enumerate(points, start=1)))
    elif layout == "table":
        aspects = rng.sample(_ASPECTS, k=len(points))
        rows = "\n".join(f"| {a} | {p} |" for a, p in zip(aspects, points))
        blocks.append("| Aspect | Advice |\n| --- | --- |\n" + rows)
    else:
        middle = len(points) // 2
        blocks.append(" ".join(points[:middle]))
        blocks.append(" ".join(points[middle:]))
    prompt_words = {w.casefold() for w in re.findall(r"[A-Za-z]+", prompt)}
    if _CODE_HINTS & prompt_words:
        language = next((lang for lang in ("sql", "bash") if lang in prompt_words), "python")
        snippet = rng.choice([code for lang, code in _SNIPPETS if lang == language])
        if uses_headings:
            blocks.append("### Example")
        blocks.append(f"A minimal sketch:\n\n```{language}\n{snippet}\n```")
    blocks.append(fill(rng.choice(_CLOSERS)))
    text = "\n\n".join(blocks)
    return _scrub(text, model_id)


def _scrub(text: str, model_id: str) -> str:
    # Last line of defence: the templates never contain these, and the topic is filtered.
    model_id = model_id.strip()
    if len(model_id) >= 3:
        pattern = r"(?<![\w-])" + re.escape(model_id) + r"(?![\w-])"
        text = re.sub(pattern, "it", text, flags=re.IGNORECASE)
    return text
