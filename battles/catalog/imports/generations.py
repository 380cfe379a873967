"""Parsing existing generations (JSON Lines) into validated rows.

One JSON object per line. Keys (matched case-insensitively):

- the prompt: ``prompt_id`` or ``external_id`` (the prompt's external id,
  a string or an integer), and/or ``prompt`` (the prompt's text);
- ``model``: the LLM's name;
- the answer: ``answer`` or ``response``;
- ``text``: the answer when the row names its prompt (``prompt_id``,
  ``external_id`` or ``prompt``) and has no ``answer``/``response``;
  the prompt's text when the row has ``answer``/``response`` and no
  ``prompt``. Any other use of ``text`` is ambiguous and the row is bad;
- optional numbers: ``sample`` (default 0), ``latency_ms``, ``ttft_ms``,
  ``tokens_in``, ``tokens_out``, ``cost`` (in the price currency).

Any other key makes the row bad (a misspelt ``latency`` would otherwise be
silently dropped). Which prompt and LLM a row names is decided by the
service, which knows the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from arena.files.reading import FileRejected, describe_json_type, iter_json_objects, open_text, split_keys
from arena.files.report import RowError
from battles.catalog.imports.prompts import clean_text

KEYS = (
    "prompt_id",
    "external_id",
    "prompt",
    "text",
    "model",
    "answer",
    "response",
    "sample",
    "latency_ms",
    "ttft_ms",
    "tokens_in",
    "tokens_out",
    "cost",
)
MODEL_NAME_MAX = 100  # LLM.name
EXTERNAL_ID_MAX = 200  # Prompt.external_id
INT_FIELDS = {
    "latency_ms": 2_147_483_647,
    "ttft_ms": 2_147_483_647,
    "tokens_in": 2_147_483_647,
    "tokens_out": 2_147_483_647,
    "sample": 32_767,
}
COST_MAX = Decimal("999999")
COST_PLACES = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class GenerationRow:
    line: int
    model: str
    answer: str
    external_id: str = ""
    prompt_text: str = ""
    sample: int = 0
    latency_ms: int | None = None
    ttft_ms: int | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: Decimal | None = None


def _one_of(values: dict, keys: tuple[str, str], problems: list[str]):
    found = [values[key] for key in keys if values.get(key) not in (None, "")]
    if len(found) == 2 and found[0] != found[1]:
        problems.append(f"{keys[0]!r} and {keys[1]!r} differ; give one of them")
    return found[0] if found else None


def _number(key: str, value, problems: list[str]):
    if value is None:
        return None
    if key == "cost":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"cost must be a number, found {describe_json_type(value)}")
            return None
        try:
            cost = Decimal(str(value))
        except InvalidOperation:
            problems.append("cost is not a number")
            return None
        if not cost.is_finite() or cost < 0 or cost > COST_MAX:
            problems.append(f"cost must be between 0 and {COST_MAX}")
            return None
        return cost.quantize(COST_PLACES)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{key} must be a number, found {describe_json_type(value)}")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        problems.append(f"{key} is not a finite number")
        return None
    number = round(value)
    if key == "sample" and number != value:
        problems.append("sample must be a whole number")
        return None
    if not 0 <= number <= INT_FIELDS[key]:
        problems.append(f"{key} must be between 0 and {INT_FIELDS[key]:,}")
        return None
    return number


def clean_generation(line: int, values: dict, *, max_chars: int) -> GenerationRow | RowError:
    problems: list[str] = []
    has_answer_key = any(values.get(key) is not None for key in ("answer", "response"))
    has_reference = any(values.get(key) is not None for key in ("prompt_id", "external_id", "prompt"))
    prompt_value = values.get("prompt")
    answer_value = _one_of(values, ("answer", "response"), problems)
    if values.get("text") is not None:
        if has_answer_key and prompt_value is None:
            prompt_value = values["text"]
        elif not has_answer_key and has_reference:
            answer_value = values["text"]
        elif has_answer_key:
            problems.append("'text' is ambiguous: the row already has 'prompt' and an answer")
        else:
            problems.append(
                "'text' alone is ambiguous: name the prompt ('prompt_id', 'external_id' or "
                "'prompt') and the answer ('answer', 'response' or 'text')"
            )
            return RowError(line, "; ".join(problems))

    external_id = _one_of(values, ("prompt_id", "external_id"), problems)
    if external_id is not None:
        if isinstance(external_id, bool) or not isinstance(external_id, (str, int)):
            problems.append(f"prompt_id must be a string or an integer, found {describe_json_type(external_id)}")
            external_id = None
        else:
            external_id = str(external_id).strip()
            if len(external_id) > EXTERNAL_ID_MAX:
                problems.append(f"prompt_id longer than {EXTERNAL_ID_MAX} characters")
    prompt_text: str | None = ""
    if prompt_value is not None:
        prompt_text, problem = clean_text(prompt_value, max_chars=max_chars, what="prompt text")
        if problem:
            problems.append(problem)
    if not external_id and prompt_value is None:
        problems.append("missing the prompt: give 'prompt_id', 'external_id' or 'prompt'")

    model = values.get("model")
    if model is None:
        problems.append("missing key 'model'")
    elif not isinstance(model, str):
        problems.append(f"model must be a string, found {describe_json_type(model)}")
    elif not model.strip():
        problems.append("empty model name")
    elif len(model.strip()) > MODEL_NAME_MAX:
        problems.append(f"model name longer than {MODEL_NAME_MAX} characters")

    if answer_value is None:
        problems.append("missing the answer: give 'answer' or 'response'")
    elif not isinstance(answer_value, str):
        problems.append(f"answer must be a string, found {describe_json_type(answer_value)}")
    elif not answer_value.strip():
        problems.append("empty answer")

    numbers = {key: _number(key, values.get(key), problems) for key in (*INT_FIELDS, "cost")}
    if problems:
        return RowError(line, "; ".join(problems))
    return GenerationRow(
        line=line,
        model=str(model).strip(),
        answer=answer_value,
        external_id=external_id or "",
        prompt_text=prompt_text or "",
        sample=numbers.pop("sample") or 0,
        **numbers,
    )


def parse_generations(stream: BinaryIO, *, max_bytes: int, max_chars: int) -> Iterator[GenerationRow | RowError]:
    """Yield one ``GenerationRow`` or ``RowError`` per non-blank line of a JSON Lines file.

    Raises ``FileRejected`` when the file is too large, binary, empty, or
    plainly not JSON Lines (its first line is not a JSON object).
    """
    first, lines = open_text(stream, max_bytes=max_bytes)
    if not first.text.strip().startswith("{"):
        raise FileRejected(
            "this is not JSON Lines: every line must be one JSON object such as "
            '{"prompt_id": "p1", "model": "m", "answer": "..."}',
            first.number,
        )
    for line, obj, problem in iter_json_objects(lines):
        if problem:
            yield RowError(line, problem)
            continue
        assert obj is not None  # iter_json_objects gives an object whenever it gives no problem
        values, unknown = split_keys(obj, KEYS)
        if unknown:
            yield RowError(line, unknown)
            continue
        yield clean_generation(line, values, max_chars=max_chars)
