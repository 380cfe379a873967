"""Storing imports: check every row, then write in one transaction, in bulk.

Each function returns an ``ImportReport`` and never raises for bad input.
When any row is bad nothing is stored, unless ``valid_only`` is set; a file
refused as a whole (too large, binary, not CSV/JSON Lines) is never stored.
``dry_run`` checks everything, the database included, and stores nothing.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.files.reading import FileRejected
from arena.files.report import ImportReport, RowError, iter_good_rows, read_rows
from arena.files.uploads import upload_limit
from battles.catalog.imports.generations import GenerationRow, parse_generations
from battles.catalog.imports.prompts import PromptRow, parse_prompts
from battles.catalog.imports.recording import Action, record_import
from battles.catalog.imports.votes import VoteRow, parse_votes
from battles.catalog.llms import create_llm
from battles.catalog.tasks import render_answers_after_commit
from battles.core.text import prompt_hash
from battles.models import LLM, Generation, LLMVersion, Prompt, PromptPool, Vote
from battles.signals import votes_imported

QUERY_CHUNK = 1000
POOL_NAME_MAX = 200  # PromptPool.name


def _chunks(items: list, size: int = QUERY_CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def clean_pool_name(name: str) -> str:
    """The pool name stripped; raises ValueError with a message for people."""
    name = (name or "").strip()
    if not name:
        raise ValueError("the pool name is empty")
    if len(name) > POOL_NAME_MAX:
        raise ValueError(f"the pool name is longer than {POOL_NAME_MAX} characters")
    return name


# --- Prompts --------------------------------------------------------------


def _existing_hashes(pool: PromptPool | None, hashes: list[str]) -> set[str]:
    if pool is None:
        return set()
    found: set[str] = set()
    for chunk in _chunks(hashes):
        found.update(Prompt.objects.filter(pool=pool, text_hash__in=chunk).values_list("text_hash", flat=True))
    return found


def import_prompts(
    *,
    pool_name: str,
    source: BinaryIO,
    filename: str = "",
    valid_only: bool = False,
    category_default: str = "",
    dry_run: bool = False,
    max_bytes: int | None = None,
    preview_rows: int = 0,
) -> ImportReport:
    """Import a CSV or JSON Lines prompts file into the pool named ``pool_name``.

    The pool is created when missing (and only when something is stored).
    Prompts whose normalised text is already in the pool, or earlier in the
    file, are reported as duplicates and stored once. ``preview_rows`` fills
    ``report.preview`` with that many parsed rows, for the admin preview.
    """
    report = ImportReport(dry_run=dry_run)
    try:
        pool_name = clean_pool_name(pool_name)
    except ValueError as exc:
        report.reject(str(exc))
        return report
    rows: list[PromptRow] | None = read_rows(
        report,
        parse_prompts(
            source,
            max_bytes=upload_limit(max_bytes),
            max_chars=settings.ARENA_MAX_PROMPT_CHARS,
            filename=filename,
            category_default=category_default,
        ),
    )
    if rows is None:
        return report

    first_line: dict[str, int] = {}
    unique: list[tuple[str, PromptRow]] = []
    for row in rows:
        digest = prompt_hash(row.text)
        if digest in first_line:
            report.duplicate(row.line, f"same text as line {first_line[digest]}")
            continue
        first_line[digest] = row.line
        unique.append((digest, row))
    pool = PromptPool.objects.filter(name=pool_name).first()
    in_pool = _existing_hashes(pool, [digest for digest, _ in unique])
    new = []
    for digest, row in unique:
        if digest in in_pool:
            report.duplicate(row.line, f"already in pool {pool_name!r}")
        else:
            new.append((digest, row))
    report.valid = len(new)
    new_lines = {row.line for _, row in new}
    report.preview = [
        {
            "line": row.line,
            "text": row.text,
            "category": row.category,
            "tags": list(row.tags),
            "external_id": row.external_id,
            "duplicate": row.line not in new_lines,
        }
        for row in rows[:preview_rows]
    ]
    if pool is None and dry_run:
        report.note(f"pool {pool_name!r} does not exist yet; the import creates it")

    if dry_run or (not report.ok and not valid_only) or not new:
        return report
    with transaction.atomic():
        pool, created = PromptPool.objects.get_or_create(name=pool_name)
        # One import per pool at a time, so the duplicate check below is exact.
        PromptPool.objects.select_for_update().filter(pk=pool.pk).first()
        in_pool = _existing_hashes(pool, [digest for digest, _ in new])
        objects = []
        for digest, row in new:
            if digest in in_pool:  # added by someone else since the check above
                report.duplicate(row.line, f"already in pool {pool_name!r}")
                continue
            objects.append(
                Prompt(
                    pool=pool,
                    text=row.text,
                    category=row.category,
                    tags=list(row.tags),
                    external_id=row.external_id,
                    text_hash=digest,
                )
            )
        Prompt.objects.bulk_create(objects, batch_size=QUERY_CHUNK, ignore_conflicts=True)
        record_import(Action.POOL_UPLOADED, report, "pool", pool.pk, pool_name, imported=len(objects), file=filename)
    if created:
        report.note(f"created pool {pool_name!r}")
    report.imported = len(objects)
    return report


# --- LLMs named by imports ------------------------------------------------


def _llm_for_import(name: str, report: ImportReport) -> LLM:
    """The LLM with this exact name, created retired and ``imported`` when missing."""
    llm = LLM.objects.filter(name=name).first()
    if llm is not None:
        return llm
    try:
        with transaction.atomic():
            llm = create_llm(
                name=name,
                provider=LLM.Provider.OPENAI,
                base_url="",
                model_id=name,
                imported=True,
                status=LLM.Status.RETIRED,
            )
    except IntegrityError:  # created by a concurrent import
        return LLM.objects.get(name=name)
    report.note(f"created retired imported LLM {name!r}")
    return llm


def _current_versions(llms: Iterable[LLM]) -> dict[int, int]:
    """LLM id -> id of its current (highest-numbered) version."""
    current: dict[int, int] = {}
    ids = [llm.pk for llm in llms]
    for chunk in _chunks(ids):
        for llm_id, version_id in (
            LLMVersion.objects.filter(llm_id__in=chunk).order_by("llm_id", "-number").values_list("llm_id", "id")
        ):
            current.setdefault(llm_id, version_id)
    return current


def _note_unknown_models(names: set[str], report: ImportReport) -> None:
    known: set[str] = set()
    for chunk in _chunks(sorted(names)):
        known.update(LLM.objects.filter(name__in=chunk).values_list("name", flat=True))
    unknown = sorted(names - known)
    if not unknown:
        return
    similar = {}
    for name in unknown:
        other = LLM.objects.filter(name__iexact=name).exclude(name=name).values_list("name", flat=True).first()
        if other:
            similar[name] = other
    shown = ", ".join(repr(name) for name in unknown[:20]) + (", ..." if len(unknown) > 20 else "")
    report.note(f"{len(unknown)} unknown model name(s) become retired imported LLMs: {shown}")
    for name, other in similar.items():
        report.note(f"note: {name!r} is a new LLM; names match exactly and {other!r} exists")


# --- Generations ----------------------------------------------------------


class _PromptIndex:
    """The prompts a generations file may point at, loaded in a few queries."""

    def __init__(self, rows: list[GenerationRow], pool: PromptPool | None, scoped: bool):
        self.by_external_id: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.by_hash: dict[str, list[tuple[int, str]]] = defaultdict(list)
        if scoped and pool is None:
            return  # the named pool does not exist yet: nothing to find
        base = Prompt.objects.all() if pool is None else Prompt.objects.filter(pool=pool)
        external_ids = sorted({row.external_id for row in rows if row.external_id})
        for chunk in _chunks(external_ids):
            for pk, external_id, pool_name in base.filter(external_id__in=chunk).values_list(
                "pk", "external_id", "pool__name"
            ):
                self.by_external_id[external_id].append((pk, pool_name))
        hashes = sorted({prompt_hash(row.prompt_text) for row in rows if row.prompt_text})
        for chunk in _chunks(hashes):
            for pk, digest, pool_name in base.filter(text_hash__in=chunk).values_list("pk", "text_hash", "pool__name"):
                self.by_hash[digest].append((pk, pool_name))


def _resolve_prompt(row: GenerationRow, index: _PromptIndex, pool_name: str | None):
    """("id", pk) or ("new", hash) for a prompt to create, or ("error", reason)."""
    where = f" in pool {pool_name!r}" if pool_name else ""
    if row.external_id:
        found = index.by_external_id.get(row.external_id, [])
        if len(found) == 1:
            return "id", found[0][0]
        if len(found) > 1:
            pools = sorted({name for _, name in found})
            if len(pools) == 1:
                return "error", f"several prompts have external id {row.external_id!r}{where}"
            return "error", (
                f"external id {row.external_id!r} is in several pools ({', '.join(pools)}); choose one with --pool"
            )
        if not row.prompt_text:
            return "error", f"no prompt with external id {row.external_id!r}{where}"
    digest = prompt_hash(row.prompt_text)
    found = index.by_hash.get(digest, [])
    if len(found) == 1:
        return "id", found[0][0]
    if len(found) > 1:
        pools = sorted({name for _, name in found})
        return "error", f"this prompt is in several pools ({', '.join(pools)}); choose one with --pool"
    if pool_name:
        return "new", digest
    return "error", "the prompt is not in any pool; name a pool to add it to with --pool"


def import_generations(
    *,
    source: BinaryIO,
    pool_name: str | None = None,
    valid_only: bool = False,
    dry_run: bool = False,
    max_bytes: int | None = None,
) -> ImportReport:
    """Import existing answers as finished, ``imported`` generations.

    A row's prompt is found by external id, else by normalised text, in
    ``pool_name`` when given, else in every pool; a prompt found nowhere is
    added to ``pool_name`` (created if needed), or the row is bad when no pool
    is named. Unknown model names become retired imported LLMs. Answers are
    stored at the LLM's current version; an answer that already exists for
    (prompt, version, sample) is a duplicate, so importing a file twice
    stores nothing the second time.
    """
    report = ImportReport(dry_run=dry_run)
    if pool_name is not None:
        try:
            pool_name = clean_pool_name(pool_name)
        except ValueError as exc:
            report.reject(str(exc))
            return report
    rows: list[GenerationRow] | None = read_rows(
        report,
        parse_generations(
            source,
            max_bytes=upload_limit(max_bytes),
            max_chars=settings.ARENA_MAX_PROMPT_CHARS,
        ),
    )
    if rows is None:
        return report

    pool = PromptPool.objects.filter(name=pool_name).first() if pool_name else None
    index = _PromptIndex(rows, pool, scoped=bool(pool_name))
    llms = {llm.name: llm for llm in LLM.objects.filter(name__in={row.model for row in rows})}
    versions = _current_versions(llms.values())
    resolved: list[tuple[GenerationRow, tuple]] = []
    first_line: dict[tuple, int] = {}
    for row in rows:
        kind, value = _resolve_prompt(row, index, pool_name)
        if kind == "error":
            report.error(row.line, value)
            continue
        key = (kind, value, row.model, row.sample)
        if key in first_line:
            report.duplicate(row.line, f"same prompt, model and sample as line {first_line[key]}")
            continue
        first_line[key] = row.line
        resolved.append((row, (kind, value)))

    existing = _existing_generations(resolved, llms, versions)
    new: list[tuple[GenerationRow, tuple]] = []
    for row, prompt in resolved:
        llm = llms.get(row.model)
        if prompt[0] == "id" and llm is not None and (prompt[1], versions.get(llm.pk), row.sample) in existing:
            report.duplicate(row.line, f"{row.model!r} already has an answer to this prompt (sample {row.sample})")
            continue
        new.append((row, prompt))
    report.valid = len(new)
    _note_unknown_models({row.model for row, _ in new}, report)
    new_prompts = {prompt[1] for _, prompt in new if prompt[0] == "new"}
    if new_prompts:
        report.note(f"{len(new_prompts)} prompt(s) not found are added to pool {pool_name!r}")

    if dry_run or (not report.ok and not valid_only) or not new:
        return report
    with transaction.atomic():
        # A prompt is only ever new when a pool was named (see _resolve_prompt).
        prompt_ids = _create_prompts(new, pool_name) if new_prompts and pool_name else {}
        names = sorted({row.model for row, _ in new})
        for name in names:
            if name not in llms:
                llms[name] = _llm_for_import(name, report)
        versions = _current_versions(llms[name] for name in names)
        now = timezone.now()
        objects = [
            Generation(
                prompt_id=value if kind == "id" else prompt_ids[value],
                llm_version_id=versions[llms[row.model].pk],
                sample=row.sample,
                status=Generation.Status.DONE,
                text=row.answer,
                imported=True,
                latency_ms=row.latency_ms,
                ttft_ms=row.ttft_ms,
                tokens_in=row.tokens_in,
                tokens_out=row.tokens_out,
                cost=row.cost,
                finished_at=now,
            )
            for row, (kind, value) in new
        ]
        # The unique (prompt, version, sample) constraint makes a concurrent
        # import of the same answers harmless.
        Generation.objects.bulk_create(objects, batch_size=500, ignore_conflicts=True)
        record_import(Action.GENERATIONS_IMPORTED, report, "pool", "", pool_name or "", imported=len(objects))
        # Their HTML, for the pages that show them, is rendered by a worker.
        render_answers_after_commit()
    report.imported = len(objects)
    return report


def _existing_generations(resolved, llms: dict[str, LLM], versions: dict[int, int]) -> set[tuple[int, int, int]]:
    prompt_ids = sorted({value for _, (kind, value) in resolved if kind == "id"})
    version_ids = sorted({versions[llm.pk] for llm in llms.values() if llm.pk in versions})
    found: set[tuple[int, int, int]] = set()
    if not version_ids:
        return found
    for chunk in _chunks(prompt_ids):
        found.update(
            Generation.objects.filter(prompt_id__in=chunk, llm_version_id__in=version_ids).values_list(
                "prompt_id", "llm_version_id", "sample"
            )
        )
    return found


def _create_prompts(new, pool_name: str) -> dict[str, int]:
    """Add the prompts the file names but no pool has; returns hash -> prompt id."""
    pool, _ = PromptPool.objects.get_or_create(name=pool_name)
    objects = {}
    for row, (kind, value) in new:
        if kind == "new" and value not in objects:
            objects[value] = Prompt(pool=pool, text=row.prompt_text, external_id=row.external_id, text_hash=value)
    Prompt.objects.bulk_create(list(objects.values()), batch_size=QUERY_CHUNK, ignore_conflicts=True)
    ids: dict[str, int] = {}
    for chunk in _chunks(list(objects)):
        ids.update(
            {
                digest: pk
                for pk, digest in Prompt.objects.filter(pool=pool, text_hash__in=chunk).values_list("pk", "text_hash")
            }
        )
    return ids


# --- Votes ----------------------------------------------------------------


class _FileChanged(Exception):
    """The second reading of a votes file disagrees with the first."""


def import_votes(
    *,
    path: str | os.PathLike,
    valid_only: bool = False,
    dry_run: bool = False,
    max_bytes: int | None = None,
    batch_size: int = 5000,
) -> ImportReport:
    """Import historical votes from a CSV file, streaming.

    The file is read twice: once to check every row (storing nothing), then
    to store the votes in batches inside one transaction, so a file of any
    length uses constant memory and a bad row found late costs no rollback.
    Votes are stored without battle or voter, ``imported``, against each
    LLM's current version. ``votes_imported`` is sent after commit, so the
    ratings app recomputes the boards.
    """
    report = ImportReport(dry_run=dry_run)
    limit = max_bytes if max_bytes is not None else settings.ARENA_MAX_VOTES_FILE_BYTES
    names: set[str] = set()
    try:
        with open(path, "rb") as stream:
            for row in iter_good_rows(report, parse_votes(stream, max_bytes=limit)):
                report.valid += 1
                names.add(row.model_a)
                names.add(row.model_b)
    except FileRejected as exc:
        report.reject(exc.reason, exc.line)
        return report
    _note_unknown_models(names, report)
    if dry_run or (not report.ok and not valid_only) or not report.valid:
        return report

    try:
        with transaction.atomic():
            llms = {name: _llm_for_import(name, report) for name in sorted(names)}
            current = _current_versions(llms.values())
            versions = {name: current[llm.pk] for name, llm in llms.items()}
            batch: list[tuple[Vote, VoteRow]] = []
            with open(path, "rb") as stream:
                for item in parse_votes(stream, max_bytes=limit):
                    if isinstance(item, RowError):
                        continue
                    if item.model_a not in versions or item.model_b not in versions:
                        raise _FileChanged(f"line {item.line} names a model the first reading did not see")
                    batch.append(
                        (
                            Vote(
                                outcome=item.outcome,
                                version_a_id=versions[item.model_a],
                                version_b_id=versions[item.model_b],
                                imported=True,
                            ),
                            item,
                        )
                    )
                    if len(batch) >= batch_size:
                        report.imported += _store_votes(batch)
                        batch = []
            if batch:
                report.imported += _store_votes(batch)
            count = report.imported
            record_import(Action.VOTES_IMPORTED, report, "votes", "", "", imported=count, file=path)
            transaction.on_commit(lambda: votes_imported.send(sender=Vote, count=count))
    except (FileRejected, _FileChanged) as exc:
        report.imported = 0
        report.notes = [note for note in report.notes if not note.startswith("created")]
        report.reject(f"the file changed while it was imported; nothing was stored ({exc})")
    return report


def _store_votes(batch: list[tuple[Vote, VoteRow]]) -> int:
    now = timezone.now()
    votes = []
    for vote, row in batch:
        stamp = row.timestamp
        if stamp is None:
            stamp = now
        elif timezone.is_naive(stamp):
            stamp = timezone.make_aware(stamp)
        vote.created_at = stamp  # a plain default, so an INSERT keeps the time the file gives
        votes.append(vote)
    Vote.objects.bulk_create(votes, batch_size=2000)
    return len(votes)
