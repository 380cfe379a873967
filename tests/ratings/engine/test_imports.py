"""The engine and the CLI stay pure: stdlib, numpy, scipy, trueskill, and the engine itself."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PURE_FILES = sorted((ROOT / "ratings" / "engine").glob("*.py")) + [
    ROOT / "ratings" / "cli.py",
    ROOT / "ratings" / "__main__.py",
]
ALLOWED_THIRD_PARTY = {"numpy", "scipy", "trueskill"}
FORBIDDEN = {"django", "battles", "arena", "celery", "channels"}
# The CLI may use these pure app modules (checked below to be pure themselves): the simulator
# runs the app's own pairing policy.
PURE_APP_MODULES = {"ratings.policies", "battles.core.pairing"}
CLI_FILES = {"cli.py"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
    return found


def test_pure_modules_exist():
    names = {p.name for p in PURE_FILES}
    assert {"__init__.py", "bt.py", "data.py", "elo.py", "cli.py", "__main__.py"} <= names


def test_engine_and_cli_never_import_django_or_app_code():
    offenders = []
    for path in PURE_FILES:
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if path.name in CLI_FILES and module in PURE_APP_MODULES:
                continue
            if top in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_engine_and_cli_import_only_stdlib_numpy_scipy_trueskill():
    offenders = []
    for path in PURE_FILES:
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if module in PURE_APP_MODULES:
                continue
            if top == "ratings":
                if not (module == "ratings.engine" or module.startswith("ratings.engine.") or module == "ratings.cli"):
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY and top != "__future__":
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_the_app_modules_the_cli_uses_are_pure_too():
    offenders = []
    for path in (ROOT / "ratings" / "policies.py", ROOT / "battles" / "core" / "pairing.py"):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if module in PURE_APP_MODULES or module.startswith("ratings.engine"):
                continue
            if top in FORBIDDEN or (
                top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY and top != "__future__"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)
