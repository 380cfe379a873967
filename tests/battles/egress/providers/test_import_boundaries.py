"""The provider wire code and the fake provider are pure: stdlib and httpx only."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
PURE_PACKAGES = ["battles/egress/providers", "battles/demo/fake_provider"]
FORBIDDEN = {"django", "arena", "ratings", "celery", "channels"}
ALLOWED_THIRD_PARTY = {"httpx"}
ALLOWED_OWN = ("battles.egress.providers", "battles.demo.fake_provider")


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield "." * node.level + (node.module or ""), node.lineno
            else:
                yield node.module, node.lineno


def pure_files():
    files = sorted(f for package in PURE_PACKAGES for f in (ROOT / package).rglob("*.py"))
    assert len(files) >= 8, "the pure packages were not found"
    return files


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_the_standard_library_httpx_and_its_own_package(path):
    problems = []
    for module, line in imported_modules(path):
        top = module.split(".")[0]
        if module.startswith("."):
            problems.append(f"line {line}: relative import {module} (use the absolute name)")
        elif top in FORBIDDEN:
            problems.append(f"line {line}: imports {module}")
        elif top == "battles":
            if not module.startswith(ALLOWED_OWN):
                problems.append(f"line {line}: imports {module}, outside the pure packages")
        elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
            problems.append(f"line {line}: imports third-party {module}")
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)
