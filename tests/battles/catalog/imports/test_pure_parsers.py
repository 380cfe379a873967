"""The parsers stay free of Django, and their limits follow the models."""

import ast
from pathlib import Path

from battles.catalog.imports import generations, prompts, services, votes
from battles.models import LLM, Prompt, PromptPool

ROOT = Path(__file__).resolve().parents[4]
PURE = {
    "arena.files.reading": ROOT / "arena" / "files" / "reading.py",
    "arena.files.report": ROOT / "arena" / "files" / "report.py",
    "battles.catalog.imports.prompts": ROOT / "battles" / "catalog" / "imports" / "prompts.py",
    "battles.catalog.imports.generations": ROOT / "battles" / "catalog" / "imports" / "generations.py",
    "battles.catalog.imports.votes": ROOT / "battles" / "catalog" / "imports" / "votes.py",
}


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def test_parsers_import_only_the_standard_library_and_each_other():
    offenders = []
    for name, path in PURE.items():
        for module in imported_modules(path):
            if module in PURE:
                continue
            if module.split(".")[0] in {"django", "battles", "arena", "ratings"}:
                offenders.append(f"{name} imports {module}")
    assert offenders == []


def test_parser_limits_match_the_model_fields():
    assert prompts.CATEGORY_MAX == Prompt._meta.get_field("category").max_length
    assert prompts.EXTERNAL_ID_MAX == Prompt._meta.get_field("external_id").max_length
    assert generations.EXTERNAL_ID_MAX == Prompt._meta.get_field("external_id").max_length
    assert generations.MODEL_NAME_MAX == LLM._meta.get_field("name").max_length
    assert votes.MODEL_NAME_MAX == LLM._meta.get_field("name").max_length
    assert services.POOL_NAME_MAX == PromptPool._meta.get_field("name").max_length
