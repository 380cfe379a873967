"""Pure text helpers shared by prompts, imports and rendering."""

import hashlib
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def normalise_prompt(text: str) -> str:
    """The form two prompts are compared in: NFKC, case-folded, whitespace collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def prompt_hash(text: str) -> str:
    return hashlib.sha256(normalise_prompt(text).encode("utf-8")).hexdigest()
