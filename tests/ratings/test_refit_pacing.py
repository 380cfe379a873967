"""Board refits wait while the CPU is contended, so that the boards worker takes a bounded share of a core."""

from __future__ import annotations

import logging
import os
import time

import pytest

from ratings import tasks
from ratings.refit_pacing import cpu_contention, pause_after
from ratings.scopes import BOARD, STYLE
from tests.ratings.board_factories import cast_votes, make_llms

PRESSURE = """some avg10=37.50 avg60=12.03 avg300=4.10 total=515624867
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
"""


def test_contention_is_the_share_of_time_some_task_waited_for_a_cpu(tmp_path):
    pressure = tmp_path / "cpu"
    pressure.write_text(PRESSURE)
    assert cpu_contention(pressure) == pytest.approx(0.375)
    pressure.write_text(PRESSURE.replace("avg10=37.50", "avg10=100.00"))
    assert cpu_contention(pressure) == 1.0


@pytest.mark.parametrize(("load", "cores", "expected"), [(1.0, 2, 0.0), (3.0, 2, 0.5), (9.0, 2, 1.0), (2.0, None, 1.0)])
def test_without_pressure_information_the_load_beyond_the_cores_is_read(tmp_path, monkeypatch, load, cores, expected):
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert cpu_contention(tmp_path / "absent") == pytest.approx(expected)
    unreadable = tmp_path / "empty"
    unreadable.write_text("no pressure lines here\n")
    assert cpu_contention(unreadable) == pytest.approx(expected)


def test_the_machines_own_reading_is_a_share():
    assert 0.0 <= cpu_contention() <= 1.0


def _pause(cpu: float, wall: float, **overrides) -> float:
    options = {"contention": 0.5, "threshold": 0.2, "share": 0.05, "longest": 10.0, **overrides}
    return pause_after(cpu, wall, **options)


def test_a_refit_under_contention_waits_until_it_has_used_its_share_of_a_core():
    assert _pause(0.3, 1.0) == pytest.approx(0.3 / 0.05 - 1.0)  # 6 s in all for 0.3 s of CPU
    assert _pause(0.3, 1.0, share=0.5) == 0.0  # already under half a core
    assert _pause(0.3, 0.4, share=0.5) == pytest.approx(0.2)
    assert _pause(5.0, 5.0) == 10.0  # at most ``longest``


def test_no_wait_without_contention_or_with_pacing_off():
    assert _pause(0.3, 0.3, contention=0.19) == 0.0
    assert _pause(0.3, 0.3, contention=0.2) > 0.0
    assert _pause(0.3, 0.3, share=0.0) == 0.0  # 0 turns it off
    assert _pause(0.3, 0.3, share=1.0) == 0.0
    assert _pause(0.0, 0.3) == 0.0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [BOARD, STYLE])
def test_the_boards_workers_task_waits_after_a_refit_while_the_cpu_is_contended(settings, caplog, kind):
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, [("alpha", "beta", "a", 30), ("beta", "gamma", "b", 20), ("alpha", "gamma", "tie", 10)])
    settings.ARENA_REFIT_PACE_CONTENTION = 0.0  # whatever the machine reads counts as contended
    settings.ARENA_REFIT_CPU_SHARE_UNDER_LOAD = 0.1
    settings.ARENA_REFIT_PAUSE_MAX_SECONDS = 30.0
    with caplog.at_level(logging.INFO, logger="ratings.tasks"):
        tasks.refit_board.apply(args=(kind, {})).get()
    assert f"{kind} refit took" in caplog.text and "waiting" in caplog.text
    # The wait makes the refit and the wait together use the share: 0.05 s of CPU in 0.1 s, at a tenth of a core.
    started = time.perf_counter()
    assert tasks.pace_after_refit(0.05, 0.1, kind) == pytest.approx(0.4)
    assert time.perf_counter() - started >= 0.4

    caplog.clear()
    settings.ARENA_REFIT_CPU_SHARE_UNDER_LOAD = 0.0
    with caplog.at_level(logging.INFO, logger="ratings.tasks"):
        tasks.refit_board.apply(args=(kind, {})).get()
    assert "waiting" not in caplog.text
