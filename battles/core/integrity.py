"""Vote integrity checks that need no database: pure functions on plain data.

* Identity leaks: an answer that names a model or a vendor ("As Claude…")
  tells the voter who is who. The term list is derived from the configured
  LLMs (names, model ids and their distinctive parts) plus well-known vendor
  and family names with their aliases.
* Too-fast votes: nobody reads two long answers in a second; the minimum
  time grows with the length of the answers (see ``minimum_vote_ms``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

# Vendor and model-family names, with common aliases. Lower case.
KNOWN_IDENTITY_TERMS = frozenset(
    {
        "openai",
        "chatgpt",
        "gpt-3",
        "gpt-3.5",
        "gpt-4",
        "gpt-4o",
        "gpt-5",
        "o1",
        "o3",
        "anthropic",
        "claude",
        "google",
        "deepmind",
        "gemini",
        "bard",
        "gemma",
        "palm",
        "meta ai",
        "llama",
        "llama 2",
        "llama 3",
        "mistral",
        "mixtral",
        "codestral",
        "qwen",
        "alibaba",
        "deepseek",
        "cohere",
        "command r",
        "grok",
        "xai",
        "x.ai",
        "microsoft",
        "copilot",
        "phi-3",
        "phi-4",
        "nvidia",
        "nemotron",
        "yi-34b",
        "01.ai",
        "perplexity",
        "falcon",
        "vicuna",
        "zephyr",
        "olmo",
    }
)
# Parts of configured names that are too generic to identify anything.
GENERIC_PARTS = frozenset(
    {
        "chat",
        "instruct",
        "model",
        "large",
        "small",
        "mini",
        "medium",
        "base",
        "pro",
        "plus",
        "turbo",
        "latest",
        "preview",
        "fast",
        "v1",
        "v2",
        "v3",
        "lite",
        "max",
        "ultra",
        "it",
        "hf",
        "the",
        "a",
        "an",
        "of",
        "and",
        "ai",
        "llm",
        "new",
        "old",
        "test",
        "demo",
        "beta",
        "alpha",
    }
)
_SPLIT = re.compile(r"[\s/_:@]+")
_SIZE = re.compile(r"^\d+(\.\d+)?[bkm]?$", re.IGNORECASE)


def identity_terms(names: Iterable[str], *, extra: Iterable[str] = ()) -> set[str]:
    """Terms that would identify one of ``names`` (LLM names, model ids, providers)."""
    terms = set(KNOWN_IDENTITY_TERMS) | {t.strip().lower() for t in extra if t.strip()}
    for name in names:
        name = (name or "").strip().lower()
        if len(name) < 3:
            continue
        terms.add(name)
        # "acme/aurora-large-2" → "aurora-large-2", "aurora"
        for part in _SPLIT.split(name):
            if len(part) >= 3:
                terms.add(part)
            head = part.split("-")[0]
            if len(head) >= 4 and head not in GENERIC_PARTS and not _SIZE.match(head):
                terms.add(head)
    return {t for t in terms if t not in GENERIC_PARTS and not _SIZE.match(t)}


# Word boundaries that treat "-" and "." inside names as part of the name.
_BEFORE, _AFTER = r"(?<![\w-])", r"(?![\w-]|\.\w)"


def alternation_pattern(terms: AbstractSet[str]) -> re.Pattern:
    """The terms as a plain alternation, longest first: what ``mention_pattern`` must match (its tests)."""
    alternatives = sorted((re.escape(t) for t in terms), key=len, reverse=True)
    return re.compile(_BEFORE + "(" + "|".join(alternatives) + ")" + _AFTER, re.IGNORECASE)


@functools.lru_cache(maxsize=8)
def mention_pattern(terms: frozenset[str]) -> re.Pattern:
    """The terms as a trie of alternatives (``(?:c(?:laude|hatgpt)|g(?:emini|pt-4o?))``), compiled once per set.

    The same matches as ``alternation_pattern``: at each position the longest term whose end is a word's
    end, since each branch tries its longer continuations first. A plain alternation of ~50 terms tried
    every one at every position of an answer (~0.2 ms for 1.2 kB); the trie tries one branch.
    """
    return re.compile(_BEFORE + "(" + _trie(sorted(terms)) + ")" + _AFTER, re.IGNORECASE)


def _trie(terms: list[str]) -> str:
    """The regular expression of a sorted list of distinct terms, as a trie."""
    ends_here = "" in terms
    branches: dict[str, list[str]] = {}
    for term in terms:
        if term:
            branches.setdefault(term[0], []).append(term[1:])
    if not branches:
        return ""
    alternatives = [re.escape(head) + _trie(rests) for head, rests in branches.items()]
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    # Greedy: the longer terms first, this one if none of them matches.
    return f"(?:{body})?" if ends_here else body


def find_identity_mentions(text: str, terms: AbstractSet[str]) -> list[str]:
    """The distinct identity terms ``text`` contains, lower case, in order of appearance."""
    if not text or not terms:
        return []
    found = []
    for match in mention_pattern(frozenset(terms)).finditer(text):
        term = match.group(1).lower()
        if term not in found:
            found.append(term)
    return found


# The reading model of the too-fast rule. Skimming tops out around 600-700 words a minute
# (Rayner et al., "So much to read, so little time", 2016); past ~1,000 comprehension is at
# chance. At about 6 characters a word (the space included) 1,000 words a minute is 100
# characters a second: skimming both answers faster than that is not reading them.
SKIM_CHARS_PER_SECOND = 100.0
# Past this many characters of an answer (two screens or so) a voter may judge by its shape and
# skip the rest; a longer answer asks no more time.
READ_CAP_CHARS = 3000


def minimum_vote_ms(
    answer_lengths: Iterable[int],
    *,
    base_ms: int = 0,
    chars_per_second: float = SKIM_CHARS_PER_SECOND,
    cap_chars: int = READ_CAP_CHARS,
) -> int:
    """The fastest plausible vote on answers of these lengths (characters): skimming each
    answer, up to ``cap_chars`` of it, at ``chars_per_second``, plus ``base_ms``.

    With the defaults a careful reader is never flagged: whoever spends len(longer answer) /
    40 seconds on a pair (400 words a minute over the longer answer while taking in the
    shorter) spends at least (shorter + longer) / 80 seconds, more than the
    (shorter + longer) / 100 asked here, whatever the lengths.
    """
    counted = sum(min(max(0, length), cap_chars) for length in answer_lengths)
    return int(base_ms + 1000 * counted / chars_per_second)
