"""Plain helpers for the benchmark, export and API tests: votes without battles, boards."""

from __future__ import annotations

import io
import math

import numpy as np

from battles.models import Vote
from ratings import services
from tests.factories import make_llm


def make_votes(strengths: dict[str, float], *, per_pair: int = 40, seed: int = 0, **vote_fields) -> dict:
    """LLMs named after ``strengths`` (created when missing) and ``per_pair`` imported votes
    for every pair, outcomes drawn from Bradley–Terry with those ratings. Returns the LLMs."""
    from battles.models import LLM

    llms = {}
    for name in strengths:
        llms[name] = LLM.objects.filter(name=name).first() or make_llm(name)
    versions = {name: llm.current_version() for name, llm in llms.items()}
    rng = np.random.default_rng(seed)
    names = sorted(strengths)
    votes = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p = 1.0 / (1.0 + math.pow(10.0, (strengths[b] - strengths[a]) / 400.0))
            for _ in range(per_pair):
                outcome = "a" if rng.random() < p else "b"
                votes.append(
                    Vote(outcome=outcome, version_a=versions[a], version_b=versions[b], imported=True, **vote_fields)
                )
    Vote.objects.bulk_create(votes)
    return llms


def make_board(strengths: dict[str, float], **kwargs):
    """Votes as in ``make_votes`` and the default snapshot fitted on them."""
    llms = make_votes(strengths, **kwargs)
    return llms, services.compute_snapshot()


def csv_file(text: str, *, encoding: str = "utf-8", bom: bool = False) -> io.BytesIO:
    data = text.encode(encoding)
    return io.BytesIO((b"\xef\xbb\xbf" if bom else b"") + data)
