"""Helpers for the import tests: files written in tmp_path, commands run in-process."""

from __future__ import annotations

import io
import json

from django.core.management import call_command
from django.core.management.base import CommandError


def write(tmp_path, name: str, content: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def jsonl(*rows) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def run(command: str, *args) -> tuple[int, str]:
    """Run a management command; returns (exit status, stdout + the error message)."""
    out = io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue() + f"CommandError: {exc}\n"
    return 0, out.getvalue()
