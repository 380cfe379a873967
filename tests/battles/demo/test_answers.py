"""Deterministic answers of the fake provider."""

import json

import pytest

from battles.demo.fake_provider.answers import AnswerBook, answer, count_tokens, split_tokens

PROMPTS = [
    "Write a haiku about autumn leaves in Kyoto",
    "Explain the difference between a process and a thread",
    "Write a Python function that merges two sorted lists",
    "Compare OpenAI GPT-4 and Anthropic Claude for summarising legal contracts",
    "Draft a polite email declining a meeting invitation",
    "",
]
MODELS = ["gpt-4o", "claude-3-5-sonnet-20241022", "llama-3.1-70b-instruct", "aurora-large", "mistral-small"]
VENDOR_NAMES = ["openai", "anthropic", "claude", "gpt", "llama", "mistral", "gemini", "meta", "google"]


def ask(model, prompt):
    return answer(model, [{"role": "user", "content": prompt}])


def test_same_model_and_prompt_always_give_the_same_answer():
    assert ask("m", PROMPTS[1]) == ask("m", PROMPTS[1])


def test_answers_differ_between_models_and_between_prompts():
    by_model = {ask(m, PROMPTS[1]) for m in MODELS}
    by_prompt = {ask("m", p) for p in PROMPTS}
    assert len(by_model) == len(MODELS)
    assert len(by_prompt) == len(PROMPTS)


def test_answer_is_multi_sentence_markdown_about_the_prompt_topic():
    text = ask("aurora-large", "Explain the difference between a process and a thread")
    assert text.count(". ") + text.count(".\n") >= 3
    assert "process" in text.lower()
    assert any(marker in text for marker in ("\n- ", "\n1. ", "| ", "## ", "\n\n"))


def test_coding_prompt_gets_a_code_block():
    assert "```python" in ask("m", "Write a Python function that merges two sorted lists")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_answer_never_names_the_model_or_a_vendor(model, prompt):
    text = ask(model, prompt).lower()
    assert model.lower() not in text
    for name in VENDOR_NAMES:
        assert name not in text


def test_only_the_last_user_message_chooses_the_answer():
    history = [
        {"role": "user", "content": "Something else entirely"},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": PROMPTS[0]},
    ]
    assert answer("m", history) == ask("m", PROMPTS[0])


def test_answer_book_matches_after_case_and_whitespace_normalisation(tmp_path):
    path = tmp_path / "book.jsonl"
    rows = [
        {"model": "m", "prompt": "What is  2 + 2?", "text": "4"},
        {"model": "*", "prompt": "Name a colour", "text": "Blue."},
    ]
    path.write_text("\ufeff" + "\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    book = AnswerBook.load(path)

    assert answer("m", [{"role": "user", "content": " what IS 2 +\n2? "}], book) == "4"
    assert answer("other", [{"role": "user", "content": "name a colour"}], book) == "Blue."
    assert answer("other", [{"role": "user", "content": "What is 2 + 2?"}], book) == ask("other", "What is 2 + 2?")


@pytest.mark.parametrize(
    "line, message",
    [("not json", "invalid JSON"), ('["a"]', "JSON object"), ('{"model": "m", "prompt": "p"}', "'text'")],
)
def test_bad_answer_book_line_is_reported_with_its_number(tmp_path, line, message):
    path = tmp_path / "book.jsonl"
    path.write_text('{"model": "m", "prompt": "p", "text": "t"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"book.jsonl:2: .*{message}"):
        AnswerBook.load(path)


@pytest.mark.parametrize("text", ["Hello, world!\n", "  leading", "a-b c_d; don't stop\n\n", "", "✓ unicode ünï"])
def test_tokens_rebuild_the_text_and_match_the_count(text):
    pieces = split_tokens(text)
    assert "".join(pieces) == text
    assert len(pieces) == count_tokens(text)
